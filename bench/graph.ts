/**
 * `npm run bench`: evaluates the program under mocks for labs of 3, 10, 50 and 100 hosts and
 * prints the resource count, the evaluation time and the longest dependency chain. A figure,
 * not a test: the chain must not grow with the number of workers (they join in parallel).
 */
import { clusterOnly } from "../test/fixtures";
import { evaluate } from "../test/harness";

async function main(): Promise<void> {
    const sizes = [3, 10, 50, 100];
    console.log("| hosts | resources | evaluation (ms) | longest dependency chain |");
    console.log("|---:|---:|---:|---:|");
    await evaluate(clusterOnly(1)); // warm up module loading, so the first row measures evaluation only
    for (const hosts of sizes) {
        const started = process.hrtime.bigint();
        const g = await evaluate(clusterOnly(hosts - 1));
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        console.log(`| ${hosts} | ${g.resources.length} | ${ms.toFixed(0)} | ${g.longestChain()} |`);
    }
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});

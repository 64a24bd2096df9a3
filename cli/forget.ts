/**
 * Forgetting a lab whose hosts are gone: every resource leaves the stack's state, and nothing
 * on any host or cluster is touched. A destroy or `lab rm` then finishes at once with an
 * empty stack. This is the way out when the VMs were deleted first: a Release cannot be
 * uninstalled from a cluster that is gone, and a host step cannot undo itself on a host
 * that does not answer.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CliError, PulumiRunner } from "./pulumi";

interface Exported {
    version?: number;
    deployment?: { resources?: { type: string; urn: string }[]; pending_operations?: unknown[]; [k: string]: unknown };
    [k: string]: unknown;
}

/** The exported state with only the stack itself left in it (its outputs kept). */
export function forgetResources(exported: Exported): { state: Exported; dropped: number } {
    const deployment = exported.deployment ?? {};
    const resources = deployment.resources ?? [];
    const kept = resources.filter((r) => r.type === "pulumi:pulumi:Stack");
    return { state: { ...exported, deployment: { ...deployment, resources: kept, pending_operations: [] } }, dropped: resources.length - kept.length };
}

/** Drops every resource of `stack` from its state. Needs `yes`, since the hosts are not cleaned. */
export function forgetStack(stack: string, yes: boolean, pulumi: PulumiRunner, print: (line: string) => void): void {
    if (!yes) {
        throw new CliError(
            `forget drops every resource of stack ${stack} from its state and cleans nothing on its hosts; ` +
                `use it only when the hosts are gone (else destroy), and add --yes to go ahead`,
        );
    }
    const exported = pulumi(["stack", "export", "--stack", stack]);
    if (exported.code !== 0) throw new CliError(`pulumi stack export --stack ${stack} failed:\n${exported.stderr.trim()}`);
    const { state, dropped } = forgetResources(JSON.parse(exported.stdout) as Exported);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "k8s-lab-forget-"));
    const file = path.join(dir, "state.json");
    try {
        fs.writeFileSync(file, JSON.stringify(state), { mode: 0o600 });
        const imported = pulumi(["stack", "import", "--stack", stack, "--file", file]);
        if (imported.code !== 0) throw new CliError(`pulumi stack import --stack ${stack} failed:\n${imported.stderr.trim()}`);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
    print(`forgot ${dropped} resources of stack ${stack}; nothing on its hosts was touched. A destroy of it now finishes at once.`);
}

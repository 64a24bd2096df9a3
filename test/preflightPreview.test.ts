/**
 * Preflight wired into the program (components/lib/preflightRun.ts, index.ts), under Pulumi mocks:
 * the invoke runs in a preview only, once a host, with the key where the command line cannot
 * show it; problems fail the preview with one message; hosts that do not answer do not.
 * The rules themselves are tested without mocks in test/preflight.test.ts.
 */
import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { RawConfig, validateConfig } from "../components/lib/config";
import { localCommand, preflightPlan } from "../components/lib/preflight";
import { guideLab, testKey } from "./fixtures";
import { evaluate } from "./harness";

const config: RawConfig = guideLab();
const plan = preflightPlan(validateConfig(config));

/** A healthy host's answer to its check, with some lines changed. */
function healthy(address: string, change: (lines: string[]) => string[] = (l) => l): string {
    const check = plan.checks.find((c) => c.host.address === address);
    if (!check) throw new Error(`no check for ${address}`);
    const now = Math.floor(Date.now() / 1000);
    const lines = ["os debian 12", "apt yes", "cgroup v2", "swap off", "lab absent", `clock ${now}`, "mem 8192"];
    lines.push(...check.ports.map((p) => `port ${p.port} free`));
    if (check.kubernetes) lines.push(`nodeip ${address} present`);
    lines.push(...check.disks.map((d) => `disk ${d.path} 100000`));
    lines.push(...check.mirrors.map((m) => `mirror ${m.url.replace("{os}", "debian")} ${m.kind === "registry" ? 401 : 200}`));
    return [...change(lines), `local-start ${now}`, `local-end ${now}`, "ssh-exit 0"].join("\n");
}

describe("preflight in the program", function () {
    this.timeout(120000);

    it("runs in a preview, one local.run a host, with the key in the environment only and no output logged", async () => {
        const calls: pulumi.runtime.MockCallArgs[] = [];
        const g = await evaluate(config, {
            preview: true,
            call: (args) => {
                calls.push(args);
                return { stdout: healthy(args.inputs.environment.K8S_LAB_PF_HOST) };
            },
        });
        const runs = calls.filter((c) => c.token === "command:local:run");
        assert.deepStrictEqual(runs.map((c) => c.inputs.environment.K8S_LAB_PF_HOST).sort(), ["192.168.56.10", "192.168.56.11", "192.168.56.12", "192.168.56.13"]);
        for (const run of runs) {
            assert.strictEqual(run.inputs.command, localCommand);
            assert.deepStrictEqual(run.inputs.interpreter, ["bash", "-c"]);
            assert.strictEqual(run.inputs.logging, "none");
            assert.strictEqual(run.inputs.environment.K8S_LAB_PF_KEY, testKey);
            assert.match(run.inputs.stdin, /^# k8s-lab scripts\/preflight\.sh, rendered/m);
        }
        assert.ok(g.ofType("command:remote:Command").length > 0, "the preview goes on");
        assert.ok(!JSON.stringify(g.resources).includes("K8S_LAB_PF"), "nothing of preflight is in any resource");
    });

    it("fails the preview with every problem in one message", async () => {
        const call = (args: pulumi.runtime.MockCallArgs) => {
            const address = args.inputs.environment.K8S_LAB_PF_HOST;
            if (address === "192.168.56.10") return { stdout: healthy(address, (l) => l.map((x) => (x === "port 6443 free" ? "port 6443 used apache2" : x))) };
            if (address === "192.168.56.11") return { stdout: healthy(address, (l) => l.map((x) => (x === "cgroup v2" ? "cgroup v1" : x))) };
            return { stdout: healthy(address) };
        };
        await assert.rejects(evaluate(config, { preview: true, call }), (e: Error) => {
            assert.match(e.message, /^Preflight found 2 problems on the hosts; nothing was changed:\n {2}- host cp1: port 6443, .*\n {2}- host worker1: runs cgroup v1/);
            assert.ok(pulumi.RunError.isInstance(e), "a RunError: Pulumi prints it without a stack trace");
            assert.ok(!e.message.includes("TEST-ONLY-NOT-A-REAL-KEY"));
            return true;
        });
    });

    it("lets the preview through when no host answers", async () => {
        const unreachable = "ssh-exit 255\nssh-stderr ssh: connect to host x port 22: Connection timed out";
        const g = await evaluate(config, { preview: true, call: () => ({ stdout: unreachable }) });
        assert.ok(g.ofType("command:remote:Command").length > 0);
        const silent = await evaluate(config, { preview: true, call: () => ({}) });
        assert.ok(silent.ofType("command:remote:Command").length > 0, "a command provider that says nothing skips it too");
    });

    it("does not run in an update, nor with k8s-lab:preflight false", async () => {
        const calls: string[] = [];
        const call = (args: pulumi.runtime.MockCallArgs) => {
            calls.push(args.token);
            return {};
        };
        await evaluate(config, { call });
        await evaluate({ ...config, preflight: false }, { preview: true, call });
        assert.deepStrictEqual(
            calls.filter((t) => t === "command:local:run"),
            [],
        );
    });
});

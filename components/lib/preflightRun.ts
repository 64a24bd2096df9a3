/**
 * Preflight at preview: scripts/preflight.sh on every host, read-only, before anything
 * changes. It runs through command's `local.run`, an invoke, which the engine runs in a
 * preview too: one `ssh` login a host, in parallel, with the lab's key (components/lib/preflight.ts
 * says how, and judges what comes back; this file only runs it and reports).
 *
 * The key goes to the local command in its environment: invoke arguments are not kept in the
 * state, the command line pulumi-command quotes in its errors holds no key, and the command's
 * output is not logged (`logging: none`).
 */
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { LabConfig } from "./config";
import { HostCheck, judge, localCommand, parseReading, preflightOutcome, preflightPlan, Reading } from "./preflight";

/** The first line of an error, short: enough to say why a host was not checked. */
function reason(e: unknown): string {
    const text = e instanceof Error ? e.message : String(e);
    const line = text.split("\n")[0].trim();
    return line.length > 200 ? `${line.slice(0, 197)}...` : line;
}

async function readHost(check: HostCheck): Promise<Reading> {
    try {
        const result = await command.local.run({
            command: localCommand,
            interpreter: ["bash", "-c"],
            stdin: check.script,
            environment: check.environment,
            logging: "none",
            addPreviousOutputInEnv: false,
        });
        return parseReading(result?.stdout);
    } catch (e) {
        // The command provider could not run it at all (no bash here, an old provider).
        return parseReading(`local-error ${reason(e)}`);
    }
}

/**
 * A RunError (printed without a stack trace) whose message stays as written. The rejection
 * reaches every resource that waits on the cluster, and the SDK's serializer prefixes
 * `error serializing property "<name>": ` to the message of the very error it passes on (it
 * keeps its identity, so that it is reported once): here those prefixes are dropped.
 */
export function problemsError(message: string): pulumi.RunError {
    const error = new pulumi.RunError(message);
    Object.defineProperty(error, "message", { get: () => message, set: () => undefined, enumerable: false, configurable: true });
    return error;
}

/** Checks every host; logs what was skipped and noticed; throws one RunError listing every problem. */
export async function checkHosts(lab: LabConfig): Promise<void> {
    const plan = preflightPlan(lab);
    if (plan.skip) {
        pulumi.log.warn(plan.skip);
        return;
    }
    const readings = await Promise.all(plan.checks.map(readHost));
    const outcome = preflightOutcome(judge(lab, plan, readings), plan.checks.length);
    for (const warning of outcome.warnings) pulumi.log.warn(warning);
    for (const info of outcome.infos) pulumi.log.info(info);
    if (outcome.error) throw problemsError(outcome.error);
}

/**
 * In a preview with `k8s-lab:preflight` on, checks the hosts, for the cluster's `dependsOn`:
 * it resolves to no resources, or rejects with the problems, which stops the preview before
 * any host step is registered. Otherwise (an update, or preflight off) it is nothing.
 */
export function preflight(lab: LabConfig): Promise<pulumi.Resource[]> | undefined {
    if (!lab.preflight || !pulumi.runtime.isDryRun()) return undefined;
    return checkHosts(lab).then(() => []);
}

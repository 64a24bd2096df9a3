/**
 * Helpers for the engine tier: a copy of the project to run the real Pulumi CLI in (so that a
 * scenario may edit a script, and `npm run preview` may make its own .lab/), the CLI with a
 * file backend of the copy's own, and what the engine's JSON says.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";

const repo = path.join(__dirname, "..", "..");

export interface Run {
    code: number;
    stdout: string;
    stderr: string;
    seconds: number;
}

/** Every byte the CLI printed in this run of the tier, for the secrets check at the end. */
export const transcript: string[] = [];

export class Project {
    readonly dir: string;
    readonly state: string;
    readonly passphrase = `engine-tier-${Math.random().toString(36).slice(2)}`;

    constructor() {
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "k8s-lab-engine-"));
        for (const entry of fs.readdirSync(repo)) {
            if ([".git", "node_modules", ".lab", "bin"].includes(entry) || /^Pulumi\.(?!yaml$|dev\.yaml$).*\.yaml$/.test(entry)) continue;
            fs.cpSync(path.join(repo, entry), path.join(this.dir, entry), { recursive: true });
        }
        fs.symlinkSync(path.join(repo, "node_modules"), path.join(this.dir, "node_modules"));
        this.state = path.join(this.dir, ".engine-state");
        fs.mkdirSync(this.state);
    }

    env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
        return {
            ...process.env,
            PULUMI_BACKEND_URL: `file://${this.state}`,
            PULUMI_CONFIG_PASSPHRASE: this.passphrase,
            PULUMI_SKIP_UPDATE_CHECK: "true",
            ...extra,
        };
    }

    /** Runs a command in the copy; `env` replaces the tier's backend settings when given. */
    run(command: string, args: string[], env: NodeJS.ProcessEnv = this.env()): Run {
        const started = process.hrtime.bigint();
        const r = spawnSync(command, args, { cwd: this.dir, env, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
        const out = { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "", seconds: Number(process.hrtime.bigint() - started) / 1e9 };
        transcript.push(out.stdout, out.stderr);
        return out;
    }

    pulumi(...args: string[]): Run {
        return this.run("pulumi", [...args, "--non-interactive"]);
    }

    /** Writes the stack's configuration file (Pulumi.<stack>.yaml) from plain values. */
    configure(stack: string, config: Record<string, unknown>): void {
        const file = path.join(this.dir, `Pulumi.${stack}.yaml`);
        const kept = fs.existsSync(file) ? (YAML.parse(fs.readFileSync(file, "utf8")) ?? {}) : {};
        const values = Object.fromEntries(Object.entries(config).map(([k, v]) => [`k8s-lab:${k}`, v]));
        fs.writeFileSync(file, YAML.stringify({ ...kept, config: values }));
    }

    file(relative: string): string {
        return path.join(this.dir, relative);
    }

    /** Every state file of the backend, as text. */
    stateText(): string {
        const out: string[] = [];
        const walk = (d: string) => {
            for (const e of fs.readdirSync(d, { withFileTypes: true })) {
                const p = path.join(d, e.name);
                if (e.isDirectory()) walk(p);
                else out.push(fs.readFileSync(p, "utf8"));
            }
        };
        walk(this.state);
        return out.join("\n");
    }

    remove(): void {
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}

export interface Step {
    op: string;
    urn: string;
    type: string;
    name: string;
}

/** The steps of `pulumi preview --json`, with the resource name pulled out of each URN. */
export function previewSteps(run: Run): Step[] {
    const doc = JSON.parse(run.stdout);
    return (doc.steps ?? []).map((s: { op: string; urn: string; newState?: { type: string }; oldState?: { type: string } }) => ({
        op: s.op,
        urn: s.urn,
        type: s.newState?.type ?? s.oldState?.type ?? "",
        name: s.urn.split("::").pop() ?? "",
    }));
}

/** Names of the steps with one of the given operations, sorted. */
export function named(steps: Step[], ...ops: string[]): string[] {
    return steps
        .filter((s) => ops.includes(s.op))
        .map((s) => s.name)
        .sort();
}

export function ok(r: Run, what: string): void {
    if (r.code !== 0) throw new Error(`${what} exited ${r.code}\n--- stdout\n${r.stdout.slice(-6000)}\n--- stderr\n${r.stderr.slice(-6000)}`);
}

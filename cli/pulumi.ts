/**
 * `npm run preview|up|destroy|refresh [-- --stack NAME ...]`: runs the Pulumi CLI of the
 * project's own dev dependency (the `pulumi` npm package, which fetches the pinned CLI on
 * first use) against the lab's state backend.
 *
 * By default the state is a local file backend in `.lab/state` (ignored by git), secrets use a
 * passphrase kept in `.lab/passphrase` (made on first use), and no account is needed. Set
 * PULUMI_BACKEND_URL (and PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE) to use
 * Pulumi Cloud or an S3-compatible bucket instead.
 */
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { forgetStack } from "./forget";

const root = path.join(__dirname, "..");
const labDir = path.join(root, ".lab");

export class CliError extends Error {}

/**
 * A new ed25519 key pair, made by ssh-keygen (on every operator's machine): the private key
 * as `ssh -i` and pulumi-command read it, the public key as a line for authorized_keys.
 */
export function newSshKeyPair(comment: string): { privateKey: string; publicKey: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "k8s-lab-key-"));
    try {
        const file = path.join(dir, "id_ed25519");
        const r = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file], { encoding: "utf8" });
        if (r.error || r.status !== 0) {
            throw new CliError(`ssh-keygen could not make a key (${r.error?.message ?? r.stderr.trim()}); install the OpenSSH client, or set k8s-lab:ssh.privateKeyPath to a key of your own`);
        }
        return { privateKey: fs.readFileSync(file, "utf8"), publicKey: fs.readFileSync(`${file}.pub`, "utf8").trim() };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** Makes the key pair a stack's `privateKeyPath` names, if it lies in .lab/ and is missing. */
export function ensureLabKey(stack: string): void {
    const file = path.join(root, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) return;
    const config = YAML.parse(fs.readFileSync(file, "utf8"))?.config ?? {};
    const keyPath: unknown = config["k8s-lab:ssh"]?.privateKeyPath;
    if (typeof keyPath !== "string" || !keyPath.startsWith(".lab/")) return;
    const full = path.join(root, keyPath);
    if (fs.existsSync(full)) return;
    const pair = newSshKeyPair(`k8s-lab-${stack}`);
    fs.mkdirSync(path.dirname(full), { recursive: true, mode: 0o700 });
    fs.writeFileSync(full, pair.privateKey, { mode: 0o600 });
    fs.writeFileSync(`${full}.pub`, `${pair.publicKey}\n`);
    console.error(`k8s-lab: made the SSH key ${keyPath}; authorise ${keyPath}.pub for the SSH user on every host.`);
}

/** The environment for the CLI: backend and passphrase, defaulting to the local ones. */
export function cliEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
    const out = { ...env };
    if (!out.PULUMI_BACKEND_URL) {
        fs.mkdirSync(path.join(labDir, "state"), { recursive: true, mode: 0o700 });
        out.PULUMI_BACKEND_URL = `file://${path.join(labDir, "state")}`;
    }
    const hasPassphrase = out.PULUMI_CONFIG_PASSPHRASE !== undefined || out.PULUMI_CONFIG_PASSPHRASE_FILE !== undefined;
    if (!hasPassphrase && !out.PULUMI_BACKEND_URL.startsWith("file://")) {
        throw new CliError(
            "no passphrase for the stack's secrets: set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE " +
                "(for Pulumi Cloud, which keeps secrets itself, pass --secrets-provider=service when the stack is made)",
        );
    }
    if (!hasPassphrase) {
        const file = path.join(labDir, "passphrase");
        if (!fs.existsSync(file)) {
            fs.writeFileSync(file, `${crypto.randomBytes(24).toString("base64url")}\n`, { mode: 0o600 });
            console.error("k8s-lab: made a passphrase for local secrets in .lab/passphrase; keep it with .lab/state.");
        }
        out.PULUMI_CONFIG_PASSPHRASE_FILE = file;
    }
    out.PULUMI_SKIP_UPDATE_CHECK = "true";
    return out;
}

function pulumiBinary(): string {
    return path.join(root, "node_modules", ".bin", "pulumi");
}

export interface PulumiResult {
    code: number;
    stdout: string;
    stderr: string;
}

/** Runs the project's Pulumi CLI; `interactive` lets it use the terminal (progress, prompts). */
export type PulumiRunner = (args: string[], options?: { input?: string; interactive?: boolean }) => PulumiResult;

/** The real runner, with the lab's backend and passphrase in its environment. */
export function pulumiRunner(env: NodeJS.ProcessEnv = cliEnvironment(process.env)): PulumiRunner {
    return (args, options = {}) => {
        const r = spawnSync(pulumiBinary(), args, {
            cwd: root,
            env,
            input: options.input,
            encoding: "utf8",
            stdio: options.interactive ? "inherit" : ["pipe", "pipe", "pipe"],
        });
        if (r.error) throw new CliError(`cannot start the Pulumi CLI (${r.error.message}); run npm ci first`);
        const stderr = r.stderr ?? "";
        const missing = r.status !== 0 ? cliMissing(stderr) : undefined;
        if (missing) throw missing;
        return { code: r.status ?? 1, stdout: r.stdout ?? "", stderr };
    };
}

/** The error to show when a failed call means the CLI itself could not be downloaded. */
export function cliMissing(stderr: string): CliError | undefined {
    // Only the pulumi npm package's own download: a backend's DNS error (an S3 bucket's, say)
    // is the backend's, and shows as it is.
    if (!/Downloading pulumi|get\.pulumi\.com/.test(stderr)) return undefined;
    return new CliError(
        `could not obtain the Pulumi CLI: the pulumi npm package downloads it from get.pulumi.com on first use, and that failed.\n` +
            `Install the CLI yourself (https://www.pulumi.com/docs/install/) into ~/.pulumi/versions/<version>/bin, or give this machine access.\n${stderr.trim()}`,
    );
}

/** Refuses a stack whose configuration file names no hosts, saying how to make one. */
export function requireHosts(dir: string, stack: string): void {
    const file = path.join(dir, `Pulumi.${stack}.yaml`);
    const config = fs.existsSync(file) ? YAML.parse(fs.readFileSync(file, "utf8"))?.config : undefined;
    if (!config?.["k8s-lab:hosts"]) {
        throw new CliError(`stack ${stack} has no hosts configured (k8s-lab:hosts in Pulumi.${stack}.yaml); make a lab with npm run lab -- new <name>, or copy Pulumi.dev.yaml`);
    }
}

/** The project directory: stack configuration files live here. */
export const projectRoot = root;

export function parseArgs(argv: string[]): { command: string; stack: string; rest: string[] } {
    const [command, ...rest] = argv;
    if (!["preview", "up", "destroy", "refresh", "forget"].includes(command)) {
        throw new CliError(`usage: cli/pulumi.ts preview|up|destroy|refresh|forget [--stack NAME] [pulumi flags]`);
    }
    let stack = process.env.K8S_LAB_STACK ?? "dev";
    const i = rest.findIndex((a) => a === "--stack" || a === "-s" || a.startsWith("--stack="));
    if (i >= 0) {
        const inline = rest[i].startsWith("--stack=");
        stack = inline ? rest[i].slice("--stack=".length) : rest[i + 1];
        rest.splice(i, inline ? 1 : 2);
    }
    if (!stack) throw new CliError("--stack needs a name");
    return { command, stack, rest };
}

function main(): number {
    const { command, stack, rest } = parseArgs(process.argv.slice(2));
    requireHosts(root, stack);
    const pulumi = pulumiRunner(cliEnvironment(process.env));
    ensureLabKey(stack);
    // Selecting first makes the stack on first use, with the passphrase secrets provider.
    const select = pulumi(["stack", "select", stack, "--create", "--non-interactive"]);
    if (select.code !== 0) throw new CliError(`pulumi stack select ${stack} failed:\n${select.stderr.trim()}`);
    if (command === "forget") {
        forgetStack(stack, rest.includes("--yes"), pulumi, (line) => console.log(line));
        return 0;
    }
    const flags = command === "preview" ? ["--diff"] : [];
    return pulumi([command, "--stack", stack, ...flags, ...rest], { interactive: true }).code;
}

if (require.main === module) {
    try {
        process.exitCode = main();
    } catch (e) {
        if (e instanceof CliError) {
            console.error(`k8s-lab: ${e.message}`);
            process.exitCode = 2;
        } else {
            throw e;
        }
    }
}

/**
 * etcd snapshots of a lab, for `npm run lab -- backup <name> [--out DIR]` and
 * `npm run lab -- restore <name> <file> --yes` (cli/lab.ts dispatches here).
 *
 * Both read the lab's stack: its `kubernetesVersion` output, and its configuration (with
 * secrets, as the program gets it) for the control plane's address, login, host key and
 * bastion. They run scripts/etcd-snapshot.sh on the control plane over the operator's own
 * OpenSSH client, the rendered script on stdin as every host step sends it:
 *
 *   backup   `save` streams the snapshot back on stdout into `<lab>-k8s-<version>-etcd-<UTC>.db`
 *            (mode 0600, never overwriting), checked against the size and sha256 the host reports.
 *   restore  the script, then the snapshot, go on stdin; the script reads the snapshot on file
 *            descriptor 3 (bash reads its script from a pipe byte by byte, so the snapshot is
 *            what is left after it) and checks it against the sha256 the operator sends.
 *
 * A snapshot holds every Secret of the cluster: files are made 0600 in a 0700 directory.
 * The pure parts (names, arguments, command lines) are exported for the unit tests, which
 * replace SSH with a fake.
 */
import { spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ConfigError, Host, rawConfig, SshSettings, validateConfig } from "../components/lib/config";
import { asRoot, shellQuote } from "../components/lib/render";
import { etcdSnapshotScript } from "../components/lib/scripts";
import type { LabDeps } from "./lab";
import { CliError } from "./pulumi";

/** The control plane of a lab, as backup and restore reach it. */
export interface SnapshotTarget {
    stack: string;
    lab: string;
    /** The Kubernetes version the lab last built (the stack output `kubernetesVersion`). */
    version: string;
    host: Host;
    ssh: SshSettings;
}

/** How to run ssh: the command, its arguments, extra environment and the files it reads from `dir`. */
export interface SshInvocation {
    command: string;
    args: string[];
    env: Record<string, string>;
    /** Written to the invocation's private directory, mode 0600, before ssh starts; removed after. */
    files: { name: string; content: string }[];
}

export interface SshRunOptions {
    /** What goes on ssh's stdin: text, then (for a restore) a file's bytes. */
    input: { text: string; file?: string };
    /** Where ssh's stdout goes (the snapshot of a backup); else it is shown. */
    stdoutFile?: string;
}

/** Runs ssh; resolves with its exit code and its stderr (which it also shows). */
export type SshRunner = (invocation: SshInvocation, options: SshRunOptions) => Promise<{ code: number; stderr: string }>;

/** The lab command's dependencies, and the clock and SSH a snapshot needs besides. */
export interface SnapshotDeps extends LabDeps {
    now: () => Date;
    ssh: SshRunner;
}

const stampPattern = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** A UTC instant as a file name takes it: 20261204T135501Z. */
export function utcStamp(at: Date): string {
    return at.toISOString().replace(/\.\d{3}Z$/, "Z").replace(/[-:]/g, "");
}

/** `<lab>-k8s-<version>-etcd-<UTC date-time>.db` */
export function snapshotFileName(lab: string, version: string, at: Date): string {
    return `${lab}-k8s-${version}-etcd-${utcStamp(at)}.db`;
}

/** The lab, version and time a snapshot's file name tells, or undefined for another name. */
export function parseSnapshotFileName(file: string): { lab: string; version: string; takenAt: Date } | undefined {
    const m = /^(.+)-k8s-(\d+\.\d+\.\d+)-etcd-(\d{8}T\d{6}Z)\.db$/.exec(path.basename(file));
    const t = m && stampPattern.exec(m[3]);
    if (!m || !t) return undefined;
    const takenAt = new Date(Date.UTC(+t[1], +t[2] - 1, +t[3], +t[4], +t[5], +t[6]));
    // Date.UTC rolls a 13th month or a 32nd day over: such a name is no stamp of ours.
    return Number.isNaN(takenAt.getTime()) || utcStamp(takenAt) !== m[3] ? undefined : { lab: m[1], version: m[2], takenAt };
}

/** The command line on the control plane: the rendered script comes on stdin, run as root. */
export function remoteCommand(user: string, action: "save" | "restore"): string {
    if (action === "save") return asRoot(user, "bash -s -- save");
    // The snapshot follows the script on stdin; fd 3 keeps it for the script, whose own stdin
    // is /dev/null (components/lib/render.ts). sudo closes descriptors above 2, so the dup happens
    // inside it.
    return asRoot(user, `bash -c ${shellQuote("exec 3<&0 && exec bash -s -- restore")}`);
}

/** A known_hosts line for a host key. */
export function knownHostsLine(address: string, port: number, hostKey: string): string {
    return `${port === 22 ? address : `[${address}]:${port}`} ${hostKey.trim()}`;
}

/**
 * ssh to the control plane, as the lab's configuration says: its user and port, the lab's key
 * (or password, through sshpass), its host key when the configuration gives one (else any key
 * is accepted, as the program's own steps accept it), and the bastion as a ProxyCommand.
 * `dir` is a private directory for the key and known_hosts files. No user ssh_config is read.
 */
export function sshInvocation(target: Pick<SnapshotTarget, "host" | "ssh">, dir: string, remote: string): SshInvocation {
    const { host, ssh } = target;
    const files: SshInvocation["files"] = [];
    const known: string[] = [];
    const base = ["-F", "none", "-T", "-o", "ConnectTimeout=20", "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4", "-o", "LogLevel=ERROR"];
    const hostKeyOptions = (hostKey: string | undefined, address: string, port: number): string[] => {
        if (!hostKey) return ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"];
        known.push(knownHostsLine(address, port, hostKey));
        return ["-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${path.join(dir, "known_hosts")}`, "-o", "GlobalKnownHostsFile=/dev/null"];
    };
    const args = [...base, ...hostKeyOptions(host.hostKey, host.address, host.port)];
    if (ssh.bastion) {
        const b = ssh.bastion;
        if (!b.privateKey) {
            throw new CliError("backup and restore reach a bastion with a key only (OpenSSH cannot take its password from a program): set k8s-lab:ssh.bastion.privateKey or privateKeyPath");
        }
        files.push({ name: "bastion_id", content: withNewline(b.privateKey) });
        const proxy = [
            "ssh",
            ...base,
            ...hostKeyOptions(b.hostKey, b.address, b.port),
            "-i",
            path.join(dir, "bastion_id"),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-p",
            String(b.port),
            "-W",
            "%h:%p",
            `${b.user}@${b.address}`,
        ];
        args.push("-o", `ProxyCommand=${proxy.map((t) => (/^[A-Za-z0-9_@%:=./,+-]+$/.test(t) ? t : shellQuote(t))).join(" ")}`);
    }
    const env: Record<string, string> = {};
    let command = "ssh";
    if (ssh.privateKey) {
        files.push({ name: "id", content: withNewline(ssh.privateKey) });
        args.push("-i", path.join(dir, "id"), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes");
    } else if (ssh.password) {
        // sshpass reads the password from SSHPASS: never on a command line.
        command = "sshpass";
        args.unshift("-e", "ssh");
        args.push("-o", "PreferredAuthentications=password,keyboard-interactive", "-o", "PubkeyAuthentication=no");
        env.SSHPASS = ssh.password;
    } else {
        throw new CliError("the lab's configuration has no SSH key or password (k8s-lab:ssh)");
    }
    if (known.length) files.push({ name: "known_hosts", content: `${known.join("\n")}\n` });
    args.push("-p", String(host.port), `${host.user}@${host.address}`, remote);
    return { command, args, env, files };
}

/** OpenSSH refuses a private key file whose last line has no newline; Pulumi drops it. */
function withNewline(key: string): string {
    return key.endsWith("\n") ? key : `${key}\n`;
}

/** The control plane and version of a lab, from its stack's outputs and configuration. */
export function readTarget(stack: string, lab: string, deps: Pick<SnapshotDeps, "pulumi" | "root" | "readFile">): SnapshotTarget {
    const out = deps.pulumi(["stack", "output", "--json", "--stack", stack]);
    if (out.code !== 0) throw new CliError(`cannot read the outputs of ${stack}:\n${out.stderr.trim()}`);
    const version = (JSON.parse(out.stdout || "{}") as { kubernetesVersion?: unknown }).kubernetesVersion;
    if (typeof version !== "string" || !version) {
        throw new CliError(`lab ${lab} has no kubernetesVersion output, so it has no cluster yet: build it with npm run up -- --stack ${stack}`);
    }
    // --show-secrets: the SSH key is a secret of the stack; it goes to ssh in a 0600 file only.
    const cfg = deps.pulumi(["config", "--json", "--show-secrets", "--stack", stack]);
    if (cfg.code !== 0) throw new CliError(`cannot read the configuration of ${stack}:\n${cfg.stderr.trim()}`);
    const values: Record<string, string> = {};
    for (const [key, entry] of Object.entries(JSON.parse(cfg.stdout || "{}") as Record<string, { value?: unknown }>)) {
        if (typeof entry?.value === "string") values[key] = entry.value;
    }
    try {
        const config = validateConfig(rawConfig(values), (p) => deps.readFile(path.isAbsolute(p) ? p : path.join(deps.root, p)));
        return { stack, lab, version, host: config.controlPlane, ssh: config.ssh };
    } catch (e) {
        if (e instanceof ConfigError) throw new CliError(`the configuration of ${stack} does not check out, so its control plane cannot be reached:\n${e.message}`);
        throw e;
    }
}

/** Where a path the user typed points: npm runs scripts in the project, INIT_CWD is where the user was. */
export function userPath(p: string, env: NodeJS.ProcessEnv): string {
    const home = p.startsWith("~/") ? path.join(os.homedir(), p.slice(2)) : p;
    return path.resolve(env.INIT_CWD ?? process.cwd(), home);
}

export function sha256File(file: string): string {
    const hash = crypto.createHash("sha256");
    const fd = fs.openSync(file, "r");
    try {
        const buffer = Buffer.alloc(1 << 20);
        let n: number;
        while ((n = fs.readSync(fd, buffer, 0, buffer.length, null)) > 0) hash.update(buffer.subarray(0, n));
    } finally {
        fs.closeSync(fd);
    }
    return hash.digest("hex");
}

/** Runs the ssh of an invocation with its key files in a private directory that is removed after. */
async function withSsh(target: SnapshotTarget, remote: string, options: SshRunOptions, deps: SnapshotDeps): Promise<{ code: number; stderr: string }> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "k8s-lab-ssh-"));
    try {
        const invocation = sshInvocation(target, dir, remote);
        for (const f of invocation.files) fs.writeFileSync(path.join(dir, f.name), f.content, { mode: 0o600 });
        return await deps.ssh(invocation, options);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

function tail(text: string, lines = 15): string {
    return text.trim().split("\n").slice(-lines).join("\n");
}

const secretsWarning = "It holds every Secret of the cluster (service-account keys' tokens, passwords, the layers' credentials): keep it private, as you keep the lab's SSH key.";

/** Saves an etcd snapshot of a lab's control plane on this machine; returns the file. */
export async function backupLab(stack: string, lab: string, outDir: string | undefined, deps: SnapshotDeps): Promise<string> {
    const target = readTarget(stack, lab, deps);
    const dir = outDir ? userPath(outDir, deps.env) : path.join(deps.root, ".lab", "snapshots");
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, snapshotFileName(lab, target.version, deps.now()));
    if (fs.existsSync(file)) throw new CliError(`${file} exists; backup never overwrites a snapshot (wait a second, or give another --out)`);
    const part = `${file}.part`;
    try {
        fs.writeFileSync(part, "", { mode: 0o600, flag: "wx" });
    } catch (e) {
        throw new CliError(`cannot write ${part} (${(e as Error).message}); give a directory you can write with --out`);
    }
    const { host } = target;
    try {
        deps.print(`saving an etcd snapshot of lab ${lab} (Kubernetes ${target.version}) from its control plane ${host.name} (${host.address})`);
        const r = await withSsh(target, remoteCommand(host.user, "save"), { input: { text: etcdSnapshotScript() }, stdoutFile: part }, deps);
        if (r.code !== 0) throw new CliError(`the snapshot failed on ${host.name} (exit ${r.code}); nothing was saved:\n${tail(r.stderr)}`);
        const sent = /snapshot sent: (\d+) bytes, sha256 ([0-9a-f]{64})/.exec(r.stderr);
        const size = fs.statSync(part).size;
        const sum = sha256File(part);
        if (!sent) throw new CliError(`${host.name} did not report the snapshot's size and sha256, so the ${size} bytes that arrived cannot be trusted; nothing was saved`);
        if (Number(sent[1]) !== size || sent[2] !== sum) {
            throw new CliError(`the snapshot arrived damaged (${size} bytes, sha256 ${sum}; ${host.name} sent ${sent[1]} bytes, sha256 ${sent[2]}); nothing was saved`);
        }
        try {
            // A link never replaces an existing file, unlike a rename.
            fs.linkSync(part, file);
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code === "EEXIST") throw new CliError(`${file} exists; backup never overwrites a snapshot`);
            throw e;
        }
        fs.chmodSync(file, 0o600);
        deps.print(`saved ${file} (${size} bytes, sha256 ${sum}, mode 0600)`);
        deps.print(secretsWarning);
        deps.print(`restore it with: npm run lab -- restore ${lab} ${file} --yes`);
        return file;
    } finally {
        fs.rmSync(part, { force: true });
    }
}

/** What a restore will do, in words, for the confirmation and the log. */
export function restorePlan(target: SnapshotTarget, file: string, takenAt: Date | undefined): string[] {
    const { host, lab } = target;
    return [
        `restore replaces the whole cluster state of lab ${lab} with the snapshot ${path.basename(file)}${takenAt ? ` (taken ${takenAt.toISOString()})` : ""}.`,
        `On its control plane ${host.name} (${host.address}) it will:`,
        "  1. check the host (kubeadm's etcd, one etcd member, its client certificate) and the snapshot (sha256, etcdutl snapshot status);",
        "  2. restore the snapshot into a new data directory with etcdutl, while everything still runs;",
        "  3. stop the control-plane static pods (etcd, kube-apiserver, kube-controller-manager, kube-scheduler) by moving their manifests aside;",
        "  4. keep the etcd data directory as /var/lib/etcd.before-restore-<UTC time> (never deleted) and put the restored one in its place;",
        "  5. put the manifests back, restart kubelet and wait for the API server.",
        "Everything written to the cluster since the snapshot is lost: objects, Secrets, nodes that joined later.",
    ];
}

/** Restores a lab's etcd from a snapshot file made by `backup`. */
export async function restoreLab(stack: string, lab: string, file: string, yes: boolean, deps: SnapshotDeps): Promise<void> {
    const full = userPath(file, deps.env);
    let stat: fs.Stats;
    try {
        stat = fs.statSync(full);
    } catch {
        throw new CliError(`${full}: no such file; give a snapshot that npm run lab -- backup ${lab} made`);
    }
    if (!stat.isFile() || stat.size === 0) throw new CliError(`${full} is not a snapshot file (empty, or not a regular file)`);
    const named = parseSnapshotFileName(full);
    const target = readTarget(stack, lab, deps);
    if (named && named.lab !== lab) {
        throw new CliError(`${path.basename(full)} is a snapshot of lab ${named.lab}, not of ${lab}: another cluster's etcd does not fit this one's certificates and nodes. Restore it on lab ${named.lab}`);
    }
    if (named && named.version !== target.version) {
        throw new CliError(
            `${path.basename(full)} was taken on Kubernetes ${named.version}, and lab ${lab} now runs ${target.version}: a snapshot is restored on the version it was taken on. ` +
                `Set k8s-lab:kubernetes.version back to ${named.version} only on a new lab (kubeadm cannot downgrade), or take the snapshot again on ${target.version}`,
        );
    }
    const plan = restorePlan(target, full, named?.takenAt);
    if (!yes) throw new CliError(`${plan.join("\n")}\nAdd --yes to go ahead.`);
    for (const line of plan) deps.print(line);
    if (!named) deps.print(`note: ${path.basename(full)} is not named <lab>-k8s-<version>-etcd-<UTC time>.db, so its lab and Kubernetes version were not checked`);
    if (stat.mode & 0o077) deps.print(`note: ${full} is readable by others (mode ${(stat.mode & 0o777).toString(8)}): chmod 600 it. ${secretsWarning}`);
    const sum = sha256File(full);
    const { host } = target;
    const r = await withSsh(target, remoteCommand(host.user, "restore"), { input: { text: etcdSnapshotScript(sum), file: full } }, deps);
    if (r.code !== 0) {
        throw new CliError(`the restore on ${host.name} failed (exit ${r.code}); the messages above say how far it went and where the old data is:\n${tail(r.stderr)}`);
    }
    deps.print(`restored lab ${lab} from ${path.basename(full)}.`);
    deps.print(`next: npm run refresh -- --stack ${stack} (the stack's state then matches the restored cluster), then npm run up -- --stack ${stack} and npm run lab -- verify ${lab}`);
}

/** The real runner: the operator's ssh (or sshpass), stdin streamed, stderr shown and kept. */
export const spawnSsh: SshRunner = (invocation, options) =>
    new Promise((resolve, reject) => {
        const out = options.stdoutFile ? fs.openSync(options.stdoutFile, "w") : undefined;
        const child = spawn(invocation.command, invocation.args, {
            env: { ...process.env, ...invocation.env },
            stdio: ["pipe", out ?? "inherit", "pipe"],
        });
        let stderr = "";
        let closed = false;
        const close = () => {
            if (out !== undefined && !closed) fs.closeSync(out);
            closed = true;
        };
        const { stdin, stderr: errors } = child;
        if (!stdin || !errors) throw new Error("ssh was started without pipes");
        child.on("error", (e: NodeJS.ErrnoException) => {
            close();
            reject(e.code === "ENOENT" ? new CliError(`${invocation.command} is not installed here: backup and restore use the OpenSSH client${invocation.command === "sshpass" ? " and sshpass (a lab with a password)" : ""}`) : e);
        });
        errors.on("data", (d: Buffer) => {
            process.stderr.write(d);
            stderr = (stderr + d.toString("utf8")).slice(-65536);
        });
        // The host may stop reading early (a check failed): its messages say why, not EPIPE.
        stdin.on("error", () => undefined);
        child.on("close", (code) => {
            close();
            resolve({ code: code ?? 1, stderr });
        });
        stdin.write(options.input.text);
        if (options.input.file) {
            fs.createReadStream(options.input.file)
                .on("error", (e) => {
                    stdin.end();
                    reject(e);
                })
                .pipe(stdin);
        } else {
            stdin.end();
        }
    });

import * as assert from "assert";
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseLabArgs } from "../cli/lab";
import { CliError, PulumiResult } from "../cli/pulumi";
import {
    backupLab,
    knownHostsLine,
    parseSnapshotFileName,
    readTarget,
    remoteCommand,
    restoreLab,
    SnapshotDeps,
    SnapshotTarget,
    snapshotFileName,
    SshInvocation,
    sshInvocation,
    SshRunOptions,
    spawnSsh,
    utcStamp,
} from "../cli/snapshot";
import { validateConfig } from "../components/lib/config";
import { etcdSnapshotScript } from "../components/lib/scripts";
import { guideLab, testKey } from "./fixtures";

function shellcheck(text: string): string {
    return spawnSync("shellcheck", ["-s", "bash", "-"], { input: text, encoding: "utf8" }).stdout;
}

const argv = (s: string) => s.split(" ").filter(Boolean);
const hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyOfTheControlPlane0000000000000000000";
const bastionKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyOfTheBastion000000000000000000000";
const at = new Date("2026-12-04T13:55:01.250Z");

const made: string[] = [];
/** A private temporary directory, removed after the tests. */
function tmp(prefix: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    made.push(dir);
    return dir;
}

interface SshCall {
    invocation: SshInvocation;
    options: SshRunOptions;
    /** The files ssh was given, read while it ran (the directory is gone afterwards). */
    files: Record<string, { content: string; mode: number }>;
}

/** The lab's stack as `pulumi stack output` and `pulumi config --json --show-secrets` give it. */
function stackAnswers(config = guideLab(), outputs: Record<string, unknown> = { kubernetesVersion: "1.36.4" }): Record<string, Partial<PulumiResult>> {
    const entries = Object.fromEntries(Object.entries(config).map(([k, v]) => [`k8s-lab:${k}`, { value: typeof v === "string" ? v : JSON.stringify(v), secret: k === "ssh" }]));
    return { "stack output": { stdout: JSON.stringify(outputs) }, config: { stdout: JSON.stringify(entries) } };
}

/**
 * A Pulumi CLI and an ssh that stand in for the real ones: `reply` is what the control plane
 * does (writes a snapshot, says what it sent, exits with a code).
 */
function fakeDeps(
    reply: (options: SshRunOptions) => { code: number; stderr: string; stdout?: Buffer } = () => ({ code: 0, stderr: "" }),
    answers = stackAnswers(),
): SnapshotDeps & { pulumiCalls: string[][]; sshCalls: SshCall[]; printed: string[] } {
    const pulumiCalls: string[][] = [];
    const sshCalls: SshCall[] = [];
    const printed: string[] = [];
    return {
        pulumiCalls,
        sshCalls,
        printed,
        root: tmp("k8s-lab-root-"),
        env: { INIT_CWD: os.tmpdir() },
        readFile: () => {
            throw new Error("ENOENT");
        },
        print: (l) => printed.push(l),
        now: () => at,
        pulumi: (args) => {
            pulumiCalls.push(args);
            const key = args[0] === "config" ? "config" : args.slice(0, 2).join(" ");
            return { code: 0, stdout: "", stderr: "", ...(answers[key] ?? {}) };
        },
        ssh: async (invocation, options) => {
            const dir = path.dirname(invocation.args[invocation.args.indexOf("-i") + 1] ?? "");
            const files: SshCall["files"] = {};
            for (const f of invocation.files) {
                const p = path.join(dir, f.name);
                files[f.name] = { content: fs.readFileSync(p, "utf8"), mode: fs.statSync(p).mode & 0o777 };
            }
            sshCalls.push({ invocation, options, files });
            const r = reply(options);
            if (r.stdout && options.stdoutFile) fs.writeFileSync(options.stdoutFile, r.stdout);
            return { code: r.code, stderr: r.stderr };
        },
    };
}

/** What the host answers to a save: the snapshot, and its size and sha256 on stderr. */
function saved(bytes: Buffer, damage = false) {
    return () => ({
        code: 0,
        stdout: damage ? Buffer.concat([bytes, Buffer.from("!")]) : bytes,
        stderr: `[k8s-lab] etcd snapshot save\n[k8s-lab] snapshot sent: ${bytes.length} bytes, sha256 ${crypto.createHash("sha256").update(bytes).digest("hex")}\n`,
    });
}

function target(overrides: Parameters<typeof guideLab>[0] = {}): SnapshotTarget {
    const c = validateConfig(guideLab(overrides));
    return { stack: "lab-ann", lab: "ann", version: "1.36.4", host: c.controlPlane, ssh: c.ssh };
}

describe("etcd snapshots", () => {
    after(() => {
        for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
    });

    describe("arguments", () => {
        it("takes backup with an optional --out, and restore with a file and --yes", () => {
            assert.deepStrictEqual(parseLabArgs(argv("backup ann"), {}).lab, { command: "backup", name: "ann", outDir: undefined });
            assert.deepStrictEqual(parseLabArgs(argv("backup ann --out /srv/backups"), {}).lab, { command: "backup", name: "ann", outDir: "/srv/backups" });
            assert.deepStrictEqual(parseLabArgs(argv("restore ann ann-k8s-1.36.4-etcd-20261204T135501Z.db --yes"), {}).lab, {
                command: "restore",
                name: "ann",
                file: "ann-k8s-1.36.4-etcd-20261204T135501Z.db",
                yes: true,
            });
            assert.strictEqual(parseLabArgs(argv("restore ann x.db --prefix team-"), {}).prefix, "team-");
        });

        it("refuses what does not fit, saying how to call it", () => {
            assert.throws(() => parseLabArgs(argv("backup"), {}), /backup needs a lab name/);
            assert.throws(() => parseLabArgs(argv("restore ann"), {}), /restore needs the snapshot file/);
            assert.throws(() => parseLabArgs(argv("restore ann a.db b.db"), {}), /unexpected b\.db/);
            assert.throws(() => parseLabArgs(argv("backup ann extra"), {}), /unexpected extra/);
            assert.throws(() => parseLabArgs(argv("restore ann a.db --out /tmp"), {}), /--out is for backup only/);
        });
    });

    describe("file names", () => {
        it("carry the lab, its Kubernetes version and the UTC time, and read back", () => {
            assert.strictEqual(utcStamp(at), "20261204T135501Z");
            const name = snapshotFileName("ann-2", "1.36.4", at);
            assert.strictEqual(name, "ann-2-k8s-1.36.4-etcd-20261204T135501Z.db");
            assert.deepStrictEqual(parseSnapshotFileName(`/backups/${name}`), { lab: "ann-2", version: "1.36.4", takenAt: new Date("2026-12-04T13:55:01Z") });
        });

        it("are not guessed from other names", () => {
            for (const other of ["snapshot.db", "ann-k8s-1.36-etcd-20261204T135501Z.db", "ann-k8s-1.36.4-etcd-20261204.db", "ann-k8s-1.36.4-etcd-20261304T135501Z.db"]) {
                assert.strictEqual(parseSnapshotFileName(other), undefined, other);
            }
        });
    });

    describe("command lines", () => {
        it("run the script as root, and give a restore the snapshot on file descriptor 3", () => {
            assert.strictEqual(remoteCommand("ubuntu", "save"), "sudo -n bash -s -- save");
            assert.strictEqual(remoteCommand("root", "save"), "bash -s -- save");
            assert.strictEqual(remoteCommand("ubuntu", "restore"), "sudo -n bash -c 'exec 3<&0 && exec bash -s -- restore'");
        });

        it("hand a restore's script exactly the bytes that follow it on stdin", () => {
            // A rendered script reads stdin only through fd 3; bash reads its script from a pipe a
            // byte at a time, so the snapshot is what is left once the group is read.
            const script = "#!/usr/bin/env bash\n{\nset -euo pipefail\nsha256sum <&3 | cut -d' ' -f1\nexit 0\n} </dev/null\n";
            const snapshot = crypto.randomBytes(300_000);
            const r = spawnSync("bash", ["-c", "exec 3<&0 && exec bash -s -- restore"], { input: Buffer.concat([Buffer.from(script), snapshot]), encoding: "utf8" });
            assert.strictEqual(r.status, 0, r.stderr);
            assert.strictEqual(r.stdout.trim(), crypto.createHash("sha256").update(snapshot).digest("hex"));
        });

        it("are run by the real runner with the script, then the file, on stdin, and stdout into a file", async () => {
            // bash stands in for ssh: it runs the restore command line here.
            const dir = tmp("k8s-lab-runner-");
            const snapshot = crypto.randomBytes(1 << 20);
            fs.writeFileSync(path.join(dir, "in.db"), snapshot);
            const script = "{\nsha256sum <&3 | cut -d' ' -f1\necho '[k8s-lab] done' >&2\nexit 3\n} </dev/null\n";
            const shown: string[] = [];
            const write = process.stderr.write.bind(process.stderr);
            process.stderr.write = ((chunk: string | Uint8Array) => shown.push(String(chunk)) > 0) as typeof process.stderr.write;
            try {
                const r = await spawnSsh(
                    { command: "bash", args: ["-c", "exec 3<&0 && exec bash -s -- restore"], env: {}, files: [] },
                    { input: { text: script, file: path.join(dir, "in.db") }, stdoutFile: path.join(dir, "out") },
                );
                assert.deepStrictEqual(r, { code: 3, stderr: "[k8s-lab] done\n" });
            } finally {
                process.stderr.write = write;
            }
            assert.deepStrictEqual(shown, ["[k8s-lab] done\n"], "the host's messages are shown as they come");
            assert.strictEqual(fs.readFileSync(path.join(dir, "out"), "utf8").trim(), crypto.createHash("sha256").update(snapshot).digest("hex"));
            await assert.rejects(spawnSsh({ command: "k8s-lab-no-such-ssh", args: [], env: {}, files: [] }, { input: { text: "" } }), /k8s-lab-no-such-ssh is not installed here/);
        });

        it("render the host script with its sha256, shellcheck-clean, refusing an unknown action", () => {
            const text = etcdSnapshotScript("ab".repeat(32));
            assert.match(text, new RegExp(`^SNAPSHOT_SHA256='${"ab".repeat(32)}'$`, "m"));
            assert.match(etcdSnapshotScript(), /^SNAPSHOT_SHA256=''$/m);
            assert.strictEqual(shellcheck(text), "");
            const r = spawnSync("bash", ["-s", "--", "apply"], { input: text, encoding: "utf8" });
            assert.notStrictEqual(r.status, 0);
            assert.match(r.stderr, /usage: .* save\|restore/);
        });

        it("log in with the lab's key from a 0600 file, never on the command line", () => {
            const inv = sshInvocation(target(), "/run/k", remoteCommand("ubuntu", "save"));
            assert.strictEqual(inv.command, "ssh");
            assert.deepStrictEqual(inv.args.slice(-4), ["-p", "22", "ubuntu@192.168.56.10", "sudo -n bash -s -- save"]);
            for (const a of ["-i /run/k/id", "-o IdentitiesOnly=yes", "-o BatchMode=yes", "-F none"]) assert.ok(inv.args.join(" ").includes(a), a);
            assert.deepStrictEqual(inv.files, [{ name: "id", content: testKey }]);
            assert.ok(!inv.args.join(" ").includes("TEST-ONLY"), "no key on the command line");
            assert.deepStrictEqual(inv.env, {});
        });

        it("insist on the host key the configuration gives, and accept any without one, as the program's steps do", () => {
            const strict = sshInvocation(
                target({ hosts: [{ name: "cp1", address: "192.168.56.10", port: 2222, hostKey, roles: ["control-plane"] }] }),
                "/run/k",
                "true",
            );
            assert.ok(strict.args.join(" ").includes("-o StrictHostKeyChecking=yes -o UserKnownHostsFile=/run/k/known_hosts"));
            assert.deepStrictEqual(strict.files.find((f) => f.name === "known_hosts"), { name: "known_hosts", content: `[192.168.56.10]:2222 ${hostKey}\n` });
            assert.strictEqual(knownHostsLine("cp1.lab", 22, `${hostKey} comment\n`), `cp1.lab ${hostKey} comment`);
            const any = sshInvocation(target(), "/run/k", "true");
            assert.ok(any.args.join(" ").includes("-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"));
        });

        it("go through the bastion with its own key and host key", () => {
            const inv = sshInvocation(target({ ssh: { user: "ubuntu", privateKey: testKey, bastion: { address: "203.0.113.5", port: 2200, hostKey: bastionKey } } }), "/run/k", "true");
            const proxy = inv.args.find((a) => a.startsWith("ProxyCommand="));
            assert.ok(proxy, "a ProxyCommand");
            assert.match(proxy, /^ProxyCommand=ssh -F none .* -i \/run\/k\/bastion_id .* -p 2200 -W %h:%p ubuntu@203\.0\.113\.5$/);
            assert.match(proxy, /StrictHostKeyChecking=yes/);
            assert.strictEqual(inv.files.find((f) => f.name === "known_hosts")?.content, `[203.0.113.5]:2200 ${bastionKey}\n`);
            assert.throws(
                () => sshInvocation(target({ ssh: { user: "ubuntu", password: "pw", bastion: { address: "203.0.113.5" } } }), "/run/k", "true"),
                /bastion with a key only/,
            );
        });

        it("log in with a password through sshpass, the password in its environment only", () => {
            const inv = sshInvocation(target({ ssh: { user: "ubuntu", password: "s3cret" } }), "/run/k", "true");
            assert.strictEqual(inv.command, "sshpass");
            assert.deepStrictEqual(inv.args.slice(0, 2), ["-e", "ssh"]);
            assert.deepStrictEqual(inv.env, { SSHPASS: "s3cret" });
            assert.ok(!inv.args.join(" ").includes("s3cret"));
        });
    });

    describe("the lab's control plane", () => {
        it("comes from the stack: its version output, and its configuration with secrets", () => {
            const deps = fakeDeps();
            const t = readTarget("lab-ann", "ann", deps);
            assert.strictEqual(t.version, "1.36.4");
            assert.strictEqual(t.host.name, "cp1");
            assert.strictEqual(t.host.address, "192.168.56.10");
            assert.strictEqual(t.ssh.privateKey, testKey);
            assert.deepStrictEqual(deps.pulumiCalls, [
                ["stack", "output", "--json", "--stack", "lab-ann"],
                ["config", "--json", "--show-secrets", "--stack", "lab-ann"],
            ]);
        });

        it("reads a key file named relative to the project", () => {
            const deps = fakeDeps(undefined, stackAnswers(guideLab({ ssh: { user: "ubuntu", privateKeyPath: ".lab/id_ed25519" } })));
            const read: string[] = [];
            deps.readFile = (p) => (read.push(p), testKey);
            assert.strictEqual(readTarget("lab-ann", "ann", deps).ssh.privateKey, testKey);
            assert.deepStrictEqual(read, [path.join(deps.root, ".lab/id_ed25519")]);
        });

        it("says what is missing: a lab never built, a configuration that does not check out", () => {
            assert.throws(() => readTarget("lab-ann", "ann", fakeDeps(undefined, stackAnswers(guideLab(), {}))), /no kubernetesVersion output.*npm run up -- --stack lab-ann/);
            assert.throws(() => readTarget("lab-ann", "ann", fakeDeps(undefined, stackAnswers(guideLab({ ssh: { user: "ubuntu" } })))), /does not check out[\s\S]*no SSH credentials/);
        });
    });

    describe("backup", () => {
        const snapshot = crypto.randomBytes(4096);

        it("saves <lab>-k8s-<version>-etcd-<UTC time>.db, mode 0600, with the size and sha256 the host reported", async () => {
            const deps = fakeDeps(saved(snapshot));
            const out = tmp("k8s-lab-out-");
            const file = await backupLab("lab-ann", "ann", out, deps);
            assert.strictEqual(file, path.join(out, "ann-k8s-1.36.4-etcd-20261204T135501Z.db"));
            assert.deepStrictEqual(fs.readFileSync(file), snapshot);
            assert.strictEqual(fs.statSync(file).mode & 0o777, 0o600);
            assert.deepStrictEqual(fs.readdirSync(out), [path.basename(file)], "no .part file is left");
            const call = deps.sshCalls[0];
            assert.strictEqual(call.invocation.args[call.invocation.args.length - 1], "sudo -n bash -s -- save");
            assert.strictEqual(call.options.input.text, etcdSnapshotScript());
            assert.strictEqual(call.files.id.mode, 0o600, "the key file is private");
            assert.match(deps.printed.join("\n"), /every Secret of the cluster/);
            assert.match(deps.printed.join("\n"), new RegExp(`saved ${file.replace(/[.]/g, "\\.")}`));
        });

        it("keeps snapshots in .lab/snapshots (0700) unless told, and --out is where the user typed it", async () => {
            const deps = fakeDeps(saved(snapshot));
            const file = await backupLab("lab-ann", "ann", undefined, deps);
            assert.strictEqual(path.dirname(file), path.join(deps.root, ".lab", "snapshots"));
            assert.strictEqual(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
            const cwd = tmp("k8s-lab-cwd-");
            const relative = fakeDeps(saved(snapshot));
            relative.env = { INIT_CWD: cwd };
            assert.strictEqual(path.dirname(await backupLab("lab-ann", "ann", "backups", relative)), path.join(cwd, "backups"));
        });

        it("never overwrites a snapshot", async () => {
            const out = tmp("k8s-lab-out-");
            const existing = path.join(out, "ann-k8s-1.36.4-etcd-20261204T135501Z.db");
            fs.writeFileSync(existing, "older", { mode: 0o600 });
            const deps = fakeDeps(saved(snapshot));
            await assert.rejects(backupLab("lab-ann", "ann", out, deps), /exists; backup never overwrites/);
            assert.strictEqual(fs.readFileSync(existing, "utf8"), "older");
            assert.deepStrictEqual(deps.sshCalls, [], "nothing ran on the host");
        });

        it("keeps nothing when the transfer is damaged, unconfirmed, or the host fails", async () => {
            for (const [reply, message] of [
                [saved(snapshot, true), /arrived damaged/],
                [() => ({ code: 0, stderr: "", stdout: snapshot }), /did not report the snapshot's size and sha256/],
                [() => ({ code: 1, stderr: "[k8s-lab] error: the etcd container is not running\n" }), /failed on cp1 \(exit 1\); nothing was saved:\n\[k8s-lab\] error: the etcd container is not running/],
            ] as const) {
                const out = tmp("k8s-lab-out-");
                await assert.rejects(backupLab("lab-ann", "ann", out, fakeDeps(reply)), (e: unknown) => e instanceof CliError && message.test(e.message));
                assert.deepStrictEqual(fs.readdirSync(out), []);
            }
        });
    });

    describe("restore", () => {
        const snapshot = crypto.randomBytes(2048);
        function snapshotFile(name = "ann-k8s-1.36.4-etcd-20261204T135501Z.db", mode = 0o600): string {
            const file = path.join(tmp("k8s-lab-snap-"), name);
            fs.writeFileSync(file, snapshot, { mode });
            return file;
        }

        it("says what it will do and asks for --yes, touching nothing", async () => {
            const deps = fakeDeps();
            await assert.rejects(restoreLab("lab-ann", "ann", snapshotFile(), false, deps), (e: unknown) => {
                assert.ok(e instanceof CliError);
                assert.match(e.message, /replaces the whole cluster state of lab ann/);
                assert.match(e.message, /cp1 \(192\.168\.56\.10\)/);
                assert.match(e.message, /\/var\/lib\/etcd\.before-restore-<UTC time> \(never deleted\)/);
                assert.match(e.message, /Add --yes to go ahead/);
                return true;
            });
            assert.deepStrictEqual(deps.sshCalls, []);
        });

        it("sends the script with the snapshot's sha256, then the snapshot, to the restore command", async () => {
            const deps = fakeDeps(() => ({ code: 0, stderr: "[k8s-lab] restored\n" }));
            const file = snapshotFile();
            await restoreLab("lab-ann", "ann", file, true, deps);
            const call = deps.sshCalls[0];
            assert.strictEqual(call.invocation.args[call.invocation.args.length - 1], "sudo -n bash -c 'exec 3<&0 && exec bash -s -- restore'");
            assert.strictEqual(call.options.input.text, etcdSnapshotScript(crypto.createHash("sha256").update(snapshot).digest("hex")));
            assert.strictEqual(call.options.input.file, file);
            assert.match(deps.printed.join("\n"), /npm run refresh -- --stack lab-ann/);
        });

        it("refuses a snapshot of another lab or another Kubernetes version, and a missing file", async () => {
            await assert.rejects(restoreLab("lab-ann", "ann", snapshotFile("bo-k8s-1.36.4-etcd-20261204T135501Z.db"), true, fakeDeps()), /snapshot of lab bo, not of ann/);
            await assert.rejects(restoreLab("lab-ann", "ann", snapshotFile("ann-k8s-1.35.9-etcd-20261204T135501Z.db"), true, fakeDeps()), /taken on Kubernetes 1\.35\.9, and lab ann now runs 1\.36\.4/);
            await assert.rejects(restoreLab("lab-ann", "ann", "/nonexistent/ann.db", true, fakeDeps()), /no such file/);
        });

        it("restores a file of another name, saying that it could not check it, and warns of a file others can read", async () => {
            const deps = fakeDeps();
            await restoreLab("lab-ann", "ann", snapshotFile("etcd.db", 0o644), true, deps);
            assert.match(deps.printed.join("\n"), /its lab and Kubernetes version were not checked/);
            assert.match(deps.printed.join("\n"), /readable by others \(mode 644\): chmod 600 it/);
        });

        it("reports the host's failure with its last messages", async () => {
            const deps = fakeDeps(() => ({ code: 1, stderr: "[k8s-lab] error: etcd has 3 members; ...\n" }));
            await assert.rejects(restoreLab("lab-ann", "ann", snapshotFile(), true, deps), /restore on cp1 failed \(exit 1\)[\s\S]*etcd has 3 members/);
        });
    });
});

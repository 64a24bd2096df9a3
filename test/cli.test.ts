import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { forgetResources, forgetStack } from "../cli/forget";
import { CliError, cliEnvironment, cliMissing, newSshKeyPair, parseArgs, PulumiRunner, requireHosts } from "../cli/pulumi";

describe("cli/pulumi.ts", () => {
    it("makes an ed25519 key pair with ssh-keygen that OpenSSH reads back to the same public key", () => {
        const pair = newSshKeyPair("k8s-lab-test");
        assert.match(pair.privateKey, /^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
        assert.match(pair.publicKey, /^ssh-ed25519 \S+ k8s-lab-test$/);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "k8s-lab-key-"));
        const file = path.join(dir, "id");
        fs.writeFileSync(file, pair.privateKey, { mode: 0o600 });
        const r = spawnSync("ssh-keygen", ["-y", "-f", file], { encoding: "utf8" });
        fs.rmSync(dir, { recursive: true });
        const keyOf = (line: string) => line.trim().split(" ").slice(0, 2).join(" ");
        assert.strictEqual(keyOf(r.stdout), keyOf(pair.publicKey));
    });

    it("takes the command and the stack", () => {
        assert.deepStrictEqual(parseArgs(["preview"]), { command: "preview", stack: "dev", rest: [] });
        assert.deepStrictEqual(parseArgs(["up", "--stack", "lab-ann", "--yes"]), { command: "up", stack: "lab-ann", rest: ["--yes"] });
        assert.throws(() => parseArgs(["deploy"]), CliError);
    });

    it("defaults to a local file backend with a passphrase file", () => {
        const env = cliEnvironment({});
        assert.match(env.PULUMI_BACKEND_URL ?? "", /^file:\/\/.*\.lab\/state$/);
        assert.match(env.PULUMI_CONFIG_PASSPHRASE_FILE ?? "", /\.lab\/passphrase$/);
    });

    it("refuses a remote backend without a passphrase, saying which variable to set", () => {
        assert.throws(() => cliEnvironment({ PULUMI_BACKEND_URL: "s3://bucket" }), /set PULUMI_CONFIG_PASSPHRASE/);
        assert.doesNotThrow(() => cliEnvironment({ PULUMI_BACKEND_URL: "s3://bucket", PULUMI_CONFIG_PASSPHRASE: "x" }));
    });

    it("explains a CLI that could not be downloaded, and nothing else", () => {
        const e = cliMissing("Downloading pulumi v3.265.0...\npulumi: fetch failed\n");
        assert.ok(e instanceof CliError);
        assert.match(e.message, /could not obtain the Pulumi CLI.*get\.pulumi\.com/s);
        assert.match(e.message, /pulumi: fetch failed/);
        assert.strictEqual(cliMissing("error: stack 'dev' already exists"), undefined);
        const s3 = "error: failed to load checkpoint: dial tcp: lookup lab-state.s3.eu-west-1.amazonaws.com: no such host (ENOTFOUND, EAI_AGAIN); fetch failed";
        assert.strictEqual(cliMissing(s3), undefined, "a backend's DNS error is the backend's");
    });

    it("takes --stack=NAME as well as --stack NAME", () => {
        assert.deepStrictEqual(parseArgs(["up", "--stack=lab-ann", "--yes"]), { command: "up", stack: "lab-ann", rest: ["--yes"] });
        assert.deepStrictEqual(parseArgs(["forget", "--stack", "lab-bo", "--yes"]), { command: "forget", stack: "lab-bo", rest: ["--yes"] });
    });

    it("refuses a stack whose hosts are not configured, saying how to make one", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "k8s-lab-stack-"));
        assert.throws(() => requireHosts(dir, "ann"), /stack ann has no hosts configured.*npm run lab -- new/s);
        fs.writeFileSync(path.join(dir, "Pulumi.ann.yaml"), "config:\n  k8s-lab:ssh: { user: u }\n");
        assert.throws(() => requireHosts(dir, "ann"), /no hosts configured/);
        fs.writeFileSync(path.join(dir, "Pulumi.ann.yaml"), "config:\n  k8s-lab:hosts: [{ name: cp1 }]\n");
        assert.doesNotThrow(() => requireHosts(dir, "ann"));
        assert.doesNotThrow(() => requireHosts(path.join(__dirname, ".."), "dev"), "the dev stack is configured");
    });

    describe("forget", () => {
        const exported = {
            version: 3,
            deployment: {
                manifest: {},
                resources: [
                    { type: "pulumi:pulumi:Stack", urn: "urn:pulumi:dev::k8s-lab::pulumi:pulumi:Stack::k8s-lab-dev", outputs: { kubernetesVersion: "1.36.4" } },
                    { type: "command:remote:Command", urn: "urn:pulumi:dev::k8s-lab::command:remote:Command::lab-cp1-init" },
                    { type: "pulumi:providers:kubernetes", urn: "urn:pulumi:dev::k8s-lab::pulumi:providers:kubernetes::lab-provider" },
                ],
                pending_operations: [{ type: "creating" }],
            },
        };

        it("keeps only the stack itself, with its outputs, and no pending operation", () => {
            const { state, dropped } = forgetResources(exported);
            assert.strictEqual(dropped, 2);
            assert.deepStrictEqual(state.deployment?.resources?.map((r) => r.type), ["pulumi:pulumi:Stack"]);
            assert.deepStrictEqual(state.deployment?.pending_operations, []);
            assert.deepStrictEqual(state.deployment?.manifest, {}, "the rest of the deployment is kept");
        });

        it("refuses without --yes, and otherwise imports the emptied state and says what it did", () => {
            const calls: string[][] = [];
            let imported: unknown;
            const runner: PulumiRunner = (args) => {
                calls.push(args);
                if (args[1] === "export") return { code: 0, stdout: JSON.stringify(exported), stderr: "" };
                imported = JSON.parse(fs.readFileSync(args[args.indexOf("--file") + 1], "utf8"));
                return { code: 0, stdout: "", stderr: "" };
            };
            assert.throws(() => forgetStack("dev", false, runner, () => undefined), /cleans nothing on its hosts.*add --yes/);
            assert.strictEqual(calls.length, 0, "nothing ran without --yes");
            const lines: string[] = [];
            forgetStack("dev", true, runner, (l) => lines.push(l));
            assert.deepStrictEqual(calls.map((c) => c.slice(0, 2)), [["stack", "export"], ["stack", "import"]]);
            assert.strictEqual((imported as typeof exported).deployment.resources.length, 1);
            assert.match(lines[0], /forgot 2 resources of stack dev; nothing on its hosts was touched/);
        });
    });
});


import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CliError, cliEnvironment, cliMissing, newSshKeyPair, parseArgs, requireHosts } from "../cli/pulumi";

describe("cli/pulumi.ts", () => {
    it("makes an ed25519 key pair that OpenSSH reads back to the same public key", function () {
        const pair = newSshKeyPair("k8s-lab-test");
        assert.match(pair.privateKey, /^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "k8s-lab-key-"));
        const file = path.join(dir, "id");
        fs.writeFileSync(file, pair.privateKey, { mode: 0o600 });
        const r = spawnSync("ssh-keygen", ["-y", "-f", file], { encoding: "utf8" });
        fs.rmSync(dir, { recursive: true });
        if (r.error) this.skip();
        assert.strictEqual(r.stdout.trim(), pair.publicKey);
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
});

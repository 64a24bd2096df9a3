import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { modeline } from "../components/lib/schema";
import { createLab, formatRows, LabDeps, listLabs, NewLab, newLabConfig, parseLabArgs, removeLab, stackName } from "../cli/lab";
import { CliError, PulumiResult } from "../cli/pulumi";
import { testKey } from "./fixtures";

interface Call {
    args: string[];
    input?: string;
}

/** A Pulumi CLI stand-in: records calls; `stack init` writes the file the real one writes. */
function fakeDeps(root: string, answers: Record<string, Partial<PulumiResult>> = {}): LabDeps & { calls: Call[]; printed: string[] } {
    const calls: Call[] = [];
    const printed: string[] = [];
    return {
        calls,
        printed,
        root,
        env: { LAB_PASSWORD: "s3cret-from-env" },
        readFile: (p) => {
            if (p === "/keys/lab") return testKey;
            throw new Error("ENOENT");
        },
        print: (l) => printed.push(l),
        pulumi: (args, options = {}) => {
            calls.push({ args, input: options.input });
            if (args[0] === "stack" && args[1] === "init") {
                fs.writeFileSync(path.join(root, `Pulumi.${args[2]}.yaml`), "encryptionsalt: v1:c2FsdA==:v1:bm9uY2U=:Y2lwaGVy\n");
            }
            if (args[0] === "config" && args[1] === "set") {
                // As a pulumi that keeps no comments would rewrite the file.
                const file = path.join(root, `Pulumi.${args[args.indexOf("--stack") + 1]}.yaml`);
                fs.writeFileSync(file, YAML.stringify(YAML.parse(fs.readFileSync(file, "utf8"))));
            }
            const key = args.slice(0, 2).join(" ");
            return { code: 0, stdout: "", stderr: "", ...(answers[key] ?? {}) };
        },
    };
}

function tmpRoot(): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), "k8s-lab-test-"));
}

const argv = (s: string) => s.split(" ").filter(Boolean);

describe("lab command", () => {
    describe("arguments", () => {
        it("takes a new lab's hosts, user, key, layers and controller", () => {
            const { prefix, lab } = parseLabArgs(
                argv("new ann --host cp1=192.168.56.10:control-plane --host w1=192.168.56.11:worker+nfs --user ubuntu --key /keys/lab --addons calico,ingress --controller traefik"),
                {},
            );
            assert.strictEqual(prefix, "lab-");
            assert.deepStrictEqual(lab, {
                command: "new",
                name: "ann",
                hosts: [
                    { name: "cp1", address: "192.168.56.10", roles: ["control-plane"] },
                    { name: "w1", address: "192.168.56.11", roles: ["worker", "nfs"] },
                ],
                user: "ubuntu",
                keyPath: "/keys/lab",
                passwordEnv: undefined,
                addons: ["calico", "ingress"],
                controller: "traefik",
            });
        });

        it("names stacks with a prefix of the user's choosing", () => {
            assert.strictEqual(parseLabArgs(argv("list --prefix team-"), {}).prefix, "team-");
            assert.strictEqual(parseLabArgs(argv("list"), { K8S_LAB_PREFIX: "dev-" }).prefix, "dev-");
            assert.strictEqual(stackName("lab-", "ann"), "lab-ann");
            assert.throws(() => stackName("lab-", "Ann_1"), /lower-case letters, digits and '-'/);
        });

        it("refuses what it does not know, saying how to call it", () => {
            assert.throws(() => parseLabArgs(argv("deploy x"), {}), /usage: npm run lab/);
            assert.throws(() => parseLabArgs(argv("new ann --colour blue"), {}), /unknown option --colour/);
            assert.throws(() => parseLabArgs(argv("new ann --host cp1"), {}), /NAME=ADDRESS:ROLE/);
            assert.throws(() => parseLabArgs(argv("new ann --addons calico,grafana"), {}), /grafana is not a layer/);
            assert.throws(() => parseLabArgs(argv("rm"), {}), /rm needs a lab name/);
            assert.throws(() => parseLabArgs(argv("new ann --key a --password-env B"), {}), /not both/);
        });
    });

    describe("new", () => {
        const lab = (over: Partial<NewLab> = {}): NewLab => ({
            command: "new",
            name: "ann",
            hosts: [
                { name: "cp1", address: "192.168.56.10", roles: ["control-plane"] },
                { name: "w1", address: "192.168.56.11", roles: ["worker"] },
            ],
            user: "ubuntu",
            keyPath: "/keys/lab",
            addons: ["calico", "ingress", "nfs"],
            ...over,
        });

        it("makes the stack, writes its configuration and sets the key as a secret through stdin", () => {
            const root = tmpRoot();
            const deps = fakeDeps(root);
            assert.strictEqual(createLab("lab-", lab(), deps), "lab-ann");
            assert.deepStrictEqual(deps.calls[0].args, ["stack", "init", "lab-ann", "--secrets-provider", "passphrase", "--non-interactive"]);
            assert.deepStrictEqual(deps.calls[1], { args: ["config", "set", "--secret", "--path", "k8s-lab:ssh.privateKey", "--stack", "lab-ann"], input: testKey });
            const doc = YAML.parse(fs.readFileSync(path.join(root, "Pulumi.lab-ann.yaml"), "utf8"));
            assert.strictEqual(doc.encryptionsalt, "v1:c2FsdA==:v1:bm9uY2U=:Y2lwaGVy", "the salt stack init wrote stays");
            assert.deepStrictEqual(doc.config["k8s-lab:ssh"], { user: "ubuntu" });
            assert.strictEqual(doc.config["k8s-lab:hosts"].length, 2);
            assert.deepStrictEqual(doc.config["k8s-lab:addons"], { calico: {}, ingress: {}, nfs: {}, logging: false, monitoring: false, samples: false });
            assert.ok(!fs.readFileSync(path.join(root, "Pulumi.lab-ann.yaml"), "utf8").includes("TEST-ONLY"), "no key in the file");
            assert.ok(fs.readFileSync(path.join(root, "Pulumi.lab-ann.yaml"), "utf8").startsWith(`${modeline}\n`), "editors find the schema");
            assert.ok(!deps.calls.some((c) => c.args.join(" ").includes("TEST-ONLY")), "no key on a command line");
            assert.match(deps.printed.join("\n"), /next: npm run preview -- --stack lab-ann/);
        });

        it("takes a password from an environment variable, never from the command line", () => {
            const deps = fakeDeps(tmpRoot());
            createLab("lab-", lab({ keyPath: undefined, passwordEnv: "LAB_PASSWORD" }), deps);
            assert.deepStrictEqual(deps.calls[1], { args: ["config", "set", "--secret", "--path", "k8s-lab:ssh.password", "--stack", "lab-ann"], input: "s3cret-from-env" });
        });

        it("lets two labs live side by side", () => {
            const root = tmpRoot();
            const deps = fakeDeps(root);
            createLab("lab-", lab(), deps);
            createLab("lab-", lab({ name: "bo", hosts: [{ name: "cp1", address: "10.1.0.10", roles: ["control-plane"] }] }), deps);
            assert.deepStrictEqual(fs.readdirSync(root).sort(), ["Pulumi.lab-ann.yaml", "Pulumi.lab-bo.yaml"]);
        });

        it("checks the configuration as the program will, before making any stack", () => {
            const deps = fakeDeps(tmpRoot());
            assert.throws(() => createLab("lab-", lab({ hosts: [{ name: "w1", address: "10.0.0.2", roles: ["worker"] }] }), deps), /no host has the control-plane role/);
            assert.throws(() => createLab("lab-", lab({ keyPath: "/nope" }), deps), /--key \/nope: cannot read it/);
            assert.throws(() => createLab("lab-", lab({ keyPath: undefined }), deps), /give --key PATH/);
            assert.throws(() => createLab("lab-", lab({ hosts: [] }), deps), /give the lab's hosts/);
            assert.deepStrictEqual(deps.calls, [], "no stack was made");
        });

        it("refuses a lab that exists, and loses nothing", () => {
            const root = tmpRoot();
            fs.writeFileSync(path.join(root, "Pulumi.lab-ann.yaml"), "config: {}\n");
            const deps = fakeDeps(root);
            assert.throws(() => createLab("lab-", lab(), deps), /lab ann exists/);
            assert.strictEqual(fs.readFileSync(path.join(root, "Pulumi.lab-ann.yaml"), "utf8"), "config: {}\n");
        });

        it("says why when the stack cannot be made", () => {
            const deps = fakeDeps(tmpRoot(), { "stack init": { code: 255, stderr: "error: stack 'lab-ann' already exists" } });
            assert.throws(() => createLab("lab-", lab(), deps), (e: unknown) => e instanceof CliError && /already exists/.test(e.message));
        });

        it("turns the ingress controller into the ingress layer's setting", () => {
            assert.deepStrictEqual(newLabConfig(lab({ addons: ["ingress"], controller: "traefik" }))["k8s-lab:addons"], {
                calico: false,
                ingress: { controller: "traefik" },
                nfs: false,
                logging: false,
                monitoring: false,
                samples: false,
            });
        });
    });

    describe("list and rm", () => {
        it("lists the labs with hosts, last update and URLs", () => {
            const root = tmpRoot();
            fs.writeFileSync(path.join(root, "Pulumi.lab-ann.yaml"), YAML.stringify({ config: { "k8s-lab:hosts": [{ name: "cp1" }, { name: "w1" }] } }));
            const deps = fakeDeps(root, {
                "stack ls": { stdout: JSON.stringify([{ name: "lab-ann", lastUpdate: "2026-11-22T08:00:00Z", resourceCount: 61 }, { name: "dev" }]) },
                "stack output": { stdout: JSON.stringify({ grafanaUrl: "http://grafana.x.nip.io:30080", elasticPassword: "[secret]", nodes: [] }) },
            });
            const rows = listLabs("lab-", deps);
            assert.deepStrictEqual(rows, [
                { name: "ann", stack: "lab-ann", hosts: "cp1,w1", lastUpdate: "2026-11-22T08:00:00Z", resources: "61", urls: "http://grafana.x.nip.io:30080" },
            ]);
            assert.match(deps.printed[0], /^LAB\s+STACK\s+HOSTS\s+LAST UPDATE\s+RESOURCES\s+URLS$/m);
            assert.ok(!deps.calls.some((c) => c.args.includes("--show-secrets")), "list never shows secrets");
            assert.strictEqual(formatRows([]).split("\n").length, 1);
        });

        it("rm needs --yes, destroys, then removes the stack", () => {
            const deps = fakeDeps(tmpRoot());
            assert.throws(() => removeLab("lab-", "ann", false, deps), /add --yes/);
            removeLab("lab-", "ann", true, deps);
            assert.deepStrictEqual(
                deps.calls.map((c) => c.args.join(" ")),
                ["destroy --yes --stack lab-ann", "stack rm --yes --stack lab-ann"],
            );
        });

        it("keeps the stack when destroy fails, so nothing on the hosts is forgotten", () => {
            const deps = fakeDeps(tmpRoot(), { "destroy --yes": { code: 255 } });
            assert.throws(() => removeLab("lab-", "ann", true, deps), /its stack is kept/);
            assert.ok(!deps.calls.some((c) => c.args[0] === "stack" && c.args[1] === "rm"));
        });
    });
});

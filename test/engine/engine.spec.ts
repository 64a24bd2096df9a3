/**
 * Tier 4: the program under the real Pulumi engine (CLI, Node.js language host, Kubernetes
 * provider built from Go modules; the command and random stand-ins of test/engine/providers),
 * step after step on the real test hosts running real Kubernetes (test/kube/build.sh: kubeadm,
 * kubelet and the control plane built from Go modules, images through the lab's registry
 * mirror), in the manner of ProgramTest: each step asserts the engine's own account (`--json`,
 * `--expect-no-changes`) and what the hosts and the API server show. The steps build on each
 * other, so mocha bails on the first failure. Started by test/engine/run.sh.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { fingerprint, holds, hosts, keyFile, root, ssh, TestHost } from "../hosts/lab";
import { diagnoseFailures, podNetwork, readyNodes, realRawConfig, realVersion, until, upgradeFrom, versionPattern } from "../kube/real";
import { named, ok, previewSteps, Project, transcript } from "./engine";

const { cp1, worker1, worker2 } = hosts;
const STACK = "engine";
const figures: Record<string, number> = {};
/** Each test host's SSH host key: the lab insists on it (hosts[].hostKey). */
const hostKeys: Record<string, string> = {};

/**
 * The real-Kubernetes lab of tier 3 (test/kube/real.ts) on cp1 and the given workers, with
 * each host's key, and the layers off: their images (Calico's, the charts') cannot be built
 * here. Preflight is a scenario of its own (2b).
 */
function labConfig(workers: TestHost[], version: string): Record<string, unknown> {
    return {
        ...realRawConfig(version),
        hosts: [
            { name: "cp1", address: cp1.address, roles: ["control-plane"], hostKey: hostKeys.cp1 },
            ...workers.map((w) => ({ name: w.name, address: w.address, roles: ["worker"], hostKey: hostKeys[w.name] })),
        ],
        addons: { calico: false, ingress: false, nfs: false, logging: false, monitoring: false },
        preflight: false,
    };
}

const kubectl = (args: string) => root(cp1, `kubectl --kubeconfig /etc/kubernetes/admin.conf ${args}`);
const nodeNames = async () => (await kubectl("get nodes -o name")).trim().split("\n");

/**
 * How many commands the program has run on a host: sudo logs each, and the program's are its
 * scripts (`bash -s -- apply|remove`) and the kubeconfig read; the tests' own use `bash -c`.
 */
async function programCommands(h: TestHost): Promise<number> {
    const pattern = "COMMAND=/usr/bin/(bash -s -- (apply|remove)|cat /etc/kubernetes/admin.conf)$";
    return Number((await root(h, `journalctl -q --no-pager _COMM=sudo | grep -cE '${pattern}' || true`)).trim());
}

/** The admin kubeconfig's client key (its credential), for the secrets check at the end. */
let adminKey = "";

describe("the real Pulumi engine", function () {
    this.bail(true);
    const project = new Project();
    const privateKey = fs.readFileSync(keyFile, "utf8");

    /** What host preparation touches on each host before the lab, for destroy to match. */
    const baseline = new Map<string, string>();

    before(async () => {
        for (const h of [cp1, worker1, worker2]) hostKeys[h.name] = (await root(h, "cat /etc/ssh/ssh_host_ed25519_key.pub")).trim();
        assert.strictEqual(new Set(Object.values(hostKeys)).size, 3, "each test host has keys of its own");
        for (const h of [cp1, worker1, worker2]) baseline.set(h.name, await fingerprint(h, false));
    });

    afterEach(diagnoseFailures(hosts.cp1));

    after(() => {
        console.log(`      figures: ${Object.entries(figures).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(", ")}`);
        project.remove();
    });

    describe("1. the README's main job", () => {
        it("npm run preview previews the dev stack, hosts unreachable: every step and layer to create, secrets as secrets", () => {
            // cli/pulumi.ts picks its own local backend (.lab/ in the copy) when none is set.
            const env: NodeJS.ProcessEnv = { ...project.env() };
            delete env.PULUMI_BACKEND_URL;
            delete env.PULUMI_CONFIG_PASSPHRASE;
            const r = project.run("npm", ["run", "preview"], env);
            ok(r, "npm run preview");
            figures["preview of the dev stack (4 hosts, every layer)"] = r.seconds;
            const out = r.stdout + r.stderr;
            for (const name of ["lab-cp1-prep", "lab-cp1-init", "lab-worker1-join", "lab-worker2-join", "lab-provider", "calico-operator", "ingress-controller", "nfs-server", "logging-elasticsearch", "monitoring-stack"]) {
                assert.match(out, new RegExp(`\\+ \\S+: \\(create\\)\\n\\s+\\[urn=\\S+::${name}\\]`), `${name} is listed to create`);
            }
            const creates = Number(/\+ (\d+) to create/.exec(out)?.[1]);
            assert.ok(creates >= 40, `${creates} resources to create`);
            assert.doesNotMatch(out, /^error:/m);
            assert.match(out, /\[secret\]/, "secret inputs are shown as [secret]");
            assert.match(out, /preflight skipped: none of the 4 hosts answered over SSH/, "hosts not up yet: preflight says it was skipped, and the preview goes on");
            const devKey = fs.readFileSync(project.file(".lab/id_ed25519"), "utf8");
            assert.ok(!out.includes(devKey.split("\n")[1]), "the dev key never appears");
        });
    });

    describe("2. up, and up again", () => {
        it(`builds a real cluster on the test hosts, Kubernetes ${upgradeFrom}`, () => {
            project.configure(STACK, labConfig([worker1], upgradeFrom));
            ok(project.pulumi("stack", "init", STACK, "--secrets-provider", "passphrase"), "stack init");
            const r = project.pulumi("up", "--yes", "--skip-preview", "--stack", STACK);
            ok(r, "up");
            figures["first up (control plane + 1 worker)"] = r.seconds;
        });

        it("shows the cluster on the hosts and in the API server, every node Ready once the pod network is there", async () => {
            assert.deepStrictEqual(await nodeNames(), ["node/cp1", "node/worker1"]);
            assert.match(await kubectl("version -o json"), versionPattern(upgradeFrom), "the API server");
            assert.strictEqual((await root(worker1, "kubelet --version")).trim(), `Kubernetes v${upgradeFrom}`);
            assert.doesNotMatch(await kubectl("get secrets -n kube-system -o name"), /bootstrap-token-/, "no join token outlives the up");
            figures["nodes Ready after the network (2 nodes)"] = await podNetwork([cp1, worker1], kubectl);
            adminKey = (await root(cp1, "sed -n 's/^ *client-key-data: //p' /etc/kubernetes/admin.conf")).trim();
            assert.ok(adminKey.length > 100, "the admin kubeconfig holds a client key");
            const expires = project.pulumi("stack", "output", "certificatesExpire", "--stack", STACK);
            ok(expires, "stack output certificatesExpire");
            const days = (Date.parse(expires.stdout.trim()) - Date.now()) / 86_400_000;
            assert.ok(days > 364 && days <= 365, `the certificates expire a year from init: ${expires.stdout}`);
        });

        it("a second up changes nothing and runs no remote command", async () => {
            const before = await Promise.all([cp1, worker1].map(programCommands));
            assert.ok(before.every((n) => n > 0), "the count sees the first up's commands");
            const preview = project.pulumi("preview", "--json", "--expect-no-changes", "--stack", STACK);
            ok(preview, "preview --expect-no-changes");
            const r = project.pulumi("up", "--yes", "--expect-no-changes", "--stack", STACK);
            ok(r, "up --expect-no-changes");
            figures["no-op up"] = r.seconds;
            const after = await Promise.all([cp1, worker1].map(programCommands));
            assert.deepStrictEqual(after, before, "no command of the program ran on any host");
        });
    });

    describe("2b. preflight at preview", () => {
        it("passes the lab's own running hosts, read-only", async () => {
            const before = await Promise.all([cp1, worker1].map(programCommands));
            project.configure(STACK, { ...labConfig([worker1], upgradeFrom), preflight: true });
            try {
                const r = project.pulumi("preview", "--expect-no-changes", "--stack", STACK);
                ok(r, "preview with preflight");
                figures["preview with preflight (2 hosts)"] = r.seconds;
                assert.doesNotMatch(r.stdout + r.stderr, /Preflight found/);
                assert.deepStrictEqual(await Promise.all([cp1, worker1].map(programCommands)), before, "no step of the program ran");
            } finally {
                project.configure(STACK, labConfig([worker1], upgradeFrom));
            }
        });

        it("stops the preview with one line a problem: a registry mirror that does not answer", async () => {
            const before = await Promise.all([cp1, worker1].map(programCommands));
            const config = labConfig([worker1], upgradeFrom);
            const mirrors = config.mirrors as { registries: Record<string, string[]> };
            project.configure(STACK, { ...config, mirrors: { ...mirrors, registries: { ...mirrors.registries, "docker.io": ["https://mirror.k8s-lab.invalid"] } }, preflight: true });
            try {
                const r = project.pulumi("preview", "--stack", STACK);
                const out = r.stdout + r.stderr;
                assert.notStrictEqual(r.code, 0, "the preview fails");
                assert.match(out, /Preflight found \d+ problems? on the hosts; nothing was changed/);
                assert.match(out, /host cp1: .*mirror\.k8s-lab\.invalid/);
                assert.match(out, /host worker1: .*mirror\.k8s-lab\.invalid/);
                assert.doesNotMatch(out, /host \S+: .*(Kubernetes apt repository|10\.213\.0\.1:5000)/, "the apt repository and the registry.k8s.io mirror answer");
                assert.deepStrictEqual(await Promise.all([cp1, worker1].map(programCommands)), before, "no step of the program ran");
            } finally {
                project.configure(STACK, labConfig([worker1], upgradeFrom));
            }
        });
    });

    describe("2c. host keys", () => {
        it("refuses a host that presents another key, before anything runs on it", async () => {
            const before = await programCommands(cp1);
            const real = hostKeys.cp1;
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "k8s-lab-hostkey-"));
            spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "key")]);
            hostKeys.cp1 = fs.readFileSync(path.join(dir, "key.pub"), "utf8").trim();
            fs.rmSync(dir, { recursive: true });
            assert.notStrictEqual(hostKeys.cp1, real);
            try {
                project.configure(STACK, labConfig([worker1], upgradeFrom));
                const r = project.pulumi("up", "--yes", "--skip-preview", "--stack", STACK);
                assert.notStrictEqual(r.code, 0, "the up fails");
                assert.match(r.stdout + r.stderr, /host key/i);
                assert.strictEqual(await programCommands(cp1), before, "nothing ran on cp1");
            } finally {
                hostKeys.cp1 = real;
                project.configure(STACK, labConfig([worker1], upgradeFrom));
            }
            ok(project.pulumi("up", "--yes", "--skip-preview", "--stack", STACK), "up with the right key again");
        });
    });

    describe("3. day two", () => {
        it("an edit of scripts/lib.sh previews as updates only, and the up changes nothing on the hosts", () => {
            const lib = project.file("scripts/lib.sh");
            const text = fs.readFileSync(lib, "utf8");
            fs.writeFileSync(lib, `${text}\n# an edit, as a refactor would make\n`);
            const steps = previewSteps(project.pulumi("preview", "--json", "--stack", STACK));
            assert.deepStrictEqual(named(steps, "replace", "create-replacement", "delete-replaced", "create", "delete"), []);
            assert.deepStrictEqual(named(steps, "update"), ["lab-cp1-certificates", "lab-cp1-init", "lab-cp1-prep", "lab-worker1-join", "lab-worker1-prep"]);
            ok(project.pulumi("up", "--yes", "--skip-preview", "--stack", STACK), "up after the lib.sh edit");
        });

        it("a new worker joins; nothing is replaced", async () => {
            project.configure(STACK, labConfig([worker1, worker2], upgradeFrom));
            const steps = previewSteps(project.pulumi("preview", "--json", "--stack", STACK));
            assert.deepStrictEqual(named(steps, "replace", "create-replacement", "delete-replaced", "delete"), []);
            // Two components (HostPrep, WorkerNode) and their steps.
            assert.deepStrictEqual(named(steps, "create"), ["lab-worker2", "lab-worker2", "lab-worker2-join", "lab-worker2-prep"]);
            ok(project.pulumi("up", "--yes", "--skip-preview", "--stack", STACK), "up with worker2");
            assert.deepStrictEqual(await nodeNames(), ["node/cp1", "node/worker1", "node/worker2"]);
            await podNetwork([cp1, worker1, worker2], kubectl);
        });

        it(`a minor bump to ${realVersion} upgrades the control plane, then each worker in turn, in place, with the real kubeadm upgrade`, async () => {
            project.configure(STACK, labConfig([worker1, worker2], realVersion));
            const steps = previewSteps(project.pulumi("preview", "--json", "--stack", STACK));
            assert.deepStrictEqual(named(steps, "replace", "create-replacement", "delete-replaced", "create", "delete"), []);
            assert.deepStrictEqual(named(steps, "update"), ["lab-cp1-certificates", "lab-cp1-init", "lab-cp1-prep", "lab-worker1-join", "lab-worker1-prep", "lab-worker2-join", "lab-worker2-prep"]);
            const r = project.pulumi("up", "--yes", "--skip-preview", "--stack", STACK);
            ok(r, `up with ${realVersion}`);
            figures["upgrade of 3 nodes"] = r.seconds;
            const version = `v${realVersion}`;
            assert.match(await kubectl("version -o json"), versionPattern(realVersion), "the API server");
            for (const h of [cp1, worker1, worker2]) {
                assert.strictEqual((await root(h, "kubelet --version")).trim(), `Kubernetes ${version}`, h.name);
                assert.strictEqual((await root(h, "kubeadm version -o short")).trim(), version, h.name);
            }
            assert.strictEqual((await kubectl("get nodes -o jsonpath={.items[*].status.nodeInfo.kubeletVersion}")).trim(), [version, version, version].join(" "));
            assert.match(await kubectl("get daemonset -n kube-system kube-proxy -o jsonpath={.spec.template.spec.containers[0].image}"), new RegExp(`kube-proxy:${version.replace(/\./g, "\\.")}$`));
            assert.strictEqual((await kubectl("get nodes -o jsonpath={.items[*].spec.unschedulable}")).trim(), "", "every node is uncordoned");
            assert.doesNotMatch(await kubectl("get configmaps -n kube-system -o name"), /k8s-lab-upgrade-lock/, "the upgrade lock is given back");
            await until("every node Ready after the upgrade", 180, async () => (await readyNodes(kubectl)) === "cp1=True worker1=True worker2=True");
        });

        it("refuses a downgrade at preview, naming the setting", () => {
            project.configure(STACK, labConfig([worker1, worker2], upgradeFrom));
            const r = project.pulumi("preview", "--stack", STACK);
            assert.notStrictEqual(r.code, 0);
            const [now, back] = [realVersion, upgradeFrom].map((v) => v.replace(/\./g, "\\."));
            assert.match(r.stdout + r.stderr, new RegExp(`k8s-lab:kubernetes\\.version: the lab runs Kubernetes ${now} and cannot move back to ${back}`));
            project.configure(STACK, labConfig([worker1, worker2], realVersion));
        });

        it("a worker removed (drained, deleted, reset), then added back long after any token it had, joins again", async () => {
            project.configure(STACK, labConfig([worker1], realVersion));
            ok(project.pulumi("up", "--yes", "--skip-preview", "--stack", STACK), "up without worker2");
            assert.deepStrictEqual(await nodeNames(), ["node/cp1", "node/worker1"]);
            assert.ok(await holds(worker2, "! pgrep -x kubelet && ! test -e /etc/kubernetes/kubelet.conf"), "worker2 is reset");
            assert.strictEqual(await root(worker2, "crictl ps -a -q 2>/dev/null || true"), "", "no container is left on worker2");
            project.configure(STACK, labConfig([worker1, worker2], realVersion));
            ok(project.pulumi("up", "--yes", "--skip-preview", "--stack", STACK), "up with worker2 again");
            assert.deepStrictEqual(await nodeNames(), ["node/cp1", "node/worker1", "node/worker2"]);
            assert.doesNotMatch(await kubectl("get secrets -n kube-system -o name"), /bootstrap-token-/, "the join's token is deleted after it");
            await podNetwork([cp1, worker1, worker2], kubectl);
        });

        it("npm run verify checks the lab through the stack's own kubeconfig: nodes and pods, the rest skipped", async () => {
            // verify reads the pods once; the re-joined worker's kube-proxy may still be starting.
            await kubectl("wait --for=condition=Ready pod --all -n kube-system --timeout=180s");
            const r = project.run("npm", ["run", "verify", "--", "--stack", STACK]);
            ok(r, "npm run verify");
            assert.match(r.stdout, /✔ {2}every node is Ready \(3 nodes\)/);
            assert.match(r.stdout, /✔ {2}Calico's, the system's and every layer's pods are running \(\d+ pods\)/);
            assert.match(r.stdout, /- {2}NetworkPolicy: .*\(skipped: the calico layer is off\)/);
            assert.match(r.stdout, /^2 passed, 0 failed, \d+ skipped$/m);
        });
    });

    describe("4. refresh, then destroy", () => {
        it("refresh keeps the lab as it is", () => {
            ok(project.pulumi("refresh", "--yes", "--skip-preview", "--stack", STACK), "refresh");
            ok(project.pulumi("preview", "--expect-no-changes", "--stack", STACK), "preview after refresh");
        });

        it("destroy leaves an empty stack and every host as it was before the lab", async () => {
            const r = project.pulumi("destroy", "--yes", "--skip-preview", "--stack", STACK);
            ok(r, "destroy");
            figures["destroy (3 hosts)"] = r.seconds;
            const exported = JSON.parse(project.pulumi("stack", "export", "--stack", STACK).stdout);
            assert.deepStrictEqual(exported.deployment.resources ?? [], []);
            for (const h of [cp1, worker1, worker2]) {
                assert.strictEqual(await fingerprint(h, false), baseline.get(h.name), `${h.name}: the files, packages and units host preparation touches`);
                assert.ok(await holds(h, "! pgrep -x kubelet && ! pgrep -x containerd"), `${h.name}: no kubelet or containerd runs`);
                // /etc/cni held the harness's bridge network: the reset takes it with the rest.
                for (const p of ["/etc/kubernetes", "/var/lib/kubelet", "/var/lib/etcd", "/etc/cni", "/opt/cni", "/var/lib/containerd", "/var/lib/k8s-lab"]) {
                    assert.ok(await holds(h, `! test -e ${p}`), `${h.name}: ${p} is gone`);
                }
                assert.strictEqual((await ssh(h, "echo still here")).stdout, "still here\n");
            }
        });
    });

    describe("5. a lab whose hosts are gone", () => {
        it("forget, then destroy, finishes at once with an empty stack and touches nothing", async () => {
            project.configure(STACK, labConfig([], realVersion));
            const up = project.pulumi("up", "--yes", "--skip-preview", "--stack", STACK);
            ok(up, "up of a one-node lab");
            figures["up of a one-node lab on a destroyed lab's host"] = up.seconds;
            assert.strictEqual((await kubectl("get --raw=/readyz")).trim(), "ok", "a real control plane again on the same host");
            // The host goes away, as a deleted VM does.
            assert.strictEqual(spawnSync("test/hosts/machines.sh", ["kill", "cp1"]).status, 0);
            assert.notStrictEqual((await ssh(cp1, "true", "", 5)).code, 0, "cp1 is gone");
            const forget = project.run("npm", ["run", "forget", "--", "--stack", STACK, "--yes"]);
            ok(forget, "npm run forget");
            assert.match(forget.stdout, /forgot \d+ resources of stack engine; nothing on its hosts was touched/);
            const destroy = project.pulumi("destroy", "--yes", "--skip-preview", "--stack", STACK);
            ok(destroy, "destroy after forget");
            assert.ok(destroy.seconds < 60, `destroy took ${destroy.seconds} s`);
            const exported = JSON.parse(project.pulumi("stack", "export", "--stack", STACK).stdout);
            assert.deepStrictEqual(exported.deployment.resources ?? [], []);
        });
    });

    describe("6. previews at scale (the README's benchmark)", () => {
        for (const size of [3, 100]) {
            it(`previews a fresh lab of ${size} hosts`, () => {
                const stack = `bench${size}`;
                const config = labConfig([], realVersion);
                // Documentation addresses (TEST-NET): a preview never connects, and nothing is there.
                config.hosts = Array.from({ length: size }, (_, i) => ({
                    name: i === 0 ? "cp1" : `worker${i}`,
                    address: `${["192.0.2", "198.51.100"][Math.floor(i / 200)]}.${(i % 200) + 1}`,
                    roles: [i === 0 ? "control-plane" : "worker"],
                }));
                project.configure(stack, config);
                ok(project.pulumi("stack", "init", stack, "--secrets-provider", "passphrase"), `stack init ${stack}`);
                const r = project.pulumi("preview", "--stack", stack, "--json");
                ok(r, `preview of ${size} hosts`);
                figures[`preview of a fresh ${size}-host lab`] = r.seconds;
                const byType: Record<string, number> = {};
                for (const s of previewSteps(r).filter((s) => s.op === "create")) byType[s.type] = (byType[s.type] ?? 0) + 1;
                // Per host a HostPrep and its step; per worker a WorkerNode and its join; once the
                // stack, the cluster, the control plane with its init, certificates and kubeconfig read, and the
                // lab's two Kubernetes providers (the plain one and the one that adopts).
                assert.deepStrictEqual(byType, {
                    "pulumi:pulumi:Stack": 1,
                    "k8s-lab:cluster:Cluster": 1,
                    "k8s-lab:host:HostPrep": size,
                    "k8s-lab:cluster:ControlPlane": 1,
                    "k8s-lab:cluster:WorkerNode": size - 1,
                    "command:remote:Command": size + 3 + (size - 1),
                    "pulumi:providers:kubernetes": 2,
                });
            });
        }
    });

    describe("7. secrets", () => {
        it("the state, the CLI's output and the test log hold no private key, kubeconfig credential, token or password", () => {
            const haystack = [project.stateText(), ...transcript].join("\n");
            const keyBody = privateKey.split("\n").filter((l) => l && !l.startsWith("-----"));
            for (const line of keyBody) assert.ok(!haystack.includes(line), "a line of the SSH private key");
            assert.ok(adminKey && !haystack.includes(adminKey), "the admin kubeconfig's client key");
            assert.ok(!haystack.includes(adminKey.slice(0, 64)), "a piece of the admin kubeconfig's client key");
            assert.ok(!/--token [a-z0-9]{6}\.[a-z0-9]{16}/.test(haystack), "a join token");
            assert.ok(!haystack.includes(project.passphrase), "the state passphrase");
        });
    });
});

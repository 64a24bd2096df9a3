/**
 * Tier 3, real Kubernetes: the program's rendered scripts bring up a real cluster on three test
 * hosts at `upgradeFrom`, upgrade it in place to `realVersion` with the real kubeadm, and take it
 * apart again. Started by test/hosts/run.sh after the stand-in specs, with
 * cp1, worker1 and worker2 booted able to run Kubernetes (machines.sh up --kubernetes), the packages
 * test/kube/build.sh made from Go modules for both releases in the apt repository, and their images in a registry
 * on the bridge that the lab's own `mirrors.registries` points at (registry.k8s.io is out of
 * reach, so every image pulled proves the mirror path). The steps build on each other: mocha
 * bails on the first failure.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { backupLab, SnapshotDeps, spawnSsh } from "../../cli/snapshot";
import { clusterApi, labChecks } from "../../cli/verify";
import { LabConfig, validateConfig } from "../../components/lib/config";
import { asRoot } from "../../components/lib/render";
import { certificatesScript, hostPrepScript, workerScript } from "../../components/lib/scripts";
import { joinTokenTtl } from "../../components/cluster/workerNode";
import { containerdIoVersion } from "../../components/lib/versions";
import { controlPlaneStep, fingerprint, holds, hosts, root, ssh, stackStandIn, step, TestHost } from "../hosts/lab";
import { diagnoseFailures, ok, podNetwork, readyNodes as nodesReady, realRawConfig, realVersion, until, upgradeFrom, versionPattern } from "./real";

/** The lab as first built, and after its `kubernetes.version` is bumped. */
const first: LabConfig = validateConfig(realRawConfig(upgradeFrom));
const config: LabConfig = validateConfig(realRawConfig());
const { cp1, worker1, worker2 } = hosts;
const nodes = [cp1, worker1, worker2];
const workers = [worker1, worker2];
const prep = (h: TestHost, lab = config) => hostPrepScript(lab.kubernetes, lab.mirrors, h.address);
const init = controlPlaneStep(config);
const cache = process.env.K8S_LAB_KUBE_CACHE ?? "/var/cache/k8s-lab-kube";
const figures: Record<string, number> = {};

const kubectl = (args: string) => root(cp1, `kubectl --kubeconfig /etc/kubernetes/admin.conf ${args}`);

async function adminKubeconfig(): Promise<string> {
    const r = await ssh(cp1, asRoot("lab", "cat /etc/kubernetes/admin.conf"));
    ok(r, "read kubeconfig");
    return r.stdout;
}

async function workerStep(host: TestHost, action: "apply" | "remove", lab = config): Promise<void> {
    const script = workerScript({ nodeName: host.name, kubernetes: lab.kubernetes, joinTokenTtl, adminKubeconfig: await adminKubeconfig() });
    ok(await step(host, script, action), `worker ${action} on ${host.name}`);
}

/** The sandbox image of a `containerd config dump` (containerd 2's `sandbox`, 1.x's `sandbox_image`). */
const sandboxImage = (dump: string) => /\bsandbox(?:_image)? = ["']([^"']+)["']/.exec(dump)?.[1];
/** The pause image the kubeadm installed on `h` names for `version`; fails if it names none. */
async function kubeadmPause(h: TestHost, version: string): Promise<string> {
    const images = await root(h, `kubeadm config images list --kubernetes-version v${version} 2>/dev/null`);
    const pause = images.split("\n").find((line) => line.includes("/pause:"));
    assert.ok(pause, `kubeadm on ${h.name} names no pause image for ${version}:\n${images}`);
    return pause;
}

const readyNodes = () => nodesReady(kubectl);
const dnsAddress = async () => (await kubectl("get service -n kube-system kube-dns -o jsonpath={.spec.clusterIP}")).trim();

describe(`real Kubernetes ${upgradeFrom}, upgraded to ${realVersion}, on the test hosts`, function () {
    this.bail(true);
    const baseline = new Map<string, string>();

    before(async () => {
        // dig, for the DNS test, is part of the host as it was before the lab.
        await Promise.all(nodes.map((h) => root(h, "DEBIAN_FRONTEND=noninteractive apt-get install -y -q dnsutils >/dev/null 2>&1")));
        for (const h of nodes) baseline.set(h.name, await fingerprint(h, false));
    });

    afterEach(diagnoseFailures(cp1));

    after(() => {
        const line = Object.entries(figures).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(", ");
        console.log(`      figures: ${line}`);
    });

    it("prepares every host from the packages built from Go modules", async () => {
        const started = Date.now();
        const results = await Promise.all(nodes.map((h) => step(h, prep(h, first), "apply")));
        results.forEach((r, i) => ok(r, `prep ${nodes[i].name}`));
        figures["host preparation (3 hosts)"] = (Date.now() - started) / 1000;
        for (const h of nodes) {
            assert.strictEqual((await root(h, "kubelet --version")).trim(), `Kubernetes v${upgradeFrom}`);
            assert.strictEqual((await root(h, "kubeadm version -o short")).trim(), `v${upgradeFrom}`);
            const containerdIo = await root(h, "dpkg-query -W -f='${Version}' containerd.io");
            assert.ok(containerdIo.startsWith(`${containerdIoVersion}-1~debian`), `Docker's package at the lab's pin, not ${containerdIo}`);
            assert.ok((await root(h, "containerd --version")).includes(` v${containerdIoVersion} `));
            const dump = await root(h, "containerd config dump");
            assert.doesNotMatch(dump, /disabled_plugins = \[\s*["']cri["']/, "the CRI plugin that Docker's configuration turns off is on");
            assert.strictEqual(sandboxImage(dump), await kubeadmPause(h, upgradeFrom), "the pause image the real kubeadm names");
            assert.strictEqual(sandboxImage(dump), first.kubernetes.pauseImage, `the pause pin of ${first.kubernetes.minor}`);
            assert.match(dump, /restrict_oom_score_adj = true/, "a host without CAP_SYS_RESOURCE keeps containers' OOM scores at its own");
            assert.match(await root(h, "cat /etc/containerd/certs.d/registry.k8s.io/hosts.toml"), /\[host\."http:\/\/10\.213\.0\.1:5000"\]/);
        }
    });

    it("initialises a real control plane, every image pulled through the lab's registry mirror", async () => {
        const started = Date.now();
        ok(await step(cp1, controlPlaneStep(first), "apply"), "init");
        figures["kubeadm init step"] = (Date.now() - started) / 1000;
        assert.strictEqual((await kubectl("get --raw=/readyz")).trim(), "ok");
        assert.match(await kubectl("version -o json"), versionPattern(upgradeFrom), "the API server is the version built");
        const images = await root(cp1, "crictl images -o json");
        for (const name of ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy", "etcd", "pause"]) {
            assert.match(images, new RegExp(`registry\\.k8s\\.io/${name}:`), `${name} was pulled`);
        }
        const initLog = await root(cp1, "stat -c %a /var/lib/k8s-lab/kubeadm/init.log && cat /var/lib/k8s-lab/kubeadm/init.log");
        assert.match(initLog, /^600\n/);
        assert.ok(!/[a-z0-9]{6}\.[a-z0-9]{16}/.test(initLog), "no token in init.log");
        assert.doesNotMatch(await kubectl("get secrets -n kube-system -o name"), /bootstrap-token-/, "init's token is deleted");
        assert.strictEqual((await root(cp1, "cat /proc/sys/vm/overcommit_memory /proc/sys/kernel/panic")).trim(), "1\n10", "kubelet found its kernel settings as it wants them");
    });

    it("joins two workers in parallel, each with a token made for its join and deleted after it", async () => {
        const started = Date.now();
        await Promise.all(workers.map((w) => workerStep(w, "apply", first)));
        figures["two joins in parallel"] = (Date.now() - started) / 1000;
        assert.deepStrictEqual((await kubectl("get nodes -o name")).trim().split("\n"), ["node/cp1", "node/worker1", "node/worker2"]);
        assert.doesNotMatch(await kubectl("get secrets -n kube-system -o name"), /bootstrap-token-/, "no token outlives the joins");
        for (const w of workers) assert.ok(await holds(w, "! ls /run/k8s-lab-admin.* 2>/dev/null"), `no admin kubeconfig is left on ${w.name}`);
    });

    it("makes every node Ready once the pod network is there (the bridge plugin in Calico's place)", async () => {
        const started = Date.now();
        figures["nodes Ready after the network"] = await podNetwork(nodes, kubectl);
        figures["init to nodes Ready"] = (Date.now() - started) / 1000 + figures["kubeadm init step"] + figures["two joins in parallel"];
        await until("CoreDNS and kube-proxy running", 180, async () => {
            const pods = await kubectl("get pods -n kube-system -o jsonpath='{range .items[*]}{.metadata.name}={.status.phase} {end}'");
            const phases = pods.trim().split(/\s+/).map((p) => p.split("="));
            return phases.filter(([n]) => /^(coredns|kube-proxy)-/.test(n)).length === 5 && phases.every(([, phase]) => phase === "Running");
        });
        await kubectl("wait --for=condition=Ready pod -l k8s-app=kube-dns -n kube-system --timeout=180s");
    });

    it("answers cluster DNS from every host, through kube-proxy to CoreDNS on a worker", async () => {
        const dns = await dnsAddress();
        for (const h of nodes) {
            // kube-proxy programs a Service's rules a moment after its endpoints are Ready.
            figures[`DNS answers on ${h.name}`] = await until(`${h.name} resolves the API server's Service`, 60, async () =>
                (await root(h, `dig +short +time=2 +tries=1 @${dns} kubernetes.default.svc.cluster.local`)).trim() === "10.96.0.1",
            );
        }
    });

    it("passes verify's node and pod checks, through @kubernetes/client-node and the lab's kubeconfig", async () => {
        // The NetworkPolicy demo needs Calico, and the layers' checks their layers: not here.
        // verify reads the pods once; the static pods' mirrors turn Ready a moment after kubelet's
        // restart at init, which a fast run reaches first (the engine tier waits the same way).
        await kubectl("wait --for=condition=Ready pod --all -n kube-system --timeout=180s");
        const api = await clusterApi(await adminKubeconfig());
        const checks = labChecks({}, api, { timeoutMs: 60_000, intervalMs: 1000 }).slice(0, 2);
        assert.deepStrictEqual(checks.map((c) => c.name), ["every node is Ready", "Calico's, the system's and every layer's pods are running"]);
        assert.strictEqual(await checks[0].run(), "3 nodes");
        assert.match(await checks[1].run(), /^\d+ pods$/);
    });

    it(`upgrades to ${realVersion} in place with the real kubeadm: the control plane, then one worker at a time`, async () => {
        // What a bump of kubernetes.version makes `pulumi up` run: host preparation, which leaves
        // a running node's packages to its upgrade step, then the control plane, then the workers
        // (in parallel, as the program runs them: the upgrade lock takes them one at a time).
        const preps = await Promise.all(nodes.map((h) => step(h, prep(h), "apply")));
        preps.forEach((r, i) => ok(r, `prep ${nodes[i].name} for ${realVersion}`));
        for (const h of nodes) {
            assert.strictEqual((await root(h, "kubelet --version")).trim(), `Kubernetes v${upgradeFrom}`, `${h.name} keeps its kubelet until its upgrade`);
            // Before the new kubeadm is there to name it: the pin of the new minor.
            assert.strictEqual(sandboxImage(await root(h, "containerd config dump")), config.kubernetes.pauseImage, `${h.name}'s sandbox image`);
        }
        let started = Date.now();
        ok(await step(cp1, init, "apply"), "control-plane upgrade");
        figures["control-plane upgrade"] = (Date.now() - started) / 1000;
        assert.match(await kubectl("version -o json"), versionPattern(realVersion), "the API server runs the new release");
        for (const component of ["kube-apiserver", "kube-controller-manager", "kube-scheduler"]) {
            assert.match(await root(cp1, `cat /etc/kubernetes/manifests/${component}.yaml`), new RegExp(`image: registry\\.k8s\\.io/${component}:v${realVersion}\n`), component);
        }
        started = Date.now();
        await Promise.all(workers.map((w) => workerStep(w, "apply")));
        figures["two worker upgrades"] = (Date.now() - started) / 1000;
        for (const h of nodes) {
            assert.strictEqual((await root(h, "kubelet --version")).trim(), `Kubernetes v${realVersion}`, h.name);
            assert.strictEqual((await root(h, "kubeadm version -o short")).trim(), `v${realVersion}`, h.name);
            assert.strictEqual(await kubeadmPause(h, realVersion), config.kubernetes.pauseImage, `the pause pin of ${config.kubernetes.minor} is the one kubeadm ${realVersion} names`);
        }
        const kubelets = async () => (await kubectl("get nodes -o jsonpath='{range .items[*]}{.metadata.name}={.status.nodeInfo.kubeletVersion} {end}'")).trim();
        await until(`every node reports kubelet v${realVersion}`, 60, async () => (await kubelets()) === `cp1=v${realVersion} worker1=v${realVersion} worker2=v${realVersion}`);
        assert.strictEqual((await kubectl("get nodes -o jsonpath={.items[*].spec.unschedulable}")).trim(), "", "every node is uncordoned");
        assert.match(await kubectl("get daemonset -n kube-system kube-proxy -o jsonpath={.spec.template.spec.containers[0].image}"), new RegExp(`kube-proxy:v${realVersion}$`));
        assert.doesNotMatch(await kubectl("get configmaps -n kube-system -o name"), /k8s-lab-upgrade-lock/, "the upgrade lock is given back");
        await until("every node Ready", 180, async () => (await readyNodes()) === "cp1=True worker1=True worker2=True");
        await kubectl("wait --for=condition=Ready pod -l k8s-app=kube-dns -n kube-system --timeout=180s");
        const dns = await dnsAddress();
        await until("cluster DNS answers after the upgrade", 60, async () =>
            (await root(worker2, `dig +short +time=2 +tries=1 @${dns} kubernetes.default.svc.cluster.local`)).trim() === "10.96.0.1",
        );
    });

    it("reads when the real certificates expire", async () => {
        const r = await step(cp1, certificatesScript({ renewBefore: "", kubernetes: config.kubernetes, user: "lab", staticPodPause: 1 }), "apply");
        ok(r, "certificates");
        const expires = /^certificates-expire: (\S+)$/m.exec(r.stdout)?.[1] ?? "";
        const days = (Date.parse(expires) - Date.now()) / 86_400_000;
        assert.ok(days > 364 && days <= 365, `a year from init: ${expires}`);
    });

    it("saves a real etcd snapshot with the etcd container's own etcdctl (npm run lab -- backup)", async () => {
        const out = fs.mkdtempSync(path.join(os.tmpdir(), "k8s-lab-real-snapshot-"));
        try {
            const pulumi = stackStandIn(realRawConfig(), realVersion);
            const deps: SnapshotDeps = { pulumi, root: out, env: { INIT_CWD: out }, readFile: (p) => fs.readFileSync(p, "utf8"), print: () => undefined, now: () => new Date(), ssh: spawnSsh };
            const started = Date.now();
            const file = await backupLab("lab-real", "real", out, deps);
            figures["etcd snapshot save"] = (Date.now() - started) / 1000;
            const etcdutl = fs.readdirSync(cache).filter((d) => d.startsWith("etcd-v")).map((d) => path.join(cache, d, "bin", "etcdutl")).find((p) => fs.existsSync(p));
            assert.ok(etcdutl, "etcdutl built beside the images");
            const status = spawnSync(etcdutl, ["snapshot", "status", file, "-w", "json"], { encoding: "utf8" });
            assert.strictEqual(status.status, 0, status.stderr);
            assert.ok(JSON.parse(status.stdout).totalKey > 100, `a real etcd's keys: ${status.stdout}`);
        } finally {
            fs.rmSync(out, { recursive: true, force: true });
        }
    });

    it("removes a worker: drained and deleted before its host is reset, its pods moved to the other", async () => {
        await workerStep(worker1, "remove");
        assert.doesNotMatch(await kubectl("get nodes -o name"), /worker1/, "the node is gone from the cluster");
        await kubectl("wait --for=condition=Ready pod -l k8s-app=kube-dns -n kube-system --timeout=180s");
        assert.strictEqual((await root(worker2, `dig +short +time=2 +tries=5 @${await dnsAddress()} kubernetes.default.svc.cluster.local`)).trim(), "10.96.0.1", "DNS still answers");
        assert.strictEqual(await root(worker1, "crictl ps -a -q 2>/dev/null || true"), "", "no container is left");
        assert.ok(await holds(worker1, "! grep -q ' /var/lib/kubelet' /proc/mounts"), "no kubelet mount is left");
    });

    it("removes the last worker, then resets the control plane and initialises it again on the same host", async () => {
        await workerStep(worker2, "remove");
        assert.strictEqual((await kubectl("get nodes -o name")).trim(), "node/cp1");
        ok(await step(cp1, init, "remove"), "control plane remove");
        assert.ok(await holds(cp1, "! test -e /etc/kubernetes/admin.conf && ! test -e /var/lib/etcd/member"), "reset");
        const started = Date.now();
        ok(await step(cp1, init, "apply"), "init again");
        figures["re-init"] = (Date.now() - started) / 1000;
        assert.strictEqual((await kubectl("get --raw=/readyz")).trim(), "ok");
        ok(await step(cp1, init, "remove"), "control plane remove");
    });

    it("leaves every host as it was before the lab once un-prepared", async () => {
        const results = await Promise.all(nodes.map((h) => step(h, prep(h), "remove")));
        results.forEach((r, i) => ok(r, `prep remove ${nodes[i].name}`));
        for (const h of nodes) {
            assert.strictEqual(await fingerprint(h, false), baseline.get(h.name), `${h.name}: the files, packages and units host preparation touches`);
            assert.ok(await holds(h, "! pgrep -x kubelet && ! pgrep -x containerd"), `${h.name}: no kubelet or containerd runs`);
            for (const p of ["/etc/kubernetes", "/var/lib/kubelet", "/var/lib/etcd", "/etc/cni", "/opt/cni", "/var/lib/containerd", "/var/lib/k8s-lab"]) {
                assert.ok(await holds(h, `! test -e ${p}`), `${h.name}: ${p} is gone`);
            }
            assert.strictEqual((await ssh(h, "echo still here")).stdout, "still here\n", "SSH still works");
        }
    });
});

/**
 * Tier 3, real Kubernetes: a highly available control plane. Three control planes behind a
 * virtual IP that kube-vip (built from its Go module, its image served through the lab's mirror
 * of ghcr.io) keeps on one of them, and a worker, brought up and taken apart by the program's
 * rendered scripts as its steps run them: init, the certificate-key step and the control-plane
 * join of each other control plane in turn, the worker's join; then the virtual IP moving when
 * its control plane goes down, a removal refused while it would break etcd's quorum, the
 * removals one at a time, and every host as clean as before. Started by test/hosts/run.sh with
 * cp1, cp2, cp3 and worker1 booted able to run Kubernetes. The steps build on each other:
 * mocha bails on the first failure.
 */
import * as assert from "assert";
import { LabConfig, validateConfig } from "../../components/lib/config";
import { kubeadmConfig } from "../../components/lib/kubeadm";
import { clusterIdentity } from "../../components/lib/lifecycle";
import { asRoot } from "../../components/lib/render";
import { certificateKeyScript, controlPlaneMemberScript, controlPlaneScript, hostPrepScript, workerScript } from "../../components/lib/scripts";
import { joinTokenTtl } from "../../components/cluster/workerNode";
import { fingerprint, holds, root, ssh, step, TestHost } from "../hosts/lab";
import { diagnoseFailures, haHosts, haRawConfig, haVip, ok, podNetwork, until, upgradeFrom } from "./real";

const config: LabConfig = validateConfig(haRawConfig());
const { cp1, cp2, cp3, worker1 } = haHosts;
const nodes = [cp1, cp2, cp3, worker1];
const prep = (h: TestHost) => hostPrepScript(config.kubernetes, config.mirrors, h.address);
const init = controlPlaneScript({
    kubeadmConfig: kubeadmConfig({ controlPlane: config.controlPlane, kubernetes: config.kubernetes, singleNode: false, clusterName: "k8s-lab" }),
    identity: clusterIdentity({ clusterName: "k8s-lab", controlPlane: config.controlPlane, kubernetes: config.kubernetes }),
    nodeName: cp1.name,
    kubernetes: config.kubernetes,
    singleNode: false,
    user: "lab",
    nodeAddress: cp1.address,
    vip: config.vip,
});
const figures: Record<string, number> = {};

const kubectl = (args: string) => root(cp1, `kubectl --kubeconfig /etc/kubernetes/admin.conf --request-timeout=20s ${args}`);
const etcdctl = (args: string) =>
    kubectl(
        "-n kube-system exec etcd-cp1 -- etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt " +
            `--cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt --key=/etc/kubernetes/pki/etcd/healthcheck-client.key ${args}`,
    );
const etcdMembers = async () => (await etcdctl("member list")).trim().split("\n").map((line) => line.split(", ")[2]).sort();

async function adminKubeconfig(): Promise<string> {
    const r = await ssh(cp1, asRoot("lab", "cat /etc/kubernetes/admin.conf"));
    ok(r, "read kubeconfig");
    return r.stdout;
}

async function memberStep(host: TestHost, action: "apply" | "remove") {
    const script = controlPlaneMemberScript({
        nodeName: host.name,
        nodeAddress: host.address,
        kubernetes: config.kubernetes,
        joinTokenTtl,
        adminKubeconfig: await adminKubeconfig(),
        takesWorkloads: false,
        vip: config.vip!,
        user: "lab",
    });
    return step(host, script, action);
}

/** The control planes that hold the virtual IP on an interface. */
async function vipHolders(): Promise<string[]> {
    const held = await Promise.all([cp1, cp2, cp3].map((h) => holds(h, `ip -4 -o addr show | grep -qF ' ${haVip}/'`)));
    return [cp1, cp2, cp3].filter((_, i) => held[i]).map((h) => h.name);
}

/** The API server's readiness through the virtual IP, asked from the worker (anonymous /readyz). */
const readyThroughVip = async () => (await root(worker1, `curl -ksS --max-time 3 https://${haVip}:6443/readyz`)).trim() === "ok";

describe(`a highly available control plane on real Kubernetes ${upgradeFrom}`, function () {
    this.bail(true);
    const baseline = new Map<string, string>();

    before(async () => {
        for (const h of nodes) baseline.set(h.name, await fingerprint(h, false));
    });

    afterEach(diagnoseFailures(cp1));

    after(() => {
        console.log(`      figures: ${Object.entries(figures).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(", ")}`);
    });

    it("prepares the four hosts", async () => {
        const results = await Promise.all(nodes.map((h) => step(h, prep(h), "apply")));
        results.forEach((r, i) => ok(r, `prep ${nodes[i].name}`));
    });

    it("initialises the first control plane behind the virtual IP, which kube-vip serves from it", async () => {
        const started = Date.now();
        const r = await step(cp1, init, "apply");
        ok(r, "init");
        figures["init with kube-vip"] = (Date.now() - started) / 1000;
        console.log(r.stderr.split("\n").filter((l) => l.startsWith("[k8s-lab]")).map((l) => `      ${l}`).join("\n"));
        assert.doesNotMatch(r.stderr, /did not restart/, "kube-vip restarted on admin.conf");
        assert.match(await kubectl("config view -o jsonpath={.clusters[0].cluster.server}"), new RegExp(`^https://${haVip.replace(/\./g, "\\.")}:6443$`));
        assert.deepStrictEqual(await vipHolders(), ["cp1"]);
        assert.ok(await readyThroughVip(), "the API server answers on the virtual IP");
        const manifest = await root(cp1, "cat /etc/kubernetes/manifests/kube-vip.yaml");
        assert.match(manifest, /path: "?\/etc\/kubernetes\/admin\.conf"?$/m, "kube-vip moved to admin.conf once init bound its rights");
        assert.match(manifest, /value: "?host0"?$/m, "the interface that holds the host's address");
        assert.match(await root(cp1, "crictl images -o json"), /ghcr\.io\/kube-vip\/kube-vip:/, "kube-vip's image came through the mirror of ghcr.io");
    });

    it("joins the other control planes one at a time, each with a certificate key made for its join and gone after it", async () => {
        for (const h of [cp2, cp3]) {
            const started = Date.now();
            ok(await step(cp1, certificateKeyScript(h.name), "apply"), `certificate key for ${h.name}`);
            assert.match(await kubectl("-n kube-system get secrets -o name"), /secret\/kubeadm-certs/);
            const r = await memberStep(h, "apply");
            ok(r, `control-plane join of ${h.name}`);
            figures[`control-plane join of ${h.name}`] = (Date.now() - started) / 1000;
            assert.doesNotMatch(await kubectl("-n kube-system get secrets -o name"), /kubeadm-certs|k8s-lab-certificate-key|bootstrap-token-/, "no key, certificates or token outlive the join");
            assert.ok(await holds(h, "! test -e /var/lib/k8s-lab/kubeadm/join.yaml && test -f /etc/kubernetes/manifests/kube-vip.yaml"), `${h.name}: the join configuration is gone, kube-vip is there`);
            assert.doesNotMatch(r.stdout + r.stderr, /[0-9a-f]{64}/, "no certificate key in the step's output");
        }
        assert.deepStrictEqual(await etcdMembers(), ["cp1", "cp2", "cp3"]);
        const roles = await kubectl("get nodes -l node-role.kubernetes.io/control-plane -o name");
        assert.deepStrictEqual(roles.trim().split("\n"), ["node/cp1", "node/cp2", "node/cp3"]);
    });

    it("joins the worker through the virtual IP, and every node gets Ready", async () => {
        const script = workerScript({ nodeName: worker1.name, kubernetes: config.kubernetes, joinTokenTtl, adminKubeconfig: await adminKubeconfig() });
        ok(await step(worker1, script, "apply"), "worker join");
        assert.match(await root(worker1, "cat /etc/kubernetes/kubelet.conf"), new RegExp(`server: https://${haVip.replace(/\./g, "\\.")}:6443`));
        figures["nodes Ready after the network"] = await podNetwork(nodes, kubectl, 240);
    });

    it("moves the virtual IP to another control plane when its holder's API server and kube-vip go down", async () => {
        const [holder] = await vipHolders();
        const host = [cp1, cp2, cp3].find((h) => h.name === holder)!;
        await root(host, "mkdir -p /root/k8s-lab-test-aside && mv /etc/kubernetes/manifests/kube-vip.yaml /etc/kubernetes/manifests/kube-apiserver.yaml /root/k8s-lab-test-aside/");
        const started = Date.now();
        await until("another control plane holds the virtual IP and answers on it", 90, async () => {
            const now = await vipHolders();
            return now.length === 1 && now[0] !== holder && (await readyThroughVip());
        });
        figures["virtual IP failover"] = (Date.now() - started) / 1000;
        await root(host, "mv /root/k8s-lab-test-aside/* /etc/kubernetes/manifests/ && rmdir /root/k8s-lab-test-aside");
        await until(`${holder}'s API server is back`, 180, async () => (await root(host, "curl -ksS --max-time 3 https://127.0.0.1:6443/readyz")).trim() === "ok");
    });

    it("refuses to remove a control plane while etcd would lose its quorum without it, and changes nothing", async () => {
        await root(cp2, "mkdir -p /root/k8s-lab-test-aside && mv /etc/kubernetes/manifests/etcd.yaml /root/k8s-lab-test-aside/");
        try {
            // etcdctl exits non-zero when a member is unhealthy, and says which on stderr.
            await until("cp2's etcd is down", 120, async () => /10\.213\.0\.12:2379 is unhealthy/.test(await etcdctl("endpoint health --cluster").catch((e) => String(e))));
            await until("the API server answers on the virtual IP", 60, readyThroughVip);
            const r = await memberStep(cp3, "remove");
            assert.notStrictEqual(r.code, 0, "the removal is refused");
            assert.match(r.stderr, /removing cp3's etcd member would leave 1 healthy of 2 members, fewer than the 2 a quorum needs/);
            assert.deepStrictEqual(await etcdMembers(), ["cp1", "cp2", "cp3"]);
            assert.match(await kubectl("get node cp3 -o name"), /node\/cp3/, "cp3 is neither drained away nor deleted");
            assert.ok(await holds(cp3, "test -f /etc/kubernetes/admin.conf"), "cp3 is not reset");
        } finally {
            await root(cp2, "mv /root/k8s-lab-test-aside/etcd.yaml /etc/kubernetes/manifests/ && rmdir /root/k8s-lab-test-aside");
        }
        await until("etcd is healthy on all three", 180, async () => (await etcdctl("endpoint health --cluster")).match(/is healthy/g)?.length === 3);
        await kubectl("uncordon cp3");
    });

    it("removes the other control planes one at a time: etcd member removed, node deleted, host reset, the virtual IP still answering", async () => {
        for (const [h, left] of [
            [cp3, ["cp1", "cp2"]],
            [cp2, ["cp1"]],
        ] as const) {
            const started = Date.now();
            ok(await memberStep(h, "remove"), `remove ${h.name}`);
            figures[`removal of ${h.name}`] = (Date.now() - started) / 1000;
            assert.deepStrictEqual(await etcdMembers(), left);
            assert.doesNotMatch(await kubectl("get nodes -o name"), new RegExp(`node/${h.name}\\b`));
            assert.ok(await holds(h, `! test -e /etc/kubernetes/admin.conf && ! test -e /var/lib/etcd/member && ! ip -4 -o addr show | grep -qF ' ${haVip}/'`), `${h.name} is reset`);
            await until("the API server answers on the virtual IP", 60, readyThroughVip);
        }
        ok(await step(cp1, certificateKeyScript(cp2.name), "remove"), "certificate-key step remove");
        ok(await step(cp1, certificateKeyScript(cp3.name), "remove"), "certificate-key step remove");
    });

    it("takes the worker and the first control plane apart, virtual IP included, and leaves every host as it was", async () => {
        const script = workerScript({ nodeName: worker1.name, kubernetes: config.kubernetes, joinTokenTtl, adminKubeconfig: await adminKubeconfig() });
        ok(await step(worker1, script, "remove"), "worker remove");
        ok(await step(cp1, init, "remove"), "control plane remove");
        assert.deepStrictEqual(await vipHolders(), [], "no host keeps the virtual IP");
        const results = await Promise.all(nodes.map((h) => step(h, prep(h), "remove")));
        results.forEach((r, i) => ok(r, `prep remove ${nodes[i].name}`));
        for (const h of nodes) {
            assert.strictEqual(await fingerprint(h, false), baseline.get(h.name), `${h.name}: the files, packages and units host preparation touches`);
            for (const p of ["/etc/kubernetes", "/var/lib/etcd", "/var/lib/k8s-lab"]) assert.ok(await holds(h, `! test -e ${p}`), `${h.name}: ${p} is gone`);
        }
    });
});

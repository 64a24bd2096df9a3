import * as assert from "assert";
import { spawnSync } from "child_process";
import * as YAML from "yaml";
import { validateConfig } from "../components/lib/config";
import { kubeadmConfig } from "../components/lib/kubeadm";
import { kubeVipManifest } from "../components/lib/kubeVip";
import { certificateKeyScript, controlPlaneMemberScript } from "../components/lib/scripts";
import { kubeVip } from "../components/lib/versions";
import { guideLab } from "./fixtures";
import { evaluate, fakeKubeconfig, Graph, plainText } from "./harness";

const COMMAND = "command:remote:Command";

/** Three control planes behind a virtual IP and one worker. */
function haLab(workers = 1) {
    const hosts: object[] = [
        { name: "cp1", address: "192.168.56.10", roles: ["control-plane"] },
        { name: "cp2", address: "192.168.56.20", roles: ["control-plane"] },
        { name: "cp3", address: "192.168.56.30", roles: ["control-plane"] },
    ];
    for (let i = 1; i <= workers; i++) hosts.push({ name: `worker${i}`, address: `192.168.56.1${i}`, roles: ["worker"] });
    return guideLab({ hosts, controlPlane: { vip: "192.168.56.9" } });
}

function shellcheck(text: string): string {
    const r = spawnSync("shellcheck", ["-s", "bash", "-"], { input: text, encoding: "utf8" });
    return r.stdout + r.stderr;
}

describe("a highly available control plane", () => {
    describe("kube-vip's static pod", () => {
        const pod = YAML.parse(kubeVipManifest({ vip: { address: "192.168.56.9" }, apiServerPort: 6443 }));
        const container = pod.spec.containers[0];
        const env = Object.fromEntries(container.env.map((e: { name: string; value: string }) => [e.name, e.value]));

        it("serves the virtual IP by ARP for the control plane, with leader election", () => {
            assert.strictEqual(container.image, `${kubeVip.image}:${kubeVip.version}`);
            assert.deepStrictEqual(container.args, ["manager"]);
            assert.strictEqual(env.address, "192.168.56.9");
            assert.strictEqual(env.vip_arp, "true");
            assert.strictEqual(env.cp_enable, "true");
            assert.strictEqual(env.vip_leaderelection, "true");
            assert.strictEqual(env.port, "6443");
            assert.strictEqual(pod.spec.hostNetwork, true);
        });

        it("leaves the interface and the kubeconfig to the host, and reaches its own API server by the name kubernetes", () => {
            assert.strictEqual(env.vip_interface, "@VIP_INTERFACE@");
            assert.deepStrictEqual(pod.spec.volumes, [{ name: "kubeconfig", hostPath: { path: "@KUBECONFIG@", type: "File" } }]);
            assert.deepStrictEqual(pod.spec.hostAliases, [{ ip: "127.0.0.1", hostnames: ["kubernetes"] }]);
            assert.strictEqual(env.kubernetes_addr, "kubernetes:6443");
            const named = YAML.parse(kubeVipManifest({ vip: { address: "192.168.56.9", interface: "eth1" }, apiServerPort: 8443 }));
            const namedEnv = Object.fromEntries(named.spec.containers[0].env.map((e: { name: string; value: string }) => [e.name, e.value]));
            assert.strictEqual(namedEnv.vip_interface, "eth1");
            assert.strictEqual(namedEnv.port, "8443");
        });

        it("gets only the capabilities ARP needs", () => {
            assert.deepStrictEqual(container.securityContext, { capabilities: { add: ["NET_ADMIN", "NET_RAW"], drop: ["ALL"] } });
        });
    });

    describe("kubeadm's configuration", () => {
        it("makes the virtual IP the endpoint and puts it in the API server's certificate", () => {
            const c = validateConfig(haLab());
            const docs = YAML.parseAllDocuments(kubeadmConfig({ controlPlane: c.controlPlane, kubernetes: c.kubernetes, singleNode: false, clusterName: "k8s-lab" })).map((d) => d.toJS());
            const cluster = docs.find((d) => d.kind === "ClusterConfiguration");
            assert.strictEqual(cluster.controlPlaneEndpoint, "192.168.56.9:6443");
            assert.ok(cluster.apiServer.certSANs.includes("192.168.56.9"));
            assert.strictEqual(docs.find((d) => d.kind === "InitConfiguration").localAPIEndpoint.advertiseAddress, "192.168.56.10");
        });
    });

    describe("host scripts", () => {
        const c = validateConfig(haLab());
        const member = controlPlaneMemberScript({
            nodeName: "cp2",
            nodeAddress: "192.168.56.20",
            kubernetes: c.kubernetes,
            joinTokenTtl: "10m",
            adminKubeconfig: fakeKubeconfig,
            takesWorkloads: false,
            vip: { address: "192.168.56.9" },
            user: "ubuntu",
        });

        it("are shellcheck-clean as rendered", () => {
            assert.strictEqual(shellcheck(member), "");
            assert.strictEqual(shellcheck(certificateKeyScript("cp2")), "");
        });

        it("hand the certificate key over in a Secret named for the host, and give it to kubeadm in a file, never a command line", () => {
            assert.match(certificateKeyScript("cp2"), /^SECRET_NAME='k8s-lab-certificate-key-cp2'$/m);
            assert.match(member, /^CERTIFICATE_KEY_SECRET='k8s-lab-certificate-key-cp2'$/m);
            assert.match(member, /run_join "\$admin_file" "\$\(token_id "\$printed"\)" kubeadm join --config "\$config"/);
            assert.match(member, /certificateKey: "\$4"/);
            assert.doesNotMatch(member, /--certificate-key/);
        });

        it("check etcd's quorum before anything is removed", () => {
            const remove = /\nremove\(\) \{\n([^]*?)\n\}\n/.exec(member)?.[1] ?? "";
            const order = ["check_quorum", "leave_cluster", "remove_etcd_member", "node_reset", "drop_vip"].map((step) => remove.indexOf(step));
            assert.ok(order.every((i) => i >= 0), `every step is in remove():\n${remove}`);
            assert.deepStrictEqual([...order].sort((a, b) => a - b), order, "in this order");
            assert.match(member, /remove_etcd_member\(\) \{[^]*etcdctl_on "\$peer" member remove "\$member"[^]*unhealthy cluster/);
        });
    });

    describe("the graph of three control planes and a worker", () => {
        let g: Graph;
        before(async () => {
            g = await evaluate(haLab());
        });

        it("initialises the first control plane with kube-vip, and joins the others with one step each on it and on them", () => {
            assert.match(g.byName("lab-cp1-init").inputs.stdin, /^VIP='192\.168\.56\.9'$/m);
            assert.match(g.byName("lab-cp1-init").inputs.stdin, /^KUBE_VIP_MANIFEST='apiVersion: v1/m);
            for (const cp of ["cp2", "cp3"]) {
                const key = g.byName(`lab-${cp}-certificate-key`);
                assert.strictEqual(key.type, COMMAND);
                assert.strictEqual(key.inputs.connection.host, "192.168.56.10", "the key is made on the first control plane");
                assert.strictEqual(g.byName(`lab-${cp}-join`).inputs.connection.host, cp === "cp2" ? "192.168.56.20" : "192.168.56.30");
                assert.ok(g.dependsOn(`lab-${cp}-join`, `lab-${cp}-certificate-key`));
                assert.ok(g.dependsOn(`lab-${cp}-certificate-key`, "lab-cp1-init"));
                assert.ok(g.dependsOn(`lab-${cp}-join`, `lab-${cp}-prep`));
            }
        });

        it("grows etcd one member at a time, and so shrinks it one at a time on destroy", () => {
            assert.ok(g.dependsOn("lab-cp3-certificate-key", "lab-cp2-join"));
            assert.ok(!g.dependsOn("lab-cp2-join", "lab-cp3-join"));
        });

        it("joins workers beside the control planes, not after them", () => {
            assert.ok(g.dependsOn("lab-worker1-join", "lab-cp1-init"));
            assert.ok(!g.dependsOn("lab-worker1-join", "lab-cp2-join"));
        });

        it("builds the layers' provider once every control plane has joined", () => {
            for (const step of ["lab-cp1-init", "lab-cp2-join", "lab-cp3-join", "lab-worker1-join"]) assert.ok(g.dependsOn("lab-provider", step), step);
        });

        it("replaces a member's steps only for a new cluster or a new address, the reset first", () => {
            for (const name of ["lab-cp2-certificate-key", "lab-cp2-join"]) {
                const step = g.byName(name);
                assert.deepStrictEqual(step.inputs.triggers, ["lab-cp1-init-id", "host address 192.168.56.20"]);
                assert.strictEqual(step.deleteBeforeReplace, true);
            }
        });

        it("keeps the admin kubeconfig secret and never stores a certificate key", () => {
            assert.ok(g.byName("lab-cp2-join").secretInputs.includes("stdin"));
            const text = plainText(g);
            assert.doesNotMatch(text, /certificate-key [0-9a-f]{64}/);
            assert.ok(!text.includes("client-key-data"), "no kubeconfig in plaintext");
        });

        it("lists every node with its role", () => {
            assert.deepStrictEqual(
                (g.outputs.nodes as { name: string }[]).map((n) => n.name),
                ["cp1", "cp2", "cp3", "worker1"],
            );
        });

        it("taints the control planes while there are workers, and lets them take workloads without", async () => {
            assert.match(g.byName("lab-cp2-join").inputs.stdin, /^TAKES_WORKLOADS='false'$/m);
            const alone = await evaluate(haLab(0));
            assert.match(alone.byName("lab-cp2-join").inputs.stdin, /^TAKES_WORKLOADS='true'$/m);
            assert.match(alone.byName("lab-cp1-init").inputs.stdin, /^SINGLE_NODE='true'$/m);
        });
    });

    describe("one control plane", () => {
        it("has no kube-vip and no member steps, as before", async () => {
            const g = await evaluate(guideLab());
            assert.match(g.byName("lab-cp1-init").inputs.stdin, /^KUBE_VIP_MANIFEST=''$/m);
            assert.ok(!g.resources.some((r) => r.name.endsWith("-certificate-key")));
        });
    });
});

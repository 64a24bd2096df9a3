/**
 * Day two, in the manner of pulumi-eks's step tests: the program evaluated before and after a
 * change, and each host step's inputs compared the way pulumi-command compares them (a new
 * trigger replaces, any other new input updates in place). The rules are those of
 * components/lib/lifecycle.ts and the README's "Changing a lab".
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { RawConfig, validateConfig } from "../components/lib/config";
import { componentConfiguration } from "../components/lib/kubeadm";
import { certificatesNotice, compareVersions, componentConfigurationNotice, identityChangeNotice, renewBefore, stepChange, StepChange, versionMoveNotice, versionMoveProblem } from "../components/lib/lifecycle";
import { scriptsDir } from "../components/lib/render";
import { clusterOnly, guideLab, testKey } from "./fixtures";
import { evaluate, Graph } from "./harness";

const COMMAND = "command:remote:Command";

/** What the next `pulumi up` does to each host step, by name (create and delete included). */
function changes(before: Graph, after: Graph): Record<string, StepChange | "create" | "delete"> {
    const steps = (g: Graph) => new Map(g.ofType(COMMAND).map((r) => [r.name, r.inputs]));
    const [b, a] = [steps(before), steps(after)];
    const out: Record<string, StepChange | "create" | "delete"> = {};
    for (const [name, inputs] of a) out[name] = b.has(name) ? stepChange(b.get(name)!, inputs) : "create";
    for (const name of b.keys()) if (!a.has(name)) out[name] = "delete";
    return out;
}

function only(c: Record<string, string>, kind: string): string[] {
    return Object.keys(c)
        .filter((k) => c[k] === kind)
        .sort();
}

async function step(before: RawConfig, after: RawConfig): Promise<Record<string, string>> {
    return changes(await evaluate(before), await evaluate(after));
}

describe("day two: what the next pulumi up does", function () {
    this.timeout(120000);

    describe("the trigger rules", () => {
        it("replace on a new trigger, update on any other new input, nothing otherwise", () => {
            assert.strictEqual(stepChange({ triggers: ["a"], stdin: "x" }, { triggers: ["a"], stdin: "x" }), "none");
            assert.strictEqual(stepChange({ triggers: ["a"], stdin: "x" }, { triggers: ["a"], stdin: "y" }), "update");
            assert.strictEqual(stepChange({ triggers: ["a"], stdin: "x" }, { triggers: ["b"], stdin: "x" }), "replace");
            assert.strictEqual(stepChange({ stdin: "x" }, { stdin: "x", connection: { user: "u" } }), "update");
        });

        it("upgrade one minor at a time, never downgrade, and say what an upgrade does", () => {
            assert.ok(compareVersions("1.37.1", "1.36.4") > 0 && compareVersions("1.36.10", "1.36.9") > 0);
            assert.strictEqual(versionMoveProblem(undefined, "1.37.1"), undefined, "a new lab has nothing to compare");
            assert.strictEqual(versionMoveProblem("1.36.4", "1.36.4"), undefined);
            assert.strictEqual(versionMoveProblem("1.36.3", "1.36.4"), undefined, "a patch bump");
            assert.strictEqual(versionMoveProblem("1.36.4", "1.37.1"), undefined, "the next minor");
            assert.match(versionMoveProblem("1.37.1", "1.36.4") ?? "", /k8s-lab:kubernetes\.version: .*1\.37\.1 .*cannot move back to 1\.36\.4.*does not downgrade/);
            assert.match(versionMoveProblem("1.35.9", "1.37.1") ?? "", /one minor at a time.*Set it to 1\.36 and run pulumi up, then to 1\.37/);
            assert.match(versionMoveNotice("1.36.4", "1.37.1") ?? "", /upgraded in place.*kubeadm upgrade apply.*one at a time/);
            assert.strictEqual(versionMoveNotice("1.37.1", "1.37.1"), undefined);
        });

        it("say that a new kubelet or kube-proxy configuration reaches no node of a running cluster", () => {
            const lab = validateConfig(guideLab());
            const before = componentConfiguration(lab.kubernetes);
            const kubelet = componentConfiguration({ ...lab.kubernetes, kubeletConfiguration: { failCgroupV1: false } });
            const both = componentConfiguration({ ...lab.kubernetes, kubeletConfiguration: { failCgroupV1: false }, kubeProxyConfiguration: { conntrack: { maxPerCore: 0 } } });
            assert.strictEqual(componentConfigurationNotice(undefined, kubelet, false), undefined, "a new lab, or one built before this was exported");
            assert.strictEqual(componentConfigurationNotice(before, before, false), undefined);
            const reordered = { kubeProxy: before.kubeProxy, kubelet: Object.fromEntries(Object.entries(before.kubelet).reverse()) };
            assert.strictEqual(componentConfigurationNotice(reordered, before, false), undefined, "as the stack's outputs come back: keys in another order");
            assert.strictEqual(componentConfigurationNotice(before, kubelet, true), undefined, "a new cluster gets it at init");
            assert.match(
                componentConfigurationNotice(before, kubelet, false) ?? "",
                /^k8s-lab:kubernetes\.kubeletConfiguration changed on a running cluster: kubeadm applied the old configuration at init and keeps it in kube-system\/kubelet-config, .*this up changes no node.*"Changing a lab"/,
            );
            assert.match(componentConfigurationNotice(before, both, false) ?? "", /^k8s-lab:kubernetes\.kubeletConfiguration and k8s-lab:kubernetes\.kubeProxyConfiguration changed .* kube-system\/kubelet-config and kube-system\/kube-proxy/);
        });

        it("say in words when a change needs a new cluster", () => {
            const before = ["cluster name k8s-lab", "pod subnet 10.244.0.0/16"];
            assert.strictEqual(identityChangeNotice(undefined, before), undefined);
            assert.strictEqual(identityChangeNotice(before, before), undefined);
            const notice = identityChangeNotice(before, ["cluster name k8s-lab", "pod subnet 10.100.0.0/16"]) ?? "";
            assert.match(notice, /needs a new cluster \(pod subnet 10\.244\.0\.0\/16 -> pod subnet 10\.100\.0\.0\/16\).*kubeadm reset/);
        });
    });

    describe("changes that never reset the control plane", () => {
        it("an edit of scripts/lib.sh updates every host step in place", async () => {
            const before = await evaluate(guideLab());
            const lib = path.join(scriptsDir, "lib.sh");
            const text = fs.readFileSync(lib, "utf8");
            let after: Graph;
            try {
                fs.writeFileSync(lib, `${text}\n# an edit, as a refactor would make\n`);
                after = await evaluate(guideLab());
            } finally {
                fs.writeFileSync(lib, text);
            }
            const c = changes(before, after);
            assert.deepStrictEqual(only(c, "replace"), []);
            assert.deepStrictEqual(only(c, "update"), ["lab-cp1-certificates", "lab-cp1-init", "lab-cp1-prep", "lab-worker1-join", "lab-worker1-prep", "lab-worker2-join", "lab-worker2-prep"]);
            assert.deepStrictEqual(only(c, "none"), ["lab-cp1-kubeconfig"]);
        });

        it("a new SSH user updates in place (each script runs again and finds nothing to do)", async () => {
            const c = await step(guideLab(), guideLab({ ssh: { user: "debian", privateKey: testKey } }));
            assert.deepStrictEqual(only(c, "replace"), []);
            assert.ok(only(c, "update").includes("lab-cp1-init"));
        });

        it("the first worker added to a single-node lab joins, and the control plane is only tainted in place", async () => {
            const c = await step(clusterOnly(0), clusterOnly(1));
            assert.deepStrictEqual(only(c, "replace"), []);
            assert.deepStrictEqual(only(c, "create"), ["lab-worker1-join", "lab-worker1-prep"]);
            assert.deepStrictEqual(only(c, "update"), ["lab-cp1-init"], "the taint changes");
        });

        it("a worker removed takes only its own steps with it", async () => {
            const c = await step(clusterOnly(3), clusterOnly(2));
            assert.deepStrictEqual(only(c, "delete"), ["lab-worker3-join", "lab-worker3-prep"]);
            assert.deepStrictEqual([...only(c, "update"), ...only(c, "replace")], []);
        });

        it("a kubelet or kube-proxy configuration updates the control plane's step only (kubeadm's copy on the host)", async () => {
            const odd = { kubeletConfiguration: { failCgroupV1: false, evictionHard: { "nodefs.available": "1%" } }, kubeProxyConfiguration: { conntrack: { maxPerCore: 0 } } };
            const c = await step(guideLab(), guideLab({ kubernetes: odd }));
            assert.deepStrictEqual(only(c, "replace"), []);
            assert.deepStrictEqual(only(c, "update"), ["lab-cp1-init"]);
        });

        it("preflight checks to skip update the control plane and the joins in place, for their next init, join or upgrade", async () => {
            const c = await step(guideLab(), guideLab({ kubernetes: { ignorePreflightErrors: ["SystemVerification"] } }));
            assert.deepStrictEqual(only(c, "replace"), []);
            assert.deepStrictEqual(only(c, "update"), ["lab-cp1-init", "lab-worker1-join", "lab-worker2-join"]);
        });

        it("a version bump to the next minor upgrades prep, control plane and workers in place", async () => {
            const c = await step(guideLab({ kubernetes: { version: "1.36" } }), guideLab({ kubernetes: { version: "1.37" } }));
            assert.deepStrictEqual(only(c, "replace"), []);
            // The certificates are read again: kubeadm upgrade apply renews them.
            assert.deepStrictEqual(only(c, "update"), ["lab-cp1-certificates", "lab-cp1-init", "lab-cp1-prep", "lab-worker1-join", "lab-worker1-prep", "lab-worker2-join", "lab-worker2-prep"]);
        });
    });

    describe("changes that need a new cluster", () => {
        it("a new pod subnet replaces the control plane, and through its new id every join", async () => {
            const before = await evaluate(guideLab());
            const after = await evaluate(guideLab({ kubernetes: { podSubnet: "10.200.0.0/16" } }));
            const c = changes(before, after);
            assert.deepStrictEqual(only(c, "replace"), ["lab-cp1-init"]);
            // Under mocks ids never change; in the engine the new init's id is a new trigger of each join.
            for (const w of ["worker1", "worker2"]) assert.strictEqual(after.byName(`lab-${w}-join`).inputs.triggers[0], "lab-cp1-init-id");
            assert.deepStrictEqual(only(c, "update").filter((n) => n.endsWith("-prep")), [], "host preparation stays");
        });

        it("a worker at a new address is undone on the old machine and set up on the new one", async () => {
            const moved = guideLab();
            moved.hosts = (moved.hosts as { name: string; address: string }[]).map((h) => (h.name === "worker2" ? { ...h, address: "192.168.56.22" } : h));
            const c = await step(guideLab(), moved);
            assert.deepStrictEqual(only(c, "replace"), ["lab-worker2-join", "lab-worker2-prep"]);
        });
    });

    describe("the preview refuses what kubeadm cannot do", () => {
        it("a downgrade", async () => {
            await assert.rejects(evaluate(guideLab({ kubernetes: { version: "1.36" } }), { previous: { kubernetesVersion: "1.37.1" } }), /cannot move back to 1\.36\.4/);
        });

        it("a skipped minor", async () => {
            await assert.rejects(evaluate(guideLab({ kubernetes: { version: "1.37" } }), { previous: { kubernetesVersion: "1.35.9" } }), /one minor at a time/);
        });

        it("but takes the next minor, and exports what the next preview compares", async () => {
            const g = await evaluate(guideLab({ kubernetes: { version: "1.37" } }), { previous: { kubernetesVersion: "1.36.4" } });
            assert.strictEqual(g.outputs.kubernetesVersion, "1.37.1");
            assert.deepStrictEqual(g.outputs.clusterIdentity, g.byName("lab-cp1-init").inputs.triggers);
            assert.deepStrictEqual(g.outputs.componentConfiguration, componentConfiguration(validateConfig(guideLab({ kubernetes: { version: "1.37" } })).kubernetes));
        });

        it("and warns when a running lab's kubelet configuration changed, read back from the last update", async () => {
            const was = componentConfiguration(validateConfig(guideLab()).kubernetes);
            const warnings: string[] = [];
            const warn = pulumi.log.warn;
            (pulumi.log as { warn: typeof warn }).warn = async (message: string) => void warnings.push(message);
            try {
                await evaluate(guideLab(), { previous: { kubernetesVersion: "1.36.4", componentConfiguration: was } });
                assert.deepStrictEqual(warnings.filter((w) => /kubeletConfiguration/.test(w)), [], `unchanged: ${warnings.join("; ")}`);
                await evaluate(guideLab({ kubernetes: { kubeletConfiguration: { failCgroupV1: false } } }), { previous: { kubernetesVersion: "1.36.4", componentConfiguration: was } });
            } finally {
                (pulumi.log as { warn: typeof warn }).warn = warn;
            }
            assert.match(warnings.join("\n"), /k8s-lab:kubernetes\.kubeletConfiguration changed on a running cluster/);
        });
    });

    describe("certificates", () => {
        const now = new Date("2027-01-01T00:00:00Z");
        const inDays = (d: number) => new Date(now.getTime() + d * 86_400_000).toISOString();

        it("renew once an up is within the window of the expiry last read, and only once", () => {
            assert.strictEqual(renewBefore({}, 30, now), "", "a lab not built yet has nothing to renew");
            assert.strictEqual(renewBefore({ expires: inDays(200) }, 30, now), "", "outside the window");
            assert.strictEqual(renewBefore({ expires: inDays(20) }, 30, now), inDays(20), "inside: renew what expires by then");
            assert.strictEqual(renewBefore({ expires: inDays(-3) }, 30, now), inDays(-3), "already expired: renew");
            // The up after the renewal read a new expiry a year away: the instant stays, so nothing changes.
            assert.strictEqual(renewBefore({ expires: inDays(365), renewBefore: inDays(20) }, 30, now), inDays(20));
            assert.strictEqual(renewBefore({ expires: inDays(20) }, 0, now), "", "0 never renews");
        });

        it("say at preview what an up will do about them", () => {
            assert.match(certificatesNotice({ expires: inDays(20) }, 30, now) ?? "", /expire .* \(in 20 days\): this up renews them \(kubeadm certs renew all\)/);
            assert.strictEqual(certificatesNotice({ expires: inDays(20), renewBefore: inDays(20) }, 30, now), undefined, "renewed already");
            assert.strictEqual(certificatesNotice({ expires: inDays(200) }, 30, now), undefined);
            assert.match(certificatesNotice({ expires: inDays(-2) }, 0, now) ?? "", /2 days ago.*renewWithin is 0.*set it/);
        });

        it("a no-op up leaves the certificates step alone; one inside the window updates it and reads the kubeconfig again", async () => {
            const soon = new Date(Date.now() + 10 * 86_400_000).toISOString();
            const later = new Date(Date.now() + 300 * 86_400_000).toISOString();
            const built = await evaluate(guideLab(), { previous: { kubernetesVersion: "1.36.4", certificatesExpire: later, certificatesRenewBefore: "" } });
            const again = await evaluate(guideLab(), { previous: { kubernetesVersion: "1.36.4", certificatesExpire: later, certificatesRenewBefore: "" } });
            assert.deepStrictEqual(only(changes(built, again), "update"), []);
            assert.deepStrictEqual(only(changes(built, again), "replace"), []);
            assert.deepStrictEqual(built.byName("lab-cp1-kubeconfig").inputs.triggers, ["lab-cp1-init-id"], "as before renewals existed: a lab built by an older version keeps its kubeconfig step");
            const due = await evaluate(guideLab(), { previous: { kubernetesVersion: "1.36.4", certificatesExpire: soon, certificatesRenewBefore: "" } });
            const c = changes(built, due);
            assert.deepStrictEqual(only(c, "update"), ["lab-cp1-certificates"]);
            assert.deepStrictEqual(only(c, "replace"), ["lab-cp1-kubeconfig"]);
            assert.match(due.byName("lab-cp1-certificates").inputs.stdin, new RegExp(`^RENEW_BEFORE='${soon}'$`, "m"));
            assert.strictEqual(due.outputs.certificatesRenewBefore, soon, "exported, so that the next up keeps it");
        });
    });

    describe("layers", () => {
        const layers = (addons: Record<string, unknown>) => guideLab({ addons: { calico: {}, ingress: {}, nfs: {}, logging: false, monitoring: false, ...addons } });

        it("switching the ingress controller replaces its namespace and release delete-first and keeps the nginx class", async () => {
            const before = await evaluate(layers({}));
            const after = await evaluate(layers({ ingress: { controller: "traefik" } }));
            for (const g of [before, after]) {
                const release = g.byName("ingress-controller");
                assert.strictEqual(release.deleteBeforeReplace, true);
                assert.deepStrictEqual(release.replaceOnChanges, ["name", "chart"]);
                assert.strictEqual(g.byName("ingress-namespace").deleteBeforeReplace, true);
                assert.ok(g.dependsOn("ingress-nginx-class", "ingress-controller"), "the class is set after the new controller is in");
            }
            assert.strictEqual(before.byName("ingress-controller").inputs.name, "ingress-nginx");
            assert.strictEqual(after.byName("ingress-controller").inputs.name, "traefik");
            assert.strictEqual(before.byName("ingress-nginx-class").urn, after.byName("ingress-nginx-class").urn, "one class, updated in place");
        });

        it("turning monitoring off keeps its namespace and so its claims", async () => {
            const on = await evaluate(layers({ monitoring: { storageClassName: "nfs-storage" } }));
            assert.strictEqual(on.byName("monitoring-namespace").retainOnDelete, true);
            assert.strictEqual(on.byName("monitoring-stack").inputs.name, "kube-prometheus-stack");
        });

        it("gives every release a stable name", async () => {
            const g = await evaluate(guideLab({ addons: { calico: {}, ingress: {}, nfs: {}, logging: {}, monitoring: {} } }));
            const names = g.ofType("kubernetes:helm.sh/v3:Release").map((r) => r.inputs.name).sort();
            assert.deepStrictEqual(names, ["calico-crds", "csi-driver-nfs", "eck-operator", "fluent-bit", "ingress-nginx", "kube-prometheus-stack", "tigera-operator"]);
        });
    });
});

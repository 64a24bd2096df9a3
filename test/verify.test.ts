import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { Check, CheckResult, labChecks, LabOutputs, namespace, nodeSummary, podSummary, runChecklist, todaysIndex, VerifyApi } from "../cli/verify";

/** API responses in the shape the Kubernetes API, Prometheus, Elasticsearch, Kibana and Grafana return. */
function fixture(name: string): string {
    return fs.readFileSync(path.join(__dirname, "fixtures", "verify", name), "utf8");
}

const now = new Date(Date.UTC(2026, 10, 22, 9, 30));
const outputs: LabOutputs = {
    kubeconfig: "apiVersion: v1",
    ingressBaseDomain: "192.168.56.10.nip.io",
    ingressHttpPort: 30080,
    storageClassName: "nfs-storage",
    kibanaUrl: "http://kibana.192.168.56.10.nip.io:30080",
    elasticPassword: "elastic-secret",
    prometheusUrl: "http://prometheus.192.168.56.10.nip.io:30080",
    grafanaUrl: "http://grafana.192.168.56.10.nip.io:30080",
    grafanaAdminPassword: "grafana-secret",
};

/**
 * A cluster that behaves: pods run, a client reaches the web pod until a deny policy exists,
 * the claim binds and keeps what was written. `overrides` makes parts of it misbehave.
 */
class FakeApi implements VerifyApi {
    created: string[] = [];
    removed: string[] = [];
    deletedNamespaces: string[] = [];
    httpCalls: { url: string; user?: string; password?: string }[] = [];
    written = "";
    private policy = false;
    /** The verify namespace exists; a delete leaves it listed (Terminating) for `terminatingPolls` more lists. */
    private verifyNamespace = false;
    terminatingPolls = 0;

    constructor(private readonly overrides: Partial<VerifyApi> = {}) {}

    async listNodes() {
        return this.overrides.listNodes ? this.overrides.listNodes() : JSON.parse(fixture("nodes.json")).items.slice(0, 2).map(nodeSummary);
    }
    async listNamespaces() {
        const terminating = this.terminatingPolls > 0;
        if (terminating) this.terminatingPolls--;
        return ["default", "kube-system", "calico-system", "monitoring", ...(this.verifyNamespace || terminating ? [namespace] : [])];
    }
    async listPods(ns: string) {
        if (this.overrides.listPods) return this.overrides.listPods(ns);
        return [{ name: `${ns}-pod`, phase: "Running", ready: true }];
    }
    async create(o: Record<string, unknown>) {
        const meta = o.metadata as { name: string };
        this.created.push(`${o.kind}/${meta.name}`);
        if (o.kind === "Namespace") {
            if (this.verifyNamespace || this.terminatingPolls > 0) throw new Error(`namespaces "${meta.name}" already exists`);
            this.verifyNamespace = true;
        }
        if (o.kind === "NetworkPolicy") this.policy = true;
        if (meta.name === "writer") {
            const cmd = ((o.spec as { containers: { command: string[] }[] }).containers[0].command[2] ?? "").split(" ");
            this.written = cmd[1];
        }
    }
    async remove(o: Record<string, unknown>) {
        this.removed.push(`${o.kind}/${(o.metadata as { name: string }).name}`);
        if (o.kind === "NetworkPolicy") this.policy = false;
    }
    async podPhase(_ns: string, name: string) {
        if (this.overrides.podPhase) return this.overrides.podPhase(_ns, name);
        if (name === "web") return "Running";
        if (name === "client-denied") return this.policy ? "Failed" : "Succeeded";
        return "Succeeded";
    }
    async podLog() {
        return `${this.written}\n`;
    }
    async claimPhase(ns: string, name: string) {
        return this.overrides.claimPhase ? this.overrides.claimPhase(ns, name) : "Bound";
    }
    async deleteNamespace(ns: string) {
        this.deletedNamespaces.push(ns);
        this.verifyNamespace = false;
    }
    async http(url: string, options: { user?: string; password?: string } = {}) {
        this.httpCalls.push({ url, user: options.user, password: options.password });
        if (this.overrides.http) return this.overrides.http(url, options);
        if (url.startsWith("http://verify.")) return { status: 200, body: "<title>Welcome to nginx!</title>" };
        if (url.includes("/api/console/proxy")) return { status: 200, body: fixture("es-indices.json") };
        if (url.endsWith("/api/status")) return { status: 200, body: fixture("kibana-status.json") };
        if (url.includes("/api/v1/targets")) {
            const t = JSON.parse(fixture("prometheus-targets.json"));
            t.data.activeTargets = t.data.activeTargets.filter((x: { health: string }) => x.health === "up");
            return { status: 200, body: JSON.stringify(t) };
        }
        if (url.endsWith("/api/user")) return options.password === "grafana-secret" ? { status: 200, body: fixture("grafana-user.json") } : { status: 401, body: "{}" };
        return { status: 404, body: "" };
    }
}

const fast = { timeoutMs: 50, intervalMs: 1 };

async function run(api: VerifyApi, out: LabOutputs = outputs): Promise<{ results: CheckResult[]; lines: string[] }> {
    const lines: string[] = [];
    const results = await runChecklist(labChecks(out, api, fast, now), api, (l) => lines.push(l));
    return { results, lines };
}

const statusOf = (results: CheckResult[], name: RegExp) => results.find((r) => name.test(r.name));

describe("verify", () => {
    it("reads nodes and pods as the Kubernetes API returns them", () => {
        const nodes = JSON.parse(fixture("nodes.json")).items.map(nodeSummary);
        assert.deepStrictEqual(nodes, [
            { name: "cp1", ready: true },
            { name: "worker1", ready: true },
            { name: "worker2", ready: false },
        ]);
        const pods = JSON.parse(fixture("pods-calico-system.json")).items.map(podSummary);
        assert.deepStrictEqual(pods.map((p: { ready: boolean }) => p.ready), [true, true, false]);
    });

    it("passes every check on a lab that works, with a mark a check, and cleans up", async () => {
        const api = new FakeApi();
        const { results, lines } = await run(api);
        assert.deepStrictEqual(results.filter((r) => r.status !== "passed"), []);
        assert.strictEqual(results.length, 9);
        assert.ok(lines.slice(0, 9).every((l) => l.startsWith("  ✔  ")), lines.join("\n"));
        assert.strictEqual(lines[lines.length - 1], "9 passed, 0 failed, 0 skipped");
        assert.deepStrictEqual(api.deletedNamespaces, [namespace]);
        assert.ok(api.created.includes("NetworkPolicy/deny-all-ingress"));
        assert.ok(api.removed.includes("Pod/writer"), "the data is read back by a new pod");
    });

    it("runs again at once: it waits while the namespace of the run before is still terminating", async () => {
        const api = new FakeApi();
        await run(api);
        api.terminatingPolls = 5;
        const again = await run(api);
        assert.strictEqual(statusOf(again.results, /NetworkPolicy/)?.status, "passed");
        assert.strictEqual(api.terminatingPolls, 0, "it polled until the namespace was gone");
    });

    it("names today's index as Fluent Bit's Logstash format does, and counts its documents", async () => {
        assert.strictEqual(todaysIndex(now), "logs-2026.11.22");
        const api = new FakeApi();
        const r = statusOf((await run(api)).results, /today's index/);
        assert.strictEqual(r?.detail, "logs-2026.11.22: 7730 documents");
        const call = api.httpCalls.find((c) => c.url.includes("/api/console/proxy"));
        assert.deepStrictEqual({ user: call?.user, password: call?.password }, { user: "elastic", password: "elastic-secret" });
        assert.match(call?.url ?? "", /path=_cat%2Findices%2Flogs-2026\.11\.22%3Fformat%3Djson/);
    });

    it("fails on a node that is not Ready, naming it, and exits non-zero", async () => {
        const api = new FakeApi({ listNodes: async () => JSON.parse(fixture("nodes.json")).items.map(nodeSummary) });
        const { results, lines } = await run(api);
        const r = statusOf(results, /Ready/);
        assert.strictEqual(r?.status, "failed");
        assert.match(r?.detail ?? "", /not Ready: worker2/);
        assert.ok(lines.some((l) => l.startsWith("  ✘  every node is Ready: not Ready: worker2")));
        assert.match(lines[lines.length - 1], /8 passed, 1 failed/);
    });

    it("fails on pods that are not running", async () => {
        const api = new FakeApi({ listPods: async (ns) => (ns === "calico-system" ? JSON.parse(fixture("pods-calico-system.json")).items.map(podSummary) : []) });
        const r = statusOf((await run(api)).results, /pods are running/);
        assert.strictEqual(r?.status, "failed");
        assert.match(r?.detail ?? "", /calico-system\/calico-typha-5b9f7c6d8-zt4wn Pending/);
    });

    it("fails when the deny policy does not block the client", async () => {
        const api = new FakeApi({ podPhase: async (_ns, name) => (name === "web" ? "Running" : "Succeeded") });
        const r = statusOf((await run(api)).results, /NetworkPolicy/);
        assert.strictEqual(r?.status, "failed");
        assert.match(r?.detail ?? "", /did not block/);
    });

    it("fails on a Prometheus target that is down, naming the job", async () => {
        const api = new FakeApi({
            http: async (url) => (url.includes("/api/v1/targets") ? { status: 200, body: fixture("prometheus-targets.json") } : new FakeApi().http(url, {})),
        });
        const r = statusOf((await run(api)).results, /Prometheus/);
        assert.strictEqual(r?.status, "failed");
        assert.strictEqual(r?.detail, "kube-proxy: 1 of 2 down");
    });

    it("fails when Grafana refuses the password, and uses the generated one", async () => {
        const api = new FakeApi();
        await run(api, { ...outputs, grafanaAdminPassword: "wrong" });
        const call = api.httpCalls.find((c) => c.url.endsWith("/api/user"));
        assert.deepStrictEqual({ user: call?.user, password: call?.password }, { user: "admin", password: "wrong" });
        const { results } = await run(new FakeApi(), { ...outputs, grafanaAdminPassword: "wrong" });
        assert.strictEqual(statusOf(results, /Grafana/)?.status, "failed");
    });

    it("fails when today's index is missing", async () => {
        const api = new FakeApi();
        const tomorrow = new Date(Date.UTC(2026, 10, 23));
        const results = await runChecklist(labChecks(outputs, api, fast, tomorrow), api, () => undefined);
        assert.strictEqual(statusOf(results, /today's index/)?.detail, "no documents in logs-2026.11.23");
    });

    it("skips the checks of layers that are off", async () => {
        const { results, lines } = await run(new FakeApi(), { kubeconfig: "x" });
        assert.deepStrictEqual(
            results.filter((r) => r.status === "skipped").map((r) => r.detail),
            ["the ingress layer is off", "no StorageClass from the nfs layer", "the logging layer is off", "the logging layer is off", "the monitoring layer is off", "the monitoring layer is off"],
        );
        assert.match(lines[lines.length - 1], /3 passed, 0 failed, 6 skipped/);
    });

    it("skips the NetworkPolicy check of a lab without Calico, and still runs it for a stack older than the output", async () => {
        const api = new FakeApi();
        const { results } = await run(api, { kubeconfig: "x", calicoLayer: false });
        const policy = statusOf(results, /NetworkPolicy/);
        assert.deepStrictEqual([policy?.status, policy?.detail], ["skipped", "the calico layer is off"]);
        assert.ok(!api.created.some((o) => o.startsWith("NetworkPolicy/")), "no policy was made");
        assert.strictEqual(statusOf((await run(new FakeApi(), { kubeconfig: "x" })).results, /NetworkPolicy/)?.status, "passed");
        assert.strictEqual(statusOf((await run(new FakeApi(), { kubeconfig: "x", calicoLayer: true })).results, /NetworkPolicy/)?.status, "passed");
    });

    it("cleans up even when a check throws unexpectedly", async () => {
        const api = new FakeApi();
        const boom: Check = {
            name: "boom",
            run: async () => {
                throw new Error("unexpected");
            },
        };
        const results = await runChecklist([boom], api, () => undefined);
        assert.strictEqual(results[0].status, "failed");
        assert.deepStrictEqual(api.deletedNamespaces, [namespace]);
    });

    it("gives up on a claim that never binds, within its time limit", async () => {
        const api = new FakeApi({ claimPhase: async () => "Pending" });
        const r = statusOf((await run(api)).results, /NFS/);
        assert.strictEqual(r?.status, "failed");
        assert.match(r?.detail ?? "", /the claim is Pending/);
    });
});

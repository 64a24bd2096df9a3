/**
 * `npm run verify [-- --stack NAME]` (or `npm run lab -- verify <name>`): checks a lab the way the
 * guide checks each step, and prints a checklist. It reads the stack's kubeconfig and URLs,
 * talks to the cluster with @kubernetes/client-node and to the UIs over HTTP, cleans up what
 * it created (the namespace k8s-lab-verify), and exits non-zero if any check failed.
 *
 * The checks are plain functions of a `VerifyApi`, so the tests run them against recorded API
 * responses.
 */
import { sampleImages } from "../components/lib/versions";
import { CliError, PulumiRunner, pulumiRunner } from "./pulumi";

/** What the checks need from the cluster and the UIs. */
export interface VerifyApi {
    listNodes(): Promise<{ name: string; ready: boolean }[]>;
    listNamespaces(): Promise<string[]>;
    listPods(namespace: string): Promise<{ name: string; phase: string; ready: boolean }[]>;
    create(object: Record<string, unknown>): Promise<void>;
    remove(object: Record<string, unknown>): Promise<void>;
    podPhase(namespace: string, name: string): Promise<string>;
    podLog(namespace: string, name: string): Promise<string>;
    claimPhase(namespace: string, name: string): Promise<string>;
    deleteNamespace(namespace: string): Promise<void>;
    http(url: string, options?: { user?: string; password?: string; method?: string; headers?: Record<string, string> }): Promise<{ status: number; body: string }>;
}

/** The stack outputs the checks read (see index.ts). */
export interface LabOutputs {
    kubeconfig?: string;
    /** False when the lab's Calico layer is off; absent in a stack made before the output. */
    calicoLayer?: boolean;
    ingressBaseDomain?: string;
    ingressHttpPort?: number;
    storageClassName?: string;
    kibanaUrl?: string;
    elasticPassword?: string;
    prometheusUrl?: string;
    grafanaUrl?: string;
    grafanaAdminPassword?: string;
}

export interface Check {
    name: string;
    /** Why the check does not apply to this lab (a layer is off), if it does not. */
    skip?: string;
    /** Resolves with a detail for the checklist, or throws with the reason it failed. */
    run(): Promise<string>;
}

export interface CheckResult {
    name: string;
    status: "passed" | "failed" | "skipped";
    detail: string;
}

export interface Timing {
    timeoutMs: number;
    intervalMs: number;
}

export const namespace = "k8s-lab-verify";

/** Namespaces whose pods must all run: the system's and each layer's. */
export const watchedNamespaces = ["kube-system", "tigera-operator", "calico-system", "ingress-nginx", "traefik", "csi-nfs", "elastic-system", "logging", "monitoring", "samples"];

/** Prometheus jobs that must have targets, all up. */
export const requiredJobs = ["apiserver", "node-exporter", "kube-state-metrics", "kube-controller-manager", "kube-scheduler", "kube-etcd", "kube-proxy"];

async function waitFor<T>(what: string, timing: Timing, probe: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + timing.timeoutMs;
    let last: unknown;
    for (;;) {
        try {
            const v = await probe();
            if (v !== undefined) return v;
        } catch (e) {
            last = e;
        }
        if (Date.now() >= deadline) throw new Error(`${what} within ${Math.round(timing.timeoutMs / 1000)} s${last ? ` (${(last as Error).message})` : ""}`);
        await new Promise((r) => setTimeout(r, timing.intervalMs));
    }
}

function pod(name: string, image: string, command: string[], extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, namespace, labels: { app: name } },
        spec: { restartPolicy: "Never", containers: [{ name, image, command, ...extra }] },
    };
}

async function finished(api: VerifyApi, name: string, timing: Timing): Promise<string> {
    return waitFor(`pod ${name} finished`, timing, async () => {
        const phase = await api.podPhase(namespace, name);
        return phase === "Succeeded" || phase === "Failed" ? phase : undefined;
    });
}

/** Today's Fluent Bit index, as Logstash_Format names it. */
export function todaysIndex(now: Date): string {
    const p = (n: number) => String(n).padStart(2, "0");
    return `logs-${now.getUTCFullYear()}.${p(now.getUTCMonth() + 1)}.${p(now.getUTCDate())}`;
}

export function labChecks(out: LabOutputs, api: VerifyApi, timing: Timing, now: Date = new Date()): Check[] {
    const web = { app: "web" };
    const ingressUrl = out.ingressBaseDomain ? `http://verify.${out.ingressBaseDomain}:${out.ingressHttpPort}/` : undefined;
    return [
        {
            name: "every node is Ready",
            async run() {
                const nodes = await api.listNodes();
                const notReady = nodes.filter((n) => !n.ready).map((n) => n.name);
                if (nodes.length === 0) throw new Error("no nodes");
                if (notReady.length) throw new Error(`not Ready: ${notReady.join(", ")}`);
                return `${nodes.length} nodes`;
            },
        },
        {
            name: "Calico's, the system's and every layer's pods are running",
            async run() {
                const present = new Set(await api.listNamespaces());
                const bad: string[] = [];
                let count = 0;
                for (const ns of watchedNamespaces.filter((n) => present.has(n))) {
                    for (const p of await api.listPods(ns)) {
                        count++;
                        if (!(p.phase === "Succeeded" || (p.phase === "Running" && p.ready))) bad.push(`${ns}/${p.name} ${p.phase}`);
                    }
                }
                if (bad.length) throw new Error(`not running: ${bad.join(", ")}`);
                return `${count} pods`;
            },
        },
        {
            name: "NetworkPolicy: the client reaches the web pod, then a deny policy blocks it",
            // Without Calico the pod network is the user's own, which need not enforce policies.
            skip: out.calicoLayer === false ? "the calico layer is off" : undefined,
            async run() {
                // A run just before deleted it; a namespace takes a while to go (Terminating).
                await waitFor(`namespace ${namespace} of an earlier run to be gone`, timing, async () => ((await api.listNamespaces()).includes(namespace) ? undefined : true));
                await api.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
                await api.create({ ...pod("web", sampleImages.web, ["nginx", "-g", "daemon off;"]), metadata: { name: "web", namespace, labels: web } });
                await api.create({ apiVersion: "v1", kind: "Service", metadata: { name: "web", namespace }, spec: { selector: web, ports: [{ port: 80 }] } });
                await waitFor("web pod running", timing, async () => ((await api.podPhase(namespace, "web")) === "Running" ? true : undefined));
                const wget = ["wget", "-q", "-O", "-", "-T", "5", "http://web"];
                await api.create(pod("client-open", sampleImages.seed, wget));
                if ((await finished(api, "client-open", timing)) !== "Succeeded") throw new Error("the client could not reach the web pod without a policy");
                await api.create({
                    apiVersion: "networking.k8s.io/v1",
                    kind: "NetworkPolicy",
                    metadata: { name: "deny-all-ingress", namespace },
                    spec: { podSelector: {}, policyTypes: ["Ingress"] },
                });
                await api.create(pod("client-denied", sampleImages.seed, wget));
                if ((await finished(api, "client-denied", timing)) !== "Failed") throw new Error("the deny policy did not block the client");
                await api.remove({ apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name: "deny-all-ingress", namespace } });
                return "reachable, then blocked";
            },
        },
        {
            name: "the ingress serves a test host",
            skip: ingressUrl ? undefined : "the ingress layer is off",
            async run() {
                await api.create({
                    apiVersion: "networking.k8s.io/v1",
                    kind: "Ingress",
                    metadata: { name: "web", namespace },
                    spec: { rules: [{ host: `verify.${out.ingressBaseDomain}`, http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "web", port: { number: 80 } } } }] } }] },
                });
                await waitFor(`${ingressUrl} answering`, timing, async () => {
                    const r = await api.http(ingressUrl as string);
                    return r.status === 200 && /nginx/i.test(r.body) ? true : undefined;
                });
                return ingressUrl as string;
            },
        },
        {
            name: "an NFS-backed claim is Bound and its data survives a pod restart",
            skip: out.storageClassName ? undefined : "no StorageClass from the nfs layer",
            async run() {
                const token = `k8s-lab-${now.getTime()}`;
                await api.create({
                    apiVersion: "v1",
                    kind: "PersistentVolumeClaim",
                    metadata: { name: "data", namespace },
                    spec: { accessModes: ["ReadWriteMany"], storageClassName: out.storageClassName, resources: { requests: { storage: "10Mi" } } },
                });
                const mount = { volumeMounts: [{ name: "data", mountPath: "/data" }] };
                const withClaim = (p: Record<string, unknown>) => {
                    (p.spec as Record<string, unknown>).volumes = [{ name: "data", persistentVolumeClaim: { claimName: "data" } }];
                    return p;
                };
                await api.create(withClaim(pod("writer", sampleImages.seed, ["sh", "-c", `echo ${token} > /data/probe`], mount)));
                if ((await finished(api, "writer", timing)) !== "Succeeded") throw new Error("the writer pod failed");
                const phase = await api.claimPhase(namespace, "data");
                if (phase !== "Bound") throw new Error(`the claim is ${phase}`);
                await api.remove({ apiVersion: "v1", kind: "Pod", metadata: { name: "writer", namespace } });
                await api.create(withClaim(pod("reader", sampleImages.seed, ["cat", "/data/probe"], mount)));
                if ((await finished(api, "reader", timing)) !== "Succeeded") throw new Error("the reader pod failed");
                const read = (await api.podLog(namespace, "reader")).trim();
                if (read !== token) throw new Error(`read back ${JSON.stringify(read)}, wrote ${token}`);
                return "Bound, data kept";
            },
        },
        {
            name: "Elasticsearch has today's index, written by Fluent Bit",
            skip: out.kibanaUrl && out.elasticPassword ? undefined : "the logging layer is off",
            async run() {
                const index = todaysIndex(now);
                const r = await api.http(`${out.kibanaUrl}/api/console/proxy?path=${encodeURIComponent(`_cat/indices/${index}?format=json`)}&method=GET`, {
                    method: "POST",
                    user: "elastic",
                    password: out.elasticPassword,
                    headers: { "kbn-xsrf": "k8s-lab" },
                });
                if (r.status !== 200) throw new Error(`Elasticsearch answered ${r.status}`);
                const rows = JSON.parse(r.body) as { index: string; "docs.count": string }[];
                const row = rows.find((x) => x.index === index);
                if (!row || Number(row["docs.count"]) === 0) throw new Error(`no documents in ${index}`);
                return `${index}: ${row["docs.count"]} documents`;
            },
        },
        {
            name: "Kibana answers",
            skip: out.kibanaUrl && out.elasticPassword ? undefined : "the logging layer is off",
            async run() {
                const r = await api.http(`${out.kibanaUrl}/api/status`, { user: "elastic", password: out.elasticPassword });
                const level = r.status === 200 ? JSON.parse(r.body)?.status?.overall?.level : undefined;
                if (level !== "available") throw new Error(`status ${r.status}, ${level ?? "no level"}`);
                return String(out.kibanaUrl);
            },
        },
        {
            name: "Prometheus targets are up: node-exporter, kube-state-metrics, control plane",
            skip: out.prometheusUrl ? undefined : "the monitoring layer is off",
            async run() {
                const r = await api.http(`${out.prometheusUrl}/api/v1/targets?state=active`);
                if (r.status !== 200) throw new Error(`Prometheus answered ${r.status}`);
                const targets = JSON.parse(r.body).data.activeTargets as { labels: { job: string }; health: string }[];
                const problems = requiredJobs.flatMap((job) => {
                    const mine = targets.filter((t) => t.labels.job === job);
                    if (mine.length === 0) return [`${job}: no targets`];
                    const down = mine.filter((t) => t.health !== "up").length;
                    return down ? [`${job}: ${down} of ${mine.length} down`] : [];
                });
                if (problems.length) throw new Error(problems.join("; "));
                return `${requiredJobs.length} jobs up`;
            },
        },
        {
            name: "Grafana accepts the generated admin password",
            skip: out.grafanaUrl && out.grafanaAdminPassword ? undefined : "the monitoring layer is off",
            async run() {
                const r = await api.http(`${out.grafanaUrl}/api/user`, { user: "admin", password: out.grafanaAdminPassword });
                if (r.status !== 200 || JSON.parse(r.body).login !== "admin") throw new Error(`Grafana answered ${r.status}`);
                return String(out.grafanaUrl);
            },
        },
    ];
}

/** Runs the checks in order, prints a mark a check, and always removes what they created. */
export async function runChecklist(checks: Check[], api: VerifyApi, print: (line: string) => void): Promise<CheckResult[]> {
    const results: CheckResult[] = [];
    try {
        for (const c of checks) {
            if (c.skip) {
                results.push({ name: c.name, status: "skipped", detail: c.skip });
                print(`  -  ${c.name} (skipped: ${c.skip})`);
                continue;
            }
            try {
                const detail = await c.run();
                results.push({ name: c.name, status: "passed", detail });
                print(`  ✔  ${c.name} (${detail})`);
            } catch (e) {
                results.push({ name: c.name, status: "failed", detail: (e as Error).message });
                print(`  ✘  ${c.name}: ${(e as Error).message}`);
            }
        }
    } finally {
        await api.deleteNamespace(namespace).catch(() => undefined);
    }
    const failed = results.filter((r) => r.status === "failed").length;
    print(`${results.filter((r) => r.status === "passed").length} passed, ${failed} failed, ${results.filter((r) => r.status === "skipped").length} skipped`);
    return results;
}

interface NodeLike {
    metadata?: { name?: string };
    status?: { conditions?: { type: string; status: string }[] };
}
interface PodLike {
    metadata?: { name?: string };
    status?: { phase?: string; containerStatuses?: { ready: boolean }[] };
}

/** A node as the checks see it: Ready when its Ready condition is True. */
export function nodeSummary(n: NodeLike): { name: string; ready: boolean } {
    return { name: n.metadata?.name ?? "?", ready: (n.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True") };
}

/** A pod as the checks see it: its phase, and whether every container is ready. */
export function podSummary(p: PodLike): { name: string; phase: string; ready: boolean } {
    return { name: p.metadata?.name ?? "?", phase: p.status?.phase ?? "Unknown", ready: (p.status?.containerStatuses ?? []).every((c) => c.ready) };
}

/** The real API: @kubernetes/client-node for the cluster, fetch for the UIs. */
export async function clusterApi(kubeconfig: string): Promise<VerifyApi> {
    const k8s = await import("@kubernetes/client-node");
    const kc = new k8s.KubeConfig();
    kc.loadFromString(kubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    return {
        async listNodes() {
            return (await core.listNode()).items.map(nodeSummary);
        },
        async listNamespaces() {
            return (await core.listNamespace()).items.map((n) => n.metadata?.name ?? "");
        },
        async listPods(ns) {
            return (await core.listNamespacedPod({ namespace: ns })).items.map(podSummary);
        },
        async create(object) {
            await objects.create(object as never);
        },
        async remove(object) {
            await objects.delete(object as never);
        },
        async podPhase(ns, name) {
            return (await core.readNamespacedPod({ name, namespace: ns })).status?.phase ?? "Unknown";
        },
        async podLog(ns, name) {
            return core.readNamespacedPodLog({ name, namespace: ns });
        },
        async claimPhase(ns, name) {
            return (await core.readNamespacedPersistentVolumeClaim({ name, namespace: ns })).status?.phase ?? "Unknown";
        },
        async deleteNamespace(ns) {
            await core.deleteNamespace({ name: ns });
        },
        async http(url, options = {}) {
            const headers: Record<string, string> = { ...(options.headers ?? {}) };
            if (options.user) headers.authorization = `Basic ${Buffer.from(`${options.user}:${options.password ?? ""}`).toString("base64")}`;
            const r = await fetch(url, { method: options.method ?? "GET", headers, signal: AbortSignal.timeout(10000) });
            return { status: r.status, body: await r.text() };
        },
    };
}

/** Verifies the lab of a stack; returns the exit code. */
export async function verifyStack(stack: string, pulumi: PulumiRunner, print: (l: string) => void = (l) => console.log(l)): Promise<number> {
    // --show-secrets: the checks need the kubeconfig and passwords; they are never printed.
    const out = pulumi(["stack", "output", "--json", "--show-secrets", "--stack", stack]);
    if (out.code !== 0) throw new CliError(`cannot read the outputs of ${stack}:\n${out.stderr.trim()}`);
    const outputs = JSON.parse(out.stdout || "{}") as LabOutputs;
    if (!outputs.kubeconfig) throw new CliError(`${stack} has no kubeconfig output: run npm run up -- --stack ${stack} first`);
    const api = await clusterApi(outputs.kubeconfig);
    print(`verifying ${stack}`);
    const results = await runChecklist(labChecks(outputs, api, { timeoutMs: 180_000, intervalMs: 3000 }), api, print);
    return results.some((r) => r.status === "failed") ? 1 : 0;
}

if (require.main === module) {
    const i = process.argv.indexOf("--stack");
    const stack = i >= 0 ? process.argv[i + 1] : (process.env.K8S_LAB_STACK ?? "dev");
    verifyStack(stack, pulumiRunner())
        .then((code) => (process.exitCode = code))
        .catch((e) => {
            console.error(`k8s-lab: ${e instanceof Error ? e.message : String(e)}`);
            process.exitCode = 2;
        });
}

/**
 * Helpers for real Kubernetes on the test hosts (test/kube/cluster.spec.ts): the version built
 * from Go modules, the lab configuration a user of such hosts writes, and the pod network the
 * harness lays in Calico's place.
 */
import * as assert from "assert";
import { RawConfig } from "../../components/lib/config";
import { defaultKubernetesMinor, kubernetesReleases } from "../../components/lib/versions";
import { hosts, keyFile, repoUrl, root, TestHost } from "../hosts/lab";

/**
 * The Kubernetes release the tiers upgrade the lab to: the lab's own default, the pin of
 * `defaultKubernetesMinor` (components/lib/versions.ts), which the Go module proxy serves.
 * test/hosts/run.sh and test/engine/run.sh read it from here.
 */
export const realVersion = kubernetesReleases[defaultKubernetesMinor];

/**
 * The release test/kube/cluster.spec.ts and the engine tier start at, so that the lab upgrades
 * it across a minor to `realVersion` with the real `kubeadm upgrade`: the newest 1.35 patch the
 * proxy serves (the lab's 1.35 pin, 1.35.9, is not served). The HA spec runs it too: its
 * containerd is Debian's 1.6, and Kubernetes 1.36 needs containerd 2.
 */
export const upgradeFrom = "1.35.8";

/** The registry on the bridge that serves the images test/kube/build.sh made (testbed.sh). */
export const registryMirror = "http://10.213.0.1:5000";

/** Docker's apt repository as testbed.sh lays it out on the bridge, with containerd.io built from Go modules. */
export const containerdAptMirror = "http://10.213.0.1:8080/docker";

/**
 * A control plane and two workers, as a user of hosts like these (containers on a cgroup v1
 * kernel, where the kernel's conntrack table size cannot be set) configures the lab. Its containerd
 * is the lab's default, Docker's containerd.io (testbed.sh's `--containerd` serves it), or Debian's.
 */
export function realRawConfig(version = realVersion, containerd: "docker" | "distro" = "docker"): RawConfig {
    return {
        hosts: [
            { name: "cp1", address: hosts.cp1.address, roles: ["control-plane"] },
            { name: "worker1", address: hosts.worker1.address, roles: ["worker"] },
            { name: "worker2", address: hosts.worker2.address, roles: ["worker"] },
        ],
        ssh: { user: "lab", privateKeyPath: keyFile },
        kubernetes: {
            version,
            containerd,
            // kubelet 1.35 refuses cgroup v1 unless told, and kubeadm's check of it is fatal.
            kubeletConfiguration: {
                failCgroupV1: false,
                // The test hosts share this machine's disk: kind's thresholds, not kubelet's 10-15 %.
                evictionHard: { "memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%" },
            },
            kubeProxyConfiguration: { conntrack: { maxPerCore: 0 } },
            ignorePreflightErrors: ["SystemVerification"],
        },
        mirrors: {
            kubernetesApt: repoUrl,
            ...(containerd === "docker" ? { containerdApt: containerdAptMirror } : {}),
            registries: { "registry.k8s.io": [registryMirror] },
        },
    };
}

/**
 * Three control planes behind a virtual IP and a worker: test/hosts/run.sh boots them in this
 * order, which gives them these addresses.
 */
export const haHosts = {
    cp1: { name: "cp1", address: "10.213.0.11" },
    cp2: { name: "cp2", address: "10.213.0.12" },
    cp3: { name: "cp3", address: "10.213.0.13" },
    worker1: { name: "worker1", address: "10.213.0.14" },
};

/** A free address on the test network, for kube-vip. */
export const haVip = "10.213.0.100";

/**
 * The highly available lab on those hosts: kube-vip's image comes through the mirror of ghcr.io,
 * and containerd is Debian's, so that the tiers run both of the lab's containerd sources.
 */
export function haRawConfig(): RawConfig {
    const raw = realRawConfig(upgradeFrom, "distro");
    return {
        ...raw,
        hosts: [
            ...[haHosts.cp1, haHosts.cp2, haHosts.cp3].map((h) => ({ ...h, roles: ["control-plane"] })),
            { ...haHosts.worker1, roles: ["worker"] },
        ],
        controlPlane: { vip: haVip },
        mirrors: { kubernetesApt: repoUrl, registries: { "registry.k8s.io": [registryMirror], "ghcr.io": [registryMirror] } },
    };
}

/**
 * The pod network in Calico's place (its images cannot be built here): the bridge plugin on
 * each node with host-local addresses from the node's podCIDR, and a route on every node to
 * each other node's podCIDR over the test network. Written only once the node has its podCIDR:
 * a configuration written before would give every sandbox a wrong range.
 */
export async function bridgeNetwork(nodes: TestHost[], kubectl: (args: string) => Promise<string>): Promise<void> {
    const cidrs = new Map<string, string>();
    for (const node of nodes) {
        const cidr = (await kubectl(`get node ${node.name} -o jsonpath={.spec.podCIDR}`)).trim();
        if (!/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(cidr)) throw new Error(`${node.name} has no podCIDR yet (${JSON.stringify(cidr)})`);
        cidrs.set(node.name, cidr);
    }
    await Promise.all(
        nodes.map((node) => {
            const conflist = JSON.stringify({
                cniVersion: "1.0.0",
                name: "k8s-lab-test-bridge",
                plugins: [
                    { type: "bridge", bridge: "cni0", isGateway: true, ipMasq: true, ipam: { type: "host-local", ranges: [[{ subnet: cidrs.get(node.name) }]], routes: [{ dst: "0.0.0.0/0" }] } },
                    { type: "portmap", capabilities: { portMappings: true } },
                ],
            });
            const routes = nodes
                .filter((other) => other !== node)
                .map((other) => `ip route replace ${cidrs.get(other.name)} via ${other.address}`)
                .join(" && ");
            return root(node, `mkdir -p /etc/cni/net.d && printf '%s\\n' '${conflist}' >/etc/cni/net.d/10-k8s-lab-test-bridge.conflist${routes ? ` && ${routes}` : ""}`);
        }),
    );
}

/**
 * Lays the bridge network once every one of `nodes` has its podCIDR, then waits up to
 * `readySeconds` for all of them to be Ready; returns how long that last wait took.
 */
export async function podNetwork(nodes: TestHost[], kubectl: (args: string) => Promise<string>, readySeconds = 180): Promise<number> {
    await until("every node has a podCIDR", 120, async () => (await kubectl("get nodes -o jsonpath={.items[*].spec.podCIDR}")).trim().split(/\s+/).length === nodes.length);
    await bridgeNetwork(nodes, kubectl);
    const want = nodes.map((n) => `${n.name}=True`).join(" ");
    return until("every node Ready", readySeconds, async () => (await readyNodes(kubectl)) === want);
}

/** `kubectl version -o json`'s line for a server at `version` (1.35.8, no v). */
export const versionPattern = (version: string) => new RegExp(`"gitVersion": "v${version.replace(/\./g, "\\.")}"`);

/** Fails with the command's output unless it exited 0. */
export function ok(r: { code: number; stdout: string; stderr: string }, what: string): void {
    assert.strictEqual(r.code, 0, `${what} exited ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
}

/** Polls `check` every second until it holds, up to `seconds`; returns how long it took. */
export async function until(what: string, seconds: number, check: () => Promise<boolean>): Promise<number> {
    const started = Date.now();
    while (Date.now() - started < seconds * 1000) {
        if (await check().catch(() => false)) return (Date.now() - started) / 1000;
        await new Promise((r) => setTimeout(r, 1000));
    }
    throw new Error(`${what}: not within ${seconds} s`);
}

/** Nodes and their Ready condition, as `name=True name=False`. */
export async function readyNodes(kubectl: (args: string) => Promise<string>): Promise<string> {
    return (await kubectl(`get nodes -o jsonpath='{range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status} {end}'`)).trim();
}

/**
 * What a control plane's node was doing, for a failed step: the control plane's containers with
 * their restart counts, the last lines of etcd's and the API server's logs, and kubelet's recent
 * complaints. Best effort: a host that cannot be reached says so and the failure stands.
 */
export async function controlPlaneDiagnostics(host: TestHost): Promise<string> {
    const sections: [string, string][] = [
        ["load", "cat /proc/loadavg"],
        ["containers", "crictl ps -a 2>&1 | head -40"],
        ...["etcd", "kube-apiserver"].map((name): [string, string] => [
            `${name} log`,
            `id=$(crictl ps -a --name '^${name}$' -q 2>/dev/null | head -1); if [ -n "$id" ]; then crictl logs --tail 25 "$id" 2>&1 | cut -c1-300; else echo "no ${name} container"; fi`,
        ]),
        ["kubelet", "journalctl -q --no-pager -u kubelet --since -15min 2>&1 | grep -E ' [EW][0-9]{4} ' | tail -30 | cut -c1-300"],
    ];
    const out: string[] = [`--- diagnostics of ${host.name}`];
    for (const [title, command] of sections) {
        const text = await root(host, command).catch((e: Error) => `(unavailable: ${e.message.split("\n")[0]})`);
        out.push(`--- ${title}`, text.trimEnd());
    }
    return out.join("\n");
}

/**
 * A mocha afterEach hook that prints `controlPlaneDiagnostics` of `host` after a failed test, to
 * stderr, so that a CI log of a slow or failed control plane says why.
 */
export function diagnoseFailures(host: TestHost): (this: Mocha.Context) => Promise<void> {
    return async function (this: Mocha.Context) {
        if (this.currentTest?.state === "failed") console.error(await controlPlaneDiagnostics(host));
    };
}

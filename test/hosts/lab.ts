/**
 * Helpers for the real-host tier: SSH to the test machines (test/hosts/machines.sh) and run
 * the program's rendered scripts on them the way `remote.Command` does: the same rendering
 * functions, the script on stdin, `sudo -n bash -s -- apply|remove` as the login user.
 */
import { spawn } from "child_process";
import { PulumiRunner } from "../../cli/pulumi";
import { LabConfig, RawConfig, validateConfig } from "../../components/lib/config";
import { kubeadmConfig } from "../../components/lib/kubeadm";
import { clusterIdentity } from "../../components/lib/lifecycle";
import { runCommand, shellQuote } from "../../components/lib/render";
import { controlPlaneScript } from "../../components/lib/scripts";
import { kubernetesReleases } from "../../components/lib/versions";

export const keyFile = "/var/lib/k8s-lab-test/id_ed25519";
export const repoUrl = "http://10.213.0.1:8080/core/v{minor}/deb/";
export const testVersion = kubernetesReleases["1.35"];

export interface Result {
    code: number;
    stdout: string;
    stderr: string;
    seconds: number;
}

export interface TestHost {
    name: string;
    address: string;
}

export const hosts = {
    cp1: { name: "cp1", address: "10.213.0.11" },
    worker1: { name: "worker1", address: "10.213.0.12" },
    worker2: { name: "worker2", address: "10.213.0.13" },
    solo: { name: "solo", address: "10.213.0.14" },
};

/** The lab configuration the tests render scripts from, as a stack holds it: the local mirror, distro containerd. */
export function testRawConfig(): RawConfig {
    return {
        hosts: [
            { name: "cp1", address: hosts.cp1.address, roles: ["control-plane"] },
            { name: "worker1", address: hosts.worker1.address, roles: ["worker"] },
            { name: "worker2", address: hosts.worker2.address, roles: ["worker"] },
            { name: "solo", address: hosts.solo.address, roles: ["nfs"] },
        ],
        ssh: { user: "lab", privateKeyPath: keyFile },
        // Debian 12 ships containerd 1.6; Kubernetes 1.35 is the newest that runs on it.
        kubernetes: { version: "1.35", containerd: "distro" },
        mirrors: { kubernetesApt: repoUrl, registries: { "docker.io": ["https://mirror.k8s-lab.invalid"] } },
    };
}

export function testConfig(): LabConfig {
    return validateConfig(testRawConfig());
}

/** The control plane's step of a lab with workers, as the program renders it (cluster "k8s-lab", node "cp1"). */
export function controlPlaneStep(config: LabConfig): string {
    return controlPlaneScript({
        kubeadmConfig: kubeadmConfig({ controlPlane: config.controlPlane, kubernetes: config.kubernetes, singleNode: false, clusterName: "k8s-lab" }),
        identity: clusterIdentity({ clusterName: "k8s-lab", controlPlane: config.controlPlane, kubernetes: config.kubernetes }),
        nodeName: "cp1",
        kubernetes: config.kubernetes,
        singleNode: false,
        user: "lab",
        nodeAddress: config.controlPlane.address,
    });
}

/**
 * The Pulumi CLI of a lab's stack, as the lab command reads it: its Kubernetes version output
 * and its configuration (ssh secret), for `backup` and `restore` against the test hosts.
 */
export function stackStandIn(raw: RawConfig, kubernetesVersion: string): PulumiRunner {
    return (args) => {
        if (args[0] === "stack" && args[1] === "output") return { code: 0, stdout: JSON.stringify({ kubernetesVersion }), stderr: "" };
        if (args[0] === "config") {
            const entries = Object.entries(raw).map(([k, v]) => [`k8s-lab:${k}`, { value: JSON.stringify(v), secret: k === "ssh" }]);
            return { code: 0, stdout: JSON.stringify(Object.fromEntries(entries)), stderr: "" };
        }
        throw new Error(`unexpected pulumi ${args.join(" ")}`);
    };
}

/** Runs a command over SSH as `lab`, with `input` on stdin; `connectTimeout` in seconds bounds the dial. */
export function ssh(host: TestHost, command: string, input = "", connectTimeout = 30): Promise<Result> {
    const started = process.hrtime.bigint();
    return new Promise((resolve, reject) => {
        const child = spawn(
            "ssh",
            ["-i", keyFile, "-o", "BatchMode=yes", "-o", `ConnectTimeout=${connectTimeout}`, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", `lab@${host.address}`, command],
            { stdio: ["pipe", "pipe", "pipe"] },
        );
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr, seconds: Number(process.hrtime.bigint() - started) / 1e9 }));
        child.stdin.end(input);
    });
}

/** Runs a rendered script exactly as the program does. */
export function step(host: TestHost, script: string, action: "apply" | "remove"): Promise<Result> {
    return ssh(host, runCommand("lab", action), script);
}

/** Runs a shell command as root on the host; returns its stdout, throwing if it fails. */
export async function root(host: TestHost, command: string): Promise<string> {
    const r = await ssh(host, `sudo -n bash -c ${shellQuote(command)}`);
    if (r.code !== 0) throw new Error(`${host.name}: ${command} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
}

/** Whether a root shell test succeeds on the host. */
export async function holds(host: TestHost, command: string): Promise<boolean> {
    return (await ssh(host, `sudo -n bash -c ${shellQuote(command)}`)).code === 0;
}

const touched = [
    "/etc/fstab",
    "/etc/modules-load.d",
    "/etc/sysctl.d",
    "/etc/containerd",
    "/etc/crictl.yaml",
    "/etc/apt/sources.list.d",
    "/etc/apt/keyrings",
].join(" ");

/**
 * What host preparation touches: the files it writes (content, and with `times` also their
 * modification times, so that a rewrite with the same content shows), the packages with their
 * versions and holds, and the units it manages.
 */
export function fingerprint(host: TestHost, times: boolean): Promise<string> {
    const stat = times ? "find $F -type f -printf '%p %T@\\n' 2>/dev/null | sort;" : "";
    return root(
        host,
        `F="${touched}"; find $F -type f -exec sha256sum {} + 2>/dev/null | sort; ${stat}` +
            "dpkg-query -W -f='${Package} ${Version} ${Status}\\n' | sort; apt-mark showhold; " +
            "for u in containerd kubelet swap.target; do printf '%s %s\\n' $u \"$(systemctl is-enabled $u 2>/dev/null)\"; done",
    );
}

export function elapsed(results: Result[]): number {
    return Math.max(...results.map((r) => r.seconds));
}

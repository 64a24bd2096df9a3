/**
 * Preflight: what a preview checks on the hosts before anything changes, as pure functions.
 *
 *   preflightPlan(lab)            what runs for each host: scripts/preflight.sh rendered with
 *                                 the host's ports, address, mirrors and paths, and the SSH
 *                                 login that runs it (components/lib/preflightRun.ts runs it
 *                                 through command's `local.run`, an invoke, so also in a preview)
 *   parseReading(stdout)          one host's answer: how the login went, and its facts
 *   judge(lab, plan, readings)    every problem ("host <name>: <what is wrong>; <how to fix
 *                                 it>"), with warnings (hosts skipped) and notes
 *   preflightOutcome(findings)    the one error that stops the preview, and what to log
 *
 * The script only reads; the login is `ssh` with the lab's key, the key given to the local
 * command in an environment variable (never in its command line, which pulumi-command quotes
 * in its errors) and written to a 0600 file that lives as long as the command.
 */
import { Host, LabConfig } from "./config";
import { isIpv4 } from "./net";
import { renderScript } from "./render";
import { project } from "./schema";

/** The systems host-prep.sh accepts (scripts/lib.sh `check_os`): apt-based, as `<id> <version>`. */
export const supportedSystems = ["debian 12", "debian 13", "ubuntu 22.04", "ubuntu 24.04", "ubuntu 26.04"] as const;

/** Between two hosts' clocks, more than this (after the SSH round trips are allowed for) is a problem. */
export const maxClockSkewSeconds = 5;

/**
 * The figures memory and disk are judged by, in MiB. Where a figure is an estimate it says so;
 * all are kept here so that they are easy to correct.
 */
export const requirements = {
    /** Every Kubernetes host: kubeadm's own preflight refuses a control plane with less ("[ERROR Mem] ... less than the minimum 1700 MB"); its install guide asks 2 GB a machine. */
    memoryPerHost: 1700,
    /** Elasticsearch's container asks for, and is limited to, 2Gi (components/lib/values.ts `elasticsearchSpec`): one node must have that beside its own. */
    elasticsearchPod: 2048,
    /** What a layer's pods ask of the nodes that run workloads, beyond `memoryPerHost`. */
    layerMemory: {
        /** Elasticsearch 2Gi (components/lib/values.ts) and Kibana 1Gi (the default ECK documents for Kibana, "Manage compute resources"). */
        logging: 2048 + 1024,
        /** kube-prometheus-stack sets no requests; an estimate of what Prometheus, Grafana and Alertmanager use in a lab this size. */
        monitoring: 1024,
    },
    /** Free space where containerd keeps images (/var/lib/containerd) on every Kubernetes host: an estimate for the control-plane, Calico and ingress images, with kubelet's image-GC and eviction margins (imagefs.available < 15%). */
    imageDiskPerHost: 4096,
    /** More image space on the hosts that run workloads, for a layer's images: estimates (the Elasticsearch and Kibana images are over 1 GB each unpacked). */
    layerImageDisk: { logging: 3072, monitoring: 1024 },
    /** Claims the lab makes besides the configured sizes (components/lib/values.ts, components/layers/samples.ts). */
    alertmanagerClaim: 1024,
    samplesClaim: 100,
};

/** Where containerd keeps images: the path whose file system's free space counts. */
export const imagePath = "/var/lib/containerd";

export type MirrorKind = "file" | "registry";

/** A URL the host must reach: a file must answer 2xx; a registry's `/v2/` answers 401 too. */
export interface MirrorCheck {
    url: string;
    what: string;
    /** The setting that names it (without `k8s-lab:`). */
    key: string;
    kind: MirrorKind;
}

export interface PortCheck {
    port: number;
    what: string;
    /** The setting that chooses it, where one does. */
    key?: string;
}

/** What runs for one host. */
export interface HostCheck {
    host: Host;
    kubernetes: boolean;
    ports: PortCheck[];
    mirrors: MirrorCheck[];
    /** Path → what needs its space. */
    disks: { path: string; need: number; what: string; key?: string }[];
    /** The virtual IP this host looks for before the lab has run: on the first control plane only. */
    vip?: string;
    /** scripts/preflight.sh, rendered. */
    script: string;
    /** What the SSH login runs: the script from stdin as root, or one line saying sudo refused. */
    remote: string;
    /** The local command's environment; `K8S_LAB_PF_KEY` and `K8S_LAB_PF_BASTION_KEY` hold keys. */
    environment: Record<string, string>;
}

export interface PreflightPlan {
    checks: HostCheck[];
    /** Why preflight cannot run at all, if it cannot. */
    skip?: string;
}

/** The local command (bash -c): one SSH login, whatever happens it exits 0 and says how it went. */
export const localCommand = `set -u
now() { local t; t=$(date +%s.%N 2>/dev/null || true); case "$t" in '' | *N*) date +%s ;; *) printf '%s\\n' "$t" ;; esac; }
command -v ssh >/dev/null 2>&1 || { echo "local-error ssh is not installed on this machine"; exit 0; }
umask 077
dir=$(mktemp -d 2>/dev/null) || { echo "local-error cannot make a temporary directory"; exit 0; }
trap 'rm -rf "$dir"' EXIT
common=(-F none -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes -o ConnectTimeout=10 -o ServerAliveInterval=5 -o ServerAliveCountMax=3 -o LogLevel=ERROR -o GlobalKnownHostsFile=/dev/null)
printf '%s\\n' "$K8S_LAB_PF_KEY" >"$dir/key"
known=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null)
if [ -n "$K8S_LAB_PF_KNOWN_HOST" ]; then
  printf '%s\\n' "$K8S_LAB_PF_KNOWN_HOST" >"$dir/known_hosts"
  known=(-o StrictHostKeyChecking=yes -o "UserKnownHostsFile=$dir/known_hosts")
fi
proxy=()
if [ -n "$K8S_LAB_PF_BASTION" ]; then
  printf '%s\\n' "$K8S_LAB_PF_BASTION_KEY" >"$dir/bastion_key"
  bknown="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
  if [ -n "$K8S_LAB_PF_BASTION_KNOWN_HOST" ]; then
    printf '%s\\n' "$K8S_LAB_PF_BASTION_KNOWN_HOST" >"$dir/bastion_known_hosts"
    bknown="-o StrictHostKeyChecking=yes -o UserKnownHostsFile=$(printf %q "$dir/bastion_known_hosts")"
  fi
  proxy=(-o "ProxyCommand=ssh $(printf '%q ' "\${common[@]}")-i $(printf %q "$dir/bastion_key") $bknown -W %h:%p -p $(printf %q "$K8S_LAB_PF_BASTION_PORT") -l $(printf %q "$K8S_LAB_PF_BASTION_USER") -- $(printf %q "$K8S_LAB_PF_BASTION")")
fi
limit=()
if command -v timeout >/dev/null 2>&1; then limit=(timeout 120); fi
start=$(now)
\${limit[@]+"\${limit[@]}"} ssh "\${common[@]}" -i "$dir/key" "\${known[@]}" \${proxy[@]+"\${proxy[@]}"} -p "$K8S_LAB_PF_PORT" -l "$K8S_LAB_PF_USER" -- "$K8S_LAB_PF_HOST" "$K8S_LAB_PF_REMOTE" >"$dir/out" 2>"$dir/err"
rc=$?
end=$(now)
cat "$dir/out"
printf 'local-start %s\\nlocal-end %s\\nssh-exit %s\\n' "$start" "$end" "$rc"
tail -n 5 "$dir/err" | sed 's/^/ssh-stderr /'
exit 0
`;

/** A host key as an OpenSSH known_hosts line for `address:port`. */
export function knownHostsLine(address: string, port: number, hostKey: string | undefined): string {
    if (!hostKey) return "";
    const [type, key] = hostKey.trim().split(/\s+/);
    const name = port === 22 ? address : `[${address}]:${port}`;
    return `${name} ${type.startsWith("rsa-sha2-") ? "ssh-rsa" : type} ${key}`;
}

/** The command the login runs: the rendered script from stdin, as root. */
export function remoteCommand(user: string): string {
    return user === "root" ? "bash -s" : "if sudo -n true 2>/dev/null; then sudo -n bash -s; else echo 'sudo fail'; fi";
}

function isKubernetesHost(h: Host): boolean {
    return h.roles.includes("control-plane") || h.roles.includes("worker");
}

/** The hosts that run the layers' pods: the workers, or the control planes of a lab without workers (their taint is dropped). */
export function workloadHosts(lab: LabConfig): Host[] {
    return lab.workers.length > 0 ? lab.workers : lab.controlPlanes;
}

/** A Kubernetes quantity (`10Gi`, `500M`, bytes) in MiB. */
export function quantityMiB(q: string): number {
    const m = /^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/.exec(q);
    if (!m) return 0;
    const factor: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, "": 1 };
    return Math.ceil((Number(m[1]) * factor[m[2] ?? ""]) / 2 ** 20);
}

/** What the layers on the NFS StorageClass will store in the export, in MiB, and which claims. */
export function nfsClaims(lab: LabConfig): { need: number; what: string[] } {
    const { nfs, logging, monitoring, samples } = lab.addons;
    if (!nfs) return { need: 0, what: [] };
    const onNfs = (s: { storageClassName: string } | false) => s && s.storageClassName === nfs.storageClassName;
    const claims: [string, number][] = [];
    if (logging && onNfs(logging)) claims.push([`Elasticsearch ${logging.storageSize}`, quantityMiB(logging.storageSize)]);
    if (monitoring && onNfs(monitoring)) {
        claims.push([`Prometheus ${monitoring.storageSize}`, quantityMiB(monitoring.storageSize)], ["Alertmanager 1Gi", requirements.alertmanagerClaim]);
    }
    if (samples && onNfs(samples)) claims.push(["samples 100Mi", requirements.samplesClaim]);
    return { need: claims.reduce((n, [, m]) => n + m, 0), what: claims.map(([w]) => w) };
}

/** The registry host of an image reference or repository (`registry.example.cn/mirror` → `registry.example.cn`). */
function registryHost(ref: string): string {
    return ref.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "").split("/")[0];
}

function registryUrl(base: string): string {
    return `${base.replace(/\/+$/, "")}/v2/`;
}

/** The URLs a Kubernetes host fetches from: apt repositories and keys, registry mirrors, the registries images come from. */
export function mirrorChecks(lab: LabConfig): MirrorCheck[] {
    const m = lab.mirrors;
    const checks: MirrorCheck[] = [
        { url: `${m.kubernetesApt}InRelease`, what: "the Kubernetes apt repository", key: "mirrors.kubernetesApt", kind: "file" },
        { url: m.kubernetesAptKey, what: "the Kubernetes apt repository's signing key", key: "mirrors.kubernetesAptKey", kind: "file" },
    ];
    if (lab.kubernetes.containerdSource === "docker") {
        checks.push({ url: `${m.containerdApt}/{os}/gpg`, what: "Docker's apt repository (containerd.io)", key: "mirrors.containerdApt", kind: "file" });
    }
    for (const registry of Object.keys(m.registries).sort()) {
        for (const mirror of m.registries[registry]) {
            checks.push({ url: registryUrl(mirror), what: `the ${registry} mirror ${mirror}`, key: `mirrors.registries`, kind: "registry" });
        }
    }
    // A registry with mirrors of its own is reached through them (containerd falls back to it).
    const direct = (ref: string, what: string, key: string) => {
        const host = registryHost(ref);
        if (!m.registries[host] && !checks.some((c) => c.url === registryUrl(`https://${host}`))) {
            checks.push({ url: registryUrl(`https://${host}`), what, key, kind: "registry" });
        }
    };
    direct(lab.kubernetes.imageRepository, "the registry of the control-plane images", "kubernetes.imageRepository");
    const layersOn = Object.values(lab.addons).some((l) => l !== false);
    if (m.imageRegistry && layersOn) direct(m.imageRegistry, "the registry of the layers' images", "mirrors.imageRegistry");
    return checks;
}

/** The ports a host new to the lab must have free: kubeadm's own preflight list, and the ingress's NodePorts. */
export function portChecks(lab: LabConfig, host: Host): PortCheck[] {
    const ports: PortCheck[] = [];
    if (host.roles.includes("control-plane")) {
        ports.push(
            { port: lab.kubernetes.apiServerPort, what: "the API server", key: "kubernetes.apiServerPort" },
            { port: 2379, what: "etcd (clients)" },
            { port: 2380, what: "etcd (peers)" },
            { port: 10257, what: "kube-controller-manager" },
            { port: 10259, what: "kube-scheduler" },
        );
    }
    if (isKubernetesHost(host)) {
        ports.push({ port: 10250, what: "the kubelet" });
        const ingress = lab.addons.ingress;
        if (ingress) {
            ports.push(
                { port: ingress.httpNodePort, what: "the ingress's HTTP NodePort", key: "addons.ingress.httpNodePort" },
                { port: ingress.httpsNodePort, what: "the ingress's HTTPS NodePort", key: "addons.ingress.httpsNodePort" },
            );
        }
    }
    return ports;
}

function diskChecks(lab: LabConfig, host: Host): HostCheck["disks"] {
    const disks: HostCheck["disks"] = [];
    if (isKubernetesHost(host)) {
        let need = requirements.imageDiskPerHost;
        const layers: string[] = [];
        if (workloadHosts(lab).includes(host)) {
            for (const layer of ["logging", "monitoring"] as const) {
                if (lab.addons[layer]) {
                    need += requirements.layerImageDisk[layer];
                    layers.push(layer);
                }
            }
        }
        disks.push({ path: imagePath, need, what: `container images${layers.length ? ` (with the ${layers.join(" and ")} layer${layers.length > 1 ? "s" : ""})` : ""}` });
    }
    const claims = nfsClaims(lab);
    if (lab.addons.nfs && host === lab.nfsHost && claims.need > 0) {
        disks.push({ path: lab.addons.nfs.exportPath, need: claims.need, what: `the NFS export's claims (${claims.what.join(", ")})`, key: "addons.nfs.exportPath" });
    }
    return disks;
}

function loginEnvironment(lab: LabConfig, host: Host): Record<string, string> {
    const b = lab.ssh.bastion;
    return {
        K8S_LAB_PF_HOST: host.address,
        K8S_LAB_PF_PORT: String(host.port),
        K8S_LAB_PF_USER: host.user,
        K8S_LAB_PF_KEY: lab.ssh.privateKey ?? "",
        K8S_LAB_PF_KNOWN_HOST: knownHostsLine(host.address, host.port, host.hostKey),
        K8S_LAB_PF_REMOTE: remoteCommand(host.user),
        K8S_LAB_PF_BASTION: b?.address ?? "",
        K8S_LAB_PF_BASTION_PORT: String(b?.port ?? 22),
        K8S_LAB_PF_BASTION_USER: b?.user ?? "",
        K8S_LAB_PF_BASTION_KEY: b?.privateKey ?? "",
        K8S_LAB_PF_BASTION_KNOWN_HOST: b ? knownHostsLine(b.address, b.port, b.hostKey) : "",
    };
}

/** What runs for each host of the lab, or why nothing can. */
export function preflightPlan(lab: LabConfig): PreflightPlan {
    if (!lab.ssh.privateKey || (lab.ssh.bastion && !lab.ssh.bastion.privateKey)) {
        return {
            checks: [],
            skip: `preflight skipped: it logs in with an SSH key, and ${project}:ssh${lab.ssh.privateKey ? ".bastion" : ""} has a password only; give it privateKeyPath (or privateKey) to have the hosts checked at preview`,
        };
    }
    const mirrors = mirrorChecks(lab);
    const checks = lab.hosts.map((host): HostCheck => {
        const kubernetes = isKubernetesHost(host);
        const ports = portChecks(lab, host);
        const hostMirrors = kubernetes ? mirrors : [];
        const disks = diskChecks(lab, host);
        // The first control plane is where kube-vip first takes the address, at kubeadm init.
        const vip = host === lab.controlPlane ? lab.vip?.address : undefined;
        const script = renderScript("preflight", {
            PORTS: ports.map((p) => p.port).join(" "),
            NODE_IP: kubernetes && isIpv4(host.address) ? host.address : "",
            MIRROR_URLS: hostMirrors.map((m) => m.url).join("\n"),
            DISK_PATHS: disks.map((d) => d.path).join(" "),
            VIP: vip ?? "",
            VIP_PORT: String(lab.kubernetes.apiServerPort),
        });
        return { host, kubernetes, ports, mirrors: hostMirrors, disks, ...(vip ? { vip } : {}), script, remote: remoteCommand(host.user), environment: loginEnvironment(lab, host) };
    });
    return { checks };
}

// ---- One host's answer ---------------------------------------------------------------------

export type Login = "ok" | "unreachable" | "refused" | "hostkey" | "sudo" | "failed" | "none";

export interface Facts {
    os?: { id: string; version: string };
    apt?: boolean;
    cgroup?: string;
    swap?: boolean;
    /** The lab's state directory is there: the lab has run on this host. */
    lab?: boolean;
    /** Port → the process listening on it ("-" when unknown), or null when free. */
    ports: Map<number, string | null>;
    nodeIp?: { address: string; state: string };
    /** The virtual IP: `held` by this host, `answers` from another machine, `silent`, or `unknown`. */
    vip?: { address: string; state: string };
    clock?: number;
    memMiB?: number;
    /** Path → free MiB (undefined when df could not say). */
    disks: Map<string, number | undefined>;
    /** URL as the host fetched it → HTTP status, `fail` or `unchecked`. */
    mirrors: Map<string, string>;
}

export interface Reading {
    login: Login;
    /** Why the login was not `ok`, in the words of ssh or of the command. */
    detail: string;
    /** This machine's clock before and after the login, epoch seconds. */
    localStart?: number;
    localEnd?: number;
    facts: Facts;
}

/** What ssh's own messages (exit code 255) say about why it failed. */
export function classifySshFailure(stderr: string): Login {
    if (/Permission denied|Too many authentication failures|no mutual signature|Authentication failed|Load key .*: invalid format/i.test(stderr)) return "refused";
    if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|host key for .* has changed|No .* host key is known/i.test(stderr)) return "hostkey";
    if (
        /timed out|Connection refused|No route to host|Network is unreachable|Could not resolve hostname|Name or service not known|Temporary failure in name resolution|Connection closed|Connection reset|kex_exchange_identification|banner exchange|Broken pipe/i.test(
            stderr,
        )
    ) {
        return "unreachable";
    }
    return "failed";
}

function emptyFacts(): Facts {
    return { ports: new Map(), disks: new Map(), mirrors: new Map() };
}

/** Reads the local command's output: the host's facts, then how the login went. */
export function parseReading(stdout: unknown): Reading {
    const facts = emptyFacts();
    if (typeof stdout !== "string" || stdout.trim() === "") return { login: "none", detail: "the check returned nothing", facts };
    const stderr: string[] = [];
    let exit: number | undefined;
    let localError: string | undefined;
    let sudoFailed = false;
    const reading: Reading = { login: "ok", detail: "", facts };
    for (const line of stdout.split("\n")) {
        const [word, ...rest] = line.trim().split(/\s+/);
        const text = line.trim().slice(word.length).trim();
        switch (word) {
            case "os":
                facts.os = { id: rest[0] ?? "unknown", version: rest[1] ?? "-" };
                break;
            case "apt":
                facts.apt = rest[0] === "yes";
                break;
            case "cgroup":
                facts.cgroup = rest[0];
                break;
            case "swap":
                facts.swap = rest[0] === "on";
                break;
            case "lab":
                facts.lab = rest[0] === "present";
                break;
            case "port":
                if (/^[0-9]+$/.test(rest[0] ?? "")) facts.ports.set(Number(rest[0]), rest[1] === "used" ? (rest[2] ?? "-") : null);
                break;
            case "nodeip":
                facts.nodeIp = { address: rest[0], state: rest[1] };
                break;
            case "vip":
                facts.vip = { address: rest[0], state: rest[1] };
                break;
            case "clock":
                facts.clock = Number(rest[0]);
                break;
            case "mem":
                facts.memMiB = Number(rest[0]);
                break;
            case "disk":
                if (rest[0]) facts.disks.set(rest[0], /^[0-9]+$/.test(rest[1] ?? "") ? Number(rest[1]) : undefined);
                break;
            case "mirror":
                if (rest[0]) facts.mirrors.set(rest[0], rest[1] ?? "fail");
                break;
            case "sudo":
                sudoFailed = rest[0] === "fail";
                break;
            case "local-start":
                reading.localStart = Number(rest[0]);
                break;
            case "local-end":
                reading.localEnd = Number(rest[0]);
                break;
            case "ssh-exit":
                exit = Number(rest[0]);
                break;
            case "ssh-stderr":
                if (text) stderr.push(text);
                break;
            case "local-error":
                localError = text;
                break;
        }
    }
    const said = stderr.join(" / ");
    if (localError !== undefined) return { ...reading, login: "none", detail: localError };
    if (exit === undefined) return { ...reading, login: "none", detail: "the check returned no exit status" };
    if (exit === 0 && sudoFailed) return { ...reading, login: "sudo", detail: "sudo -n refused" };
    if (exit === 0) return reading;
    if (exit === 255) return { ...reading, login: classifySshFailure(said), detail: said || "ssh exited 255" };
    if (exit === 124) return { ...reading, login: "unreachable", detail: "no answer within 120 s" };
    return { ...reading, login: "failed", detail: `the check exited ${exit}${said ? `: ${said}` : ""}` };
}

// ---- Judging the facts ---------------------------------------------------------------------

export interface Findings {
    /** Each "host <name>: <what is wrong>; <how to fix it>". */
    problems: string[];
    /** Hosts whose checks were skipped, and why. */
    skipped: string[];
    /** Worth knowing, not wrong. */
    notes: string[];
    /** How many hosts answered. */
    checked: number;
}

function mib(n: number): string {
    return n >= 1024 ? `${(n / 1024).toFixed(1).replace(/\.0$/, "")} GiB` : `${n} MiB`;
}

function setting(key: string): string {
    return `${project}:${key}`;
}

type Judged = { check: HostCheck; reading: Reading };

function loginProblem(lab: LabConfig, { check, reading }: Judged): string | undefined {
    const h = check.host;
    const hostIndex = lab.hosts.indexOf(h);
    switch (reading.login) {
        case "refused":
            return (
                `host ${h.name}: SSH login as ${h.user} was refused (${reading.detail}); ` +
                `authorise the lab's public key for ${h.user} on ${h.address} (~${h.user}/.ssh/authorized_keys), or set ${setting(`hosts[${hostIndex}].user`)} to the user that has it`
            );
        case "hostkey":
            return (
                `host ${h.name}: ${h.address} presents another SSH host key than the configured one (${reading.detail}); ` +
                `check the host's key on its console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and correct ${setting(`hosts[${hostIndex}].hostKey`)} (or ssh.bastion.hostKey), or find out who answers at that address`
            );
        case "sudo":
            return `host ${h.name}: ${h.user} cannot run sudo without a password (sudo -n refused); add "${h.user} ALL=(ALL) NOPASSWD: ALL" in /etc/sudoers.d/k8s-lab on the host, or log in as root`;
        case "failed":
            return `host ${h.name}: the check over SSH failed (${reading.detail}); run ssh ${h.user}@${h.address} by hand to see why, and fix that first`;
        default:
            return undefined;
    }
}

function systemProblems(lab: LabConfig, { check, reading }: Judged): string[] {
    const h = check.host;
    const f = reading.facts;
    const problems: string[] = [];
    if (f.os) {
        const system = `${f.os.id} ${f.os.version}`;
        if (!(supportedSystems as readonly string[]).includes(system) || f.apt === false) {
            problems.push(
                `host ${h.name}: runs ${f.os.id === "unknown" ? "a system without /etc/os-release" : system}${f.apt === false ? " without apt-get" : ""}, which the lab does not support; ` +
                    `install Debian 12/13 or Ubuntu 22.04/24.04/26.04 (apt-based) on it, or use another host`,
            );
        }
    }
    const cgroupV1 = check.kubernetes && f.cgroup === "v1" ? cgroupV1Settings(lab) : [];
    if (cgroupV1.length > 0) {
        problems.push(
            `host ${h.name}: runs cgroup v1, which kubelet refuses from Kubernetes 1.35 (failCgroupV1); ` +
                "boot it with cgroup v2 (the default of every supported system: drop systemd.unified_cgroup_hierarchy=0 from the kernel command line in /etc/default/grub, update-grub, reboot), " +
                `or, on a host that cannot have it (a container such as systemd-nspawn or LXC on a cgroup v1 kernel), run the lab on cgroup v1: ${cgroupV1.join(" and ")}`,
        );
    }
    const ip = f.nodeIp;
    if (check.kubernetes && ip && ip.state === "absent") {
        problems.push(
            `host ${h.name}: its configured address ${ip.address} is on none of its interfaces (NAT?), so etcd and the kubelet cannot use it; ` +
                `set ${setting(`hosts[${lab.hosts.indexOf(h)}].address`)} to the address the host has (ip -4 addr) and the other hosts reach it by`,
        );
    }
    return problems;
}

function portProblems({ check, reading }: Judged): string[] {
    const f = reading.facts;
    // On a host the lab has run on, the lab's own services hold these ports.
    if (f.lab !== false) return [];
    return check.ports.flatMap((p) => {
        const by = f.ports.get(p.port);
        if (by === undefined || by === null) return [];
        const owner = by === "-" ? "another process" : by;
        const instead = p.key ? `, or set ${setting(p.key)} to a free port` : "";
        return [
            `host ${check.host.name}: port ${p.port}, which ${p.what} needs, is in use by ${owner}; stop that service (ss -tlnp 'sport = :${p.port}' shows it)${instead}, or use another host`,
        ];
    });
}

function vipProblems({ check, reading }: Judged): string[] {
    const vip = reading.facts.vip;
    // Once the lab has run here, the address is kube-vip's, which is as it should be.
    if (!check.vip || !vip || reading.facts.lab !== false) return [];
    const fix = `pick an address on the hosts' network that no machine has for ${setting("controlPlane.vip")} (ping it from a host first: no answer is what it needs)`;
    if (vip.state === "held") {
        return [`host ${check.host.name}: already has the virtual IP ${vip.address} on one of its interfaces (ip -4 addr), so kube-vip would fight its owner for it; remove it from the host's network configuration, or ${fix}`];
    }
    if (vip.state === "answers") {
        return [`host ${check.host.name}: the virtual IP ${vip.address} answers on the network before the lab has run (a TCP connection to it was accepted or refused), so another machine has it; ${fix}`];
    }
    return [];
}

function mirrorProblems({ check, reading }: Judged): string[] {
    const f = reading.facts;
    const id = f.os?.id ?? "";
    return check.mirrors.flatMap((m) => {
        const status = f.mirrors.get(m.url.replace(/\{os\}/g, id));
        if (status === undefined || status === "unchecked") return [];
        const code = Number(status);
        const ok = status !== "fail" && (m.kind === "file" ? code >= 200 && code < 400 : code < 500);
        if (ok) return [];
        const url = m.url.replace(/\{os\}/g, id || "<os>");
        const what = status === "fail" ? "does not answer (no HTTP response within 5 s)" : `answers HTTP ${status}`;
        return [
            `host ${check.host.name}: ${m.what} (${url}) ${what} from this host; check the host's DNS, routes and proxy, or set ${setting(m.key)} to a mirror it reaches`,
        ];
    });
}

function diskProblems({ check, reading }: Judged): string[] {
    return check.disks.flatMap((d) => {
        const free = reading.facts.disks.get(d.path);
        if (free === undefined || free >= d.need) return [];
        const instead = d.key ? `, or set ${setting(d.key)} to a larger file system` : "";
        return [`host ${check.host.name}: ${mib(free)} free for ${d.path}, and ${d.what} need about ${mib(d.need)}; free space or grow that file system${instead}`];
    });
}

function memoryProblems(lab: LabConfig, judged: Judged[]): string[] {
    const problems: string[] = [];
    const r = requirements;
    for (const { check, reading } of judged) {
        const mem = reading.facts.memMiB;
        if (check.kubernetes && mem !== undefined && mem < r.memoryPerHost) {
            problems.push(
                `host ${check.host.name}: ${mib(mem)} of memory, less than the ${r.memoryPerHost} MiB kubeadm requires of a node; give it 2 GiB or more`,
            );
        }
    }
    const workers = workloadHosts(lab);
    const measured = judged.filter((j) => workers.includes(j.check.host) && j.reading.facts.memMiB !== undefined);
    // Only when every host that runs workloads answered: the others might have the room.
    if (measured.length === 0 || measured.length < workers.length) return problems;
    const largest = measured.reduce((a, b) => ((b.reading.facts.memMiB as number) > (a.reading.facts.memMiB as number) ? b : a));
    const largestMem = largest.reading.facts.memMiB as number;
    if (lab.addons.logging && largestMem < r.memoryPerHost + r.elasticsearchPod) {
        problems.push(
            `host ${largest.check.host.name}: the largest host that runs workloads has ${mib(largestMem)} of memory, and Elasticsearch asks for ${mib(r.elasticsearchPod)} on one node ` +
                `beside the ${r.memoryPerHost} MiB the node needs itself; give one ${lab.workers.length ? "worker" : "host"} ${mib(r.memoryPerHost + r.elasticsearchPod)} or more (4 GiB), or turn logging off (${setting("addons.logging")}: false)`,
        );
    }
    const layers = (["logging", "monitoring"] as const).filter((l) => lab.addons[l]);
    const need = layers.reduce((n, l) => n + r.layerMemory[l], 0);
    const spare = measured.reduce((n, j) => n + Math.max(0, (j.reading.facts.memMiB as number) - r.memoryPerHost), 0);
    if (need > 0 && spare < need) {
        const names = measured.map((j) => j.check.host.name).join(", ");
        problems.push(
            `host${measured.length > 1 ? "s" : ""} ${names}: ${mib(spare)} of memory beyond what the nodes need themselves, and the layers on need about ${mib(need)} ` +
                `(${layers.map((l) => `${l} ${mib(r.layerMemory[l])}`).join(", ")}); add memory or a worker, or turn a layer off (${setting("addons")})`,
        );
    }
    return problems;
}

function clockProblems(lab: LabConfig, judged: Judged[]): string[] {
    const timed = judged.flatMap(({ check, reading }) => {
        const { clock } = reading.facts;
        const { localStart: a, localEnd: b } = reading;
        if (clock === undefined || a === undefined || b === undefined || [clock, a, b].some(Number.isNaN)) return [];
        return [{ host: check.host, offset: clock - (a + b) / 2, slack: Math.max(0, (b - a) / 2) }];
    });
    const reference = timed.find((t) => t.host === lab.controlPlane) ?? timed[0];
    if (!reference) return [];
    return timed.flatMap((t) => {
        if (t === reference) return [];
        const apart = t.offset - reference.offset;
        const atLeast = Math.abs(apart) - t.slack - reference.slack;
        if (atLeast <= maxClockSkewSeconds) return [];
        return [
            `host ${t.host.name}: its clock is ${Math.round(Math.abs(apart))} s ${apart > 0 ? "ahead of" : "behind"} ${reference.host.name}'s (more than ${maxClockSkewSeconds} s); ` +
                "turn on time synchronisation on both (timedatectl set-ntp true, or chrony) and check with timedatectl",
        ];
    });
}

/**
 * What a lab still has to set to run on cgroup v1: the kubelet told not to refuse it, and
 * kubeadm's SystemVerification, which fails on it too, skipped. Empty when both are set.
 */
function cgroupV1Settings(lab: LabConfig): string[] {
    const k = lab.kubernetes;
    const missing: string[] = [];
    if (k.kubeletConfiguration.failCgroupV1 !== false) missing.push(`set ${setting("kubernetes.kubeletConfiguration.failCgroupV1")} to false`);
    if (!k.ignorePreflightErrors.some((c) => c.toLowerCase() === "systemverification")) missing.push(`add SystemVerification to ${setting("kubernetes.ignorePreflightErrors")}`);
    return missing;
}

function notesFor(lab: LabConfig, { check, reading }: Judged): string[] {
    const h = check.host;
    const f = reading.facts;
    const notes: string[] = [];
    if (check.kubernetes && f.cgroup === "v1" && cgroupV1Settings(lab).length === 0) {
        notes.push(`host ${h.name}: runs cgroup v1, which the lab's kubeletConfiguration (failCgroupV1: false) and ignorePreflightErrors (SystemVerification) accept; Kubernetes keeps cgroup v1 only in maintenance`);
    }
    if (check.kubernetes && f.swap) notes.push(`host ${h.name}: swap is on; host preparation turns it off (and destroy turns it back on)`);
    if (check.mirrors.length && [...f.mirrors.values()].includes("unchecked")) notes.push(`host ${h.name}: has neither curl nor wget, so its mirrors were not checked (host preparation installs curl)`);
    if (f.nodeIp?.state === "unknown") notes.push(`host ${h.name}: has no ip command, so its node address was not checked`);
    if (check.vip && f.vip?.state === "unknown") notes.push(`host ${h.name}: has no ip command, so the virtual IP ${check.vip} was not checked`);
    return notes;
}

/** Every problem the readings show, given the lab they were taken for. */
export function judge(lab: LabConfig, plan: PreflightPlan, readings: Reading[]): Findings {
    const findings: Findings = { problems: [], skipped: [], notes: [], checked: 0 };
    const judged: Judged[] = [];
    plan.checks.forEach((check, i) => {
        const reading = readings[i] ?? parseReading(undefined);
        if (reading.login === "unreachable" || reading.login === "none") {
            findings.skipped.push(`host ${check.host.name}: not checked: ${reading.login === "unreachable" ? "unreachable over SSH" : "no answer"} (${reading.detail})`);
            return;
        }
        findings.checked++;
        const login = loginProblem(lab, { check, reading });
        if (login) findings.problems.push(login);
        if (reading.login !== "ok" && reading.login !== "failed") return;
        judged.push({ check, reading });
    });
    for (const j of judged) findings.problems.push(...systemProblems(lab, j), ...portProblems(j), ...vipProblems(j), ...mirrorProblems(j), ...diskProblems(j));
    findings.problems.push(...memoryProblems(lab, judged), ...clockProblems(lab, judged));
    for (const j of judged) findings.notes.push(...notesFor(lab, j));
    return findings;
}

export interface Outcome {
    /** The message that fails the preview, listing every problem. */
    error?: string;
    warnings: string[];
    infos: string[];
}

/** What the preview says: one error for all the problems, a warning for what was skipped. */
export function preflightOutcome(findings: Findings, hosts: number): Outcome {
    const off = `turn the checks off with \`pulumi config set ${setting("preflight")} false\``;
    const outcome: Outcome = { warnings: [], infos: [...findings.notes] };
    if (findings.checked === 0 && findings.skipped.length > 0) {
        outcome.warnings.push(
            `preflight skipped: none of the ${hosts} host${hosts === 1 ? "" : "s"} answered over SSH, so nothing was checked (a lab whose hosts are not up yet previews without it):\n` +
                findings.skipped.map((s) => `  - ${s}`).join("\n"),
        );
    } else {
        outcome.warnings.push(...findings.skipped.map((s) => `preflight: ${s}`));
    }
    if (findings.problems.length > 0) {
        const n = findings.problems.length;
        outcome.error =
            `Preflight found ${n} problem${n === 1 ? "" : "s"} on the hosts; nothing was changed:\n` +
            findings.problems.map((p) => `  - ${p}`).join("\n") +
            `\nFix ${n === 1 ? "it" : "them"} and preview again, or ${off}.`;
    } else if (findings.checked > 0) {
        outcome.infos.push(`preflight: ${findings.checked} of ${hosts} host${hosts === 1 ? "" : "s"} checked, no problems`);
    }
    return outcome;
}

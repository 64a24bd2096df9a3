/**
 * The lab's configuration: the one module that reads the stack configuration and checks it.
 * Components never construct `pulumi.Config`; they get the typed `LabConfig` made here.
 *
 * `validateConfig` is pure: it takes the raw values and returns a `LabConfig` or throws a
 * `ConfigError` that lists every problem at once, each naming the key and the fix. It runs
 * before any resource is declared, so bad input never reaches a host.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import {
    defaultKubernetesMinor,
    firstMinorNeedingContainerd2,
    kubernetesPackageRevision,
    kubernetesReleases,
    untestedLayers,
} from "./versions";
import { Cidr, cidrsOverlap, isIpv4, parseCidr, cidrContains } from "./net";

export type Role = "control-plane" | "worker" | "nfs";
const roles: readonly Role[] = ["control-plane", "worker", "nfs"];

export interface Host {
    /** DNS-1123 label; also the Kubernetes node name. */
    name: string;
    /** IP address or DNS name the operator's machine (or the bastion) reaches over SSH. */
    address: string;
    roles: Role[];
    /** SSH user for this host (overrides `ssh.user`). */
    user: string;
    /** SSH port for this host (overrides `ssh.port`). */
    port: number;
    /** The host's SSH public host key (`ssh-ed25519 AAAA...`); when set, a host that presents another is refused. */
    hostKey?: string;
}

export interface SshCredentials {
    user: string;
    port: number;
    /** Private key in OpenSSH/PEM form (from `privateKey`, or read from `privateKeyPath`). */
    privateKey?: string;
    password?: string;
}

export interface SshSettings extends SshCredentials {
    bastion?: SshCredentials & {
        address: string;
        /** The bastion's SSH public host key; when set, a bastion that presents another is refused. */
        hostKey?: string;
        /**
         * The operator's machine reaches the control plane's API server without the bastion (a VPN,
         * a route): the layers, `verify` and the UIs connect there directly. Default false.
         */
        apiServerReachable: boolean;
    };
}

export type ContainerdSource = "docker" | "distro";

export interface KubernetesSettings {
    /** Full patch version, e.g. `1.37.1`. */
    version: string;
    /** Minor, e.g. `1.37`. */
    minor: string;
    /** Debian version of kubelet/kubeadm/kubectl, e.g. `1.37.1-1.1`. */
    packageVersion: string;
    podSubnet: string;
    serviceSubnet: string;
    imageRepository: string;
    apiServerPort: number;
    /** Address (IP or DNS name) clients use for the API server; defaults to the control-plane host's address. */
    controlPlaneEndpoint: string;
    /** Where containerd comes from: Docker's `containerd.io` (2.x) or the distribution's package. */
    containerdSource: ContainerdSource;
}

export interface MirrorSettings {
    /** Kubernetes apt repository for this minor, `{minor}` already substituted. */
    kubernetesApt: string;
    /** URL of that repository's signing key. */
    kubernetesAptKey: string;
    /** Docker apt repository base (`.../linux`); the script appends `/<distro>`. */
    containerdApt: string;
    /** containerd registry mirrors: registry host -> mirror URLs, tried in order. */
    registries: Record<string, string[]>;
    /** Registry that replaces the upstream registries in chart image references, if any. */
    imageRegistry?: string;
    /** Helm chart repository mirrors: upstream repository URL -> mirror URL. */
    chartRepositories: Record<string, string>;
}

export type IngressController = "ingress-nginx" | "traefik";

export interface CalicoSettings {
    encapsulation: "VXLAN" | "VXLANCrossSubnet" | "IPIP" | "None";
    values: Record<string, unknown>;
}

export interface IngressSettings {
    controller: IngressController;
    httpNodePort: number;
    httpsNodePort: number;
    /** Base domain of the lab's UIs; defaults to `<first worker's address>.nip.io`. */
    baseDomain: string;
    values: Record<string, unknown>;
}

export interface NfsSettings {
    exportPath: string;
    storageClassName: string;
    defaultClass: boolean;
    reclaimPolicy: "Delete" | "Retain";
    /** Remove the exported data when the NFS layer is removed (default false: data is kept). */
    deleteDataOnRemove: boolean;
    values: Record<string, unknown>;
}

export interface LoggingSettings {
    storageClassName: string;
    storageSize: string;
    values: Record<string, unknown>;
}

export interface MonitoringSettings {
    storageClassName: string;
    storageSize: string;
    retention: string;
    values: Record<string, unknown>;
}

export interface SamplesSettings {
    /** StorageClass of the web app's content claim. */
    storageClassName: string;
}

export interface AddonSettings {
    /** The guide's sample web app; unlike the layers, off unless asked for. */
    samples: SamplesSettings | false;
    calico: CalicoSettings | false;
    ingress: IngressSettings | false;
    nfs: NfsSettings | false;
    logging: LoggingSettings | false;
    monitoring: MonitoringSettings | false;
}

export interface LabConfig {
    hosts: Host[];
    controlPlane: Host;
    workers: Host[];
    /** Host that serves NFS: the `nfs` host, or the control plane when none has that role. */
    nfsHost: Host;
    ssh: SshSettings;
    kubernetes: KubernetesSettings;
    mirrors: MirrorSettings;
    addons: AddonSettings;
}

/** Raw stack configuration, as `pulumi config` holds it (keys without the `k8s-lab:` prefix). */
export interface RawConfig {
    hosts?: unknown;
    ssh?: unknown;
    kubernetes?: unknown;
    mirrors?: unknown;
    addons?: unknown;
}

export class ConfigError extends Error {
    constructor(public readonly problems: string[]) {
        super(
            `The k8s-lab configuration has ${problems.length} problem${problems.length === 1 ? "" : "s"}; ` +
                `no host was touched:\n${problems.map((p) => `  - ${p}`).join("\n")}\n` +
                `Set values with \`pulumi config set --path k8s-lab:<key> <value>\` (see README.md, "Configuration").`,
        );
        this.name = "ConfigError";
    }
}

export const defaults = {
    sshUser: "root",
    sshPort: 22,
    podSubnet: "10.244.0.0/16",
    serviceSubnet: "10.96.0.0/12",
    imageRepository: "registry.k8s.io",
    apiServerPort: 6443,
    containerdSource: "docker" as ContainerdSource,
    kubernetesApt: "https://pkgs.k8s.io/core:/stable:/v{minor}/deb/",
    containerdApt: "https://download.docker.com/linux",
    ingressController: "ingress-nginx" as IngressController,
    httpNodePort: 30080,
    httpsNodePort: 30443,
    nfsExportPath: "/srv/nfs/k8s-lab",
    storageClassName: "nfs-storage",
    reclaimPolicy: "Delete" as const,
    calicoEncapsulation: "VXLAN" as const,
    elasticsearchStorage: "10Gi",
    prometheusStorage: "10Gi",
    prometheusRetention: "10d",
};

const dns1123Label = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const dnsName = /^(?=.{1,253}$)([a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*$/;
const quantity = /^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/;
const duration = /^[0-9]+(ms|s|m|h|d|w|y)$/;

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** An IPv4 address, or a DNS name whose last label is not all digits (so 300.1.1.1 is neither). */
function isAddress(v: string): boolean {
    if (/^[0-9.]+$/.test(v)) return isIpv4(v);
    return dnsName.test(v);
}

function isPort(v: unknown): v is number {
    return typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 65535;
}

/** Collects problems while reading a raw object, so that one pass reports all of them. */
class Reader {
    readonly problems: string[] = [];

    problem(key: string, message: string): void {
        this.problems.push(`k8s-lab:${key}: ${message}`);
    }

    /** Reports keys the lab does not know, which are usually typos. */
    unknownKeys(key: string, obj: Obj, known: readonly string[]): void {
        for (const k of Object.keys(obj)) {
            if (!known.includes(k)) {
                this.problem(`${key}.${k}`, `unknown setting; known settings are ${known.join(", ")}`);
            }
        }
    }

    object(key: string, v: unknown): Obj | undefined {
        if (v === undefined || v === null) return {};
        if (!isObject(v)) {
            this.problem(key, "must be an object");
            return undefined;
        }
        return v;
    }

    string(key: string, v: unknown, fallback: string, test?: (s: string) => string | undefined): string {
        if (v === undefined || v === null) return fallback;
        if (typeof v !== "string" || v === "") {
            this.problem(key, "must be a non-empty string");
            return fallback;
        }
        const why = test?.(v);
        if (why) this.problem(key, why);
        return v;
    }

    optionalString(key: string, v: unknown): string | undefined {
        if (v === undefined || v === null) return undefined;
        if (typeof v !== "string" || v === "") {
            this.problem(key, "must be a non-empty string");
            return undefined;
        }
        return v;
    }

    port(key: string, v: unknown, fallback: number): number {
        if (v === undefined || v === null) return fallback;
        if (!isPort(v)) {
            this.problem(key, `${JSON.stringify(v)} is not a port; use a whole number from 1 to 65535`);
            return fallback;
        }
        return v;
    }

    boolean(key: string, v: unknown, fallback: boolean): boolean {
        if (v === undefined || v === null) return fallback;
        if (typeof v !== "boolean") {
            this.problem(key, "must be true or false");
            return fallback;
        }
        return v;
    }

    oneOf<T extends string>(key: string, v: unknown, allowed: readonly T[], fallback: T): T {
        if (v === undefined || v === null) return fallback;
        if (typeof v !== "string" || !(allowed as readonly string[]).includes(v)) {
            this.problem(key, `${JSON.stringify(v)} is not allowed; use one of ${allowed.join(", ")}`);
            return fallback;
        }
        return v as T;
    }

    cidr(key: string, v: unknown, fallback: string): Cidr | undefined {
        const s = this.string(key, v, fallback);
        const c = parseCidr(s);
        if (!c) this.problem(key, `${JSON.stringify(s)} is not an IPv4 CIDR such as 10.244.0.0/16`);
        return c;
    }
}

/** Reads a host list entry. */
function readHost(r: Reader, i: number, v: unknown, ssh: { user: string; port: number }): Host | undefined {
    const key = `hosts[${i}]`;
    if (!isObject(v)) {
        r.problem(key, "must be an object such as { name: cp1, address: 192.168.56.10, roles: [control-plane] }");
        return undefined;
    }
    r.unknownKeys(key, v, ["name", "address", "roles", "user", "port", "hostKey"]);
    const name = r.string(`${key}.name`, v.name, "", (s) =>
        dns1123Label.test(s) ? undefined : `${JSON.stringify(s)} is not a DNS-1123 label; use lower-case letters, digits and '-' (it becomes the node name)`,
    );
    if (v.name === undefined) r.problem(`${key}.name`, "is required");
    const address = r.string(`${key}.address`, v.address, "", (s) =>
        isAddress(s) ? undefined : `${JSON.stringify(s)} is not an IPv4 address or DNS name`,
    );
    if (v.address === undefined) r.problem(`${key}.address`, "is required");
    const hostRoles: Role[] = [];
    if (!Array.isArray(v.roles) || v.roles.length === 0) {
        r.problem(`${key}.roles`, `is required: a list of ${roles.join(", ")}`);
    } else {
        for (const role of v.roles) {
            if (typeof role === "string" && (roles as readonly string[]).includes(role)) {
                if (!hostRoles.includes(role as Role)) hostRoles.push(role as Role);
            } else {
                r.problem(`${key}.roles`, `${JSON.stringify(role)} is not a role; use ${roles.join(", ")}`);
            }
        }
        if (hostRoles.includes("control-plane") && hostRoles.includes("worker")) {
            r.problem(`${key}.roles`, "a host is either control-plane or worker; a single-node lab has one control-plane host and no workers");
        }
    }
    return {
        name,
        address,
        roles: hostRoles,
        user: r.string(`${key}.user`, v.user, ssh.user),
        port: r.port(`${key}.port`, v.port, ssh.port),
        hostKey: readHostKey(r, `${key}.hostKey`, v.hostKey),
    };
}

const hostKeyPattern = /^(ssh-ed25519|ssh-rsa|rsa-sha2-256|rsa-sha2-512|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,2}( .*)?$/;

/** A host key as `ssh-keyscan` or `/etc/ssh/ssh_host_*_key.pub` give it. */
function readHostKey(r: Reader, key: string, v: unknown): string | undefined {
    const s = r.optionalString(key, v);
    if (s === undefined) return undefined;
    if (!hostKeyPattern.test(s.trim())) {
        r.problem(key, "is not an SSH public host key; give one line such as `ssh-ed25519 AAAA...`, from `ssh-keyscan -t ed25519 <host>` or the host's /etc/ssh/ssh_host_ed25519_key.pub");
        return undefined;
    }
    return s.trim();
}

function readPrivateKey(r: Reader, key: string, v: Obj, readFile: (p: string) => string): string | undefined {
    const inline = r.optionalString(`${key}.privateKey`, v.privateKey);
    const file = r.optionalString(`${key}.privateKeyPath`, v.privateKeyPath);
    if (inline && file) {
        r.problem(key, "set privateKey or privateKeyPath, not both");
        return inline;
    }
    if (inline) {
        if (!inline.includes("PRIVATE KEY")) {
            r.problem(`${key}.privateKey`, "does not look like a private key; paste the whole key file, or use privateKeyPath");
        }
        return inline;
    }
    if (file) {
        const resolved = file.startsWith("~/") ? path.join(os.homedir(), file.slice(2)) : file;
        try {
            return readFile(resolved);
        } catch {
            r.problem(`${key}.privateKeyPath`, `cannot read ${JSON.stringify(file)}; give the path of a private key this machine can read`);
        }
    }
    return undefined;
}

function readSsh(r: Reader, v: unknown, readFile: (p: string) => string): SshSettings {
    const o = r.object("ssh", v) ?? {};
    r.unknownKeys("ssh", o, ["user", "port", "privateKey", "privateKeyPath", "password", "bastion"]);
    const ssh: SshSettings = {
        user: r.string("ssh.user", o.user, defaults.sshUser),
        port: r.port("ssh.port", o.port, defaults.sshPort),
        privateKey: readPrivateKey(r, "ssh", o, readFile),
        password: r.optionalString("ssh.password", o.password),
    };
    if (!ssh.privateKey && !ssh.password) {
        r.problem("ssh", "no SSH credentials; set privateKeyPath (or privateKey) or password with `pulumi config set --secret --path k8s-lab:ssh.privateKey < key`");
    }
    if (o.bastion !== undefined) {
        const b = r.object("ssh.bastion", o.bastion);
        if (b) {
            r.unknownKeys("ssh.bastion", b, ["address", "user", "port", "privateKey", "privateKeyPath", "password", "hostKey", "apiServerReachable"]);
            const address = r.string("ssh.bastion.address", b.address, "", (s) =>
                isAddress(s) ? undefined : `${JSON.stringify(s)} is not an IPv4 address or DNS name`,
            );
            if (b.address === undefined) r.problem("ssh.bastion.address", "is required when a bastion is set");
            ssh.bastion = {
                address,
                user: r.string("ssh.bastion.user", b.user, ssh.user),
                port: r.port("ssh.bastion.port", b.port, defaults.sshPort),
                privateKey: readPrivateKey(r, "ssh.bastion", b, readFile) ?? ssh.privateKey,
                password: r.optionalString("ssh.bastion.password", b.password) ?? ssh.password,
                hostKey: readHostKey(r, "ssh.bastion.hostKey", b.hostKey),
                apiServerReachable: r.boolean("ssh.bastion.apiServerReachable", b.apiServerReachable, false),
            };
        }
    }
    return ssh;
}

function readKubernetes(r: Reader, v: unknown, controlPlane: Host | undefined): KubernetesSettings & { pod?: Cidr; service?: Cidr } {
    const o = r.object("kubernetes", v) ?? {};
    r.unknownKeys("kubernetes", o, [
        "version",
        "podSubnet",
        "serviceSubnet",
        "imageRepository",
        "apiServerPort",
        "controlPlaneEndpoint",
        "containerd",
    ]);
    const supported = Object.keys(kubernetesReleases);
    let version = kubernetesReleases[defaultKubernetesMinor];
    if (o.version !== undefined) {
        const s = typeof o.version === "number" ? String(o.version) : o.version;
        const m = typeof s === "string" ? /^v?(1\.\d+)(\.\d+)?$/.exec(s) : null;
        if (!m || !(m[1] in kubernetesReleases)) {
            r.problem("kubernetes.version", `${JSON.stringify(o.version)} is not supported; use one of ${supported.join(", ")} (or a patch release of one, such as ${kubernetesReleases[defaultKubernetesMinor]})`);
        } else {
            version = m[2] ? `${m[1]}${m[2]}` : kubernetesReleases[m[1]];
        }
    }
    const minor = version.split(".").slice(0, 2).join(".");
    const containerdSource = r.oneOf("kubernetes.containerd", o.containerd, ["docker", "distro"] as const, defaults.containerdSource);
    if (containerdSource === "distro" && minorAtLeast(minor, firstMinorNeedingContainerd2)) {
        r.problem("kubernetes.containerd", `Kubernetes ${minor} needs containerd 2.x, which Debian 12/13 and Ubuntu 22.04/24.04 do not ship; use "docker" (Docker's containerd.io) or Kubernetes 1.35`);
    }
    const pod = r.cidr("kubernetes.podSubnet", o.podSubnet, defaults.podSubnet);
    const service = r.cidr("kubernetes.serviceSubnet", o.serviceSubnet, defaults.serviceSubnet);
    return {
        version,
        minor,
        packageVersion: `${version}-${kubernetesPackageRevision}`,
        podSubnet: pod ? pod.text : defaults.podSubnet,
        serviceSubnet: service ? service.text : defaults.serviceSubnet,
        imageRepository: r.string("kubernetes.imageRepository", o.imageRepository, defaults.imageRepository),
        apiServerPort: r.port("kubernetes.apiServerPort", o.apiServerPort, defaults.apiServerPort),
        controlPlaneEndpoint: r.string("kubernetes.controlPlaneEndpoint", o.controlPlaneEndpoint, controlPlane?.address ?? "", (s) =>
            isAddress(s) ? undefined : `${JSON.stringify(s)} is not an IPv4 address or DNS name`,
        ),
        containerdSource,
        pod,
        service,
    };
}

function minorAtLeast(minor: string, than: string): boolean {
    const [a, b] = [minor, than].map((s) => Number(s.split(".")[1]));
    return a >= b;
}

function readStringMap(r: Reader, key: string, v: unknown, check: (k: string, val: unknown) => string | undefined): Record<string, unknown> {
    const o = r.object(key, v) ?? {};
    for (const [k, val] of Object.entries(o)) {
        const why = check(k, val);
        if (why) r.problem(`${key}.${k}`, why);
    }
    return o;
}

function isUrl(s: unknown): boolean {
    return typeof s === "string" && /^https?:\/\/[^\s'"\\]+$/.test(s);
}

/** True when a URL or registry reference carries `user[:password]@` before its host. */
function hasCredentials(s: unknown): boolean {
    return typeof s === "string" && s.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "").split(/[/?#]/)[0].includes("@");
}

/**
 * Why a mirror may not carry credentials, and where they go instead. The value is never
 * echoed: it holds the password.
 */
function credentialsProblem(where: string, onHosts: string): string {
    return (
        `carries credentials (user:password@); they would be kept in plaintext in the Pulumi state and ${where}. ` +
        `Use a mirror that needs no credentials, or ${onHosts} and give the URL without them`
    );
}

const aptCredentials = "configure the credentials on the hosts (/etc/apt/auth.conf.d)";
const registryCredentials = "configure the credentials on the hosts (the registry's hosts.toml in /etc/containerd/certs.d)";
// Helm fetches charts where Pulumi runs, not on the hosts.
const chartCredentials = "let the mirror serve the machine that runs Pulumi without them";

function readMirrors(r: Reader, v: unknown, minor: string): MirrorSettings {
    const o = r.object("mirrors", v) ?? {};
    r.unknownKeys("mirrors", o, ["kubernetesApt", "kubernetesAptKey", "containerdApt", "registries", "imageRegistry", "chartRepositories"]);
    const urlCheck = (s: string) =>
        hasCredentials(s) ? credentialsProblem("in every host's apt sources", aptCredentials) : isUrl(s) ? undefined : `${JSON.stringify(s)} is not an http(s) URL`;
    const apt = r.string("mirrors.kubernetesApt", o.kubernetesApt, defaults.kubernetesApt, urlCheck).replace("{minor}", minor);
    // A credential in a map's key would be printed with the key, so those are reported at the map.
    for (const [key, map, where, fix] of [
        ["mirrors.registries", o.registries, "in every host's containerd hosts.toml", registryCredentials],
        ["mirrors.chartRepositories", o.chartRepositories, "in the Helm releases' inputs", chartCredentials],
    ] as const) {
        if (isObject(map) && Object.keys(map).some(hasCredentials)) r.problem(key, `a key ${credentialsProblem(where, fix)}`);
    }
    const registries = readStringMap(r, "mirrors.registries", o.registries, (k, val) => {
        if (hasCredentials(k)) return undefined;
        if (Array.isArray(val) && val.some(hasCredentials)) return credentialsProblem("in every host's containerd hosts.toml", registryCredentials);
        if (!dnsName.test(k.split(":")[0])) return `${JSON.stringify(k)} is not a registry host such as docker.io`;
        if (!Array.isArray(val) || val.length === 0 || !val.every(isUrl)) return "must be a list of mirror URLs such as [https://mirror.example.com]";
        return undefined;
    }) as Record<string, string[]>;
    const chartRepositories = readStringMap(r, "mirrors.chartRepositories", o.chartRepositories, (k, val) => {
        if (hasCredentials(k)) return undefined;
        if (hasCredentials(val)) return credentialsProblem("in the Helm releases' inputs", chartCredentials);
        return isUrl(k) && isUrl(val) ? undefined : "map an upstream chart repository URL to a mirror URL";
    }) as Record<string, string>;
    const imageRegistry = r.optionalString("mirrors.imageRegistry", o.imageRegistry);
    if (hasCredentials(imageRegistry)) r.problem("mirrors.imageRegistry", credentialsProblem("in every chart's image references", registryCredentials));
    return {
        kubernetesApt: apt.endsWith("/") ? apt : `${apt}/`,
        kubernetesAptKey: r.string("mirrors.kubernetesAptKey", o.kubernetesAptKey, `${apt.endsWith("/") ? apt : `${apt}/`}Release.key`, urlCheck),
        containerdApt: r.string("mirrors.containerdApt", o.containerdApt, defaults.containerdApt, urlCheck).replace(/\/$/, ""),
        registries,
        imageRegistry,
        chartRepositories,
    };
}

const addonNames = ["calico", "ingress", "nfs", "logging", "monitoring", "samples"] as const;

/** An addon entry is `false` (off), absent or `{}` (on with defaults), or an object of settings. */
function addonObject(r: Reader, name: string, v: unknown, known: readonly string[]): Obj | false {
    if (v === false) return false;
    if (v === true || v === undefined || v === null) return {};
    if (!isObject(v)) {
        r.problem(`addons.${name}`, "must be false (off) or an object of settings ({} for the defaults)");
        return false;
    }
    r.unknownKeys(`addons.${name}`, v, [...known, "values"]);
    if (v.values !== undefined && !isObject(v.values)) r.problem(`addons.${name}.values`, "must be an object of Helm values");
    return v;
}

function values(o: Obj): Record<string, unknown> {
    return isObject(o.values) ? o.values : {};
}

function readAddons(r: Reader, v: unknown, firstWorkerAddress: string): AddonSettings {
    const o = r.object("addons", v) ?? {};
    r.unknownKeys("addons", o, addonNames);
    const calicoRaw = addonObject(r, "calico", o.calico, ["encapsulation"]);
    const ingressRaw = addonObject(r, "ingress", o.ingress, ["controller", "httpNodePort", "httpsNodePort", "baseDomain"]);
    const nfsRaw = addonObject(r, "nfs", o.nfs, ["exportPath", "storageClassName", "defaultClass", "reclaimPolicy", "deleteDataOnRemove"]);
    const loggingRaw = addonObject(r, "logging", o.logging, ["storageClassName", "storageSize"]);
    const monitoringRaw = addonObject(r, "monitoring", o.monitoring, ["storageClassName", "storageSize", "retention"]);

    const nodePort = (key: string, val: unknown, fallback: number) => {
        const p = r.port(key, val, fallback);
        if (p < 30000 || p > 32767) r.problem(key, `${p} is outside the NodePort range; use 30000-32767`);
        return p;
    };
    const ingress: IngressSettings | false = ingressRaw && {
        controller: r.oneOf("addons.ingress.controller", ingressRaw.controller, ["ingress-nginx", "traefik"] as const, defaults.ingressController),
        httpNodePort: nodePort("addons.ingress.httpNodePort", ingressRaw.httpNodePort, defaults.httpNodePort),
        httpsNodePort: nodePort("addons.ingress.httpsNodePort", ingressRaw.httpsNodePort, defaults.httpsNodePort),
        baseDomain: r.string("addons.ingress.baseDomain", ingressRaw.baseDomain, `${firstWorkerAddress}.nip.io`, (s) =>
            dnsName.test(s) ? undefined : `${JSON.stringify(s)} is not a DNS name`,
        ),
        values: values(ingressRaw),
    };
    if (ingress && ingress.httpNodePort === ingress.httpsNodePort) {
        r.problem("addons.ingress.httpsNodePort", "must differ from httpNodePort");
    }
    const nfs: NfsSettings | false = nfsRaw && {
        exportPath: r.string("addons.nfs.exportPath", nfsRaw.exportPath, defaults.nfsExportPath, (s) =>
            /^\/[A-Za-z0-9._/-]+$/.test(s) && !s.includes("..") && s !== "/" ? undefined : `${JSON.stringify(s)} is not an absolute directory path (letters, digits, '.', '_', '-', '/')`,
        ),
        storageClassName: r.string("addons.nfs.storageClassName", nfsRaw.storageClassName, defaults.storageClassName, (s) =>
            /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(s) ? undefined : `${JSON.stringify(s)} is not a valid object name`,
        ),
        defaultClass: r.boolean("addons.nfs.defaultClass", nfsRaw.defaultClass, true),
        reclaimPolicy: r.oneOf("addons.nfs.reclaimPolicy", nfsRaw.reclaimPolicy, ["Delete", "Retain"] as const, defaults.reclaimPolicy),
        deleteDataOnRemove: r.boolean("addons.nfs.deleteDataOnRemove", nfsRaw.deleteDataOnRemove, false),
        values: values(nfsRaw),
    };
    const storageClass = (key: string, val: unknown) => {
        const s = r.string(key, val, nfs ? nfs.storageClassName : "");
        if (s === "") r.problem(key, "is required when the nfs layer is off; name a StorageClass that exists in the cluster, or turn addons.nfs on");
        return s;
    };
    const size = (key: string, val: unknown, fallback: string) =>
        r.string(key, val, fallback, (s) => (quantity.test(s) ? undefined : `${JSON.stringify(s)} is not a size such as 10Gi`));
    const logging: LoggingSettings | false = loggingRaw && {
        storageClassName: storageClass("addons.logging.storageClassName", loggingRaw.storageClassName),
        storageSize: size("addons.logging.storageSize", loggingRaw.storageSize, defaults.elasticsearchStorage),
        values: values(loggingRaw),
    };
    const monitoring: MonitoringSettings | false = monitoringRaw && {
        storageClassName: storageClass("addons.monitoring.storageClassName", monitoringRaw.storageClassName),
        storageSize: size("addons.monitoring.storageSize", monitoringRaw.storageSize, defaults.prometheusStorage),
        retention: r.string("addons.monitoring.retention", monitoringRaw.retention, defaults.prometheusRetention, (s) =>
            duration.test(s) ? undefined : `${JSON.stringify(s)} is not a duration such as 10d`,
        ),
        values: values(monitoringRaw),
    };
    const calico: CalicoSettings | false = calicoRaw && {
        encapsulation: r.oneOf("addons.calico.encapsulation", calicoRaw.encapsulation, ["VXLAN", "VXLANCrossSubnet", "IPIP", "None"] as const, defaults.calicoEncapsulation),
        values: values(calicoRaw),
    };
    let samples: SamplesSettings | false = false;
    if (o.samples !== undefined && o.samples !== false) {
        const raw = addonObject(r, "samples", o.samples, ["storageClassName"]);
        samples = raw && { storageClassName: storageClass("addons.samples.storageClassName", raw.storageClassName) };
    }
    if ((logging || monitoring || samples) && !ingress) {
        r.problem("addons.ingress", "logging, monitoring and samples publish their UIs through the ingress layer; turn ingress on or turn them off");
    }
    return { calico, ingress, nfs, logging, monitoring, samples };
}

/**
 * Checks the raw configuration and returns the typed one. Throws a `ConfigError` listing every
 * problem. `readFile` reads `privateKeyPath` files (injected so that tests need no files).
 */
export function validateConfig(raw: RawConfig, readFile: (p: string) => string = (p) => fs.readFileSync(p, "utf8")): LabConfig {
    const r = new Reader();
    const ssh = readSsh(r, raw.ssh, readFile);

    const hosts: Host[] = [];
    if (raw.hosts === undefined || raw.hosts === null) {
        r.problem("hosts", "no hosts; list at least one host with the control-plane role (see Pulumi.dev.yaml)");
    } else if (!Array.isArray(raw.hosts)) {
        r.problem("hosts", "must be a list of { name, address, roles }");
    } else {
        if (raw.hosts.length === 0) r.problem("hosts", "no hosts; list at least one host with the control-plane role");
        raw.hosts.forEach((h, i) => {
            const host = readHost(r, i, h, ssh);
            if (host) hosts.push(host);
        });
    }
    const duplicates = (field: "name" | "address") => {
        const seen = new Map<string, number>();
        for (const h of hosts) {
            const k = h[field].toLowerCase();
            if (k && seen.has(k)) r.problem("hosts", `two hosts have the ${field} ${JSON.stringify(h[field])}; every host needs its own`);
            seen.set(k, 1);
        }
    };
    duplicates("name");
    duplicates("address");

    const controlPlanes = hosts.filter((h) => h.roles.includes("control-plane"));
    if (hosts.length > 0 && controlPlanes.length === 0) {
        r.problem("hosts", "no host has the control-plane role; give exactly one host roles: [control-plane]");
    }
    if (controlPlanes.length > 1) {
        r.problem("hosts", `${controlPlanes.length} hosts have the control-plane role (${controlPlanes.map((h) => h.name).join(", ")}); the lab supports exactly one`);
    }
    const nfsHosts = hosts.filter((h) => h.roles.includes("nfs"));
    if (nfsHosts.length > 1) {
        r.problem("hosts", `${nfsHosts.length} hosts have the nfs role (${nfsHosts.map((h) => h.name).join(", ")}); give it to one host at most`);
    }
    const controlPlane = controlPlanes[0];
    const workers = hosts.filter((h) => h.roles.includes("worker"));

    const kubernetes = readKubernetes(r, raw.kubernetes, controlPlane);
    const { pod, service, ...k8s } = kubernetes;
    if (pod && service && cidrsOverlap(pod, service)) {
        r.problem("kubernetes.podSubnet", `${pod.text} overlaps serviceSubnet ${service.text}; choose subnets that do not overlap`);
    }
    for (const h of hosts) {
        for (const [key, c] of [["kubernetes.podSubnet", pod], ["kubernetes.serviceSubnet", service]] as const) {
            if (c && isIpv4(h.address) && cidrContains(c, h.address)) {
                r.problem(key, `${c.text} contains host ${h.name}'s address ${h.address}; choose a subnet that does not overlap the hosts' network`);
            }
        }
    }
    const mirrors = readMirrors(r, raw.mirrors, k8s.minor);
    // The UIs' base domain follows the control plane, which a lab keeps for its whole life
    // (NodePorts answer on every node); a worker could come and go.
    const addons = readAddons(r, raw.addons, controlPlane?.address ?? "");
    const layersOn = (Object.keys(addons) as (keyof AddonSettings)[]).filter((k) => addons[k] !== false);
    if (ssh.bastion && !ssh.bastion.apiServerReachable && layersOn.length > 0) {
        r.problem(
            "ssh.bastion",
            `host steps go through the bastion, but the layers (${layersOn.join(", ")}), npm run verify and the UIs connect to the API server ` +
                `${controlPlane?.address ?? ""}:${k8s.apiServerPort} and the NodePorts directly, from this machine. Make them reachable (a VPN or a route to the lab's network) ` +
                "and set k8s-lab:ssh.bastion.apiServerReachable to true, or turn the layers off (k8s-lab:addons: { calico: false, ingress: false, nfs: false, logging: false, monitoring: false })",
        );
    }

    if (r.problems.length > 0) throw new ConfigError(r.problems);
    return {
        hosts,
        controlPlane,
        workers,
        nfsHost: nfsHosts[0] ?? controlPlane,
        ssh,
        kubernetes: k8s,
        mirrors,
        addons,
    };
}

/**
 * Reads the `k8s-lab:*` stack configuration and validates it. An invalid configuration stops
 * the program with one message (a `RunError`, which Pulumi prints without a stack trace).
 */
export function loadConfig(): LabConfig {
    const config = new pulumi.Config("k8s-lab");
    const raw: RawConfig = {
        hosts: config.getObject("hosts"),
        ssh: config.getObject("ssh"),
        kubernetes: config.getObject("kubernetes"),
        mirrors: config.getObject("mirrors"),
        addons: config.getObject("addons"),
    };
    let lab: LabConfig;
    try {
        lab = validateConfig(raw);
    } catch (e) {
        if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
        throw e;
    }
    for (const warning of versionWarnings(lab)) pulumi.log.warn(warning);
    return lab;
}

/** What a preview says about layers whose projects have not tested the chosen Kubernetes minor. */
export function versionWarnings(lab: LabConfig): string[] {
    const { addons, kubernetes } = lab;
    const layers = (["calico", "nfs", "logging", "monitoring"] as const).filter((l) => addons[l] !== false) as string[];
    if (addons.ingress) layers.push(addons.ingress.controller);
    return untestedLayers(kubernetes.minor, layers).map(
        (u) =>
            `${u.what} (layer ${u.layer}) is tested on Kubernetes ${u.testedFrom} to ${u.testedUpTo}, not on ${kubernetes.minor} (k8s-lab:kubernetes.version); ` +
            `it may work, but nobody has checked. Source: ${u.source}`,
    );
}

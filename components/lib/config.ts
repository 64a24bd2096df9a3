/**
 * The lab's configuration: the one module that reads the stack configuration and checks it.
 * Components never construct `pulumi.Config`; they get the typed `LabConfig` made here.
 *
 * `validateConfig` is pure (the key files it reads come through `readFile`) and runs before any
 * resource is declared, in three steps:
 *   1. each `k8s-lab:` key against its part of the schema (components/lib/schema.ts): shape,
 *      patterns, ranges, unknown keys, defaults;
 *   2. the rules that span settings (`rules` below), on the keys that passed step 1;
 *   3. what the program works out: the control plane, the defaults that follow other settings,
 *      the key files.
 * Problems from every step go into one `ConfigError`, each naming the key and the fix.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { genericMessages, labSchema, LabSettings, project, Section, sections } from "./schema";
import { firstMinorNeedingContainerd2, kubernetesPackageRevision, kubernetesReleases, pauseVersions, untestedLayers } from "./versions";
import { cidrContains, cidrsOverlap, isIpv4, parseCidr } from "./net";

type HostSettings = LabSettings["hosts"][number];
/** The settings whose defaults follow other settings, required as the components receive them. */
type Resolved<T, K extends keyof T> = Omit<T, K> & { [P in K]-?: Exclude<T[P], undefined> };

export type Role = HostSettings["roles"][number];
export type Host = Resolved<HostSettings, "user" | "port">;

type SshInput = LabSettings["ssh"];
type BastionInput = NonNullable<SshInput["bastion"]>;
/** A login: `privateKey` is the key itself, also when the configuration names a file. */
export type SshCredentials = Pick<SshInput, "user" | "port" | "privateKey" | "password">;
export interface SshSettings extends SshCredentials {
    bastion?: SshCredentials & Pick<BastionInput, "address" | "hostKey" | "apiServerReachable">;
}

export type ContainerdSource = LabSettings["kubernetes"]["containerd"];
export interface KubernetesSettings extends Omit<LabSettings["kubernetes"], "containerd" | "controlPlaneEndpoint"> {
    /** Full patch version, e.g. `1.37.1`. */
    version: string;
    /** Minor, e.g. `1.37`. */
    minor: string;
    /** Debian version of kubelet/kubeadm/kubectl, e.g. `1.37.1-1.1`. */
    packageVersion: string;
    controlPlaneEndpoint: string;
    containerdSource: ContainerdSource;
    /** The sandbox image containerd runs pods in, as kubeadm of `minor` names it: `<imageRepository>/pause:3.10.2`. */
    pauseImage: string;
}

/** `kubernetesApt` has `{minor}` substituted. */
export type MirrorSettings = Resolved<LabSettings["mirrors"], "kubernetesAptKey">;

type Layers = LabSettings["addons"];
type On<K extends keyof Layers> = Exclude<Layers[K], false>;
export type CalicoSettings = On<"calico">;
export type IngressSettings = Resolved<On<"ingress">, "baseDomain">;
export type IngressController = IngressSettings["controller"];
export type NfsSettings = On<"nfs">;
export type LoggingSettings = Resolved<On<"logging">, "storageClassName">;
export type MonitoringSettings = Resolved<On<"monitoring">, "storageClassName">;
export type SamplesSettings = Resolved<On<"samples">, "storageClassName">;

export type CertificateSettings = LabSettings["certificates"];

/** The virtual IP kube-vip serves on the control planes. */
export interface VipSettings {
    address: string;
    /** Where kube-vip puts it; undefined: the interface holding each control plane's address. */
    interface?: string;
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
    /** The first control-plane host: it runs `kubeadm init` and stays for the lab's life. */
    controlPlane: Host;
    /** Every control-plane host, the first one first: one, or an odd number behind `vip`. */
    controlPlanes: Host[];
    /** The control plane's virtual IP (kube-vip), when set. */
    vip?: VipSettings;
    workers: Host[];
    /** Host that serves NFS: the `nfs` host, or the control plane when none has that role. */
    nfsHost: Host;
    ssh: SshSettings;
    kubernetes: KubernetesSettings;
    mirrors: MirrorSettings;
    addons: AddonSettings;
    certificates: CertificateSettings;
    /** Check the hosts at preview (components/lib/preflightRun.ts). */
    preflight: boolean;
}

/** Raw stack configuration as Pulumi holds it, keys without the `k8s-lab:` prefix; not yet checked. */
export type RawConfig = { [K in Section]?: unknown };

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

/** One problem: the key as `pulumi config set --path` takes it (without the namespace), and what to do. */
export interface Problem {
    key: string;
    message: string;
}

function keyOf(p: readonly PropertyKey[]): string {
    return p.map((s, i) => (typeof s === "number" ? `[${s}]` : i === 0 ? String(s) : `.${String(s)}`)).join("");
}

/** An issue below the value itself: the union branch that has one is the branch the value was meant for. */
function meantFor(issue: z.core.$ZodIssue): boolean {
    return issue.path.length > 0 || issue.code === "unrecognized_keys" || issue.code === "invalid_key";
}

/** Zod's issues as problems, one per key. */
function issueProblems(issues: readonly z.core.$ZodIssue[], at: readonly PropertyKey[]): Problem[] {
    return issues.flatMap((issue): Problem[] => {
        const where = [...at, ...issue.path];
        switch (issue.code) {
            case "unrecognized_keys":
                return issue.keys.map((k) => ({ key: keyOf([...where, k]), message: issue.message }));
            case "invalid_key":
                // Reported at the map: the key itself may carry credentials.
                return issueProblems(issue.issues, where.slice(0, -1));
            case "invalid_union": {
                const branches = issue.errors.filter((branch) => branch.some(meantFor));
                return branches.length === 1 ? issueProblems(branches[0], where) : [{ key: keyOf(where), message: issue.message }];
            }
            default:
                return [{ key: keyOf(where), message: issue.message }];
        }
    });
}

/** Step 1: each key against its schema, so that one bad key leaves the others' rules to run. */
export function checkSchema(raw: RawConfig): { settings: Partial<LabSettings>; problems: Problem[] } {
    const settings: Partial<Record<Section, unknown>> = {};
    const problems: Problem[] = Object.keys(raw)
        .filter((k) => !(sections as string[]).includes(k))
        .map((k) => ({ key: k, message: `unknown setting; known settings are ${sections.map((s) => `${project}:${s}`).join(", ")}` }));
    for (const section of sections) {
        const result = labSchema.shape[section].safeParse(raw[section], { error: genericMessages });
        if (result.success) settings[section] = result.data;
        else problems.push(...issueProblems(result.error.issues, [section]));
    }
    return { settings: settings as Partial<LabSettings>, problems };
}

export interface Rule<K extends Section = Section> {
    /** What the rule asks, in the README's words. */
    what: string;
    /** The keys it reads: it runs when they passed the schema. */
    needs: readonly K[];
    check(s: Pick<LabSettings, K> & Partial<LabSettings>): Problem[];
}

function rule<K extends Section>(needs: K[], what: string, check: Rule<K>["check"]): Rule<K> {
    return { what, needs, check };
}

function controlPlanes(hosts: HostSettings[]): HostSettings[] {
    return hosts.filter((h) => h.roles.includes("control-plane"));
}

function minorOf(version: string): string {
    return version.replace(/^v/, "").split(".").slice(0, 2).join(".");
}

function layersWithStorage(addons: Layers) {
    return (["logging", "monitoring", "samples"] as const).filter((l) => addons[l] !== false);
}

/** Step 2: what the schema of one key cannot say. Each is small, named and tested on its own. */
export const rules = {
    controlPlaneCount: rule(["hosts"], "one host has the control-plane role, or an odd number of them", ({ hosts }) => {
        const cps = controlPlanes(hosts);
        if (cps.length === 0) return [{ key: "hosts", message: "no host has the control-plane role; give one host roles: [control-plane] (or three, with k8s-lab:controlPlane.vip)" }];
        if (cps.length % 2 === 0) {
            return [
                {
                    key: "hosts",
                    message:
                        `${cps.length} hosts have the control-plane role (${cps.map((h) => h.name).join(", ")}); etcd needs a majority of its members, so ${cps.length} survive no more failures than ${cps.length - 1}: ` +
                        `give the role to ${cps.length - 1} or ${cps.length + 1} hosts`,
                },
            ];
        }
        return [];
    }),
    vipForSeveralControlPlanes: rule(["hosts", "controlPlane"], "several control planes have a virtual IP (controlPlane.vip)", ({ hosts, controlPlane }) => {
        const cps = controlPlanes(hosts);
        return cps.length > 1 && !controlPlane.vip
            ? [
                  {
                      key: "controlPlane.vip",
                      message: `is required with ${cps.length} control planes: a free IPv4 address on their network, which kube-vip moves to a control plane that is up (pulumi config set --path k8s-lab:controlPlane.vip 192.168.56.9)`,
                  },
              ]
            : [];
    }),
    vipFree: rule(["hosts", "controlPlane"], "the virtual IP is no host's address", ({ hosts, controlPlane }) =>
        hosts
            .filter((h) => controlPlane.vip && h.address === controlPlane.vip)
            .map((h) => ({ key: "controlPlane.vip", message: `${controlPlane.vip} is host ${h.name}'s address; the virtual IP must be a free address that kube-vip moves between control planes` })),
    ),
    vipInterfaceNeedsVip: rule(["controlPlane"], "controlPlane.vipInterface only with controlPlane.vip", ({ controlPlane }) =>
        controlPlane.vipInterface && !controlPlane.vip ? [{ key: "controlPlane.vipInterface", message: "has no effect without controlPlane.vip; set the virtual IP too, or remove it" }] : [],
    ),
    endpointIsVip: rule(["controlPlane", "kubernetes"], "with a virtual IP, the control-plane endpoint is it (or a name for it)", ({ controlPlane, kubernetes }) => {
        const endpoint = kubernetes.controlPlaneEndpoint;
        return controlPlane.vip && endpoint && isIpv4(endpoint) && endpoint !== controlPlane.vip
            ? [
                  {
                      key: "kubernetes.controlPlaneEndpoint",
                      message: `${endpoint} is not controlPlane.vip (${controlPlane.vip}); the API server's endpoint is the virtual IP, or a DNS name that resolves to it: remove the setting, or set it to ${controlPlane.vip}`,
                  },
              ]
            : [];
    }),
    controlPlaneOrWorker: rule(["hosts"], "a host is either control-plane or worker", ({ hosts }) =>
        hosts.flatMap((h, i) =>
            h.roles.includes("control-plane") && h.roles.includes("worker")
                ? [{ key: `hosts[${i}].roles`, message: "a host is either control-plane or worker; a single-node lab has one control-plane host and no workers" }]
                : [],
        ),
    ),
    distinctHosts: rule(["hosts"], "no two hosts share a name or an address", ({ hosts }) =>
        (["name", "address"] as const).flatMap((field) => {
            const seen = new Set<string>();
            return hosts.flatMap((h) => {
                const k = h[field].toLowerCase();
                const twice = seen.has(k);
                seen.add(k);
                return twice ? [{ key: "hosts", message: `two hosts have the ${field} ${JSON.stringify(h[field])}; every host needs its own` }] : [];
            });
        }),
    ),
    oneNfsHost: rule(["hosts"], "at most one host has the nfs role", ({ hosts }) => {
        const nfs = hosts.filter((h) => h.roles.includes("nfs"));
        return nfs.length > 1 ? [{ key: "hosts", message: `${nfs.length} hosts have the nfs role (${nfs.map((h) => h.name).join(", ")}); give it to one host at most` }] : [];
    }),
    sshCredentials: rule(["ssh"], "SSH has a key or a password, and a key is given once (privateKey or privateKeyPath), for the hosts and for the bastion", ({ ssh }) => {
        const problems: Problem[] = [];
        if (!ssh.privateKey && !ssh.privateKeyPath && !ssh.password) {
            problems.push({ key: "ssh", message: "no SSH credentials; set privateKeyPath (or privateKey) or password with `pulumi config set --secret --path k8s-lab:ssh.privateKey < key`" });
        }
        for (const [key, login] of [["ssh", ssh], ["ssh.bastion", ssh.bastion]] as const) {
            if (login?.privateKey && login.privateKeyPath) problems.push({ key, message: "set privateKey or privateKeyPath, not both" });
        }
        return problems;
    }),
    containerdForVersion: rule(["kubernetes"], "distro containerd only with a Kubernetes that still runs on containerd 1.x (1.35)", ({ kubernetes }) => {
        const minor = minorOf(kubernetes.version);
        return kubernetes.containerd === "distro" && Number(minor.split(".")[1]) >= Number(firstMinorNeedingContainerd2.split(".")[1])
            ? [{ key: "kubernetes.containerd", message: `Kubernetes ${minor} needs containerd 2.x, which Debian 12/13 and Ubuntu 22.04/24.04 do not ship; use "docker" (Docker's containerd.io) or Kubernetes 1.35` }]
            : [];
    }),
    subnetsApart: rule(["kubernetes"], "the pod and service subnets do not overlap", ({ kubernetes }) => {
        const [pod, service] = [parseCidr(kubernetes.podSubnet), parseCidr(kubernetes.serviceSubnet)];
        return pod && service && cidrsOverlap(pod, service)
            ? [{ key: "kubernetes.podSubnet", message: `${pod.text} overlaps serviceSubnet ${service.text}; choose subnets that do not overlap` }]
            : [];
    }),
    subnetsClearOfHosts: rule(["kubernetes", "hosts"], "neither subnet contains a host's address or the virtual IP", ({ kubernetes, hosts, controlPlane }) =>
        (["podSubnet", "serviceSubnet"] as const).flatMap((field) => {
            const c = parseCidr(kubernetes[field]);
            const addresses = [...hosts.map((h) => ({ what: `host ${h.name}'s address`, address: h.address })), ...(controlPlane?.vip ? [{ what: "the virtual IP (controlPlane.vip)", address: controlPlane.vip }] : [])];
            return addresses
                .filter((a) => c && isIpv4(a.address) && cidrContains(c, a.address))
                .map((a) => ({
                    key: `kubernetes.${field}`,
                    message: `${kubernetes[field]} contains ${a.what} ${a.address}; choose a subnet that does not overlap the hosts' network`,
                }));
        }),
    ),
    nodePortsDistinct: rule(["addons"], "the ingress's HTTP and HTTPS NodePorts differ", ({ addons }) =>
        addons.ingress && addons.ingress.httpNodePort === addons.ingress.httpsNodePort ? [{ key: "addons.ingress.httpsNodePort", message: "must differ from httpNodePort" }] : [],
    ),
    storageClassWithoutNfs: rule(["addons"], "with the nfs layer off, logging, monitoring and samples name a StorageClass", ({ addons }) =>
        addons.nfs
            ? []
            : layersWithStorage(addons)
                  .filter((l) => {
                      const settings = addons[l];
                      return settings && !settings.storageClassName;
                  })
                  .map((l) => ({
                      key: `addons.${l}.storageClassName`,
                      message: "is required when the nfs layer is off; name a StorageClass that exists in the cluster, or turn addons.nfs on",
                  })),
    ),
    layersNeedIngress: rule(["addons"], "logging, monitoring and samples have the ingress layer on", ({ addons }) =>
        layersWithStorage(addons).length > 0 && !addons.ingress
            ? [{ key: "addons.ingress", message: "logging, monitoring and samples publish their UIs through the ingress layer; turn ingress on or turn them off" }]
            : [],
    ),
    bastionReachesApiServer: rule(
        ["ssh", "addons"],
        "with a bastion, layers are on only once this machine reaches the API server (`ssh.bastion.apiServerReachable`)",
        ({ ssh, addons, hosts, kubernetes, controlPlane }) => {
            const on = (Object.keys(addons) as (keyof Layers)[]).filter((k) => addons[k] !== false);
            if (!ssh.bastion || ssh.bastion.apiServerReachable || on.length === 0) return [];
            const endpoint = kubernetes?.controlPlaneEndpoint ?? controlPlane?.vip ?? (hosts && controlPlanes(hosts)[0]?.address);
            const apiServer = endpoint ? ` ${endpoint}:${kubernetes?.apiServerPort ?? 6443}` : "";
            return [
                {
                    key: "ssh.bastion",
                    message:
                        `host steps go through the bastion, but the layers (${on.join(", ")}), npm run verify and the UIs connect to the API server${apiServer} ` +
                        "and the NodePorts directly, from this machine. Make them reachable (a VPN or a route to the lab's network) and set k8s-lab:ssh.bastion.apiServerReachable " +
                        "to true, or turn the layers off (k8s-lab:addons: { calico: false, ingress: false, nfs: false, logging: false, monitoring: false })",
                },
            ];
        },
    ),
} satisfies Record<string, Rule>;

export function checkRules(settings: Partial<LabSettings>): Problem[] {
    return Object.values(rules as Record<string, Rule>).flatMap((r) => (r.needs.every((k) => settings[k] !== undefined) ? r.check(settings as LabSettings) : []));
}

/** The key files named by `privateKeyPath`, read once the settings are known to be sound. */
function readKeyFiles(ssh: SshInput, readFile: (p: string) => string): { keys: { ssh?: string; bastion?: string }; problems: Problem[] } {
    const keys: { ssh?: string; bastion?: string } = {};
    const problems: Problem[] = [];
    for (const [which, key, login] of [["ssh", "ssh", ssh], ["bastion", "ssh.bastion", ssh.bastion]] as const) {
        if (!login?.privateKeyPath || login.privateKey) continue;
        const file = login.privateKeyPath;
        try {
            keys[which] = readFile(file.startsWith("~/") ? path.join(os.homedir(), file.slice(2)) : file);
        } catch {
            problems.push({ key: `${key}.privateKeyPath`, message: `cannot read ${JSON.stringify(file)}; give the path of a private key this machine can read` });
        }
    }
    return { keys, problems };
}

/** Step 3: the configuration the components receive, from settings that passed steps 1 and 2. */
function resolve(s: LabSettings, keys: { ssh?: string; bastion?: string }): LabConfig {
    const hosts: Host[] = s.hosts.map((h) => ({ ...h, roles: [...new Set(h.roles)], user: h.user ?? s.ssh.user, port: h.port ?? s.ssh.port }));
    const controlPlanes = hosts.filter((h) => h.roles.includes("control-plane"));
    const controlPlane = controlPlanes[0];
    const vip: VipSettings | undefined = s.controlPlane.vip ? { address: s.controlPlane.vip, interface: s.controlPlane.vipInterface } : undefined;
    const k = s.kubernetes;
    const [, minorWritten, patch] = /^v?([0-9]+\.[0-9]+)(\.[0-9]+)?$/.exec(k.version) ?? [];
    const version = patch ? `${minorWritten}${patch}` : kubernetesReleases[minorWritten];
    const minor = minorOf(version);
    const kubernetesApt = s.mirrors.kubernetesApt.replace("{minor}", minor);
    const ssh: SshSettings = { user: s.ssh.user, port: s.ssh.port, privateKey: s.ssh.privateKey ?? keys.ssh, password: s.ssh.password };
    const b = s.ssh.bastion;
    if (b) {
        ssh.bastion = {
            address: b.address,
            user: b.user ?? ssh.user,
            port: b.port,
            privateKey: b.privateKey ?? keys.bastion ?? ssh.privateKey,
            password: b.password ?? ssh.password,
            hostKey: b.hostKey,
            apiServerReachable: b.apiServerReachable,
        };
    }
    const a = s.addons;
    const nfsClass = a.nfs ? a.nfs.storageClassName : "";
    return {
        hosts,
        controlPlane,
        controlPlanes,
        ...(vip ? { vip } : {}),
        workers: hosts.filter((h) => h.roles.includes("worker")),
        nfsHost: hosts.find((h) => h.roles.includes("nfs")) ?? controlPlane,
        ssh,
        kubernetes: {
            version,
            minor,
            packageVersion: `${version}-${kubernetesPackageRevision}`,
            podSubnet: k.podSubnet,
            serviceSubnet: k.serviceSubnet,
            imageRepository: k.imageRepository,
            pauseImage: `${k.imageRepository}/pause:${pauseVersions[minor]}`,
            apiServerPort: k.apiServerPort,
            controlPlaneEndpoint: k.controlPlaneEndpoint ?? vip?.address ?? controlPlane.address,
            containerdSource: k.containerd,
            kubeletConfiguration: k.kubeletConfiguration,
            kubeProxyConfiguration: k.kubeProxyConfiguration,
            ignorePreflightErrors: k.ignorePreflightErrors,
        },
        mirrors: {
            kubernetesApt,
            kubernetesAptKey: s.mirrors.kubernetesAptKey ?? `${kubernetesApt}Release.key`,
            containerdApt: s.mirrors.containerdApt,
            registries: s.mirrors.registries,
            imageRegistry: s.mirrors.imageRegistry,
            chartRepositories: s.mirrors.chartRepositories,
        },
        addons: {
            calico: a.calico,
            // The UIs' base domain follows the control plane, which a lab keeps for its whole
            // life (NodePorts answer on every node); a worker could come and go.
            ingress: a.ingress && { ...a.ingress, baseDomain: a.ingress.baseDomain ?? `${controlPlane.address}.nip.io` },
            nfs: a.nfs,
            logging: a.logging && { ...a.logging, storageClassName: a.logging.storageClassName ?? nfsClass },
            monitoring: a.monitoring && { ...a.monitoring, storageClassName: a.monitoring.storageClassName ?? nfsClass },
            samples: a.samples && { storageClassName: a.samples.storageClassName ?? nfsClass },
        },
        certificates: s.certificates,
        preflight: s.preflight,
    };
}

/**
 * Checks the raw configuration and returns the typed one. Throws a `ConfigError` listing every
 * problem. `readFile` reads `privateKeyPath` files (injected so that tests need no files).
 */
export function validateConfig(raw: RawConfig, readFile: (p: string) => string = (p) => fs.readFileSync(p, "utf8")): LabConfig {
    const { settings, problems } = checkSchema(raw);
    problems.push(...checkRules(settings));
    const files = settings.ssh ? readKeyFiles(settings.ssh, readFile) : { keys: {}, problems: [] };
    problems.push(...files.problems);
    if (problems.length > 0) throw new ConfigError(problems.map((p) => `${project}:${p.key}: ${p.message}`));
    return resolve(settings as LabSettings, files.keys);
}

/** The `k8s-lab:` keys of a stack's configuration as Pulumi hands them to the program (objects as JSON text). */
export function rawConfig(all: Record<string, string>): RawConfig {
    const raw: Record<string, unknown> = {};
    for (const [key, text] of Object.entries(all)) {
        if (!key.startsWith(`${project}:`)) continue;
        try {
            raw[key.slice(project.length + 1)] = JSON.parse(text);
        } catch {
            // A plain string, which the schema then reports as the wrong type.
            raw[key.slice(project.length + 1)] = text;
        }
    }
    return raw;
}

/**
 * Reads the `k8s-lab:*` stack configuration and validates it. An invalid configuration stops
 * the program with one message (a `RunError`, which Pulumi prints without a stack trace).
 */
export function loadConfig(): LabConfig {
    let lab: LabConfig;
    try {
        lab = validateConfig(rawConfig(pulumi.runtime.allConfig()));
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

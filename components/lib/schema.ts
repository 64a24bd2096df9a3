/**
 * The shape of a lab's stack configuration, written once. From this zod schema come the types
 * the components receive (through components/lib/config.ts), the checks and defaults at preview,
 * the JSON Schema editors use (`schema/k8s-lab.schema.json`, `npm run schema`) and the README's
 * configuration reference. A check a JSON Schema can express is written here as a pattern, a
 * range or an enum, so that the editor flags what the preview would; the rules that span
 * settings live in components/lib/config.ts.
 *
 * Messages never echo a secret: the fields that hold one have messages that do not quote the
 * value, and a map key is never quoted when it carries credentials.
 */
import { z } from "zod";
import { cidrNetwork, isIpv6 } from "./net";
import { defaultKubernetesMinor, kubernetesReleases } from "./versions";

export const project = "k8s-lab";
/** Where the JSON Schema lives, relative to the project root (and so to every stack file beside Pulumi.yaml). */
export const schemaFile = "schema/k8s-lab.schema.json";
/** First line of every stack file: yaml-language-server (VS Code's YAML extension, and others) validates against the schema. */
export const modeline = `# yaml-language-server: $schema=./${schemaFile}`;

/** What a setting says about itself beyond its type: read by the JSON Schema and the README generators. */
interface Doc {
    description: string;
    /** A default the program works out from other settings, in words. */
    defaultText?: string;
    /** Pulumi may hold the value encrypted (`pulumi config set --secret`); the stack file then has `{ secure: ... }`. */
    secret?: boolean;
    /** The default, where zod leaves it out of the JSON Schema (a default of a transformed value). */
    defaultValue?: unknown;
}

/** The value as a message may show it: short, and never a crash on odd input. */
export function quote(v: unknown): string {
    let s: string;
    try {
        s = JSON.stringify(v) ?? String(v);
    } catch {
        s = String(v);
    }
    return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/**
 * A message for a value of the right type that fails a check; a missing or mistyped value
 * falls through to `genericMessages`.
 */
function badValue(explain: (input: unknown) => string) {
    return (iss: z.core.$ZodRawIssue): string | undefined => (iss.code === "invalid_type" ? undefined : explain(iss.input));
}

/** Messages for what no setting words for itself: missing keys, wrong types, enums. */
export const genericMessages: z.core.$ZodErrorMap = (iss) => {
    switch (iss.code) {
        case "invalid_type":
            if (iss.input === undefined) return "is required";
            switch (iss.expected) {
                case "string":
                    return "must be a non-empty string";
                case "boolean":
                    return "must be true or false";
                case "number":
                case "int":
                    return `${quote(iss.input)} is not a number`;
                case "array":
                    return "must be a list";
                case "object":
                case "record":
                    return "must be an object";
                default:
                    return `must be ${iss.expected}`;
            }
        case "too_small":
            return iss.origin === "string" ? "must be a non-empty string" : "must not be empty";
        case "invalid_value":
            return `${quote(iss.input)} is not allowed; use one of ${iss.values.join(", ")}`;
        default:
            return undefined;
    }
};

function escape(s: string): string {
    return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// Every pattern's source is also a JSON Schema `pattern`, which editors and ajv run with the
// `u` flag: no flags, no escapes that unicode mode refuses.
const octet = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
const ipv4 = `${octet}(\\.${octet}){3}`;
const label = "[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?";
const dnsName = `(?=.{1,253}$)${label}(\\.${label})*`;
const supportedMinors = Object.keys(kubernetesReleases);

export const patterns = {
    dns1123Label: /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/,
    /** An IPv4 address, or a DNS name that is not all digits and dots (so 300.1.1.1 is neither). */
    address: new RegExp(`^(${ipv4}|(?![0-9.]+$)${dnsName})$`),
    ipv4: new RegExp(`^${ipv4}$`),
    /** A Linux interface name: at most 15 characters, no '/', ':' or white space. */
    interfaceName: /^[A-Za-z0-9_.-]{1,15}$/,
    dnsName: new RegExp(`^${dnsName}$`),
    cidr: new RegExp(`^${ipv4}/(3[0-2]|[12][0-9]|[0-9])$`),
    /** A registry host, with a port if any: the key of containerd's certs.d directory. */
    registryHost: new RegExp(`^${dnsName}(:[0-9]{1,5})?$`),
    /** http(s), and nothing before the host: `user:password@` would be kept in plaintext. */
    url: /^https?:\/\/[^/?#@\s'"\\]+([/?#][^\s'"\\]*)?$/,
    /** A registry reference (`registry.example.cn/mirror`), with no credentials before its host. */
    registry: /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)?[^/?#@\s]+([/?#]\S*)?$/,
    privateKey: /PRIVATE KEY/,
    hostKey: /^\s*(ssh-ed25519|ssh-rsa|rsa-sha2-256|rsa-sha2-512|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,2}( .*)?\s*$/,
    version: new RegExp(`^v?(${supportedMinors.map(escape).join("|")})(\\.(0|[1-9][0-9]*))?$`),
    exportPath: /^(?!.*\.\.)\/[A-Za-z0-9._/-]+$/,
    objectName: /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/,
    quantity: /^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/,
    duration: /^[0-9]+(ms|s|m|h|d|w|y)$/,
    /**
     * A kubeadm preflight check as kubeadm names it in `[ERROR <name>]`: a CamelCase word, then
     * what it checks after a `-` (`Port-6443`, `FileContent--proc-sys-net-ipv4-ip_forward`).
     * Never `all`, in any case.
     */
    preflightCheck: /^(?![Aa][Ll][Ll]$)[A-Z][A-Za-z0-9]*(-[-A-Za-z0-9._]*[A-Za-z0-9])?$/,
};

/** True when a URL or registry reference carries `user[:password]@` before its host. */
export function hasCredentials(s: unknown): boolean {
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

const credentials = {
    apt: credentialsProblem("in every host's apt sources", "configure the credentials on the hosts (/etc/apt/auth.conf.d)"),
    registries: credentialsProblem("in every host's containerd hosts.toml", "configure the credentials on the hosts (the registry's hosts.toml in /etc/containerd/certs.d)"),
    imageRegistry: credentialsProblem("in every chart's image references", "configure the credentials on the hosts (the registry's hosts.toml in /etc/containerd/certs.d)"),
    // Helm fetches charts where Pulumi runs, not on the hosts.
    charts: credentialsProblem("in the Helm releases' inputs", "let the mirror serve the machine that runs Pulumi without them"),
};

function ipv6Problem(input: unknown, what: string, instead: string): string | undefined {
    return typeof input === "string" && isIpv6(input) ? `${quote(input)}: IPv6 is not supported for ${what} (the lab is IPv4-only); ${instead}` : undefined;
}

function address(what: string) {
    return z
        .string({
            error: (iss) =>
                iss.input === undefined
                    ? "is required: an IPv4 address or a DNS name"
                    : iss.code === "invalid_type"
                      ? undefined
                      : (ipv6Problem(iss.input, what, "give an IPv4 address or a DNS name that resolves to one") ?? `${quote(iss.input)} is not an IPv4 address or DNS name`),
        })
        .regex(patterns.address);
}

const port = z
    .number({ error: (iss) => (iss.input === undefined ? undefined : `${quote(iss.input)} is not a port; use a whole number from 1 to 65535`) })
    .int()
    .min(1)
    .max(65535);

const nodePort = z
    .number({
        error: (iss) =>
            iss.input === undefined
                ? undefined
                : iss.code === "invalid_type" || !Number.isInteger(iss.input)
                  ? `${quote(iss.input)} is not a port; use a whole number from 30000 to 32767 (the NodePort range)`
                  : `${quote(iss.input)} is outside the NodePort range; use 30000-32767`,
    })
    .int()
    .min(30000)
    .max(32767);

const hostKey = z
    .string({
        error: badValue(
            () => "is not an SSH public host key; give one line such as `ssh-ed25519 AAAA...`, from `ssh-keyscan -t ed25519 <host>` or the host's /etc/ssh/ssh_host_ed25519_key.pub",
        ),
    })
    .regex(patterns.hostKey)
    .transform((s) => s.trim());

const nonEmpty = z.string().min(1);

function httpUrl(credentialsFix: string) {
    return z
        .string({ error: badValue((v) => (hasCredentials(v) ? credentialsFix : `${quote(v)} is not an http(s) URL`)) })
        .regex(patterns.url);
}

function cidr(defaultValue: string) {
    return z
        .string({
            error: badValue(
                (v) =>
                    ipv6Problem(v, "pod and service subnets", `use an IPv4 CIDR such as ${defaultValue}`) ??
                    (typeof v === "string" && cidrNetwork(v)
                        ? `${quote(v)} is not an IPv4 CIDR: it has host bits set; use its network, ${cidrNetwork(v)}`
                        : `${quote(v)} is not an IPv4 CIDR such as ${defaultValue}`),
            ),
        })
        .regex(patterns.cidr)
        // Host bits are the one CIDR check a JSON Schema pattern cannot make.
        .refine((s) => !patterns.cidr.test(s) || cidrNetwork(s) === s)
        .default(defaultValue);
}

const storageClassName = z
    .string({ error: badValue((v) => `${quote(v)} is not a StorageClass name (lower-case letters, digits, '-' and '.')`) })
    .regex(patterns.objectName);

const size = z.string({ error: badValue((v) => `${quote(v)} is not a size such as 10Gi`) }).regex(patterns.quantity);

const helmValues = z
    .record(z.string(), z.unknown(), { error: (iss) => (iss.code === "invalid_type" && iss.input !== undefined ? "must be an object of Helm values" : undefined) })
    .default({})
    .meta({ description: "Helm values merged over the lab's own: the escape hatch for what the lab does not set." });

/** An object of named settings: any other key is reported (usually a typo), with the keys there are. */
function settings<S extends z.core.$ZodLooseShape>(shape: S) {
    const known = Object.keys(shape).join(", ");
    return z.strictObject(shape, {
        error: (iss) =>
            iss.code === "unrecognized_keys"
                ? `unknown setting; known settings are ${known}`
                : iss.code === "invalid_type" && iss.input !== undefined
                  ? `must be an object of settings (${known})`
                  : undefined,
    });
}

function doc<T extends z.ZodType>(schema: T, d: Doc): T {
    return schema.meta({ ...d });
}

export const roles = ["control-plane", "worker", "nfs"] as const;

const hostSchema = z
    .strictObject(
        {
            name: doc(
                z
                    .string({
                        error: (iss) =>
                            iss.input === undefined
                                ? "is required: the node name, such as cp1"
                                : iss.code === "invalid_type"
                                  ? undefined
                                  : `${quote(iss.input)} is not a DNS-1123 label; use lower-case letters, digits and '-' (it becomes the node name)`,
                    })
                    .regex(patterns.dns1123Label),
                { description: "Node name: a DNS-1123 label (lower-case letters, digits, '-')." },
            ),
            address: doc(address("a host's address"), {
                description:
                    "IPv4 address or DNS name, the one the other hosts reach it by: the control plane advertises it and the kubelet registers the node with it. The operator's machine (or the bastion) reaches it over SSH.",
            }),
            roles: doc(
                z
                    .array(z.enum(roles, { error: badValue((v) => `${quote(v)} is not a role; use ${roles.join(", ")}`) }), {
                        error: (iss) => (iss.code === "invalid_type" ? `is required: a list of ${roles.join(", ")}` : undefined),
                    })
                    .min(1, { error: `is required: a list of ${roles.join(", ")}` }),
                { description: "Any of `control-plane`, `worker`, `nfs`; a host is either control-plane or worker." },
            ),
            user: doc(nonEmpty.optional(), { description: "SSH login for this host.", defaultText: "`ssh.user`" }),
            port: doc(port.optional(), { description: "SSH port for this host.", defaultText: "`ssh.port`" }),
            hostKey: doc(hostKey.optional(), {
                description:
                    "The host's SSH public host key (`ssh-ed25519 AAAA...`, from `ssh-keyscan -t ed25519 <address>` checked against the host's console). A host that presents another key is refused before anything runs; without it any key is accepted.",
            }),
        },
        {
            error: (iss) =>
                iss.code === "unrecognized_keys"
                    ? "unknown setting; known settings are name, address, roles, user, port, hostKey"
                    : iss.code === "invalid_type" && iss.input !== undefined
                      ? "must be an object such as { name: cp1, address: 192.168.56.10, roles: [control-plane] }"
                      : undefined,
        },
    );

const hostsSchema = doc(
    z
        .array(hostSchema, {
            error: (iss) =>
                iss.code !== "invalid_type"
                    ? undefined
                    : iss.input === undefined
                      ? "no hosts; list at least one host with the control-plane role (see Pulumi.dev.yaml)"
                      : "must be a list of { name, address, roles }",
        })
        .min(1, { error: "no hosts; list at least one host with the control-plane role" }),
    {
        description:
            "The lab's machines. One has the control-plane role, or an odd number (3, 5) for a highly available control plane behind `controlPlane.vip`; the first of them runs `kubeadm init` and stays for the lab's life. " +
            "With no workers the lab is all control plane and the control planes take workloads (their taint is dropped); at most one host has the nfs role (else the first control plane serves NFS).",
    },
);

const privateKey = z.string({ error: badValue(() => "does not look like a private key; paste the whole key file, or use privateKeyPath") }).regex(patterns.privateKey);
const password = nonEmpty;

const credentialFields = {
    privateKey: doc(privateKey.optional(), {
        description: "Private key, OpenSSH or PEM: `pulumi config set --secret --path k8s-lab:ssh.privateKey < key`.",
        secret: true,
    }),
    privateKeyPath: doc(nonEmpty.optional(), { description: "Path of a private key file on the machine that runs Pulumi (`~/` allowed), read at preview." }),
    password: doc(password.optional(), { description: "SSH password.", secret: true }),
};

const bastionSchema = settings({
    address: doc(address("the bastion"), { description: "IPv4 address or DNS name of the jump host." }),
    user: doc(nonEmpty.optional(), { description: "SSH login on the bastion.", defaultText: "`ssh.user`" }),
    port: doc(port.default(22), { description: "SSH port of the bastion." }),
    privateKey: doc(privateKey.optional(), { description: "Private key for the bastion.", defaultText: "`ssh.privateKey`", secret: true }),
    privateKeyPath: doc(nonEmpty.optional(), { description: "Path of the bastion's private key file on this machine." }),
    password: doc(password.optional(), { description: "Password for the bastion.", defaultText: "`ssh.password`", secret: true }),
    hostKey: doc(hostKey.optional(), { description: "The bastion's SSH public host key; a bastion that presents another is refused." }),
    apiServerReachable: doc(z.boolean().default(false), {
        description:
            "This machine reaches the API server and the NodePorts without the bastion (a VPN, a route): the layers, `verify` and the UIs connect there directly. Required with any layer on.",
    }),
});

const sshSchema = doc(
    settings({
        user: doc(nonEmpty.default("root"), { description: "SSH login for every host (a host's `user` overrides it)." }),
        port: doc(port.default(22), { description: "SSH port for every host (a host's `port` overrides it)." }),
        ...credentialFields,
        bastion: doc(bastionSchema.optional(), {
            description:
                "Jump host for the host steps. The layers, `verify` and the UIs reach the API server and NodePorts directly, so with any layer on set `apiServerReachable: true` once this machine reaches them.",
        }),
    }).prefault({}),
    {
        description: "How the host steps log in: one of `privateKey`, `privateKeyPath` or `password` is required, and Pulumi keeps the first and last encrypted.",
        secret: true,
    },
);

const versionProblem = (v: unknown) =>
    `${quote(v)} is not supported; use one of ${supportedMinors.join(", ")} (or a patch release of one, such as ${kubernetesReleases[defaultKubernetesMinor]})`;

/** A field of a component configuration the lab sets itself or depends on, and what to do instead. */
interface OwnedField {
    why: string;
    fix?: string;
}

const documentType: OwnedField = { why: "it writes the document's apiVersion and kind", fix: "give only the document's fields" };

/**
 * The fields of the kubelet's and kube-proxy's configuration that the lab sets or depends on:
 * a stack that sets one is refused. The JSON Schema refuses them too (a pattern of the keys).
 */
export const labOwnedFields: Record<"kubelet" | "kubeProxy", Record<string, OwnedField>> = {
    kubelet: {
        apiVersion: documentType,
        kind: documentType,
        cgroupDriver: { why: "systemd, as host preparation configures containerd's SystemdCgroup, and the two must agree" },
        containerRuntimeEndpoint: { why: "the containerd socket host preparation sets up and kubeadm registers" },
        staticPodPath: { why: "certificate renewal and etcd restore move the control plane's manifests in and out of /etc/kubernetes/manifests" },
        fileCheckFrequency: { why: "certificate renewal keeps the manifests away for the kubelet's default 20 s to restart the static pods" },
        clusterDomain: { why: "cluster.local, the domain kubeadm gives CoreDNS" },
        rotateCertificates: { why: "kubeadm turns it on whatever is set; the kubelets' certificates are renewed only by it" },
        port: { why: "10250, which preflight checks is free and the API server and the monitoring layer reach" },
    },
    kubeProxy: {
        apiVersion: documentType,
        kind: documentType,
        metricsBindAddress: { why: "0.0.0.0:10249, which the monitoring layer scrapes" },
        clusterCIDR: { why: "kubeadm sets it to the pod subnet", fix: "set k8s-lab:kubernetes.podSubnet instead" },
    },
};

/** True for what JSON can hold: null, booleans, finite numbers, strings, and lists and objects of them. */
function isPlainJson(v: unknown): boolean {
    if (v === null || typeof v === "boolean" || typeof v === "string") return true;
    if (typeof v === "number") return Number.isFinite(v);
    if (Array.isArray(v)) return v.every(isPlainJson);
    return typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype && Object.values(v as object).every(isPlainJson);
}

// Any value in the JSON Schema, as a stack file can only hold plain values; the program checks
// it all the same, for a configuration that comes from elsewhere.
const jsonValue = z.unknown().refine(isPlainJson, { error: "must be a plain JSON value (null, true or false, a number, a string, or a list or object of them)" });

/**
 * Fields merged over a component configuration the lab renders (components/lib/kubeadm.ts): any
 * plain JSON value under a field name, and none of the fields the lab owns.
 */
function componentConfiguration(kind: string, component: keyof typeof labOwnedFields, example: string, description: string) {
    const owned = labOwnedFields[component];
    const names = Object.keys(owned);
    const fields = names.filter((n) => owned[n] !== documentType);
    const fieldName = new RegExp(`^(?!(${names.join("|")})$)[a-z][A-Za-z0-9]*$`);
    const keyProblem = (k: unknown): string => {
        const o = typeof k === "string" && Object.hasOwn(owned, k) ? owned[k] : undefined;
        return o
            ? `${quote(k)} is the lab's: ${o.why}; ${o.fix ?? "leave it out"}`
            : `${quote(k)} is not a ${kind} field name; give fields as the ${kind} reference spells them (lowerCamelCase, such as ${example})`;
    };
    return doc(
        z
            .record(z.string({ error: badValue(keyProblem) }).regex(fieldName), jsonValue, {
                error: (iss) => (iss.code === "invalid_type" && iss.input !== undefined ? `must be an object of ${kind} fields` : undefined),
            })
            .default({}),
        { description: `${description} Refused, as the lab sets or relies on them: ${fields.join(", ")}.` },
    );
}

const preflightCheckProblem = (v: unknown) =>
    typeof v === "string" && v.toLowerCase() === "all"
        ? `${quote(v)} would skip every check, also those that catch a host kubeadm cannot run on; list the checks to skip instead, as kubeadm names them in its [ERROR <name>] lines (such as SystemVerification)`
        : v === ""
          ? "must be a non-empty string: a check's name, such as SystemVerification"
          : `${quote(v)} is not a kubeadm preflight check name; give it as kubeadm prints it in [ERROR <name>], such as SystemVerification, Swap, Port-6443 or FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml`;

const ignorePreflightErrors = z
    .array(z.string({ error: badValue(preflightCheckProblem) }).regex(patterns.preflightCheck), {
        error: (iss) => (iss.code === "invalid_type" && iss.input !== undefined ? "must be a list of kubeadm preflight check names, such as [SystemVerification]" : undefined),
    })
    .superRefine((checks, ctx) => {
        checks.forEach((c, i) => {
            if (checks.indexOf(c) < i) ctx.addIssue({ code: "custom", path: [i], input: c, message: `${quote(c)} is listed twice; list each check once` });
        });
    })
    .default([])
    // What the duplicates check says, for the editor.
    .meta({ uniqueItems: true });

const kubernetesSchema = doc(
    settings({
        version: doc(
            z
                .union(
                    [
                        z.string({ error: badValue(versionProblem) }).regex(patterns.version),
                        // An unquoted `version: 1.36` is a YAML number.
                        ...supportedMinors.map((m) => z.literal(Number(m))),
                    ],
                    { error: (iss) => versionProblem(iss.input) },
                )
                .transform(String)
                .prefault(defaultKubernetesMinor),
            {
                description: `Kubernetes ${supportedMinors.join(", ")}, or a patch release of one; a minor installs its pinned patch release (${Object.entries(kubernetesReleases)
                    .map(([m, p]) => `${m} → ${p}`)
                    .join(", ")}).`,
            },
        ),
        podSubnet: doc(cidr("10.244.0.0/16"), { description: "Pod CIDR, also Calico's IPv4 pool; apart from serviceSubnet and the hosts' addresses." }),
        serviceSubnet: doc(cidr("10.96.0.0/12"), { description: "Service CIDR; apart from podSubnet and the hosts' addresses." }),
        imageRepository: doc(nonEmpty.default("registry.k8s.io"), { description: "Registry of the control-plane and pause images (e.g. a mirror in China)." }),
        apiServerPort: doc(port.default(6443), { description: "API server port." }),
        controlPlaneEndpoint: doc(address("the control-plane endpoint").optional(), {
            description: "Address clients use for the API server; with `controlPlane.vip`, the virtual IP or a DNS name that resolves to it.",
            defaultText: "`controlPlane.vip`, else the control-plane host's address",
        }),
        containerd: doc(z.enum(["docker", "distro"]).default("docker"), {
            description: "Where containerd comes from: `docker` (Docker's containerd.io 2.x, needed from Kubernetes 1.36) or `distro` (the distribution's package).",
        }),
        kubeletConfiguration: componentConfiguration(
            "KubeletConfiguration",
            "kubelet",
            "failCgroupV1",
            "KubeletConfiguration fields (kubelet.config.k8s.io/v1beta1) merged over the lab's, for hosts that need them: " +
                "`{ failCgroupV1: false }` on a cgroup v1 host (with `SystemVerification` in ignorePreflightErrors), `evictionHard` thresholds on a small shared disk. " +
                "Read when the cluster is made: kubeadm keeps it in kube-system/kubelet-config, which joins and upgrades read (see Changing a lab).",
        ),
        kubeProxyConfiguration: componentConfiguration(
            "KubeProxyConfiguration",
            "kubeProxy",
            "conntrack",
            "KubeProxyConfiguration fields (kubeproxy.config.k8s.io/v1alpha1) merged over the lab's: `{ conntrack: { maxPerCore: 0 } }` on a host where kube-proxy cannot set nf_conntrack_max (a container). " +
                "Read when the cluster is made: kubeadm keeps it in kube-system/kube-proxy (see Changing a lab).",
        ),
        ignorePreflightErrors: doc(ignorePreflightErrors, {
            description:
                "kubeadm preflight checks to skip, by the names kubeadm prints in `[ERROR <name>]` (such as `SystemVerification` on a cgroup v1 host): in the kubeadm configuration of `kubeadm init`, " +
                "as `--ignore-preflight-errors` of `kubeadm join`, `kubeadm upgrade apply` and `kubeadm upgrade node`. Never `all`; each check once.",
        }),
    }).prefault({}),
    { description: "The cluster kubeadm makes." },
);

const mirrorsSchema = doc(
    settings({
        kubernetesApt: doc(
            httpUrl(credentials.apt)
                .transform((s) => (s.endsWith("/") ? s : `${s}/`))
                .default("https://pkgs.k8s.io/core:/stable:/v{minor}/deb/"),
            { description: "Kubernetes apt repository; `{minor}` is replaced by the Kubernetes minor.", defaultValue: "https://pkgs.k8s.io/core:/stable:/v{minor}/deb/" },
        ),
        kubernetesAptKey: doc(httpUrl(credentials.apt).optional(), { description: "URL of that repository's signing key.", defaultText: "`<kubernetesApt>Release.key`" }),
        containerdApt: doc(
            httpUrl(credentials.apt)
                .transform((s) => s.replace(/\/$/, ""))
                .default("https://download.docker.com/linux"),
            { description: "Docker's apt repository base; the hosts append `/<distribution>`.", defaultValue: "https://download.docker.com/linux" },
        ),
        registries: doc(
            z
                .record(
                    z.string({ error: badValue((k) => (hasCredentials(k) ? `a key ${credentials.registries}` : `${quote(k)} is not a registry host such as docker.io`)) }).regex(patterns.registryHost),
                    z
                        .array(httpUrl(credentials.registries), {
                            error: (iss) => (iss.code === "invalid_type" ? "must be a list of mirror URLs such as [https://mirror.example.com]" : undefined),
                        })
                        .min(1, { error: "must be a list of mirror URLs such as [https://mirror.example.com]" }),
                )
                .default({}),
            { description: "containerd registry mirrors, tried in order: `{ docker.io: [https://mirror.example.com] }`; certs.d `hosts.toml` on every node." },
        ),
        imageRegistry: doc(
            z
                .string({ error: badValue((v) => (hasCredentials(v) ? credentials.imageRegistry : `${quote(v)} is not a registry such as registry.example.cn/mirror`)) })
                .regex(patterns.registry)
                .optional(),
            { description: "Registry that replaces the upstream registries in every layer's images." },
        ),
        chartRepositories: doc(
            z
                .record(
                    z.string({ error: badValue((k) => (hasCredentials(k) ? `a key ${credentials.charts}` : `${quote(k)} is not an http(s) URL; map an upstream chart repository URL to a mirror URL`)) }).regex(patterns.url),
                    httpUrl(credentials.charts),
                )
                .default({}),
            { description: "Helm chart repository mirrors: upstream repository URL → mirror URL." },
        ),
    }).prefault({}),
    { description: "Where packages, images and charts come from. No URL may carry credentials: they would be kept in plaintext in the Pulumi state and on the hosts." },
);

/** A layer: `false` is off; `true`, `null` (an empty YAML value) and `{}` are on with the defaults. */
function layer<S extends z.ZodType<object>>(settingsSchema: S, on: boolean, description: string) {
    const schema = z
        .union([z.boolean(), z.null(), settingsSchema], {
            error: (iss) => (iss.code === "invalid_union" ? "must be false (off) or an object of settings ({} for the defaults)" : undefined),
        })
        .transform((v): z.output<S> | false => (v === false ? false : v === true || v === null ? settingsSchema.parse({}) : v));
    return doc(on ? schema.prefault(true) : schema.default(false), { description });
}

const nfsClassDefault = "`addons.nfs.storageClassName`; required when the nfs layer is off";

const addonsSchema = doc(
    settings({
        calico: layer(
            settings({
                encapsulation: doc(z.enum(["VXLAN", "VXLANCrossSubnet", "IPIP", "None"]).default("VXLAN"), { description: "Calico's encapsulation: VXLAN needs no BGP." }),
                values: helmValues,
            }),
            true,
            "Pod network by the Tigera operator: one IPv4 pool equal to `kubernetes.podSubnet`.",
        ),
        ingress: layer(
            settings({
                controller: doc(z.enum(["ingress-nginx", "traefik"]).default("ingress-nginx"), { description: "`ingress-nginx` (the guide's; retired upstream) or `traefik`." }),
                httpNodePort: doc(nodePort.default(30080), { description: "NodePort of HTTP on every node (30000-32767)." }),
                httpsNodePort: doc(nodePort.default(30443), { description: "NodePort of HTTPS on every node; differs from httpNodePort." }),
                baseDomain: doc(
                    z.string({ error: badValue((v) => `${quote(v)} is not a DNS name`) }).regex(patterns.dnsName).optional(),
                    { description: "Base domain of the UIs (`grafana.<baseDomain>`).", defaultText: "`<control-plane address>.nip.io`, which stays as workers come and go" },
                ),
                values: helmValues,
            }),
            true,
            "Bare-metal ingress on NodePorts of every node, the default IngressClass. Logging, monitoring and samples need it.",
        ),
        nfs: layer(
            settings({
                exportPath: doc(
                    z.string({ error: badValue((v) => `${quote(v)} is not an absolute directory path (letters, digits, '.', '_', '-', '/')`) }).regex(patterns.exportPath).default("/srv/nfs/k8s-lab"),
                    { description: "Directory the NFS server exports to the lab's hosts." },
                ),
                storageClassName: doc(storageClassName.default("nfs-storage"), { description: "The StorageClass of csi-driver-nfs (a sub-directory per claim)." }),
                defaultClass: doc(z.boolean().default(true), { description: "Make it the cluster's default StorageClass." }),
                reclaimPolicy: doc(z.enum(["Delete", "Retain"]).default("Delete"), { description: "What happens to a claim's data when the claim goes." }),
                deleteDataOnRemove: doc(z.boolean().default(false), { description: "Remove the exported data when the layer is removed." }),
                values: helmValues,
            }),
            true,
            "NFS server over SSH on the `nfs` host (else the control plane), csi-driver-nfs and its StorageClass.",
        ),
        logging: layer(
            settings({
                storageClassName: doc(storageClassName.optional(), { description: "StorageClass of Elasticsearch's data.", defaultText: nfsClassDefault }),
                storageSize: doc(size.default("10Gi"), { description: "Size of Elasticsearch's data volume." }),
                values: doc(helmValues, { description: "Helm values for Fluent Bit." }),
            }),
            true,
            "ECK (Elasticsearch, Kibana behind the ingress) and Fluent Bit on every node; needs ingress.",
        ),
        monitoring: layer(
            settings({
                storageClassName: doc(storageClassName.optional(), { description: "StorageClass of Prometheus's data.", defaultText: nfsClassDefault }),
                storageSize: doc(size.default("10Gi"), { description: "Size of Prometheus's data volume." }),
                retention: doc(z.string({ error: badValue((v) => `${quote(v)} is not a duration such as 10d`) }).regex(patterns.duration).default("10d"), {
                    description: "How long Prometheus keeps data.",
                }),
                values: helmValues,
            }),
            true,
            "kube-prometheus-stack (Prometheus, Alertmanager, Grafana behind the ingress); needs ingress.",
        ),
        samples: layer(
            settings({
                storageClassName: doc(storageClassName.optional(), { description: "StorageClass of the web app's content claim.", defaultText: nfsClassDefault }),
            }),
            false,
            "The guide's sample web app: nginx serving a page from an NFS claim at `web.<baseDomain>`; off unless set; needs ingress.",
        ),
    }).prefault({}),
    { description: "The layers, each `false` (off), absent, `{}` or an empty value (on, with defaults), or an object of settings." },
);

const certificatesSchema = doc(
    settings({
        renewWithin: doc(
            z
                .number({ error: (iss) => (iss.input === undefined ? undefined : `${quote(iss.input)} is not a number of days from 0 (never renew) to 180`) })
                .int()
                .min(0)
                .max(180)
                .default(30),
            {
                description:
                    "Days: an `up` this close to the expiry renews every certificate (`kubeadm certs renew all`, the control-plane static pods restarted) and reads the kubeconfig again; 0 never renews. At most 180, so that renewed certificates are outside the window.",
            },
        ),
    }).prefault({}),
    { description: "The control plane's certificates, which kubeadm makes valid for a year; the stack output `certificatesExpire` says when." },
);

const controlPlaneSchema = doc(
    settings({
        vip: doc(
            z
                .string({
                    error: badValue(
                        (v) =>
                            ipv6Problem(v, "the virtual IP", "give a free IPv4 address on the control planes' network") ??
                            `${quote(v)} is not an IPv4 address; give a free address on the control planes' network, such as 192.168.56.9`,
                    ),
                })
                .regex(patterns.ipv4)
                .optional(),
            {
                description:
                    "A free IPv4 address on the control planes' network that kube-vip (a static pod on every control plane, ARP mode) keeps on the control plane holding its lease: the API server's address, `kubernetes.controlPlaneEndpoint`. " +
                    "Required with more than one control plane; with one, set it from the start to add control planes later without a new cluster.",
            },
        ),
        vipInterface: doc(
            z
                .string({ error: badValue((v) => `${quote(v)} is not a network interface name (at most 15 letters, digits, '.', '_', '-')`) })
                .regex(patterns.interfaceName)
                .optional(),
            {
                description: "The interface kube-vip puts the virtual IP on.",
                defaultText: "on each control plane, the interface that holds its address (not the default route's, which on a Vagrant box is the NAT one)",
            },
        ),
    }).prefault({}),
    { description: "The control plane's virtual IP, for a highly available control plane (several control-plane hosts)." },
);

const preflightSchema = doc(z.boolean().default(true), {
    description:
        "Check the hosts at every preview, read-only, before anything changes (scripts/preflight.sh over SSH): login and passwordless sudo, a supported apt-based system, cgroup v2 (or the kubernetes settings that run the lab on v1), free ports on hosts new to the lab, the node address on an interface, clocks within 5 s, the mirrors answering from each host, memory and disk for the layers on. Every problem fails the preview; hosts that do not answer yet are skipped, with a warning. `false` turns it off.",
});

/** The settings under the `k8s-lab:` namespace, each a key of its own in the stack file. */
export const labSchema = z.strictObject({
    hosts: hostsSchema,
    ssh: sshSchema,
    kubernetes: kubernetesSchema,
    controlPlane: controlPlaneSchema,
    mirrors: mirrorsSchema,
    addons: addonsSchema,
    preflight: preflightSchema,
    certificates: certificatesSchema,
});

export type LabSettings = z.output<typeof labSchema>;
export type Section = keyof LabSettings;
export const sections = Object.keys(labSchema.shape) as Section[];

type Json = Record<string, unknown>;

const secureValue: Json = {
    type: "object",
    description: "A value Pulumi keeps encrypted (`pulumi config set --secret`).",
    properties: { secure: { type: "string" } },
    required: ["secure"],
    additionalProperties: false,
};

/**
 * JSON Schema of the settings. For editors (`docs: false`), a secret may also be `{ secure: ... }`
 * and a default the program works out is said in the description. For the README generator
 * (`docs: true`), `secret` and `defaultText` stay as they are.
 */
export function settingsJsonSchema(docs = false): Json {
    return z.toJSONSchema(labSchema, {
        target: "draft-07",
        io: "input",
        override: ({ jsonSchema }) => {
            const s = jsonSchema as Json;
            if ("defaultValue" in s) {
                s.default = s.defaultValue;
                delete s.defaultValue;
            }
            if (docs) return;
            if (typeof s.defaultText === "string") {
                s.description = `${s.description ?? ""} Default: ${s.defaultText}.`.trim();
                delete s.defaultText;
            }
            if (s.secret === true) {
                delete s.secret;
                const { description, default: defaultValue, ...plain } = s;
                for (const k of Object.keys(s)) delete s[k];
                Object.assign(s, {
                    description: `${description ?? ""} May be encrypted (\`pulumi config set --secret\`).`.trim(),
                    ...(defaultValue === undefined ? {} : { default: defaultValue }),
                    anyOf: [plain, secureValue],
                });
            }
        },
    }) as Json;
}

/** JSON Schema of a stack file, `Pulumi.<stack>.yaml`: Pulumi's own keys and the lab's settings under `config:`. */
export function stackFileJsonSchema(): Json {
    const settings = settingsJsonSchema();
    const properties = settings.properties as Record<string, Json>;
    const key = (k: string) => `${project}:${k}`;
    return {
        $schema: "http://json-schema.org/draft-07/schema#",
        title: `${project} stack file (Pulumi.<stack>.yaml)`,
        description: `Generated from components/lib/schema.ts by \`npm run schema\`. The lab's settings are the config keys under ${project}:.`,
        type: "object",
        properties: {
            config: {
                type: "object",
                description: `Stack configuration: the lab's settings (${project}:*) and any other namespace's keys (providers, pulumi:*).`,
                properties: Object.fromEntries(Object.entries(properties).map(([k, v]) => [key(k), v])),
                required: ((settings.required ?? []) as string[]).map(key),
                patternProperties: { [`^(?!${escape(project)}:)[^:]+:`]: {} },
                additionalProperties: false,
            },
            secretsprovider: { type: "string", description: "Pulumi: the stack's secrets provider." },
            encryptedkey: { type: "string", description: "Pulumi: the data key, encrypted by a cloud secrets provider." },
            encryptionsalt: { type: "string", description: "Pulumi: the passphrase provider's salt." },
            environment: { description: "Pulumi ESC environments the stack imports." },
        },
        required: ["config"],
        additionalProperties: false,
    };
}

/**
 * One function a host script: each turns typed settings into that script's parameters and
 * renders it (components/lib/render.ts). Pure, and tested without mocks.
 */
import { KubernetesSettings, MirrorSettings, VipSettings } from "./config";
import { kubeVipManifest } from "./kubeVip";
import { renderScript } from "./render";
import { containerdIoVersion } from "./versions";

/** `registry mirror...` lines for containerd's certs.d, in a stable order. */
export function registryMirrorLines(registries: Record<string, string[]>): string {
    return Object.keys(registries)
        .sort()
        .map((r) => [r, ...registries[r]].join(" "))
        .join("\n");
}

/** Host preparation for one host; `nodeIp` pins kubelet's node address (IPv4 addresses only). */
export function hostPrepScript(k8s: KubernetesSettings, mirrors: MirrorSettings, nodeIp = ""): string {
    return renderScript("host-prep", {
        K8S_VERSION: k8s.version,
        K8S_PACKAGE_VERSION: k8s.packageVersion,
        K8S_APT_REPO: mirrors.kubernetesApt,
        K8S_APT_KEY: mirrors.kubernetesAptKey,
        CONTAINERD_SOURCE: k8s.containerdSource,
        CONTAINERD_APT_REPO: mirrors.containerdApt,
        CONTAINERD_VERSION: containerdIoVersion,
        PAUSE_IMAGE: k8s.pauseImage,
        REGISTRY_MIRRORS: registryMirrorLines(mirrors.registries),
        NODE_IP: nodeIp,
    });
}

/** The value of kubeadm's `--ignore-preflight-errors`: the checks, comma-separated ("" for none). */
function preflightChecksFlag(k8s: KubernetesSettings): string {
    return k8s.ignorePreflightErrors.join(",");
}

export interface ControlPlaneScriptInput {
    /** The rendered kubeadm configuration. */
    kubeadmConfig: string;
    /** The cluster's identity lines (components/lib/lifecycle.ts). */
    identity: string[];
    nodeName: string;
    kubernetes: KubernetesSettings;
    singleNode: boolean;
    /** The SSH user, who gets a copy of the admin kubeconfig. */
    user: string;
    /** The host's address in the configuration. */
    nodeAddress: string;
    /** The control plane's virtual IP; undefined for none (no kube-vip). */
    vip?: VipSettings;
}

/** The kube-vip parameters of the control-plane scripts: all empty without a virtual IP. */
function vipParameters(vip: VipSettings | undefined, k8s: KubernetesSettings) {
    return {
        KUBE_VIP_MANIFEST: vip ? kubeVipManifest({ vip, apiServerPort: k8s.apiServerPort }) : "",
        VIP: vip?.address ?? "",
        VIP_INTERFACE: vip?.interface ?? "",
    };
}

export function controlPlaneScript(input: ControlPlaneScriptInput): string {
    return renderScript("control-plane", {
        KUBEADM_CONFIG: input.kubeadmConfig,
        CLUSTER_IDENTITY: input.identity.join("\n"),
        NODE_NAME: input.nodeName,
        K8S_VERSION: input.kubernetes.version,
        K8S_PACKAGE_VERSION: input.kubernetes.packageVersion,
        SINGLE_NODE: String(input.singleNode),
        KUBECONFIG_USER: input.user,
        IGNORE_PREFLIGHT_ERRORS: preflightChecksFlag(input.kubernetes),
        NODE_ADDRESS: input.nodeAddress,
        ...vipParameters(input.vip, input.kubernetes),
    });
}

export interface CertificatesScriptInput {
    /** Certificates that expire at or before this ISO 8601 instant are renewed; "" never. */
    renewBefore: string;
    kubernetes: KubernetesSettings;
    /** The SSH user, whose copy of the admin kubeconfig a renewal refreshes. */
    user: string;
    /** Seconds the static pods' manifests stay away. Default 20, the kubelet's fileCheckFrequency. */
    staticPodPause?: number;
}

export function certificatesScript(input: CertificatesScriptInput): string {
    return renderScript("certificates", {
        RENEW_BEFORE: input.renewBefore,
        K8S_VERSION: input.kubernetes.version,
        KUBECONFIG_USER: input.user,
        STATIC_POD_PAUSE: String(input.staticPodPause ?? 20),
    });
}

export interface WorkerScriptInput {
    nodeName: string;
    kubernetes: KubernetesSettings;
    /** Life of the join token the step makes when it joins, e.g. `10m`. */
    joinTokenTtl: string;
    /** The admin kubeconfig (secret). */
    adminKubeconfig: string;
}

export function workerScript(input: WorkerScriptInput): string {
    return renderScript("worker", {
        NODE_NAME: input.nodeName,
        K8S_VERSION: input.kubernetes.version,
        K8S_PACKAGE_VERSION: input.kubernetes.packageVersion,
        JOIN_TOKEN_TTL: input.joinTokenTtl,
        ADMIN_KUBECONFIG: input.adminKubeconfig,
        IGNORE_PREFLIGHT_ERRORS: preflightChecksFlag(input.kubernetes),
    });
}

/** The Secret in kube-system that carries the certificate key of a control-plane host's join. */
export function certificateKeySecret(nodeName: string): string {
    return `k8s-lab-certificate-key-${nodeName}`;
}

/** The first control plane's step that makes the certificate key of one control-plane join. */
export function certificateKeyScript(nodeName: string): string {
    return renderScript("certificate-key", { NODE_NAME: nodeName, SECRET_NAME: certificateKeySecret(nodeName) });
}

export interface ControlPlaneMemberScriptInput extends WorkerScriptInput {
    nodeAddress: string;
    /** True when the lab has no workers: the control planes take workloads. */
    takesWorkloads: boolean;
    vip: VipSettings;
    /** The SSH user, who gets a copy of the admin kubeconfig. */
    user: string;
}

export function controlPlaneMemberScript(input: ControlPlaneMemberScriptInput): string {
    return renderScript("control-plane-member", {
        NODE_NAME: input.nodeName,
        NODE_ADDRESS: input.nodeAddress,
        API_SERVER_PORT: String(input.kubernetes.apiServerPort),
        K8S_VERSION: input.kubernetes.version,
        K8S_PACKAGE_VERSION: input.kubernetes.packageVersion,
        JOIN_TOKEN_TTL: input.joinTokenTtl,
        ADMIN_KUBECONFIG: input.adminKubeconfig,
        CERTIFICATE_KEY_SECRET: certificateKeySecret(input.nodeName),
        IGNORE_PREFLIGHT_ERRORS: preflightChecksFlag(input.kubernetes),
        TAKES_WORKLOADS: String(input.takesWorkloads),
        KUBECONFIG_USER: input.user,
        ...vipParameters(input.vip, input.kubernetes),
    });
}

export function nfsServerScript(exportPath: string, clients: string[], deleteData: boolean): string {
    return renderScript("nfs-server", { EXPORT_PATH: exportPath, CLIENTS: clients.join(" "), DELETE_DATA: String(deleteData) });
}

/**
 * The etcd snapshot script for `npm run lab -- backup|restore` (cli/snapshot.ts): `save` streams
 * a snapshot to stdout; `restore` reads one on file descriptor 3 and checks it against `sha256`
 * (empty for a save).
 */
export function etcdSnapshotScript(sha256 = ""): string {
    return renderScript("etcd-snapshot", { SNAPSHOT_SHA256: sha256 });
}

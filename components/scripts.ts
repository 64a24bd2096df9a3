/**
 * One function a host script: each turns typed settings into that script's parameters and
 * renders it (components/render.ts). Pure, and tested without mocks.
 */
import { KubernetesSettings, MirrorSettings } from "./config";
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
        IMAGE_REPOSITORY: k8s.imageRepository,
        REGISTRY_MIRRORS: registryMirrorLines(mirrors.registries),
        NODE_IP: nodeIp,
    });
}

export function controlPlaneScript(kubeadmConfig: string, user: string): string {
    return renderScript("control-plane", { KUBEADM_CONFIG: kubeadmConfig, KUBECONFIG_USER: user });
}

export function workerScript(nodeName: string, joinCommand: string): string {
    return renderScript("worker", { NODE_NAME: nodeName, JOIN_COMMAND: joinCommand.trim() });
}

export function membershipScript(nodeName: string): string {
    return renderScript("node-membership", { NODE_NAME: nodeName });
}

export function nfsServerScript(exportPath: string, clients: string[], deleteData: boolean): string {
    return renderScript("nfs-server", { EXPORT_PATH: exportPath, CLIENTS: clients.join(" "), DELETE_DATA: String(deleteData) });
}

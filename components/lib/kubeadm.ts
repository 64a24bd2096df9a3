/**
 * The kubeadm configuration for `kubeadm init`: a pure function of the lab's settings.
 * kubeadm.k8s.io/v1beta4 (v1beta3 is gone in kubeadm 1.36), where `extraArgs` is a list of
 * `{ name, value }`.
 */
import * as YAML from "yaml";
import { Host, KubernetesSettings } from "./config";
import { isIpv4 } from "./net";

export interface KubeadmInput {
    controlPlane: Host;
    kubernetes: KubernetesSettings;
    /** A lab without workers keeps no NoSchedule taint on its control plane. */
    singleNode: boolean;
    clusterName: string;
}

const arg = (name: string, value: string) => ({ name, value });

/** The kubelet's and kube-proxy's configuration documents, as `kubeadm init` gets them. */
export interface ComponentConfiguration {
    kubelet: Record<string, unknown>;
    kubeProxy: Record<string, unknown>;
}

/**
 * The stack's fields over the lab's own. Configuration refuses a stack field the lab sets
 * (components/lib/schema.ts `labOwnedFields`); spreading the lab's again keeps its values and its
 * fields first all the same.
 */
function over(lab: Record<string, unknown>, stack: Record<string, unknown>): Record<string, unknown> {
    return { ...lab, ...stack, ...lab };
}

export function componentConfiguration(k8s: KubernetesSettings): ComponentConfiguration {
    return {
        kubelet: over({ apiVersion: "kubelet.config.k8s.io/v1beta1", kind: "KubeletConfiguration", cgroupDriver: "systemd" }, k8s.kubeletConfiguration),
        kubeProxy: over(
            // Bound beyond 127.0.0.1 so that Prometheus can scrape it (monitoring layer).
            { apiVersion: "kubeproxy.config.k8s.io/v1alpha1", kind: "KubeProxyConfiguration", metricsBindAddress: "0.0.0.0:10249" },
            k8s.kubeProxyConfiguration,
        ),
    };
}

/** Renders the multi-document kubeadm configuration. */
export function kubeadmConfig(input: KubeadmInput): string {
    const { controlPlane, kubernetes: k8s } = input;
    const endpoint = `${k8s.controlPlaneEndpoint}:${k8s.apiServerPort}`;
    const sans = [...new Set([k8s.controlPlaneEndpoint, controlPlane.address, controlPlane.name])];
    const init: Record<string, unknown> = {
        apiVersion: "kubeadm.k8s.io/v1beta4",
        kind: "InitConfiguration",
        nodeRegistration: {
            name: controlPlane.name,
            criSocket: "unix:///run/containerd/containerd.sock",
            // An empty list means no taint; leaving it out would give the default NoSchedule taint.
            taints: input.singleNode ? [] : [{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }],
            ...(k8s.ignorePreflightErrors.length > 0 ? { ignorePreflightErrors: k8s.ignorePreflightErrors } : {}),
        },
        localAPIEndpoint: {
            ...(isIpv4(controlPlane.address) ? { advertiseAddress: controlPlane.address } : {}),
            bindPort: k8s.apiServerPort,
        },
    };
    const cluster = {
        apiVersion: "kubeadm.k8s.io/v1beta4",
        kind: "ClusterConfiguration",
        clusterName: input.clusterName,
        kubernetesVersion: `v${k8s.version}`,
        controlPlaneEndpoint: endpoint,
        imageRepository: k8s.imageRepository,
        networking: {
            podSubnet: k8s.podSubnet,
            serviceSubnet: k8s.serviceSubnet,
            dnsDomain: "cluster.local",
        },
        apiServer: { certSANs: sans },
        // Bound beyond 127.0.0.1 so that Prometheus can scrape them (monitoring layer).
        controllerManager: { extraArgs: [arg("bind-address", "0.0.0.0")] },
        scheduler: { extraArgs: [arg("bind-address", "0.0.0.0")] },
        etcd: { local: { extraArgs: [arg("listen-metrics-urls", "http://0.0.0.0:2381")] } },
    };
    const { kubelet, kubeProxy } = componentConfiguration(k8s);
    return [init, cluster, kubelet, kubeProxy].map((d) => YAML.stringify(d)).join("---\n");
}

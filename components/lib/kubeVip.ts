/**
 * kube-vip's static pod: the virtual IP of a highly available control plane, in ARP mode with
 * leader election, one pod on every control plane. A pure function of the lab's settings.
 *
 * Two values are known only on the host and left as placeholders that the control-plane
 * scripts fill in (lib.sh `write_kube_vip`):
 *   @VIP_INTERFACE@  the interface that holds the host's address, unless the lab names one
 *   @KUBECONFIG@     the kubeconfig kube-vip talks to the API server with: super-admin.conf
 *                    while `kubeadm init` runs (admin.conf has no rights until init binds
 *                    them, from kubeadm 1.29), admin.conf ever after and on joined hosts
 * kube-vip reaches the API server of its own host as `kubernetes:<port>` (`kubernetes_addr`,
 * resolved by the host alias below), not through the virtual IP it is about to serve: from
 * v1.2.2 it otherwise takes the kubeconfig's server, the virtual IP, and during init waits for
 * an address only it can bring up.
 */
import * as YAML from "yaml";
import { VipSettings } from "./config";
import { kubeVip } from "./versions";

export const vipInterfacePlaceholder = "@VIP_INTERFACE@";
export const kubeconfigPlaceholder = "@KUBECONFIG@";

export interface KubeVipInput {
    vip: VipSettings;
    /** The API server port. */
    apiServerPort: number;
}

export function kubeVipManifest(input: KubeVipInput): string {
    const env: Record<string, string> = {
        vip_arp: "true",
        port: String(input.apiServerPort),
        vip_interface: input.vip.interface ?? vipInterfacePlaceholder,
        cp_enable: "true",
        cp_namespace: "kube-system",
        vip_leaderelection: "true",
        vip_leasename: "plndr-cp-lock",
        // kube-vip's own defaults: the address moves within about 5 s of its holder going down.
        vip_leaseduration: "5",
        vip_renewdeadline: "3",
        vip_retryperiod: "1",
        address: input.vip.address,
        kubernetes_addr: `kubernetes:${input.apiServerPort}`,
    };
    const pod = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "kube-vip", namespace: "kube-system" },
        spec: {
            containers: [
                {
                    name: "kube-vip",
                    image: `${kubeVip.image}:${kubeVip.version}`,
                    imagePullPolicy: "IfNotPresent",
                    args: ["manager"],
                    env: Object.entries(env).map(([name, value]) => ({ name, value })),
                    securityContext: { capabilities: { add: ["NET_ADMIN", "NET_RAW"], drop: ["ALL"] } },
                    volumeMounts: [{ name: "kubeconfig", mountPath: "/etc/kubernetes/admin.conf" }],
                },
            ],
            hostAliases: [{ ip: "127.0.0.1", hostnames: ["kubernetes"] }],
            hostNetwork: true,
            // File, not a path the runtime would make a directory of if it were missing.
            volumes: [{ name: "kubeconfig", hostPath: { path: kubeconfigPlaceholder, type: "File" } }],
        },
    };
    return YAML.stringify(pod);
}

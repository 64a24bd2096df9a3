import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { Host, KubernetesSettings, MirrorSettings, Role, SshSettings, VipSettings } from "../lib/config";
import { ControlPlane, PreviousLab } from "./controlPlane";
import { ControlPlaneMember } from "./controlPlaneMember";
import { HostPrep } from "./hostPrep";
import { ComponentConfiguration } from "../lib/kubeadm";
import { WorkerNode } from "./workerNode";

export interface ClusterArgs {
    /** The first control-plane host: it runs `kubeadm init`. Required. */
    controlPlane: Host;
    /** The other control-plane hosts of a highly available control plane, joined one at a time. Default []. */
    otherControlPlanes?: Host[];
    /** The control plane's virtual IP (kube-vip); required with other control planes. Default none. */
    vip?: VipSettings;
    /** Worker hosts; none makes a single-node lab. Default []. */
    workers?: Host[];
    /** SSH credentials and bastion. Required. */
    ssh: SshSettings;
    /** Kubernetes version, subnets, endpoint and image repository. Required. */
    kubernetes: KubernetesSettings;
    /** Package and image mirrors. Required. */
    mirrors: MirrorSettings;
    /** The lab as its last update left it, for the version and identity checks at preview and certificate renewal. Default none. */
    previous?: PreviousLab;
    /** Days before the certificates expire within which an up renews them; 0 never. Default 30. */
    renewCertificatesWithin?: number;
}

export interface NodeInfo {
    name: string;
    roles: Role[];
}

/**
 * A kubeadm cluster on plain hosts: every host prepared in parallel, `kubeadm init` on the
 * control plane, workers joined in parallel, and a Kubernetes provider built from the admin
 * kubeconfig for the layers on top. Destroy runs the other way: nodes drained and reset
 * before the control plane is reset, hosts un-prepared last. The README's "Changing a lab"
 * says what each kind of change replaces or updates, step by step.
 */
export class Cluster extends pulumi.ComponentResource {
    /** The admin kubeconfig (secret). */
    public readonly kubeconfig: pulumi.Output<string>;
    /** The API server URL. */
    public readonly endpoint: string;
    /** The provider every Kubernetes object of the lab goes through. */
    public readonly provider: k8s.Provider;
    /**
     * The same cluster, for the namespaces that outlive their layer (retainOnDelete): creating
     * one that a removed layer left behind adopts it instead of failing. Nothing else uses it,
     * because adopting by name is how a renamed resource deletes a live object.
     */
    public readonly adoptingProvider: k8s.Provider;
    /** The nodes and their roles. */
    public readonly nodes: NodeInfo[];
    /** Hosts prepared by the cluster, by name, for layers that run more host steps. */
    public readonly prepared: Record<string, pulumi.Resource>;
    /** The Kubernetes version the cluster runs once this update is done. */
    public readonly kubernetesVersion: string;
    /** What makes the cluster this cluster (components/lib/lifecycle.ts). */
    public readonly identity: string[];
    /** When the earliest of the control plane's certificates expires (ISO 8601). */
    public readonly certificatesExpire: pulumi.Output<string>;
    /** The renewal instant this update used, read back by the next one. */
    public readonly certificatesRenewBefore: pulumi.Output<string>;
    /** The kubelet's and kube-proxy's configuration, read back by the next preview. */
    public readonly componentConfiguration: ComponentConfiguration;

    constructor(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-lab:cluster:Cluster", name, {}, opts);
        const workers = args.workers ?? [];
        const others = args.otherControlPlanes ?? [];
        const vip = args.vip;
        if (others.length > 0 && !vip) throw new Error("Cluster: other control planes need a virtual IP (args.vip)");
        const hosts = [args.controlPlane, ...others, ...workers];
        const common = { ssh: args.ssh, kubernetes: args.kubernetes, mirrors: args.mirrors };

        this.prepared = {};
        for (const host of hosts) {
            this.prepared[host.name] = new HostPrep(`${name}-${host.name}`, { host, ...common }, { parent: this }).prepared;
        }
        const controlPlane = new ControlPlane(
            `${name}-${args.controlPlane.name}`,
            {
                host: args.controlPlane,
                ssh: args.ssh,
                kubernetes: args.kubernetes,
                singleNode: workers.length === 0,
                vip,
                clusterName: "k8s-lab",
                prepared: this.prepared[args.controlPlane.name],
                previous: args.previous,
                renewCertificatesWithin: args.renewCertificatesWithin,
            },
            { parent: this },
        );
        const controlPlanes: pulumi.Resource[] = [];
        for (const host of others) {
            controlPlanes.push(
                new ControlPlaneMember(
                    `${name}-${host.name}`,
                    {
                        host,
                        firstControlPlane: args.controlPlane,
                        ssh: args.ssh,
                        kubernetes: args.kubernetes,
                        vip: vip as VipSettings,
                        takesWorkloads: workers.length === 0,
                        prepared: this.prepared[host.name],
                        controlPlaneInit: controlPlane.init,
                        after: controlPlanes[controlPlanes.length - 1],
                        adminKubeconfig: controlPlane.kubeconfig,
                    },
                    { parent: this },
                ).member,
            );
        }
        const members = workers.map(
            (host) =>
                new WorkerNode(
                    `${name}-${host.name}`,
                    {
                        host,
                        ssh: args.ssh,
                        kubernetes: args.kubernetes,
                        prepared: this.prepared[host.name],
                        controlPlaneInit: controlPlane.init,
                        adminKubeconfig: controlPlane.kubeconfig,
                    },
                    { parent: this },
                ).member,
        );

        this.kubeconfig = controlPlane.kubeconfig;
        this.endpoint = controlPlane.endpoint;
        this.provider = new k8s.Provider(
            `${name}-provider`,
            // deleteUnreachable stays off: a refresh from off the lab's network must not drop the
            // lab's objects from state. A lab whose hosts are gone is forgotten instead (npm run lab -- forget).
            { kubeconfig: this.kubeconfig },
            { parent: this, dependsOn: [controlPlane, ...controlPlanes, ...members] },
        );
        this.adoptingProvider = new k8s.Provider(
            `${name}-adopting-provider`,
            { kubeconfig: this.kubeconfig, upsertExistingObjects: true },
            { parent: this, dependsOn: [controlPlane, ...controlPlanes, ...members] },
        );
        this.kubernetesVersion = args.kubernetes.version;
        this.identity = controlPlane.identity;
        this.certificatesExpire = controlPlane.certificatesExpire;
        this.certificatesRenewBefore = controlPlane.certificatesRenewBefore;
        this.componentConfiguration = controlPlane.componentConfiguration;
        this.nodes = hosts.map((h) => ({ name: h.name, roles: h.roles }));
        this.registerOutputs({ kubeconfig: this.kubeconfig, endpoint: this.endpoint });
    }
}

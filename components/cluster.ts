import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { Host, KubernetesSettings, MirrorSettings, Role, SshSettings } from "./config";
import { ControlPlane } from "./controlPlane";
import { HostPrep } from "./hostPrep";
import { WorkerNode } from "./workerNode";

export interface ClusterArgs {
    /** The control-plane host. Required. */
    controlPlane: Host;
    /** Worker hosts; none makes a single-node lab. Default []. */
    workers?: Host[];
    /** SSH credentials and bastion. Required. */
    ssh: SshSettings;
    /** Kubernetes version, subnets, endpoint and image repository. Required. */
    kubernetes: KubernetesSettings;
    /** Package and image mirrors. Required. */
    mirrors: MirrorSettings;
}

export interface NodeInfo {
    name: string;
    roles: Role[];
}

/**
 * A kubeadm cluster on plain hosts: every host prepared in parallel, `kubeadm init` on the
 * control plane, workers joined in parallel, and a Kubernetes provider built from the admin
 * kubeconfig for the layers on top. Destroy runs the other way: nodes drained and reset
 * before the control plane is reset, hosts un-prepared last.
 */
export class Cluster extends pulumi.ComponentResource {
    /** The admin kubeconfig (secret). */
    public readonly kubeconfig: pulumi.Output<string>;
    /** The API server URL. */
    public readonly endpoint: string;
    /** The provider every Kubernetes object of the lab goes through. */
    public readonly provider: k8s.Provider;
    /** The nodes and their roles. */
    public readonly nodes: NodeInfo[];
    /** Hosts prepared by the cluster, by name, for layers that run more host steps. */
    public readonly prepared: Record<string, pulumi.Resource>;

    constructor(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-lab:cluster:Cluster", name, {}, opts);
        const workers = args.workers ?? [];
        const hosts = [args.controlPlane, ...workers];
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
                clusterName: "k8s-lab",
                prepared: this.prepared[args.controlPlane.name],
            },
            { parent: this },
        );
        const members = workers.map(
            (host) =>
                new WorkerNode(
                    `${name}-${host.name}`,
                    {
                        host,
                        controlPlaneHost: args.controlPlane,
                        ssh: args.ssh,
                        prepared: this.prepared[host.name],
                        controlPlaneInit: controlPlane.init,
                    },
                    { parent: this },
                ).member,
        );

        this.kubeconfig = controlPlane.kubeconfig;
        this.endpoint = controlPlane.endpoint;
        this.provider = new k8s.Provider(
            `${name}-provider`,
            {
                kubeconfig: this.kubeconfig,
                // A lab whose hosts are gone can still be destroyed: its objects went with it.
                deleteUnreachable: true,
            },
            { parent: this, dependsOn: [controlPlane, ...members] },
        );
        this.nodes = [args.controlPlane, ...workers].map((h) => ({ name: h.name, roles: h.roles }));
        this.registerOutputs({ kubeconfig: this.kubeconfig, endpoint: this.endpoint });
    }
}

import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { Host, KubernetesSettings, SshSettings } from "../lib/config";
import { hostTriggers } from "../lib/lifecycle";
import { runCommand } from "../lib/render";
import { workerScript } from "../lib/scripts";
import { connectionFor } from "../lib/ssh";

/** Life of the token a join makes for itself: it is used at once and deleted after. */
export const joinTokenTtl = "10m";

export interface WorkerNodeArgs {
    /** The worker host. Required. */
    host: Host;
    /** SSH credentials and bastion. Required. */
    ssh: SshSettings;
    /** Kubernetes version and packages: a newer version upgrades the node in place. Required. */
    kubernetes: KubernetesSettings;
    /** The worker's preparation; the join waits for it. Required. */
    prepared: pulumi.Resource;
    /** The control plane's init step; a new init (a new cluster) means a new join. Required. */
    controlPlaneInit: command.remote.Command;
    /** The admin kubeconfig (secret): the join makes its token and drains its node with it. Required. */
    adminKubeconfig: pulumi.Input<string>;
    /** Life of the join token. Default `joinTokenTtl` (10m). */
    joinTokenTtl?: string;
}

/**
 * One worker in the cluster, one step on the worker (`scripts/worker.sh`).
 *
 * Create joins with a token made for this join at the moment it runs (so a retry hours later,
 * or a re-join after a removal, works), and waits until the node has registered. Delete
 * drains and deletes the node, then resets the host. Replaced (delete first) only when the
 * cluster or the host's address is new; anything else updates in place: a newer version
 * upgrades the node (one at a time across the cluster), other edits do nothing on the host.
 */
export class WorkerNode extends pulumi.ComponentResource {
    /** The join step: the node is registered once it exists. */
    public readonly member: command.remote.Command;

    constructor(name: string, args: WorkerNodeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-lab:cluster:WorkerNode", name, {}, opts);
        const { host, controlPlaneInit } = args;
        const ttl = args.joinTokenTtl ?? joinTokenTtl;
        this.member = new command.remote.Command(
            `${name}-join`,
            {
                connection: connectionFor(host, args.ssh),
                stdin: pulumi.secret(
                    pulumi
                        .output(args.adminKubeconfig)
                        .apply((adminKubeconfig) => workerScript({ nodeName: host.name, kubernetes: args.kubernetes, joinTokenTtl: ttl, adminKubeconfig })),
                ),
                create: runCommand(host.user, "apply"),
                delete: runCommand(host.user, "remove"),
                addPreviousOutputInEnv: false,
                logging: "stderr",
                triggers: [controlPlaneInit.id, ...hostTriggers(host)],
            },
            {
                parent: this,
                dependsOn: [args.prepared, controlPlaneInit],
                deleteBeforeReplace: true,
                customTimeouts: { create: "15m", update: "30m", delete: "10m" },
            },
        );
        this.registerOutputs({});
    }
}

import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { Host, SshSettings } from "./config";
import { asRoot, runCommand, sha256 } from "./render";
import { membershipScript, workerScript } from "./scripts";
import { connectionFor } from "./ssh";

/** Join tokens live this long: long enough to join, too short to matter if anyone reads state. */
export const joinTokenTtl = "15m";

export interface WorkerNodeArgs {
    /** The worker host. Required. */
    host: Host;
    /** The control-plane host, where join commands are made and nodes are drained. Required. */
    controlPlaneHost: Host;
    /** SSH credentials and bastion. Required. */
    ssh: SshSettings;
    /** The worker's preparation; the join waits for it. Required. */
    prepared: pulumi.Resource;
    /** The control plane's init step; a new init means a new join. Required. */
    controlPlaneInit: command.remote.Command;
}

/**
 * One worker in the cluster: a join command made on the control plane at join time, the join
 * on the worker (reset on delete), and its membership, which drains and deletes the node on
 * the control plane before the worker is reset. Workers do not depend on one another, so
 * they join in parallel.
 */
export class WorkerNode extends pulumi.ComponentResource {
    /** The membership step: the node is registered once it exists. */
    public readonly member: command.remote.Command;

    constructor(name: string, args: WorkerNodeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-lab:cluster:WorkerNode", name, {}, opts);
        const { host, controlPlaneHost, controlPlaneInit } = args;
        const onControlPlane = connectionFor(controlPlaneHost, args.ssh);

        // Printed with a short-lived token; the output is secret and never logged.
        const joinCommand = new command.remote.Command(
            `${name}-join-command`,
            {
                connection: onControlPlane,
                create: asRoot(controlPlaneHost.user, `kubeadm token create --ttl ${joinTokenTtl} --print-join-command`),
                addPreviousOutputInEnv: false,
                logging: "none",
                triggers: [controlPlaneInit.id, host.name],
            },
            { parent: this, dependsOn: [controlPlaneInit, args.prepared], additionalSecretOutputs: ["stdout"] },
        );
        const join = new command.remote.Command(
            `${name}-join`,
            {
                connection: connectionFor(host, args.ssh),
                stdin: pulumi.secret(joinCommand.stdout.apply((c) => workerScript(host.name, c))),
                create: runCommand(host.user, "apply"),
                delete: runCommand(host.user, "remove"),
                addPreviousOutputInEnv: false,
                logging: "stderr",
                // The script without its token: a change to the script itself means a new join.
                triggers: [controlPlaneInit.id, sha256(workerScript(host.name, "kubeadm join"))],
            },
            {
                parent: this,
                dependsOn: [args.prepared, joinCommand],
                deleteBeforeReplace: true,
                customTimeouts: { create: "15m", delete: "10m" },
            },
        );
        const membership = membershipScript(host.name);
        this.member = new command.remote.Command(
            `${name}-membership`,
            {
                connection: onControlPlane,
                stdin: membership,
                create: runCommand(controlPlaneHost.user, "apply"),
                delete: runCommand(controlPlaneHost.user, "remove"),
                addPreviousOutputInEnv: false,
                triggers: [join.id, sha256(membership)],
            },
            { parent: this, dependsOn: [join], deleteBeforeReplace: true, customTimeouts: { create: "10m", delete: "10m" } },
        );
        this.registerOutputs({});
    }
}

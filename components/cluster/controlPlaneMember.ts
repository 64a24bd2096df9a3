import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { Host, KubernetesSettings, SshSettings, VipSettings } from "../lib/config";
import { hostTriggers } from "../lib/lifecycle";
import { runCommand } from "../lib/render";
import { certificateKeyScript, controlPlaneMemberScript } from "../lib/scripts";
import { connectionFor } from "../lib/ssh";
import { joinTokenTtl } from "./workerNode";

export interface ControlPlaneMemberArgs {
    /** The control-plane host that joins. Required. */
    host: Host;
    /** The first control plane, which runs `kubeadm init` and makes the certificate key. Required. */
    firstControlPlane: Host;
    /** SSH credentials and bastion. Required. */
    ssh: SshSettings;
    /** Kubernetes version and packages: a newer version upgrades the node in place. Required. */
    kubernetes: KubernetesSettings;
    /** The control plane's virtual IP: kube-vip runs on every control plane. Required. */
    vip: VipSettings;
    /** True when the lab has no workers: the control planes take workloads. Default false. */
    takesWorkloads?: boolean;
    /** The host's preparation; the join waits for it. Required. */
    prepared: pulumi.Resource;
    /** The first control plane's init step; a new init (a new cluster) means a new join. Required. */
    controlPlaneInit: command.remote.Command;
    /**
     * What this join waits for beside the init: the control-plane host before it, so that etcd
     * grows and shrinks one member at a time (and kubeadm's one set of uploaded certificates
     * serves one join at a time). Default none.
     */
    after?: pulumi.Resource;
    /** The admin kubeconfig (secret): the join makes its token, reads the key and drains with it. Required. */
    adminKubeconfig: pulumi.Input<string>;
    /** Life of the join token. Default `joinTokenTtl` (10m). */
    joinTokenTtl?: string;
}

/**
 * One more control-plane host of a highly available control plane: two steps.
 *
 * - `certificate-key`, on the first control plane (`scripts/certificate-key.sh`): just before
 *   the join, a fresh certificate key and the cluster's certificates uploaded with it; the key
 *   goes to the joining host in a Secret that the join deletes, never through the program, so
 *   it is in no state and no output.
 * - `join`, on the host (`scripts/control-plane-member.sh`): `kubeadm join --control-plane`,
 *   kube-vip beside the control plane's static pods. Delete checks etcd's quorum without this
 *   member first (refused when it breaks), then drains and deletes the node, removes its etcd
 *   member and resets the host.
 *
 * Both are replaced (delete first) only when the cluster or the host's address is new; anything
 * else updates in place: a newer version upgrades the node as a worker's step does.
 */
export class ControlPlaneMember extends pulumi.ComponentResource {
    /** The join step: the node is a control plane of the cluster once it exists. */
    public readonly member: command.remote.Command;

    constructor(name: string, args: ControlPlaneMemberArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-lab:cluster:ControlPlaneMember", name, {}, opts);
        const { host, controlPlaneInit } = args;
        const ttl = args.joinTokenTtl ?? joinTokenTtl;
        const triggers = [controlPlaneInit.id, ...hostTriggers(host)];
        const after = args.after ? [args.after] : [];
        const first = args.firstControlPlane;
        const certificateKey = new command.remote.Command(
            `${name}-certificate-key`,
            {
                connection: connectionFor(first, args.ssh),
                stdin: certificateKeyScript(host.name),
                create: runCommand(first.user, "apply"),
                delete: runCommand(first.user, "remove"),
                addPreviousOutputInEnv: false,
                triggers,
            },
            { parent: this, dependsOn: [args.prepared, controlPlaneInit, ...after], deleteBeforeReplace: true, customTimeouts: { create: "5m", delete: "5m" } },
        );
        this.member = new command.remote.Command(
            `${name}-join`,
            {
                connection: connectionFor(host, args.ssh),
                stdin: pulumi.secret(
                    pulumi.output(args.adminKubeconfig).apply((adminKubeconfig) =>
                        controlPlaneMemberScript({
                            nodeName: host.name,
                            nodeAddress: host.address,
                            kubernetes: args.kubernetes,
                            joinTokenTtl: ttl,
                            adminKubeconfig,
                            takesWorkloads: args.takesWorkloads ?? false,
                            vip: args.vip,
                            user: host.user,
                        }),
                    ),
                ),
                create: runCommand(host.user, "apply"),
                delete: runCommand(host.user, "remove"),
                addPreviousOutputInEnv: false,
                logging: "stderr",
                triggers,
            },
            {
                parent: this,
                dependsOn: [certificateKey],
                deleteBeforeReplace: true,
                customTimeouts: { create: "20m", update: "30m", delete: "15m" },
            },
        );
        this.registerOutputs({});
    }
}

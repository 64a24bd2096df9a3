import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { Host, KubernetesSettings, MirrorSettings, SshSettings } from "../lib/config";
import { hostTriggers } from "../lib/lifecycle";
import { runCommand } from "../lib/render";
import { hostPrepScript } from "../lib/scripts";
import { isIpv4 } from "../lib/net";
import { connectionFor } from "../lib/ssh";

export interface HostPrepArgs {
    /** The host to prepare. Required. */
    host: Host;
    /** SSH credentials and bastion. Required. */
    ssh: SshSettings;
    /** Kubernetes version and image repository (the packages and pause image to install). Required. */
    kubernetes: KubernetesSettings;
    /** Where packages and images come from. Required. */
    mirrors: MirrorSettings;
}

/**
 * Prepares one host for Kubernetes (swap, kernel, containerd, kubelet/kubeadm/kubectl,
 * nfs-common) with `scripts/host-prep.sh`, and takes that back on delete.
 *
 * Replaced (undone on the old machine first) only when the host's address changes. Anything
 * else, a new mirror, a script edit, another SSH user, a version bump, updates the host in
 * place: the script is idempotent, so re-running it changes only what differs. On a node of a
 * running cluster it leaves the Kubernetes packages to the upgrade steps.
 */
export class HostPrep extends pulumi.ComponentResource {
    /** The preparation step; whatever needs a prepared host depends on it. */
    public readonly prepared: command.remote.Command;

    constructor(name: string, args: HostPrepArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-lab:host:HostPrep", name, {}, opts);
        this.prepared = new command.remote.Command(
            `${name}-prep`,
            {
                connection: connectionFor(args.host, args.ssh),
                stdin: hostPrepScript(args.kubernetes, args.mirrors, isIpv4(args.host.address) ? args.host.address : ""),
                create: runCommand(args.host.user, "apply"),
                delete: runCommand(args.host.user, "remove"),
                addPreviousOutputInEnv: false,
                triggers: hostTriggers(args.host),
            },
            { parent: this, deleteBeforeReplace: true, customTimeouts: { create: "30m", update: "30m", delete: "20m" } },
        );
        this.registerOutputs({});
    }
}

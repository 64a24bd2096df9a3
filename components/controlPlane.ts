import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { Host, KubernetesSettings, SshSettings } from "./config";
import { kubeadmConfig } from "./kubeadm";
import { asRoot, runCommand, sha256 } from "./render";
import { controlPlaneScript } from "./scripts";
import { connectionFor } from "./ssh";

export interface ControlPlaneArgs {
    /** The control-plane host. Required. */
    host: Host;
    /** SSH credentials and bastion. Required. */
    ssh: SshSettings;
    /** Versions, subnets, endpoint and image repository for kubeadm. Required. */
    kubernetes: KubernetesSettings;
    /** True for a lab with no workers: the control plane then takes workloads. Default false. */
    singleNode?: boolean;
    /** Cluster name in the kubeconfig and kubeadm configuration. Default "k8s-lab". */
    clusterName?: string;
    /** The host's preparation; `kubeadm init` waits for it. Required. */
    prepared: pulumi.Resource;
}

/**
 * `kubeadm init` on the control-plane host (`scripts/control-plane.sh`), and the admin
 * kubeconfig read back as a secret. A changed kubeadm configuration resets the host before
 * it initialises it again (delete before replace), and its workers join again.
 */
export class ControlPlane extends pulumi.ComponentResource {
    /** The init step: joins wait for it, and a new one means new joins. */
    public readonly init: command.remote.Command;
    /** The admin kubeconfig (secret). */
    public readonly kubeconfig: pulumi.Output<string>;
    /** The API server URL, e.g. https://192.168.56.10:6443. */
    public readonly endpoint: string;

    constructor(name: string, args: ControlPlaneArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-lab:cluster:ControlPlane", name, {}, opts);
        const { host, kubernetes } = args;
        const connection = connectionFor(host, args.ssh);
        const script = controlPlaneScript(
            kubeadmConfig({
                controlPlane: host,
                kubernetes,
                singleNode: args.singleNode ?? false,
                clusterName: args.clusterName ?? "k8s-lab",
            }),
            host.user,
        );
        this.init = new command.remote.Command(
            `${name}-init`,
            {
                connection,
                stdin: script,
                create: runCommand(host.user, "apply"),
                delete: runCommand(host.user, "remove"),
                addPreviousOutputInEnv: false,
                triggers: [sha256(script)],
            },
            {
                parent: this,
                dependsOn: [args.prepared],
                // Reset must run before a new init on the same host, never after it.
                deleteBeforeReplace: true,
                customTimeouts: { create: "20m", delete: "10m" },
            },
        );
        const kubeconfig = new command.remote.Command(
            `${name}-kubeconfig`,
            {
                connection,
                create: asRoot(host.user, "cat /etc/kubernetes/admin.conf"),
                addPreviousOutputInEnv: false,
                logging: "none",
                triggers: [this.init.id],
            },
            { parent: this, dependsOn: [this.init], additionalSecretOutputs: ["stdout"] },
        );
        this.kubeconfig = pulumi.secret(kubeconfig.stdout);
        this.endpoint = `https://${kubernetes.controlPlaneEndpoint}:${kubernetes.apiServerPort}`;
        this.registerOutputs({ kubeconfig: this.kubeconfig, endpoint: this.endpoint });
    }
}

import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { Host, KubernetesSettings, SshSettings, VipSettings } from "../lib/config";
import { ComponentConfiguration, componentConfiguration, kubeadmConfig } from "../lib/kubeadm";
import { certificatesNotice, clusterIdentity, componentConfigurationNotice, identityChangeNotice, renewBefore, versionMoveNotice, versionMoveProblem } from "../lib/lifecycle";
import { asRoot, runCommand } from "../lib/render";
import { certificatesScript, controlPlaneScript } from "../lib/scripts";
import { connectionFor } from "../lib/ssh";

/** What the lab's last update left, read back from the stack's own outputs. */
export interface PreviousLab {
    /** The Kubernetes version the lab runs; undefined for a lab not built yet. */
    kubernetesVersion: pulumi.Output<string | undefined>;
    /** The cluster's identity lines; undefined for a lab not built yet. */
    clusterIdentity: pulumi.Output<string[] | undefined>;
    /** When the certificates expire, as last read; undefined before the first read. */
    certificatesExpire: pulumi.Output<string | undefined>;
    /** The renewal instant the last update used; undefined before the first. */
    certificatesRenewBefore: pulumi.Output<string | undefined>;
    /** The kubelet's and kube-proxy's configuration as the last update rendered them; undefined before this output existed. */
    componentConfiguration: pulumi.Output<ComponentConfiguration | undefined>;
}

export interface ControlPlaneArgs {
    /** The control-plane host. Required. */
    host: Host;
    /** SSH credentials and bastion. Required. */
    ssh: SshSettings;
    /** Versions, subnets, endpoint and image repository for kubeadm. Required. */
    kubernetes: KubernetesSettings;
    /** True for a lab with no workers: the control planes then take workloads. Default false. */
    singleNode?: boolean;
    /** The virtual IP kube-vip serves from the control planes; undefined for none. Default none. */
    vip?: VipSettings;
    /** Cluster name in the kubeconfig and kubeadm configuration. Default "k8s-lab". */
    clusterName?: string;
    /** The host's preparation; `kubeadm init` waits for it. Required. */
    prepared: pulumi.Resource;
    /** The lab as its last update left it: a downgrade or a skipped minor stops the preview. Default none (no check, no renewal). */
    previous?: PreviousLab;
    /** Days before the certificates expire within which an up renews them; 0 never. Default 30. */
    renewCertificatesWithin?: number;
    /** The instant the renewal window is measured from. Default the time of the update. */
    now?: Date;
}

/**
 * `kubeadm init` on the control-plane host (`scripts/control-plane.sh`), and the admin
 * kubeconfig read back as a secret.
 *
 * Replaced (reset first, then a new cluster) only when the cluster's identity changes: its
 * name, endpoint, subnets or host. Anything else updates it in place by running the script
 * again: a newer version upgrades the control plane, a first worker taints it, a script edit
 * does nothing on the host.
 *
 * Its certificates step reads when they expire, after init and whenever they can have changed
 * (an upgrade renews them, and so does the step itself inside the renewal window), so a
 * no-op up runs nothing. The kubeconfig is read again after a renewal.
 */
export class ControlPlane extends pulumi.ComponentResource {
    /** The init step: joins wait for it, and a new one means new joins. */
    public readonly init: command.remote.Command;
    /** The admin kubeconfig (secret). */
    public readonly kubeconfig: pulumi.Output<string>;
    /** The API server URL, e.g. https://192.168.56.10:6443. */
    public readonly endpoint: string;
    /** The cluster's identity lines (the init step's triggers). */
    public readonly identity: string[];
    /** When the earliest of the control plane's certificates expires (ISO 8601), as read on the host. */
    public readonly certificatesExpire: pulumi.Output<string>;
    /** The renewal instant this update used (lifecycle.ts `renewBefore`), read back by the next one. */
    public readonly certificatesRenewBefore: pulumi.Output<string>;
    /** The kubelet's and kube-proxy's configuration this update renders, read back by the next one. */
    public readonly componentConfiguration: ComponentConfiguration;

    constructor(name: string, args: ControlPlaneArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-lab:cluster:ControlPlane", name, {}, opts);
        const { host, kubernetes } = args;
        const clusterName = args.clusterName ?? "k8s-lab";
        const singleNode = args.singleNode ?? false;
        const connection = connectionFor(host, args.ssh);
        this.identity = clusterIdentity({ clusterName, controlPlane: host, kubernetes });
        this.componentConfiguration = componentConfiguration(kubernetes);
        const script = controlPlaneScript({
            kubeadmConfig: kubeadmConfig({ controlPlane: host, kubernetes, singleNode, clusterName }),
            identity: this.identity,
            nodeName: host.name,
            kubernetes,
            singleNode,
            user: host.user,
            nodeAddress: host.address,
            vip: args.vip,
        });
        this.init = new command.remote.Command(
            `${name}-init`,
            {
                connection,
                stdin: args.previous ? this.checked(args.previous, kubernetes.version).apply(() => script) : script,
                create: runCommand(host.user, "apply"),
                delete: runCommand(host.user, "remove"),
                addPreviousOutputInEnv: false,
                triggers: this.identity,
            },
            {
                parent: this,
                dependsOn: [args.prepared],
                // Reset must run before a new init on the same host, never after it.
                deleteBeforeReplace: true,
                customTimeouts: { create: "20m", update: "30m", delete: "10m" },
            },
        );
        const now = args.now ?? new Date();
        const within = args.renewCertificatesWithin ?? 30;
        const previous = args.previous;
        this.certificatesRenewBefore = previous
            ? pulumi.all([previous.certificatesExpire, previous.certificatesRenewBefore]).apply(([expires, before]) => {
                  const notice = certificatesNotice({ expires, renewBefore: before }, within, now);
                  if (notice) pulumi.log.warn(notice, this);
                  return renewBefore({ expires, renewBefore: before }, within, now);
              })
            : pulumi.output("");
        const certificates = new command.remote.Command(
            `${name}-certificates`,
            {
                connection,
                stdin: this.certificatesRenewBefore.apply((before) => certificatesScript({ renewBefore: before, kubernetes, user: host.user })),
                create: runCommand(host.user, "apply"),
                addPreviousOutputInEnv: false,
                triggers: [this.init.id],
            },
            { parent: this, dependsOn: [this.init], customTimeouts: { create: "10m", update: "10m" } },
        );
        this.certificatesExpire = certificates.stdout.apply((out) => /^certificates-expire: (\S+)$/m.exec(out)?.[1] ?? "");
        const kubeconfig = new command.remote.Command(
            `${name}-kubeconfig`,
            {
                connection,
                create: asRoot(host.user, "cat /etc/kubernetes/admin.conf"),
                addPreviousOutputInEnv: false,
                logging: "none",
                // A renewal writes a new admin.conf; so does a new cluster. Without a renewal the
                // triggers stay what they were before renewals existed, so a lab built by an
                // older version of this program does not read its kubeconfig again.
                triggers: this.certificatesRenewBefore.apply((before) => (before ? [this.init.id, before] : [this.init.id])),
            },
            { parent: this, dependsOn: [certificates], additionalSecretOutputs: ["stdout"] },
        );
        this.kubeconfig = pulumi.secret(kubeconfig.stdout);
        this.endpoint = `https://${kubernetes.controlPlaneEndpoint}:${kubernetes.apiServerPort}`;
        this.registerOutputs({ kubeconfig: this.kubeconfig, endpoint: this.endpoint, certificatesExpire: this.certificatesExpire });
    }

    /**
     * Stops the preview on a version move kubeadm cannot make, and says what a move, a new
     * identity or a new kubelet or kube-proxy configuration will do.
     */
    private checked(previous: PreviousLab, version: string): pulumi.Output<void> {
        return pulumi.all([previous.kubernetesVersion, previous.clusterIdentity, previous.componentConfiguration]).apply(([was, identity, components]) => {
            const problem = versionMoveProblem(was, version);
            if (problem) throw new pulumi.RunError(problem);
            const newCluster = identityChangeNotice(identity, this.identity);
            const notices = [versionMoveNotice(was, version), newCluster, componentConfigurationNotice(components, this.componentConfiguration, newCluster !== undefined)];
            for (const notice of notices) if (notice) pulumi.log.warn(notice, this);
        });
    }
}

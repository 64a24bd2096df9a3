/**
 * The lab as its last update left it: the stack's own outputs, read back through a
 * StackReference to itself. A preview compares them with the configuration to refuse a
 * version move kubeadm cannot make, to say in words when a change needs a new cluster or
 * reaches no node (a kubelet or kube-proxy configuration), and to know when the certificates
 * are due for renewal.
 */
import * as pulumi from "@pulumi/pulumi";
import { PreviousLab } from "../cluster/controlPlane";

/** The outputs index.ts exports for this, by name. */
export const previousOutputs = {
    kubernetesVersion: "kubernetesVersion",
    clusterIdentity: "clusterIdentity",
    certificatesExpire: "certificatesExpire",
    certificatesRenewBefore: "certificatesRenewBefore",
    componentConfiguration: "componentConfiguration",
} as const;

export function previousLab(): PreviousLab {
    const self = new pulumi.StackReference("previous", { name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}` });
    return {
        kubernetesVersion: self.getOutput(previousOutputs.kubernetesVersion) as pulumi.Output<string | undefined>,
        clusterIdentity: self.getOutput(previousOutputs.clusterIdentity) as pulumi.Output<string[] | undefined>,
        certificatesExpire: self.getOutput(previousOutputs.certificatesExpire) as pulumi.Output<string | undefined>,
        certificatesRenewBefore: self.getOutput(previousOutputs.certificatesRenewBefore) as pulumi.Output<string | undefined>,
        componentConfiguration: self.getOutput(previousOutputs.componentConfiguration) as PreviousLab["componentConfiguration"],
    };
}

/**
 * The lab as its last update left it: the stack's own outputs, read back through a
 * StackReference to itself. A preview compares them with the configuration to refuse a
 * version move kubeadm cannot make, and to say in words when a change needs a new cluster.
 */
import * as pulumi from "@pulumi/pulumi";
import { PreviousLab } from "./controlPlane";

/** The outputs index.ts exports for this, by name. */
export const previousOutputs = { kubernetesVersion: "kubernetesVersion", clusterIdentity: "clusterIdentity" } as const;

export function previousLab(): PreviousLab {
    const self = new pulumi.StackReference("previous", { name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}` });
    return {
        kubernetesVersion: self.getOutput(previousOutputs.kubernetesVersion) as pulumi.Output<string | undefined>,
        clusterIdentity: self.getOutput(previousOutputs.clusterIdentity) as pulumi.Output<string[] | undefined>,
    };
}

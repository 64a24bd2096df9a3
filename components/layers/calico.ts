import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { CalicoSettings } from "../lib/config";
import { chartRelease, MirrorOptions } from "../lib/chart";
import { calicoValues, deepMerge } from "../lib/values";
import { charts } from "../lib/versions";

export interface CalicoArgs extends MirrorOptions {
    /** Encapsulation and a `values` override for the tigera-operator chart. Required. */
    settings: CalicoSettings;
    /** kubeadm's podSubnet: Calico's IP pool must equal it. Required. */
    podSubnet: string;
}

/**
 * The pod network: Calico through the Tigera operator, its CRDs (a chart of their own from
 * v3.32) installed first. What Calico leaves on hosts (links, chains, CNI files) is cleaned by
 * the node reset (scripts/lib.sh).
 *
 * Calico documents applying the CRD chart server-side rather than installing it, and its Helm
 * release record is over 90% of the Secret's 1 MiB. It stays a Release: the provider builds
 * yaml.v2 and helm.v4 resources only while the cluster answers, so previews from off the
 * lab's network would fail; Calico's manifest is on GitHub, outside the chart mirrors; and
 * dropping the Release from the program uninstalls it, every Calico CRD with it.
 * test/releaseRecord.test.ts fails before the margin is gone.
 */
export class Calico extends pulumi.ComponentResource {
    constructor(name: string, args: CalicoArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-lab:layers:Calico", name, {}, opts);
        const namespace = new k8s.core.v1.Namespace(`${name}-namespace`, { metadata: { name: "tigera-operator" } }, { parent: this });
        const common = { namespace: namespace.metadata.name, chartRepositories: args.chartRepositories ?? {} };
        const crds = chartRelease(`${name}-crds`, charts.calicoCrds, { ...common, releaseName: "calico-crds", values: {} }, { parent: this });
        chartRelease(
            `${name}-operator`,
            charts.tigeraOperator,
            { ...common, releaseName: "tigera-operator", values: deepMerge(calicoValues(args.settings, args.podSubnet, args.imageRegistry), args.settings.values) },
            { parent: this, dependsOn: [crds] },
        );
        this.registerOutputs({});
    }
}

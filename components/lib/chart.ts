/**
 * How the lab installs a chart: a `helm.v3.Release` of a pinned chart, from its upstream
 * repository or the mirror that `mirrors.chartRepositories` names for it.
 *
 * Why Release and not `helm.v4.Chart`, for every chart of the lab:
 * - Previews: a Release previews as one resource with its chart, version and values even
 *   while the kubeconfig is unknown (the first preview of a fresh lab), and it does not need a
 *   reachable cluster. A v4 Chart shows no contents until the cluster exists, and it fails
 *   when a known cluster cannot be reached, as on pull-request previews run outside the lab's
 *   network.
 * - Hooks: a Release runs Helm hooks. ingress-nginx's admission webhook certificates,
 *   kube-prometheus-stack's admission webhook and CRD jobs, and the charts' uninstall hooks
 *   need them; a v4 Chart drops them, and each chart would then need workarounds.
 * - The price is a less detailed preview (values, not objects). A Release also never
 *   upgrades a chart's `crds/` directory, so a chart bump that changes CRDs needs them
 *   applied first. Calico ships its CRDs as a chart of their own, templated, so their
 *   Release does upgrade them.
 */
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { ChartPin } from "./versions";

/** Where a layer's charts and images come from; every layer's arguments include these. */
export interface MirrorOptions {
    /** Registry that replaces upstream registries in image references. Default none. */
    imageRegistry?: string;
    /** Chart repository mirrors: upstream repository URL -> mirror URL. Default {}. */
    chartRepositories?: Record<string, string>;
}

export interface ReleaseArgs {
    /** The release's name in `helm ls`: stable, so that users recognise it. */
    releaseName: string;
    namespace: pulumi.Input<string>;
    values: Record<string, unknown>;
    /** Upstream repository URL -> mirror URL. */
    chartRepositories: Record<string, string>;
}

/**
 * A pinned chart as a Release. A new chart or release name replaces it delete-first: two
 * generations of a controller cannot coexist (NodePorts, cluster-wide objects, CRDs).
 */
export function chartRelease(name: string, pin: ChartPin, args: ReleaseArgs, opts: pulumi.CustomResourceOptions): k8s.helm.v3.Release {
    return new k8s.helm.v3.Release(
        name,
        {
            name: args.releaseName,
            chart: pin.chart,
            version: pin.version,
            repositoryOpts: { repo: args.chartRepositories[pin.repo] ?? pin.repo },
            namespace: args.namespace,
            values: args.values,
            // Lab hosts pull images over ordinary links; give first installs time.
            timeout: 900,
        },
        { ...opts, deleteBeforeReplace: true, replaceOnChanges: ["name", "chart"] },
    );
}

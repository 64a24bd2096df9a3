/**
 * Every version the lab pins, in one place, each with the source that attests it. Bumping a
 * version is a one-line change here, plus, for a chart, re-reading its templates for the keys
 * that `test/values.test.ts` records per chart version (the test fails until that is done).
 *
 * Sources were read from stored copies of the upstream repositories (dates are of the copy or
 * of the commit named). Where no upstream copy shows a release, the attestation is a public
 * third-party record of it, and says so.
 */

/** Kubernetes minors the lab supports, each with the patch release it installs by default. */
export const kubernetesReleases: Readonly<Record<string, string>> = {
    // attested by pkgs.k8s.io v1.35 `apt-cache madison kubeadm` output (1.35.9-1.1) quoted in public lab guides, 2026-10
    "1.35": "1.35.9",
    // attested by public upgrade scripts that list pkgs.k8s.io v1.36 with `apt-cache madison kubeadm` and install kubeadm=1.36.4-1.1
    "1.36": "1.36.4",
    // attested by the kubeadm 1.37.1 run recorded in shared/reference/lab-facts.md (2026-11-23; it warns that it has no etcd of its own for 1.37)
    "1.37": "1.37.1",
};

/**
 * The Kubernetes minor a lab gets when `k8s-lab:kubernetes.version` is not set: the newest
 * minor that Calico 3.32 and ECK 3.5 are tested on (see `layerKubernetesSupport`), and one on
 * which kubeadm has an etcd version of its own (1.37.1 has none yet).
 */
export const defaultKubernetesMinor = "1.36";

/**
 * The pause (sandbox) image tag of each minor, which containerd's configuration must name: kubeadm
 * waits for a sandbox of that tag and fails init otherwise. Pinned here rather than asked of the
 * installed kubeadm, which during an upgrade is still the old minor's and names the old tag.
 */
export const pauseVersions: Readonly<Record<string, string>> = {
    // attested by PauseVersion in cmd/kubeadm/app/constants/constants.go of k8s.io/kubernetes v1.35.8 (Go module proxy, read 2026-12-06)
    "1.35": "3.10.1",
    // attested by PauseVersion in the same file of k8s.io/kubernetes v1.36.4 (Go module proxy, read 2026-12-06)
    "1.36": "3.10.2",
    // attested by PauseVersion in the same file of k8s.io/kubernetes v1.37.1 (Go module proxy, read 2026-12-06)
    "1.37": "3.10.2",
};

/** Debian revision of the pkgs.k8s.io packages: kubeadm 1.36.4 is `1.36.4-1.1`. */
// attested by the same pkgs.k8s.io listings as kubernetesReleases (every minor's packages end in -1.1)
export const kubernetesPackageRevision = "1.1";

/** containerd from Docker's apt repository (`containerd.io`); Kubernetes 1.36+ needs 2.x. */
// attested by Docker's apt repository as pinned in public provisioning files: containerd.io=2.2.1-1~ubuntu.24.04~noble
export const containerdIoVersion = "2.2.1";

/** Minors from which kubelet needs containerd 2.x. */
// attested by shared/reference/lab-facts.md ("containerd 2.x needed from Kubernetes 1.36; 1.7 still works with 1.35")
export const firstMinorNeedingContainerd2 = "1.36";

/**
 * kube-vip, the virtual IP of a lab with several control planes (k8s-lab:controlPlane.vip), as a
 * static pod on each of them. Its image is the project's own, under the tag of its release.
 */
// attested by the Go module proxy, which serves github.com/kube-vip/kube-vip v1.2.2 (the newest of the
// v1.x tags it serves, 2026-12-05), and by that tag's pkg/kubevip/config_generator.go, which names the
// image ghcr.io/kube-vip/kube-vip and the environment the static pod here sets
export const kubeVip = { image: "ghcr.io/kube-vip/kube-vip", version: "v1.2.2" };

export interface ChartPin {
    /** Chart name in its repository. */
    chart: string;
    /** Exact chart version. */
    version: string;
    /** The upstream Helm repository (mirrorable through `mirrors.chartRepositories`). */
    repo: string;
}

/** Every Helm chart of the lab's layers, pinned exactly. */
export const charts = {
    /**
     * Calico's crd.projectcalico.org/v1 CRDs, a chart of their own from v3.32 on. Its release record nears the Secret's
     * 1 MiB: a bump also lists the new templates' sizes in test/releaseRecord.test.ts.
     */
    // attested by public deployment records of Calico v3.32.2 (a Flux inventory with chart tigera-operator v3.32.2, 2026-09-06;
    // an install receipt from Calico's v3.32.2 tagged manifest, 2026-10-02). projectcalico/calico's copy of 2026-08-22 tags
    // v3.32.1 as the newest and its release-v3.32 branch is where v3.32.2 is cut from. No source before late August shows v3.32.3.
    calicoCrds: { chart: "crd.projectcalico.org.v1", version: "v3.32.2", repo: "https://docs.tigera.io/calico/charts" },
    // attested by the same records as calicoCrds: both charts are released together under Calico's version
    tigeraOperator: { chart: "tigera-operator", version: "v3.32.2", repo: "https://docs.tigera.io/calico/charts" },
    /** Retired upstream in March 2026; 4.15.1 (controller v1.15.1) is the last release. */
    // attested by kubernetes/ingress-nginx tag helm-chart-4.15.1 (2026-03-19, charts/ingress-nginx/Chart.yaml version 4.15.1)
    ingressNginx: { chart: "ingress-nginx", version: "4.15.1", repo: "https://kubernetes.github.io/ingress-nginx" },
    /** Traefik Proxy v3.7; chart v40 renamed the nginx provider to kubernetesIngressNGINX. */
    // attested by traefik/traefik-helm-chart tag v40.0.0 (2026-05-06, traefik/Chart.yaml version 40.0.0, appVersion v3.7.0)
    traefik: { chart: "traefik", version: "40.0.0", repo: "https://traefik.github.io/charts" },
    // attested by kubernetes-csi/csi-driver-nfs charts/index.yaml entry 4.13.4 (created 2026-07-02, digest 3b923d98…)
    csiDriverNfs: { chart: "csi-driver-nfs", version: "4.13.4", repo: "https://kubernetes-csi.github.io/csi-driver-nfs" },
    // attested by elastic/cloud-on-k8s tag v3.5.0 (2026-07-24, deploy/eck-operator/Chart.yaml version 3.5.0)
    eckOperator: { chart: "eck-operator", version: "3.5.0", repo: "https://helm.elastic.co" },
    // attested by public chart checks that fetch the release asset fluent-bit-0.58.2.tgz from fluent/helm-charts
    // (sha256 2404614a…); fluent/helm-charts' copy of 2026-08-18 ends at tag fluent-bit-0.58.1
    fluentBit: { chart: "fluent-bit", version: "0.58.2", repo: "https://fluent.github.io/helm-charts" },
    // attested by prometheus-community/helm-charts tag kube-prometheus-stack-88.2.0 (2026-08-07)
    kubePrometheusStack: { chart: "kube-prometheus-stack", version: "88.2.0", repo: "https://prometheus-community.github.io/helm-charts" },
} satisfies Record<string, ChartPin>;

/** Elasticsearch and Kibana, run by the ECK operator (3.x runs the 9.x stack). */
// attested by elastic/cloud-on-k8s docs/reference/api-reference/3_5_0.md, which names the 9.4.4 stack release (Agent 9.4.4+)
export const elasticStackVersion = "9.4.4";

/** The sample web app (addons.samples) and the pods of npm run verify: nginx, and busybox. */
// attested by docker-library/official-images library/nginx (tag 1.28.0 since e9ef302b61, 2025-04-23) and
// library/busybox (tag 1.37.0, in the copy of 2026-08-21)
export const sampleImages = { web: "nginx:1.28.0", seed: "busybox:1.37.0" };

/** What a layer part is tested on, by its own project's word. */
export interface KubernetesSupport {
    /** The layer as `untestedLayers` takes it: an addon, `ingress` named by its controller. */
    layer: string;
    /** The part of the layer the range is for. */
    what: string;
    /** Lowest and highest minors tested; absent where the project publishes no bound. */
    testedFrom?: string;
    testedUpTo?: string;
    source: string;
}

/**
 * The Kubernetes minors each pinned part is tested on. Parts without an upper bound publish
 * only a minimum (a chart's kubeVersion, or "1.21+"), which every supported minor meets.
 */
export const layerKubernetesSupport: readonly KubernetesSupport[] = [
    {
        layer: "calico",
        what: "Calico 3.32",
        testedFrom: "1.34",
        testedUpTo: "1.36",
        source: "tigera/docs calico_versioned_docs/version-3.32/_includes/partials/_system-requirements.mdx (\"We test Calico 3.32 against 1.34, 1.35, 1.36\")",
    },
    {
        layer: "ingress-nginx",
        what: "ingress-nginx 4.15.1 (controller v1.15.1)",
        testedFrom: "1.31",
        testedUpTo: "1.35",
        source: "kubernetes/ingress-nginx@helm-chart-4.15.1 README.md, Supported Versions table (1.35, 1.34, 1.33, 1.32, 1.31)",
    },
    { layer: "traefik", what: "Traefik chart 40.0.0", source: "traefik/traefik-helm-chart@v40.0.0 README.md: Kubernetes v1.22.0 or higher, no upper bound" },
    { layer: "nfs", what: "csi-driver-nfs 4.13.4", source: "kubernetes-csi/csi-driver-nfs README.md compatibility table: v4.13.4 supports 1.21+" },
    {
        layer: "logging",
        what: "ECK 3.5",
        testedFrom: "1.32",
        testedUpTo: "1.36",
        source: "elastic/cloud-on-k8s@v3.5.0 README.md (\"Supported versions: Kubernetes 1.32-1.36\")",
    },
    { layer: "logging", what: "Fluent Bit chart 0.58", source: "fluent/helm-charts charts/fluent-bit/Chart.yaml: no kubeVersion" },
    {
        layer: "monitoring",
        what: "kube-prometheus-stack 88.2.0",
        source: "prometheus-community/helm-charts@kube-prometheus-stack-88.2.0 Chart.yaml kubeVersion >=1.25.0-0; prometheus-operator's compatibility page names no tested maximum",
    },
    { layer: "samples", what: "the sample app (plain Deployment, Service, Ingress)", source: "stable Kubernetes APIs only" },
];

function minorNumber(minor: string): number {
    const m = /^v?1\.(\d+)(\.\d+)?$/.exec(minor);
    if (!m) throw new Error(`${JSON.stringify(minor)} is not a Kubernetes minor such as 1.36`);
    return Number(m[1]);
}

/** A part with a published tested range; what `untestedLayers` returns. */
export type UntestedLayer = KubernetesSupport & { testedFrom: string; testedUpTo: string };

function isBounded(s: KubernetesSupport): s is UntestedLayer {
    return s.testedFrom !== undefined && s.testedUpTo !== undefined;
}

/**
 * The enabled layers whose upstream does not test them on `minor` (such as `1.37` or
 * `1.37.1`), each with the range it is tested on. `layers` names the enabled layers as in
 * `k8s-lab:addons`, with `ingress` named by its controller (`ingress-nginx` or `traefik`).
 * A name with no data is a caller's mistake (say `ingress`), so it throws rather than
 * silently warning about nothing.
 */
export function untestedLayers(minor: string, layers: readonly string[]): UntestedLayer[] {
    const n = minorNumber(minor);
    const known = [...new Set(layerKubernetesSupport.map((s) => s.layer))];
    const unknown = layers.filter((l) => !known.includes(l));
    if (unknown.length > 0) throw new Error(`untestedLayers: unknown layer ${unknown.join(", ")}; known layers are ${known.join(", ")}`);
    return layerKubernetesSupport
        .filter((s) => layers.includes(s.layer))
        .filter(isBounded)
        .filter((s) => n < minorNumber(s.testedFrom) || n > minorNumber(s.testedUpTo));
}

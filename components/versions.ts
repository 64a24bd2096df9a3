/**
 * Every version the lab pins, in one place. Bumping a version is a one-line change here
 * (and, for charts, a look at the values keys that `test/chartKeys.test.ts` names).
 *
 * Checked against upstream on 2026-11-22: kubernetes.io release pages, Docker's
 * containerd.io packages, and each chart's index.
 */

/** Kubernetes minors the lab supports, each with the patch release it installs by default. */
export const kubernetesReleases: Readonly<Record<string, string>> = {
    "1.35": "1.35.9",
    "1.36": "1.36.4",
    "1.37": "1.37.1",
};

/** The Kubernetes minor a lab gets when `k8s-lab:kubernetes.version` is not set. */
export const defaultKubernetesMinor = "1.37";

/** Debian revision of the pkgs.k8s.io packages: kubeadm 1.37.1 is `1.37.1-1.1`. */
export const kubernetesPackageRevision = "1.1";

/** containerd from Docker's apt repository (`containerd.io`); Kubernetes 1.36+ needs 2.x. */
export const containerdIoVersion = "2.2.1";

/** Minors from which kubelet needs containerd 2.x. */
export const firstMinorNeedingContainerd2 = "1.36";

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
    /** Calico's crd.projectcalico.org/v1 CRDs, a chart of their own from v3.32 on. */
    calicoCrds: { chart: "crd.projectcalico.org.v1", version: "v3.32.3", repo: "https://docs.tigera.io/calico/charts" },
    tigeraOperator: { chart: "tigera-operator", version: "v3.32.3", repo: "https://docs.tigera.io/calico/charts" },
    /** Retired upstream in March 2026; 4.15.1 (controller v1.15.1) is the last release. */
    ingressNginx: { chart: "ingress-nginx", version: "4.15.1", repo: "https://kubernetes.github.io/ingress-nginx" },
    /** Traefik Proxy v3.7; chart v40 renamed the nginx provider to kubernetesIngressNGINX. */
    traefik: { chart: "traefik", version: "40.0.0", repo: "https://traefik.github.io/charts" },
    csiDriverNfs: { chart: "csi-driver-nfs", version: "4.13.4", repo: "https://kubernetes-csi.github.io/csi-driver-nfs" },
    eckOperator: { chart: "eck-operator", version: "3.5.0", repo: "https://helm.elastic.co" },
    fluentBit: { chart: "fluent-bit", version: "0.58.2", repo: "https://fluent.github.io/helm-charts" },
    kubePrometheusStack: { chart: "kube-prometheus-stack", version: "88.2.0", repo: "https://prometheus-community.github.io/helm-charts" },
} satisfies Record<string, ChartPin>;

/** Elasticsearch and Kibana, run by the ECK operator (3.x runs the 9.x stack). */
export const elasticStackVersion = "9.4.4";

/** The sample web app (addons.samples) and the pods of npm run verify: nginx, and busybox. */
export const sampleImages = { web: "nginx:1.28.0", seed: "busybox:1.37.0" };

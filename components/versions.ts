/**
 * Every version the lab pins, in one place. Bumping a version is a one-line change here
 * (and, for charts, a look at the values keys that `test/chartKeys.test.ts` names).
 *
 * Checked against upstream on 2026-11-22: kubernetes.io release pages, Docker's
 * containerd.io packages, and each chart's index.
 */

/** Kubernetes minors the lab supports, each with the patch release it installs by default. */
export const kubernetesReleases: Readonly<Record<string, string>> = {
    "1.35": "1.35.4",
    "1.36": "1.36.1",
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

/**
 * The lab's day-two rules: what makes a cluster this cluster, which version moves are
 * upgrades, and what a step's next `pulumi up` does. Pure functions, tested without mocks;
 * the components take their triggers from here and the README's "Changing a lab" table says
 * the same in words.
 *
 * A host step (`command:remote:Command`) is replaced when its `triggers` change (the steps
 * here replace delete-first, so a host is reset before it is set up again) and updated in
 * place when any other input changes: its idempotent script runs again with the new inputs.
 */
import { Host, KubernetesSettings } from "./config";
import type { ComponentConfiguration } from "./kubeadm";

/** The inputs of a host step that decide between none, update and replace. */
export interface StepInputs {
    triggers?: unknown[];
    [input: string]: unknown;
}

export type StepChange = "none" | "update" | "replace";

/** What pulumi-command does with a step whose inputs went from `before` to `after`. */
export function stepChange(before: StepInputs, after: StepInputs): StepChange {
    const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
    if (!same(before.triggers ?? [], after.triggers ?? [])) return "replace";
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    return [...keys].some((k) => !same(before[k], after[k])) ? "update" : "none";
}

export interface IdentityInput {
    clusterName: string;
    controlPlane: Host;
    kubernetes: KubernetesSettings;
}

/**
 * What only a new cluster can change, one readable line a setting: these are the control
 * plane's triggers, so that a preview shows in words what replaces the cluster.
 */
export function clusterIdentity(input: IdentityInput): string[] {
    const k8s = input.kubernetes;
    return [
        `cluster name ${input.clusterName}`,
        `control-plane endpoint ${k8s.controlPlaneEndpoint}:${k8s.apiServerPort}`,
        `control-plane host ${input.controlPlane.name} at ${input.controlPlane.address}`,
        `pod subnet ${k8s.podSubnet}`,
        `service subnet ${k8s.serviceSubnet}`,
    ];
}

/** A host step is tied to its machine: a new address is another machine, set up anew. */
export function hostTriggers(host: Host): string[] {
    return [`host address ${host.address}`];
}

const parse = (v: string) => v.split(".").map(Number);

/** Compares two patch versions (1.37.1): negative, zero or positive, like a sort function. */
export function compareVersions(a: string, b: string): number {
    const [x, y] = [parse(a), parse(b)];
    for (let i = 0; i < 3; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
    return 0;
}

/**
 * Why a lab running `previous` cannot move to `next`, or undefined when it can: kubeadm
 * upgrades one minor at a time and never downgrades.
 */
export function versionMoveProblem(previous: string | undefined, next: string): string | undefined {
    if (!previous || compareVersions(previous, next) === 0) return undefined;
    const [pMajor, pMinor] = parse(previous);
    const [nMajor, nMinor] = parse(next);
    if (compareVersions(next, previous) < 0) {
        return (
            `k8s-lab:kubernetes.version: the lab runs Kubernetes ${previous} and cannot move back to ${next}: kubeadm does not downgrade. ` +
            `Set it to ${pMajor}.${pMinor} (or newer), or destroy the lab and build it again at ${next}.`
        );
    }
    if (nMajor !== pMajor || nMinor > pMinor + 1) {
        return (
            `k8s-lab:kubernetes.version: the lab runs Kubernetes ${previous}; kubeadm upgrades one minor at a time, so ${next} is out of reach in one step. ` +
            `Set it to ${pMajor}.${pMinor + 1} and run pulumi up, then to ${nMajor}.${nMinor}.`
        );
    }
    return undefined;
}

/** What a preview says about the version move, or undefined when there is none. */
export function versionMoveNotice(previous: string | undefined, next: string): string | undefined {
    if (!previous || compareVersions(previous, next) === 0) return undefined;
    return (
        `Kubernetes ${previous} -> ${next}: upgraded in place, the kubeadm way: kubeadm upgrade apply on the control plane, ` +
        `then each worker drained, upgraded and uncordoned, one at a time. Host preparation, joins and layers are kept.`
    );
}

/** What a preview says when the cluster's identity changes, or undefined when it does not. */
export function identityChangeNotice(previous: string[] | undefined, next: string[]): string | undefined {
    if (!previous || previous.length === 0) return undefined;
    const changed = next.filter((line) => !previous.includes(line));
    if (changed.length === 0) return undefined;
    const was = previous.filter((line) => !next.includes(line));
    return (
        `This change needs a new cluster (${was.join(", ")} -> ${changed.join(", ")}): every node is reset (kubeadm reset), ` +
        `the control plane is initialised again and the workers join it; everything in the old cluster, and the layers' data ` +
        `on claims with reclaim policy Delete, is lost. Change it back to keep the cluster.`
    );
}

/** Where each component configuration comes from, and where kubeadm keeps it once the cluster is made. */
const components: { [K in keyof ComponentConfiguration]: { key: string; configMap: string } } = {
    kubelet: { key: "kubernetes.kubeletConfiguration", configMap: "kube-system/kubelet-config" },
    kubeProxy: { key: "kubernetes.kubeProxyConfiguration", configMap: "kube-system/kube-proxy" },
};

/** JSON with every object's keys sorted: the stack's outputs come back with their keys in another order. */
function canonical(v: unknown): string {
    if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
    if (v !== null && typeof v === "object") {
        const o = v as Record<string, unknown>;
        return `{${Object.keys(o)
            .sort()
            .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
            .join(",")}}`;
    }
    return JSON.stringify(v) ?? "null";
}

/**
 * What a preview says when the kubelet's or kube-proxy's configuration changes on a running
 * cluster, or undefined when neither does (or the lab is new, or gets a new cluster, which
 * `kubeadm init` makes with the new one). kubeadm reads them at init and then keeps them in
 * ConfigMaps, which joins and upgrades read; it does not reconfigure a running cluster, and
 * neither does the lab: the control-plane step only rewrites its copy of the configuration.
 */
export function componentConfigurationNotice(previous: ComponentConfiguration | undefined, next: ComponentConfiguration, newCluster: boolean): string | undefined {
    if (!previous || newCluster) return undefined;
    const changed = (Object.keys(components) as (keyof ComponentConfiguration)[]).filter((c) => canonical(previous[c]) !== canonical(next[c]));
    if (changed.length === 0) return undefined;
    const keys = changed.map((c) => `k8s-lab:${components[c].key}`).join(" and ");
    const maps = changed.map((c) => components[c].configMap).join(" and ");
    return (
        `${keys} changed on a running cluster: kubeadm applied the old configuration at init and keeps it in ${maps}, ` +
        `which later joins and upgrades read too, so this up changes no node (the control plane's step only rewrites its copy of the kubeadm configuration). ` +
        `To apply it now, follow the README's "Changing a lab" (kubeadm's "Reconfiguring a kubeadm cluster"); a new cluster gets it at init.`
    );
}

/** What the lab's last update read of the control plane's certificates (its stack outputs). */
export interface CertificatesRead {
    /** When the earliest certificate expires (ISO 8601), as the certificates step last read it. */
    expires?: string;
    /** The renewal instant the last update used (`renewBefore` below). */
    renewBefore?: string;
}

const day = 86_400_000;

/**
 * The instant at or before which the certificates step renews: the expiry last read, once an
 * `up` falls within `renewWithinDays` of it; otherwise the instant the last update used, so
 * that the up after a renewal (whose certificates expire long after it) changes nothing.
 * "" never renews.
 */
export function renewBefore(previous: CertificatesRead, renewWithinDays: number, now: Date): string {
    if (renewWithinDays <= 0) return "";
    const expires = previous.expires ? Date.parse(previous.expires) : NaN;
    if (previous.expires && !Number.isNaN(expires) && now.getTime() + renewWithinDays * day >= expires) return previous.expires;
    return previous.renewBefore ?? "";
}

/** What a preview says about the certificates, or undefined when there is nothing to say. */
export function certificatesNotice(previous: CertificatesRead, renewWithinDays: number, now: Date): string | undefined {
    const expires = previous.expires ? Date.parse(previous.expires) : NaN;
    if (Number.isNaN(expires)) return undefined;
    const days = Math.floor((expires - now.getTime()) / day);
    const when = `${previous.expires} (${days < 0 ? `${-days} days ago` : `in ${days} days`})`;
    if (renewBefore(previous, renewWithinDays, now) === previous.expires && previous.renewBefore !== previous.expires) {
        return `The control plane's certificates expire ${when}: this up renews them (kubeadm certs renew all), restarts the control-plane static pods and reads the kubeconfig again.`;
    }
    if (renewWithinDays <= 0 && days < 30) {
        return `The control plane's certificates expire ${when} and k8s-lab:certificates.renewWithin is 0, so no up renews them; set it (e.g. 30) to renew on the next up.`;
    }
    return undefined;
}

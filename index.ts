/**
 * k8s-lab: plain hosts -> a kubeadm cluster -> the lab's layers.
 *
 *   config ─► Cluster ─► Calico ─┬─► Ingress ──────┬─► Logging (EFK)
 *                                └─► NfsStorage ───┼─► Monitoring (Prometheus, Grafana)
 *                                                  └─► Samples (the guide's web app)
 *
 * Every layer is optional (k8s-lab:addons) and goes through the cluster's Kubernetes provider;
 * each waits for the layers before it, and destroy removes them before the cluster. This file
 * only wires components: the cluster's under components/cluster/, the layers under
 * components/layers/, each a file of its own.
 */
import * as pulumi from "@pulumi/pulumi";
import { loadConfig } from "./components/lib/config";
import { Cluster } from "./components/cluster/cluster";
import { previousLab } from "./components/lib/previousLab";
import { preflight } from "./components/lib/preflightRun";
import { Calico } from "./components/layers/calico";
import { Ingress } from "./components/layers/ingress";
import { NfsStorage } from "./components/layers/nfsStorage";
import { Logging } from "./components/layers/logging";
import { Monitoring } from "./components/layers/monitoring";
import { Samples } from "./components/layers/samples";

const config = loadConfig();
const { addons, mirrors } = config;
const images = { imageRegistry: mirrors.imageRegistry, chartRepositories: mirrors.chartRepositories };

const cluster = new Cluster(
    "lab",
    {
        controlPlane: config.controlPlane,
        otherControlPlanes: config.controlPlanes.slice(1),
        vip: config.vip,
        workers: config.workers,
        ssh: config.ssh,
        kubernetes: config.kubernetes,
        mirrors,
        previous: previousLab(),
        renewCertificatesWithin: config.certificates.renewWithin,
    },
    // At a preview, the hosts are checked first (k8s-lab:preflight); problems stop it here.
    { dependsOn: preflight(config) },
);

/** Options for a layer: the cluster's provider, after the layers it builds on. */
function layer(after: (pulumi.Resource | false | undefined)[]): pulumi.ComponentResourceOptions {
    return { providers: [cluster.provider], dependsOn: after.filter((r): r is pulumi.Resource => !!r) };
}

const calico = addons.calico && new Calico("calico", { settings: addons.calico, podSubnet: config.kubernetes.podSubnet, ...images }, layer([]));

const ingress = addons.ingress && new Ingress("ingress", { settings: addons.ingress, ...images }, layer([calico]));

const storage =
    addons.nfs &&
    new NfsStorage(
        "nfs",
        {
            settings: addons.nfs,
            server: config.nfsHost,
            // Control planes first, as before HA: a lab listing a worker first keeps its exports.
            clients: [...config.controlPlanes, ...config.workers].map((h) => h.address),
            ssh: config.ssh,
            prepared: cluster.prepared[config.nfsHost.name],
            ...images,
        },
        layer([calico]),
    );

// Validation guarantees the ingress layer is on wherever a layer with a UI is.
const platform = [calico, ingress, storage];

const logging = addons.logging && ingress && new Logging("logging", { settings: addons.logging, ingress, ...images }, layer(platform));

const monitoring = addons.monitoring && ingress && new Monitoring("monitoring", { settings: addons.monitoring, ingress, adoptingProvider: cluster.adoptingProvider, ...images }, layer(platform));

const samples = addons.samples && ingress && new Samples("samples", { settings: addons.samples, ingress, imageRegistry: mirrors.imageRegistry }, layer(platform));

export const kubeconfig = cluster.kubeconfig;
export const apiServerEndpoint = cluster.endpoint;
export const nodes = cluster.nodes;
// Read back by the next preview (components/lib/previousLab.ts).
export const kubernetesVersion = cluster.kubernetesVersion;
export const clusterIdentity = cluster.identity;
// Read by verify: a lab without Calico skips the NetworkPolicy check.
export const calicoLayer = !!calico;
export const certificatesExpire = cluster.certificatesExpire;
export const certificatesRenewBefore = cluster.certificatesRenewBefore;
export const componentConfiguration = cluster.componentConfiguration;
export const ingressClassName = ingress ? ingress.className : undefined;
export const ingressBaseDomain = ingress ? ingress.settings.baseDomain : undefined;
export const ingressHttpPort = ingress ? ingress.settings.httpNodePort : undefined;
export const storageClassName = storage ? storage.storageClassName : undefined;
export const kibanaUrl = logging ? logging.kibanaUrl : undefined;
export const elasticPassword = logging ? logging.elasticPassword : undefined;
export const grafanaUrl = monitoring ? monitoring.grafanaUrl : undefined;
export const grafanaAdminPassword = monitoring ? monitoring.grafanaAdminPassword : undefined;
export const prometheusUrl = monitoring ? monitoring.prometheusUrl : undefined;
export const alertmanagerUrl = monitoring ? monitoring.alertmanagerUrl : undefined;
export const sampleUrl = samples ? samples.url : undefined;

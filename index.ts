/**
 * k8s-lab: plain hosts -> a kubeadm cluster -> the lab's layers.
 *
 *   config (validated) ─► Cluster ─► provider ─► layers (next issue)
 *
 * This file only wires components; each is a file of its own under components/.
 */
import { loadConfig } from "./components/config";
import { Cluster } from "./components/cluster";

const config = loadConfig();

const cluster = new Cluster("lab", {
    controlPlane: config.controlPlane,
    workers: config.workers,
    ssh: config.ssh,
    kubernetes: config.kubernetes,
    mirrors: config.mirrors,
});

export const kubeconfig = cluster.kubeconfig;
export const apiServerEndpoint = cluster.endpoint;
export const nodes = cluster.nodes;

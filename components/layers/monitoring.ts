import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as random from "@pulumi/random";
import { MonitoringSettings } from "../lib/config";
import { UiRoutes } from "./ingress";
import { chartRelease, MirrorOptions } from "../lib/chart";
import { deepMerge, grafanaAdminSecret, kubePrometheusStackValues, uiUrl } from "../lib/values";
import { charts } from "../lib/versions";

export interface MonitoringArgs extends MirrorOptions {
    /** StorageClass, size and retention for Prometheus, and a `values` override. Required. */
    settings: MonitoringSettings;
    /** The ingress layer, which publishes the UIs. Required. */
    ingress: UiRoutes;
    /** A provider that adopts an existing namespace (Cluster.adoptingProvider), for the kept `monitoring` namespace. Required. */
    adoptingProvider: k8s.Provider;
}

/**
 * kube-prometheus-stack: Prometheus (persistent, with retention), Alertmanager, Grafana with its
 * dashboards, node-exporter and kube-state-metrics, scraping the control-plane components the
 * kubeadm configuration exposes. Grafana's admin password is generated and kept in a Secret the
 * chart reads.
 *
 * Turning the layer off keeps the `monitoring` namespace and the claims Prometheus and
 * Alertmanager made (with their data), as `helm uninstall` does; turning it on again adopts
 * them. A full destroy takes them with the cluster.
 */
export class Monitoring extends pulumi.ComponentResource {
    public readonly grafanaUrl: string;
    public readonly prometheusUrl: string;
    public readonly alertmanagerUrl: string;
    /** Grafana's admin password (secret). */
    public readonly grafanaAdminPassword: pulumi.Output<string>;

    constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-lab:layers:Monitoring", name, {}, opts);
        const namespace = new k8s.core.v1.Namespace(
            `${name}-namespace`,
            { metadata: { name: "monitoring" } },
            { parent: this, provider: args.adoptingProvider, retainOnDelete: true },
        );
        const password = new random.RandomPassword(`${name}-grafana-password`, { length: 24, special: false }, { parent: this });
        const admin = new k8s.core.v1.Secret(
            `${name}-grafana-admin`,
            {
                metadata: { name: grafanaAdminSecret, namespace: namespace.metadata.name },
                stringData: { "admin-user": "admin", "admin-password": password.result },
            },
            { parent: this },
        );
        chartRelease(
            `${name}-stack`,
            charts.kubePrometheusStack,
            {
                releaseName: "kube-prometheus-stack",
                namespace: namespace.metadata.name,
                values: deepMerge(kubePrometheusStackValues(args.settings, args.ingress.settings, args.ingress.className, args.imageRegistry), args.settings.values),
                chartRepositories: args.chartRepositories ?? {},
            },
            { parent: this, dependsOn: [admin] },
        );
        this.grafanaUrl = uiUrl("grafana", args.ingress.settings);
        this.prometheusUrl = uiUrl("prometheus", args.ingress.settings);
        this.alertmanagerUrl = uiUrl("alertmanager", args.ingress.settings);
        this.grafanaAdminPassword = pulumi.secret(password.result);
        this.registerOutputs({ grafanaUrl: this.grafanaUrl, grafanaAdminPassword: this.grafanaAdminPassword });
    }
}

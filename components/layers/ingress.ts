import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { IngressSettings } from "../lib/config";
import { chartRelease, MirrorOptions } from "../lib/chart";
import { deepMerge, ingressClassName, ingressNginxValues, ingressWarning, nginxIngressClass, traefikValues } from "../lib/values";
import { charts } from "../lib/versions";

export interface IngressArgs extends MirrorOptions {
    /** Controller, NodePorts, base domain and a `values` override. Required. */
    settings: IngressSettings;
}

/** What a layer needs to publish a UI through the ingress layer. */
export interface UiRoutes {
    /** The IngressClass to use. */
    className: string;
    /** Base domain and NodePort of the UIs' host names and URLs. */
    settings: IngressSettings;
}

/**
 * The ingress controller, bare-metal style: a NodePort service on every node, and the
 * cluster's default IngressClass. ingress-nginx as in the guide (retired upstream, so the
 * preview warns), or Traefik.
 */
export class Ingress extends pulumi.ComponentResource implements UiRoutes {
    /** The IngressClass the lab's UIs use. */
    public readonly className: string;
    public readonly settings: IngressSettings;

    constructor(name: string, args: IngressArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-lab:layers:Ingress", name, {}, opts);
        const { settings } = args;
        const warning = ingressWarning(settings.controller);
        if (warning) pulumi.log.warn(warning, this);
        const traefik = settings.controller === "traefik";
        // A switch of controller replaces namespace and release delete-first: the old controller
        // holds the NodePorts until it is gone.
        const namespace = new k8s.core.v1.Namespace(
            `${name}-namespace`,
            { metadata: { name: traefik ? "traefik" : "ingress-nginx" } },
            { parent: this, deleteBeforeReplace: true },
        );
        const values = traefik ? traefikValues(settings, args.imageRegistry) : ingressNginxValues(settings, args.imageRegistry);
        const controller = chartRelease(
            `${name}-controller`,
            traefik ? charts.traefik : charts.ingressNginx,
            {
                releaseName: traefik ? "traefik" : "ingress-nginx",
                namespace: namespace.metadata.name,
                values: deepMerge(values, settings.values),
                chartRepositories: args.chartRepositories ?? {},
            },
            { parent: this },
        );
        // The lab owns the `nginx` class whichever controller serves it (ingress-nginx itself, or
        // Traefik's nginx provider), so a switch updates it in place instead of handing it over
        // between two charts. It is created after the controller, so after the old one is gone.
        new k8s.networking.v1.IngressClass(`${name}-nginx-class`, nginxIngressClass(settings.controller), { parent: this, dependsOn: [controller] });
        this.className = ingressClassName(settings.controller);
        this.settings = settings;
        this.registerOutputs({ className: this.className });
    }
}

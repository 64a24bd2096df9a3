import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { SamplesSettings } from "../lib/config";
import { UiRoutes } from "./ingress";
import { MirrorOptions } from "../lib/chart";
import { uiHost, uiUrl } from "../lib/values";
import { sampleImages } from "../lib/versions";

export interface SamplesArgs extends Pick<MirrorOptions, "imageRegistry"> {
    /** StorageClass of the content claim. Required. */
    settings: SamplesSettings;
    /** The ingress layer, which publishes the UIs. Required. */
    ingress: UiRoutes;
}

/** Docker Hub's official images live under library/ once a registry mirror is in front. */
function image(ref: string, registry?: string): string {
    return registry ? `${registry.replace(/\/$/, "")}/library/${ref}` : ref;
}

/**
 * The guide's sample web app, so that a new lab has something to look at: nginx serving a
 * page from an NFS-backed claim, behind a Service and an Ingress host. A hand-written
 * Deployment: it is the guide's own example, not a product any chart packages.
 */
export class Samples extends pulumi.ComponentResource {
    public readonly url: string;

    constructor(name: string, args: SamplesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-lab:layers:Samples", name, {}, opts);
        const namespace = new k8s.core.v1.Namespace(`${name}-namespace`, { metadata: { name: "samples" } }, { parent: this });
        const ns = namespace.metadata.name;
        const labels = { app: "web" };
        const content = new k8s.core.v1.PersistentVolumeClaim(
            `${name}-content`,
            {
                metadata: { name: "web-content", namespace: ns },
                spec: { accessModes: ["ReadWriteMany"], storageClassName: args.settings.storageClassName, resources: { requests: { storage: "100Mi" } } },
            },
            { parent: this },
        );
        const web = new k8s.apps.v1.Deployment(
            `${name}-web`,
            {
                metadata: { name: "web", namespace: ns },
                spec: {
                    replicas: 2,
                    selector: { matchLabels: labels },
                    template: {
                        metadata: { labels },
                        spec: {
                            initContainers: [
                                {
                                    name: "seed",
                                    image: image(sampleImages.seed, args.imageRegistry),
                                    command: ["sh", "-c", "[ -f /data/index.html ] || echo '<h1>k8s-lab</h1><p>Served by nginx from an NFS claim.</p>' > /data/index.html"],
                                    volumeMounts: [{ name: "content", mountPath: "/data" }],
                                },
                            ],
                            containers: [
                                {
                                    name: "nginx",
                                    image: image(sampleImages.web, args.imageRegistry),
                                    ports: [{ containerPort: 80 }],
                                    volumeMounts: [{ name: "content", mountPath: "/usr/share/nginx/html" }],
                                },
                            ],
                            volumes: [{ name: "content", persistentVolumeClaim: { claimName: content.metadata.name } }],
                        },
                    },
                },
            },
            { parent: this },
        );
        const service = new k8s.core.v1.Service(
            `${name}-service`,
            { metadata: { name: "web", namespace: ns }, spec: { selector: labels, ports: [{ port: 80, targetPort: 80 }] } },
            { parent: this, dependsOn: [web] },
        );
        new k8s.networking.v1.Ingress(
            `${name}-ingress`,
            {
                metadata: { name: "web", namespace: ns },
                spec: {
                    ingressClassName: args.ingress.className,
                    rules: [{ host: uiHost("web", args.ingress.settings), http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: service.metadata.name, port: { number: 80 } } } }] } }],
                },
            },
            { parent: this },
        );
        this.url = uiUrl("web", args.ingress.settings);
        this.registerOutputs({ url: this.url });
    }
}

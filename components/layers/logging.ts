import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as random from "@pulumi/random";
import { LoggingSettings } from "../lib/config";
import { UiRoutes } from "./ingress";
import { chartRelease, MirrorOptions } from "../lib/chart";
import {
    deepMerge,
    eckOperatorValues,
    elasticsearchName,
    elasticsearchSpec,
    elasticUserSecret,
    fluentBitValues,
    kibanaName,
    kibanaSpec,
    uiHost,
    uiUrl,
} from "../lib/values";
import { charts, elasticStackVersion } from "../lib/versions";

export interface LoggingArgs extends MirrorOptions {
    /** StorageClass and size for Elasticsearch data, and a `values` override for Fluent Bit. Required. */
    settings: LoggingSettings;
    /** The ingress layer, which publishes the UIs. Required. */
    ingress: UiRoutes;
}

/**
 * EFK: Elasticsearch and Kibana run by the ECK operator (security on: TLS and the elastic
 * user, whose generated password the lab sets and exports), Kibana behind the ingress, and
 * Fluent Bit on every node shipping containerd's logs to Elasticsearch over TLS.
 */
export class Logging extends pulumi.ComponentResource {
    public readonly kibanaUrl: string;
    /** The elastic user's password (secret). */
    public readonly elasticPassword: pulumi.Output<string>;

    constructor(name: string, args: LoggingArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-lab:layers:Logging", name, {}, opts);
        const repos = args.chartRepositories ?? {};
        const operatorNamespace = new k8s.core.v1.Namespace(`${name}-operator-namespace`, { metadata: { name: "elastic-system" } }, { parent: this });
        const operator = chartRelease(
            `${name}-operator`,
            charts.eckOperator,
            { releaseName: "eck-operator", namespace: operatorNamespace.metadata.name, values: eckOperatorValues(args.imageRegistry), chartRepositories: repos },
            { parent: this },
        );
        const namespace = new k8s.core.v1.Namespace(`${name}-namespace`, { metadata: { name: "logging" } }, { parent: this });
        const ns = namespace.metadata.name;

        // ECK reuses a password it finds in this secret (24 characters or more) instead of
        // generating one, so the lab knows the elastic password without reading it back.
        const password = new random.RandomPassword(`${name}-elastic-password`, { length: 32, special: false }, { parent: this });
        const userSecret = new k8s.core.v1.Secret(
            `${name}-elastic-user`,
            { metadata: { name: elasticUserSecret, namespace: ns }, stringData: { elastic: password.result } },
            { parent: this },
        );
        const elasticsearch = new k8s.apiextensions.CustomResource(
            `${name}-elasticsearch`,
            {
                apiVersion: "elasticsearch.k8s.elastic.co/v1",
                kind: "Elasticsearch",
                metadata: { name: elasticsearchName, namespace: ns },
                spec: elasticsearchSpec(args.settings, elasticStackVersion, args.imageRegistry),
            },
            { parent: this, dependsOn: [operator, userSecret] },
        );
        const kibana = new k8s.apiextensions.CustomResource(
            `${name}-kibana`,
            {
                apiVersion: "kibana.k8s.elastic.co/v1",
                kind: "Kibana",
                metadata: { name: kibanaName, namespace: ns },
                spec: kibanaSpec(elasticStackVersion, args.imageRegistry),
            },
            { parent: this, dependsOn: [elasticsearch] },
        );
        new k8s.networking.v1.Ingress(
            `${name}-kibana-ingress`,
            {
                metadata: { name: kibanaName, namespace: ns },
                spec: {
                    ingressClassName: args.ingress.className,
                    rules: [
                        {
                            host: uiHost("kibana", args.ingress.settings),
                            http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: `${kibanaName}-kb-http`, port: { number: 5601 } } } }] },
                        },
                    ],
                },
            },
            { parent: this, dependsOn: [kibana] },
        );
        chartRelease(
            `${name}-fluent-bit`,
            charts.fluentBit,
            { releaseName: "fluent-bit", namespace: ns, values: deepMerge(fluentBitValues("logging", args.imageRegistry), args.settings.values), chartRepositories: repos },
            { parent: this, dependsOn: [elasticsearch] },
        );
        this.kibanaUrl = uiUrl("kibana", args.ingress.settings);
        this.elasticPassword = pulumi.secret(password.result);
        this.registerOutputs({ kibanaUrl: this.kibanaUrl, elasticPassword: this.elasticPassword });
    }
}

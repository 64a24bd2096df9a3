/**
 * Helm values and custom-resource specs for the lab's layers: pure functions of the lab's
 * settings, tested without mocks. Each builder sets only the keys the lab needs; the chart
 * defaults do the rest. A chart ignores a key it does not read, silently, so
 * `test/values.test.ts` records, per pinned chart version, the template that reads every key
 * these builders set, and which key moves each image the chart deploys.
 */
import { CalicoSettings, IngressController, IngressSettings, LoggingSettings, MonitoringSettings, NfsSettings } from "./config";

export type Values = Record<string, unknown>;

/** The mirror registry without a trailing slash, or undefined without a mirror. */
function mirror(imageRegistry?: string): string | undefined {
    return imageRegistry ? imageRegistry.replace(/\/$/, "") : undefined;
}

function isPlainObject(v: unknown): v is Values {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Merges `override` into `base`: objects key by key, anything else (arrays too) replaced. */
export function deepMerge(base: Values, override: Values): Values {
    const out: Values = { ...base };
    for (const [k, v] of Object.entries(override)) {
        out[k] = isPlainObject(v) && isPlainObject(out[k]) ? deepMerge(out[k] as Values, v) : v;
    }
    return out;
}

/** The IngressClass each controller registers as the cluster default. */
export function ingressClassName(controller: IngressController): string {
    return controller === "traefik" ? "traefik" : "nginx";
}

/** Host name of one of the lab's UIs, under the ingress base domain. */
export function uiHost(ui: string, ingress: IngressSettings): string {
    return `${ui}.${ingress.baseDomain}`;
}

/** URL of a UI: bare-metal ingress listens on a NodePort of every node. */
export function uiUrl(ui: string, ingress: IngressSettings): string {
    return `http://${uiHost(ui, ingress)}:${ingress.httpNodePort}`;
}

/** The warning printed at preview time while the lab uses the retired ingress-nginx. */
export function ingressWarning(controller: IngressController): string | undefined {
    if (controller !== "ingress-nginx") return undefined;
    return (
        "ingress-nginx is retired upstream (last release 4.15.1 / controller v1.15.1, March 2026, tested to Kubernetes 1.35) " +
        "and gets no more fixes. Set k8s-lab:addons.ingress.controller to traefik for a maintained controller that also " +
        "reads most nginx.ingress.kubernetes.io annotations."
    );
}

// ---- Calico -------------------------------------------------------------------------------

/** tigera-operator values: one IPv4 pool equal to kubeadm's podSubnet. */
export function calicoValues(calico: CalicoSettings, podSubnet: string, imageRegistry?: string): Values {
    // BGP carries routes for IPIP and unencapsulated pools; VXLAN needs none.
    const bgp = calico.encapsulation.startsWith("VXLAN") ? "Disabled" : "Enabled";
    const registry = mirror(imageRegistry);
    return {
        installation: {
            enabled: true,
            cni: { type: "Calico" },
            calicoNetwork: {
                bgp,
                // The default, firstFound, takes the first interface: on NAT + host-only VMs that
                // is the NAT one, whose address every node shares. The node's InternalIP is the
                // address kubelet registers (--node-ip, scripts/host-prep.sh): the lab's own.
                nodeAddressAutodetectionV4: { kubernetes: "NodeInternalIP" },
                ipPools: [
                    {
                        name: "default-ipv4-ippool",
                        cidr: podSubnet,
                        blockSize: 26,
                        encapsulation: calico.encapsulation,
                        natOutgoing: "Enabled",
                        nodeSelector: "all()",
                    },
                ],
            },
            // The images the operator deploys (calico/node, typha, kube-controllers, csi, ...).
            ...(registry ? { registry: `${registry}/` } : {}),
        },
        // The operator's own image, in its Deployment and its uninstall Job: not covered by the
        // Installation's registry, which only the running operator reads.
        ...(registry ? { tigeraOperator: { registry } } : {}),
    };
}

// ---- Ingress ------------------------------------------------------------------------------

export function ingressNginxValues(ingress: IngressSettings, imageRegistry?: string): Values {
    const registry = mirror(imageRegistry);
    return {
        // One key for every image: the controller, the admission webhook's certgen jobs and the
        // optional default backend all merge global.image under their own image settings.
        ...(registry ? { global: { image: { registry } } } : {}),
        controller: {
            // The lab owns the class (nginxIngressClass), so that a switch of controller keeps it.
            ingressClassResource: { name: "nginx", enabled: false },
            ingressClass: "nginx",
            service: {
                type: "NodePort",
                nodePorts: { http: ingress.httpNodePort, https: ingress.httpsNodePort },
            },
        },
    };
}

/**
 * The `nginx` IngressClass, owned by the lab: served by ingress-nginx (the cluster's default
 * class then) or by Traefik's nginx provider (Traefik's own class is the default then).
 */
export function nginxIngressClass(controller: IngressController): Values {
    const isDefault = controller !== "traefik";
    return {
        metadata: { name: "nginx", annotations: { "ingressclass.kubernetes.io/is-default-class": String(isDefault) } },
        spec: { controller: "k8s.io/ingress-nginx" },
    };
}

export function traefikValues(ingress: IngressSettings, imageRegistry?: string): Values {
    const registry = mirror(imageRegistry);
    return {
        // Chart 40 renders service.spec into the Service as it is; a service.type is ignored.
        service: { spec: { type: "NodePort" } },
        ports: {
            web: { nodePort: ingress.httpNodePort },
            websecure: { nodePort: ingress.httpsNodePort },
        },
        ingressClass: { enabled: true, isDefaultClass: true, name: "traefik" },
        providers: {
            kubernetesIngress: { enabled: true },
            // Serves Ingresses written for ingress-nginx (class nginx) and their annotations.
            kubernetesIngressNGINX: { enabled: true, ingressClass: "nginx", controllerClass: "k8s.io/ingress-nginx" },
        },
        ...(registry ? { image: { registry } } : {}),
    };
}

// ---- NFS storage --------------------------------------------------------------------------

export function csiDriverNfsValues(imageRegistry?: string): Values {
    // One controller replica: a lab has no second controller node to spread to. No snapshotter
    // sidecar: the lab installs no VolumeSnapshot CRDs for it to watch.
    const values: Values = { controller: { replicas: 1, enableSnapshotter: false } };
    const r = mirror(imageRegistry);
    if (r) {
        // Every image, those switched off included, so that a values override turning one on
        // still pulls from the mirror.
        values.image = {
            nfs: { repository: `${r}/sig-storage/nfsplugin` },
            csiProvisioner: { repository: `${r}/sig-storage/csi-provisioner` },
            csiResizer: { repository: `${r}/sig-storage/csi-resizer` },
            csiSnapshotter: { repository: `${r}/sig-storage/csi-snapshotter` },
            livenessProbe: { repository: `${r}/sig-storage/livenessprobe` },
            nodeDriverRegistrar: { repository: `${r}/sig-storage/csi-node-driver-registrar` },
            externalSnapshotter: { repository: `${r}/sig-storage/snapshot-controller` },
        };
    }
    return values;
}

/** The StorageClass: a sub-directory per claim on the lab's NFS export, NFS 4.1. */
export function storageClassSpec(nfs: NfsSettings, server: string) {
    return {
        metadata: {
            name: nfs.storageClassName,
            annotations: { "storageclass.kubernetes.io/is-default-class": String(nfs.defaultClass) },
        },
        provisioner: "nfs.csi.k8s.io",
        parameters: {
            server,
            share: nfs.exportPath,
            subDir: "${pvc.metadata.namespace}-${pvc.metadata.name}-${pv.metadata.name}",
            onDelete: nfs.reclaimPolicy === "Delete" ? "delete" : "retain",
        },
        reclaimPolicy: nfs.reclaimPolicy,
        volumeBindingMode: "Immediate",
        allowVolumeExpansion: true,
        mountOptions: ["nfsvers=4.1"],
    };
}

// ---- Logging ------------------------------------------------------------------------------

export const elasticsearchName = "elasticsearch";
export const kibanaName = "kibana";
/** ECK keeps the elastic user's password in this secret and reuses one that already exists. */
export const elasticUserSecret = `${elasticsearchName}-es-elastic-user`;
/** ECK publishes the CA of Elasticsearch's HTTP certificate in this secret. */
export const elasticCaSecret = `${elasticsearchName}-es-http-certs-public`;

export function eckOperatorValues(imageRegistry?: string): Values {
    const r = mirror(imageRegistry);
    // containerRegistry is where the operator takes the images of the resources it runs when
    // their spec names none (the lab's Elasticsearch and Kibana name theirs).
    return r ? { image: { repository: `${r}/eck/eck-operator` }, config: { containerRegistry: r } } : {};
}

function elasticImage(product: "elasticsearch" | "kibana", version: string, imageRegistry?: string): Values {
    const r = mirror(imageRegistry);
    return r ? { image: `${r}/${product}/${product}:${version}` } : {};
}

/** A single-node Elasticsearch with security on (ECK's default: TLS and the elastic user). */
export function elasticsearchSpec(logging: LoggingSettings, version: string, imageRegistry?: string): Values {
    return {
        version,
        ...elasticImage("elasticsearch", version, imageRegistry),
        nodeSets: [
            {
                name: "default",
                count: 1,
                podTemplate: {
                    spec: {
                        containers: [{ name: "elasticsearch", resources: { requests: { memory: "2Gi" }, limits: { memory: "2Gi" } } }],
                    },
                },
                volumeClaimTemplates: [
                    {
                        metadata: { name: "elasticsearch-data" },
                        spec: {
                            accessModes: ["ReadWriteOnce"],
                            storageClassName: logging.storageClassName,
                            resources: { requests: { storage: logging.storageSize } },
                        },
                    },
                ],
            },
        ],
    };
}

/** Kibana talks TLS to Elasticsearch; its own HTTP is plain because the ingress terminates. */
export function kibanaSpec(version: string, imageRegistry?: string): Values {
    return {
        version,
        ...elasticImage("kibana", version, imageRegistry),
        count: 1,
        elasticsearchRef: { name: elasticsearchName },
        http: { tls: { selfSignedCertificate: { disabled: true } } },
    };
}

/** Fluent Bit on every node: containerd's CRI logs, Kubernetes metadata, to Elasticsearch over TLS. */
export function fluentBitValues(namespace: string, imageRegistry?: string): Values {
    const r = mirror(imageRegistry);
    const esHost = `${elasticsearchName}-es-http.${namespace}.svc`;
    return {
        kind: "DaemonSet",
        // Every node, the control plane included, writes container logs.
        tolerations: [{ operator: "Exists" }],
        env: [{ name: "ES_PASSWORD", valueFrom: { secretKeyRef: { name: elasticUserSecret, key: "elastic" } } }],
        extraVolumes: [{ name: "es-ca", secret: { secretName: elasticCaSecret } }],
        extraVolumeMounts: [{ name: "es-ca", mountPath: "/fluent-bit/es-ca", readOnly: true }],
        config: {
            inputs: [
                "[INPUT]",
                "    Name              tail",
                "    Path              /var/log/containers/*.log",
                "    multiline.parser  cri",
                "    Tag               kube.*",
                "    Mem_Buf_Limit     5MB",
                "    Skip_Long_Lines   On",
                "",
            ].join("\n"),
            filters: [
                "[FILTER]",
                "    Name                kubernetes",
                "    Match               kube.*",
                "    Merge_Log           On",
                "    Keep_Log            Off",
                "    K8S-Logging.Parser  On",
                "    K8S-Logging.Exclude On",
                "",
            ].join("\n"),
            outputs: [
                "[OUTPUT]",
                "    Name               es",
                "    Match              kube.*",
                `    Host               ${esHost}`,
                "    Port               9200",
                "    HTTP_User          elastic",
                "    HTTP_Passwd        ${ES_PASSWORD}",
                "    tls                On",
                "    tls.verify         On",
                "    tls.ca_file        /fluent-bit/es-ca/ca.crt",
                "    Logstash_Format    On",
                "    Logstash_Prefix    logs",
                "    Suppress_Type_Name On",
                "    Replace_Dots       On",
                "    Retry_Limit        False",
                "",
            ].join("\n"),
        },
        // The config reloader sidecar is off, but a values override may turn it on.
        ...(r ? { image: { repository: `${r}/fluent/fluent-bit` }, hotReload: { image: { repository: `${r}/jimmidyson/configmap-reload` } } } : {}),
    };
}

// ---- Monitoring ---------------------------------------------------------------------------

export const grafanaAdminSecret = "grafana-admin";

export function kubePrometheusStackValues(monitoring: MonitoringSettings, ingress: IngressSettings, className: string, imageRegistry?: string): Values {
    const ui = (name: string) => ({ enabled: true, ingressClassName: className, hosts: [uiHost(name, ingress)], paths: ["/"] });
    const registry = mirror(imageRegistry);
    const claim = (size: string) => ({
        volumeClaimTemplate: {
            spec: { storageClassName: monitoring.storageClassName, accessModes: ["ReadWriteOnce"], resources: { requests: { storage: size } } },
        },
    });
    return {
        // One key for every image, subcharts (Grafana, kube-state-metrics, node-exporter) included.
        ...(registry ? { global: { imageRegistry: registry } } : {}),
        grafana: {
            // The generated password in a Secret of the lab's; no admin/admin anywhere.
            admin: { existingSecret: grafanaAdminSecret, userKey: "admin-user", passwordKey: "admin-password" },
            ingress: { enabled: true, ingressClassName: className, hosts: [uiHost("grafana", ingress)], path: "/" },
        },
        prometheus: {
            ingress: ui("prometheus"),
            prometheusSpec: { retention: monitoring.retention, storageSpec: claim(monitoring.storageSize) },
        },
        alertmanager: {
            ingress: ui("alertmanager"),
            alertmanagerSpec: { storage: claim("1Gi") },
        },
        // The metrics ports the kubeadm configuration binds beyond 127.0.0.1 (components/lib/kubeadm.ts).
        kubeControllerManager: { enabled: true, service: { port: 10257, targetPort: 10257 }, serviceMonitor: { https: true, insecureSkipVerify: true } },
        kubeScheduler: { enabled: true, service: { port: 10259, targetPort: 10259 }, serviceMonitor: { https: true, insecureSkipVerify: true } },
        kubeEtcd: { enabled: true, service: { port: 2381, targetPort: 2381 } },
        kubeProxy: { enabled: true, service: { port: 10249, targetPort: 10249 } },
    };
}

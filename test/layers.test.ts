import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { unknownValue } from "@pulumi/pulumi/runtime/rpc";
import type { RawConfig } from "../components/lib/config";
import { charts, elasticStackVersion } from "../components/lib/versions";
import { guideLab } from "./fixtures";
import { evaluate, Graph, plainText, Registration } from "./harness";

const RELEASE = "kubernetes:helm.sh/v3:Release";
const allOn = { calico: {}, ingress: {}, nfs: {}, logging: {}, monitoring: {} };
const lab = (addons: Record<string, unknown> = allOn, extra: Partial<RawConfig> = {}) => guideLab({ addons, ...extra });

function release(g: Graph, name: string): Registration {
    const r = g.byName(name);
    assert.strictEqual(r.type, RELEASE, `${name} is a Helm release`);
    return r;
}

describe("layers", () => {
    let g: Graph;
    before(async () => {
        g = await evaluate(lab());
    });

    it("installs each pinned chart from its repository", () => {
        const expect = {
            "calico-crds": charts.calicoCrds,
            "calico-operator": charts.tigeraOperator,
            "ingress-controller": charts.ingressNginx,
            "nfs-driver": charts.csiDriverNfs,
            "logging-operator": charts.eckOperator,
            "logging-fluent-bit": charts.fluentBit,
            "monitoring-stack": charts.kubePrometheusStack,
        };
        for (const [name, pin] of Object.entries(expect)) {
            const r = release(g, name);
            assert.strictEqual(r.inputs.chart, pin.chart, name);
            assert.strictEqual(r.inputs.version, pin.version, name);
            assert.strictEqual(r.inputs.repositoryOpts.repo, pin.repo, name);
        }
    });

    it("sends every Kubernetes object through the cluster's provider, and only the kept namespace through the adopting one", () => {
        const provider = g.byName("lab-provider").urn;
        const adopting = g.byName("lab-adopting-provider");
        assert.strictEqual(adopting.inputs.upsertExistingObjects, "true", "provider inputs travel as strings");
        assert.strictEqual(g.byName("lab-provider").inputs.upsertExistingObjects, undefined, "the lab's provider never adopts by name");
        const objects = g.resources.filter((r) => r.custom && r.type.startsWith("kubernetes:") && !r.type.startsWith("pulumi:providers"));
        assert.ok(objects.length >= 15, `found ${objects.length} Kubernetes objects`);
        for (const r of objects) {
            const expected = r.name === "monitoring-namespace" ? adopting.urn : provider;
            assert.ok(r.provider.startsWith(`${expected}::`), `${r.name} uses ${r.provider}`);
        }
    });

    it("gives Calico one IP pool equal to the pod subnet, VXLAN without BGP, CRDs first", async () => {
        const values = release(g, "calico-operator").inputs.values;
        assert.deepStrictEqual(values.installation.calicoNetwork.ipPools.map((p: { cidr: string }) => p.cidr), ["10.244.0.0/16"]);
        assert.strictEqual(values.installation.calicoNetwork.ipPools[0].encapsulation, "VXLAN");
        assert.strictEqual(values.installation.calicoNetwork.bgp, "Disabled");
        assert.ok(g.dependsOn("calico-operator", "calico-crds"));
        const custom = await evaluate(lab(allOn, { kubernetes: { podSubnet: "172.20.0.0/16" } }));
        assert.strictEqual(release(custom, "calico-operator").inputs.values.installation.calicoNetwork.ipPools[0].cidr, "172.20.0.0/16");
    });

    it("orders the layers: Calico, then ingress and storage, then logging and monitoring", () => {
        for (const n of ["ingress-controller", "nfs-driver", "nfs-class"]) assert.ok(g.dependsOn(n, "calico-operator"), `${n} after Calico`);
        for (const n of ["logging-operator", "logging-elasticsearch", "logging-fluent-bit", "monitoring-stack"]) {
            assert.ok(g.dependsOn(n, "nfs-class"), `${n} after storage`);
            assert.ok(g.dependsOn(n, "ingress-controller"), `${n} after ingress`);
        }
        assert.ok(!g.dependsOn("ingress-controller", "nfs-class"), "ingress and storage do not wait for each other");
        assert.ok(!g.dependsOn("monitoring-stack", "logging-elasticsearch"), "logging and monitoring do not wait for each other");
    });

    it("exposes ingress-nginx on fixed NodePorts as the default IngressClass", () => {
        const c = release(g, "ingress-controller").inputs.values.controller;
        assert.deepStrictEqual(c.service, { type: "NodePort", nodePorts: { http: 30080, https: 30443 } });
        assert.strictEqual(c.ingressClassResource.enabled, false, "the lab owns the class, not the chart");
        const cls = g.byName("ingress-nginx-class").inputs;
        assert.deepStrictEqual(cls.metadata.annotations, { "ingressclass.kubernetes.io/is-default-class": "true" });
        assert.strictEqual(cls.spec.controller, "k8s.io/ingress-nginx");
        assert.strictEqual(g.outputs.ingressClassName, "nginx");
    });

    it("offers Traefik instead, with nginx's IngressClass for Ingresses written for it", async () => {
        const t = await evaluate(lab({ ...allOn, ingress: { controller: "traefik", httpNodePort: 31080, httpsNodePort: 31443 } }));
        const r = release(t, "ingress-controller");
        assert.strictEqual(r.inputs.chart, "traefik");
        assert.deepStrictEqual(r.inputs.values.ports, { web: { nodePort: 31080 }, websecure: { nodePort: 31443 } });
        assert.strictEqual(r.inputs.values.providers.kubernetesIngressNGINX.enabled, true);
        assert.strictEqual(t.byName("ingress-nginx-class").inputs.spec.controller, "k8s.io/ingress-nginx");
        assert.strictEqual(t.outputs.ingressClassName, "traefik");
        assert.strictEqual(t.outputs.grafanaUrl, "http://grafana.192.168.56.10.nip.io:31080");
        assert.strictEqual(release(t, "monitoring-stack").inputs.values.grafana.ingress.ingressClassName, "traefik");
    });

    it("serves NFS from the nfs host to the Kubernetes hosts only, and keeps data on remove", () => {
        const server = g.byName("nfs-server");
        assert.strictEqual(server.inputs.connection.host, "192.168.56.13");
        assert.match(server.inputs.stdin, /^EXPORT_PATH='\/srv\/nfs\/k8s-lab'$/m);
        assert.match(server.inputs.stdin, /^CLIENTS='192\.168\.56\.10 192\.168\.56\.11 192\.168\.56\.12'$/m);
        assert.match(server.inputs.stdin, /^DELETE_DATA='false'$/m);
        assert.strictEqual(server.inputs.delete, "sudo -n bash -s -- remove");
    });

    it("falls back to the control plane for NFS when no host has the nfs role", async () => {
        const raw = lab();
        raw.hosts = (raw.hosts as { roles: string[] }[]).filter((h) => !h.roles.includes("nfs"));
        const cp = await evaluate(raw);
        assert.strictEqual(cp.byName("nfs-server").inputs.connection.host, "192.168.56.10");
        assert.ok(cp.dependsOn("nfs-server", "lab-cp1-prep"), "after the host is prepared");
        assert.strictEqual(cp.byName("nfs-class").inputs.parameters.server, "192.168.56.10");
    });

    it("makes nfs-storage the default class: a sub-directory per claim, NFS 4.1, the reclaim policy", async () => {
        const sc = g.byName("nfs-class");
        assert.strictEqual(sc.type, "kubernetes:storage.k8s.io/v1:StorageClass");
        assert.strictEqual(sc.inputs.metadata.name, "nfs-storage");
        assert.strictEqual(sc.inputs.metadata.annotations["storageclass.kubernetes.io/is-default-class"], "true");
        assert.strictEqual(sc.inputs.provisioner, "nfs.csi.k8s.io");
        assert.deepStrictEqual(sc.inputs.parameters, {
            server: "192.168.56.13",
            share: "/srv/nfs/k8s-lab",
            subDir: "${pvc.metadata.namespace}-${pvc.metadata.name}-${pv.metadata.name}",
            onDelete: "delete",
        });
        assert.deepStrictEqual(sc.inputs.mountOptions, ["nfsvers=4.1"]);
        assert.strictEqual(sc.inputs.reclaimPolicy, "Delete");
        assert.strictEqual(sc.deleteBeforeReplace, true);
        assert.strictEqual(g.outputs.storageClassName, "nfs-storage");
        const retain = await evaluate(lab({ ...allOn, nfs: { reclaimPolicy: "Retain", defaultClass: false } }));
        assert.strictEqual(retain.byName("nfs-class").inputs.parameters.onDelete, "retain");
        assert.strictEqual(retain.byName("nfs-class").inputs.metadata.annotations["storageclass.kubernetes.io/is-default-class"], "false");
    });

    it("runs a single-node Elasticsearch with security on, its data on the configured class", () => {
        const es = g.byName("logging-elasticsearch");
        assert.strictEqual(es.inputs.apiVersion, "elasticsearch.k8s.elastic.co/v1");
        assert.strictEqual(es.inputs.spec.version, elasticStackVersion);
        assert.strictEqual(es.inputs.spec.nodeSets[0].count, 1);
        assert.strictEqual(es.inputs.spec.nodeSets[0].volumeClaimTemplates[0].spec.storageClassName, "nfs-storage");
        assert.strictEqual(es.inputs.spec.http, undefined, "ECK's default: TLS on");
        assert.ok(g.dependsOn("logging-elasticsearch", "logging-operator"));
        assert.ok(g.dependsOn("logging-elasticsearch", "logging-elastic-user"), "the password secret exists before Elasticsearch");
        assert.strictEqual(g.byName("logging-elastic-user").inputs.metadata.name, "elasticsearch-es-elastic-user");
        assert.ok(g.byName("logging-elastic-user").secretInputs.includes("stringData"));
    });

    it("ships CRI logs from every node to Elasticsearch over TLS with the operator's secret", () => {
        const v = release(g, "logging-fluent-bit").inputs.values;
        assert.match(v.config.inputs, /Path\s+\/var\/log\/containers\/\*\.log/);
        assert.match(v.config.inputs, /multiline\.parser\s+cri\n/);
        assert.doesNotMatch(v.config.inputs, /docker/i, "no Docker parser or paths");
        assert.match(v.config.filters, /Name\s+kubernetes/);
        assert.match(v.config.outputs, /Host\s+elasticsearch-es-http\.logging\.svc\n/);
        assert.match(v.config.outputs, /tls\s+On\n\s+tls\.verify\s+On/);
        assert.match(v.config.outputs, /tls\.ca_file\s+\/fluent-bit\/es-ca\/ca\.crt/);
        assert.match(v.config.outputs, /HTTP_Passwd\s+\$\{ES_PASSWORD\}/);
        assert.match(v.config.outputs, /Suppress_Type_Name On/);
        assert.deepStrictEqual(v.env[0].valueFrom.secretKeyRef, { name: "elasticsearch-es-elastic-user", key: "elastic" });
        assert.strictEqual(v.extraVolumes[0].secret.secretName, "elasticsearch-es-http-certs-public");
        assert.deepStrictEqual(v.tolerations, [{ operator: "Exists" }], "the control plane too");
        assert.strictEqual(v.kind, "DaemonSet");
    });

    it("publishes Kibana behind the ingress", () => {
        const ing = g.byName("logging-kibana-ingress");
        assert.strictEqual(ing.inputs.spec.ingressClassName, "nginx");
        assert.strictEqual(ing.inputs.spec.rules[0].host, "kibana.192.168.56.10.nip.io");
        assert.strictEqual(ing.inputs.spec.rules[0].http.paths[0].backend.service.name, "kibana-kb-http");
        assert.strictEqual(g.outputs.kibanaUrl, "http://kibana.192.168.56.10.nip.io:30080");
    });

    it("gives Grafana a generated password through a Secret, and Prometheus storage and retention", () => {
        const v = release(g, "monitoring-stack").inputs.values;
        assert.deepStrictEqual(v.grafana.admin, { existingSecret: "grafana-admin", userKey: "admin-user", passwordKey: "admin-password" });
        const secret = g.byName("monitoring-grafana-admin");
        assert.strictEqual(secret.inputs.metadata.name, "grafana-admin");
        assert.ok(secret.secretInputs.includes("stringData"));
        assert.strictEqual(secret.inputs.stringData["admin-password"], "generated-monitoring-grafana-password-0123456789abcdef");
        assert.ok(g.dependsOn("monitoring-stack", "monitoring-grafana-admin"));
        assert.strictEqual(g.byName("monitoring-grafana-password").type, "random:index/randomPassword:RandomPassword");
        assert.strictEqual(v.prometheus.prometheusSpec.retention, "10d");
        assert.deepStrictEqual(v.prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec.storageClassName, "nfs-storage");
        for (const ui of ["grafana", "prometheus", "alertmanager"]) {
            assert.deepStrictEqual(v[ui].ingress.hosts, [`${ui}.192.168.56.10.nip.io`]);
        }
        assert.deepStrictEqual(v.kubeEtcd.service, { port: 2381, targetPort: 2381 }, "etcd metrics as kubeadm exposes them");
        assert.strictEqual(v.kubeControllerManager.service.port, 10257);
        assert.strictEqual(v.kubeScheduler.service.port, 10259);
        assert.strictEqual(v.kubeProxy.service.port, 10249);
    });

    it("exports the URLs, class names, and the passwords as secrets", async () => {
        assert.strictEqual(g.outputs.grafanaUrl, "http://grafana.192.168.56.10.nip.io:30080");
        assert.strictEqual(g.outputs.prometheusUrl, "http://prometheus.192.168.56.10.nip.io:30080");
        assert.strictEqual(g.outputs.alertmanagerUrl, "http://alertmanager.192.168.56.10.nip.io:30080");
        const program = g.outputs.__program as Record<string, pulumi.Output<string>>;
        assert.ok(await pulumi.isSecret(program.grafanaAdminPassword));
        assert.ok(await pulumi.isSecret(program.elasticPassword));
        const text = plainText(g);
        for (const secret of ["generated-monitoring-grafana-password", "generated-logging-elastic-password"]) {
            assert.ok(!text.includes(secret), `${secret} appears outside a secret`);
        }
    });

    it("uses the mirrors: image registry in chart values, chart repository mirrors", async () => {
        const m = await evaluate(
            lab(allOn, {
                mirrors: {
                    imageRegistry: "registry.example.cn",
                    chartRepositories: { [charts.kubePrometheusStack.repo]: "https://charts.example.cn/prometheus-community" },
                },
            }),
        );
        assert.strictEqual(release(m, "monitoring-stack").inputs.repositoryOpts.repo, "https://charts.example.cn/prometheus-community");
        assert.strictEqual(release(m, "monitoring-stack").inputs.values.global.imageRegistry, "registry.example.cn");
        assert.strictEqual(release(m, "calico-operator").inputs.values.installation.registry, "registry.example.cn/");
        assert.strictEqual(release(m, "ingress-controller").inputs.values.global.image.registry, "registry.example.cn");
        assert.strictEqual(m.byName("logging-elasticsearch").inputs.spec.image, `registry.example.cn/elasticsearch/elasticsearch:${elasticStackVersion}`);
        assert.match(release(m, "logging-fluent-bit").inputs.values.image.repository, /^registry\.example\.cn\//);
    });

    it("merges a layer's values override over the lab's values", async () => {
        const o = await evaluate(lab({ ...allOn, monitoring: { values: { grafana: { persistence: { enabled: true } } } } }));
        const grafana = release(o, "monitoring-stack").inputs.values.grafana;
        assert.deepStrictEqual(grafana.persistence, { enabled: true });
        assert.strictEqual(grafana.admin.existingSecret, "grafana-admin", "the lab's keys stay");
    });

    it("adds the guide's web app on request: nginx serving an NFS claim behind an Ingress host", async () => {
        assert.ok(!g.resources.some((r) => r.name.startsWith("samples")), "off unless asked for");
        const s = await evaluate(lab({ ...allOn, samples: {} }));
        const pvc = s.byName("samples-content");
        assert.strictEqual(pvc.inputs.spec.storageClassName, "nfs-storage");
        const pod = s.byName("samples-web").inputs.spec.template.spec;
        assert.strictEqual(pod.volumes[0].persistentVolumeClaim.claimName, "web-content");
        assert.strictEqual(pod.containers[0].volumeMounts[0].mountPath, "/usr/share/nginx/html");
        assert.strictEqual(s.byName("samples-ingress").inputs.spec.rules[0].host, "web.192.168.56.10.nip.io");
        assert.strictEqual(s.outputs.sampleUrl, "http://web.192.168.56.10.nip.io:30080");
        assert.ok(s.dependsOn("samples-content", "nfs-class"), "after storage");
    });

    describe("switching a layer off removes exactly its resources", () => {
        const cases: [string, Record<string, unknown>][] = [
            ["calico", { ...allOn, calico: false }],
            ["logging", { ...allOn, logging: false }],
            ["monitoring", { ...allOn, monitoring: false }],
            ["nfs", { ...allOn, nfs: false, logging: { storageClassName: "local-path" }, monitoring: { storageClassName: "local-path" } }],
        ];
        for (const [layer, addons] of cases) {
            it(layer, async () => {
                const off = await evaluate(lab(addons));
                const on = new Map(g.resources.map((r) => [r.name, r]));
                const offNames = new Set(off.resources.map((r) => r.name));
                const gone = [...on.keys()].filter((n) => !offNames.has(n));
                assert.ok(gone.length > 0);
                for (const n of gone) assert.ok(n === layer || n.startsWith(`${layer}-`), `${n} went with ${layer}`);
                if (layer === "calico") assert.deepStrictEqual([g.outputs.calicoLayer, off.outputs.calicoLayer], [true, false], "verify learns that the NetworkPolicy check has no Calico to prove");
                assert.ok([...offNames].every((n) => on.has(n)), "nothing new appears");
                for (const r of off.resources) {
                    if (["logging-elasticsearch", "monitoring-stack"].includes(r.name) && layer === "nfs") continue;
                    assert.deepStrictEqual(r.inputs, on.get(r.name)?.inputs, `${r.name} is unchanged`);
                }
            });
        }
    });

    it("previews a fresh lab: the kubeconfig is unknown, and every layer still says what it will create", async () => {
        const preview = await evaluate(lab(), { preview: true });
        const names = (x: Graph) => x.resources.map((r) => `${r.type} ${r.name}`).sort();
        assert.deepStrictEqual(names(preview), names(g));
        assert.strictEqual(preview.byName("lab-provider").inputs.kubeconfig, unknownValue, "the kubeconfig is not known yet");
        assert.strictEqual(release(preview, "monitoring-stack").inputs.values.grafana.admin.existingSecret, "grafana-admin");
    });
});

import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { validateConfig } from "../components/lib/config";
import {
    calicoValues,
    csiDriverNfsValues,
    deepMerge,
    eckOperatorValues,
    fluentBitValues,
    ingressNginxValues,
    ingressWarning,
    kubePrometheusStackValues,
    traefikValues,
    Values,
} from "../components/lib/values";
import { charts, defaultKubernetesMinor, kubernetesReleases, layerKubernetesSupport, untestedLayers } from "../components/lib/versions";
import { guideLab } from "./fixtures";

/** Every key path a values object sets (objects are walked; arrays and scalars are leaves). */
function keyPaths(v: Values, prefix = ""): string[] {
    return Object.entries(v).flatMap(([k, x]) =>
        typeof x === "object" && x !== null && !Array.isArray(x) ? keyPaths(x as Values, `${prefix}${k}.`) : [`${prefix}${k}`],
    );
}

/** The value at a key path, or undefined. */
function at(v: Values, keyPath: string): unknown {
    return keyPath.split(".").reduce<unknown>((o, k) => (typeof o === "object" && o !== null ? (o as Values)[k] : undefined), v);
}

/**
 * What one pinned chart version reads, found by reading that version's templates.
 *
 * `reads` maps a key path to the template that reads it (file:line under `source`): the reads
 * of the keys the lab sets, not everything a chart reads, so a new key fails the test until
 * its read has been found in the templates and recorded here. `*`
 * stands for any one map key: the template ranges over the map. Where a template renders an
 * object whole (toYaml) into a Kubernetes or custom resource, the paths under it are the
 * fields of that resource the lab uses, and the source is the resource's schema.
 *
 * `images` lists every image the chart's templates can deploy, with the key that moves it to
 * `mirrors.imageRegistry`, or why the lab never deploys it.
 */
interface ChartReads {
    version: string;
    source: string;
    reads: Record<string, string>;
    images: { image: string; where: string; movedBy?: string; notDeployed?: string }[];
}

const installationCrd = "the Installation schema, charts/crd.projectcalico.org.v1/templates/operator.tigera.io_installations.yaml";

const chartReads: Record<string, ChartReads> = {
    "tigera-operator": {
        version: "v3.32.2",
        // v3.32.2 is not in the stored copy (newest tag v3.32.1); release-v3.32 is the branch it is cut from,
        // and its chart templates and values.yaml are unchanged since v3.32.1.
        source: "projectcalico/calico@release-v3.32 (de60d98, 2026-08-21) charts/tigera-operator/templates",
        reads: {
            "installation.enabled": "crs/custom-resources.yaml:1",
            // crs/custom-resources.yaml:2-9 renders installation (less `enabled`) as the Installation's spec.
            "installation.cni.type": `crs/custom-resources.yaml:2 → spec.cni.type in ${installationCrd}`,
            "installation.calicoNetwork.bgp": `crs/custom-resources.yaml:2 → spec.calicoNetwork.bgp in ${installationCrd}`,
            "installation.calicoNetwork.ipPools": `crs/custom-resources.yaml:2 → spec.calicoNetwork.ipPools in ${installationCrd}`,
            "installation.calicoNetwork.nodeAddressAutodetectionV4.kubernetes": `crs/custom-resources.yaml:2 → enum [NodeInternalIP] in ${installationCrd}`,
            "installation.registry": `crs/custom-resources.yaml:2 → spec.registry in ${installationCrd}`,
            "tigeraOperator.registry": "_helpers.tpl:3 (tigera-operator.image), used by tigera-operator/02-tigera-operator.yaml:58 and 00-uninstall.yaml:37",
        },
        images: [
            { image: "tigera/operator (Deployment, uninstall Job)", where: "02-tigera-operator.yaml:58, 00-uninstall.yaml:37", movedBy: "tigeraOperator.registry" },
            { image: "calico/* (node, typha, kube-controllers, csi, ...)", where: "deployed by the operator from the Installation", movedBy: "installation.registry" },
            { image: "calico/ctl", where: "02-tigera-operator.yaml:118", notDeployed: "an init container only when installation.kubernetesProvider is openshift" },
        ],
    },
    "ingress-nginx": {
        version: "4.15.1",
        source: "kubernetes/ingress-nginx@helm-chart-4.15.1 charts/ingress-nginx/templates",
        reads: {
            "controller.ingressClassResource.name": "controller-ingressclass.yaml:11",
            "controller.ingressClassResource.enabled": "controller-ingressclass.yaml:1",
            "controller.ingressClass": "_params.tpl:18",
            "controller.service.type": "controller-service.yaml:21",
            "controller.service.nodePorts.http": "controller-service.yaml:75",
            "controller.service.nodePorts.https": "controller-service.yaml:87",
            "global.image.registry":
                "controller-deployment.yaml:87, admission-webhooks/job-patch/job-createSecret.yaml:48, job-patchWebhook.yaml:48, default-backend-deployment.yaml:56 (merge <image> .Values.global.image)",
        },
        images: [
            { image: "ingress-nginx/controller", where: "controller-deployment.yaml:88", movedBy: "global.image.registry" },
            { image: "ingress-nginx/kube-webhook-certgen", where: "job-createSecret.yaml:49, job-patchWebhook.yaml:49", movedBy: "global.image.registry" },
            { image: "defaultbackend-amd64", where: "default-backend-deployment.yaml:57", movedBy: "global.image.registry" },
        ],
    },
    traefik: {
        version: "40.0.0",
        source: "traefik/traefik-helm-chart@v40.0.0 traefik/templates",
        reads: {
            // service.yaml:2 renders .Values.service (less additionalServices) as the default Service.
            "service.spec.type": "service.yaml:2 → _service.tpl:24 (toYaml .service.spec into the Service's spec)",
            "ports.*.nodePort": "service.yaml:12 (range .Values.ports) → _service.tpl:42",
            "ingressClass.enabled": "ingressclass.yaml:1",
            "ingressClass.isDefaultClass": "ingressclass.yaml:6",
            "ingressClass.name": "ingressclass.yaml:9",
            "providers.kubernetesIngress.enabled": "_podtemplate.tpl:511",
            "providers.kubernetesIngressNGINX.enabled": "_podtemplate.tpl:599-600",
            // Every other key of the provider becomes --providers.kubernetesingressnginx.<key> (values.yaml:393-395 declares these).
            "providers.kubernetesIngressNGINX.ingressClass": "_podtemplate.tpl:612",
            "providers.kubernetesIngressNGINX.controllerClass": "_podtemplate.tpl:612",
            "image.registry": "_helpers.tpl:36 (traefik.image-name)",
        },
        images: [{ image: "traefik", where: "_podtemplate.tpl:71", movedBy: "image.registry" }],
    },
    "csi-driver-nfs": {
        version: "4.13.4",
        source: "kubernetes-csi/csi-driver-nfs@master (d3b27c0, 2026-08-22) charts/v4.13.4/csi-driver-nfs/templates",
        reads: {
            "controller.replicas": "csi-nfs-controller.yaml:9",
            "controller.enableSnapshotter": "csi-nfs-controller.yaml:116",
            "image.nfs.repository": "csi-nfs-controller.yaml:165, csi-nfs-node.yaml:123",
            "image.csiProvisioner.repository": "csi-nfs-controller.yaml:64",
            "image.csiResizer.repository": "csi-nfs-controller.yaml:92",
            "image.csiSnapshotter.repository": "csi-nfs-controller.yaml:118",
            "image.livenessProbe.repository": "csi-nfs-controller.yaml:144, csi-nfs-node.yaml:48",
            "image.nodeDriverRegistrar.repository": "csi-nfs-node.yaml:69",
            "image.externalSnapshotter.repository": "csi-snapshot-controller.yaml:81",
        },
        images: [
            { image: "sig-storage/nfsplugin", where: "csi-nfs-controller.yaml:166, csi-nfs-node.yaml:124", movedBy: "image.nfs.repository" },
            { image: "sig-storage/csi-provisioner", where: "csi-nfs-controller.yaml:65", movedBy: "image.csiProvisioner.repository" },
            { image: "sig-storage/csi-resizer", where: "csi-nfs-controller.yaml:93", movedBy: "image.csiResizer.repository" },
            { image: "sig-storage/csi-snapshotter (off: controller.enableSnapshotter)", where: "csi-nfs-controller.yaml:119", movedBy: "image.csiSnapshotter.repository" },
            { image: "sig-storage/livenessprobe", where: "csi-nfs-controller.yaml:145, csi-nfs-node.yaml:49", movedBy: "image.livenessProbe.repository" },
            { image: "sig-storage/csi-node-driver-registrar", where: "csi-nfs-node.yaml:70", movedBy: "image.nodeDriverRegistrar.repository" },
            { image: "sig-storage/snapshot-controller (off: externalSnapshotter.enabled)", where: "csi-snapshot-controller.yaml:82", movedBy: "image.externalSnapshotter.repository" },
        ],
    },
    "eck-operator": {
        version: "3.5.0",
        source: "elastic/cloud-on-k8s@v3.5.0 deploy/eck-operator/templates",
        reads: {
            "image.repository": "_helpers.tpl:454 (eck-operator.imageReference, statefulset.yaml:58)",
            "config.containerRegistry": "configmap.yaml:19",
        },
        images: [
            { image: "eck/eck-operator", where: "statefulset.yaml:58", movedBy: "image.repository" },
            { image: "the stack images the operator runs when a resource names none", where: "operator config container-registry", movedBy: "config.containerRegistry" },
        ],
    },
    "fluent-bit": {
        version: "0.58.2",
        // 0.58.2 is not in the stored copy (newest tag fluent-bit-0.58.1, 2026-08-17): read from 0.58.1.
        source: "fluent/helm-charts@fluent-bit-0.58.1 charts/fluent-bit/templates",
        reads: {
            kind: "daemonset.yaml:1",
            tolerations: "_pod.tpl:165",
            env: "_pod.tpl:46",
            extraVolumes: "_pod.tpl:154",
            extraVolumeMounts: "_pod.tpl:104",
            "config.inputs": "configmap.yaml:14",
            "config.filters": "configmap.yaml:15",
            "config.outputs": "configmap.yaml:16",
            "image.repository": "_pod.tpl:44 (fluent-bit.image, _helpers.tpl:68)",
            "hotReload.image.repository": "_pod.tpl:113",
        },
        images: [
            { image: "fluent/fluent-bit", where: "_pod.tpl:44", movedBy: "image.repository" },
            { image: "jimmidyson/configmap-reload (off: hotReload.enabled)", where: "_pod.tpl:113", movedBy: "hotReload.image.repository" },
            { image: "busybox", where: "tests/test-connection.yaml:17", notDeployed: "a `helm test` hook pod; a Release never runs helm test" },
        ],
    },
    "kube-prometheus-stack": {
        version: "88.2.0",
        source:
            "prometheus-community/helm-charts@kube-prometheus-stack-88.2.0 charts/kube-prometheus-stack/templates; its grafana subchart 12.10.4 at grafana-community/helm-charts@grafana-12.10.4 charts/grafana/templates",
        reads: {
            "global.imageRegistry":
                "prometheus-operator/deployment.yaml:50-52, prometheus/prometheus.yaml:53, alertmanager/alertmanager.yaml:19; subcharts: grafana _pod.tpl:1246, kube-state-metrics-8.2.0 _helpers.tpl:150, prometheus-node-exporter-4.56.1 _helpers.tpl:87",
            "grafana.admin.existingSecret": "grafana _pod.tpl:288",
            "grafana.admin.userKey": "grafana _pod.tpl:289",
            "grafana.admin.passwordKey": "grafana _pod.tpl:296",
            "grafana.ingress.enabled": "grafana ingress.yaml:1",
            "grafana.ingress.ingressClassName": "grafana ingress.yaml:24",
            "grafana.ingress.hosts": "grafana ingress.yaml:32",
            "grafana.ingress.path": "grafana ingress.yaml:4",
            "prometheus.ingress.enabled": "prometheus/ingress.yaml:1",
            "prometheus.ingress.ingressClassName": "prometheus/ingress.yaml:24",
            "prometheus.ingress.hosts": "prometheus/ingress.yaml:28",
            "prometheus.ingress.paths": "prometheus/ingress.yaml:6",
            "prometheus.prometheusSpec.retention": "prometheus/prometheus.yaml:162",
            // prometheus.yaml:304-306 renders storageSpec whole as the Prometheus spec.storage (charts/crds/crds/crd-prometheuses.yaml).
            "prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec.storageClassName": "prometheus/prometheus.yaml:306 → Prometheus spec.storage",
            "prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec.accessModes": "prometheus/prometheus.yaml:306 → Prometheus spec.storage",
            "prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec.resources.requests.storage": "prometheus/prometheus.yaml:306 → Prometheus spec.storage",
            "alertmanager.ingress.enabled": "alertmanager/ingress.yaml:1",
            "alertmanager.ingress.ingressClassName": "alertmanager/ingress.yaml:25",
            "alertmanager.ingress.hosts": "alertmanager/ingress.yaml:29",
            "alertmanager.ingress.paths": "alertmanager/ingress.yaml:7",
            // alertmanager.yaml:115-117 renders storage whole as the Alertmanager spec.storage (crd-alertmanagers.yaml).
            "alertmanager.alertmanagerSpec.storage.volumeClaimTemplate.spec.storageClassName": "alertmanager/alertmanager.yaml:117 → Alertmanager spec.storage",
            "alertmanager.alertmanagerSpec.storage.volumeClaimTemplate.spec.accessModes": "alertmanager/alertmanager.yaml:117 → Alertmanager spec.storage",
            "alertmanager.alertmanagerSpec.storage.volumeClaimTemplate.spec.resources.requests.storage": "alertmanager/alertmanager.yaml:117 → Alertmanager spec.storage",
            "kubeControllerManager.enabled": "exporters/kube-controller-manager/service.yaml:1",
            "kubeControllerManager.service.port": "exporters/kube-controller-manager/service.yaml:21",
            "kubeControllerManager.service.targetPort": "exporters/kube-controller-manager/service.yaml:23",
            "kubeControllerManager.serviceMonitor.https": "exporters/kube-controller-manager/servicemonitor.yaml:44",
            "kubeControllerManager.serviceMonitor.insecureSkipVerify": "exporters/kube-controller-manager/servicemonitor.yaml:48",
            "kubeScheduler.enabled": "exporters/kube-scheduler/service.yaml:1",
            "kubeScheduler.service.port": "exporters/kube-scheduler/service.yaml:21",
            "kubeScheduler.service.targetPort": "exporters/kube-scheduler/service.yaml:23",
            "kubeScheduler.serviceMonitor.https": "exporters/kube-scheduler/servicemonitor.yaml:44",
            "kubeScheduler.serviceMonitor.insecureSkipVerify": "exporters/kube-scheduler/servicemonitor.yaml:48",
            "kubeEtcd.enabled": "exporters/kube-etcd/service.yaml:1",
            "kubeEtcd.service.port": "exporters/kube-etcd/service.yaml:19",
            "kubeEtcd.service.targetPort": "exporters/kube-etcd/service.yaml:21",
            "kubeProxy.enabled": "exporters/kube-proxy/service.yaml:1",
            "kubeProxy.service.port": "exporters/kube-proxy/service.yaml:19",
            "kubeProxy.service.targetPort": "exporters/kube-proxy/service.yaml:21",
        },
        // Every image template of the chart and its subcharts takes global.imageRegistry before its own registry.
        images: [
            { image: "prometheus-operator, prometheus-config-reloader", where: "prometheus-operator/deployment.yaml:50-56", movedBy: "global.imageRegistry" },
            { image: "admission webhook and its kube-webhook-certgen jobs", where: "prometheus-operator/admission-webhooks/*:38-50", movedBy: "global.imageRegistry" },
            { image: "prometheus, alertmanager, thanos-ruler", where: "prometheus.yaml:53, alertmanager.yaml:19, thanos-ruler/ruler.yaml:16", movedBy: "global.imageRegistry" },
            { image: "CRD upgrade job (busybox, kubectl)", where: "charts/crds/templates/upgrade/job.yaml:40,78", movedBy: "global.imageRegistry" },
            { image: "grafana, k8s-sidecar, init and download images, image renderer", where: "grafana _pod.tpl, image-renderer-deployment.yaml:80", movedBy: "global.imageRegistry" },
            { image: "kube-state-metrics, kube-rbac-proxy", where: "kube-state-metrics _helpers.tpl:142-154", movedBy: "global.imageRegistry" },
            { image: "node-exporter and its init and rbac-proxy containers", where: "prometheus-node-exporter daemonset.yaml:52,100,267", movedBy: "global.imageRegistry" },
        ],
    },
};

/** A read path matches a key path segment by segment; `*` matches any one segment. */
function isRead(keyPath: string, reads: Record<string, string>): boolean {
    const keys = keyPath.split(".");
    return Object.keys(reads).some((r) => {
        const segs = r.split(".");
        return segs.length === keys.length && segs.every((s, i) => s === "*" || s === keys[i]);
    });
}

/** The keys a values object sets that the chart version's templates do not read. */
function unread(chart: string, values: Values): string[] {
    return keyPaths(values).filter((k) => !isRead(k, chartReads[chart].reads));
}

describe("chart values", () => {
    const lab = validateConfig(guideLab({ addons: {} }));
    const { addons } = lab;
    if (!addons.calico || !addons.ingress || !addons.monitoring) throw new Error("fixture: layers on");
    const { calico, ingress, monitoring } = { calico: addons.calico, ingress: addons.ingress, monitoring: addons.monitoring };
    const registry = "registry.example.cn";

    /** What the lab's builders produce for each chart, with and without a mirror and in every variant they branch on. */
    function built(imageRegistry?: string): Record<string, Values[]> {
        return {
            "tigera-operator": (["VXLAN", "IPIP"] as const).map((encapsulation) => calicoValues({ ...calico, encapsulation }, lab.kubernetes.podSubnet, imageRegistry)),
            "ingress-nginx": [ingressNginxValues(ingress, imageRegistry)],
            traefik: [traefikValues(ingress, imageRegistry)],
            "csi-driver-nfs": [csiDriverNfsValues(imageRegistry)],
            "eck-operator": [eckOperatorValues(imageRegistry)],
            "fluent-bit": [fluentBitValues("logging", imageRegistry)],
            "kube-prometheus-stack": [kubePrometheusStackValues(monitoring, ingress, "nginx", imageRegistry)],
        };
    }

    for (const [chart, read] of Object.entries(chartReads)) {
        describe(`${chart} ${read.version}`, () => {
            it("is the pinned version, the one whose templates were read", () => {
                const pin = Object.values(charts).find((c) => c.chart === chart);
                assert.ok(pin, `${chart} is pinned`);
                assert.strictEqual(pin.version, read.version, `${chart} was bumped: re-read ${read.source} at the new version, then update chartReads`);
            });

            it("reads every key the lab sets", () => {
                for (const values of [...built()[chart], ...built(registry)[chart]]) {
                    assert.deepStrictEqual(unread(chart, values), [], `keys ${chart} ${read.version} does not read (${read.source})`);
                }
            });

            it("pulls every image it deploys from the mirror", () => {
                const mirrored = built(registry)[chart];
                for (const img of read.images) {
                    if (img.notDeployed) continue;
                    assert.ok(img.movedBy && read.reads[img.movedBy], `${img.image}: ${img.movedBy} is a key the chart reads`);
                    for (const values of mirrored) {
                        const v = at(values, img.movedBy);
                        assert.ok(typeof v === "string" && v.startsWith(registry), `${img.image} (${img.where}) stays upstream: ${img.movedBy} is ${JSON.stringify(v)}`);
                    }
                }
                for (const values of built()[chart]) {
                    const set = read.images.filter((i) => i.movedBy && at(values, i.movedBy) !== undefined).map((i) => i.movedBy);
                    assert.deepStrictEqual(set, [], "no mirror, no registry override");
                }
            });
        });
    }

    it("fails a key the chart does not read: Traefik 40 ignores service.type", () => {
        assert.deepStrictEqual(unread("traefik", { service: { type: "NodePort" } }), ["service.type"]);
        assert.deepStrictEqual(unread("traefik", { ports: { web: { nodeport: 30080 } } }), ["ports.web.nodeport"]);
        assert.deepStrictEqual(unread("csi-driver-nfs", { controller: { enableSnapshoter: false } }), ["controller.enableSnapshoter"]);
        assert.deepStrictEqual(unread("traefik", traefikValues(ingress, registry)), [], "the lab's values pass");
    });

    it("every pinned chart with values is covered", () => {
        const withValues = Object.values(charts)
            .map((c) => c.chart)
            .filter((c) => c !== "crd.projectcalico.org.v1");
        assert.deepStrictEqual(
            withValues.filter((c) => !(c in chartReads)),
            [],
        );
        assert.strictEqual(charts.calicoCrds.version, charts.tigeraOperator.version, "Calico's two charts are released together");
    });

    it("keeps the snapshotter sidecar off with the key the chart reads", () => {
        assert.deepStrictEqual(csiDriverNfsValues().controller, { replicas: 1, enableSnapshotter: false });
        assert.strictEqual(at(csiDriverNfsValues(), "externalSnapshotter"), undefined);
    });

    it("exposes Traefik on a NodePort Service", () => {
        assert.deepStrictEqual(traefikValues(ingress).service, { spec: { type: "NodePort" } });
    });

    it("has Calico take each node's address from its Kubernetes InternalIP", () => {
        const net = (calicoValues(calico, lab.kubernetes.podSubnet).installation as Values).calicoNetwork as Values;
        assert.deepStrictEqual(net.nodeAddressAutodetectionV4, { kubernetes: "NodeInternalIP" });
    });

    it("moves the Tigera operator's own image, and Calico's, to the mirror", () => {
        const v = calicoValues(calico, lab.kubernetes.podSubnet, `${registry}/`);
        assert.deepStrictEqual(v.tigeraOperator, { registry });
        assert.strictEqual((v.installation as Values).registry, `${registry}/`);
    });

    it("merges overrides deeply, replacing arrays and scalars", () => {
        const base = { a: { b: 1, c: [1, 2] }, d: "x" };
        assert.deepStrictEqual(deepMerge(base, { a: { c: [3] }, e: true }), { a: { b: 1, c: [3] }, d: "x", e: true });
        assert.deepStrictEqual(base, { a: { b: 1, c: [1, 2] }, d: "x" }, "the base is not changed");
    });

    it("warns about the retired ingress-nginx, and names the way out", () => {
        assert.match(ingressWarning("ingress-nginx") ?? "", /retired upstream.*addons\.ingress\.controller to traefik/);
        assert.strictEqual(ingressWarning("traefik"), undefined);
    });

    it("sets IPIP pools up with BGP, VXLAN ones without", () => {
        const pool = (encapsulation: "IPIP" | "VXLANCrossSubnet") =>
            (calicoValues({ encapsulation, values: {} }, "10.244.0.0/16").installation as Values).calicoNetwork as Values;
        assert.strictEqual(pool("IPIP").bgp, "Enabled");
        assert.strictEqual(pool("VXLANCrossSubnet").bgp, "Disabled");
    });
});

describe("pinned versions", () => {
    it("name the source that attests each pin", () => {
        const lines = fs.readFileSync(path.join(__dirname, "..", "components", "lib", "versions.ts"), "utf8").split("\n");
        const pinLine = /^\s+"1\.\d+": "|version: "|^export const (kubernetesPackageRevision|containerdIoVersion|firstMinorNeedingContainerd2|elasticStackVersion|sampleImages) =/;
        const unattested: string[] = [];
        lines.forEach((line, i) => {
            if (!pinLine.test(line) || line.includes("interface")) return;
            let j = i - 1;
            const comments: string[] = [];
            while (j >= 0 && /^\s*(\/\/|\/\*\*|\*)/.test(lines[j])) comments.push(lines[j--]);
            if (!comments.some((c) => c.includes("attested by"))) unattested.push(line.trim());
        });
        assert.deepStrictEqual(unattested, []);
    });

    it("default to a Kubernetes minor that Calico and ECK are tested on", () => {
        assert.ok(kubernetesReleases[defaultKubernetesMinor]);
        assert.deepStrictEqual(untestedLayers(defaultKubernetesMinor, ["calico", "traefik", "nfs", "logging", "monitoring", "samples"]), []);
    });
});

describe("layers untested on a Kubernetes minor", () => {
    const all = ["calico", "ingress-nginx", "nfs", "logging", "monitoring"];
    const names = (minor: string, layers: string[]) => untestedLayers(minor, layers).map((u) => `${u.layer} ${u.testedUpTo}`);

    it("lists nothing where every layer is tested", () => {
        assert.deepStrictEqual(names("1.35", all), []);
        assert.deepStrictEqual(names("1.35.9", all), [], "a patch release counts as its minor");
    });

    it("names ingress-nginx past 1.35, and Calico and ECK past 1.36", () => {
        assert.deepStrictEqual(names("1.36", all), ["ingress-nginx 1.35"]);
        assert.deepStrictEqual(names("v1.37.1", all), ["calico 1.36", "ingress-nginx 1.35", "logging 1.36"]);
        assert.deepStrictEqual(names("1.37", ["calico", "traefik", "nfs", "monitoring"]), ["calico 1.36"], "Traefik, csi-driver-nfs, kube-prometheus-stack publish no maximum");
    });

    it("names a minor below a tested range too, and only enabled layers", () => {
        assert.deepStrictEqual(names("1.33", ["calico", "logging"]), ["calico 1.36"]);
        assert.deepStrictEqual(names("1.37", []), []);
    });

    it("says which part, its range and the source", () => {
        const [u] = untestedLayers("1.37", ["logging"]);
        assert.deepStrictEqual(
            { what: u.what, from: u.testedFrom, to: u.testedUpTo },
            { what: "ECK 3.5", from: "1.32", to: "1.36" },
        );
        assert.match(u.source, /cloud-on-k8s@v3\.5\.0 README/);
    });

    it("refuses a layer it has no data for, and a minor that is not one", () => {
        assert.throws(() => untestedLayers("1.36", ["ingress"]), /unknown layer ingress; known layers are calico, ingress-nginx, traefik/);
        assert.throws(() => untestedLayers("latest", ["calico"]), /not a Kubernetes minor/);
    });

    it("has a source for every range", () => {
        for (const s of layerKubernetesSupport) assert.ok(s.source.length > 10, s.what);
    });
});

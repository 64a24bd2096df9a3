import * as assert from "assert";
import { validateConfig } from "../components/config";
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
} from "../components/values";
import { charts } from "../components/versions";
import { guideLab } from "./fixtures";

/** Every key path a values object sets (objects are walked; arrays and scalars are leaves). */
function keyPaths(v: Values, prefix = ""): string[] {
    return Object.entries(v).flatMap(([k, x]) =>
        typeof x === "object" && x !== null && !Array.isArray(x) ? keyPaths(x as Values, `${prefix}${k}.`) : [`${prefix}${k}`],
    );
}

/**
 * The keys of each pinned chart version that the lab's values rely on, checked against that
 * version's values.yaml when it was pinned. Bumping a chart in components/versions.ts fails
 * this test until the new version's keys have been checked and the version below updated.
 */
const reliedOn: Record<string, { version: string; keys: string[] }> = {
    "tigera-operator": {
        version: "v3.32.3",
        keys: [
            "installation.enabled",
            "installation.cni.type",
            "installation.calicoNetwork.bgp",
            "installation.calicoNetwork.ipPools",
            "installation.registry",
        ],
    },
    "ingress-nginx": {
        version: "4.15.1",
        keys: [
            "controller.ingressClassResource.name",
            "controller.ingressClassResource.enabled",
            "controller.ingressClassResource.default",
            "controller.ingressClass",
            "controller.service.type",
            "controller.service.nodePorts.http",
            "controller.service.nodePorts.https",
            "controller.image.registry",
            "controller.admissionWebhooks.patch.image.registry",
        ],
    },
    traefik: {
        version: "40.0.0",
        keys: [
            "service.type",
            "ports.web.nodePort",
            "ports.websecure.nodePort",
            "ingressClass.enabled",
            "ingressClass.isDefaultClass",
            "ingressClass.name",
            "providers.kubernetesIngress.enabled",
            "providers.kubernetesIngressNGINX.enabled",
            "providers.kubernetesIngressNGINX.ingressClass",
            "providers.kubernetesIngressNGINX.controllerClass",
            "image.registry",
        ],
    },
    "csi-driver-nfs": {
        version: "4.13.4",
        keys: [
            "controller.replicas",
            "externalSnapshotter.enabled",
            "image.nfs.repository",
            "image.csiProvisioner.repository",
            "image.csiResizer.repository",
            "image.livenessProbe.repository",
            "image.nodeDriverRegistrar.repository",
        ],
    },
    "eck-operator": { version: "3.5.0", keys: ["image.repository"] },
    "fluent-bit": {
        version: "0.58.2",
        keys: ["kind", "tolerations", "env", "extraVolumes", "extraVolumeMounts", "config.inputs", "config.filters", "config.outputs", "image.repository"],
    },
    "kube-prometheus-stack": {
        version: "88.2.0",
        keys: [
            "global.imageRegistry",
            "grafana.admin.existingSecret",
            "grafana.admin.userKey",
            "grafana.admin.passwordKey",
            "grafana.ingress.enabled",
            "grafana.ingress.ingressClassName",
            "grafana.ingress.hosts",
            "grafana.ingress.path",
            "prometheus.ingress.enabled",
            "prometheus.ingress.ingressClassName",
            "prometheus.ingress.hosts",
            "prometheus.ingress.paths",
            "prometheus.prometheusSpec.retention",
            "prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec.storageClassName",
            "prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec.accessModes",
            "prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec.resources.requests.storage",
            "alertmanager.ingress.enabled",
            "alertmanager.ingress.ingressClassName",
            "alertmanager.ingress.hosts",
            "alertmanager.ingress.paths",
            "alertmanager.alertmanagerSpec.storage.volumeClaimTemplate.spec.storageClassName",
            "alertmanager.alertmanagerSpec.storage.volumeClaimTemplate.spec.accessModes",
            "alertmanager.alertmanagerSpec.storage.volumeClaimTemplate.spec.resources.requests.storage",
            "kubeControllerManager.enabled",
            "kubeControllerManager.service.port",
            "kubeControllerManager.service.targetPort",
            "kubeControllerManager.serviceMonitor.https",
            "kubeControllerManager.serviceMonitor.insecureSkipVerify",
            "kubeScheduler.enabled",
            "kubeScheduler.service.port",
            "kubeScheduler.service.targetPort",
            "kubeScheduler.serviceMonitor.https",
            "kubeScheduler.serviceMonitor.insecureSkipVerify",
            "kubeEtcd.enabled",
            "kubeEtcd.service.port",
            "kubeEtcd.service.targetPort",
            "kubeProxy.enabled",
            "kubeProxy.service.port",
            "kubeProxy.service.targetPort",
        ],
    },
};

describe("chart values", () => {
    const lab = validateConfig(guideLab({ addons: {} }));
    const { calico, ingress, monitoring } = lab.addons;
    if (!calico || !ingress || !monitoring) throw new Error("fixture: layers on");
    const registry = "registry.example.cn";
    // Built with a registry mirror, so that the image keys are exercised too.
    const built: Record<string, Values> = {
        "tigera-operator": calicoValues(calico, lab.kubernetes.podSubnet, registry),
        "ingress-nginx": ingressNginxValues(ingress, registry),
        traefik: traefikValues(ingress, registry),
        "csi-driver-nfs": csiDriverNfsValues(registry),
        "eck-operator": eckOperatorValues(registry),
        "fluent-bit": fluentBitValues("logging", registry),
        "kube-prometheus-stack": kubePrometheusStackValues(monitoring, ingress, "nginx", registry),
    };

    for (const [chart, relied] of Object.entries(reliedOn)) {
        it(`${chart}: sets only keys checked against the pinned ${relied.version}`, () => {
            const pin = Object.values(charts).find((c) => c.chart === chart);
            assert.ok(pin, `${chart} is pinned`);
            assert.strictEqual(pin.version, relied.version, `${chart} was bumped: check its values.yaml for these keys, then update this list`);
            const unchecked = keyPaths(built[chart]).filter((k) => !relied.keys.includes(k));
            assert.deepStrictEqual(unchecked, [], `keys not yet checked against ${chart} ${relied.version}`);
        });
    }

    it("every pinned chart with values is covered", () => {
        const withValues = Object.values(charts).map((c) => c.chart).filter((c) => c !== "crd.projectcalico.org.v1");
        assert.deepStrictEqual(withValues.filter((c) => !(c in reliedOn)), []);
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

/**
 * How much room Calico's CRD chart leaves in the Secret that holds its Helm release.
 *
 * Helm keeps a release as base64(gzip(json(release))) under `data.release` of one Secret
 * (helm.sh/helm/v3 pkg/storage/driver util.go `encodeRelease`, secrets.go), and the API server
 * refuses a Secret whose data passes 1 MiB (k8s.io/api core/v1 `MaxSecretSize`). The JSON
 * carries every template twice, as a chart file and in the rendered manifest, and the
 * crd.projectcalico.org.v1 chart has all of Calico's CRDs as templates: about 3 MB of YAML,
 * over 90% of the limit once compressed. One more CRD the size of the larger ones and
 * `helm install` fails with `data: Too long`. This test fails first: at a chart bump until the
 * new version's template sizes are listed here, and when the margin falls under 5%.
 */
import * as assert from "assert";
import { charts } from "../components/lib/versions";

/** Bytes of a Secret's data the API server accepts (k8s.io/api core/v1 MaxSecretSize). */
const secretDataLimit = 1024 * 1024;
/** The least share of the limit the record must leave free. */
const minimumMargin = 0.05;

interface ChartTemplateSizes {
    chart: string;
    version: string;
    /** Where the sizes were read, and how. */
    source: string;
    /** Template path in the chart -> bytes. */
    templates: Record<string, number>;
    /**
     * The last real measurement of the release record: the chart built from the templates of
     * `version`, installed by Helm's own code and encoded as its Secret driver encodes it.
     * Its ratio of record bytes to template bytes estimates the record of a later version from
     * that version's template sizes alone; re-measure when the estimate gets close.
     */
    measured: { version: string; templateBytes: number; recordBytes: number; how: string };
}

const calicoCrds: ChartTemplateSizes = {
    chart: "crd.projectcalico.org.v1",
    version: "v3.32.2",
    // v3.32.2 is not in the stored copy (newest tag v3.32.1); release-v3.32 is the branch it is cut from. Its CRDs last
    // changed there in 41af7b7 (2026-08-02): operator.tigera.io_installations.yaml +1736 bytes and ipreservations +2 over v3.32.1.
    source:
        "projectcalico/calico@release-v3.32 (de60d98, 2026-08-21): `git ls-tree -l` of charts/crd.projectcalico.org.v1/templates " +
        "and of libcalico-go/config/crd, which templates/calico links to (the chart's package follows the link)",
    templates: {
        "operator.tigera.io_apiservers.yaml": 233347,
        "operator.tigera.io_gatewayapis.yaml": 465743,
        "operator.tigera.io_goldmanes.yaml": 122326,
        "operator.tigera.io_imagesets.yaml": 3687,
        "operator.tigera.io_installations.yaml": 1466544,
        "operator.tigera.io_istios.yaml": 284226,
        "operator.tigera.io_managementclusterconnections.yaml": 22639,
        "operator.tigera.io_tigerastatuses.yaml": 5187,
        "operator.tigera.io_whiskers.yaml": 122275,
        "calico/crd.projectcalico.org_bgpconfigurations.yaml": 5713,
        "calico/crd.projectcalico.org_bgpfilters.yaml": 28499,
        "calico/crd.projectcalico.org_bgppeers.yaml": 4910,
        "calico/crd.projectcalico.org_blockaffinities.yaml": 1150,
        "calico/crd.projectcalico.org_caliconodestatuses.yaml": 7419,
        "calico/crd.projectcalico.org_clusterinformations.yaml": 1086,
        "calico/crd.projectcalico.org_felixconfigurations.yaml": 85275,
        "calico/crd.projectcalico.org_globalnetworkpolicies.yaml": 20560,
        "calico/crd.projectcalico.org_globalnetworksets.yaml": 930,
        "calico/crd.projectcalico.org_hostendpoints.yaml": 2475,
        "calico/crd.projectcalico.org_ipamblocks.yaml": 2511,
        "calico/crd.projectcalico.org_ipamconfigs.yaml": 1265,
        "calico/crd.projectcalico.org_ipamhandles.yaml": 1061,
        "calico/crd.projectcalico.org_ippools.yaml": 4301,
        "calico/crd.projectcalico.org_ipreservations.yaml": 957,
        "calico/crd.projectcalico.org_kubecontrollersconfigurations.yaml": 10135,
        "calico/crd.projectcalico.org_networkpolicies.yaml": 19055,
        "calico/crd.projectcalico.org_networksets.yaml": 903,
        "calico/crd.projectcalico.org_stagedglobalnetworkpolicies.yaml": 20818,
        "calico/crd.projectcalico.org_stagedkubernetesnetworkpolicies.yaml": 10561,
        "calico/crd.projectcalico.org_stagednetworkpolicies.yaml": 19313,
        "calico/crd.projectcalico.org_tiers.yaml": 1854,
        "calico/policy.networking.k8s.io_clusternetworkpolicies.yaml": 68831,
    },
    measured: {
        version: "v3.32.2",
        templateBytes: 3045556,
        recordBytes: 950480,
        how:
            "helm.sh/helm/v3 v3.20.2 (the Helm of the Kubernetes provider) loader.Load of the chart directory built from the files " +
            "above with version v3.32.2, action.Install client-only as release calico-crds in tigera-operator with no values, then " +
            "json.Marshal, gzip at BestCompression and base64 as encodeRelease does; 2026-12-04. The same files at tag v3.32.1 give 948964",
    },
};

function sum(sizes: Record<string, number>): number {
    return Object.values(sizes).reduce((a, b) => a + b, 0);
}

/** The release record of a chart whose templates total `templateBytes`, at the measured ratio. */
function estimateRecordBytes(templateBytes: number, measured: ChartTemplateSizes["measured"]): number {
    return Math.ceil((templateBytes * measured.recordBytes) / measured.templateBytes);
}

/** The share of a Secret's data limit that a record of `recordBytes` leaves free (negative past it). */
function secretMargin(recordBytes: number): number {
    return (secretDataLimit - recordBytes) / secretDataLimit;
}

const kb = (n: number) => `${Math.round(n / 1000)} KB`;

describe(`Helm release record of ${calicoCrds.chart}`, () => {
    const pin = charts.calicoCrds;
    const templateBytes = sum(calicoCrds.templates);
    const record = estimateRecordBytes(templateBytes, calicoCrds.measured);
    const margin = secretMargin(record);
    // CRD YAML that would fill what is left, at the measured ratio.
    const room = Math.floor(((secretDataLimit - record) * calicoCrds.measured.templateBytes) / calicoCrds.measured.recordBytes);

    it("lists the template sizes of the pinned version", () => {
        assert.strictEqual(pin.chart, calicoCrds.chart);
        assert.strictEqual(
            pin.version,
            calicoCrds.version,
            `${pin.chart} was bumped: list its template sizes at the new version, as for ${calicoCrds.version} (${calicoCrds.source}), then update calicoCrds`,
        );
    });

    it("lists the templates that were measured, when the listed version is the measured one", () => {
        if (calicoCrds.measured.version !== calicoCrds.version) return;
        assert.strictEqual(templateBytes, calicoCrds.measured.templateBytes);
        assert.strictEqual(record, calicoCrds.measured.recordBytes);
    });

    it(`leaves at least ${minimumMargin * 100}% of the Secret's 1 MiB free (${calicoCrds.version}: ${kb(record)}, ${(100 * margin).toFixed(1)}% free, room for ${kb(room)} more CRD YAML)`, () => {
        assert.ok(
            margin >= minimumMargin,
            `the ${pin.chart} ${calicoCrds.version} release record is about ${record} bytes, ${(100 * (1 - margin)).toFixed(1)}% of the ` +
                `${secretDataLimit}-byte limit: install these CRDs another way (README, "Calico's CRDs") before the margin is gone`,
        );
    });

    it("would not fit one more CRD the size of gatewayapis", () => {
        const gatewayapis = calicoCrds.templates["operator.tigera.io_gatewayapis.yaml"];
        assert.ok(secretMargin(estimateRecordBytes(templateBytes + gatewayapis, calicoCrds.measured)) < 0);
    });
});

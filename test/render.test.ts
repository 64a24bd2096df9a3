import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { validateConfig } from "../components/lib/config";
import { componentConfiguration, kubeadmConfig } from "../components/lib/kubeadm";
import { labOwnedFields } from "../components/lib/schema";
import { declaredParameters, renderScript, runCommand, scriptsDir, shellQuote } from "../components/lib/render";
import { controlPlaneScript, hostPrepScript, registryMirrorLines, workerScript } from "../components/lib/scripts";
import { fakeKubeconfig } from "./harness";
import { guideLab } from "./fixtures";
import { kubernetesReleases, pauseVersions } from "../components/lib/versions";

const goldenDir = path.join(__dirname, "golden");

/** Compares with test/golden/<name>; UPDATE_GOLDEN=1 rewrites the file instead. */
function golden(name: string, actual: string): void {
    const file = path.join(goldenDir, name);
    if (process.env.UPDATE_GOLDEN === "1") {
        fs.mkdirSync(goldenDir, { recursive: true });
        fs.writeFileSync(file, actual);
    }
    assert.strictEqual(actual, fs.readFileSync(file, "utf8"), `${name} differs from its golden file (UPDATE_GOLDEN=1 to accept)`);
}

export function shellcheck(text: string): string {
    const r = spawnSync("shellcheck", ["-s", "bash", "-"], { input: text, encoding: "utf8" });
    if (r.error) throw new Error(`shellcheck is not installed (apt-get install shellcheck): ${r.error.message}`);
    return r.stdout;
}

const lab = validateConfig(guideLab());

describe("scripts", () => {
    const files = fs.readdirSync(scriptsDir).filter((f) => f.endsWith(".sh"));

    it("are shellcheck-clean as files", () => {
        for (const f of files) {
            const r = spawnSync("shellcheck", ["-x", path.join("scripts", f)], { cwd: path.join(scriptsDir, ".."), encoding: "utf8" });
            assert.strictEqual(r.status, 0, `${f}:\n${r.stdout}${r.stderr}`);
        }
    });

    it("run in strict mode; the host steps dispatch apply|remove, and preflight.sh only reads", () => {
        for (const f of files) {
            const text = fs.readFileSync(path.join(scriptsDir, f), "utf8");
            assert.match(text, /^#!\/usr\/bin\/env bash\n/, f);
            assert.match(text, /^set -euo pipefail$/m, f);
            if (f === "preflight.sh") assert.match(text, /^preflight$/m, "preflight.sh must end by running its checks");
            else if (f === "etcd-snapshot.sh") assert.match(text, /^run_action "\$@"$/m, "etcd-snapshot.sh must end by running save|restore");
            else if (f !== "lib.sh") assert.match(text, /^dispatch "\$@"$/m, `${f} must end by dispatching apply|remove`);
        }
    });

    it("declare the parameters they use", () => {
        for (const f of files.filter((x) => x !== "lib.sh")) {
            const text = fs.readFileSync(path.join(scriptsDir, f), "utf8");
            const declared = declaredParameters(text);
            const used = new Set([...text.matchAll(/\$\{?([A-Z][A-Z0-9_]+)/g)].map((m) => m[1]));
            const localConstants = new Set([...text.matchAll(/^readonly ([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
            for (const u of used) {
                if (["LAB_STATE_DIR", "BASH_SOURCE", "SECONDS"].includes(u) || localConstants.has(u)) continue;
                assert.ok(declared.includes(u), `${f} uses $${u} but does not declare it under # Parameters`);
            }
        }
    });

    describe("rendering", () => {
        it("refuses missing and unknown parameters", () => {
            assert.throws(() => renderScript("worker", { NODE_NAME: "w1" }), /missing parameters \[K8S_VERSION, K8S_PACKAGE_VERSION, JOIN_TOKEN_TTL, ADMIN_KUBECONFIG, IGNORE_PREFLIGHT_ERRORS\]/);
            assert.throws(() => renderScript("nfs-server", { EXPORT_PATH: "/srv", CLIENTS: "", DELETE_DATA: "false", EXTRA: "x" }), /unknown parameters \[EXTRA\]/);
        });

        it("quotes every value for bash", () => {
            assert.strictEqual(shellQuote("it's"), `'it'\\''s'`);
            const out = spawnSync("bash", ["-c", `X=${shellQuote("a'b $HOME `id` \"c\"\nd")}; printf %s "$X"`], { encoding: "utf8" });
            assert.strictEqual(out.stdout, "a'b $HOME `id` \"c\"\nd");
        });

        it("inlines lib.sh, wraps everything in one group read from /dev/null, and is shellcheck-clean", () => {
            const text = hostPrepScript(lab.kubernetes, lab.mirrors);
            assert.ok(!text.includes("BASH_SOURCE"), "the source line is replaced by lib.sh itself");
            assert.ok(text.includes("node_reset()"), "lib.sh is inlined");
            assert.match(text, /^\{\nset -euo pipefail\n/m);
            assert.match(text, /\n\} <\/dev\/null\n$/);
            const cp = controlPlaneScript({ kubeadmConfig: "x: 1", identity: ["cluster name k8s-lab"], nodeName: "cp1", kubernetes: lab.kubernetes, singleNode: false, user: "ubuntu", nodeAddress: "192.168.56.10" });
            const worker = workerScript({ nodeName: "w1", kubernetes: lab.kubernetes, joinTokenTtl: "10m", adminKubeconfig: fakeKubeconfig });
            for (const rendered of [text, cp, worker]) {
                assert.strictEqual(shellcheck(rendered), "", "rendered script must be shellcheck-clean");
            }
        });

        it("is deterministic, so an unchanged configuration means no remote work", () => {
            assert.strictEqual(hostPrepScript(lab.kubernetes, lab.mirrors), hostPrepScript(lab.kubernetes, lab.mirrors));
            const mirrored = validateConfig(guideLab({ mirrors: { registries: { "docker.io": ["https://m.example.com"] } } }));
            assert.notStrictEqual(hostPrepScript(mirrored.kubernetes, mirrored.mirrors), hostPrepScript(lab.kubernetes, lab.mirrors));
        });

        it("host prep carries the pinned versions, apt repository and mirrors", () => {
            const c = validateConfig(
                guideLab({
                    mirrors: {
                        kubernetesApt: "http://10.0.0.1/k8s/v{minor}/",
                        registries: { "registry.k8s.io": ["https://a.example.com"], "docker.io": ["https://b.example.com", "https://c.example.com"] },
                    },
                }),
            );
            golden("host-prep.rendered.sh", hostPrepScript(c.kubernetes, c.mirrors));
            const text = hostPrepScript(c.kubernetes, c.mirrors);
            assert.match(text, /^K8S_PACKAGE_VERSION='1\.36\.4-1\.1'$/m);
            assert.match(text, /^K8S_APT_REPO='http:\/\/10\.0\.0\.1\/k8s\/v1\.36\/'$/m);
            assert.match(text, /^CONTAINERD_VERSION='2\.2\.1'$/m);
            assert.strictEqual(registryMirrorLines(c.mirrors.registries), "docker.io https://b.example.com https://c.example.com\nregistry.k8s.io https://a.example.com");
        });

        it("host prep names the pause image of the lab's minor, from the image repository, not the installed kubeadm's", () => {
            // During an upgrade host prep runs before the new kubeadm is installed: the tag comes from the pin.
            const pause = (version: string, imageRepository?: string) =>
                /^PAUSE_IMAGE='(.*)'$/m.exec(hostPrepScript(validateConfig(guideLab({ kubernetes: { version, ...(imageRepository ? { imageRepository } : {}) } })).kubernetes, lab.mirrors))?.[1];
            assert.strictEqual(pause("1.35"), "registry.k8s.io/pause:3.10.1");
            assert.strictEqual(pause("1.36.2"), "registry.k8s.io/pause:3.10.2");
            assert.strictEqual(pause("1.37", "registry.example.cn/k8s"), "registry.example.cn/k8s/pause:3.10.2");
            assert.deepStrictEqual(Object.keys(pauseVersions).sort(), Object.keys(kubernetesReleases).sort(), "a pause tag for every supported minor");
        });

        it("give kubeadm join, upgrade apply and upgrade node the checks to skip as one flag", () => {
            const c = validateConfig(guideLab({ kubernetes: { ignorePreflightErrors: ["SystemVerification", "Swap"] } }));
            const cp = controlPlaneScript({ kubeadmConfig: "x: 1", identity: [], nodeName: "cp1", kubernetes: c.kubernetes, singleNode: false, user: "ubuntu", nodeAddress: "192.168.56.10" });
            const worker = workerScript({ nodeName: "w1", kubernetes: c.kubernetes, joinTokenTtl: "10m", adminKubeconfig: fakeKubeconfig });
            for (const rendered of [cp, worker]) assert.match(rendered, /^IGNORE_PREFLIGHT_ERRORS='SystemVerification,Swap'$/m);
            assert.match(cp, /kubeadm upgrade apply "v\$K8S_VERSION" -y "\$\{skip_checks\[@\]\}"/);
            assert.match(worker, /run_join "\$admin_file" "\$\(token_id "\$printed"\)" "\$\{join\[@\]\}" --node-name "\$NODE_NAME" "\$\{skip_checks\[@\]\}"/);
            assert.match(worker, /upgrade_node "\$NODE_NAME" "\$K8S_VERSION" "\$K8S_PACKAGE_VERSION" "\$\{skip_checks\[@\]\}"/);
            assert.match(worker, /kubeadm upgrade node "\$@"/);
            assert.match(controlPlaneScript({ kubeadmConfig: "x: 1", identity: [], nodeName: "cp1", kubernetes: lab.kubernetes, singleNode: false, user: "ubuntu", nodeAddress: "192.168.56.10" }), /^IGNORE_PREFLIGHT_ERRORS=''$/m);
        });

        it("make no flag of no checks, and one of several, under set -u", () => {
            const text = fs.readFileSync(path.join(scriptsDir, "worker.sh"), "utf8");
            const flag = text.split("\n").filter((l) => /^(skip_checks=\(\)|\[ -z "\$IGNORE_PREFLIGHT_ERRORS" \])/.test(l));
            assert.strictEqual(flag.length, 2, "worker.sh builds skip_checks in two lines");
            const run = (checks: string) =>
                spawnSync("bash", ["-c", `set -euo pipefail\nIGNORE_PREFLIGHT_ERRORS=${shellQuote(checks)}\n${flag.join("\n")}\nprintf '<%s>' kubeadm "\${skip_checks[@]}"`], { encoding: "utf8" }).stdout;
            assert.strictEqual(run(""), "<kubeadm>");
            assert.strictEqual(run("SystemVerification,Swap"), "<kubeadm><--ignore-preflight-errors=SystemVerification,Swap>");
        });

        it("runs scripts with sudo for a login user and directly as root", () => {
            assert.strictEqual(runCommand("ubuntu", "apply"), "sudo -n bash -s -- apply");
            assert.strictEqual(runCommand("root", "remove"), "bash -s -- remove");
        });
    });

    describe("rendered scripts, run by bash", () => {
        it("refuse an unknown action before touching anything", () => {
            const r = spawnSync("bash", ["-s", "--", "install"], { input: hostPrepScript(lab.kubernetes, lab.mirrors), encoding: "utf8" });
            assert.notStrictEqual(r.status, 0);
            assert.match(r.stderr, /usage: .* apply\|remove|must run as root/);
        });
    });
});

describe("kubeadm configuration", () => {
    const documents = (text: string) => YAML.parseAllDocuments(text).map((d) => d.toJSON());

    it("matches its golden file for the guide's lab", () => {
        golden("kubeadm-guide-lab.yaml", kubeadmConfig({ controlPlane: lab.controlPlane, kubernetes: lab.kubernetes, singleNode: false, clusterName: "k8s-lab" }));
    });

    it("is v1beta4 with subnets, endpoint, image repository, systemd cgroups and exposed metrics", () => {
        const [init, cluster, kubelet, proxy] = documents(kubeadmConfig({ controlPlane: lab.controlPlane, kubernetes: lab.kubernetes, singleNode: false, clusterName: "k8s-lab" }));
        assert.strictEqual(init.apiVersion, "kubeadm.k8s.io/v1beta4");
        assert.strictEqual(init.kind, "InitConfiguration");
        assert.strictEqual(init.nodeRegistration.name, "cp1");
        assert.strictEqual(init.localAPIEndpoint.advertiseAddress, "192.168.56.10");
        assert.strictEqual(cluster.kind, "ClusterConfiguration");
        assert.strictEqual(cluster.kubernetesVersion, "v1.36.4");
        assert.strictEqual(cluster.controlPlaneEndpoint, "192.168.56.10:6443");
        assert.strictEqual(cluster.networking.podSubnet, "10.244.0.0/16");
        assert.strictEqual(cluster.networking.serviceSubnet, "10.96.0.0/12");
        assert.strictEqual(cluster.imageRepository, "registry.k8s.io");
        assert.deepStrictEqual(cluster.controllerManager.extraArgs, [{ name: "bind-address", value: "0.0.0.0" }]);
        assert.deepStrictEqual(cluster.scheduler.extraArgs, [{ name: "bind-address", value: "0.0.0.0" }]);
        assert.deepStrictEqual(cluster.etcd.local.extraArgs, [{ name: "listen-metrics-urls", value: "http://0.0.0.0:2381" }]);
        assert.strictEqual(kubelet.cgroupDriver, "systemd");
        assert.strictEqual(proxy.metricsBindAddress, "0.0.0.0:10249");
        assert.strictEqual(init.nodeRegistration.ignorePreflightErrors, undefined, "no checks skipped unless asked");
    });

    it("merges the stack's kubelet and kube-proxy fields over the lab's, and tells init which checks to skip", () => {
        const c = validateConfig(
            guideLab({
                kubernetes: {
                    kubeletConfiguration: { failCgroupV1: false, evictionHard: { "memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%" } },
                    kubeProxyConfiguration: { conntrack: { maxPerCore: 0 } },
                    ignorePreflightErrors: ["SystemVerification", "FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml"],
                },
            }),
        );
        const [init, , kubelet, proxy] = documents(kubeadmConfig({ controlPlane: c.controlPlane, kubernetes: c.kubernetes, singleNode: false, clusterName: "k8s-lab" }));
        assert.deepStrictEqual(init.nodeRegistration.ignorePreflightErrors, ["SystemVerification", "FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml"]);
        assert.deepStrictEqual(kubelet, {
            apiVersion: "kubelet.config.k8s.io/v1beta1",
            kind: "KubeletConfiguration",
            cgroupDriver: "systemd",
            failCgroupV1: false,
            evictionHard: { "memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%" },
        });
        assert.deepStrictEqual(proxy, { apiVersion: "kubeproxy.config.k8s.io/v1alpha1", kind: "KubeProxyConfiguration", metricsBindAddress: "0.0.0.0:10249", conntrack: { maxPerCore: 0 } });
    });

    it("keeps the lab's own fields, which configuration refuses to take from a stack", () => {
        const rendered = componentConfiguration(lab.kubernetes);
        for (const [component, document] of Object.entries(rendered) as [keyof typeof labOwnedFields, Record<string, unknown>][]) {
            for (const field of Object.keys(document)) assert.ok(Object.hasOwn(labOwnedFields[component], field), `${component}.${field} is rendered by the lab but not refused in components/lib/schema.ts labOwnedFields`);
        }
        const forced = componentConfiguration({ ...lab.kubernetes, kubeletConfiguration: { cgroupDriver: "cgroupfs" }, kubeProxyConfiguration: { metricsBindAddress: "127.0.0.1:10249" } });
        assert.strictEqual(forced.kubelet.cgroupDriver, "systemd");
        assert.strictEqual(forced.kubeProxy.metricsBindAddress, "0.0.0.0:10249");
    });

    it("keeps the control-plane taint with workers and drops it for a single node", () => {
        const taints = (singleNode: boolean) =>
            documents(kubeadmConfig({ controlPlane: lab.controlPlane, kubernetes: lab.kubernetes, singleNode, clusterName: "k8s-lab" }))[0].nodeRegistration.taints;
        assert.deepStrictEqual(taints(false), [{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }]);
        assert.deepStrictEqual(taints(true), []);
    });

    it("leaves advertiseAddress to kubeadm when the host is a DNS name", () => {
        const c = validateConfig(guideLab({ hosts: [{ name: "cp1", address: "cp1.lab.example", roles: ["control-plane"] }] }));
        const [init, cluster] = documents(kubeadmConfig({ controlPlane: c.controlPlane, kubernetes: c.kubernetes, singleNode: true, clusterName: "k8s-lab" }));
        assert.strictEqual(init.localAPIEndpoint.advertiseAddress, undefined);
        assert.strictEqual(cluster.controlPlaneEndpoint, "cp1.lab.example:6443");
    });
});

import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import Ajv from "ajv";
import * as fc from "fast-check";
import * as YAML from "yaml";
import { checkSchema, ConfigError, RawConfig, validateConfig } from "../components/lib/config";
import { modeline, sections, stackFileJsonSchema } from "../components/lib/schema";
import { generated, renderReference, stackFilesWithoutModeline, withReference } from "../cli/schema";
import { clusterOnly, guideLab, testKey } from "./fixtures";

const root = path.resolve(__dirname, "..");

const ajv = new Ajv({ allErrors: true });
const editorCheck = ajv.compile(stackFileJsonSchema());

/** A stack file's document, as an editor sees it, for a raw configuration. */
function stackFile(raw: RawConfig): unknown {
    return { config: Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined).map(([k, v]) => [`k8s-lab:${k}`, v])) };
}

/** What the program says of each key on its own (step 1), before the rules that span keys. */
function schemaProblems(raw: RawConfig): string[] {
    return checkSchema(raw).problems.map((p) => `${p.key}: ${p.message}`);
}

function agree(raw: RawConfig): void {
    const program = schemaProblems(raw);
    const editor = editorCheck(stackFile(raw));
    assert.strictEqual(
        editor,
        program.length === 0,
        `the editor ${editor ? "accepts" : "rejects"} what the program ${program.length ? "rejects" : "accepts"}: ${JSON.stringify(raw)}\nprogram: ${program.join("; ")}\neditor: ${ajv.errorsText(editorCheck.errors)}`,
    );
}

const host = (over: object) => guideLab({ hosts: [{ name: "cp1", address: "192.168.56.10", roles: ["control-plane"], ...over }] });

/** Configurations the program rejects key by key: the editor must flag each of them too. */
const invalid: [string, RawConfig][] = [
    ["no hosts", guideLab({ hosts: [] })],
    ["hosts not a list", guideLab({ hosts: { cp1: "10.0.0.1" } })],
    ["a host without roles", guideLab({ hosts: [{ name: "cp1", address: "10.0.0.1" }] })],
    ["a name that is no DNS-1123 label", host({ name: "CP_1" })],
    ["an address that is no IPv4 address", host({ address: "300.1.1.1" })],
    ["an IPv6 address", host({ address: "fd00::10" })],
    ["an unknown role", host({ roles: ["master"] })],
    ["a port out of range", host({ port: 70000 })],
    ["a port that is a string", host({ port: "22" })],
    ["a host key that is none", host({ hostKey: "not a key" })],
    ["an unknown host field", host({ ip: "10.0.0.1" })],
    ["an empty SSH user", guideLab({ ssh: { user: "", privateKey: testKey } })],
    ["a private key that is none", guideLab({ ssh: { privateKey: "hunter2" } })],
    ["a bastion without an address", guideLab({ ssh: { privateKey: testKey, bastion: { user: "jump" } } })],
    ["an unknown ssh setting", guideLab({ ssh: { privateKey: testKey, key: "x" } })],
    ["an unsupported Kubernetes version", guideLab({ kubernetes: { version: "1.30" } })],
    ["a version as an unsupported number", guideLab({ kubernetes: { version: 1.2 } })],
    ["a pod subnet that is no CIDR", guideLab({ kubernetes: { podSubnet: "10.244.0.0" } })],
    ["an IPv6 service subnet", guideLab({ kubernetes: { serviceSubnet: "fd00::/108" } })],
    ["an unknown containerd", guideLab({ kubernetes: { containerd: "podman" } })],
    ["an unknown kubernetes setting", guideLab({ kubernetes: { podSubnets: "10.0.0.0/16" } })],
    ["a kubelet field the lab sets", guideLab({ kubernetes: { kubeletConfiguration: { cgroupDriver: "cgroupfs" } } })],
    ["a kube-proxy field the lab sets", guideLab({ kubernetes: { kubeProxyConfiguration: { clusterCIDR: "10.0.0.0/8" } } })],
    ["a kube-proxy field that is no field name", guideLab({ kubernetes: { kubeProxyConfiguration: { "conntrack-max": 0 } } })],
    ["kubelet fields that are a list", guideLab({ kubernetes: { kubeletConfiguration: ["failCgroupV1"] } })],
    ["all preflight checks skipped", guideLab({ kubernetes: { ignorePreflightErrors: ["All"] } })],
    ["a preflight check twice", guideLab({ kubernetes: { ignorePreflightErrors: ["Swap", "Swap"] } })],
    ["an empty preflight check", guideLab({ kubernetes: { ignorePreflightErrors: [""] } })],
    ["a preflight check as kubeadm does not print it", guideLab({ kubernetes: { ignorePreflightErrors: ["system verification"] } })],
    ["an apt mirror that is no http(s) URL", guideLab({ mirrors: { kubernetesApt: "ftp://x" } })],
    ["an apt mirror with credentials", guideLab({ mirrors: { containerdApt: "https://u:p@mirror.example.com/docker-ce/linux" } })],
    ["a registry mirror that is no list", guideLab({ mirrors: { registries: { "docker.io": "https://m.example.com" } } })],
    ["a registry key with credentials", guideLab({ mirrors: { registries: { "u:p@docker.io": ["https://m.example.com"] } } })],
    ["an image registry with credentials", guideLab({ mirrors: { imageRegistry: "u:p@registry.example.cn/mirror" } })],
    ["a chart mirror that is no URL", guideLab({ mirrors: { chartRepositories: { "https://charts.example.com": "charts.example.cn" } } })],
    ["a layer that is a string", guideLab({ addons: { calico: "on" } })],
    ["an unknown layer", guideLab({ addons: { grafana: {} } })],
    ["an unknown encapsulation", guideLab({ addons: { calico: { encapsulation: "GRE" } } })],
    ["an unknown controller", guideLab({ addons: { ingress: { controller: "haproxy" } } })],
    ["a NodePort outside the range", guideLab({ addons: { ingress: { httpNodePort: 8080 } } })],
    ["a base domain that is no DNS name", guideLab({ addons: { ingress: { baseDomain: "not a domain" } } })],
    ["a relative export path", guideLab({ addons: { nfs: { exportPath: "srv/nfs" } } })],
    ["an export path that climbs out", guideLab({ addons: { nfs: { exportPath: "/srv/../etc" } } })],
    ["an unknown reclaim policy", guideLab({ addons: { nfs: { reclaimPolicy: "Recycle" } } })],
    ["a size that is none", guideLab({ addons: { logging: { storageSize: "ten gigs" } } })],
    ["a retention that is none", guideLab({ addons: { monitoring: { retention: "forever" } } })],
    ["Helm values that are a list", guideLab({ addons: { monitoring: { values: ["a"] } } })],
];

/** Configurations both must accept. */
const valid: [string, RawConfig][] = [
    ["the guide's lab", guideLab()],
    ["a single node", clusterOnly(0)],
    ["three workers, every layer's settings", clusterOnly(3, { addons: { calico: { encapsulation: "IPIP" }, ingress: { controller: "traefik", baseDomain: "lab.example.com" }, nfs: false, logging: false, monitoring: false } })],
    ["an unquoted version (a YAML number)", guideLab({ kubernetes: { version: 1.37 } })],
    ["a patch version with a v", guideLab({ kubernetes: { version: "v1.35.2" } })],
    ["layers as null (an empty YAML value) and true", guideLab({ addons: { calico: null, ingress: true } })],
    ["mirrors", guideLab({ mirrors: { registries: { "docker.io": ["https://m.example.com"], "registry.local:5000": ["http://10.0.0.9:5000"] }, imageRegistry: "registry.example.cn/mirror" } })],
    ["a host's own port, user and host key", host({ port: 2222, user: "debian", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDk comment" })],
    [
        "the settings of cgroup v1 hosts in containers",
        guideLab({
            kubernetes: {
                kubeletConfiguration: { failCgroupV1: false, evictionHard: { "memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%" } },
                kubeProxyConfiguration: { conntrack: { maxPerCore: 0 } },
                ignorePreflightErrors: ["SystemVerification", "Port-6443", "FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml"],
            },
        }),
    ],
];

describe("configuration schema", () => {
    describe("what is generated from it is committed and current", () => {
        for (const g of generated(root)) {
            it(`${path.relative(root, g.file)} (npm run schema)`, () => {
                assert.ok(fs.readFileSync(g.file, "utf8") === g.text, `${path.relative(root, g.file)} is stale: run npm run schema and commit it`);
            });
        }
        it("every stack file names the schema for editors", () => {
            assert.deepStrictEqual(stackFilesWithoutModeline(root), []);
            assert.ok(fs.readFileSync(path.join(root, "Pulumi.dev.yaml"), "utf8").startsWith(`${modeline}\n`));
        });
        it("the README's reference lists every setting and every rule, between its markers", () => {
            const reference = renderReference();
            for (const key of ["hosts[].hostKey", "ssh.bastion.apiServerReachable", "kubernetes.containerd", "addons.nfs.deleteDataOnRemove", "addons.samples.storageClassName"]) {
                assert.ok(reference.includes(`| \`${key}\` |`), `no row for ${key}`);
            }
            assert.match(reference, /one host has the control-plane role, or an odd number of them/);
            assert.throws(() => withReference("# no markers"), /no configuration reference markers/);
        });
    });

    describe("the editor's JSON Schema and the program agree", () => {
        it("on Pulumi.dev.yaml as committed", () => {
            const doc: { config: Record<string, unknown> } = YAML.parse(fs.readFileSync(path.join(root, "Pulumi.dev.yaml"), "utf8"));
            assert.ok(editorCheck(doc), ajv.errorsText(editorCheck.errors));
            const raw = Object.fromEntries(sections.map((s) => [s, doc.config[`k8s-lab:${s}`]]));
            assert.deepStrictEqual(schemaProblems(raw), []);
        });
        it("on a stack file with encrypted values, other namespaces and Pulumi's own keys", () => {
            const doc = stackFile(guideLab({ ssh: { user: "root", privateKey: { secure: "v1:abc" } } })) as { config: Record<string, unknown> };
            Object.assign(doc, { encryptionsalt: "v1:c2FsdA==:v1:bm9uY2U=:Y2lwaGVy" });
            doc.config["kubernetes:context"] = "lab";
            assert.ok(editorCheck(doc), ajv.errorsText(editorCheck.errors));
            assert.ok(!editorCheck({ ...doc, config: { ...doc.config, "k8s-lab:host": [] } }), "a misspelt key of the lab's is flagged");
        });
        for (const [what, raw] of valid) it(`accept ${what}`, () => agree(raw));
        for (const [what, raw] of invalid) {
            it(`reject ${what}`, () => {
                assert.ok(schemaProblems(raw).length > 0, `the program accepts ${what}`);
                agree(raw);
            });
        }
        it("differ only where a JSON Schema cannot say it: a CIDR with host bits set", () => {
            const raw = guideLab({ kubernetes: { podSubnet: "10.244.1.0/16" } });
            assert.match(schemaProblems(raw).join("\n"), /host bits set; use its network, 10\.244\.0\.0\/16/);
            assert.ok(editorCheck(stackFile(raw)), "when a pattern learns host bits, move this case to the rejected ones");
        });
        it("on generated configurations (property-based)", () => {
            const pick = <T>(...xs: T[]) => fc.constantFrom(...xs);
            const hostArb = fc.record(
                {
                    name: pick<unknown>("cp1", "w-2", "W2", "", 7),
                    address: pick<unknown>("10.0.0.1", "lab.example.com", "300.1.1.1", "fd00::1", "10.0.0", null),
                    roles: pick<unknown>(["control-plane"], ["worker", "nfs"], [], ["boss"], "worker"),
                    port: pick<unknown>(22, 0, 65536, 22.5, "22"),
                    hostKey: pick<unknown>("ssh-ed25519 AAAAC3Nza", "ssh-dss AAAA", 1),
                },
                { requiredKeys: ["name", "address", "roles"] },
            );
            const config = fc.record(
                {
                    hosts: fc.oneof(fc.array(hostArb, { maxLength: 3 }), fc.jsonValue()),
                    ssh: fc.record({ user: pick<unknown>("root", "", 3), privateKey: pick<unknown>(testKey, "x", { secure: "v1:x" }), port: pick<unknown>(22, -1) }, { requiredKeys: [] }),
                    kubernetes: fc.record(
                        {
                            version: pick<unknown>("1.36", "1.36.2", "v1.37", 1.35, 1.3, "latest"),
                            podSubnet: pick<unknown>("10.244.0.0/16", "10.244.0.0/33", "10.244.0.0", "fd00::/64"),
                            containerd: pick<unknown>("docker", "distro", "crio"),
                            kubeletConfiguration: pick<unknown>({}, { failCgroupV1: false }, { cgroupDriver: "systemd" }, { "max-pods": 1 }, [], null),
                            ignorePreflightErrors: pick<unknown>([], ["SystemVerification"], ["Swap", "Swap"], ["all"], [""], "Swap"),
                        },
                        { requiredKeys: [] },
                    ),
                    mirrors: fc.record(
                        {
                            kubernetesApt: pick<unknown>("https://m.example.com/k8s/", "ftp://m", "https://u:p@m.example.com/"),
                            registries: pick<unknown>({}, { "docker.io": ["https://m.example.com"] }, { "docker.io": [] }, { "bad host!": ["https://m"] }),
                        },
                        { requiredKeys: [] },
                    ),
                    addons: fc.record(
                        {
                            calico: pick<unknown>(false, true, null, {}, { encapsulation: "IPIP" }, "yes"),
                            ingress: pick<unknown>(false, {}, { httpNodePort: 30000 }, { httpNodePort: 29999 }, { controller: "traefik" }),
                            monitoring: pick<unknown>(false, { retention: "7d" }, { retention: "7 days" }, { typo: 1 }),
                        },
                        { requiredKeys: [] },
                    ),
                },
                { requiredKeys: [] },
            );
            fc.assert(
                fc.property(config, (raw) => {
                    agree(raw as RawConfig);
                }),
                { numRuns: 300 },
            );
        });
        it("never crash on any value of any key: only a ConfigError, naming keys", () => {
            fc.assert(
                fc.property(fc.record(Object.fromEntries(sections.map((s) => [s, fc.jsonValue()])) as Record<string, fc.Arbitrary<unknown>>, { requiredKeys: [] }), (raw) => {
                    try {
                        validateConfig(raw as RawConfig, () => testKey);
                    } catch (e) {
                        assert.ok(e instanceof ConfigError, `not a ConfigError: ${e}`);
                        for (const p of e.problems) assert.match(p, new RegExp(`^k8s-lab:(${sections.join("|")})\\b.*: `));
                    }
                }),
                { numRuns: 500 },
            );
        });
    });
});

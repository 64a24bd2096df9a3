import * as assert from "assert";
import { ConfigError, RawConfig, validateConfig, versionWarnings } from "../components/lib/config";
import { guideLab, testKey } from "./fixtures";

/** Validates and returns the problems (none when valid). */
function problems(raw: RawConfig, readFile?: (p: string) => string): string[] {
    try {
        validateConfig(raw, readFile);
        return [];
    } catch (e) {
        if (e instanceof ConfigError) return e.problems;
        throw e;
    }
}

function expectProblem(raw: RawConfig, key: string, pattern: RegExp): void {
    const found = problems(raw);
    assert.ok(
        found.some((p) => p.startsWith(`k8s-lab:${key}`) && pattern.test(p)),
        `expected a problem at ${key} matching ${pattern}, got:\n${found.join("\n")}`,
    );
}

const hosts = (...list: object[]) => guideLab({ hosts: list });
const cp = { name: "cp1", address: "192.168.56.10", roles: ["control-plane"] };

describe("configuration", () => {
    describe("a valid configuration", () => {
        it("gets the documented defaults", () => {
            const c = validateConfig(guideLab());
            assert.strictEqual(c.controlPlane.name, "cp1");
            assert.deepStrictEqual(c.workers.map((w) => w.name), ["worker1", "worker2"]);
            assert.strictEqual(c.nfsHost.name, "nfs1");
            assert.strictEqual(c.kubernetes.version, "1.36.4");
            assert.strictEqual(c.kubernetes.packageVersion, "1.36.4-1.1");
            assert.strictEqual(c.kubernetes.podSubnet, "10.244.0.0/16");
            assert.strictEqual(c.kubernetes.serviceSubnet, "10.96.0.0/12");
            assert.strictEqual(c.kubernetes.imageRepository, "registry.k8s.io");
            assert.strictEqual(c.kubernetes.apiServerPort, 6443);
            assert.strictEqual(c.kubernetes.controlPlaneEndpoint, "192.168.56.10");
            assert.strictEqual(c.kubernetes.containerdSource, "docker");
            assert.strictEqual(c.mirrors.kubernetesApt, "https://pkgs.k8s.io/core:/stable:/v1.36/deb/");
            assert.strictEqual(c.mirrors.kubernetesAptKey, "https://pkgs.k8s.io/core:/stable:/v1.36/deb/Release.key");
            assert.strictEqual(c.hosts[0].user, "ubuntu");
            assert.strictEqual(c.hosts[0].port, 22);
        });

        it("allows a single-node lab (no workers)", () => {
            const c = validateConfig(hosts(cp));
            assert.strictEqual(c.workers.length, 0);
            assert.strictEqual(c.nfsHost.name, "cp1", "NFS falls back to the control plane");
        });

        it("takes a minor or a patch release of a supported minor", () => {
            assert.strictEqual(validateConfig(guideLab({ kubernetes: { version: "1.36" } })).kubernetes.version, "1.36.4");
            assert.strictEqual(validateConfig(guideLab({ kubernetes: { version: "v1.37.3" } })).kubernetes.packageVersion, "1.37.3-1.1");
        });

        it("lets a host override the SSH user and port", () => {
            const c = validateConfig(hosts({ ...cp, user: "admin", port: 2222 }));
            assert.strictEqual(c.controlPlane.user, "admin");
            assert.strictEqual(c.controlPlane.port, 2222);
        });

        it("reads privateKeyPath through the file reader", () => {
            const c = validateConfig(guideLab({ ssh: { user: "u", privateKeyPath: "/keys/lab" } }), (p) => {
                assert.strictEqual(p, "/keys/lab");
                return testKey;
            });
            assert.strictEqual(c.ssh.privateKey, testKey);
        });

        it("substitutes the minor into a mirrored Kubernetes apt repository", () => {
            const c = validateConfig(guideLab({ mirrors: { kubernetesApt: "https://mirror.example.com/kubernetes-new/core/stable/v{minor}/deb" } }));
            assert.strictEqual(c.mirrors.kubernetesApt, "https://mirror.example.com/kubernetes-new/core/stable/v1.36/deb/");
            assert.strictEqual(c.mirrors.kubernetesAptKey, "https://mirror.example.com/kubernetes-new/core/stable/v1.36/deb/Release.key");
        });

        it("turns addons on with defaults when absent, off with false", () => {
            const c = validateConfig({ ...guideLab(), addons: { logging: false } });
            assert.ok(c.addons.calico && c.addons.ingress && c.addons.nfs && c.addons.monitoring);
            assert.strictEqual(c.addons.logging, false);
            assert.strictEqual(c.addons.samples, false, "samples are off unless asked for");
        });
    });

    describe("reports", () => {
        it("no hosts", () => {
            expectProblem(guideLab({ hosts: undefined }), "hosts", /no hosts/);
            expectProblem(guideLab({ hosts: [] }), "hosts", /no hosts/);
        });
        it("no control-plane host", () => {
            expectProblem(hosts({ name: "w1", address: "10.0.0.2", roles: ["worker"] }), "hosts", /no host has the control-plane role/);
        });
        it("an even number of control-plane hosts", () => {
            expectProblem(
                guideLab({ hosts: [cp, { name: "cp2", address: "192.168.56.20", roles: ["control-plane"] }], controlPlane: { vip: "192.168.56.9" } }),
                "hosts",
                /2 hosts have the control-plane role \(cp1, cp2\); etcd needs a majority[^]*give the role to 1 or 3 hosts/,
            );
        });
        it("duplicate names", () => {
            expectProblem(hosts(cp, { name: "cp1", address: "192.168.56.20", roles: ["worker"] }), "hosts", /two hosts have the name "cp1"/);
        });
        it("duplicate addresses", () => {
            expectProblem(hosts(cp, { name: "w1", address: "192.168.56.10", roles: ["worker"] }), "hosts", /two hosts have the address "192.168.56.10"/);
        });
        it("a name that is not a DNS-1123 label", () => {
            expectProblem(hosts({ ...cp, name: "CP_1" }), "hosts[0].name", /not a DNS-1123 label/);
        });
        it("a bad address", () => {
            expectProblem(hosts({ ...cp, address: "300.1.1.1" }), "hosts[0].address", /not an IPv4 address or DNS name/);
            expectProblem(hosts({ ...cp, address: "bad host" }), "hosts[0].address", /not an IPv4 address or DNS name/);
        });
        it("a bad role", () => {
            expectProblem(hosts({ ...cp, roles: ["control-plane", "master"] }), "hosts[0].roles", /"master" is not a role/);
        });
        it("a host that is both control plane and worker", () => {
            expectProblem(hosts({ ...cp, roles: ["control-plane", "worker"] }), "hosts[0].roles", /either control-plane or worker/);
        });
        it("a bad port", () => {
            expectProblem(hosts({ ...cp, port: 70000 }), "hosts[0].port", /not a port/);
            expectProblem(guideLab({ kubernetes: { apiServerPort: "6443" } }), "kubernetes.apiServerPort", /not a port/);
        });
        it("no SSH key or password", () => {
            expectProblem(guideLab({ ssh: { user: "ubuntu" } }), "ssh", /no SSH credentials/);
        });
        it("an unreadable privateKeyPath", () => {
            const found = problems(guideLab({ ssh: { privateKeyPath: "/nope" } }), () => {
                throw new Error("ENOENT");
            });
            assert.ok(found.some((p) => /ssh.privateKeyPath: cannot read "\/nope"/.test(p)), found.join("\n"));
        });
        it("a private key that is not one", () => {
            expectProblem(guideLab({ ssh: { privateKey: "ssh-ed25519 AAAA... me@host" } }), "ssh.privateKey", /does not look like a private key/);
        });
        it("a subnet that is not a CIDR", () => {
            expectProblem(guideLab({ kubernetes: { podSubnet: "10.244.0.0" } }), "kubernetes.podSubnet", /not an IPv4 CIDR/);
            expectProblem(guideLab({ kubernetes: { serviceSubnet: "10.96.0.1/12" } }), "kubernetes.serviceSubnet", /not an IPv4 CIDR/);
        });
        it("pod and service subnets that overlap", () => {
            expectProblem(guideLab({ kubernetes: { podSubnet: "10.96.0.0/16" } }), "kubernetes.podSubnet", /overlaps serviceSubnet 10.96.0.0\/12/);
        });
        it("a subnet that overlaps the hosts' addresses", () => {
            expectProblem(guideLab({ kubernetes: { podSubnet: "192.168.0.0/16" } }), "kubernetes.podSubnet", /contains host cp1's address/);
        });
        it("an unsupported Kubernetes version", () => {
            expectProblem(guideLab({ kubernetes: { version: "1.29" } }), "kubernetes.version", /not supported; use one of 1.35, 1.36, 1.37/);
            expectProblem(guideLab({ kubernetes: { version: "latest" } }), "kubernetes.version", /not supported/);
        });
        it("distro containerd with a Kubernetes that needs containerd 2", () => {
            expectProblem(guideLab({ kubernetes: { containerd: "distro" } }), "kubernetes.containerd", /needs containerd 2.x/);
            assert.deepStrictEqual(problems(guideLab({ kubernetes: { containerd: "distro", version: "1.35" } })), []);
        });
        it("more than one nfs host", () => {
            expectProblem(hosts(cp, { name: "n1", address: "10.0.0.5", roles: ["nfs"] }, { name: "n2", address: "10.0.0.6", roles: ["nfs"] }), "hosts", /2 hosts have the nfs role/);
        });
        it("unknown keys, which are usually typos", () => {
            expectProblem(guideLab({ kubernetes: { podSubnets: "10.0.0.0/16" } }), "kubernetes.podSubnets", /unknown setting/);
            expectProblem(guideLab({ addons: { grafana: {} } }), "addons.grafana", /unknown setting/);
        });
        it("bad mirrors", () => {
            expectProblem(guideLab({ mirrors: { registries: { "docker.io": "https://m.example.com" } } }), "mirrors.registries.docker.io", /list of mirror URLs/);
            expectProblem(guideLab({ mirrors: { kubernetesApt: "ftp://x" } }), "mirrors.kubernetesApt", /not an http\(s\) URL/);
        });
        it("mirror URLs with credentials, naming the key and the fix, never the password", () => {
            const secret = "s3cret-pw";
            const cases: [Record<string, unknown>, string, RegExp][] = [
                [{ kubernetesApt: `https://user:${secret}@mirror.example.com/k8s/v{minor}/deb/` }, "mirrors.kubernetesApt", /apt sources.*\/etc\/apt\/auth\.conf\.d/],
                [{ kubernetesAptKey: `https://user:${secret}@mirror.example.com/Release.key` }, "mirrors.kubernetesAptKey", /auth\.conf\.d/],
                [{ containerdApt: `http://user:${secret}@mirror.example.com/docker-ce/linux` }, "mirrors.containerdApt", /auth\.conf\.d/],
                [{ registries: { "docker.io": ["https://m.example.com", `https://user:${secret}@m2.example.com`] } }, "mirrors.registries.docker.io[1]", /hosts\.toml/],
                [{ registries: { [`user:${secret}@docker.io`]: ["https://m.example.com"] } }, "mirrors.registries", /a key carries credentials/],
                [{ imageRegistry: `user:${secret}@registry.example.cn/mirror` }, "mirrors.imageRegistry", /image references.*hosts\.toml/],
                [{ chartRepositories: { "https://charts.example.com": `https://user:${secret}@charts.example.cn` } }, "mirrors.chartRepositories.https://charts.example.com", /Helm releases/],
            ];
            for (const [mirrors, key, fix] of cases) {
                const found = problems(guideLab({ mirrors }));
                const p = found.find((x) => x.startsWith(`k8s-lab:${key}:`));
                assert.ok(p, `expected a problem at ${key}, got:\n${found.join("\n")}`);
                assert.match(p, /carries credentials \(user:password@\).*plaintext in the Pulumi state.*Use a mirror that needs no credentials/);
                assert.match(p, fix);
                assert.ok(!found.join("\n").includes(secret), `the password leaks: ${found.join("\n")}`);
            }
        });
        it("no credentials where there are none: an @ in a path, a plain registry path", () => {
            assert.deepStrictEqual(
                problems(guideLab({ mirrors: { kubernetesApt: "https://mirror.example.com/k8s/@stable/v{minor}/deb/", imageRegistry: "registry.example.cn/mirror" } })),
                [],
            );
        });
        it("bad addon settings", () => {
            expectProblem(guideLab({ addons: { ingress: { httpNodePort: 80 } } }), "addons.ingress.httpNodePort", /outside the NodePort range/);
            expectProblem(guideLab({ addons: { ingress: { controller: "haproxy" } } }), "addons.ingress.controller", /use one of ingress-nginx, traefik/);
            expectProblem(guideLab({ addons: { nfs: { exportPath: "relative/dir" } } }), "addons.nfs.exportPath", /not an absolute directory path/);
            expectProblem(guideLab({ addons: { calico: "yes" } }), "addons.calico", /must be false \(off\) or an object/);
            expectProblem(guideLab({ addons: { monitoring: { retention: "ten days" } } }), "addons.monitoring.retention", /not a duration/);
            expectProblem(guideLab({ addons: { nfs: false, logging: {} } }), "addons.logging.storageClassName", /required when the nfs layer is off/);
            expectProblem(guideLab({ addons: { ingress: false, monitoring: {} } }), "addons.ingress", /turn ingress on/);
            expectProblem(guideLab({ addons: { ingress: false, logging: false, monitoring: false, samples: {} } }), "addons.ingress", /turn ingress on/);
            expectProblem(guideLab({ addons: { nfs: false, logging: false, monitoring: false, samples: {} } }), "addons.samples.storageClassName", /required when the nfs layer is off/);
        });
    });

    it("lists every problem in one message, each with its key and fix, and the way to set values", () => {
        const raw = guideLab({
            hosts: [{ name: "Bad_Name", address: "x y", roles: ["boss"] }],
            ssh: {},
            kubernetes: { podSubnet: "nope" },
        });
        assert.throws(
            () => validateConfig(raw),
            (e: unknown) => {
                assert.ok(e instanceof ConfigError);
                const m = e.message;
                for (const part of ["hosts[0].name", "hosts[0].address", "hosts[0].roles", "k8s-lab:ssh", "kubernetes.podSubnet", "no host was touched", "pulumi config set"]) {
                    assert.ok(m.includes(part), `message lacks ${part}:\n${m}`);
                }
                assert.ok(e.problems.length >= 5);
                return true;
            },
        );
    });

    it("never puts a secret into an error message", () => {
        const found = problems(guideLab({ ssh: { privateKey: testKey, password: "hunter2" }, kubernetes: { version: "0.1" } }));
        assert.ok(found.length > 0);
        assert.ok(!found.join("\n").includes("TEST-ONLY") && !found.join("\n").includes("hunter2"));
    });

    describe("version warnings at preview", () => {
        it("name each layer untested on the chosen minor, with its tested range and source", () => {
            const on = { calico: {}, ingress: {}, nfs: {}, logging: {}, monitoring: {} };
            const at = (version: string, addons: Record<string, unknown> = on) => versionWarnings(validateConfig(guideLab({ kubernetes: { version }, addons })));
            assert.deepStrictEqual(at("1.35"), [], "every default layer is tested on 1.35");
            const w136 = at("1.36");
            assert.strictEqual(w136.length, 1);
            assert.match(w136[0], /^ingress-nginx 4\.15\.1 .*\(layer ingress-nginx\) is tested on Kubernetes 1\.31 to 1\.35, not on 1\.36 \(k8s-lab:kubernetes\.version\)/);
            assert.deepStrictEqual(at("1.36", { ...on, ingress: { controller: "traefik" } }), [], "Traefik publishes no upper bound");
            const w137 = at("1.37").join("\n");
            for (const part of ["Calico 3.32", "ingress-nginx", "ECK 3.5"]) assert.ok(w137.includes(part), part);
            assert.deepStrictEqual(at("1.37", { calico: false, ingress: false, nfs: false, logging: false, monitoring: false }), [], "layers that are off are not named");
        });
    });

    describe("SSH host keys and the bastion", () => {
        const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHbnKcT0nCzM2gw6ghBJMfbHKx6pNwz0lDHEb3sk2hc4 root@cp1";

        it("take a host key per host and for the bastion, and refuse what is not one", () => {
            const c = validateConfig(
                guideLab({
                    hosts: [{ name: "cp1", address: "10.0.0.1", roles: ["control-plane"], hostKey: key }],
                    ssh: { privateKey: testKey, bastion: { address: "jump.example.com", hostKey: key } },
                }),
            );
            assert.strictEqual(c.controlPlane.hostKey, key);
            assert.strictEqual(c.ssh.bastion?.hostKey, key);
            expectProblem(hosts({ name: "cp1", address: "10.0.0.1", roles: ["control-plane"], hostKey: "SHA256:abc" }), "hosts[0].hostKey", /is not an SSH public host key; .*ssh-keyscan/);
            expectProblem(guideLab({ ssh: { privateKey: testKey, bastion: { address: "j", hostKey: 42 } } }), "ssh.bastion.hostKey", /must be a non-empty string/);
        });

        it("refuse a bastion with layers on unless the API server is reachable from here, saying both ways out", () => {
            const layers = { calico: {}, ingress: false, nfs: false, logging: false, monitoring: false };
            expectProblem(
                guideLab({ ssh: { privateKey: testKey, bastion: { address: "jump.example.com" } }, addons: layers }),
                "ssh.bastion",
                /the layers \(calico\).*connect to the API server 192\.168\.56\.10:6443 .*directly.*apiServerReachable to true, or turn the layers off/,
            );
            assert.doesNotThrow(() => validateConfig(guideLab({ ssh: { privateKey: testKey, bastion: { address: "jump.example.com", apiServerReachable: true } }, addons: layers })));
            assert.doesNotThrow(() => validateConfig(guideLab({ ssh: { privateKey: testKey, bastion: { address: "jump.example.com" } } })), "host steps alone are fine");
        });

        it("base the UIs' domain on the control plane, which stays when workers come and go", () => {
            const c = validateConfig(guideLab({ addons: { calico: {}, ingress: {}, nfs: false, logging: false, monitoring: false } }));
            assert.strictEqual(c.addons.ingress && c.addons.ingress.baseDomain, "192.168.56.10.nip.io");
        });
    });

    describe("settings for odd hosts: kubelet, kube-proxy and kubeadm's preflight", () => {
        const k8s = (kubernetes: Record<string, unknown>) => guideLab({ kubernetes });
        const oddHost = {
            kubeletConfiguration: { failCgroupV1: false, evictionHard: { "memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%" } },
            kubeProxyConfiguration: { conntrack: { maxPerCore: 0 } },
            ignorePreflightErrors: ["SystemVerification"],
        };

        it("default to nothing", () => {
            const c = validateConfig(guideLab());
            assert.deepStrictEqual(c.kubernetes.kubeletConfiguration, {});
            assert.deepStrictEqual(c.kubernetes.kubeProxyConfiguration, {});
            assert.deepStrictEqual(c.kubernetes.ignorePreflightErrors, []);
        });

        it("take a cgroup v1 host in a container as its user writes it", () => {
            const c = validateConfig(k8s(oddHost));
            assert.deepStrictEqual(c.kubernetes.kubeletConfiguration, oddHost.kubeletConfiguration);
            assert.deepStrictEqual(c.kubernetes.kubeProxyConfiguration, oddHost.kubeProxyConfiguration);
            assert.deepStrictEqual(c.kubernetes.ignorePreflightErrors, ["SystemVerification"]);
        });

        it("take any plain JSON value under a field, and kubeadm's check names of every shape", () => {
            const kubelet = { maxPods: 50, clusterDNS: ["169.254.20.10"], featureGates: { SomeGate: true }, systemReserved: null, evictionHard: {} };
            assert.deepStrictEqual(validateConfig(k8s({ kubeletConfiguration: kubelet })).kubernetes.kubeletConfiguration, kubelet);
            const checks = ["Swap", "NumCPU", "Mem", "Port-6443", "FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml", "FileContent--proc-sys-net-ipv4-ip_forward", "DirAvailable--var-lib-etcd", "FileExisting-conntrack"];
            assert.deepStrictEqual(validateConfig(k8s({ ignorePreflightErrors: checks })).kubernetes.ignorePreflightErrors, checks);
        });

        it("refuse each field the lab sets, naming it, why and what to do", () => {
            expectProblem(k8s({ kubeletConfiguration: { cgroupDriver: "cgroupfs" } }), "kubernetes.kubeletConfiguration", /"cgroupDriver" is the lab's: systemd, as host preparation configures containerd's SystemdCgroup.*; leave it out/);
            expectProblem(k8s({ kubeletConfiguration: { staticPodPath: "/etc/pods" } }), "kubernetes.kubeletConfiguration", /"staticPodPath" is the lab's: certificate renewal and etcd restore/);
            expectProblem(k8s({ kubeletConfiguration: { kind: "KubeletConfiguration" } }), "kubernetes.kubeletConfiguration", /"kind" is the lab's: .*; give only the document's fields/);
            expectProblem(k8s({ kubeProxyConfiguration: { metricsBindAddress: "127.0.0.1:10249" } }), "kubernetes.kubeProxyConfiguration", /"metricsBindAddress" is the lab's: 0\.0\.0\.0:10249, which the monitoring layer scrapes/);
            expectProblem(k8s({ kubeProxyConfiguration: { clusterCIDR: "10.0.0.0/8" } }), "kubernetes.kubeProxyConfiguration", /"clusterCIDR" is the lab's: .*; set k8s-lab:kubernetes\.podSubnet instead/);
        });

        it("refuse what is no field name, a value JSON cannot hold, and an object that is none", () => {
            expectProblem(k8s({ kubeletConfiguration: { "fail-cgroup-v1": false } }), "kubernetes.kubeletConfiguration", /"fail-cgroup-v1" is not a KubeletConfiguration field name; .*lowerCamelCase, such as failCgroupV1/);
            expectProblem(k8s({ kubeProxyConfiguration: { Conntrack: {} } }), "kubernetes.kubeProxyConfiguration", /"Conntrack" is not a KubeProxyConfiguration field name/);
            expectProblem(k8s({ kubeletConfiguration: { maxPods: Infinity } }), "kubernetes.kubeletConfiguration.maxPods", /must be a plain JSON value/);
            expectProblem(k8s({ kubeletConfiguration: { evictionHard: { "memory.available": undefined } } }), "kubernetes.kubeletConfiguration.evictionHard", /must be a plain JSON value/);
            expectProblem(k8s({ kubeletConfiguration: ["failCgroupV1"] }), "kubernetes.kubeletConfiguration", /must be an object of KubeletConfiguration fields/);
        });

        it("refuse all, names kubeadm does not print, empty names and a check twice, each at its place in the list", () => {
            expectProblem(k8s({ ignorePreflightErrors: ["all"] }), "kubernetes.ignorePreflightErrors[0]", /"all" would skip every check.*list the checks to skip instead/);
            expectProblem(k8s({ ignorePreflightErrors: ["Swap", "ALL"] }), "kubernetes.ignorePreflightErrors[1]", /"ALL" would skip every check/);
            expectProblem(k8s({ ignorePreflightErrors: ["swap"] }), "kubernetes.ignorePreflightErrors[0]", /"swap" is not a kubeadm preflight check name; give it as kubeadm prints it in \[ERROR <name>\]/);
            expectProblem(k8s({ ignorePreflightErrors: ["Swap,Mem"] }), "kubernetes.ignorePreflightErrors[0]", /is not a kubeadm preflight check name/);
            expectProblem(k8s({ ignorePreflightErrors: [""] }), "kubernetes.ignorePreflightErrors[0]", /must be a non-empty string: a check's name, such as SystemVerification/);
            expectProblem(k8s({ ignorePreflightErrors: ["Swap", "Mem", "Swap"] }), "kubernetes.ignorePreflightErrors[2]", /"Swap" is listed twice; list each check once/);
            expectProblem(k8s({ ignorePreflightErrors: "SystemVerification" }), "kubernetes.ignorePreflightErrors", /must be a list of kubeadm preflight check names/);
        });
    });

    describe("a highly available control plane", () => {
        const three = [cp, { name: "cp2", address: "192.168.56.20", roles: ["control-plane"] }, { name: "cp3", address: "192.168.56.30", roles: ["control-plane"] }];
        const ha = (extra: Partial<RawConfig> = {}) => guideLab({ hosts: [...three, { name: "w1", address: "192.168.56.11", roles: ["worker"] }], controlPlane: { vip: "192.168.56.9" }, ...extra });

        it("takes three control planes behind a virtual IP, the first one first, the virtual IP as the endpoint", () => {
            const c = validateConfig(ha());
            assert.deepStrictEqual(c.controlPlanes.map((h) => h.name), ["cp1", "cp2", "cp3"]);
            assert.strictEqual(c.controlPlane.name, "cp1");
            assert.deepStrictEqual(c.vip, { address: "192.168.56.9", interface: undefined });
            assert.strictEqual(c.kubernetes.controlPlaneEndpoint, "192.168.56.9");
            assert.deepStrictEqual(c.workers.map((h) => h.name), ["w1"]);
        });
        it("takes a virtual IP with one control plane, so that more can join later without a new cluster", () => {
            const c = validateConfig(guideLab({ controlPlane: { vip: "192.168.56.9", vipInterface: "eth1" } }));
            assert.deepStrictEqual(c.vip, { address: "192.168.56.9", interface: "eth1" });
            assert.strictEqual(c.kubernetes.controlPlaneEndpoint, "192.168.56.9");
        });
        it("keeps one control plane without a virtual IP as it was", () => {
            const c = validateConfig(guideLab());
            assert.strictEqual(c.vip, undefined);
            assert.strictEqual(c.kubernetes.controlPlaneEndpoint, "192.168.56.10");
        });
        it("reports several control planes without a virtual IP", () => {
            expectProblem(guideLab({ hosts: three }), "controlPlane.vip", /is required with 3 control planes/);
        });
        it("reports a virtual IP that is a host's address, or inside a subnet", () => {
            expectProblem(ha({ controlPlane: { vip: "192.168.56.20" } }), "controlPlane.vip", /is host cp2's address/);
            expectProblem(ha({ controlPlane: { vip: "10.96.0.9" } }), "kubernetes.serviceSubnet", /contains the virtual IP \(controlPlane\.vip\) 10\.96\.0\.9/);
        });
        it("reports a virtual IP that is not an IPv4 address, and a bad interface", () => {
            expectProblem(ha({ controlPlane: { vip: "vip.example.com" } }), "controlPlane.vip", /is not an IPv4 address/);
            expectProblem(ha({ controlPlane: { vip: "fd00::9" } }), "controlPlane.vip", /IPv6 is not supported/);
            expectProblem(ha({ controlPlane: { vip: "192.168.56.9", vipInterface: "eth 1" } }), "controlPlane.vipInterface", /is not a network interface name/);
            expectProblem(ha({ controlPlane: { vip: "192.168.56.9", typo: 1 } }), "controlPlane", /unknown setting; known settings are vip, vipInterface/);
        });
        it("reports an interface without a virtual IP", () => {
            expectProblem(guideLab({ controlPlane: { vipInterface: "eth1" } }), "controlPlane.vipInterface", /has no effect without controlPlane\.vip/);
        });
        it("reports an endpoint address other than the virtual IP, and takes a name for it", () => {
            expectProblem(ha({ kubernetes: { controlPlaneEndpoint: "192.168.56.10" } }), "kubernetes.controlPlaneEndpoint", /is not controlPlane\.vip \(192\.168\.56\.9\)/);
            assert.strictEqual(validateConfig(ha({ kubernetes: { controlPlaneEndpoint: "api.lab.example" } })).kubernetes.controlPlaneEndpoint, "api.lab.example");
        });
    });
});

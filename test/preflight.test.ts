/**
 * Preflight (components/lib/preflight.ts): what runs for each host, how its answer is read, and
 * every rule that judges the answers. Plain functions, no Pulumi mocks. The script and the
 * local command also run here for real: the script only reads, and a stand-in `ssh` on PATH
 * runs the login's command on this machine.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LabConfig, RawConfig, validateConfig } from "../components/lib/config";
import {
    classifySshFailure,
    HostCheck,
    judge,
    knownHostsLine,
    localCommand,
    mirrorChecks,
    nfsClaims,
    parseReading,
    preflightOutcome,
    preflightPlan,
    PreflightPlan,
    quantityMiB,
    Reading,
    remoteCommand,
    requirements,
    supportedSystems,
} from "../components/lib/preflight";
import { scriptsDir } from "../components/lib/render";
import { guideLab, testKey } from "./fixtures";

const T = 1_800_000_000;

/** The guide's lab with the layers the rules care about. */
function lab(overrides: Partial<RawConfig> = {}): LabConfig {
    return validateConfig(guideLab({ addons: { calico: {}, ingress: {}, nfs: {}, logging: {}, monitoring: {} }, ...overrides }));
}

interface Answer {
    os?: string;
    apt?: string;
    cgroup?: string;
    swap?: string;
    lab?: string;
    used?: Record<number, string>;
    nodeip?: string;
    vip?: string;
    clock?: number;
    mem?: number;
    disk?: Record<string, number>;
    mirror?: Record<string, string>;
    start?: number;
    end?: number;
    exit?: number;
    stderr?: string[];
    extra?: string[];
}

/** What a healthy host answers for its check, with what `a` changes. */
function answer(check: HostCheck, a: Answer = {}): string {
    const lines = [`os ${a.os ?? "debian 12"}`, `apt ${a.apt ?? "yes"}`, `cgroup ${a.cgroup ?? "v2"}`, `swap ${a.swap ?? "off"}`, `lab ${a.lab ?? "absent"}`];
    for (const p of check.ports) lines.push(a.used?.[p.port] ? `port ${p.port} used ${a.used[p.port]}` : `port ${p.port} free`);
    if (check.kubernetes) lines.push(`nodeip ${check.host.address} ${a.nodeip ?? "present"}`);
    if (check.vip) lines.push(`vip ${check.vip} ${a.vip ?? "silent"}`);
    lines.push(`clock ${a.clock ?? T}.250`, `mem ${a.mem ?? 16384}`);
    for (const d of check.disks) lines.push(`disk ${d.path} ${a.disk?.[d.path] ?? 100000}`);
    for (const m of check.mirrors) {
        const url = m.url.replace("{os}", "debian");
        lines.push(`mirror ${url} ${a.mirror?.[url] ?? (m.kind === "registry" ? "401" : "200")}`);
    }
    lines.push(...(a.extra ?? []));
    lines.push(`local-start ${a.start ?? T}.1`, `local-end ${a.end ?? T}.4`, `ssh-exit ${a.exit ?? 0}`);
    for (const s of a.stderr ?? []) lines.push(`ssh-stderr ${s}`);
    return lines.join("\n");
}

function checkOf(plan: PreflightPlan, name: string): HostCheck {
    const c = plan.checks.find((x) => x.host.name === name);
    if (!c) throw new Error(`no check for ${name}`);
    return c;
}

/** Judges a lab whose hosts answer healthily, but for the answers given by host name. */
function findings(l: LabConfig, by: Record<string, Answer | string> = {}) {
    const plan = preflightPlan(l);
    const readings: Reading[] = plan.checks.map((c) => {
        const a = by[c.host.name];
        return parseReading(typeof a === "string" ? a : answer(c, a));
    });
    return judge(l, plan, readings);
}

function problems(l: LabConfig, by: Record<string, Answer | string> = {}): string[] {
    return findings(l, by).problems;
}

function onlyProblem(l: LabConfig, by: Record<string, Answer | string>, pattern: RegExp): string {
    const p = problems(l, by);
    assert.strictEqual(p.length, 1, `expected one problem, got:\n${p.join("\n")}`);
    assert.match(p[0], pattern);
    assert.match(p[0], /^hosts? [a-z0-9, -]+: [^;]+; .+/, "host <name>: <what is wrong>; <how to fix it>");
    return p[0];
}

describe("preflight", () => {
    describe("what runs for each host", () => {
        const l = lab();
        const plan = preflightPlan(l);

        it("has one check a host, the control plane's with kubeadm's ports and the NodePorts", () => {
            assert.deepStrictEqual(
                plan.checks.map((c) => c.host.name),
                ["cp1", "worker1", "worker2", "nfs1"],
            );
            assert.deepStrictEqual(
                checkOf(plan, "cp1").ports.map((p) => p.port),
                [6443, 2379, 2380, 10257, 10259, 10250, 30080, 30443],
            );
            assert.deepStrictEqual(
                checkOf(plan, "worker1").ports.map((p) => p.port),
                [10250, 30080, 30443],
            );
        });

        it("follows the configured API server port and NodePorts, and drops the NodePorts with the ingress off", () => {
            const custom = preflightPlan(lab({ kubernetes: { apiServerPort: 8443 }, addons: { ingress: { httpNodePort: 31080, httpsNodePort: 31443 }, logging: false, monitoring: false } }));
            assert.deepStrictEqual(
                checkOf(custom, "cp1").ports.map((p) => p.port),
                [8443, 2379, 2380, 10257, 10259, 10250, 31080, 31443],
            );
            const bare = preflightPlan(validateConfig(guideLab()));
            assert.deepStrictEqual(
                checkOf(bare, "worker1").ports.map((p) => p.port),
                [10250],
            );
        });

        it("gives the NFS-only host no ports, no mirrors and no node address, but its export's space", () => {
            const nfs = checkOf(plan, "nfs1");
            assert.deepStrictEqual(nfs.ports, []);
            assert.deepStrictEqual(nfs.mirrors, []);
            assert.match(nfs.script, /^NODE_IP=''$/m);
            assert.deepStrictEqual(
                nfs.disks.map((d) => [d.path, d.need]),
                [["/srv/nfs/k8s-lab", 10240 + 10240 + 1024]],
            );
        });

        it("asks the hosts that run workloads for the layers' image space, the control plane for its own", () => {
            assert.deepStrictEqual(checkOf(plan, "cp1").disks, [{ path: "/var/lib/containerd", need: 4096, what: "container images" }]);
            assert.strictEqual(checkOf(plan, "worker1").disks[0].need, 4096 + 3072 + 1024);
            const single = preflightPlan(lab({ hosts: [{ name: "solo", address: "10.0.0.2", roles: ["control-plane"] }] }));
            assert.strictEqual(checkOf(single, "solo").disks[0].need, 4096 + 3072 + 1024, "a single node runs the workloads");
        });

        it("renders scripts/preflight.sh with the host's parameters", () => {
            const cp = checkOf(plan, "cp1");
            assert.match(cp.script, /^PORTS='6443 2379 2380 10257 10259 10250 30080 30443'$/m);
            assert.match(cp.script, /^NODE_IP='192\.168\.56\.10'$/m);
            assert.match(cp.script, /^DISK_PATHS='\/var\/lib\/containerd'$/m);
            assert.match(cp.script, /^MIRROR_URLS='https:\/\/pkgs\.k8s\.io\/core:\/stable:\/v1\.\d+\/deb\/InRelease$/m);
            assert.ok(cp.script.includes("fact_mirrors()"), "the script itself is inlined");
            assert.ok(cp.script.includes("os_field()"), "lib.sh is inlined");
        });

        it("logs in as root without sudo, else with sudo -n and says when sudo refuses", () => {
            assert.strictEqual(remoteCommand("root"), "bash -s");
            assert.match(remoteCommand("ubuntu"), /sudo -n true .*sudo -n bash -s.*echo 'sudo fail'/);
            assert.strictEqual(checkOf(plan, "cp1").environment.K8S_LAB_PF_REMOTE, remoteCommand("ubuntu"));
        });

        it("carries the key only in the local command's environment: never in its command line or the script", () => {
            const cp = checkOf(plan, "cp1");
            assert.strictEqual(cp.environment.K8S_LAB_PF_KEY, testKey);
            const elsewhere = [localCommand, cp.script, cp.remote, ...Object.entries(cp.environment).filter(([k]) => !k.endsWith("_KEY")).map(([, v]) => v)];
            for (const text of elsewhere) assert.ok(!text.includes("TEST-ONLY-NOT-A-REAL-KEY"));
            assert.doesNotMatch(localCommand, /set -x|echo "\$K8S_LAB_PF_KEY"/);
        });

        it("pins the host key where the configuration gives one, also for the bastion", () => {
            const hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDk comment";
            const l2 = lab({
                hosts: [{ name: "cp1", address: "10.0.0.2", roles: ["control-plane"], port: 2222, hostKey }],
                ssh: { user: "ubuntu", privateKey: testKey, bastion: { address: "jump.example.com", hostKey, apiServerReachable: true } },
            });
            const env = checkOf(preflightPlan(l2), "cp1").environment;
            assert.strictEqual(env.K8S_LAB_PF_KNOWN_HOST, "[10.0.0.2]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDk");
            assert.strictEqual(env.K8S_LAB_PF_BASTION, "jump.example.com");
            assert.strictEqual(env.K8S_LAB_PF_BASTION_KNOWN_HOST, "jump.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDk");
            assert.strictEqual(env.K8S_LAB_PF_BASTION_KEY, testKey, "the bastion uses the hosts' key unless it has its own");
            assert.strictEqual(knownHostsLine("h", 22, "rsa-sha2-512 AAAAB3 x"), "h ssh-rsa AAAAB3");
            assert.strictEqual(knownHostsLine("h", 22, undefined), "");
        });

        it("is skipped, saying why, when SSH has a password only", () => {
            const p = preflightPlan(validateConfig(guideLab({ ssh: { user: "ubuntu", password: "pw" } })));
            assert.deepStrictEqual(p.checks, []);
            assert.match(p.skip ?? "", /preflight skipped: it logs in with an SSH key, and k8s-lab:ssh has a password only/);
            assert.ok(!(p.skip ?? "").includes("pw"));
        });

        describe("the mirrors each Kubernetes host must reach", () => {
            it("are the apt repository and its key, Docker's repository and the control-plane images' registry", () => {
                assert.deepStrictEqual(
                    mirrorChecks(l).map((m) => [m.url.replace(/v1\.\d+/, "v1.X"), m.kind]),
                    [
                        ["https://pkgs.k8s.io/core:/stable:/v1.X/deb/InRelease", "file"],
                        ["https://pkgs.k8s.io/core:/stable:/v1.X/deb/Release.key", "file"],
                        ["https://download.docker.com/linux/{os}/gpg", "file"],
                        ["https://registry.k8s.io/v2/", "registry"],
                    ],
                );
            });

            it("are the registry mirrors instead of a registry that has them; the layers' registry only with a layer on; no Docker repository with distro containerd", () => {
                const m = mirrorChecks(
                    lab({
                        kubernetes: { containerd: "distro", version: "1.35", imageRepository: "registry.example.cn/k8s" },
                        mirrors: { registries: { "registry.example.cn": ["https://m1.example.com/"] }, imageRegistry: "images.example.cn/mirror" },
                    }),
                );
                assert.deepStrictEqual(
                    m.slice(2).map((x) => [x.url, x.key]),
                    [
                        ["https://m1.example.com/v2/", "mirrors.registries"],
                        ["https://images.example.cn/v2/", "mirrors.imageRegistry"],
                    ],
                );
                const noLayers = mirrorChecks(validateConfig(guideLab({ mirrors: { imageRegistry: "images.example.cn/mirror" } })));
                assert.ok(!noLayers.some((x) => x.key === "mirrors.imageRegistry"));
            });
        });

        it("counts the claims the layers make on the NFS export", () => {
            assert.deepStrictEqual(nfsClaims(lab()), { need: 10240 + 10240 + 1024, what: ["Elasticsearch 10Gi", "Prometheus 10Gi", "Alertmanager 1Gi"] });
            assert.deepStrictEqual(nfsClaims(lab({ addons: { nfs: false, logging: { storageClassName: "local" }, monitoring: false } })), { need: 0, what: [] });
            assert.strictEqual(nfsClaims(lab({ addons: { nfs: {}, samples: {}, logging: { storageSize: "500Mi" }, monitoring: false } })).need, 500 + 100);
            assert.strictEqual(quantityMiB("10Gi"), 10240);
            assert.strictEqual(quantityMiB("1G"), 954);
            assert.strictEqual(quantityMiB("1.5Ti"), 1572864);
            assert.strictEqual(quantityMiB("1048576"), 1);
        });
    });

    describe("reading a host's answer", () => {
        const check = checkOf(preflightPlan(lab()), "cp1");

        it("reads every fact", () => {
            const r = parseReading(answer(check, { used: { 6443: "apache2" }, swap: "on" }));
            assert.strictEqual(r.login, "ok");
            assert.deepStrictEqual(r.facts.os, { id: "debian", version: "12" });
            assert.strictEqual(r.facts.apt, true);
            assert.strictEqual(r.facts.cgroup, "v2");
            assert.strictEqual(r.facts.swap, true);
            assert.strictEqual(r.facts.lab, false);
            assert.strictEqual(r.facts.ports.get(6443), "apache2");
            assert.strictEqual(r.facts.ports.get(10250), null);
            assert.deepStrictEqual(r.facts.nodeIp, { address: "192.168.56.10", state: "present" });
            assert.strictEqual(r.facts.clock, T + 0.25);
            assert.strictEqual(r.facts.memMiB, 16384);
            assert.strictEqual(r.facts.disks.get("/var/lib/containerd"), 100000);
            assert.strictEqual(r.facts.mirrors.get("https://registry.k8s.io/v2/"), "401");
            assert.strictEqual(r.localStart, T + 0.1);
            assert.strictEqual(r.localEnd, T + 0.4);
        });

        it("tells a refused login, a wrong host key and an unreachable host apart, from ssh's own words", () => {
            assert.strictEqual(classifySshFailure("ubuntu@10.0.0.2: Permission denied (publickey)."), "refused");
            assert.strictEqual(classifySshFailure("Host key verification failed."), "hostkey");
            assert.strictEqual(classifySshFailure("ssh: connect to host 10.0.0.2 port 22: Connection timed out"), "unreachable");
            assert.strictEqual(classifySshFailure("ssh: connect to host 10.0.0.2 port 22: Connection refused"), "unreachable");
            assert.strictEqual(classifySshFailure("ssh: connect to host 10.0.0.2 port 22: No route to host"), "unreachable");
            assert.strictEqual(classifySshFailure("ssh: Could not resolve hostname cp1.lab: Name or service not known"), "unreachable");
            assert.strictEqual(classifySshFailure("something else entirely"), "failed");
        });

        it("says how the login went: ok, sudo refused, ssh failed, the check failed, or no answer at all", () => {
            assert.strictEqual(parseReading(answer(check, { extra: ["sudo fail"] })).login, "sudo");
            const denied = parseReading(answer(check, { exit: 255, stderr: ["ubuntu@192.168.56.10: Permission denied (publickey)."] }));
            assert.deepStrictEqual([denied.login, denied.detail], ["refused", "ubuntu@192.168.56.10: Permission denied (publickey)."]);
            assert.strictEqual(parseReading("local-start 1\nlocal-end 11\nssh-exit 255\nssh-stderr ssh: connect to host x port 22: Connection timed out").login, "unreachable");
            assert.strictEqual(parseReading("ssh-exit 124").login, "unreachable");
            const failed = parseReading("ssh-exit 127\nssh-stderr bash: command not found");
            assert.deepStrictEqual([failed.login, failed.detail], ["failed", "the check exited 127: bash: command not found"]);
            assert.strictEqual(parseReading(undefined).login, "none");
            assert.strictEqual(parseReading("").login, "none");
            assert.deepStrictEqual(
                [parseReading("local-error ssh is not installed on this machine").login, parseReading("local-error ssh is not installed on this machine").detail],
                ["none", "ssh is not installed on this machine"],
            );
        });
    });

    describe("the rules", () => {
        it("finds nothing wrong with healthy hosts", () => {
            assert.deepStrictEqual(problems(lab()), []);
        });

        it("SSH login refused", () => {
            const p = onlyProblem(lab(), { worker1: answer(checkOf(preflightPlan(lab()), "worker1"), { exit: 255, stderr: ["ubuntu@192.168.56.11: Permission denied (publickey)."] }) }, /^host worker1: SSH login as ubuntu was refused/);
            assert.match(p, /authorise the lab's public key for ubuntu/);
        });

        it("a host key other than the configured one", () => {
            onlyProblem(lab(), { cp1: "ssh-exit 255\nssh-stderr Host key verification failed." }, /^host cp1: 192\.168\.56\.10 presents another SSH host key .*k8s-lab:hosts\[0\]\.hostKey/);
        });

        it("sudo not passwordless", () => {
            onlyProblem(lab(), { worker2: answer(checkOf(preflightPlan(lab()), "worker2"), { extra: ["sudo fail"] }) }, /^host worker2: ubuntu cannot run sudo without a password.*NOPASSWD/);
        });

        it("the check itself failing", () => {
            onlyProblem(lab(), { cp1: "ssh-exit 1\nssh-stderr df: oops" }, /^host cp1: the check over SSH failed \(the check exited 1: df: oops\)/);
        });

        it("an unsupported system, or one without apt", () => {
            onlyProblem(lab(), { nfs1: { os: "fedora 40", apt: "no" } }, /^host nfs1: runs fedora 40 without apt-get, which the lab does not support; install Debian 12\/13 or Ubuntu/);
            onlyProblem(lab(), { cp1: { os: "debian 11" } }, /^host cp1: runs debian 11, which the lab does not support/);
            onlyProblem(lab(), { cp1: { os: "unknown -" } }, /^host cp1: runs a system without \/etc\/os-release/);
            for (const system of supportedSystems) assert.deepStrictEqual(problems(lab(), { cp1: { os: system } }), [], system);
        });

        it("lists the systems lib.sh's check_os accepts", () => {
            const lib = fs.readFileSync(path.join(scriptsDir, "lib.sh"), "utf8");
            const accepted = /case "\$id:\$version" in\n\s*([^)]+)\)/.exec(lib)?.[1].split("|").map((s) => s.trim().replace(":", " "));
            assert.deepStrictEqual([...(accepted ?? [])].sort(), [...supportedSystems].sort());
        });

        it("cgroup v1 on a Kubernetes host, with both ways out: cgroup v2, or the settings that run the lab on v1", () => {
            onlyProblem(
                lab(),
                { worker1: { cgroup: "v1" } },
                /^host worker1: runs cgroup v1, which kubelet refuses from Kubernetes 1\.35 \(failCgroupV1\); boot it with cgroup v2 .*, or, on a host that cannot have it \(a container such as systemd-nspawn .*\), run the lab on cgroup v1: set k8s-lab:kubernetes\.kubeletConfiguration\.failCgroupV1 to false and add SystemVerification to k8s-lab:kubernetes\.ignorePreflightErrors$/,
            );
            assert.deepStrictEqual(problems(lab(), { nfs1: { cgroup: "v1" } }), [], "the NFS-only host runs no kubelet");
        });

        it("cgroup v1 accepted once both settings say so, and only then", () => {
            const onV1 = (kubernetes: Record<string, unknown>) => lab({ kubernetes });
            const kubelet = { kubeletConfiguration: { failCgroupV1: false } };
            const kubeadm = { ignorePreflightErrors: ["Swap", "SystemVerification"] };
            const half = onlyProblem(onV1(kubelet), { worker1: { cgroup: "v1" } }, /run the lab on cgroup v1: add SystemVerification to k8s-lab:kubernetes\.ignorePreflightErrors$/);
            assert.doesNotMatch(half, /failCgroupV1 to false/, "only what is missing");
            onlyProblem(onV1({ ...kubeadm, kubeletConfiguration: { failCgroupV1: true } }), { worker1: { cgroup: "v1" } }, /run the lab on cgroup v1: set k8s-lab:kubernetes\.kubeletConfiguration\.failCgroupV1 to false$/);
            const f = findings(onV1({ ...kubelet, ...kubeadm }), { worker1: { cgroup: "v1" } });
            assert.deepStrictEqual(f.problems, []);
            assert.match(f.notes.join("\n"), /^host worker1: runs cgroup v1, which the lab's kubeletConfiguration \(failCgroupV1: false\) and ignorePreflightErrors \(SystemVerification\) accept/m);
            assert.deepStrictEqual(findings(onV1({ ...kubelet, ...kubeadm })).notes, [], "no note on cgroup v2 hosts");
        });

        it("a port in use on a host the lab has not run on yet", () => {
            onlyProblem(lab(), { cp1: { used: { 6443: "apache2" } } }, /^host cp1: port 6443, which the API server needs, is in use by apache2; stop that service .*k8s-lab:kubernetes\.apiServerPort/);
            onlyProblem(lab(), { worker2: { used: { 30080: "-" } } }, /^host worker2: port 30080, which the ingress's HTTP NodePort needs, is in use by another process.*k8s-lab:addons\.ingress\.httpNodePort/);
            const etcd = onlyProblem(lab(), { cp1: { used: { 2379: "etcd" } } }, /port 2379, which etcd \(clients\) needs/);
            assert.doesNotMatch(etcd, /k8s-lab:/, "no setting moves etcd");
            assert.deepStrictEqual(problems(lab(), { cp1: { lab: "present", used: { 6443: "kube-apiserver", 10250: "kubelet" } } }), [], "the lab's own cluster holds them");
        });

        it("the node address on none of the host's interfaces", () => {
            onlyProblem(lab(), { worker1: { nodeip: "absent" } }, /^host worker1: its configured address 192\.168\.56\.11 is on none of its interfaces .*k8s-lab:hosts\[1\]\.address/);
        });

        it("a virtual IP some machine has already, on a lab not yet built; the lab's own kube-vip holding it later is no problem", () => {
            const ha = validateConfig(
                guideLab({
                    hosts: [
                        { name: "cp1", address: "192.168.56.10", roles: ["control-plane"] },
                        { name: "cp2", address: "192.168.56.20", roles: ["control-plane"] },
                        { name: "cp3", address: "192.168.56.30", roles: ["control-plane"] },
                    ],
                    controlPlane: { vip: "192.168.56.9" },
                }),
            );
            const plan = preflightPlan(ha);
            assert.deepStrictEqual(
                plan.checks.map((c) => c.vip),
                ["192.168.56.9", undefined, undefined],
                "the first control plane, which takes it at init, looks",
            );
            assert.match(checkOf(plan, "cp1").script, /^VIP='192\.168\.56\.9'$/m);
            assert.match(checkOf(plan, "cp2").script, /^VIP=''$/m);
            assert.match(checkOf(plan, "cp1").script, /^VIP_PORT='6443'$/m);
            onlyProblem(ha, { cp1: { vip: "answers" } }, /^host cp1: the virtual IP 192\.168\.56\.9 answers on the network before the lab has run .*another machine has it; pick an address .* for k8s-lab:controlPlane\.vip/);
            onlyProblem(ha, { cp1: { vip: "held" } }, /^host cp1: already has the virtual IP 192\.168\.56\.9 on one of its interfaces .*; remove it from the host's network configuration, or pick an address/);
            assert.deepStrictEqual(problems(ha, { cp1: { vip: "held", lab: "present" } }), [], "kube-vip holds it once the lab has run");
            assert.deepStrictEqual(problems(ha, { cp1: { vip: "answers", lab: "present" } }), []);
            assert.deepStrictEqual(problems(ha), [], "silent: free");
            assert.match(findings(ha, { cp1: { vip: "unknown" } }).notes.join("\n"), /host cp1: has no ip command, so the virtual IP 192\.168\.56\.9 was not checked/);
            assert.ok(
                preflightPlan(lab()).checks.every((c) => c.vip === undefined && /^VIP=''$/m.test(c.script)),
                "no virtual IP, nothing to look for",
            );
        });

        it("clocks apart by more than a few seconds, allowing for the SSH round trips", () => {
            onlyProblem(lab(), { worker2: { clock: T + 42 } }, /^host worker2: its clock is 42 s ahead of cp1's \(more than 5 s\); turn on time synchronisation/);
            onlyProblem(lab(), { worker2: { clock: T - 30 } }, /its clock is 30 s behind cp1's/);
            assert.deepStrictEqual(problems(lab(), { worker2: { clock: T + 4 } }), [], "within the limit");
            // A login that took 10 s leaves 5 s either way unknown: 9 s apart may be 4.
            assert.deepStrictEqual(problems(lab(), { worker2: { clock: T + 9, start: T - 5, end: T + 5 } }), [], "within the round trip's slack");
            assert.deepStrictEqual(problems(lab(), { cp1: "ssh-exit 255\nssh-stderr Connection timed out", worker2: { clock: T + 42 } }).length, 1, "another host is the reference when the control plane is not checked");
        });

        it("a mirror not answering, a repository file missing; a registry's 401 is an answer", () => {
            const l = lab();
            onlyProblem(l, { worker1: { mirror: { "https://registry.k8s.io/v2/": "fail" } } }, /^host worker1: the registry of the control-plane images \(https:\/\/registry\.k8s\.io\/v2\/\) does not answer .*k8s-lab:kubernetes\.imageRepository/);
            onlyProblem(l, { cp1: { mirror: { "https://download.docker.com/linux/debian/gpg": "404" } } }, /^host cp1: Docker's apt repository \(containerd\.io\) \(https:\/\/download\.docker\.com\/linux\/debian\/gpg\) answers HTTP 404 .*k8s-lab:mirrors\.containerdApt/);
            const apt = mirrorChecks(l)[0].url;
            onlyProblem(l, { cp1: { mirror: { [apt]: "503" } } }, /the Kubernetes apt repository .* answers HTTP 503/);
            assert.deepStrictEqual(problems(l, { cp1: { mirror: { "https://registry.k8s.io/v2/": "401" } } }), []);
            assert.deepStrictEqual(problems(l, { cp1: { mirror: { [apt]: "unchecked" } } }), [], "without curl or wget: a note, not a problem");
            assert.match(findings(l, { cp1: { mirror: { [apt]: "unchecked" } } }).notes.join("\n"), /host cp1: has neither curl nor wget/);
        });

        it("too little memory for a node", () => {
            onlyProblem(lab({ addons: { logging: false, monitoring: false } }), { cp1: { mem: 1500 } }, /^host cp1: 1\.5 GiB of memory, less than the 1700 MiB kubeadm requires of a node; give it 2 GiB or more/);
        });

        it("no host that runs workloads with room for Elasticsearch", () => {
            const l = lab({ addons: { monitoring: false } });
            const p = onlyProblem(l, { worker1: { mem: 3500 }, worker2: { mem: 3600 } }, /^host worker2: the largest host that runs workloads has 3\.5 GiB of memory, and Elasticsearch asks for 2 GiB on one node/);
            assert.match(p, /turn logging off \(k8s-lab:addons\.logging: false\)/);
            assert.deepStrictEqual(problems(l, { worker1: { mem: 3500 }, worker2: { mem: requirements.memoryPerHost + requirements.elasticsearchPod } }), []);
            assert.deepStrictEqual(problems(lab({ addons: { logging: false, monitoring: false } }), { worker1: { mem: 2048 }, worker2: { mem: 2048 } }), [], "without logging 2 GiB nodes do");
            assert.deepStrictEqual(problems(l, { worker1: { mem: 2048 }, worker2: "ssh-exit 255\nssh-stderr Connection refused" }), [], "not judged while a host that runs workloads did not answer");
        });

        it("too little memory on the hosts that run workloads for the layers on together", () => {
            // Room for Elasticsearch on worker2, but logging and monitoring need 4 GiB beyond the nodes' own.
            onlyProblem(lab(), { worker1: { mem: 2000 }, worker2: { mem: 4000 } }, /^hosts worker1, worker2: 2.5 GiB of memory beyond what the nodes need themselves, and the layers on need about 4 GiB \(logging 3 GiB, monitoring 1 GiB\)/);
        });

        it("too little disk for the images, and for the NFS export's claims", () => {
            onlyProblem(lab(), { cp1: { disk: { "/var/lib/containerd": 3000 } } }, /^host cp1: 2\.9 GiB free for \/var\/lib\/containerd, and container images need about 4 GiB; free space or grow that file system/);
            onlyProblem(lab(), { worker1: { disk: { "/var/lib/containerd": 6000 } } }, /^host worker1: .* container images \(with the logging and monitoring layers\) need about 8 GiB/);
            onlyProblem(lab(), { nfs1: { disk: { "/srv/nfs/k8s-lab": 5000 } } }, /^host nfs1: 4\.9 GiB free for \/srv\/nfs\/k8s-lab, and the NFS export's claims \(Elasticsearch 10Gi, Prometheus 10Gi, Alertmanager 1Gi\) need about 21 GiB.*k8s-lab:addons\.nfs\.exportPath/);
        });

        it("unreachable hosts are skipped, with the reason, and are no problem", () => {
            const f = findings(lab(), { worker2: "local-start 1\nlocal-end 11\nssh-exit 255\nssh-stderr ssh: connect to host 192.168.56.12 port 22: Connection timed out" });
            assert.deepStrictEqual(f.problems, []);
            assert.deepStrictEqual(f.skipped, ["host worker2: not checked: unreachable over SSH (ssh: connect to host 192.168.56.12 port 22: Connection timed out)"]);
            assert.strictEqual(f.checked, 3);
        });

        it("swap on is a note: host preparation turns it off", () => {
            const f = findings(lab(), { cp1: { swap: "on" } });
            assert.deepStrictEqual(f.problems, []);
            assert.deepStrictEqual(f.notes, ["host cp1: swap is on; host preparation turns it off (and destroy turns it back on)"]);
        });
    });

    describe("what the preview says", () => {
        it("fails with one message that lists every problem, each with its fix, and how to turn the checks off", () => {
            const f = findings(lab(), { cp1: { used: { 6443: "apache2" } }, worker1: { cgroup: "v1" } });
            const o = preflightOutcome(f, 4);
            assert.match(o.error ?? "", /^Preflight found 2 problems on the hosts; nothing was changed:\n {2}- host cp1: port 6443.*\n {2}- host worker1: runs cgroup v1.*\nFix them and preview again, or turn the checks off with `pulumi config set k8s-lab:preflight false`\.$/);
        });

        it("succeeds, saying preflight was skipped and why, when no host answers", () => {
            const plan = preflightPlan(lab());
            const f = judge(lab(), plan, plan.checks.map(() => parseReading("ssh-exit 255\nssh-stderr ssh: connect to host x port 22: No route to host")));
            const o = preflightOutcome(f, 4);
            assert.strictEqual(o.error, undefined);
            assert.strictEqual(o.warnings.length, 1);
            assert.match(o.warnings[0], /^preflight skipped: none of the 4 hosts answered over SSH, so nothing was checked .*\n {2}- host cp1: not checked: unreachable over SSH \(ssh: connect to host x port 22: No route to host\)/);
        });

        it("says how many hosts it checked when all is well, and warns of each host it skipped", () => {
            const o = preflightOutcome(findings(lab(), { nfs1: "ssh-exit 255\nssh-stderr Connection refused" }), 4);
            assert.strictEqual(o.error, undefined);
            assert.deepStrictEqual(o.warnings, ["preflight: host nfs1: not checked: unreachable over SSH (Connection refused)"]);
            assert.deepStrictEqual(o.infos, ["preflight: 3 of 4 hosts checked, no problems"]);
        });
    });

    describe("scripts/preflight.sh, run here", function () {
        this.timeout(60000);
        const script = fs.readFileSync(path.join(scriptsDir, "preflight.sh"), "utf8");

        it("uses no command that changes a host", () => {
            const code = script
                .split("\n")
                .filter((l) => !/^\s*#/.test(l))
                .join("\n");
            const changing = [
                /apt-get (update|install|upgrade|remove|purge)/,
                /\b(apt_quiet|install_packages|write_if_changed|backup_file|mkdir|mktemp|touch|chmod|chown|tee|systemctl|sysctl|modprobe|swapoff|swapon -a|dpkg --configure)\b/,
                /\b(rm|mv|cp|ln|install) /,
                /sed -i/,
            ];
            for (const pattern of changing) assert.doesNotMatch(code, pattern);
            const redirections = [...code.matchAll(/[0-9&]?>>?\s*("[^"]*"|[^\s;)]+)/g)].map((m) => m[1]).filter((t) => t !== "/dev/null" && t !== "&1");
            // A socket to the virtual IP is a connection, not a file.
            assert.deepStrictEqual(redirections, ['"/dev/tcp/$1/$2"'], "writes only to /dev/null, and opens the one TCP connection");
            assert.match(script, /curl -q .*-o \/dev\/null/, "curl reads no .curlrc and writes no file");
            assert.match(script, /wget --no-hsts .*--spider/, "wget keeps no HSTS database and saves nothing");
        });

        it("answers through the local command (a stand-in ssh runs the login's command here), and the answer reads as facts", () => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "k8s-lab-preflight-"));
            const tmp = path.join(dir, "tmp");
            fs.mkdirSync(tmp);
            try {
                // The stand-in ssh runs its last argument, the login's command, with bash here.
                fs.writeFileSync(path.join(dir, "ssh"), '#!/usr/bin/env bash\nfor a in "$@"; do last="$a"; done\nexec bash -c "$last"\n', { mode: 0o755 });
                const l = validateConfig(guideLab({ ssh: { user: "root", privateKey: testKey }, hosts: [{ name: "solo", address: "127.0.0.1", roles: ["control-plane"] }] }));
                const check = preflightPlan(l).checks[0];
                // No mirrors: the test must not depend on this machine's network.
                const offline = check.script.replace(/^MIRROR_URLS='[^']*'$/m, "MIRROR_URLS=''");
                const r = spawnSync("bash", ["-c", localCommand], {
                    input: offline,
                    encoding: "utf8",
                    env: { ...process.env, ...check.environment, PATH: `${dir}:${process.env.PATH}`, TMPDIR: tmp },
                });
                assert.strictEqual(r.status, 0, r.stderr);
                const reading = parseReading(r.stdout);
                assert.strictEqual(reading.login, "ok", r.stdout);
                assert.ok(reading.facts.os?.id, "os");
                assert.ok(["v1", "v2", "unknown"].includes(reading.facts.cgroup ?? ""), "cgroup");
                assert.deepStrictEqual([...reading.facts.ports.keys()], [6443, 2379, 2380, 10257, 10259, 10250]);
                assert.deepStrictEqual(reading.facts.nodeIp, { address: "127.0.0.1", state: "present" });
                assert.ok((reading.facts.memMiB ?? 0) > 0, "mem");
                assert.ok(reading.facts.disks.has("/var/lib/containerd"), "disk");
                assert.ok(Math.abs((reading.facts.clock ?? 0) - Date.now() / 1000) < 60, "clock");
                assert.ok((reading.localEnd ?? 0) >= (reading.localStart ?? Infinity), "local times");
                assert.ok(!r.stdout.includes("TEST-ONLY-NOT-A-REAL-KEY"), "the key never reaches the output");
                assert.deepStrictEqual(fs.readdirSync(tmp), [], "the local command leaves nothing behind, its key file least of all");
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });

        it("says so when this machine has no ssh", () => {
            const r = spawnSync("/bin/bash", ["-c", localCommand], { input: "", encoding: "utf8", env: { PATH: "/nonexistent" } });
            assert.strictEqual(r.status, 0);
            assert.strictEqual(parseReading(r.stdout).detail, "ssh is not installed on this machine");
        });
    });
});

/**
 * Tier 3, preflight: scripts/preflight.sh on the real test hosts, over real SSH, as the
 * program runs it at preview (components/lib/preflight.ts, components/lib/preflightRun.ts). It must
 * answer every fact and change nothing: the spec compares a fingerprint of each host (files
 * under /etc, /usr, /var/lib, /srv, /opt, /root, /home, /tmp, with size, mode and modification
 * time; packages and holds; unit files; swap; the kernel settings the lab sets) before and
 * after. Runs after hosts.spec.ts, on the hosts as that spec leaves them; needs nothing of it.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import { judge, localCommand, parseReading, preflightOutcome, preflightPlan, remoteCommand } from "../../components/lib/preflight";
import { validateConfig } from "../../components/lib/config";
import { hosts, keyFile, root, ssh, testConfig, TestHost } from "./lab";

const { cp1, worker1, worker2 } = hosts;

const config = testConfig();
const plan = preflightPlan(config);
const all = Object.values(hosts);

/** Everything preflight could have changed, as text to compare. Login records (/var/log, /run, sudo's timestamps) are left out. */
function fingerprint(host: TestHost): Promise<string> {
    const prune = ["/var/lib/systemd", "/var/lib/dhcp", "/var/lib/sudo", "/var/lib/private", "/var/lib/containerd", "/var/lib/kubelet"].map((p) => `-path ${p}`).join(" -o ");
    return root(
        host,
        `find /etc /usr /opt /srv /root /home /var/lib /tmp /var/tmp -xdev \\( ${prune} \\) -prune -o -printf '%p %y %s %m %T@\\n' 2>/dev/null | sort; ` +
            "dpkg-query -W -f='${Package} ${Version} ${Status}\\n' | sort; apt-mark showhold; " +
            "systemctl list-unit-files --no-legend --no-pager | sort; cat /proc/swaps; " +
            "cat /proc/sys/net/ipv4/ip_forward /proc/sys/vm/max_map_count; cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null || true",
    );
}

function checkOf(host: TestHost) {
    const check = plan.checks.find((c) => c.host.address === host.address);
    if (!check) throw new Error(`no check for ${host.name}`);
    return check;
}

describe("preflight on real hosts", function () {
    this.timeout(300000);

    it("answers every fact as the lab's login (sudo -n bash -s), and changes nothing on any host", async () => {
        const before = await Promise.all(all.map(fingerprint));
        const results = await Promise.all(all.map((h) => ssh(h, remoteCommand("lab"), checkOf(h).script)));
        const after = await Promise.all(all.map(fingerprint));
        for (const [i, h] of all.entries()) {
            const r = results[i];
            assert.strictEqual(r.code, 0, `${h.name}: exited ${r.code}\n${r.stderr}`);
            const reading = parseReading(`${r.stdout}\nssh-exit 0`);
            const f = reading.facts;
            assert.deepStrictEqual(f.os, { id: "debian", version: "12" }, h.name);
            assert.strictEqual(f.apt, true, h.name);
            assert.ok(["v1", "v2"].includes(f.cgroup ?? ""), `${h.name}: cgroup ${f.cgroup}`);
            assert.strictEqual(typeof f.swap, "boolean", h.name);
            assert.strictEqual(f.lab, await holdsDir(h, "/var/lib/k8s-lab"), `${h.name}: lab present exactly when /var/lib/k8s-lab is`);
            assert.deepStrictEqual([...f.ports.keys()], checkOf(h).ports.map((p) => p.port), h.name);
            if (checkOf(h).kubernetes) assert.deepStrictEqual(f.nodeIp, { address: h.address, state: "present" }, h.name);
            assert.ok(Math.abs((f.clock ?? 0) - Date.now() / 1000) < 30, `${h.name}: clock ${f.clock}`);
            assert.ok((f.memMiB ?? 0) > 0, h.name);
            for (const d of checkOf(h).disks) assert.ok(f.disks.get(d.path) !== undefined, `${h.name}: disk ${d.path}`);
            for (const m of checkOf(h).mirrors) assert.ok(f.mirrors.has(m.url.replace("{os}", "debian")), `${h.name}: mirror ${m.url}`);
            assert.strictEqual(after[i], before[i], `${h.name}: preflight changed the host`);
        }
        console.log(`      preflight took ${Math.max(...results.map((r) => r.seconds)).toFixed(1)} s on ${all.length} hosts at once`);
    });

    it("runs through the program's own local command (ssh with the lab's key) and is judged; a host that is not up is skipped, not a problem", async () => {
        // The same lab with one more host that is not up: 10.213.0.99 answers nothing.
        const lab = validateConfig({
            hosts: [...config.hosts.map((h) => ({ name: h.name, address: h.address, roles: h.roles })), { name: "ghost", address: "10.213.0.99", roles: ["worker"] }],
            ssh: { user: "lab", privateKeyPath: keyFile },
            kubernetes: { version: "1.35", containerd: "distro" },
            mirrors: { kubernetesApt: config.mirrors.kubernetesApt, registries: config.mirrors.registries },
            addons: { calico: false, ingress: false, nfs: false, logging: false, monitoring: false },
        });
        const p = preflightPlan(lab);
        const started = Date.now();
        const readings = await Promise.all(
            p.checks.map(async (c) => {
                const r = spawnSync("bash", ["-c", localCommand], { input: c.script, encoding: "utf8", env: { ...process.env, ...c.environment }, timeout: 180000 });
                assert.strictEqual(r.status, 0, r.stderr);
                return parseReading(r.stdout);
            }),
        );
        const seconds = (Date.now() - started) / 1000;
        for (const [i, c] of p.checks.entries()) {
            assert.strictEqual(readings[i].login, c.host.name === "ghost" ? "unreachable" : "ok", `${c.host.name}: ${readings[i].detail}`);
        }
        const findings = judge(lab, p, readings);
        assert.deepStrictEqual(findings.skipped.length, 1);
        assert.match(findings.skipped[0], /^host ghost: not checked: unreachable over SSH/);
        // The test hosts reach only the bridge: the registry mirror and registry.k8s.io do not
        // answer. They share this machine's kernel, so they run its cgroup hierarchy, which
        // preflight must report when it is v1.
        const cgroupV1 = spawnSync("stat", ["-fc", "%T", "/sys/fs/cgroup"], { encoding: "utf8" }).stdout.trim() === "tmpfs";
        for (const problem of findings.problems) assert.match(problem, cgroupV1 ? /does not answer|answers HTTP|runs cgroup v1/ : /does not answer|answers HTTP/, problem);
        const flagged = findings.problems.filter((pr) => /runs cgroup v1/.test(pr)).map((pr) => pr.split(":")[0]);
        assert.deepStrictEqual(flagged.sort(), cgroupV1 ? p.checks.filter((c) => c.host.name !== "ghost" && c.kubernetes).map((c) => `host ${c.host.name}`).sort() : []);
        const outcome = preflightOutcome(findings, p.checks.length);
        console.log(`      judged in ${seconds.toFixed(1)} s: ${findings.problems.length} problems, ${outcome.warnings.length} warnings`);
        for (const line of [...findings.problems, ...outcome.warnings, ...outcome.infos]) console.log(`        ${line.split("\n")[0]}`);
    });

    it("finds a virtual IP another machine answers at, and not one nobody has", async () => {
        // Three of the test hosts as control planes behind a virtual IP; only cp1 looks for it.
        const ha = validateConfig({
            hosts: [cp1, worker1, worker2].map((h) => ({ name: h.name, address: h.address, roles: ["control-plane"] })),
            controlPlane: { vip: "10.213.0.98" },
            ssh: { user: "lab", privateKeyPath: keyFile },
            kubernetes: { version: "1.35", containerd: "distro" },
            mirrors: { kubernetesApt: config.mirrors.kubernetesApt },
            addons: { calico: false, ingress: false, nfs: false, logging: false, monitoring: false },
        });
        const check = preflightPlan(ha).checks[0];
        assert.strictEqual(check.vip, "10.213.0.98");
        const probe = async (vip: string) => {
            const started = Date.now();
            const r = await ssh(cp1, remoteCommand("lab"), check.script.replace(/^VIP='[^']*'$/m, `VIP='${vip}'`));
            assert.strictEqual(r.code, 0, r.stderr);
            return { vip: parseReading(`${r.stdout}\nssh-exit 0`).facts.vip, seconds: (Date.now() - started) / 1000 };
        };
        // Nobody has 10.213.0.98: its ARP resolution fails. This machine has the bridge's
        // 10.213.0.1, where nothing listens on 6443: it refuses, so it answers.
        const free = await probe("10.213.0.98");
        const taken = await probe("10.213.0.1");
        assert.deepStrictEqual(free.vip, { address: "10.213.0.98", state: "silent" });
        assert.deepStrictEqual(taken.vip, { address: "10.213.0.1", state: "answers" });
        console.log(`      a free address took ${free.seconds.toFixed(1)} s to rule out, a taken one ${taken.seconds.toFixed(1)} s`);
    });
});

async function holdsDir(host: TestHost, dir: string): Promise<boolean> {
    return (await root(host, `[ -d ${dir} ] && echo yes || echo no`)).trim() === "yes";
}

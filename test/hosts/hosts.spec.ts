/**
 * Tier 3: the program's rendered scripts on real Debian 12 machines (systemd-nspawn), over
 * real SSH, as `lab` with sudo. Started by test/hosts/run.sh, which boots the machines,
 * publishes the stand-in Kubernetes packages in a signed apt repository on the bridge, and
 * tears everything down afterwards. The steps build on each other, so mocha bails on the
 * first failure.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { backupLab, restoreLab, SnapshotDeps, spawnSsh } from "../../cli/snapshot";
import { asRoot } from "../../components/lib/render";
import { certificatesScript, hostPrepScript, nfsServerScript, workerScript } from "../../components/lib/scripts";
import { joinTokenTtl } from "../../components/cluster/workerNode";
import { controlPlaneStep, elapsed, fingerprint, holds, hosts, repoUrl, root, ssh, stackStandIn, step, testConfig, testRawConfig, testVersion, TestHost } from "./lab";

const config = testConfig();
/** Each host's preparation, as the program renders it: the same but for its node address. */
const prep = (h: TestHost) => hostPrepScript(config.kubernetes, config.mirrors, h.address);
const init = controlPlaneStep(config);
const { cp1, worker1, worker2, solo } = hosts;
const figures: Record<string, number> = {};

function ok(r: { code: number; stdout: string; stderr: string }, what: string): void {
    assert.strictEqual(r.code, 0, `${what} exited ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
}

/** The admin kubeconfig, as the program reads it back after init. */
async function adminKubeconfig(): Promise<string> {
    const r = await ssh(cp1, asRoot("lab", "cat /etc/kubernetes/admin.conf"));
    ok(r, "read kubeconfig");
    return r.stdout;
}

/** A worker's join step, as the program renders it; `ttl` shortens its token's life. */
async function worker(host: TestHost, ttl = joinTokenTtl): Promise<string> {
    return workerScript({ nodeName: host.name, kubernetes: config.kubernetes, joinTokenTtl: ttl, adminKubeconfig: await adminKubeconfig() });
}

async function join(host: TestHost, ttl = joinTokenTtl): Promise<void> {
    const r = await step(host, await worker(host, ttl), "apply");
    ok(r, `join ${host.name}`);
    assert.ok(!/[a-z0-9]{6}\.[a-z0-9]{16}/.test(r.stdout + r.stderr), "the token never reaches the log");
    assert.match(r.stderr, new RegExp(`node ${host.name} registered`));
}

const apiLog = () => root(cp1, "cat /var/log/standin-apiserver.log");

describe("real hosts", function () {
    this.bail(true);

    before(async () => {
        // Each host starts with what a real one has: a swap entry, and a firewall of its own.
        await Promise.all(
            Object.values(hosts).map((h) =>
                root(
                    h,
                    "printf '/swapfile none swap sw 0 0\\n' >>/etc/fstab && DEBIAN_FRONTEND=noninteractive apt-get install -y -q iptables nftables >/dev/null 2>&1 && " +
                        "iptables -N HOST-SSH && iptables -A HOST-SSH -p tcp --dport 22 -j ACCEPT && iptables -A INPUT -j HOST-SSH && iptables -P FORWARD DROP && " +
                        "nft add table inet hostfw && nft 'add chain inet hostfw input { type filter hook input priority 10; policy accept; }' && nft add rule inet hostfw input tcp dport 22 accept",
                ),
            ),
        );
    });

    after(() => {
        const line = Object.entries(figures).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(", ");
        console.log(`      figures: ${line}`);
    });

    describe("1. host preparation", () => {
        it("prepares one host", async () => {
            const r = await step(solo, prep(solo), "apply");
            ok(r, "prep solo");
            figures["prepare 1 host"] = r.seconds;
        });

        it("prepares three hosts at once", async () => {
            const results = await Promise.all([cp1, worker1, worker2].map((h) => step(h, prep(h), "apply")));
            results.forEach((r, i) => ok(r, `prep ${[cp1, worker1, worker2][i].name}`));
            figures["prepare 3 hosts in parallel"] = elapsed(results);
        });

        for (const h of [cp1, worker1, worker2, solo]) {
            it(`leaves ${h.name} prepared: swap, kernel, containerd, packages`, async () => {
                assert.strictEqual(await root(h, "swapon --noheadings --show"), "", "swap is off");
                assert.ok(await holds(h, "! grep -Eq '^[^#].*[[:space:]]swap[[:space:]]' /etc/fstab"), "no active swap entry in fstab");
                assert.ok(await holds(h, "grep -q '^#k8s-lab-swap# /swapfile' /etc/fstab"), "the swap entry is commented, not lost");
                assert.strictEqual((await root(h, "systemctl is-enabled swap.target || true")).trim(), "masked");
                assert.strictEqual(await root(h, "cat /etc/modules-load.d/k8s-lab.conf"), "overlay\nbr_netfilter\n");
                assert.strictEqual(
                    await root(h, "sysctl -n net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables vm.max_map_count"),
                    "1\n1\n1\n262144\n",
                );
                assert.ok(await holds(h, "grep -q 'vm.max_map_count = 262144' /etc/sysctl.d/99-k8s-lab.conf"), "sysctls persisted");
                assert.strictEqual((await root(h, "systemctl is-active containerd")).trim(), "active");
                const dump = await root(h, "containerd config dump");
                assert.match(dump, /SystemdCgroup = true/);
                assert.match(dump, /sandbox_image = "registry\.k8s\.io\/pause:3\.10\.1"/, "the pause image kubeadm names");
                assert.match(dump, /config_path = "\/etc\/containerd\/certs\.d"/);
                assert.match(await root(h, "cat /etc/containerd/certs.d/docker.io/hosts.toml"), /\[host\."https:\/\/mirror\.k8s-lab\.invalid"\]/);
                assert.strictEqual(await root(h, "dpkg-query -W -f='${Version}\\n' kubelet kubeadm kubectl"), `${testVersion}-1.1\n`.repeat(3));
                assert.strictEqual(await root(h, "apt-mark showhold"), "kubeadm\nkubectl\nkubelet\n");
                assert.ok(await holds(h, "dpkg-query -W -f='${Status}' nfs-common | grep -q 'install ok installed'"), "nfs-common");
                assert.strictEqual((await root(h, "systemctl is-enabled kubelet")).trim(), "enabled");
                assert.match(await root(h, "cat /etc/default/kubelet"), new RegExp(`^KUBELET_EXTRA_ARGS=--node-ip=${h.address.replace(/\./g, "\\.")}$`, "m"), "kubelet registers the lab's address");
            });
        }
    });

    describe("2. the same preparation again", () => {
        it("exits 0 and changes nothing", async () => {
            const before = await Promise.all([cp1, worker1, worker2].map((h) => fingerprint(h, true)));
            const results = await Promise.all([cp1, worker1, worker2].map((h) => step(h, prep(h), "apply")));
            results.forEach((r) => ok(r, "prep again"));
            const after = await Promise.all([cp1, worker1, worker2].map((h) => fingerprint(h, true)));
            assert.deepStrictEqual(after, before, "files (content and times), packages, holds and units are as they were");
            figures["no-op rerun (3 hosts)"] = elapsed(results);
        });
    });

    describe("3. kubeadm", () => {
        it("initialises the control plane and reads the kubeconfig back", async () => {
            ok(await step(cp1, init, "apply"), "init");
            assert.match(await root(cp1, "cat /var/log/kubeadm-standin.log"), /kubeadm init --config \/var\/lib\/k8s-lab\/kubeadm\/init\.yaml/);
            const kubeconfig = await ssh(cp1, asRoot("lab", "cat /etc/kubernetes/admin.conf"));
            ok(kubeconfig, "read kubeconfig");
            assert.match(kubeconfig.stdout, /server: http:\/\/10\.213\.0\.11:6443/);
            assert.ok(await holds(cp1, "test -s /home/lab/.kube/config && test \"$(stat -c %U /home/lab/.kube/config)\" = lab"), "the SSH user gets a kubeconfig");
        });

        it("keeps no token of kubeadm init: deleted, and out of its log", async () => {
            const log = await apiLog();
            const made = [...log.matchAll(/token-create (\S+)/g)].map((m) => m[1]);
            assert.strictEqual(made.length, 1, "init made one token");
            assert.match(log, new RegExp(`token-delete ${made[0]}\\n`), "and it was deleted");
            const initLog = await root(cp1, "stat -c %a /var/lib/k8s-lab/kubeadm/init.log && cat /var/lib/k8s-lab/kubeadm/init.log");
            assert.match(initLog, /^600\n/);
            assert.ok(!/[a-z0-9]{6}\.[a-z0-9]{16}/.test(initLog), "no token in init.log");
        });

        it("joins two workers in parallel, each with a token made for it at join time and deleted after", async () => {
            await Promise.all([join(worker1), join(worker2)]);
            const log = await apiLog();
            for (const n of ["cp1", "worker1", "worker2"]) assert.match(log, new RegExp(`register ${n}\\n`));
            const made = [...log.matchAll(/token-create (\S+)/g)].map((m) => m[1]);
            const deleted = [...log.matchAll(/token-delete (\S+)/g)].map((m) => m[1]);
            assert.strictEqual(made.length, 3, "init's token and one for each join");
            assert.deepStrictEqual(deleted.sort(), made.sort(), "every token is deleted once used");
            assert.ok(await holds(worker1, "! ls /run/k8s-lab-admin.* 2>/dev/null"), "no admin kubeconfig is left on the worker");
            // What the reset must clean later is really there now.
            assert.match(await root(worker2, "nft list tables"), /^table ip kube-proxy$/m);
            assert.match(await root(worker2, "iptables-save"), /-A INPUT -j KUBE-FIREWALL/);
            assert.ok(await holds(worker2, "ip link show vxlan.calico"));
        });

        it("reruns init and join as no-ops", async () => {
            const r = await step(cp1, init, "apply");
            ok(r, "init again");
            assert.match(r.stderr, /already initialised/);
            const w = await step(worker1, await worker(worker1), "apply");
            ok(w, "join again");
            assert.match(w.stderr, /already joined/);
        });

        it("reads when the certificates expire, and renews them once when an up falls inside the window", async () => {
            const certificates = (renewBefore: string) =>
                step(cp1, certificatesScript({ renewBefore, kubernetes: config.kubernetes, user: "lab", staticPodPause: 1 }), "apply");
            const expiry = (r: { stdout: string }) => /^certificates-expire: (\S+)$/m.exec(r.stdout)?.[1] ?? "";
            const daysLeft = (iso: string) => (Date.parse(iso) - Date.now()) / 86_400_000;
            const read = await certificates("");
            ok(read, "read the certificates");
            assert.ok(daysLeft(expiry(read)) > 364 && daysLeft(expiry(read)) <= 365, `a year from init: ${expiry(read)}`);

            // A year on: ten days left, as the last up read them.
            await root(cp1, "echo $(( $(date +%s) + 10 * 86400 )) > /etc/kubernetes/pki/standin-expiry");
            const due = expiry(await certificates(""));
            assert.ok(daysLeft(due) < 11, due);
            const kubeconfig = await adminKubeconfig();
            const renewed = await certificates(due);
            ok(renewed, "renew");
            assert.match(renewed.stderr, /within the renewal window: renewing them/);
            assert.ok(daysLeft(expiry(renewed)) > 364, `renewed for a year: ${expiry(renewed)}`);
            assert.notStrictEqual(await adminKubeconfig(), kubeconfig, "admin.conf is renewed with them");
            assert.ok(await holds(cp1, "cmp -s /etc/kubernetes/admin.conf /home/lab/.kube/config && cmp -s /etc/kubernetes/admin.conf /root/.kube/config"), "the copies follow");
            assert.ok(await holds(cp1, "ls /etc/kubernetes/manifests/kube-apiserver.yaml && ! test -e /var/lib/k8s-lab/manifests-aside"), "the static pods' manifests are back");

            // The next up keeps the same instant: the renewed certificates are past it.
            const again = await certificates(due);
            ok(again, "read again");
            assert.doesNotMatch(again.stderr, /renewing/);
            assert.strictEqual((await root(cp1, "grep -c 'kubeadm certs renew all' /var/log/kubeadm-standin.log")).trim(), "1");
        });

        it("re-joins a worker long after any token it ever had expired", async () => {
            // Tokens of 2 s: the first join's token is dead before the second join runs.
            ok(await step(worker2, await worker(worker2, "2s"), "remove"), "remove worker2");
            ok(await step(worker2, prep(worker2), "apply"), "prep worker2 again");
            await join(worker2, "2s");
            await new Promise((resolve) => setTimeout(resolve, 3000));
            ok(await step(worker2, await worker(worker2, "2s"), "remove"), "remove worker2 again");
            ok(await step(worker2, prep(worker2), "apply"), "prep worker2 once more");
            await join(worker2, "2s");
        });

        it("never crosses into a mount when it resets a node: NFS-style data under a pod volume survives", async () => {
            // A pod volume mounted over data that must not be touched (a bind mount stands in for NFS).
            await root(worker2, "mkdir -p /srv/export /var/lib/kubelet/pods/p1/volumes/nfs && echo precious > /srv/export/data && mount --bind /srv/export /var/lib/kubelet/pods/p1/volumes/nfs");
            ok(await step(worker2, await worker(worker2), "remove"), "remove worker2 with a volume mounted");
            assert.strictEqual(await root(worker2, "cat /srv/export/data"), "precious\n", "the data behind the mount is intact");
            assert.ok(await holds(worker2, "! grep -q ' /var/lib/kubelet' /proc/self/mounts"), "the volume was unmounted");
            await root(worker2, "rm -rf /srv/export");
        });

        it("removes a worker: drained and deleted before its host is reset, then un-prepared", async () => {
            ok(await step(worker2, prep(worker2), "apply"), "prep worker2");
            await join(worker2);
            ok(await step(worker2, await worker(worker2), "remove"), "worker remove");
            const events = (await apiLog()).split("\n").filter((l) => / worker2$/.test(l)).map((l) => l.split(" ")[1]);
            assert.deepStrictEqual(events.slice(-3), ["register", "drain", "delete"]);
            ok(await step(worker2, prep(worker2), "remove"), "prep remove");
        });

        it("leaves the removed host clean, with its own firewall and SSH intact", async () => {
            const h = worker2;
            for (const path of ["/etc/kubernetes/kubelet.conf", "/etc/kubernetes/pki", "/var/lib/kubelet/config.yaml", "/var/lib/etcd", "/var/lib/cni", "/var/lib/calico", "/var/lib/k8s-lab", "/etc/containerd", "/etc/crictl.yaml", "/etc/modules-load.d/k8s-lab.conf", "/etc/sysctl.d/99-k8s-lab.conf", "/etc/apt/sources.list.d/k8s-lab-kubernetes.list", "/etc/apt/keyrings/k8s-lab-kubernetes.gpg", "/etc/default/kubelet"]) {
                assert.ok(await holds(h, `! test -e ${path}`), `${path} is gone`);
            }
            assert.strictEqual(await root(h, "ls -A /etc/cni/net.d 2>/dev/null || true"), "", "no CNI configuration");
            assert.ok(await holds(h, "! ip link show vxlan.calico"), "vxlan.calico is gone");
            const rules = await root(h, "iptables-save");
            assert.ok(!/KUBE-|cali-/.test(rules), `no Kubernetes or Calico chains:\n${rules}`);
            assert.match(rules, /-A INPUT -j HOST-SSH/, "the host's own INPUT rule stays");
            assert.match(rules, /-A HOST-SSH -p tcp -m tcp --dport 22 -j ACCEPT/);
            assert.match(rules, /:FORWARD DROP/, "the host's FORWARD policy stays");
            const tables = await root(h, "nft list tables");
            assert.doesNotMatch(tables, /kube-proxy/, "kube-proxy's nftables tables are gone");
            assert.match(tables, /^table inet hostfw$/m, "the host's own nftables table stays");
            assert.match(await root(h, "nft list chain inet hostfw input"), /tcp dport 22 accept/);
            for (const p of ["kubelet", "kubeadm", "kubectl", "containerd", "nfs-common"]) {
                // db:Status-Status: a held package reads "hold ok installed" in ${Status}.
                assert.ok(await holds(h, `! dpkg-query -W -f='\${db:Status-Status}' ${p} 2>/dev/null | grep -qx installed`), `${p} is purged`);
            }
            assert.ok(await holds(h, "dpkg-query -W -f='${Status}' iptables | grep -q 'install ok installed'"), "a package the host had before stays");
            assert.ok(await holds(h, "grep -q '^/swapfile none swap sw 0 0$' /etc/fstab"), "the swap entry is back");
            assert.notStrictEqual((await root(h, "systemctl is-enabled swap.target || true")).trim(), "masked");
            assert.strictEqual((await ssh(h, "echo still here")).stdout, "still here\n", "SSH still works");
        });
    });

    describe("4. the NFS server", () => {
        // worker2 is a clean host again here, like a host with only the nfs role.
        const clients = [cp1.address, worker1.address];
        const keep = nfsServerScript("/srv/nfs/k8s-lab", clients, false);

        it("installs the server and writes an export limited to the lab's hosts", async function () {
            const nfsd = await holds(worker2, "grep -qw nfsd /proc/filesystems");
            const r = await step(worker2, keep, "apply");
            if (nfsd) {
                ok(r, "nfs apply");
                assert.match(await root(worker2, "exportfs -v"), /\/srv\/nfs\/k8s-lab/);
            } else {
                // This kernel has no NFS server: the script must say so, after the parts it can do.
                // Not checked here: nfs-server running, exportfs, and a client mounting the export.
                assert.notStrictEqual(r.code, 0);
                assert.match(r.stderr, /this kernel has no NFS server \(nfsd\)/);
            }
            assert.ok(await holds(worker2, "dpkg-query -W -f='${Status}' nfs-kernel-server | grep -q 'install ok installed'"), "nfs-kernel-server");
            assert.strictEqual(
                await root(worker2, "cat /etc/exports.d/k8s-lab.exports"),
                "/srv/nfs/k8s-lab 10.213.0.11(rw,sync,no_subtree_check,no_root_squash) 10.213.0.12(rw,sync,no_subtree_check,no_root_squash)\n",
            );
            assert.ok(await holds(worker2, "test -d /srv/nfs/k8s-lab"), "the export directory");
        });

        it("removes the export and the server, and keeps the data unless asked", async () => {
            await root(worker2, "echo claim-data > /srv/nfs/k8s-lab/kept");
            ok(await step(worker2, keep, "remove"), "nfs remove");
            assert.ok(await holds(worker2, "! test -e /etc/exports.d/k8s-lab.exports"), "the export is gone");
            assert.ok(await holds(worker2, "! dpkg-query -W -f='${db:Status-Status}' nfs-kernel-server 2>/dev/null | grep -qx installed"), "nfs-kernel-server is purged");
            assert.strictEqual(await root(worker2, "cat /srv/nfs/k8s-lab/kept"), "claim-data\n", "the data is kept");
            const purge = nfsServerScript("/srv/nfs/k8s-lab", clients, true);
            ok(await step(worker2, purge, "remove"), "nfs remove, deleting data");
            assert.ok(await holds(worker2, "! test -e /srv/nfs/k8s-lab"), "the data is deleted when asked");
        });
    });

    describe("5. a preparation interrupted midway", () => {
        it("converges to the same state when run again", async () => {
            ok(await step(solo, prep(solo), "remove"), "solo prep remove");
            await root(solo, "apt-get clean");
            // Cut off while dpkg is installing, as a dropped SSH session would: the script and
            // apt die at once; dpkg, which apt runs on a terminal of its own, loses that
            // terminal and dies or runs on, holding its lock.
            const run = step(solo, prep(solo), "apply");
            const killer = await root(
                solo,
                "for _ in $(seq 1 600); do if pgrep -x dpkg >/dev/null; then pkill -KILL -f '^bash -s -- appl[y]$'; pkill -KILL -x apt-get; echo cut; exit 0; fi; sleep 0.05; done; echo missed",
            );
            assert.strictEqual(killer.trim(), "cut", "dpkg was caught running");
            assert.notStrictEqual((await run).code, 0, "the first run was cut off");
            ok(await step(solo, prep(solo), "apply"), "prep after the interruption");
            assert.strictEqual(await fingerprint(solo, false), await fingerprint(worker1, false), "same files, packages and units as a host prepared in one go");
        });
    });

    describe("6. reset, then prepare and init again on the same hosts", () => {
        it("re-initialises the control plane and joins a worker again", async () => {
            ok(await step(worker1, await worker(worker1), "remove"), "drain and reset worker1");
            ok(await step(cp1, init, "remove"), "reset cp1");
            assert.ok(await holds(cp1, "! test -e /etc/kubernetes/admin.conf && ! test -e /home/lab/.kube/config"), "admin kubeconfigs are gone");
            assert.ok(!/KUBE-|cali-/.test(await root(cp1, "iptables-save")));
            ok(await step(cp1, prep(cp1), "apply"), "prep cp1 again");
            ok(await step(worker1, prep(worker1), "apply"), "prep worker1 again");
            ok(await step(cp1, init, "apply"), "init again");
            await join(worker1);
            assert.match(await apiLog(), /register worker1\n\S+ token-delete \S+\n$/, "worker1 registered again, and its token was deleted");
        });
    });

    describe("7. a host with the Kubernetes apt repository configured as its install guide says", () => {
        const entry = `deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] ${repoUrl.replace("{minor}", "1.35")} /\n`;

        it("prepares it without apt's Signed-By conflict, and remove puts the host's entry back as it was", async () => {
            await root(
                worker2,
                // The guide installs curl and gpg first; the lab's removal keeps them, not having brought them.
                `DEBIAN_FRONTEND=noninteractive apt-get install -y -q curl gpg >/dev/null 2>&1 && ` +
                    `mkdir -p /etc/apt/keyrings && curl -fsSL ${repoUrl.replace("{minor}", "1.35")}Release.key | gpg --dearmor -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg && printf '%s' '${entry}' >/etc/apt/sources.list.d/kubernetes.list`,
            );
            ok(await step(worker2, prep(worker2), "apply"), "prep with the host's own entry");
            assert.ok(await holds(worker2, "! test -e /etc/apt/sources.list.d/kubernetes.list"), "set aside while the lab's entry is there");
            ok(await step(worker2, prep(worker2), "remove"), "prep remove");
            assert.strictEqual(await root(worker2, "cat /etc/apt/sources.list.d/kubernetes.list"), entry, "the host's entry is back, unchanged");
            assert.ok(await holds(worker2, "apt-get update -q >/dev/null 2>&1"), "apt works with it");
            assert.ok(await holds(worker2, "command -v curl && command -v gpg"), "the host's own curl and gpg stay");
        });
    });

    describe("8. etcd snapshots: npm run lab -- backup and restore, against cp1", () => {
        // The lab command itself, with the test lab's stack played by a stand-in Pulumi CLI and
        // the real ssh. cp1 is the control plane that step 6 made again. The stand-in etcd's data
        // is the files under /var/lib/etcd/member (test/hosts/standins/etcdctl).
        const printed: string[] = [];
        const out = fs.mkdtempSync(path.join(os.tmpdir(), "k8s-lab-snapshots-"));
        const pulumi = stackStandIn(testRawConfig(), config.kubernetes.version);
        const deps: SnapshotDeps = { pulumi, root: out, env: { INIT_CWD: out }, readFile: (p) => fs.readFileSync(p, "utf8"), print: (l) => printed.push(l), now: () => new Date(), ssh: spawnSsh };
        const manifests = "etcd.yaml\nkube-apiserver.yaml\nkube-controller-manager.yaml\nkube-scheduler.yaml\n";
        let file = "";

        after(() => fs.rmSync(out, { recursive: true, force: true }));

        it("saves a snapshot of the control plane's etcd on this machine, 0600, named after the lab, version and time", async () => {
            // kubeadm's etcd client certificate, which the stand-in kubeadm does not make yet.
            await root(
                cp1,
                "test -e /etc/kubernetes/pki/etcd/healthcheck-client.key || { mkdir -p /etc/kubernetes/pki/etcd && " +
                    "for f in ca.crt healthcheck-client.crt healthcheck-client.key; do head -c 64 /dev/urandom | base64 >/etc/kubernetes/pki/etcd/$f; done; }",
            );
            await root(cp1, "mkdir -p /var/lib/etcd/member/snap && echo 'secrets: s1' >/var/lib/etcd/member/snap/db");
            const started = Date.now();
            file = await backupLab("lab-hosts", "hosts", out, deps);
            figures["etcd snapshot save"] = (Date.now() - started) / 1000;
            assert.match(path.basename(file), new RegExp(`^hosts-k8s-${testVersion.replace(/\./g, "\\.")}-etcd-\\d{8}T\\d{6}Z\\.db$`));
            assert.strictEqual(fs.statSync(file).mode & 0o777, 0o600);
            assert.match(spawnSync("tar", ["-tf", file], { encoding: "utf8" }).stdout, /^member\/snap\/db$/m, "the stand-in etcd's data is in it");
            assert.match(printed.join("\n"), /every Secret of the cluster/);
            assert.ok(await holds(cp1, "! ls -A /var/lib/etcd | grep -q k8s-lab"), "no temporary file is left on the host");
            assert.match(
                await root(cp1, "cat /var/log/crictl-standin.log"),
                /crictl exec \S+ etcdctl --endpoints=https:\/\/127\.0\.0\.1:2379 --cacert=\/etc\/kubernetes\/pki\/etcd\/ca\.crt --cert=\/etc\/kubernetes\/pki\/etcd\/healthcheck-client\.crt --key=\/etc\/kubernetes\/pki\/etcd\/healthcheck-client\.key snapshot save /,
                "etcdctl of the etcd container, with kubeadm's client certificate",
            );
        });

        it("refuses to restore on an etcd of two members, or a damaged snapshot, before it stops anything", async () => {
            await root(cp1, "printf 'cp1 https://10.213.0.11:2380\\nextra https://10.213.0.99:2380\\n' >/var/lib/etcd/member/standin-members");
            await assert.rejects(restoreLab("lab-hosts", "hosts", file, true, deps), /etcd has 2 members/);
            await root(cp1, "rm /var/lib/etcd/member/standin-members");
            const junk = path.join(out, `hosts-k8s-${testVersion}-etcd-20000101T000000Z.db`);
            fs.writeFileSync(junk, "not a snapshot\n", { mode: 0o600 });
            await assert.rejects(restoreLab("lab-hosts", "hosts", junk, true, deps), /is not an etcd snapshot/);
            assert.strictEqual(await root(cp1, "ls /etc/kubernetes/manifests"), manifests, "every static pod still runs");
            assert.strictEqual(await root(cp1, "cat /var/lib/etcd/member/snap/db"), "secrets: s1\n");
            assert.ok(
                await holds(cp1, "! compgen -G '/var/lib/etcd.before-restore-*' && ! test -e /etc/kubernetes/k8s-lab-restore-manifests && ! ls -A /var/lib/etcd | grep -q k8s-lab"),
                "no copy of the data, no manifest moved, no temporary file",
            );
        });

        it("restores it: the data is back, the old data directory kept beside it, the manifests in place, the API server answering", async () => {
            await root(cp1, "echo 'secrets: s1, s2' >/var/lib/etcd/member/snap/db && echo later >/var/lib/etcd/member/added");
            const started = Date.now();
            await restoreLab("lab-hosts", "hosts", file, true, deps);
            figures["etcd snapshot restore"] = (Date.now() - started) / 1000;
            assert.strictEqual(await root(cp1, "cat /var/lib/etcd/member/snap/db"), "secrets: s1\n", "the data of the snapshot");
            assert.ok(await holds(cp1, "! test -e /var/lib/etcd/member/added"), "nothing written after the snapshot");
            assert.strictEqual((await root(cp1, "stat -c %a /var/lib/etcd")).trim(), "700");
            const kept = (await root(cp1, "ls -d /var/lib/etcd.before-restore-*")).trim().split("\n");
            assert.strictEqual(kept.length, 1, "one copy of the old data");
            assert.match(kept[0], /^\/var\/lib\/etcd\.before-restore-\d{8}T\d{6}Z$/);
            assert.strictEqual(await root(cp1, `cat ${kept[0]}/member/snap/db ${kept[0]}/member/added`), "secrets: s1, s2\nlater\n", "the old data, kept as it was");
            assert.strictEqual(await root(cp1, `ls -A ${kept[0]}`), "member\n", "and nothing else: the snapshot sent over is gone");
            assert.strictEqual(await root(cp1, "ls /etc/kubernetes/manifests"), manifests, "the static pods' manifests are back");
            assert.ok(await holds(cp1, "! test -e /etc/kubernetes/k8s-lab-restore-manifests"));
            assert.match(await root(cp1, "cat /var/log/crictl-standin.log"), /etcdutl snapshot restore \S+ --data-dir \S+ --name cp1 --initial-cluster cp1=https:\/\/10\.213\.0\.11:2380 --initial-advertise-peer-urls https:\/\/10\.213\.0\.11:2380 --bump-revision 1000000000 --mark-compacted/);
            assert.strictEqual((await root(cp1, "systemctl is-active kubelet")).trim(), "active");
            assert.ok(await holds(cp1, "kubectl --kubeconfig /etc/kubernetes/admin.conf get --raw=/readyz"), "the API server answers");
            assert.match(printed.join("\n"), /npm run refresh -- --stack lab-hosts/);
        });
    });
});

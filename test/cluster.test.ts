import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { clusterOnly, guideLab, testKey } from "./fixtures";
import { shellQuote } from "../components/lib/render";
import { defaultKubernetesMinor, kubernetesReleases } from "../components/lib/versions";
import { evaluate, fakeKubeconfig, Graph, plainText } from "./harness";

const COMMAND = "command:remote:Command";

describe("cluster graph", function () {
    describe("a lab of one control plane and two workers", () => {
        let g: Graph;
        before(async () => {
            g = await evaluate(guideLab());
        });

        it("prepares the control plane and each worker, but not an nfs-only host", () => {
            const preps = g.ofType(COMMAND).filter((r) => r.name.endsWith("-prep")).map((r) => r.name);
            assert.deepStrictEqual(preps.sort(), ["lab-cp1-prep", "lab-worker1-prep", "lab-worker2-prep"]);
        });

        it("names children after their component and nests them", () => {
            const init = g.byName("lab-cp1-init");
            const parent = g.resources.find((r) => r.urn === init.parent);
            assert.strictEqual(parent?.name, "lab-cp1");
            assert.strictEqual(parent?.type, "k8s-lab:cluster:ControlPlane");
        });

        it("pins each node's kubelet to the host's own address", () => {
            assert.match(g.byName("lab-worker1-prep").inputs.stdin, /^NODE_IP='192\.168\.56\.11'$/m);
            assert.match(g.byName("lab-cp1-prep").inputs.stdin, /^NODE_IP='192\.168\.56\.10'$/m);
        });

        it("initialises only after the control plane is prepared", () => {
            assert.ok(g.dependsOn("lab-cp1-init", "lab-cp1-prep"));
        });

        it("joins each worker after its own preparation and the init, on the worker, with the admin kubeconfig to make its token", () => {
            for (const w of ["worker1", "worker2"]) {
                assert.ok(g.dependsOn(`lab-${w}-join`, `lab-${w}-prep`));
                assert.ok(g.dependsOn(`lab-${w}-join`, "lab-cp1-init"));
                assert.ok(g.dependsOn(`lab-${w}-join`, "lab-cp1-kubeconfig"));
                const join = g.byName(`lab-${w}-join`);
                assert.strictEqual(join.inputs.connection.host, w === "worker1" ? "192.168.56.11" : "192.168.56.12", "the join runs on the worker");
                assert.match(join.inputs.stdin, /kubeadm token create --kubeconfig "\$1" --ttl "\$3"/);
                assert.match(join.inputs.stdin, /join_command "\$admin_file" "\$NODE_NAME" "\$JOIN_TOKEN_TTL"/);
                assert.match(join.inputs.stdin, /^JOIN_TOKEN_TTL='10m'$/m);
                assert.ok(!g.resources.some((r) => r.name.endsWith("-join-command")), "no join command is ever stored");
            }
        });

        it("joins workers in parallel: no worker waits for another", () => {
            assert.ok(!g.dependsOn("lab-worker2-join", "lab-worker1-join"));
            assert.ok(!g.dependsOn("lab-worker1-join", "lab-worker2-join"));
            assert.ok(!g.dependsOn("lab-worker2-join", "lab-worker1-prep"));
        });

        it("drains and deletes a node before its host is reset, in the worker's own remove", () => {
            const join = g.byName("lab-worker1-join");
            assert.match(join.inputs.stdin, /leave_cluster\(\) \{\n  local node="\$1"\n  if kube get node "\$node"[^]*kube drain "\$node"[^]*kube delete node/);
            assert.match(join.inputs.stdin, /remove\(\) \{\n  open_admin_kubeconfig "\$ADMIN_KUBECONFIG"\n  leave_cluster "\$NODE_NAME"\n  node_reset\n/);
            assert.strictEqual(join.inputs.delete, "sudo -n bash -s -- remove");
            // Pulumi deletes dependents first: the join (drain, reset) before prep (remove).
            assert.ok(g.dependsOn("lab-worker1-join", "lab-worker1-prep"));
        });

        it("resets workers before the control plane on destroy", () => {
            // The control plane's reset is deleted last because every join depends on it.
            for (const w of ["worker1", "worker2"]) assert.ok(g.dependsOn(`lab-${w}-join`, "lab-cp1-init"));
        });

        it("gives every host step a delete that undoes it", () => {
            for (const r of g.ofType(COMMAND)) {
                if (r.name.endsWith("-kubeconfig")) {
                    assert.strictEqual(r.inputs.delete, undefined, `${r.name} only reads; it changes nothing to undo`);
                } else if (r.name.endsWith("-certificates")) {
                    assert.strictEqual(r.inputs.create, "sudo -n bash -s -- apply", r.name);
                    assert.strictEqual(r.inputs.delete, undefined, `${r.name} reads, or renews, which cannot be undone`);
                    assert.match(r.inputs.stdin, /^dispatch "\$@"$/m, r.name);
                } else {
                    assert.strictEqual(r.inputs.create, "sudo -n bash -s -- apply", r.name);
                    assert.strictEqual(r.inputs.delete, "sudo -n bash -s -- remove", r.name);
                    assert.match(r.inputs.stdin, /^dispatch "\$@"$/m, r.name);
                }
            }
        });

        it("replaces host steps delete-first, on triggers that name what they stand for", () => {
            for (const name of ["lab-cp1-prep", "lab-cp1-init", "lab-worker1-join"]) {
                assert.strictEqual(g.byName(name).deleteBeforeReplace, true, name);
            }
            assert.deepStrictEqual(g.byName("lab-cp1-init").inputs.triggers, [
                "cluster name k8s-lab",
                "control-plane endpoint 192.168.56.10:6443",
                "control-plane host cp1 at 192.168.56.10",
                "pod subnet 10.244.0.0/16",
                "service subnet 10.96.0.0/12",
            ]);
            assert.deepStrictEqual(g.byName("lab-cp1-prep").inputs.triggers, ["host address 192.168.56.10"]);
            assert.deepStrictEqual(g.byName("lab-worker1-join").inputs.triggers, ["lab-cp1-init-id", "host address 192.168.56.11"]);
        });

        it("sends the kubeadm configuration to the control plane", () => {
            const stdin: string = g.byName("lab-cp1-init").inputs.stdin;
            assert.match(stdin, /kind: ClusterConfiguration/);
            assert.match(stdin, /podSubnet: 10\.244\.0\.0\/16/);
            assert.match(stdin, /controlPlaneEndpoint: 192\.168\.56\.10:6443/);
        });

        it("keeps the SSH key, kubeconfig and join command secret", () => {
            for (const r of g.ofType(COMMAND)) {
                assert.ok(r.secretInputs.includes("connection"), `${r.name}: connection (with the key) is secret`);
                assert.strictEqual(r.inputs.addPreviousOutputInEnv, false, `${r.name}: no previous output in the environment`);
            }
            const kubeconfig = g.byName("lab-cp1-kubeconfig");
            assert.ok(kubeconfig.additionalSecretOutputs.includes("stdout"), "the kubeconfig is a secret output");
            assert.strictEqual(kubeconfig.inputs.logging, "none", "the kubeconfig is never logged");
            assert.ok(g.byName("lab-worker1-join").secretInputs.includes("stdin"), "the join script holds the admin kubeconfig");
            assert.ok(g.byName("lab-cp1-init").inputs.connection.privateKey.includes("TEST-ONLY"));
            const text = plainText(g);
            for (const secret of ["TEST-ONLY-NOT-A-REAL-KEY", "0123456789abcdef", "U0VDUkVULUtFWQ=="]) {
                assert.ok(!text.includes(secret), `${secret} appears outside a secret`);
            }
        });

        it("builds the provider from the kubeconfig, after every node has registered, and keeps objects on an unreachable refresh", () => {
            const p = g.byName("lab-provider");
            assert.strictEqual(p.type, "pulumi:providers:kubernetes");
            assert.ok(p.secretInputs.includes("kubeconfig"));
            assert.strictEqual(p.inputs.kubeconfig, fakeKubeconfig);
            assert.strictEqual(p.inputs.deleteUnreachable, undefined, "a refresh off the lab's network must not drop objects from state");
            assert.ok(g.dependsOn("lab-provider", "lab-cp1-kubeconfig"));
            assert.ok(g.dependsOn("lab-provider", "lab-worker1-join"));
            assert.ok(g.dependsOn("lab-provider", "lab-worker2-join"));
        });

        it("exports the kubeconfig as a secret, the endpoint and the nodes", async () => {
            const program = g.outputs.__program as Record<string, unknown>;
            assert.ok(await pulumi.isSecret(program.kubeconfig as pulumi.Output<string>));
            assert.strictEqual(g.outputs.kubeconfig, fakeKubeconfig);
            assert.strictEqual(g.outputs.apiServerEndpoint, "https://192.168.56.10:6443");
            assert.deepStrictEqual(g.outputs.nodes, [
                { name: "cp1", roles: ["control-plane"] },
                { name: "worker1", roles: ["worker"] },
                { name: "worker2", roles: ["worker"] },
            ]);
        });

        it("passes the node name, version and admin kubeconfig into the worker's script", () => {
            const stdin: string = g.byName("lab-worker1-join").inputs.stdin;
            assert.ok(stdin.includes(`ADMIN_KUBECONFIG=${shellQuote(fakeKubeconfig)}`));
            assert.ok(stdin.includes("NODE_NAME='worker1'"));
            assert.ok(stdin.includes(`K8S_VERSION='${kubernetesReleases[defaultKubernetesMinor]}'`));
        });
    });

    describe("a single-node lab", () => {
        let g: Graph;
        before(async () => {
            g = await evaluate(clusterOnly(0));
        });

        it("has no worker resources and an untainted control plane", () => {
            assert.ok(!g.resources.some((r) => /join/.test(r.name)));
            assert.match(g.byName("lab-cp1-init").inputs.stdin, /taints: \[\]/);
        });

        it("still builds a provider", () => {
            assert.ok(g.dependsOn("lab-provider", "lab-cp1-kubeconfig"));
        });
    });

    it("a worker removed from the configuration takes only its own resources with it", async () => {
        const three = await evaluate(clusterOnly(3));
        const two = await evaluate(clusterOnly(2));
        const names = (g: Graph) => new Set(g.resources.map((r) => r.name));
        const gone = [...names(three)].filter((n) => !names(two).has(n)).sort();
        assert.deepStrictEqual(gone, ["lab-worker3", "lab-worker3-join", "lab-worker3-prep"]);
        const stdinOf = (g: Graph, n: string) => g.byName(n).inputs.stdin;
        assert.strictEqual(stdinOf(three, "lab-worker1-prep"), stdinOf(two, "lab-worker1-prep"), "the others are unchanged");
        assert.strictEqual(stdinOf(three, "lab-cp1-init"), stdinOf(two, "lab-cp1-init"));
    });

    it("reaches hosts through a bastion, with its own user and port, the key still secret", async () => {
        const g = await evaluate(clusterOnly(1, { ssh: { user: "ubuntu", privateKey: testKey, bastion: { address: "jump.example.com", user: "jumper", port: 2222 } } }));
        for (const name of ["lab-cp1-prep", "lab-worker1-join"]) {
            const r = g.byName(name);
            assert.deepStrictEqual(
                { host: r.inputs.connection.proxy.host, user: r.inputs.connection.proxy.user, port: r.inputs.connection.proxy.port },
                { host: "jump.example.com", user: "jumper", port: 2222 },
                name,
            );
            assert.strictEqual(r.inputs.connection.proxy.privateKey, testKey, "the bastion uses the lab's key unless given its own");
            assert.ok(r.secretInputs.includes("connection"));
        }
        assert.ok(!plainText(g).includes("TEST-ONLY"));
    });

    it("insists on the host keys the configuration gives, and on none where it gives none", async () => {
        const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHbnKcT0nCzM2gw6ghBJMfbHKx6pNwz0lDHEb3sk2hc4";
        const lab = clusterOnly(1, { ssh: { user: "ubuntu", privateKey: testKey, bastion: { address: "jump.example.com", hostKey: key } } });
        (lab.hosts as { hostKey?: string }[])[0].hostKey = key;
        const g = await evaluate(lab);
        assert.strictEqual(g.byName("lab-cp1-init").inputs.connection.hostKey, key);
        assert.strictEqual(g.byName("lab-cp1-init").inputs.connection.proxy.hostKey, key);
        assert.strictEqual(g.byName("lab-worker1-join").inputs.connection.hostKey, undefined);
    });

    it("logs in with a password where no key is given, and as root without sudo", async () => {
        const g = await evaluate(clusterOnly(0, { ssh: { user: "root", password: "hunter2-lab" } }));
        const r = g.byName("lab-cp1-init");
        assert.strictEqual(r.inputs.connection.password, "hunter2-lab");
        assert.strictEqual(r.inputs.connection.privateKey, undefined);
        assert.strictEqual(r.inputs.create, "bash -s -- apply");
        assert.ok(!plainText(g).includes("hunter2-lab"));
    });

    it("stops on invalid configuration before declaring any resource", async () => {
        await assert.rejects(
            evaluate(guideLab({ hosts: [{ name: "cp1", address: "10.0.0.1", roles: ["worker"] }], ssh: { privateKey: testKey } })),
            /no host has the control-plane role/,
        );
    });
});

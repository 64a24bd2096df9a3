/**
 * Runs the program (index.ts) under Pulumi mocks with a given stack configuration and records
 * the resource graph as the engine would see it: every registration with its inputs, parent,
 * dependencies and options. Used by the graph tests and by `npm run bench`.
 */
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import type { RawConfig } from "../components/lib/config";

/** The key Pulumi uses to mark a serialised secret. */
const secretSig = "1b47061264138c4ac30d75fd1eb44270";
const sigKey = "4dabf18193072939515e22adb298388d";

export interface Registration {
    type: string;
    name: string;
    urn: string;
    custom: boolean;
    parent: string;
    /** URNs this resource depends on (explicit and through its inputs). */
    dependencies: string[];
    /** Inputs with secrets unwrapped. */
    inputs: Record<string, any>;
    /** Names of the top-level inputs that were sent as secrets. */
    secretInputs: string[];
    deleteBeforeReplace: boolean;
    retainOnDelete: boolean;
    replaceOnChanges: string[];
    additionalSecretOutputs: string[];
    provider: string;
}

export interface Graph {
    resources: Registration[];
    outputs: Record<string, unknown>;
    byName(name: string): Registration;
    ofType(type: string): Registration[];
    /**
     * Whether `a` depends on `b`, directly or through other resources. Like the engine, this
     * counts a resource's parent as something it depends on: a component's `dependsOn` holds
     * back its children (they register after it), and deletes run children first.
     */
    dependsOn(a: string, b: string): boolean;
    /** Length (in resources) of the longest dependency chain. */
    longestChain(): number;
}

export const fakeKubeconfig = [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- cluster: { server: 'https://192.168.56.10:6443', certificate-authority-data: RkFLRQ== }",
    "  name: k8s-lab",
    "users:",
    "- name: kubernetes-admin",
    "  user: { client-certificate-data: RkFLRQ==, client-key-data: U0VDUkVULUtFWQ== }",
].join("\n");
export const fakeJoinCommand =
    "kubeadm join 192.168.56.10:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:0000000000000000000000000000000000000000000000000000000000000000";

/** What a remote command prints, for the commands whose output the program reads. */
function fakeStdout(create: string | undefined): string {
    if (!create) return "";
    if (create.includes("admin.conf")) return fakeKubeconfig;
    if (create.includes("--print-join-command")) return fakeJoinCommand;
    return "";
}

function unwrap(v: any, secrets?: Set<string>, key?: string): any {
    if (v && typeof v === "object" && !Array.isArray(v)) {
        if (v[sigKey] === secretSig) {
            if (secrets && key) secrets.add(key);
            return unwrap(v.value);
        }
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrap(x)]));
    }
    if (Array.isArray(v)) return v.map((x) => unwrap(x));
    return v;
}

/** Drops the program's modules from the require cache so that it runs afresh. */
function forgetProgram(): void {
    const root = path.join(__dirname, "..");
    for (const id of Object.keys(require.cache)) {
        if (id.startsWith(root) && !id.includes("node_modules") && !id.includes(`${path.sep}test${path.sep}`)) {
            delete require.cache[id];
        }
    }
}

/** Stack configuration as `pulumi config` stores it: each key a JSON string. */
export function stackConfig(raw: RawConfig): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(raw)) {
        if (v !== undefined) out[`k8s-lab:${k}`] = JSON.stringify(v);
    }
    return out;
}

export interface EvaluateOptions {
    /** Evaluate as a preview: nothing has run, command output is unknown. Default false. */
    preview?: boolean;
    /** The stack outputs the last update left (what the program's StackReference to itself reads). Default none. */
    previous?: Record<string, unknown>;
    /** Answers the program's invokes (such as preflight's `command:local:run`). Default: an empty result. */
    call?: (args: pulumi.runtime.MockCallArgs) => Record<string, any>;
}

export async function evaluate(raw: RawConfig, options: EvaluateOptions = {}): Promise<Graph> {
    const resources: Registration[] = [];
    await pulumi.runtime.setMocks(
        {
            newResource: (args) => {
                const state: Record<string, unknown> = { ...args.inputs };
                // In a preview of a fresh lab, nothing has run yet: command output is unknown.
                if (args.type === "command:remote:Command" && !options.preview) state.stdout = fakeStdout(args.inputs.create);
                if (args.type === "random:index/randomPassword:RandomPassword") state.result = `generated-${args.name}-0123456789abcdef`;
                if (args.type === "pulumi:pulumi:StackReference") state.outputs = options.previous ?? {};
                return { id: options.preview ? undefined : `${args.name}-id`, state };
            },
            call: (args) => options.call?.(args) ?? {},
        },
        "k8s-lab",
        "test",
        options.preview ?? false,
        "organization",
    );
    // The mock monitor hands newResource only a few fields; the request has the whole picture.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const settings = require("@pulumi/pulumi/runtime/settings");
    const monitor = settings.getMonitor();
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: any, callback: (err: any, res: any) => void) => {
        const secrets = new Set<string>();
        const object = req.getObject()?.toJavaScript() ?? {};
        const inputs = Object.fromEntries(Object.entries(object).map(([k, v]) => [k, unwrap(v, secrets, k)]));
        const registration: Registration = {
            type: req.getType(),
            name: req.getName(),
            urn: "",
            custom: req.getCustom(),
            parent: req.getParent(),
            dependencies: req.getDependenciesList(),
            inputs,
            secretInputs: [...secrets],
            deleteBeforeReplace: req.getDeletebeforereplace(),
            retainOnDelete: req.getRetainondelete(),
            replaceOnChanges: req.getReplaceonchangesList(),
            additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
            provider: req.getProvider(),
        };
        resources.push(registration);
        register(req, (err: any, res: any) => {
            if (res) registration.urn = res.getUrn();
            callback(err, res);
        });
    };
    pulumi.runtime.setAllConfig(stackConfig(raw));
    forgetProgram();
    // An error inside an output (a check at preview) fails a registration, not the require:
    // the engine would stop the update with it, so the harness does too.
    const failures: unknown[] = [];
    const onFailure = (e: unknown) => failures.push(e);
    process.on("unhandledRejection", onFailure);
    try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const program = require("../index");
        const outputs: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(program)) {
            outputs[k] = pulumi.Output.isInstance(v) ? await outputValue(v) : v;
        }
        await settings.waitForRPCs();
        await new Promise((resolve) => setImmediate(resolve));
        if (failures.length) throw failures[0];
        return graphOf(resources, outputs, program);
    } finally {
        process.off("unhandledRejection", onFailure);
    }
}

/** Everything recorded about a graph but its secret inputs, as text: what a state file or a log could show. */
export function plainText(g: Graph): string {
    return JSON.stringify(g.resources.map((r) => ({ ...r, inputs: Object.fromEntries(Object.entries(r.inputs).filter(([k]) => !r.secretInputs.includes(k))) })));
}

/** Resolves an output (also in preview, where unknown values resolve to undefined). */
export function outputValue<T>(o: pulumi.Output<T>): Promise<T | undefined> {
    return new Promise((resolve) => {
        (o as any).promise().then(resolve, () => resolve(undefined));
    });
}

function graphOf(resources: Registration[], outputs: Record<string, unknown>, program: Record<string, unknown>): Graph {
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const edges = (r: Registration) => (r.parent ? [...r.dependencies, r.parent] : r.dependencies);
    const chains = new Map<string, number>();
    const chain = (urn: string): number => {
        const known = chains.get(urn);
        if (known !== undefined) return known;
        const r = byUrn.get(urn);
        const deps = r ? edges(r) : [];
        const n = (r?.custom ? 1 : 0) + Math.max(0, ...deps.map(chain));
        chains.set(urn, n);
        return n;
    };
    const graph: Graph = {
        resources,
        outputs: { ...outputs, __program: program },
        byName(name) {
            const r = resources.find((x) => x.name === name);
            if (!r) throw new Error(`no resource named ${name}; have ${resources.map((x) => x.name).join(", ")}`);
            return r;
        },
        ofType(type) {
            return resources.filter((r) => r.type === type);
        },
        dependsOn(a, b) {
            const target = graph.byName(b).urn;
            const seen = new Set<string>();
            const walk = (urn: string): boolean => {
                if (seen.has(urn)) return false;
                seen.add(urn);
                const r = byUrn.get(urn);
                return !!r && edges(r).some((d) => d === target || walk(d));
            };
            return walk(graph.byName(a).urn);
        },
        longestChain() {
            return Math.max(0, ...resources.map((r) => chain(r.urn)));
        },
    };
    return graph;
}

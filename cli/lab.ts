/**
 * `npm run lab -- <command>`: one lab per developer, each a stack of its own.
 *
 *   new <name> --host NAME=ADDRESS:ROLE[+ROLE] ... [--user U] [--key PATH | --password-env VAR]
 *              [--addons calico,ingress,nfs,logging,monitoring,samples] [--controller traefik]
 *   list                 the labs, with hosts, last update and URLs
 *   rm <name> --yes      destroys a lab and removes its stack
 *   verify <name>        checks a lab as the guide does after each step (cli/verify.ts)
 *   backup <name> [--out DIR]        saves an etcd snapshot of the lab on this machine (cli/snapshot.ts)
 *   restore <name> <file> --yes      restores the lab's etcd from such a snapshot
 *
 * `--prefix P` (or K8S_LAB_PREFIX) names stacks P<name>; the default is `lab-`. Every argument
 * can be given, for scripts; on a terminal, `new` asks for what is missing.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as readline from "readline/promises";
import * as YAML from "yaml";
import { ConfigError, RawConfig, validateConfig } from "../components/lib/config";
import { modeline } from "../components/lib/schema";
import { CliError, projectRoot, PulumiRunner, pulumiRunner } from "./pulumi";
import { forgetStack } from "./forget";
import { verifyStack } from "./verify";
import { backupLab, restoreLab, spawnSsh } from "./snapshot";

const allAddons = ["calico", "ingress", "nfs", "logging", "monitoring", "samples"] as const;
const defaultAddons = ["calico", "ingress", "nfs", "logging", "monitoring", "samples"];

export interface NewLab {
    command: "new";
    name: string;
    hosts: { name: string; address: string; roles: string[] }[];
    user: string;
    keyPath?: string;
    /** Name of an environment variable that holds the SSH password (never a command-line argument). */
    passwordEnv?: string;
    addons: string[];
    controller?: string;
}

export type LabCommand =
    | NewLab
    | { command: "list" }
    | { command: "rm"; name: string; yes: boolean }
    | { command: "forget"; name: string; yes: boolean }
    | { command: "verify"; name: string }
    | { command: "backup"; name: string; outDir?: string }
    | { command: "restore"; name: string; file: string; yes: boolean };

export interface Parsed {
    prefix: string;
    lab: LabCommand;
}

const usage =
    "usage: npm run lab -- new <name> --host NAME=ADDRESS:ROLE[+ROLE] ... [--user U] [--key PATH | --password-env VAR] " +
    "[--addons a,b,...] [--controller traefik] | list | rm <name> --yes | forget <name> --yes | verify <name> | " +
    "backup <name> [--out DIR] | restore <name> <file> --yes   (all take --prefix P)";

/** Parses `--host cp1=192.168.56.10:control-plane` (roles joined by +). */
export function parseHost(spec: string): { name: string; address: string; roles: string[] } {
    const m = /^([^=]+)=([^:]+):(.+)$/.exec(spec);
    if (!m) throw new CliError(`--host ${spec}: write NAME=ADDRESS:ROLE[+ROLE], e.g. cp1=192.168.56.10:control-plane`);
    return { name: m[1], address: m[2], roles: m[3].split("+") };
}

export function parseLabArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): Parsed {
    const positional: string[] = [];
    const flags: Record<string, string[]> = {};
    const booleans = new Set(["yes"]);
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (!a.startsWith("--")) {
            positional.push(a);
            continue;
        }
        const [key, inline] = a.slice(2).split(/=(.*)/s, 2);
        if (booleans.has(key)) {
            (flags[key] ??= []).push("true");
            continue;
        }
        const value = inline ?? argv[++i];
        if (value === undefined) throw new CliError(`--${key} needs a value\n${usage}`);
        (flags[key] ??= []).push(value);
    }
    const known = new Set(["host", "user", "key", "password-env", "addons", "controller", "prefix", "yes", "out"]);
    for (const k of Object.keys(flags)) if (!known.has(k)) throw new CliError(`unknown option --${k}\n${usage}`);
    const one = (k: string) => flags[k]?.[flags[k].length - 1];
    const prefix = one("prefix") ?? env.K8S_LAB_PREFIX ?? "lab-";
    const [command, name, ...rest] = positional;
    // restore takes the snapshot file after the name; nothing else takes more than a name.
    const file = command === "restore" ? rest.shift() : undefined;
    if (rest.length) throw new CliError(`unexpected ${rest.join(" ")}\n${usage}`);
    if (one("out") !== undefined && command !== "backup") throw new CliError(`--out is for backup only\n${usage}`);
    const needName = () => {
        if (!name) throw new CliError(`${command} needs a lab name\n${usage}`);
        return name;
    };
    switch (command) {
        case "new": {
            const addons = (one("addons") ?? defaultAddons.join(",")).split(",").filter(Boolean);
            for (const a of addons) {
                if (!(allAddons as readonly string[]).includes(a)) throw new CliError(`--addons: ${a} is not a layer; use ${allAddons.join(", ")}`);
            }
            if (one("key") && one("password-env")) throw new CliError("give --key or --password-env, not both");
            return {
                prefix,
                lab: {
                    command,
                    name: needName(),
                    hosts: (flags.host ?? []).map(parseHost),
                    user: one("user") ?? "root",
                    keyPath: one("key"),
                    passwordEnv: one("password-env"),
                    addons,
                    controller: one("controller"),
                },
            };
        }
        case "list":
            return { prefix, lab: { command } };
        case "rm":
        case "forget":
            return { prefix, lab: { command, name: needName(), yes: one("yes") === "true" } };
        case "verify":
            return { prefix, lab: { command, name: needName() } };
        case "backup":
            return { prefix, lab: { command, name: needName(), outDir: one("out") } };
        case "restore": {
            const lab = needName();
            if (!file) throw new CliError(`restore needs the snapshot file: npm run lab -- restore ${lab} <file> --yes`);
            return { prefix, lab: { command, name: lab, file, yes: one("yes") === "true" } };
        }
        default:
            throw new CliError(usage);
    }
}

/** The stack of a lab. Names are DNS-1123 labels, so stacks, files and outputs never clash. */
export function stackName(prefix: string, name: string): string {
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) || name.length > 40) {
        throw new CliError(`lab name ${JSON.stringify(name)}: use lower-case letters, digits and '-' (40 at most)`);
    }
    if (!/^[A-Za-z0-9_.-]*$/.test(prefix)) throw new CliError(`--prefix ${JSON.stringify(prefix)}: use letters, digits, '-', '_' or '.'`);
    return `${prefix}${name}`;
}

/** The non-secret configuration a new lab's stack file gets. */
export function newLabConfig(lab: NewLab): Record<string, unknown> {
    const addons: Record<string, unknown> = {};
    for (const a of allAddons) addons[a] = lab.addons.includes(a) ? {} : false;
    if (lab.controller && addons.ingress) addons.ingress = { controller: lab.controller };
    return {
        "k8s-lab:hosts": lab.hosts,
        "k8s-lab:ssh": { user: lab.user },
        "k8s-lab:addons": addons,
    };
}

/** Checks a new lab's configuration as the program will, before any stack is made. */
function checkNewLab(lab: NewLab, secret: { privateKey?: string; password?: string }): void {
    const config = newLabConfig(lab);
    const raw: RawConfig = {
        hosts: config["k8s-lab:hosts"],
        ssh: { ...(config["k8s-lab:ssh"] as object), ...secret },
        addons: config["k8s-lab:addons"],
    };
    try {
        validateConfig(raw);
    } catch (e) {
        if (e instanceof ConfigError) throw new CliError(e.message);
        throw e;
    }
}

export interface LabDeps {
    pulumi: PulumiRunner;
    root: string;
    env: NodeJS.ProcessEnv;
    readFile: (p: string) => string;
    print: (line: string) => void;
}

export function createLab(prefix: string, lab: NewLab, deps: LabDeps): string {
    const stack = stackName(prefix, lab.name);
    const file = path.join(deps.root, `Pulumi.${stack}.yaml`);
    if (fs.existsSync(file)) throw new CliError(`lab ${lab.name} exists (${path.basename(file)}); remove it with npm run lab -- rm ${lab.name} --yes, or pick another name`);
    if (lab.hosts.length === 0) throw new CliError(`give the lab's hosts: --host NAME=ADDRESS:ROLE[+ROLE], one per host\n${usage}`);
    const secret: { privateKey?: string; password?: string } = {};
    if (lab.keyPath) {
        const keyPath = lab.keyPath.startsWith("~/") ? path.join(os.homedir(), lab.keyPath.slice(2)) : lab.keyPath;
        try {
            secret.privateKey = deps.readFile(keyPath);
        } catch {
            throw new CliError(`--key ${lab.keyPath}: cannot read it; give the path of the SSH private key for the hosts`);
        }
    } else if (lab.passwordEnv) {
        secret.password = deps.env[lab.passwordEnv];
        if (!secret.password) throw new CliError(`--password-env ${lab.passwordEnv}: that environment variable is empty`);
    } else {
        throw new CliError("give --key PATH (an SSH private key for the hosts) or --password-env VAR");
    }
    checkNewLab(lab, secret);

    const init = deps.pulumi(["stack", "init", stack, "--secrets-provider", "passphrase", "--non-interactive"]);
    if (init.code !== 0) throw new CliError(`pulumi stack init ${stack} failed:\n${init.stderr.trim()}`);
    // stack init wrote the file with the stack's encryption salt; the configuration goes beside it.
    const doc = fs.existsSync(file) ? (YAML.parse(fs.readFileSync(file, "utf8")) ?? {}) : {};
    doc.config = { ...(doc.config ?? {}), ...newLabConfig(lab) };
    fs.writeFileSync(file, YAML.stringify(doc));
    for (const [key, value] of Object.entries(secret)) {
        // The value goes on stdin: neither the process list nor the shell history sees it.
        const set = deps.pulumi(["config", "set", "--secret", "--path", `k8s-lab:ssh.${key}`, "--stack", stack], { input: value });
        if (set.code !== 0) throw new CliError(`pulumi config set --secret k8s-lab:ssh.${key} failed:\n${set.stderr.trim()}`);
    }
    // Added after pulumi's own writes, which need not keep a comment, so that editors find the schema.
    const text = fs.readFileSync(file, "utf8");
    if (!text.startsWith(`${modeline}\n`)) fs.writeFileSync(file, `${modeline}\n${text}`);
    deps.print(`made lab ${lab.name}: stack ${stack}, configuration in ${path.basename(file)}`);
    deps.print(`next: npm run preview -- --stack ${stack}   (then npm run up -- --stack ${stack})`);
    return stack;
}

export interface LabRow {
    name: string;
    stack: string;
    hosts: string;
    lastUpdate: string;
    resources: string;
    urls: string;
}

/** One row a lab, from `pulumi stack ls --json`, its stack file and its outputs. */
export function labRows(prefix: string, stacks: { name: string; lastUpdate?: string; resourceCount?: number }[], deps: LabDeps): LabRow[] {
    return stacks
        .filter((s) => s.name.startsWith(prefix))
        .map((s) => {
            const file = path.join(deps.root, `Pulumi.${s.name}.yaml`);
            const config = fs.existsSync(file) ? YAML.parse(fs.readFileSync(file, "utf8"))?.config ?? {} : {};
            const hosts = (config["k8s-lab:hosts"] ?? []) as { name: string }[];
            const out = deps.pulumi(["stack", "output", "--json", "--stack", s.name]);
            const outputs = out.code === 0 ? (JSON.parse(out.stdout || "{}") as Record<string, unknown>) : {};
            const urls = Object.entries(outputs)
                .filter(([k, v]) => k.endsWith("Url") && typeof v === "string")
                .map(([, v]) => v as string);
            return {
                name: s.name.slice(prefix.length),
                stack: s.name,
                hosts: hosts.map((h) => h.name).join(",") || "-",
                lastUpdate: s.lastUpdate ?? "never",
                resources: String(s.resourceCount ?? 0),
                urls: urls.join(" ") || "-",
            };
        });
}

export function formatRows(rows: LabRow[]): string {
    const header: LabRow = { name: "LAB", stack: "STACK", hosts: "HOSTS", lastUpdate: "LAST UPDATE", resources: "RESOURCES", urls: "URLS" };
    const all = [header, ...rows];
    const keys = Object.keys(header) as (keyof LabRow)[];
    const width = (k: keyof LabRow) => Math.max(...all.map((r) => r[k].length));
    return all.map((r) => keys.map((k, i) => (i === keys.length - 1 ? r[k] : r[k].padEnd(width(k)))).join("  ")).join("\n");
}

export function listLabs(prefix: string, deps: LabDeps): LabRow[] {
    const ls = deps.pulumi(["stack", "ls", "--json"]);
    if (ls.code !== 0) throw new CliError(`pulumi stack ls failed:\n${ls.stderr.trim()}`);
    const rows = labRows(prefix, JSON.parse(ls.stdout || "[]"), deps);
    deps.print(rows.length ? formatRows(rows) : `no labs yet (stacks named ${prefix}*); make one with npm run lab -- new <name>`);
    return rows;
}

export function removeLab(prefix: string, name: string, yes: boolean, deps: LabDeps): void {
    const stack = stackName(prefix, name);
    if (!yes) throw new CliError(`rm destroys lab ${name} and its stack ${stack}; add --yes to go ahead`);
    const destroy = deps.pulumi(["destroy", "--yes", "--stack", stack], { interactive: true });
    // The stack stays when destroy fails, so that nothing on the hosts is forgotten.
    if (destroy.code !== 0) throw new CliError(`pulumi destroy of ${stack} failed; its stack is kept. Fix the cause and run rm again (see README, Troubleshooting)`);
    const rm = deps.pulumi(["stack", "rm", "--yes", "--stack", stack]);
    if (rm.code !== 0) throw new CliError(`pulumi stack rm ${stack} failed:\n${rm.stderr.trim()}`);
    deps.print(`removed lab ${name}`);
}

async function ask(question: string): Promise<string> {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
    try {
        return (await rl.question(question)).trim();
    } finally {
        rl.close();
    }
}

/** On a terminal, asks for what `new` was not given. */
async function completeInteractively(lab: NewLab): Promise<void> {
    if (!process.stdin.isTTY) return;
    while (lab.hosts.length === 0) {
        const line = await ask("hosts (NAME=ADDRESS:ROLE[+ROLE], several separated by spaces): ");
        lab.hosts = line.split(/\s+/).filter(Boolean).map(parseHost);
    }
    if (!lab.keyPath && !lab.passwordEnv) lab.keyPath = (await ask("SSH private key path [~/.ssh/id_ed25519]: ")) || "~/.ssh/id_ed25519";
    if (lab.user === "root") lab.user = (await ask("SSH user [root]: ")) || "root";
}

async function main(): Promise<void> {
    const { prefix, lab } = parseLabArgs(process.argv.slice(2));
    const deps: LabDeps = {
        pulumi: pulumiRunner(),
        root: projectRoot,
        env: process.env,
        readFile: (p) => fs.readFileSync(p, "utf8"),
        print: (l) => console.log(l),
    };
    switch (lab.command) {
        case "new":
            await completeInteractively(lab);
            createLab(prefix, lab, deps);
            break;
        case "list":
            listLabs(prefix, deps);
            break;
        case "rm":
            removeLab(prefix, lab.name, lab.yes, deps);
            break;
        case "forget":
            forgetStack(stackName(prefix, lab.name), lab.yes, deps.pulumi, deps.print);
            break;
        case "verify":
            process.exitCode = await verifyStack(stackName(prefix, lab.name), deps.pulumi);
            break;
        case "backup":
            await backupLab(stackName(prefix, lab.name), lab.name, lab.outDir, { ...deps, now: () => new Date(), ssh: spawnSsh });
            break;
        case "restore":
            await restoreLab(stackName(prefix, lab.name), lab.name, lab.file, lab.yes, { ...deps, now: () => new Date(), ssh: spawnSsh });
            break;
    }
}

if (require.main === module) {
    main().catch((e) => {
        if (e instanceof CliError) {
            console.error(`k8s-lab: ${e.message}`);
            process.exitCode = 2;
        } else {
            throw e;
        }
    });
}

/**
 * Renders the shell scripts under `scripts/` into the text the program sends to a host on
 * stdin: the script's parameters as shell variables, then `lib.sh`, then the script itself,
 * all inside one `{ ... } </dev/null` group. Bash reads the whole group before it runs any
 * of it, so a command that reads stdin (apt, kubeadm) cannot eat the rest of the script.
 *
 * Pure: the same script and parameters always give the same text, so the hash of the text
 * tells whether a host has any work to do.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";

export const scriptsDir = path.join(__dirname, "..", "..", "scripts");

const sourceLib = /^\. "\$\(dirname "\$\{BASH_SOURCE\[0\]\}"\)\/lib\.sh"\n/m;
const preamble = /^#!\/usr\/bin\/env bash\n(#.*\n)*set -euo pipefail\n(# shellcheck source=.*\n)?/;

const files = new Map<string, string>();

/** Reads a script once per process: a lab of a hundred hosts renders the same files often. */
function readScript(name: string): string {
    let text = files.get(name);
    if (text === undefined) {
        text = fs.readFileSync(path.join(scriptsDir, `${name}.sh`), "utf8");
        files.set(name, text);
    }
    return text;
}

/** The parameter names a script declares in its `# Parameters:` header block. */
export function declaredParameters(script: string): string[] {
    const block = /^# Parameters[^\n]*:\n((?:#[^\n]*\n)+)/m.exec(script);
    if (!block) return [];
    return [...block[1].matchAll(/^#\s{2,}([A-Z][A-Z0-9_]*)\s/gm)].map((m) => m[1]);
}

/** Quotes a value for bash: single quotes, with embedded single quotes spliced in. */
export function shellQuote(value: string): string {
    return `'${value.replace(/'/g, `'\\''`)}'`;
}

function body(script: string): string {
    return script.replace(preamble, "").replace(sourceLib, "");
}

/**
 * Renders `scripts/<name>.sh` with its parameters. Throws if a declared parameter is missing
 * or an unknown one is given, so that a script and its caller cannot drift apart unseen.
 */
export function renderScript(name: string, params: Readonly<Record<string, string>>): string {
    const script = readScript(name);
    const lib = readScript("lib");
    const declared = declaredParameters(script);
    const given = Object.keys(params);
    const missing = declared.filter((p) => !given.includes(p));
    const unknown = given.filter((p) => !declared.includes(p));
    if (missing.length || unknown.length) {
        throw new Error(`scripts/${name}.sh: missing parameters [${missing.join(", ")}], unknown parameters [${unknown.join(", ")}]`);
    }
    if (!sourceLib.test(script)) throw new Error(`scripts/${name}.sh does not source lib.sh the expected way`);
    const assignments = declared.map((p) => `${p}=${shellQuote(params[p])}`).join("\n");
    return [
        "#!/usr/bin/env bash",
        `# k8s-lab scripts/${name}.sh, rendered: parameters, scripts/lib.sh, then the script.`,
        "{",
        "set -euo pipefail",
        assignments,
        body(lib).trimEnd(),
        body(script).trimEnd(),
        "} </dev/null",
        "",
    ].join("\n");
}

/** The command line that runs a rendered script from stdin, as root, with an action. */
export function runCommand(user: string, action: "apply" | "remove"): string {
    const bash = `bash -s -- ${action}`;
    return user === "root" ? bash : `sudo -n ${bash}`;
}

/** Runs a fixed command as root (no script), with sudo for other users. */
export function asRoot(user: string, command: string): string {
    return user === "root" ? command : `sudo -n ${command}`;
}

export function sha256(text: string): string {
    return crypto.createHash("sha256").update(text).digest("hex");
}

import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";

const file = path.join(__dirname, "..", ".github", "workflows", "lab.yml");

describe("GitHub workflow", () => {
    const doc = YAML.parseDocument(fs.readFileSync(file, "utf8"));
    const wf = doc.toJSON();
    type Step = { uses?: string; run?: string; with?: Record<string, unknown> };
    const steps = (job: string): Step[] => wf.jobs[job].steps;
    const pulumiStep = (job: string) => steps(job).find((s) => s.uses?.startsWith("pulumi/actions@"));

    it("is valid YAML with the test, preview and up jobs", () => {
        assert.deepStrictEqual(doc.errors, []);
        assert.deepStrictEqual(Object.keys(wf.jobs).sort(), ["preview", "test", "up"]);
        assert.ok("pull_request" in wf.on && wf.on.push.branches.includes("main"));
    });

    it("tests with the README's command, skipping only the real-host tier", () => {
        assert.ok(steps("test").some((s) => s.run === "npm test"));
        assert.ok(steps("test").some((s) => s.run === "npm ci --ignore-scripts"));
        assert.strictEqual(wf.jobs.test.env.K8S_LAB_HOST_TESTS, "skip");
    });

    it("previews every lab stack of the matrix on pull requests and comments the diff", () => {
        const job = wf.jobs.preview;
        assert.match(job.if, /pull_request/);
        assert.deepStrictEqual(job.needs, "test");
        assert.match(job.strategy.matrix.stack, /vars\.LAB_STACKS/);
        assert.strictEqual(job.permissions["pull-requests"], "write");
        const p = pulumiStep("preview");
        assert.strictEqual(p?.with?.command, "preview");
        assert.strictEqual(p?.with?.["comment-on-pr"], true);
        assert.strictEqual(p?.with?.["stack-name"], "${{ matrix.stack }}");
    });

    it("runs up only on pushes to main, behind the lab environment's approval", () => {
        const job = wf.jobs.up;
        assert.match(job.if, /push/);
        assert.match(job.if, /refs\/heads\/main/);
        assert.strictEqual(job.environment, "lab");
        assert.strictEqual(pulumiStep("up")?.with?.command, "up");
        assert.match(job["runs-on"], /vars\.LAB_RUNNER/, "up can run where the hosts are reachable");
    });

    it("gives secrets only to the preview and up jobs, each behind an approval; forks and unset stacks get no preview", () => {
        const text = (x: unknown) => JSON.stringify(x ?? {});
        assert.ok(!text(wf.env).includes("secrets."), "no secret in the workflow's own environment");
        assert.ok(!text(wf.jobs.test).includes("secrets."), "the test job runs the pull request's code without secrets");
        for (const job of ["preview", "up"]) {
            assert.strictEqual(wf.jobs[job].env.PULUMI_BACKEND_URL, "${{ secrets.PULUMI_BACKEND_URL }}", job);
            assert.strictEqual(wf.jobs[job].env.PULUMI_CONFIG_PASSPHRASE, "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}", job);
            assert.match(wf.jobs[job].if, /vars\.LAB_STACKS != ''/, `${job} runs only for configured stacks`);
            assert.doesNotMatch(wf.jobs[job].strategy.matrix.stack, /\["dev"\]/, `${job} has no default stack`);
        }
        assert.strictEqual(wf.jobs.preview.environment, "lab-preview");
        assert.match(wf.jobs.preview.if, /head\.repo\.full_name == github\.repository/, "no preview for a fork's pull request");
    });

    it("pins the CLI to the project's", () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "package.json"), "utf8"));
        assert.strictEqual(wf.env.PULUMI_VERSION, pkg.devDependencies.pulumi);
        assert.strictEqual(pulumiStep("preview")?.with?.["pulumi-version"], "${{ env.PULUMI_VERSION }}");
    });
});

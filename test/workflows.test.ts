/**
 * The GitHub Actions workflows (.github/workflows): valid YAML, actions pinned by commit SHA, steps
 * that call only the project's own scripts, least-privilege permissions, and a reusable gate that
 * fails when k6 does and uploads its reports whatever the verdict.
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { scripts } from '../package.json';
import { TESTED_K6_VERSION } from '../scripts/gate/locate-k6';

// biome-ignore lint/suspicious/noExplicitAny: workflows are untyped YAML.
type Json = any;

const WORKFLOWS = path.join(__dirname, '..', '.github', 'workflows');
const files = readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f));
const text = (file: string) => readFileSync(path.join(WORKFLOWS, file), 'utf8');
const workflow = (file: string): Json => parse(text(file));
const steps = (wf: Json): Json[] => Object.values(wf.jobs as Record<string, Json>).flatMap((job) => job.steps ?? []);

/** One line of a `run:` script that only drives the project's own scripts. */
function isProjectCommand(line: string): boolean {
  if (line === '' || line === 'done' || line.startsWith('#')) return true;
  if (/^for [a-z_]+ in [a-z ]+; do$/.test(line)) return true;
  if (line === 'npm ci --no-audit --no-fund' || line === 'bash .ci/run') return true;
  const npmRun = /^npm run ([a-z:]+)(?: -- .*)?$/.exec(line);
  return npmRun !== null && npmRun[1] in scripts;
}

describe('GitHub workflows', () => {
  test('there is a CI workflow and a reusable gate workflow, both valid YAML', () => {
    expect(files.sort()).toEqual(['ci.yml', 'gate.yml']);
    for (const file of files) expect(() => workflow(file)).not.toThrow();
    expect(Object.keys(workflow('ci.yml').on).sort()).toEqual(['pull_request', 'push']);
    expect(Object.keys(workflow('gate.yml').on)).toEqual(['workflow_call']);
  });

  test.each(files)('%s pins every action to a full commit SHA, with its version in a comment', (file) => {
    const uses = text(file)
      .split('\n')
      .filter((line) => /^\s*(- )?uses:/.test(line));
    expect(uses.length).toBeGreaterThan(0);
    for (const line of uses) {
      expect(line).toMatch(/uses: [\w.-]+\/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
    }
    for (const step of steps(workflow(file)).filter((s) => s.uses)) {
      expect(step.uses).toMatch(/@[0-9a-f]{40}$/);
    }
  });

  test.each(files)('%s runs only npm scripts, npm ci and bash .ci/run', (file) => {
    for (const step of steps(workflow(file)).filter((s) => s.run !== undefined)) {
      for (const line of String(step.run)
        .split('\n')
        .map((l) => l.trim())) {
        expect({ step: step.name, line, allowed: isProjectCommand(line) }).toEqual({
          step: step.name,
          line,
          allowed: true,
        });
      }
      // Inputs and contexts reach a script as environment variables, never spliced into it.
      expect(step.run).not.toContain('${{');
      expect(step['continue-on-error']).toBeUndefined();
    }
  });

  test.each(files)('%s grants read access to the repository contents and nothing else', (file) => {
    const wf = workflow(file);
    expect(wf.permissions).toEqual({ contents: 'read' });
    for (const job of Object.values(wf.jobs as Record<string, Json>)) {
      expect(job.permissions).toBeUndefined();
    }
    for (const step of steps(wf).filter((s) => String(s.uses).startsWith('actions/checkout@'))) {
      expect(step.with['persist-credentials']).toBe(false);
    }
  });

  test.each(files)('%s installs the k6 release the suites are tested with', (file) => {
    const setups = steps(workflow(file)).filter((s) => String(s.uses).startsWith('grafana/setup-k6-action@'));
    expect(setups).toHaveLength(1);
    expect(String(setups[0].with['k6-version'])).toBe(TESTED_K6_VERSION);
  });
});

describe('the CI workflow', () => {
  const ci = workflow('ci.yml');
  const runs = steps(ci).map((s) => String(s.run ?? ''));

  test.each([
    ['installs from the lockfile', 'npm ci --no-audit --no-fund'],
    ['typechecks', 'npm run typecheck'],
    ['lints', 'npm run lint'],
    ['bundles the k6 suites', 'npm run loadtest:bundle'],
    ['synthesizes every stage', 'npm run synth -- --quiet -c stage="$stage"'],
    ['synthesizes the pipeline', 'npm run synth -- --quiet -c pipeline=true'],
    ['tests against PostgreSQL and Redis it installs itself', 'bash .ci/run'],
  ])('%s', (_what, command) => {
    expect(runs.some((r) => r.includes(command))).toBe(true);
  });

  test('tests on the supported LTS lines, Node 22 and 24, each on the Node setup-node installed', () => {
    const test = ci.jobs.test;
    expect(test.strategy.matrix.node).toEqual([22, 24]);
    const setup = test.steps.find((s: Json) => String(s.uses).startsWith('actions/setup-node@'));
    expect(setup.with['node-version']).toBe(`\${{ matrix.node }}`);
    const run = test.steps.find((s: Json) => s.run === 'bash .ci/run');
    expect(run.env).toEqual({ CI_NODE: 'machine' });
    // The other jobs use the release in .node-version, the one the images are built from.
    for (const job of [ci.jobs.checks, workflow('gate.yml').jobs.gate]) {
      const s = job.steps.find((st: Json) => String(st.uses).startsWith('actions/setup-node@'));
      expect(s.with).toEqual({ 'node-version-file': '.node-version' });
    }
  });

  test('the stage loop covers dev, staging and prod', () => {
    expect(runs.find((r) => r.includes('-c stage='))).toMatch(/for stage in dev staging prod; do/);
  });
});

describe('the reusable gate workflow', () => {
  const gate = workflow('gate.yml');
  const job = gate.jobs.gate;

  test('takes the target URL, the profile and the expected version', () => {
    const inputs = gate.on.workflow_call.inputs;
    expect(inputs['target-url']).toMatchObject({ required: true, type: 'string' });
    expect(inputs.profile).toMatchObject({ type: 'string', default: 'smoke' });
    // Without the version, answers from the old version could pass the gate.
    expect(inputs['expected-version']).toMatchObject({ required: true, type: 'string' });
  });

  test('runs npm run gate with those inputs, and its exit code is the job result', () => {
    const step = job.steps.find((s: Json) => String(s.run ?? '').startsWith('npm run gate'));
    expect(step.run).toBe(
      // A shell expansion, not a template: --baseline is passed only when the input is set.
      `npm run gate -- --target "$GATE_TARGET" \${GATE_BASELINE:+--baseline "$GATE_BASELINE"} --profile "$GATE_PROFILE" --expected-version "$GATE_EXPECTED_VERSION" --out reports`,
    );
    const input = (name: string) => `\${{ inputs.${name} }}`;
    expect(step.env).toEqual({
      GATE_TARGET: input('target-url'),
      GATE_PROFILE: input('profile'),
      GATE_EXPECTED_VERSION: input('expected-version'),
      // Optional: with a serving version's URL the gate also compares against it; empty, fixed limits only.
      GATE_BASELINE: input('baseline-url'),
    });
    expect(step['continue-on-error']).toBeUndefined();
    expect(step.run).not.toMatch(/\|\||;\s*true|set \+e/);
  });

  test('uploads the JSON and JUnit reports even when the gate fails', () => {
    const gateIndex = job.steps.findIndex((s: Json) => String(s.run ?? '').startsWith('npm run gate'));
    const uploadIndex = job.steps.findIndex((s: Json) => String(s.uses).startsWith('actions/upload-artifact@'));
    expect(uploadIndex).toBeGreaterThan(gateIndex);
    const upload = job.steps[uploadIndex];
    expect(upload.if).toBe('always()');
    expect(upload.with.path).toBe('reports/');
    expect(job.steps[gateIndex].run).toContain('--out reports');
  });

  test('has a time limit above the longest profile', () => {
    expect(job['timeout-minutes']).toBeGreaterThanOrEqual(30);
  });
});

/**
 * The bundled gate under REAL k6, against a FAKE chat API (test/loadtests/support/fake-chat-api.ts).
 * This proves the k6 side: k6 accepts every profile's options and thresholds, setup() aborts on a
 * target that is not ready, and the smoke gate passes a healthy target and fails each broken one
 * with k6's own exit code. It says nothing about the reference service; the end-to-end test against
 * the local stack does.
 *
 * Needs k6 (K6_BIN or PATH). Without it the tests are skipped, loudly.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GATE_ENV, GATE_EXIT_CODES, GATE_PROFILES, GATE_REPORT_FILES } from '../../lib/contract/gate';
import { GATE_PROFILE_SPECS } from '../../lib/contract/gate-profiles';
import { GATE_METRICS } from '../../lib/contract/metrics';
import { bundleLoadtests } from '../../loadtests/bundle';
import { readGateConfig } from '../../loadtests/src/lib/config';
import { buildK6Options } from '../../loadtests/src/lib/options';
import { resolvePlan } from '../../loadtests/src/lib/plan';
import { buildThresholds } from '../../loadtests/src/lib/thresholds';
import { locateK6 } from '../../scripts/gate/locate-k6';
import { type FakeChatApiOptions, startFakeChatApi } from './support/fake-chat-api';

const k6 = locateK6(process.env);
if (!k6.found) {
  console.warn(`SKIPPED: the k6 gate tests under real k6 did not run: ${k6.message}`);
}
const describeWithK6 = k6.found ? describe : describe.skip;
const suiteName = k6.found
  ? 'the bundled gate under real k6, against a fake chat API'
  : `SKIPPED (no k6 on K6_BIN or PATH): the bundled gate under real k6, against a fake chat API`;

interface K6Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly outDir: string;
}

describeWithK6(suiteName, () => {
  let work: string;
  let script: string;

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'gate-k6-'));
    await bundleLoadtests({ outDir: path.join(work, 'dist') });
    script = path.join(work, 'dist', 'gate.js');
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  function runK6(args: string[], env: Record<string, string>): Promise<K6Run> {
    const outDir = mkdtempSync(path.join(work, 'out-'));
    const e = { [GATE_ENV.outDir]: outDir, [GATE_ENV.runId]: `t${Date.now().toString(36)}`, ...env };
    const flags = Object.entries(e).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    return new Promise((resolve) => {
      execFile(
        k6.found ? k6.path : 'k6',
        [...args, ...flags, script],
        // Only what k6 needs: no GATE_ENV values leak in from the developer's shell.
        { env: { PATH: process.env.PATH ?? '', HOME: work }, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
          resolve({ code, stdout, stderr, outDir });
        },
      );
    });
  }

  async function smokeAgainst(fake: FakeChatApiOptions, env: Record<string, string> = {}): Promise<K6Run> {
    const api = await startFakeChatApi(fake);
    try {
      return await runK6(['run', '--quiet'], { [GATE_ENV.baseUrl]: api.url, [GATE_ENV.profile]: 'smoke', ...env });
    } finally {
      await api.close();
    }
  }

  test.each(GATE_PROFILES)('k6 accepts the %s profile: its scenarios exactly as planned', async (profile) => {
    const env = { [GATE_ENV.baseUrl]: 'http://127.0.0.1:9', [GATE_ENV.profile]: profile };
    const run = await runK6(['inspect'], env);
    expect(run.code).toBe(0);
    const inspected = JSON.parse(run.stdout);
    const config = readGateConfig(env);
    const plan = resolvePlan(GATE_PROFILE_SPECS[profile], config);
    const planned = buildK6Options(plan, buildThresholds(plan));
    expect(Object.keys(inspected.scenarios).sort()).toEqual(Object.keys(planned.scenarios).sort());
    for (const [name, scenario] of Object.entries(planned.scenarios)) {
      expect(inspected.scenarios[name].executor).toBe(scenario.executor);
      expect(inspected.scenarios[name].exec).toBe(scenario.exec);
    }
    expect(Object.keys(inspected.thresholds).sort()).toEqual(Object.keys(planned.thresholds).sort());
  });

  test.each(GATE_PROFILES)(
    'k6 parses every threshold of %s, and fails the guards when there is no load',
    async (profile) => {
      const api = await startFakeChatApi();
      try {
        // --iterations replaces the profile's scenarios with one iteration: the guards must catch it.
        const run = await runK6(['run', '--quiet', '--iterations', '1', '--vus', '1'], {
          [GATE_ENV.baseUrl]: api.url,
          [GATE_ENV.profile]: profile,
          [GATE_ENV.expectedVersion]: '1.0.0',
        });
        expect(run.code).toBe(GATE_EXIT_CODES.thresholdsFailed);
        const summary = JSON.parse(readFileSync(path.join(run.outDir, GATE_REPORT_FILES.json), 'utf8'));
        const plan = resolvePlan(
          GATE_PROFILE_SPECS[profile],
          readGateConfig({
            [GATE_ENV.baseUrl]: api.url,
            [GATE_ENV.profile]: profile,
            [GATE_ENV.expectedVersion]: '1.0.0',
          }),
        );
        const reported = summary.gate.thresholds.filter((t: { role: string }) => t.role !== 'unplanned');
        expect(reported).toHaveLength(buildThresholds(plan).length);
        expect(reported.filter((t: { why: string }) => t.why.includes('did not report'))).toEqual([]);
        expect(summary.gate.verdict).toBe('FAIL');
      } finally {
        await api.close();
      }
    },
  );

  test('smoke passes a healthy target (exit 0), writes both reports and prints the verdict and one EMF line', async () => {
    const run = await smokeAgainst(
      {},
      { [GATE_ENV.expectedVersion]: '1.0.0', [GATE_ENV.serviceName]: 'chat-api-test' },
    );
    expect({ code: run.code, stderr: run.stderr.slice(-2000) }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(run.stdout).toMatch(/^verdict: PASS: all \d+ thresholds held \(time to verdict [\d.]+ s\)$/m);
    const emfLines = run.stdout.split('\n').filter((l) => l.startsWith('{"_aws"'));
    expect(emfLines).toHaveLength(1);
    const emf = JSON.parse(emfLines[0] as string);
    expect(emf).toMatchObject({
      Service: 'chat-api-test',
      [GATE_METRICS.names.failed]: 0,
      [GATE_METRICS.names.requests]: 45,
    });
    const summary = JSON.parse(readFileSync(path.join(run.outDir, GATE_REPORT_FILES.json), 'utf8'));
    expect(summary.gate).toMatchObject({ verdict: 'PASS', cacheHitRatePercent: 100, versionMatchPercent: 100 });
    expect(summary.gate.requests).toMatchObject({ main: 40, fresh: 5 });
    expect(summary.gate.durationSeconds).toBeLessThan(60);
    expect(readFileSync(path.join(run.outDir, GATE_REPORT_FILES.junit), 'utf8')).toContain('failures="0" errors="0"');
  });

  test.each<[string, FakeChatApiOptions, string]>([
    ['the LLM fails most calls', { llmFailureRate: 0.8 }, 'chat_success{scenario:fresh}'],
    ['a different version answers', { version: '0.9.0' }, 'chat_version_match'],
    ['the cache stopped caching', { cacheEnabled: false }, 'chat_cache_hit{scenario:smoke}'],
    ['the cache is down (readiness degraded)', { readiness: 'degraded' }, 'chat_cache_hit{scenario:smoke}'],
  ])('smoke fails (exit 99) when %s', async (_what, fake, breached) => {
    const run = await smokeAgainst(fake, { [GATE_ENV.expectedVersion]: '1.0.0' });
    expect(run.code).toBe(GATE_EXIT_CODES.thresholdsFailed);
    expect(run.stdout).toMatch(new RegExp(`^ +FAIL {2}${breached.replace(/[{}]/g, '\\$&')} `, 'm'));
    expect(run.stdout).toMatch(/^verdict: FAIL/m);
  });

  test('setup() aborts (exit 108) when the target is not ready, and the verdict is ERROR', async () => {
    const run = await smokeAgainst({ readiness: 'not_ready' });
    expect(run.code).toBe(GATE_EXIT_CODES.scriptAborted);
    expect(run.stderr).toContain('target not ready');
    expect(run.stdout).toMatch(/^verdict: ERROR/m);
    expect(readFileSync(path.join(run.outDir, GATE_REPORT_FILES.junit), 'utf8')).toContain('errors="1"');
  });

  test('nothing listening at BASE_URL aborts setup() (exit 108)', async () => {
    const run = await runK6(['run', '--quiet'], { [GATE_ENV.baseUrl]: 'http://127.0.0.1:9' });
    expect(run.code).toBe(GATE_EXIT_CODES.scriptAborted);
    expect(run.stderr).toContain('unreachable');
  });

  test('an override that would loosen the gate stops k6 before any load (exit 107)', async () => {
    const run = await runK6(['run', '--quiet'], {
      [GATE_ENV.baseUrl]: 'http://127.0.0.1:9',
      [GATE_ENV.minSuccessRate]: '0.1',
    });
    expect(run.code).toBe(107);
    expect(run.stderr).toContain('would loosen');
    expect(existsSync(path.join(run.outDir, GATE_REPORT_FILES.json))).toBe(false);
  });

  test('smoke split across two runners, as the hook does it: each runner passes on its share of the load', async () => {
    const api = await startFakeChatApi();
    try {
      const runs = await Promise.all(
        ['0:1/2', '1/2:1'].map((segment) =>
          runK6(['run', '--quiet', '--execution-segment', segment, '--execution-segment-sequence', '0,1/2,1'], {
            [GATE_ENV.baseUrl]: api.url,
            [GATE_ENV.profile]: 'smoke',
            [GATE_ENV.executionSegment]: segment,
          }),
        ),
      );
      expect(runs.map((r) => r.code)).toEqual([0, 0]);
      const requests = runs.map(
        (r) => JSON.parse(readFileSync(path.join(r.outDir, GATE_REPORT_FILES.json), 'utf8')).gate.requests,
      );
      expect(requests.reduce((sum, r) => sum + r.main, 0)).toBe(40);
      expect(requests.reduce((sum, r) => sum + r.fresh, 0)).toBe(5);
      for (const r of requests) expect(r.fresh).toBeGreaterThan(0);
    } finally {
      await api.close();
    }
  });

  test('a runner whose --execution-segment disagrees with EXECUTION_SEGMENT refuses to judge (exit 108)', async () => {
    const api = await startFakeChatApi();
    try {
      const run = await runK6(['run', '--quiet', '--execution-segment', '0:1/2'], {
        [GATE_ENV.baseUrl]: api.url,
        [GATE_ENV.profile]: 'smoke',
      });
      expect(run.code).toBe(GATE_EXIT_CODES.scriptAborted);
      expect(run.stderr).toContain(`${GATE_ENV.executionSegment} is unset`);
    } finally {
      await api.close();
    }
  });
});

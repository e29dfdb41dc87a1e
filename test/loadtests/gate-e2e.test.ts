/**
 * End to end: `npm run gate` (the real wrapper, the real bundle, real k6) against the local stack
 * that `npm run local` runs (scripts/harness: Postgres with SSL, Redis with TLS + AUTH, the fake
 * LLM, the reference service built from source). The gate must pass the healthy service, and fail
 * with k6's 99 when the LLM fails most calls or the answers come from another version.
 *
 * Needs k6 (K6_BIN or PATH); without it the suite is skipped, loudly. Postgres and Redis must be
 * installed (the harness starts its own on random ports; .ci/run installs them).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GATE_ENV, GATE_EXIT_CODES, GATE_REPORT_FILES } from '../../lib/contract/gate';
import { locateK6 } from '../../scripts/gate/locate-k6';
import { ensureServiceBuilt, type LocalIssuer, type LocalStack, startLocalStack } from '../../scripts/harness';

const REPO = path.resolve(__dirname, '..', '..');

/** The env `npm run local` writes to .local/gate.env: the local issuer's gate client. */
function gateCredentials(stack: LocalStack): Record<string, string> {
  const issuer = stack.issuer as LocalIssuer;
  return {
    [GATE_ENV.tokenUrl]: issuer.tokenUrl,
    [GATE_ENV.clientId]: issuer.gateClient.clientId,
    [GATE_ENV.clientSecret]: issuer.gateClient.clientSecret,
  };
}
const APP_VERSION = 'e2e-1.0.0';

const k6 = locateK6(process.env);
if (!k6.found) console.warn(`SKIPPED: the end-to-end gate tests did not run: ${k6.message}`);
const describeWithK6 = k6.found ? describe : describe.skip;

interface GateRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly outDir: string;
}

describeWithK6(
  k6.found
    ? 'npm run gate against the local stack (real k6, real service)'
    : 'SKIPPED (no k6 on K6_BIN or PATH): npm run gate against the local stack (real k6, real service)',
  () => {
    let stack: LocalStack;
    let work: string;

    beforeAll(async () => {
      work = mkdtempSync(path.join(tmpdir(), 'gate-e2e-'));
      const bundle = await ensureServiceBuilt({ shared: true });
      stack = await startLocalStack({
        bundle,
        appVersion: APP_VERSION,
        llm: { latencyMs: 60, jitterMs: 20 },
        // Three smoke runs (about 55 requests each, all from 127.0.0.1) inside a minute: with the
        // default 120 per client per minute the later runs would measure the rate limiter.
        serviceEnv: { RATE_LIMIT_PER_MINUTE: '1000' },
      });
    }, 180_000);

    afterAll(async () => {
      await stack?.stop();
      rmSync(work, { recursive: true, force: true });
    });

    function runGate(args: string[]): Promise<GateRun> {
      const outDir = mkdtempSync(path.join(work, 'out-'));
      return new Promise((resolve) => {
        execFile(
          process.execPath,
          [
            '--import',
            'tsx',
            path.join(REPO, 'scripts', 'gate.ts'),
            '--target',
            stack.url as string,
            '--out',
            outDir,
            ...args,
          ],
          {
            cwd: REPO,
            env: {
              PATH: process.env.PATH ?? '',
              HOME: work,
              K6_BIN: k6.found ? k6.path : '',
              SERVICE_NAME: 'chat-e2e',
              // The gate's machine client at the local issuer: setup() fetches its token.
              ...gateCredentials(stack),
            },
            timeout: 120_000,
            maxBuffer: 16 * 1024 * 1024,
          },
          (error, stdout, stderr) => {
            resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr, outDir });
          },
        );
      });
    }

    const summaryOf = (run: GateRun) => JSON.parse(readFileSync(path.join(run.outDir, GATE_REPORT_FILES.json), 'utf8'));
    const failed = (run: GateRun) =>
      summaryOf(run)
        .gate.thresholds.filter((t: { ok: boolean }) => !t.ok)
        .map((t: { metric: string }) => t.metric);

    test('the healthy service passes the smoke gate (exit 0), and the verdict comes in under 60 s', async () => {
      const run = await runGate(['--profile', 'smoke', '--expected-version', APP_VERSION]);
      expect({
        code: run.code,
        failed: run.code === 0 ? [] : failed(run),
        tail: run.code === 0 ? '' : run.stdout.slice(-3000),
      }).toEqual({
        code: GATE_EXIT_CODES.pass,
        failed: [],
        tail: '',
      });
      const seconds = Number(/^gate: time to verdict ([\d.]+) s/m.exec(run.stdout)?.[1]);
      expect(seconds).toBeGreaterThan(0);
      expect(seconds).toBeLessThan(60);
      const gate = summaryOf(run).gate;
      expect(gate).toMatchObject({ verdict: 'PASS', versionMatchPercent: 100, serviceName: 'chat-e2e' });
      expect(gate.cacheHitRatePercent).toBeGreaterThan(90);
      expect(gate.failedChecks).toEqual([]);
    }, 120_000);

    test('answers from a different version than expected fail the gate (exit 99)', async () => {
      const run = await runGate(['--profile', 'smoke', '--expected-version', 'e2e-0.9.0']);
      expect(run.code).toBe(GATE_EXIT_CODES.thresholdsFailed);
      expect(failed(run)).toContain('chat_version_match');
      expect(run.stdout).toMatch(/^gate FAIL: k6 exited 99/m);
    }, 120_000);

    test('a fake LLM failing most calls fails the gate (exit 99), through the run-unique prompts too', async () => {
      stack.llm.configure({ rate500: 0.95 });
      try {
        const run = await runGate(['--profile', 'smoke', '--expected-version', APP_VERSION]);
        expect(run.code).toBe(GATE_EXIT_CODES.thresholdsFailed);
        expect(failed(run)).toEqual(
          expect.arrayContaining(['chat_success{scenario:smoke}', 'chat_success{scenario:fresh}']),
        );
      } finally {
        stack.llm.configure({ rate500: 0 });
      }
    }, 120_000);
  },
);

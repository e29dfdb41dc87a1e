/**
 * End to end, the relative gate: `npm run gate -- --target CANDIDATE --baseline BASELINE` with real
 * k6 against two real service processes sharing Postgres and Redis (TLS + AUTH), each with its own
 * fake LLM and delaying proxies (scripts/harness/pair-stack.ts). An identical candidate passes (0),
 * a slower cache-hit path, a slower LLM, a slower tail, a buffered stream (later first token) and a
 * costlier prompt fail (99), swapped URLs are a gate error (not 0, not 99). Every regression is
 * injected at run time by a proxy or the candidate's fake LLM, never by a service flag.
 *
 * Needs k6 (K6_BIN or PATH); without it the suite is skipped, loudly.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GATE_EXIT_CODES } from '../../lib/contract/gate';
import { runGateChild } from '../../scripts/calibrate/run-gate';
import { locateK6 } from '../../scripts/gate/locate-k6';
import { ensureServiceBuilt } from '../../scripts/harness';
import { type PairStack, startPairStack } from '../../scripts/harness/pair-stack';

const k6 = locateK6(process.env);
if (!k6.found) console.warn(`SKIPPED: the relative gate end-to-end tests did not run: ${k6.message}`);
const describeWithK6 = k6.found ? describe : describe.skip;

// A model that streams: the first token after 80-100 ms, then one every 10 ms.
const LLM = { latencyMs: 80, jitterMs: 20, tokenIntervalMs: 10 };

describeWithK6(
  k6.found
    ? 'npm run gate --baseline against two local versions (real k6, real services)'
    : 'SKIPPED (no k6 on K6_BIN or PATH): npm run gate --baseline against two local versions',
  () => {
    let stack: PairStack;
    let work: string;

    beforeAll(async () => {
      work = mkdtempSync(path.join(tmpdir(), 'gate-compare-e2e-'));
      stack = await startPairStack({ llm: LLM, bundle: await ensureServiceBuilt() });
    }, 180_000);
    afterEach(() => stack?.resetCandidate());
    afterAll(async () => {
      await stack?.stop();
      rmSync(work, { recursive: true, force: true });
    });

    const gate = (extra: string[] = [], env: Record<string, string> = {}) =>
      runGateChild({
        env,
        args: [
          '--target',
          stack.candidate.url,
          '--baseline',
          stack.baseline.url,
          '--profile',
          'smoke',
          '--expected-version',
          stack.candidate.version,
          ...extra,
        ],
        outDir: mkdtempSync(path.join(work, 'out-')),
        k6Path: k6.found ? k6.path : '',
        home: work,
      });
    const failedComparisons = (run: Awaited<ReturnType<typeof gate>>) =>
      (run.report?.comparisons ?? []).filter((c) => !c.ok).map((c) => c.id);

    test('an identical candidate passes (exit 0), every comparison with figures, in under 60 s', async () => {
      const run = await gate();
      expect({ code: run.code, failed: failedComparisons(run) }).toEqual({ code: GATE_EXIT_CODES.pass, failed: [] });
      expect(run.report?.comparisons).toHaveLength(8);
      for (const c of run.report?.comparisons ?? []) expect(c.pairs).toBeGreaterThan(0);
      expect(run.stdout).toMatch(/PASS {2}cache-hit latency: baseline [\d.]+ ms, candidate [\d.]+ ms/);
      const seconds = Number(/^gate: time to verdict ([\d.]+) s/m.exec(run.stdout)?.[1]);
      expect(seconds).toBeLessThan(60);
    }, 180_000);

    test('a cache-hit path 40 ms slower (every Redis round trip) fails (exit 99) on hit latency', async () => {
      stack.candidate.redisProxy.setDelay(40);
      const run = await gate();
      expect(run.code).toBe(GATE_EXIT_CODES.thresholdsFailed);
      expect(failedComparisons(run)).toContain('hit_latency');
    }, 180_000);

    test('an LLM four times as slow fails (exit 99) on LLM time', async () => {
      stack.candidate.llm.configure({ latencyMs: LLM.latencyMs * 4, jitterMs: LLM.jitterMs * 4 });
      const run = await gate();
      expect(run.code).toBe(GATE_EXIT_CODES.thresholdsFailed);
      expect(failedComparisons(run)).toContain('llm_time');
    }, 180_000);

    test('a slower tail (one Postgres round trip in ten held 300 ms, the median unchanged) fails (exit 99) on tail latency', async () => {
      stack.candidate.postgresProxy.setHold({ share: 0.1, ms: 300 });
      const run = await gate();
      expect(run.code).toBe(GATE_EXIT_CODES.thresholdsFailed);
      expect(failedComparisons(run)).toContain('tail_latency');
    }, 180_000);

    test('a layer that buffers each whole response (first token with the last) fails (exit 99) on TTFT', async () => {
      stack.candidate.front.setBuffering(true);
      const run = await gate();
      expect(run.code).toBe(GATE_EXIT_CODES.thresholdsFailed);
      expect(failedComparisons(run)).toContain('ttft');
    }, 180_000);

    test('a system prompt 2,000 characters longer (about 500 more input tokens per call) fails (exit 99) on tokens per call', async () => {
      stack.candidate.llmProxy.setPromptPadding(2000);
      const run = await gate([], { LLM_PRICE_PER_MTOK: '3/15' });
      expect(run.code).toBe(GATE_EXIT_CODES.thresholdsFailed);
      expect(failedComparisons(run)).toContain('tokens_per_call');
      const cost = run.report?.cost;
      expect(cost?.candidate.tokensPerCall).toBeGreaterThan((cost?.baseline?.tokensPerCall ?? 0) + 400);
      expect(run.stdout).toMatch(/cost: {6}candidate [\d.]+ tokens\/call .*\$[\d.]+ per 1,000 answers; baseline/);
    }, 180_000);

    test('a baseline that answers with the candidate version is a gate error, neither 0 nor 99', async () => {
      const run = await runGateChild({
        args: [
          '--target',
          stack.candidate.url,
          '--baseline',
          stack.baseline.url,
          '--expected-version',
          stack.baseline.version, // as if the URLs were swapped: the "baseline" is the expected version
        ],
        outDir: mkdtempSync(path.join(work, 'out-')),
        k6Path: k6.found ? k6.path : '',
        home: work,
      });
      expect(run.code).toBe(GATE_EXIT_CODES.scriptAborted);
      expect(run.stdout + run.stderr).toMatch(/answers with the candidate's version/);
    }, 180_000);
  },
);

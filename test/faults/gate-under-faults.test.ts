/**
 * The gate itself under faults: `npm run gate` (the real wrapper, bundle and k6) against the real
 * service on the local stack, healthy and broken in the ways that matter. It must pass a healthy
 * service every time (10 of 10: a flaky gate gets ignored, then bypassed), and fail with k6's 99 on
 * a service returning errors, on a latency regression beyond the profile's own threshold, on a cache
 * that silently stopped caching, and on answers from the wrong version.
 *
 * Needs k6 (K6_BIN or PATH); without it every test here is skipped, loudly.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ERROR_CODES, HEADERS, ROUTES } from '../../lib/contract';
import { GATE_EXIT_CODES } from '../../lib/contract/gate';
import type { ServiceProcess } from '../../scripts/harness';
import { k6, k6Title, runGate, tail, warnIfNoK6 } from './support/gate';
import { type FaultStack, startFaultStack } from './support/stack';

jest.setTimeout(180_000);
warnIfNoK6('the gate-under-faults tests (test/faults/gate-under-faults)');

const VERSION = 'faults-gate-2.0.0';
const FLAKE_RUNS = 10;
const describeWithStack = k6.found ? describe : describe.skip;
/** What a cache that does not cache fails: the hit rate, and the HIT latency that then has no samples. */
const CACHE_THRESHOLDS = ['chat_cache_hit{scenario:smoke}', 'chat_latency{scenario:smoke,cache:HIT}'];

describeWithStack(k6Title('npm run gate against the real service, healthy and broken'), () => {
  let faults: FaultStack;
  let svc: ServiceProcess;

  beforeAll(async () => {
    faults = await startFaultStack({
      appVersion: VERSION,
      llm: { latencyMs: 60, jitterMs: 20 },
      serviceEnv: {
        // Fifteen gates from one address within minutes; the limiter is not what is under test.
        RATE_LIMIT_PER_MINUTE: '1000000',
        // The latency regression makes the LLM take 7 s; the service must wait for it, not time out.
        LLM_TIMEOUT_MS: '20000',
      },
    });
    svc = faults.stack.service as ServiceProcess;
  }, 120_000);

  afterAll(async () => {
    await faults?.stop();
  });

  const gate = (options: { expectedVersion?: string; env?: Record<string, string> } = {}) =>
    runGate({ target: svc.url, profile: 'smoke', expectedVersion: options.expectedVersion ?? VERSION, ...options });

  test(`passes a healthy service ${FLAKE_RUNS} times out of ${FLAKE_RUNS} (flake check)`, async () => {
    const runs: Array<{ code: number; wallSeconds: number; k6Seconds: unknown; failed: string[] }> = [];
    for (let i = 0; i < FLAKE_RUNS; i++) {
      const run = await gate();
      runs.push({
        code: run.code,
        wallSeconds: run.seconds,
        k6Seconds: run.report?.durationSeconds,
        failed: run.failed,
      });
      if (run.code !== 0) console.log(`healthy run ${i + 1} failed:\n${tail(run)}`);
    }
    const wall = runs.map((r) => r.wallSeconds);
    console.log(
      `flake check: ${runs.filter((r) => r.code === 0).length}/${FLAKE_RUNS} passed; time to verdict (wall clock, ` +
        `s): ${wall.join(', ')} (max ${Math.max(...wall)}); k6 setup-to-summary (s): ${runs.map((r) => r.k6Seconds).join(', ')}`,
    );
    expect(runs.map((r) => [r.code, r.failed])).toEqual(runs.map(() => [GATE_EXIT_CODES.pass, []]));
    expect(Math.max(...wall)).toBeLessThan(60);
  });

  test("fails on a latency regression beyond the profile's own threshold (LLM 60 ms → 8.5 s; smoke: p95 < 8000 ms)", async () => {
    await svc.waitForReadiness('ready', 5_000);
    // Every uncached answer now takes exactly 8.5 s. At least the follow-up turns (a fifth of the
    // mix, never cacheable across runs) are misses, so the p95 of successful answers is an LLM
    // answer: 8.5 s and a few ms, > 8000 whatever else is cached. Placed right after the flake check,
    // whose runs cached most of the corpus' long tail: fewer slow misses, a shorter run (a cold
    // cache takes ~45 s, near smoke's 45 s maxDuration).
    faults.stack.llm.configure({ latencyMs: 8_500, jitterMs: 0 });
    try {
      const run = await gate();
      console.log(
        `latency regression: exit ${run.code} after ${run.seconds} s, latency ${JSON.stringify(run.report?.latencyMs)}, failed ${JSON.stringify(run.failedThresholds)}`,
      );
      expect(run.code).toBe(GATE_EXIT_CODES.thresholdsFailed);
      expect(run.failedThresholds).toContain('chat_latency{scenario:smoke} p(95)<8000');
      // Only timing failed: every request was answered, and answered correctly; it was just slow.
      // A streamed miss's first token waits for the LLM too, so the fixed TTFT p95 may fail with it.
      const timing = ['chat_latency{scenario:smoke}', 'chat_ttft{scenario:fresh}'];
      expect(run.failed.filter((m) => !timing.includes(m))).toEqual([]);
    } finally {
      faults.stack.llm.configure({ latencyMs: 60, jitterMs: 20 });
    }
  });

  test('fails on answers from the wrong version (EXPECTED_VERSION mismatch)', async () => {
    await svc.waitForReadiness('ready', 5_000);
    const run = await gate({ expectedVersion: 'faults-gate-1.9.9' });
    console.log(`wrong version: exit ${run.code}, failed ${JSON.stringify(run.failed)}`);
    expect(run.code).toBe(GATE_EXIT_CODES.thresholdsFailed);
    expect(run.failed).toContain('chat_version_match');
  });

  test("fails on the seeds' up-but-broken server: ready, and every chat request a 500", async () => {
    const broken = await startUpButBroken(VERSION);
    try {
      const run = await runGate({ target: broken.url, profile: 'smoke', expectedVersion: VERSION });
      console.log(`up but broken: exit ${run.code}, failed ${JSON.stringify(run.failed)}`);
      expect(run.code).toBe(GATE_EXIT_CODES.thresholdsFailed);
      expect(run.failed).toContain('chat_success{scenario:smoke}');
    } finally {
      await new Promise((resolve) => broken.server.close(resolve));
    }
  });

  test('fails on a cache that silently stopped caching: Redis flushed continuously while readiness says ready', async () => {
    await svc.waitForReadiness('ready', 5_000);
    const admin = faults.stack.redis.client();
    await admin.connect();
    let flushes = 0;
    let stop = false;
    const flusher = (async () => {
      while (!stop) {
        await admin.flushall().catch(() => undefined);
        flushes += 1;
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    try {
      const run = await gate();
      console.log(
        `cache flushed continuously (${flushes} FLUSHALLs): exit ${run.code}, readiness ${JSON.stringify(run.report?.readiness)}, hit rate ${run.report?.cacheHitRatePercent}%, failed ${JSON.stringify(run.failed)}`,
      );
      expect(run.code).toBe(GATE_EXIT_CODES.thresholdsFailed);
      // The cache is what failed; every question was still answered.
      expect(run.failed).toContain('chat_cache_hit{scenario:smoke}');
      expect(run.failed.filter((m) => !CACHE_THRESHOLDS.includes(m))).toEqual([]);
      expect(run.report?.cacheHitRatePercent).toBeLessThan(20);
    } finally {
      stop = true;
      await flusher;
      admin.disconnect();
    }
  });

  test('fails on a cache that cannot be used at all: every answer BYPASS (Redis down, readiness degraded)', async () => {
    await faults.stack.redis.takeDown();
    try {
      await svc.waitForReadiness('degraded', 15_000);
      const run = await gate();
      console.log(
        `cache down (BYPASS): exit ${run.code}, readiness ${JSON.stringify(run.report?.readiness)}, hit rate ${run.report?.cacheHitRatePercent}%, failed ${JSON.stringify(run.failed)}`,
      );
      expect(run.code).toBe(GATE_EXIT_CODES.thresholdsFailed);
      expect(run.failed).toContain('chat_cache_hit{scenario:smoke}');
      expect(run.failed.filter((m) => !CACHE_THRESHOLDS.includes(m))).toEqual([]);
      expect(run.report?.cacheHitRatePercent).toBe(0);
    } finally {
      await faults.stack.redis.bringUp();
      await svc.waitForReadiness('ready', 20_000);
    }
  });

  // Last: the failures open the LLM circuit for 30 s, which would spoil any gate after this one.
  test('fails on a service returning errors (the LLM behind it fails 95% of calls: 503s)', async () => {
    await svc.waitForReadiness('ready', 5_000);
    faults.stack.llm.configure({ rate500: 0.95 });
    try {
      const run = await gate();
      console.log(`service returning errors: exit ${run.code}, failed ${JSON.stringify(run.failed)}`);
      expect(run.code).toBe(GATE_EXIT_CODES.thresholdsFailed);
      expect(run.failed).toEqual(
        expect.arrayContaining(['chat_success{scenario:smoke}', 'chat_success{scenario:fresh}']),
      );
    } finally {
      faults.stack.llm.configure({ rate500: 0 });
    }
  });

  test('secrets hygiene: no generated secret appears in anything the service printed', async () => {
    const leaks = await faults.stopServicesAndScan();
    expect(faults.capture.size).toBeGreaterThan(10_000);
    expect(leaks).toEqual([]);
  });
});

/** The seeds' server: `/health/ready` says ready, and every chat request is a 500. */
async function startUpButBroken(version: string): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const ready = req.url === ROUTES.ready || req.url === ROUTES.health;
    const body = ready
      ? { status: 'ready', version, checks: { database: 'ok', cache: 'ok', llm: 'ok' } }
      : { error: { code: ERROR_CODES.internal, message: 'Internal Server Error', request_id: 'seed' } };
    req.resume();
    req.on('end', () => {
      res.writeHead(ready ? 200 : 500, { 'content-type': 'application/json', [HEADERS.appVersion]: version });
      res.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

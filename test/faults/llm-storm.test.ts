/**
 * An LLM throttling storm against the real service: the fake LLM answers 429 to most calls while
 * a bounded load runs. Clients must get 429/503 with Retry-After (never a 500), each request may
 * cost the provider at most 3 calls (counted per prompt by the fake), the circuit must open (no
 * more provider calls, long Retry-After, readiness degraded) and close again by itself once the
 * storm is over, cache hits must keep being served, and the throttling must show in the metrics.
 *
 * The circuit stays open 30 s (the service's fixed breaker window), so this file takes ~40 s;
 * jest runs it next to the other fault files.
 */
import { ERROR_CODES, ROUTES, SERVICE_METRICS } from '../../lib/contract';
import { emfDocuments, emfTotals, type ServiceProcess, waitFor } from '../../scripts/harness';
import { postJson } from '../service/support';
import { type LoadResult, startLoad, summarize } from './support/load';
import { type FaultStack, sleep, startFaultStack } from './support/stack';

jest.setTimeout(120_000);

const STORM_429_RATE = 0.95;
const HOT = ['What are your opening hours?', 'How do I reset my password?', 'Do you ship abroad?'];

let faults: FaultStack;
let svc: ServiceProcess;

beforeAll(async () => {
  faults = await startFaultStack({
    llm: { latencyMs: 20, retryAfterSeconds: 1 },
    serviceEnv: { RATE_LIMIT_PER_MINUTE: '1000000', LLM_TIMEOUT_MS: '3000', APP_VERSION: 'faults-llm-storm' },
  });
  svc = faults.stack.service as ServiceProcess;
}, 120_000);

afterAll(async () => {
  await faults?.stop();
});

test('429 storm: 429/503 + Retry-After, at most 3 calls per request, circuit opens and closes, hits served, metrics', async () => {
  const llm = faults.stack.llm;
  for (const q of HOT) expect((await postJson(`${svc.url}${ROUTES.chat}`, { message: q })).status).toBe(200);
  llm.resetStats();

  // --- the storm: most provider calls answer 429 (Retry-After: 1) ---------------------------------
  llm.configure({ rate429: STORM_429_RATE });
  const storm = startLoad({
    baseUrl: svc.url,
    workers: 4,
    budget: 1_000,
    deadlineMs: 40_000,
    pauseMs: 20,
    message: (i) => (i % 3 === 0 ? (HOT[(i / 3) % HOT.length] as string) : `storm unique ${i} ${Date.now()}`),
  });
  // Requests retry while the circuit is closed (each up to 3 calls, ~2 s with Retry-After: 1); after
  // 5 failed requests in a row it opens. The storm goes on with the circuit open until it has its
  // sample: more than 20 cache hits, and requests refused by the open circuit (bounded, well inside
  // the circuit's 30 s window, so the refusals below still have a window left to announce).
  const degradedDuringStorm = await svc.waitForReadiness('degraded', 30_000);
  const openedAtMs = storm.elapsedMs();
  await waitFor(
    () =>
      storm.results().filter((r) => HOT.includes(r.message)).length > 20 &&
      storm.results().some((r) => r.startedMs > openedAtMs && r.status !== 200),
    { what: 'more than 20 hits and a refusal by the open circuit', timeoutMs: 15_000, intervalMs: 50 },
  );
  storm.stop();
  const stormResults = await storm.done;
  const callsAtStormEnd = llm.stats().calls;

  // While the circuit is open the provider gets nothing: these fail at once, with the window left.
  const refused = await Promise.all(
    [1, 2, 3].map((i) => postJson(`${svc.url}${ROUTES.chat}`, { message: `while open ${i} ${Date.now()}` })),
  );
  const callsWhileOpen = llm.stats().calls - callsAtStormEnd;

  // --- the storm ends; the circuit closes by itself after its window ------------------------------
  llm.configure({ rate429: 0 });
  const stormOverAt = Date.now();
  let closedBy: LoadResult | undefined;
  const probe = startLoad({
    baseUrl: svc.url,
    workers: 1,
    budget: 400,
    deadlineMs: 45_000,
    pauseMs: 250,
    message: (i) => `after the storm ${i} ${Date.now()}`,
  });
  while (!closedBy && Date.now() - stormOverAt < 45_000) {
    await sleep(250);
    closedBy = probe.results().find((r) => r.status === 200);
  }
  probe.stop();
  const probeResults = await probe.done;
  const readyAgain = await svc.waitForReadiness('ready', 5_000);
  const closedAfterMs = Date.now() - stormOverAt;

  // --- judge ---------------------------------------------------------------------------------------
  const all = [...stormResults, ...probeResults];
  const failed = all.filter((r) => r.status !== 200);
  const uniques = stormResults.filter((r) => r.message.startsWith('storm unique'));
  const callsPerRequest = uniques.map((r) => llm.callsFor(r.message));
  const histogram: Record<string, number> = {};
  for (const n of callsPerRequest) histogram[n] = (histogram[n] ?? 0) + 1;
  const hot = stormResults.filter((r) => HOT.includes(r.message));
  const openRefusals = failed.filter((r) => llm.callsFor(r.message) === 0);
  console.log(
    `LLM storm (${STORM_429_RATE * 100}% 429): ${JSON.stringify(summarize(stormResults))}; circuit open (readiness ` +
      `degraded) ${Math.round(openedAtMs)} ms into the storm; provider calls per ` +
      `uncached request ${JSON.stringify(histogram)}; ${openRefusals.length} refused by the open circuit without ` +
      `a provider call; ${callsWhileOpen} provider calls while open; circuit closed ${closedAfterMs} ms after the ` +
      `storm ended (first 200 after it: ${closedBy?.cache}); after-storm answers ${JSON.stringify(summarize(probeResults).byStatus)}`,
  );

  // Never a 500: every failure is a 429 (throttled) or 503 (unavailable), with Retry-After.
  expect(all.filter((r) => r.status >= 500 && r.status !== 503)).toEqual([]);
  expect(failed.length).toBeGreaterThan(0);
  for (const r of failed) {
    expect([429, 503]).toContain(r.status);
    expect([ERROR_CODES.llmThrottled, ERROR_CODES.llmUnavailable]).toContain(r.errorCode);
    expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
  }
  // Bounded retries: no request cost the provider more than 3 calls.
  expect(Math.max(...callsPerRequest)).toBeLessThanOrEqual(3);
  expect(histogram['3']).toBeGreaterThan(0);
  // The circuit opened: readiness degraded (llm down), refusals without a provider call, with the
  // remaining window (up to 30 s) as Retry-After.
  expect(degradedDuringStorm.checks).toEqual({ database: 'ok', cache: 'ok', llm: 'down' });
  expect(openRefusals.length).toBeGreaterThan(0);
  expect(callsWhileOpen).toBe(0);
  for (const r of refused) {
    expect(r.status).toBe(429);
    expect(Number(r.headers['retry-after'])).toBeGreaterThan(5);
  }
  // ... and closed by itself: a fresh question is answered by the LLM again, readiness is ready.
  expect(closedBy).toBeDefined();
  expect(closedBy?.cache).toBe('MISS');
  expect(readyAgain.checks.llm).toBe('ok');
  // Cache hits kept being served all through the storm.
  expect(hot.length).toBeGreaterThan(20);
  expect(hot.filter((r) => r.status !== 200 || r.cache !== 'HIT')).toEqual([]);

  // Metrics, from the EMF flushed on shutdown: every 429 the provider sent was counted.
  const fake = llm.stats();
  await svc.stop();
  const totals = emfTotals(emfDocuments(svc.logs()));
  console.log(`LLM storm EMF: ${JSON.stringify(totals)}; fake LLM: ${JSON.stringify(fake)}`);
  expect(totals[SERVICE_METRICS.names.llmThrottled]).toBe(fake.throttled);
  expect(totals[SERVICE_METRICS.names.llmThrottled]).toBeGreaterThan(10);
  expect(totals[SERVICE_METRICS.names.serverErrors]).toBe(all.filter((r) => r.status >= 500).length);
});

test('secrets hygiene: no generated secret appears in anything the service printed', async () => {
  const leaks = await faults.stopServicesAndScan();
  expect(faults.capture.size).toBeGreaterThan(10_000);
  expect(leaks).toEqual([]);
});

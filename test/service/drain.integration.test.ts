/**
 * SIGTERM drain with requests in flight, against the real process: in-flight requests finish,
 * requests on already-open keep-alive connections are answered (not 5xx) with Connection: close,
 * new connections are refused, readiness says not_ready, and the process exits 0 within
 * DRAIN_TIMEOUT_MS after flushing its metrics.
 */
import { Agent } from 'node:http';
import { HEADERS, ROUTES, SERVICE_METRICS } from '../../lib/contract';
import { type LocalStack, startLocalStack } from '../../scripts/harness';
import { type HttpResult, http, postJson, uniqueText } from './support';

jest.setTimeout(60_000);

const DRAIN_TIMEOUT_MS = 10_000;
const LLM_LATENCY_MS = 1_500;

let stack: LocalStack;
/** One principal for the file: its repeated questions hit its own cache entries (CACHE_SHARE_AFTER_PRINCIPALS). */
const USER = 'drain-it-user';

beforeAll(async () => {
  stack = await startLocalStack({ serviceEnv: { DRAIN_TIMEOUT_MS: String(DRAIN_TIMEOUT_MS) } });
});

afterAll(async () => {
  await stack?.stop();
});

test('SIGTERM: in-flight requests complete, keep-alive stragglers are answered with Connection: close, exit 0', async () => {
  const svc = stack.service;
  if (!svc) throw new Error('no service');
  const url = svc.url;

  // A cached answer, so a request during the drain is quick.
  const cachedQuestion = uniqueText('cached');
  expect(
    (await postJson(`${url}${ROUTES.chat}`, { message: cachedQuestion }, { headers: stack.authHeaders(USER) })).status,
  ).toBe(200);

  // Two idle keep-alive connections, opened before the drain.
  const idle = new Agent({ keepAlive: true, maxSockets: 2 });
  await Promise.all([http(`${url}${ROUTES.health}`, { agent: idle }), http(`${url}${ROUTES.health}`, { agent: idle })]);
  expect(Object.values(idle.freeSockets).flat()).toHaveLength(2);

  // Five slow requests in flight (cache misses, each waits for the fake LLM).
  stack.llm.configure({ latencyMs: LLM_LATENCY_MS });
  const callsBefore = stack.llm.stats().calls;
  const busy = new Agent({ keepAlive: true, maxSockets: 5 });
  const inFlight: Array<Promise<HttpResult>> = [];
  for (let i = 0; i < 5; i++) {
    inFlight.push(
      postJson(
        `${url}${ROUTES.chat}`,
        { message: uniqueText(`in flight ${i}`) },
        { agent: busy, headers: stack.authHeaders(USER) },
      ),
    );
  }
  const deadline = Date.now() + 5_000;
  while (stack.llm.stats().calls - callsBefore < 5 && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 10));
  expect(stack.llm.stats().calls - callsBefore).toBe(5);

  const sigtermAt = Date.now();
  svc.signal('SIGTERM');
  await svc.waitForLog((l) => l.event === 'drain_started', 5_000);

  // Requests that arrive on the already-open connections are answered, and those connections close.
  const [ready, lateChat] = await Promise.all([
    http(`${url}${ROUTES.ready}`, { agent: idle }),
    postJson(`${url}${ROUTES.chat}`, { message: cachedQuestion }, { agent: idle, headers: stack.authHeaders(USER) }),
  ]);
  expect(ready.status).toBe(503);
  expect(ready.json()).toMatchObject({ status: 'not_ready' });
  expect(ready.headers.connection).toBe('close');
  expect(lateChat.status).toBe(200);
  expect(lateChat.headers[HEADERS.cache]).toBe('HIT');
  expect(lateChat.headers.connection).toBe('close');

  // A new connection is refused: the listening socket is closed.
  await expect(http(`${url}${ROUTES.health}`)).rejects.toThrow(/ECONNREFUSED/);

  // Every in-flight request completes normally.
  const results = await Promise.all(inFlight);
  expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
  for (const r of results) expect(r.json().reply).toContain('[fake-llm]');

  const exit = await svc.exited;
  const elapsed = Date.now() - sigtermAt;
  expect(exit).toEqual({ code: 0, signal: null });
  expect(elapsed).toBeLessThan(DRAIN_TIMEOUT_MS);
  expect(elapsed).toBeGreaterThanOrEqual(LLM_LATENCY_MS - 200);

  const finished = svc.logs().find((l) => l.event === 'drain_finished');
  expect(finished).toMatchObject({ forced: false });
  // The last metrics interval is flushed on the way out, as EMF under the contract namespace.
  const emf = svc
    .logs()
    .filter((l) => typeof l._aws === 'object')
    .at(-1) as Record<string, unknown> & { _aws: { CloudWatchMetrics: Array<{ Namespace: string }> } };
  expect(emf._aws.CloudWatchMetrics[0]?.Namespace).toBe(SERVICE_METRICS.namespace);
  expect(emf[SERVICE_METRICS.names.requests]).toBeGreaterThanOrEqual(7);
  expect(emf[SERVICE_METRICS.dimension]).toBe('chat-local');

  idle.destroy();
  busy.destroy();
});

/**
 * Quotas per principal and the LLM budget, against the real service: TWO service processes (two
 * "tasks") sharing one Postgres and one Redis (TLS + AUTH), real tokens from the local issuer, and
 * the fake LLM, which records what each call asked for and answers with `usage`.
 */
import { connect } from 'node:net';
import type { Redis } from 'ioredis';
import { ERROR_CODES, type ErrorResponse, HEADERS, LIMITS, ROUTES, SERVICE_METRICS } from '../../lib/contract';
import { type LocalStack, type ServiceProcess, startLocalStack, startServiceProcess } from '../../scripts/harness';
import { pooled } from '../support/pooled';
import { type HttpResult, postJson, uniqueText } from './support';

jest.setTimeout(180_000);

const REQUESTS_PER_MINUTE = 20;
const LLM_TOKENS_PER_MINUTE = 3_000;
const MAX_OUTPUT_TOKENS = 64;
const CONTEXT_BUDGET_TOKENS = 800;
/** Short, so the slow-provider tests take seconds. */
const LLM_TIMEOUT_MS = 2_000;

let stack: LocalStack;
let taskA: ServiceProcess;
let taskB: ServiceProcess;

beforeAll(async () => {
  stack = await startLocalStack({
    serviceEnv: {
      APP_VERSION: 'quota-it',
      QUOTA_REQUESTS_PER_MINUTE: String(REQUESTS_PER_MINUTE),
      QUOTA_LLM_TOKENS_PER_MINUTE: String(LLM_TOKENS_PER_MINUTE),
      LLM_MAX_OUTPUT_TOKENS: String(MAX_OUTPUT_TOKENS),
      LLM_CONTEXT_BUDGET_TOKENS: String(CONTEXT_BUDGET_TOKENS),
      LLM_TIMEOUT_MS: String(LLM_TIMEOUT_MS),
      // The per-address flood guard is not what these tests are about (every request comes from 127.0.0.1).
      RATE_LIMIT_PER_MINUTE: '100000',
    },
  });
  taskA = stack.service as ServiceProcess;
  // A second task: the same env, the same Redis and Postgres.
  taskB = await startServiceProcess({ env: stack.env, waitFor: 'ready' });
});

afterAll(async () => {
  await taskB?.stop();
  await stack?.stop();
});

const chat = (task: ServiceProcess, headers: Record<string, string>, body: Record<string, unknown>) =>
  postJson(`${task.url}${ROUTES.chat}`, body, { headers });

function expectQuotaRejection(res: HttpResult, code: string) {
  expect(res.status).toBe(429);
  expect(res.json<ErrorResponse>().error.code).toBe(code);
  expect(Number(res.headers[HEADERS.retryAfter])).toBeGreaterThanOrEqual(1);
  expect(Number(res.headers[HEADERS.retryAfter])).toBeLessThanOrEqual(60);
}

/** Sums a counter over the EMF lines a stopped service printed. */
function emfSum(task: ServiceProcess, metric: string): number {
  return task
    .logs()
    .filter((l) => (l as Record<string, unknown>)._aws !== undefined)
    .reduce((sum, l) => sum + Number((l as Record<string, unknown>)[metric] ?? 0), 0);
}

describe('QUOTA_REQUESTS_PER_MINUTE holds across tasks', () => {
  test('a flood from one principal across two service processes is limited to the quota in total', async () => {
    const headers = stack.authHeaders(uniqueText('flooder'));
    const message = uniqueText('flood');
    const started = Date.now();
    const results = await pooled(
      Array.from(
        { length: 3 * REQUESTS_PER_MINUTE },
        (_, i) => () => chat(i % 2 === 0 ? taskA : taskB, headers, { message }),
      ),
      6,
    );
    // The quota's window is one minute from the first request; the flood must fit in it to be judged.
    expect(Date.now() - started).toBeLessThan(55_000);
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    expect(statuses.filter((s) => s === 200)).toHaveLength(REQUESTS_PER_MINUTE);
    for (const res of results.filter((r) => r.status !== 200)) {
      expectQuotaRejection(res, ERROR_CODES.requestQuotaExceeded);
    }
    // Both tasks turned requests away: the count was shared, not per task.
    const rejectedBy = (task: ServiceProcess) =>
      results.filter((r, i) => r.status === 429 && (i % 2 === 0 ? taskA : taskB) === task).length;
    expect(rejectedBy(taskA)).toBeGreaterThan(0);
    expect(rejectedBy(taskB)).toBeGreaterThan(0);

    // Another principal is not affected.
    const other = await chat(taskA, stack.authHeaders(uniqueText('bystander')), { message });
    expect(other.status).toBe(200);
  });

  test('an unauthenticated flood is answered 401 and never counts against anyone', async () => {
    const results = await pooled(
      Array.from({ length: REQUESTS_PER_MINUTE + 5 }, () => () => chat(taskA, {}, { message: 'hi' })),
      5,
    );
    expect(new Set(results.map((r) => r.status))).toEqual(new Set([401]));
  });
});

describe('QUOTA_LLM_TOKENS_PER_MINUTE holds across tasks', () => {
  test("one principal's LLM calls are billed at most the token quota in total, then 429 token_quota_exceeded", async () => {
    const headers = stack.authHeaders(uniqueText('spender'));
    const prompts: string[] = [];
    const results: HttpResult[] = [];
    // Sequential misses alternating between the tasks, until refused (bounded).
    for (let i = 0; i < REQUESTS_PER_MINUTE - 2; i++) {
      const message = `${uniqueText('spend')} ${'tell me more about token budgets '.repeat(40)}`.trim();
      prompts.push(message);
      const res = await chat(i % 2 === 0 ? taskA : taskB, headers, { message });
      results.push(res);
      if (res.status === 429) break;
    }
    expect(results.filter((r) => r.status >= 500)).toEqual([]);
    const last = results[results.length - 1] as HttpResult;
    expectQuotaRejection(last, ERROR_CODES.tokenQuotaExceeded);
    expect(results.filter((r) => r.status === 200).length).toBeGreaterThan(1);

    // What the provider billed for this principal's calls, as the fake counted it.
    const billed = prompts
      .flatMap((p) => stack.llm.recordedFor(p))
      .reduce((sum, c) => sum + (c.usage ? c.usage.promptTokens + c.usage.completionTokens : 0), 0);
    expect(billed).toBeGreaterThan(0);
    expect(billed).toBeLessThanOrEqual(LLM_TOKENS_PER_MINUTE);
    // The refused request never reached the provider.
    expect(stack.llm.callsFor(prompts[prompts.length - 1] as string)).toBe(0);
  });
});

describe('the LLM budget per request', () => {
  test('LLM_MAX_OUTPUT_TOKENS reaches the provider as max_tokens, on the JSON and the streaming route', async () => {
    const headers = stack.authHeaders(uniqueText('budget'));
    const plain = uniqueText('max-tokens-json');
    expect((await chat(taskA, headers, { message: plain })).status).toBe(200);
    const streamed = uniqueText('max-tokens-stream');
    const res = await postJson(`${taskB.url}${ROUTES.chatStream}`, { message: streamed }, { headers });
    expect(res.status).toBe(200);
    expect(res.text).toContain('event: done');
    expect(stack.llm.recordedFor(plain).map((c) => c.maxTokens)).toEqual([MAX_OUTPUT_TOKENS]);
    expect(stack.llm.recordedFor(streamed).map((c) => [c.maxTokens, c.stream])).toEqual([[MAX_OUTPUT_TOKENS, true]]);
  });

  test('the context is trimmed to LLM_CONTEXT_BUDGET_TOKENS, oldest turns first, starting with a question', async () => {
    const headers = stack.authHeaders(uniqueText('talker'));
    // About 300 estimated tokens per question: two questions and their answers fit the budget, three do not.
    const long = (label: string) => `${uniqueText(label)} ${'a long question about budgets, '.repeat(30)}`.trim();
    const first = await chat(taskA, headers, { message: long('turn1') });
    expect(first.status).toBe(200);
    const session_id = first.json<{ session_id: string }>().session_id;
    const second = long('turn2');
    expect((await chat(taskB, headers, { message: second, session_id })).status).toBe(200);
    const third = long('turn3');
    expect((await chat(taskA, headers, { message: third, session_id })).status).toBe(200);

    // Turn 2 carries all of turn 1: system, question, answer, message.
    expect(stack.llm.recordedFor(second).map((c) => c.messages)).toEqual([4]);
    // Turn 3 would carry 6 messages without the budget; the oldest question and its answer are left out.
    expect(stack.llm.recordedFor(third).map((c) => c.messages)).toEqual([4]);
  });
});

describe('the LLM budget per request, against a slow provider', () => {
  test('a timed-out generation is billed at most once: not retried, answered 503 with Retry-After', async () => {
    const headers = stack.authHeaders(uniqueText('patient'));
    const message = uniqueText('never-answered');
    // The fake holds the next call past LLM_TIMEOUT_MS, then drops it.
    stack.llm.configure({ failNext: { kind: 'timeout', count: 1 }, hangMs: LLM_TIMEOUT_MS + 3_000 });
    try {
      const res = await chat(taskA, headers, { message });
      expect(res.status).toBe(503);
      expect(res.json<ErrorResponse>().error.code).toBe(ERROR_CODES.llmUnavailable);
      expect(Number(res.headers[HEADERS.retryAfter])).toBeGreaterThanOrEqual(1);
    } finally {
      stack.llm.configure({ failNext: null });
    }
    expect(stack.llm.callsFor(message)).toBe(1);
  });

  test("one principal's slow requests do not open the breaker for another principal", async () => {
    // More timed-out requests from one caller than the breaker's threshold (5), all at once.
    const slow = stack.authHeaders(uniqueText('slow-caller'));
    const count = 7;
    stack.llm.configure({ failNext: { kind: 'timeout', count }, hangMs: LLM_TIMEOUT_MS + 3_000 });
    let results: HttpResult[];
    try {
      results = await Promise.all(
        Array.from({ length: count }, (_, i) => chat(taskB, slow, { message: uniqueText(`slow-${i}`) })),
      );
    } finally {
      stack.llm.configure({ failNext: null });
    }
    expect(results.map((r) => r.status)).toEqual(Array(count).fill(503));
    // Every one of them reached the provider and timed out: none was refused by an open circuit.
    expect(stack.llm.stats().timeouts).toBeGreaterThanOrEqual(count);

    // Another principal is answered by the model, and the task still calls the LLM usable.
    const other = await chat(taskB, stack.authHeaders(uniqueText('other-caller')), { message: uniqueText('fine') });
    expect(other.status).toBe(200);
    expect((await taskB.readiness()).body.checks.llm).toBe('ok');
  });
});

describe('the breaker: one principal cannot open it, and a refusal costs no quota', () => {
  // A task of its own: its breaker is opened on purpose here and would stay open for 30 s.
  let task: ServiceProcess;
  let redis: Redis;
  beforeAll(async () => {
    task = await startServiceProcess({ env: stack.env, waitFor: 'ready' });
    redis = stack.redis.client();
    await redis.connect();
  });
  afterAll(async () => {
    redis?.disconnect();
    await task?.stop();
  });

  /** What the principal's token quota holds now, summed over its minute counters. */
  async function tokensCounted(sub: string): Promise<number> {
    const keys = await redis.keys(`quota:tok:*:${sub}`);
    const values = keys.length > 0 ? await redis.mget(keys) : [];
    return values.reduce((sum, v) => sum + Number(v ?? 0), 0);
  }

  test("one principal's empty answers (HTTP 200, no content) do not open the breaker for another principal", async () => {
    const mallory = stack.authHeaders(uniqueText('empty-caller'));
    const count = 7; // more than the breaker's threshold (5)
    stack.llm.configure({ failNext: { kind: 'empty', count } });
    const results: HttpResult[] = [];
    try {
      for (let i = 0; i < count; i++) results.push(await chat(task, mallory, { message: uniqueText(`empty-${i}`) }));
    } finally {
      stack.llm.configure({ failNext: null });
    }
    expect(results.map((r) => r.status)).toEqual(Array(count).fill(503));
    const victim = await chat(task, stack.authHeaders(uniqueText('victim')), { message: uniqueText('fine') });
    expect(victim.status).toBe(200);
    expect((await task.readiness()).body.checks.llm).toBe('ok');
  });

  test('a request the open breaker refuses returns its reserved tokens', async () => {
    // The provider fails (500s) for five requests: the breaker opens.
    stack.llm.configure({ failNext: { kind: 'error', count: 1_000 } });
    try {
      const opener = stack.authHeaders(uniqueText('opener'));
      for (let i = 0; i < 5; i++) await chat(task, opener, { message: uniqueText(`open-${i}`) });
      expect((await task.readiness()).body.checks.llm).toBe('down');

      const sub = uniqueText('refused-caller');
      const calls = stack.llm.stats().calls;
      for (let i = 0; i < 3; i++) {
        const refused = await chat(task, stack.authHeaders(sub), { message: uniqueText(`refused-${i}`) });
        expect(refused.status).toBe(503);
        expect(refused.json<ErrorResponse>().error.code).toBe(ERROR_CODES.llmUnavailable);
      }
      expect(stack.llm.stats().calls).toBe(calls);
      // The settlement is sent after the answer; give it a moment to land.
      const deadline = Date.now() + 5_000;
      while ((await tokensCounted(sub)) !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await tokensCounted(sub)).toBe(0);
    } finally {
      stack.llm.configure({ failNext: null });
    }
  });
});

describe('requestTimeout', () => {
  test('a stalled body is answered 408 (contract error body) within the request timeout, and the socket closed', async () => {
    const headers = stack.authHeaders(uniqueText('slowloris'));
    const started = Date.now();
    const answer = await new Promise<{ text: string; closedAfterMs: number }>((resolve, reject) => {
      const socket = connect(taskA.port, '127.0.0.1');
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (c: string) => {
        text += c;
      });
      socket.on('close', () => resolve({ text, closedAfterMs: Date.now() - started }));
      socket.on('error', reject);
      // Bounded: the test gives up (and fails) well after the promised time.
      socket.setTimeout(LIMITS.requestTimeoutMs + 15_000, () => socket.destroy(new Error('no answer, no close')));
      socket.write(
        `POST ${ROUTES.chat} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
          `Authorization: ${headers.authorization}\r\nContent-Length: 1000\r\n\r\n{"message": "half a bo`,
      );
    });
    expect(answer.text).toMatch(/^HTTP\/1\.1 408 /);
    const body = JSON.parse(answer.text.slice(answer.text.indexOf('\r\n\r\n') + 4)) as ErrorResponse;
    expect(body.error.code).toBe(ERROR_CODES.requestTimeout);
    // Node checks once a second; a busy machine gets a few seconds more.
    expect(answer.closedAfterMs).toBeGreaterThanOrEqual(LIMITS.requestTimeoutMs - 500);
    expect(answer.closedAfterMs).toBeLessThan(LIMITS.requestTimeoutMs + 10_000);
    // The service carries on.
    expect((await chat(taskA, stack.authHeaders(uniqueText('after')), { message: uniqueText('ok') })).status).toBe(200);
  });
});

describe('with the cache down', () => {
  test('the quota falls back to a per-task limit (never unlimited, never a 5xx), and says so in a metric', async () => {
    await stack.redis.takeDown();
    try {
      await taskA.waitForReadiness('degraded');
      await taskB.waitForReadiness('degraded');
      const headers = stack.authHeaders(uniqueText('outage'));
      const message = uniqueText('outage');
      const flood = (task: ServiceProcess) =>
        pooled(
          Array.from({ length: 2 * REQUESTS_PER_MINUTE }, () => () => chat(task, headers, { message })),
          4,
        );
      const [onA, onB] = await Promise.all([flood(taskA), flood(taskB)]);
      for (const results of [onA, onB]) {
        expect(results.filter((r) => r.status >= 500).map((r) => r.text)).toEqual([]);
        // Per task, the quota still holds (the token quota may refuse some earlier: each answer is a miss now).
        const ok = results.filter((r) => r.status === 200).length;
        expect(ok).toBeGreaterThan(0);
        expect(ok).toBeLessThanOrEqual(REQUESTS_PER_MINUTE);
        expect(results.filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(REQUESTS_PER_MINUTE);
        for (const res of results.filter((r) => r.status === 429)) {
          expect([ERROR_CODES.requestQuotaExceeded, ERROR_CODES.tokenQuotaExceeded]).toContain(
            res.json<ErrorResponse>().error.code,
          );
        }
      }
    } finally {
      await stack.redis.bringUp();
    }
    await taskA.waitForReadiness('ready', 30_000);

    // The metrics of task A, flushed when it stops: the fallback, the rejections, the tokens.
    await taskA.stop();
    const names = SERVICE_METRICS.names;
    expect(emfSum(taskA, names.quotaFallback)).toBeGreaterThanOrEqual(2 * REQUESTS_PER_MINUTE);
    expect(emfSum(taskA, names.quotaRequestsRejected)).toBeGreaterThan(0);
    expect(emfSum(taskA, names.llmTokensIn)).toBeGreaterThan(0);
    expect(emfSum(taskA, names.llmTokensOut)).toBeGreaterThan(0);
    expect(emfSum(taskA, names.llmUsageMissing)).toBe(0);
  });
});

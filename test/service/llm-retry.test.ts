import { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import { type FakeLlm, startFakeLlm } from '../../scripts/harness';
import { AppError } from '../../service/src/errors';
import { CircuitBreaker } from '../../service/src/llm/circuit-breaker';
import { isProviderSignal, OpenAiGateway } from '../../service/src/llm/llm-client';
import {
  backoffDelayMs,
  classifyLlmError,
  DEFAULT_RETRY_POLICY,
  EmptyAnswerError,
  LlmCallFailed,
  type LlmFailureKind,
  parseRetryAfterMs,
  withRetries,
} from '../../service/src/llm/retry';
import { silentLogger } from '../../service/src/observability/logger';
import { EmfMetrics } from '../../service/src/observability/metrics';

const apiError = (status: number, headers: Record<string, string> = {}) =>
  APIError.generate(status, { message: `status ${status}` }, undefined, new Headers(headers));

const noSleep = { sleep: async () => undefined };
/** The per-call budget every gateway is built with (LLM_MAX_OUTPUT_TOKENS, LLM_CONTEXT_BUDGET_TOKENS). */
const BUDGET = { maxOutputTokens: 256, contextBudgetTokens: 2_000 };

describe('LLM retries', () => {
  test('at most 3 attempts in total on persistent throttling, then the last failure', async () => {
    let calls = 0;
    const failed = await withRetries(
      async () => {
        calls += 1;
        throw apiError(429);
      },
      DEFAULT_RETRY_POLICY,
      noSleep,
    ).catch((e: unknown) => e);
    expect(calls).toBe(3);
    expect(failed).toBeInstanceOf(LlmCallFailed);
    expect((failed as LlmCallFailed).failure.kind).toBe('throttled');
    expect((failed as LlmCallFailed).attempts).toBe(3);
  });

  test('429, 5xx and unsent connections are retried; timeouts and 400/401 are not', async () => {
    const refused = new APIConnectionError({ cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }) });
    const reset = new APIConnectionError({ cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) });
    const cases: Array<[unknown, number]> = [
      [apiError(429), 3],
      [apiError(500), 3],
      [apiError(503), 3],
      [refused, 3],
      // Sent, and maybe generated: one billed attempt is the budget.
      [new APIConnectionTimeoutError(), 1],
      [reset, 1],
      [apiError(400), 1],
      [apiError(401), 1],
    ];
    for (const [error, expected] of cases) {
      let calls = 0;
      await withRetries(
        async () => {
          calls += 1;
          throw error;
        },
        DEFAULT_RETRY_POLICY,
        noSleep,
      ).catch(() => undefined);
      expect({ error: String(error), calls }).toEqual({ error: String(error), calls: expected });
    }
  });

  test('a request is billed at most maxBilledAttempts times: 5xx answers are free, a timeout is not', async () => {
    const run = async (errors: unknown[], maxBilledAttempts: number) => {
      let calls = 0;
      await withRetries(
        async () => {
          const err = errors[calls++];
          if (err) throw err;
          return 'ok';
        },
        { ...DEFAULT_RETRY_POLICY, maxBilledAttempts },
        noSleep,
      ).catch(() => undefined);
      return calls;
    };
    const timeout = () => new APIConnectionTimeoutError();
    expect(DEFAULT_RETRY_POLICY.maxBilledAttempts).toBe(1);
    // Two 500s cost nothing, the third call is the one billed attempt.
    expect(await run([apiError(500), apiError(500)], 1)).toBe(3);
    // A 502 then a timeout: the timeout spent the budget.
    expect(await run([apiError(502), timeout(), timeout()], 1)).toBe(2);
    // A budget of 2 allows one retry after a timeout, never more.
    expect(await run([timeout(), timeout(), timeout()], 2)).toBe(2);
  });

  test('a transient failure followed by success returns the answer', async () => {
    let calls = 0;
    const out = await withRetries(
      async () => {
        calls += 1;
        if (calls < 3) throw apiError(502);
        return 'ok';
      },
      DEFAULT_RETRY_POLICY,
      noSleep,
    );
    expect(out).toBe('ok');
    expect(calls).toBe(3);
  });

  test('backoff is full jitter within the exponential ceiling', async () => {
    const p = DEFAULT_RETRY_POLICY;
    expect(backoffDelayMs(1, p, () => 0)).toBe(0);
    expect(backoffDelayMs(1, p, () => 0.999)).toBeLessThan(p.baseDelayMs);
    expect(backoffDelayMs(2, p, () => 0.999)).toBeLessThan(p.baseDelayMs * 2);
    expect(backoffDelayMs(10, p, () => 0.999)).toBeLessThan(p.maxDelayMs);
    const sleeps: number[] = [];
    const failed = await withRetries(
      async () => {
        throw apiError(500);
      },
      p,
      { sleep: async (ms) => void sleeps.push(ms), random: () => 0.5 },
    ).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(LlmCallFailed);
    expect(sleeps).toEqual([p.baseDelayMs * 0.5, p.baseDelayMs]);
  });

  test('a provider Retry-After within 2 s is waited out; a longer one ends the retries and is passed on', async () => {
    const sleeps: number[] = [];
    let calls = 0;
    await withRetries(
      async () => {
        calls += 1;
        throw apiError(429, { 'retry-after': '1' });
      },
      DEFAULT_RETRY_POLICY,
      { sleep: async (ms) => void sleeps.push(ms), random: () => 0 },
    ).catch(() => undefined);
    expect(calls).toBe(3);
    expect(sleeps).toEqual([1000, 1000]);

    calls = 0;
    const failed = (await withRetries(
      async () => {
        calls += 1;
        throw apiError(429, { 'retry-after': '30' });
      },
      DEFAULT_RETRY_POLICY,
      noSleep,
    ).catch((e: unknown) => e)) as LlmCallFailed;
    expect(calls).toBe(1);
    expect(failed.failure.retryAfterMs).toBe(30_000);
  });

  test('Retry-After parsing: seconds, HTTP date, retry-after-ms', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfterMs(new Headers({ 'retry-after': '7' }), now)).toBe(7000);
    expect(parseRetryAfterMs(new Headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }), now)).toBe(5000);
    expect(parseRetryAfterMs(new Headers({ 'retry-after-ms': '250', 'retry-after': '9' }), now)).toBe(250);
    expect(parseRetryAfterMs(new Headers({}), now)).toBeUndefined();
  });

  test('errors are classified by what a retry could fix', () => {
    expect(classifyLlmError(apiError(429)).kind).toBe('throttled');
    expect(classifyLlmError(apiError(500)).kind).toBe('server');
    expect(classifyLlmError(apiError(401)).kind).toBe('auth');
    expect(classifyLlmError(apiError(404)).retryable).toBe(false);
    expect(classifyLlmError(new APIConnectionTimeoutError()).kind).toBe('timeout');
  });
});

describe('LLM circuit breaker', () => {
  test('opens after 5 consecutive failed requests, refuses with the remaining time, then lets one trial through', () => {
    let now = 0;
    const breaker = new CircuitBreaker<LlmFailureKind>({ failureThreshold: 5, openMs: 30_000, now: () => now });
    for (let i = 0; i < 4; i++) {
      expect(breaker.tryAcquire().allowed).toBe(true);
      breaker.onFailure('server');
    }
    expect(breaker.state).toBe('closed');
    breaker.tryAcquire();
    breaker.onFailure('throttled');
    expect(breaker.state).toBe('open');
    now = 10_000;
    expect(breaker.tryAcquire()).toEqual({ allowed: false, retryAfterMs: 20_000 });
    expect(breaker.lastFailureKind).toBe('throttled');
    now = 30_000;
    expect(breaker.state).toBe('half_open');
    expect(breaker.tryAcquire().allowed).toBe(true);
    // Only one trial at a time.
    expect(breaker.tryAcquire().allowed).toBe(false);
    breaker.onFailure('server');
    expect(breaker.state).toBe('open');
    now = 60_000;
    expect(breaker.tryAcquire().allowed).toBe(true);
    breaker.onSuccess();
    expect(breaker.state).toBe('closed');
  });

  test('timeouts from one principal never open it; from two principals they do; provider 429/5xx always count', () => {
    const breaker = () =>
      new CircuitBreaker<LlmFailureKind>({
        failureThreshold: 5,
        isProviderSignal: (k) => k === 'throttled' || k === 'server',
      });
    const slowCaller = breaker();
    for (let i = 0; i < 50; i++) {
      expect(slowCaller.tryAcquire().allowed).toBe(true);
      slowCaller.onFailure(i % 2 === 0 ? 'timeout' : 'network', 'slow-principal');
    }
    expect(slowCaller.state).toBe('closed');

    const acrossCallers = breaker();
    for (let i = 0; i < 4; i++) acrossCallers.onFailure('timeout', 'slow-principal');
    expect(acrossCallers.state).toBe('closed');
    acrossCallers.onFailure('timeout', 'another-principal');
    expect(acrossCallers.state).toBe('open');

    const provider = breaker();
    for (let i = 0; i < 5; i++) provider.onFailure(i % 2 === 0 ? 'throttled' : 'server', 'one-principal');
    expect(provider.state).toBe('open');

    // Provider signals and cross-principal timeouts add up; a success starts a new run.
    const mixed = breaker();
    mixed.onFailure('server', 'a');
    mixed.onFailure('timeout', 'a');
    mixed.onFailure('timeout', 'a');
    mixed.onFailure('server', 'a');
    expect(mixed.state).toBe('closed');
    mixed.onFailure('timeout', 'b');
    expect(mixed.state).toBe('open');
  });

  test("one principal's failed half-open trial does not re-open the circuit for everyone; the provider's word, or two principals', does", () => {
    let now = 0;
    const opened = () => {
      const b = new CircuitBreaker<LlmFailureKind>({
        failureThreshold: 5,
        openMs: 30_000,
        isProviderSignal,
        now: () => now,
      });
      for (let i = 0; i < 5; i++) b.onFailure('server', 'anyone');
      expect(b.state).toBe('open');
      now += 30_000;
      expect(b.state).toBe('half_open');
      return b;
    };

    // Mallory's trial times out (or comes back empty): the circuit stays half-open, Mallory gets no
    // second trial for openMs, and the victim's request is the next trial, which closes it.
    const held = opened();
    expect(held.tryAcquire('mallory').allowed).toBe(true);
    held.onFailure('timeout', 'mallory');
    expect(held.state).toBe('half_open');
    expect(held.tryAcquire('mallory')).toEqual({ allowed: false, retryAfterMs: 30_000 });
    expect(held.tryAcquire('victim').allowed).toBe(true);
    held.onSuccess();
    expect(held.state).toBe('closed');
    expect(held.tryAcquire('mallory').allowed).toBe(true);

    // An empty answer is judged the same way.
    const empty = opened();
    expect(empty.tryAcquire('mallory').allowed).toBe(true);
    empty.onFailure('empty', 'mallory');
    expect(empty.state).toBe('half_open');

    // Once Mallory's bar ends she may try again (the only caller is not locked out for good).
    now += 30_000;
    expect(empty.tryAcquire('mallory').allowed).toBe(true);

    // Trials of two principals that time out: the provider is the likelier cause; re-open.
    const two = opened();
    two.tryAcquire('a');
    two.onFailure('timeout', 'a');
    two.tryAcquire('b');
    two.onFailure('timeout', 'b');
    expect(two.state).toBe('open');

    // The provider's own 429/5xx on a trial re-opens it, whoever's trial it was.
    const provider = opened();
    provider.tryAcquire('mallory');
    provider.onFailure('throttled', 'mallory');
    expect(provider.state).toBe('open');
  });

  test("an empty answer is the caller's failure, not the provider's: it counts only across principals", () => {
    const failure = classifyLlmError(new EmptyAnswerError());
    expect(failure).toEqual({ kind: 'empty', retryable: false, mayHaveBilled: true });
    expect(isProviderSignal('empty')).toBe(false);
    const breaker = new CircuitBreaker<LlmFailureKind>({ failureThreshold: 5, isProviderSignal });
    for (let i = 0; i < 20; i++) breaker.onFailure('empty', 'mallory');
    expect(breaker.state).toBe('closed');
  });

  test('a success resets the consecutive-failure count', () => {
    const breaker = new CircuitBreaker({ failureThreshold: 2 });
    breaker.onFailure('server');
    breaker.onSuccess();
    breaker.onFailure('server');
    expect(breaker.state).toBe('closed');
  });

  test('a late success from a request admitted before the circuit opened does not close it', () => {
    let now = 0;
    const breaker = new CircuitBreaker<LlmFailureKind>({ failureThreshold: 2, openMs: 30_000, now: () => now });
    // Three requests admitted while closed; two fail and open the circuit, the third succeeds late.
    for (let i = 0; i < 3; i++) expect(breaker.tryAcquire().allowed).toBe(true);
    breaker.onFailure('throttled');
    breaker.onFailure('throttled');
    expect(breaker.state).toBe('open');
    now += 1_000;
    breaker.onSuccess();
    expect(breaker.state).toBe('open');
    expect(breaker.tryAcquire()).toEqual({ allowed: false, retryAfterMs: 29_000 });
    // The half-open trial still decides.
    now += 30_000;
    expect(breaker.tryAcquire().allowed).toBe(true);
    breaker.onSuccess();
    expect(breaker.state).toBe('closed');
  });
});

describe('OpenAiGateway against the fake LLM', () => {
  let fake: FakeLlm;
  beforeAll(async () => {
    fake = await startFakeLlm({ apiKey: 'k-test', retryAfterSeconds: null });
  });
  afterAll(() => fake.close());
  beforeEach(() => {
    fake.configure({ failNext: null, latencyMs: 0 });
    fake.resetStats();
  });

  const gateway = (timeoutMs = 2_000, breaker = new CircuitBreaker<LlmFailureKind>()) => {
    const metrics = new EmfMetrics({ serviceName: 't', write: () => undefined });
    return {
      metrics,
      llm: new OpenAiGateway({
        settings: { baseUrl: fake.baseUrl, model: fake.model, apiKey: 'k-test', timeoutMs, ...BUDGET },
        logger: silentLogger,
        metrics,
        retry: { ...DEFAULT_RETRY_POLICY, baseDelayMs: 10 },
        breaker,
      }),
    };
  };
  const ask = [{ role: 'user' as const, content: 'hi' }];

  test('the SDK does not retry on its own: persistent 429 costs exactly 3 provider calls and ends as a 429 error', async () => {
    fake.configure({ failNext: { kind: 'throttle', count: 100 } });
    const { llm, metrics } = gateway();
    const err = await llm.complete(ask, { logger: silentLogger }).catch((e: unknown) => e);
    expect(fake.stats().calls).toBe(3);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).statusCode).toBe(429);
    expect((err as AppError).code).toBe('llm_throttled');
    expect((err as AppError).extra.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    metrics.flush();
  });

  test('persistent 500s end as a 503 with Retry-After after 3 calls', async () => {
    fake.configure({ failNext: { kind: 'error', count: 100 } });
    const err = (await gateway()
      .llm.complete(ask, { logger: silentLogger })
      .catch((e: unknown) => e)) as AppError;
    expect(fake.stats().calls).toBe(3);
    expect([err.statusCode, err.code]).toEqual([503, 'llm_unavailable']);
    expect(err.extra.retryAfterSeconds).toBeGreaterThanOrEqual(1);
  });

  test('a timed-out generation is not retried: one billed call, then 503', async () => {
    fake.configure({ failNext: { kind: 'timeout', count: 100 }, hangMs: 5_000 });
    const started = Date.now();
    const err = (await gateway(200)
      .llm.complete(ask, { logger: silentLogger })
      .catch((e: unknown) => e)) as AppError;
    expect(fake.stats().calls).toBe(1);
    expect(err.statusCode).toBe(503);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  test('two throttled calls then an answer: the client gets the answer', async () => {
    fake.configure({ failNext: { kind: 'throttle', count: 2 } });
    const reply = await gateway().llm.complete(ask, { logger: silentLogger });
    expect(reply).toMatch(/^\[fake-llm\]/);
    expect(fake.stats()).toMatchObject({ calls: 3, throttled: 2, ok: 1 });
  });

  test('an open circuit refuses at once without calling the provider', async () => {
    fake.configure({ failNext: { kind: 'error', count: 1000 } });
    const breaker = new CircuitBreaker<LlmFailureKind>({ failureThreshold: 2, openMs: 60_000 });
    const { llm } = gateway(2_000, breaker);
    await llm.complete(ask, { logger: silentLogger }).catch(() => undefined);
    await llm.complete(ask, { logger: silentLogger }).catch(() => undefined);
    expect(fake.stats().calls).toBe(6);
    expect(llm.status()).toBe('down');
    const err = (await llm.complete(ask, { logger: silentLogger }).catch((e: unknown) => e)) as AppError;
    expect(fake.stats().calls).toBe(6);
    expect(err.statusCode).toBe(503);
    expect(err.extra.retryAfterSeconds).toBeGreaterThan(50);
  });

  test('a wrong API key is an auth failure, not retried', async () => {
    const metrics = new EmfMetrics({ serviceName: 't', write: () => undefined });
    const llm = new OpenAiGateway({
      settings: { baseUrl: fake.baseUrl, model: fake.model, apiKey: 'wrong', timeoutMs: 2_000, ...BUDGET },
      logger: silentLogger,
      metrics,
    });
    const err = (await llm.complete(ask, { logger: silentLogger }).catch((e: unknown) => e)) as AppError;
    expect(fake.stats().unauthorized).toBe(1);
    expect(err.statusCode).toBe(503);
    expect(llm.status()).toBe('auth_failed');
  });

  test('streaming delivers the deltas that add up to the reply', async () => {
    const deltas: string[] = [];
    const reply = await gateway().llm.stream(ask, { logger: silentLogger, onDelta: (d) => deltas.push(d) });
    expect(deltas.length).toBeGreaterThan(3);
    expect(deltas.join('')).toBe(reply);
  });
});

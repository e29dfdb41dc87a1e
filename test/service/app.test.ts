/**
 * The HTTP surface with fake dependencies: input validation, error bodies, headers, rate limiting,
 * readiness codes and the SSE framing. The same app runs against real Postgres, Redis and the fake
 * LLM in the integration suites.
 *
 * The app listens on 127.0.0.1 and a random port and is called over real HTTP rather than with
 * `app.inject()`: light-my-request (behind inject) needs `cookie@2`, an ES module that jest's
 * CommonJS runtime cannot load on Node 20. Real sockets also exercise Connection: close and the
 * streamed body limit for real.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import {
  ERROR_CODES,
  type ErrorResponse,
  HEADERS,
  LIMITS,
  type ReadinessResponse,
  ROUTES,
  SSE_EVENTS,
} from '../../lib/contract';
import type { Authenticator } from '../../service/src/auth/authenticate';
import { AuthFailure } from '../../service/src/auth/token-verifier';
import type { ChatInput } from '../../service/src/chat/chat-service';
import { RequestTracker } from '../../service/src/drain';
import { llmThrottled } from '../../service/src/errors';
import { buildHttpApp, fastifyOptions } from '../../service/src/http-app';
import { createLogger } from '../../service/src/observability/logger';
import { EmfMetrics } from '../../service/src/observability/metrics';
import { parseRateLimitExemptions } from '../../service/src/rate-limit-exemptions';
import type { AppDeps, ChatHandler } from '../../service/src/types';
import { http, LineSink, STACK_TRACE } from './support';

interface Reply {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json<T = Record<string, unknown>>(): T;
}

/** The fake authenticator's valid token for principal `sub`. */
const tokenOf = (sub: string) => `Bearer good.${sub}`;
const DEFAULT_AUTH = { authorization: tokenOf('alice') };

/** Accepts `Bearer good.<sub>`; `Bearer expired` is expired; anything else invalid. */
const fakeAuthenticator: Authenticator = async (header) => {
  if (header === undefined) throw new AuthFailure('missing', 'no header');
  if (header === 'Bearer expired') throw new AuthFailure('expired', 'expired');
  const m = /^Bearer good\.([a-z0-9-]+)$/.exec(header);
  if (!m?.[1]) throw new AuthFailure('invalid', 'bad token');
  return { sub: m[1], scopes: [] };
};

/** `app.inject()`'s shape, over a real socket. Sends a valid token unless `headers` has an authorization entry. */
async function call(
  app: FastifyInstance,
  options: { method: string; url: string; headers?: Record<string, string>; payload?: string },
): Promise<Reply> {
  const { port } = app.server.address() as AddressInfo;
  const headers = { ...DEFAULT_AUTH, ...options.headers };
  if (headers.authorization === '') delete (headers as Record<string, string>).authorization;
  const res = await http(`http://127.0.0.1:${port}${options.url}`, {
    method: options.method,
    headers,
    ...(options.payload === undefined ? {} : { body: options.payload }),
  });
  return { statusCode: res.status, headers: res.headers, body: res.text, json: <T>() => JSON.parse(res.text) as T };
}

interface Harness {
  app: FastifyInstance;
  metrics: EmfMetrics;
  logs: LineSink;
  calls: ChatInput[];
  state: { readiness: ReadinessResponse; draining: boolean; fail?: Error };
}

const READY: ReadinessResponse = {
  status: 'ready',
  version: '9.9.9',
  checks: { database: 'ok', cache: 'ok', llm: 'ok' },
};

async function harness(overrides: Partial<AppDeps> = {}): Promise<Harness> {
  const logs = new LineSink();
  const calls: ChatInput[] = [];
  const state: Harness['state'] = { readiness: READY, draining: false };
  const chat: ChatHandler = {
    answer: async (input) => {
      calls.push(input);
      if (state.fail) throw state.fail;
      return {
        reply: `echo: ${input.message}`,
        sessionId: input.sessionId ?? 'new-session',
        cacheStatus: 'MISS',
        usage: { inputTokens: 20, outputTokens: 3 },
      };
    },
    answerStream: async (input, _ctx, onStart, onDelta) => {
      calls.push(input);
      if (state.fail && state.fail.message !== 'after-start') throw state.fail;
      onStart('MISS');
      onDelta('one ');
      onDelta('two');
      if (state.fail) throw state.fail;
      return { reply: 'one two', sessionId: 's1', cacheStatus: 'MISS', usage: { inputTokens: 20, outputTokens: 2 } };
    },
  };
  const metrics = new EmfMetrics({ serviceName: 't', write: () => undefined });
  const deps: AppDeps = {
    version: '9.9.9',
    rateLimitPerMinute: 1000,
    logger: createLogger({ level: 'debug', write: logs.write }),
    metrics,
    chat,
    authenticate: fakeAuthenticator,
    readiness: () => state.readiness,
    isDraining: () => state.draining,
    tracker: new RequestTracker(),
    ...overrides,
  };
  const app = await buildHttpApp(deps, fastifyOptions());
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, metrics: deps.metrics, logs, calls, state };
}

const post = (app: FastifyInstance, payload: unknown, headers: Record<string, string> = {}) =>
  call(app, {
    method: 'POST',
    url: ROUTES.chat,
    headers: { 'content-type': 'application/json', ...headers },
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });

function expectErrorBody(res: { body: string; headers: Record<string, unknown> }, code: string) {
  const body = JSON.parse(res.body) as ErrorResponse;
  expect(body.error.code).toBe(code);
  expect(body.error.request_id).toBe(res.headers[HEADERS.requestId]);
  expect(typeof body.error.message).toBe('string');
  expect(res.body).not.toMatch(STACK_TRACE);
  return body;
}

describe('who may call what', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness();
  });
  afterEach(() => h.app.close());

  test('every API route answers 401 without a token, in the error shape, with WWW-Authenticate and reason missing', async () => {
    for (const [method, url] of [
      ['POST', ROUTES.chat],
      ['POST', ROUTES.chatStream],
      ['GET', ROUTES.cacheMetrics],
    ] as const) {
      const res = await call(h.app, {
        method,
        url,
        headers: { authorization: '', 'content-type': 'application/json' },
        ...(method === 'POST' ? { payload: JSON.stringify({ message: 'hi' }) } : {}),
      });
      expect(res.statusCode).toBe(401);
      const body = expectErrorBody(res, ERROR_CODES.unauthorized);
      expect(body.error.reason).toBe('missing');
      expect(res.headers[HEADERS.wwwAuthenticate]).toBe('Bearer realm="chat-api"');
    }
    expect(h.calls).toHaveLength(0);
  });

  test('an expired or invalid token is 401 with error="invalid_token" and its reason, before the body is validated', async () => {
    const expired = await post(h.app, { message: 123 }, { authorization: 'Bearer expired' });
    expect(expired.statusCode).toBe(401);
    expect(expectErrorBody(expired, ERROR_CODES.unauthorized).error.reason).toBe('expired');
    expect(expired.headers[HEADERS.wwwAuthenticate]).toMatch(/^Bearer realm="chat-api", error="invalid_token"/);

    for (const authorization of ['Bearer forged', 'Basic dXNlcjpwYXNz', 'bearer', 'Bearer good.alice extra']) {
      const res = await post(h.app, { message: 'hi' }, { authorization });
      expect(res.statusCode).toBe(401);
      expect(expectErrorBody(res, ERROR_CODES.unauthorized).error.reason).toBe('invalid');
    }
    expect(h.calls).toHaveLength(0);
    expect(h.logs.lines.join('\n')).not.toContain('forged');
  });

  test('the health routes answer without a token (the load balancer checks them)', async () => {
    for (const url of [ROUTES.health, ROUTES.ready]) {
      expect((await call(h.app, { method: 'GET', url, headers: { authorization: '' } })).statusCode).toBe(200);
    }
  });

  test('the cache metrics answer a valid token', async () => {
    expect((await call(h.app, { method: 'GET', url: ROUTES.cacheMetrics })).statusCode).toBe(200);
  });
});

describe('chat API surface', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness();
  });
  afterEach(() => h.app.close());

  test('a valid request is answered with the contract body and headers', async () => {
    const res = await post(h.app, { message: '  hello  ', session_id: 'abc_DEF-1', user_id: 'u1' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      reply: 'echo: hello',
      session_id: 'abc_DEF-1',
      cached: false,
      usage: { input_tokens: 20, output_tokens: 3 },
      request_id: res.headers[HEADERS.requestId],
    });
    expect(res.headers[HEADERS.appVersion]).toBe('9.9.9');
    expect(res.headers[HEADERS.cache]).toBe('MISS');
    // The caller is the token's principal; a user_id in the body is ignored.
    expect(h.calls).toEqual([{ message: 'hello', sessionId: 'abc_DEF-1', owner: 'alice' }]);
  });

  test('every response carries x-app-version and x-request-id, errors and 404s included', async () => {
    for (const res of [
      await call(h.app, { method: 'GET', url: ROUTES.health }),
      await call(h.app, { method: 'GET', url: '/nope' }),
      await post(h.app, '{bad json'),
    ]) {
      expect(res.headers[HEADERS.appVersion]).toBe('9.9.9');
      expect(res.headers[HEADERS.requestId]).toBeTruthy();
    }
  });

  test('a safe caller request id is echoed; an unsafe one is replaced', async () => {
    const ok = await call(h.app, { method: 'GET', url: ROUTES.health, headers: { [HEADERS.requestId]: 'trace-123' } });
    expect(ok.headers[HEADERS.requestId]).toBe('trace-123');
    const bad = await call(h.app, {
      method: 'GET',
      url: ROUTES.health,
      headers: { [HEADERS.requestId]: 'x y\u00e9<script>' },
    });
    expect(bad.headers[HEADERS.requestId]).not.toBe('x y\u00e9<script>');
    expect(bad.headers[HEADERS.requestId]).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('400 for invalid JSON, with a JSON error body', async () => {
    const res = await post(h.app, '{"message": ');
    expect(res.statusCode).toBe(400);
    expectErrorBody(res, ERROR_CODES.badRequest);
  });

  test('400 with field details for a missing message, a non-string message and a bad session id', async () => {
    const missing = await post(h.app, { session_id: 'ok' });
    expect(missing.statusCode).toBe(400);
    expect(expectErrorBody(missing, ERROR_CODES.badRequest).error.details).toEqual([
      { field: 'message', problem: 'is required' },
    ]);

    // No type coercion: 123 is not the string "123".
    const numeric = await post(h.app, { message: 123 });
    expect(numeric.statusCode).toBe(400);
    expect(expectErrorBody(numeric, ERROR_CODES.badRequest).error.details?.[0]?.field).toBe('message');

    const badIds = await post(h.app, { message: 'hi', session_id: 'has space', user_id: 'x'.repeat(129) });
    expect(badIds.statusCode).toBe(400);
    const fields = expectErrorBody(badIds, ERROR_CODES.badRequest).error.details?.map((d) => d.field);
    expect(fields).toEqual(['session_id']);

    const blank = await post(h.app, { message: ' \n\t ' });
    expect(blank.statusCode).toBe(400);
    expect(expectErrorBody(blank, ERROR_CODES.badRequest).error.details).toEqual([
      { field: 'message', problem: 'must not be empty' },
    ]);

    const array = await post(h.app, '[1,2]');
    expect(array.statusCode).toBe(400);
    expect(h.calls).toHaveLength(0);
  });

  test(`413 for a message longer than ${LIMITS.maxMessageChars} characters (after trimming)`, async () => {
    const atLimit = await post(h.app, { message: ` ${'a'.repeat(LIMITS.maxMessageChars)} ` });
    expect(atLimit.statusCode).toBe(200);
    const over = await post(h.app, { message: 'a'.repeat(LIMITS.maxMessageChars + 1) });
    expect(over.statusCode).toBe(413);
    expectErrorBody(over, ERROR_CODES.payloadTooLarge);
  });

  test(`413 for a body larger than ${LIMITS.maxBodyBytes} bytes, before the handler runs`, async () => {
    const res = await post(h.app, { message: 'x', padding: 'p'.repeat(LIMITS.maxBodyBytes) });
    expect(res.statusCode).toBe(413);
    expectErrorBody(res, ERROR_CODES.payloadTooLarge);
    expect(h.calls).toHaveLength(0);
  });

  test('415 (bad_request) for a body that is not JSON', async () => {
    const res = await call(h.app, {
      method: 'POST',
      url: ROUTES.chat,
      headers: { 'content-type': 'text/plain' },
      payload: 'hello',
    });
    expect(res.statusCode).toBe(415);
    expectErrorBody(res, ERROR_CODES.badRequest);
  });

  test('404 is a JSON error', async () => {
    const res = await call(h.app, { method: 'GET', url: '/api/nothing' });
    expect(res.statusCode).toBe(404);
    expectErrorBody(res, ERROR_CODES.notFound);
  });

  test('an unexpected error is a generic 500: no message, no stack trace reaches the client, the log has it', async () => {
    h.state.fail = new TypeError('cannot read property x of undefined (internal detail)');
    const res = await post(h.app, { message: 'boom' });
    expect(res.statusCode).toBe(500);
    const body = expectErrorBody(res, ERROR_CODES.internal);
    expect(body.error.message).toBe('Internal error.');
    expect(res.body).not.toContain('internal detail');
    const logged = h.logs.parsed().find((l) => l.msg === 'unhandled error');
    expect(JSON.stringify(logged)).toContain('internal detail');
    expect(logged?.request_id).toBe(res.headers[HEADERS.requestId]);
  });

  test('an LLM throttle becomes 429 llm_throttled with Retry-After', async () => {
    h.state.fail = llmThrottled(7);
    const res = await post(h.app, { message: 'x' });
    expect(res.statusCode).toBe(429);
    expect(res.headers[HEADERS.retryAfter]).toBe('7');
    expectErrorBody(res, ERROR_CODES.llmThrottled);
  });

  test('the access log line has the request id and never the message text', async () => {
    await post(h.app, { message: 'my very private question 4711' });
    const line = h.logs.parsed().find((l) => l.msg === 'request');
    expect(line).toMatchObject({ method: 'POST', route: ROUTES.chat, status: 200, cache: 'MISS' });
    expect(line?.ms).toBeGreaterThan(0);
    expect(line?.request_id).toBeTruthy();
    expect(h.logs.lines.join('\n')).not.toContain('4711');
  });

  test('liveness answers ok with the version', async () => {
    const res = await call(h.app, { method: 'GET', url: ROUTES.health });
    expect(res.json()).toEqual({ status: 'ok', version: '9.9.9' });
  });

  test('readiness: 200 when ready or degraded, 503 with Retry-After when not ready', async () => {
    expect((await call(h.app, { method: 'GET', url: ROUTES.ready })).statusCode).toBe(200);
    h.state.readiness = { ...READY, status: 'degraded', checks: { ...READY.checks, cache: 'down' } };
    const degraded = await call(h.app, { method: 'GET', url: ROUTES.ready });
    expect([degraded.statusCode, degraded.json<ReadinessResponse>().status]).toEqual([200, 'degraded']);
    h.state.readiness = { ...READY, status: 'not_ready', checks: { ...READY.checks, database: 'auth_failed' } };
    const notReady = await call(h.app, { method: 'GET', url: ROUTES.ready });
    expect(notReady.statusCode).toBe(503);
    expect(notReady.headers[HEADERS.retryAfter]).toBeDefined();
    expect(notReady.json<ReadinessResponse>().checks.database).toBe('auth_failed');
  });

  test('while draining, answers carry Connection: close', async () => {
    h.state.draining = true;
    const res = await post(h.app, { message: 'late' });
    expect(res.statusCode).toBe(200);
    expect(res.headers.connection).toBe('close');
  });
});

describe('rate limiting', () => {
  test('per client (the address the ALB appended), 429 rate_limited with Retry-After; health is never limited', async () => {
    const h = await harness({ rateLimitPerMinute: 3 });
    const from = (ip: string) => ({ 'x-forwarded-for': ip });
    for (let i = 0; i < 3; i++) expect((await post(h.app, { message: 'a' }, from('10.0.0.1'))).statusCode).toBe(200);
    const limited = await post(h.app, { message: 'a' }, from('10.0.0.1'));
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers[HEADERS.retryAfter])).toBeGreaterThan(0);
    expectErrorBody(limited, ERROR_CODES.rateLimited);
    // A forged left-most entry does not make a new client: the ALB-appended address counts.
    expect((await post(h.app, { message: 'a' }, from('1.2.3.4, 10.0.0.1'))).statusCode).toBe(429);
    expect((await post(h.app, { message: 'a' }, from('10.0.0.2'))).statusCode).toBe(200);
    for (let i = 0; i < 10; i++) {
      expect((await call(h.app, { method: 'GET', url: ROUTES.ready, headers: from('10.0.0.1') })).statusCode).toBe(200);
    }
    await h.app.close();
  });

  test("an exempt address (RATE_LIMIT_EXEMPT_CIDRS: the VPC's) is not counted; another is stopped at the limit; token and quota still apply", async () => {
    const vpc = parseRateLimitExemptions('10.30.0.0/16');
    if (!vpc.ok) throw new Error(vpc.problem);
    const rejectedByQuota: string[] = [];
    const h = await harness({
      rateLimitPerMinute: 3,
      rateLimitExempt: vpc.value.covers,
      // The principal quota, counted in this task's memory (no cache): it applies to the exempt too.
      requestQuota: {
        requestsPerMinute: 8,
        cache: { current: () => undefined, reportFailure: () => undefined },
        onFallback: () => undefined,
        onRejected: () => rejectedByQuota.push('x'),
      },
    });
    const from = (ip: string, sub: string) => ({ 'x-forwarded-for': ip, authorization: tokenOf(sub) });
    // The k6 runner: one address inside the VPC, far past the guard's 3.
    for (let i = 0; i < 8; i++) {
      expect((await post(h.app, { message: 'a' }, from('10.30.4.17', 'gate'))).statusCode).toBe(200);
    }
    // ...until its principal's quota, which the exemption does not touch.
    const overQuota = await post(h.app, { message: 'a' }, from('10.30.4.17', 'gate'));
    expect(overQuota.statusCode).toBe(429);
    expectErrorBody(overQuota, ERROR_CODES.requestQuotaExceeded);
    expect(rejectedByQuota).toHaveLength(1);
    // Still a valid token for every chat route: exempt from the guard is not exempt from authentication.
    const anonymous = await post(h.app, { message: 'a' }, { 'x-forwarded-for': '10.30.4.17', authorization: '' });
    expect(anonymous.statusCode).toBe(401);
    // An address outside the VPC stops at the guard's limit, whoever it is.
    for (let i = 0; i < 3; i++) {
      expect((await post(h.app, { message: 'a' }, from('203.0.113.7', 'alice'))).statusCode).toBe(200);
    }
    expectErrorBody(await post(h.app, { message: 'a' }, from('203.0.113.7', 'alice')), ERROR_CODES.rateLimited);
    // A client cannot claim a VPC address: the left-most X-Forwarded-For entry is its own to forge,
    // the right-most one (the ALB's) is what counts.
    const forged = await post(h.app, { message: 'a' }, from('10.30.4.17, 203.0.113.7', 'bob'));
    expect(forged.statusCode).toBe(429);
    expectErrorBody(forged, ERROR_CODES.rateLimited);
    await h.app.close();
  });
});

describe('SSE stream route', () => {
  const stream = (app: FastifyInstance, payload: unknown) =>
    call(app, {
      method: 'POST',
      url: ROUTES.chatStream,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(payload),
    });

  const events = (body: string) =>
    body
      .trim()
      .split('\n\n')
      .map((block) => {
        const [eventLine, dataLine] = block.split('\n');
        return { event: eventLine?.replace('event: ', ''), data: JSON.parse(dataLine?.replace('data: ', '') ?? '{}') };
      });

  test('tokens, then exactly one done event carrying the whole response', async () => {
    const h = await harness();
    const res = await stream(h.app, { message: 'hi' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(res.headers[HEADERS.appVersion]).toBe('9.9.9');
    expect(res.headers[HEADERS.cache]).toBe('MISS');
    const ev = events(res.body);
    expect(ev.map((e) => e.event)).toEqual([SSE_EVENTS.token, SSE_EVENTS.token, SSE_EVENTS.done]);
    expect(ev.slice(0, 2).map((e) => e.data.delta)).toEqual(['one ', 'two']);
    expect(ev[2]?.data).toMatchObject({ reply: 'one two', session_id: 's1', cached: false });
    // Hijacked (SSE) responses still get their access line and metrics.
    await new Promise((r) => setTimeout(r, 20));
    const line = h.logs.parsed().find((l) => l.msg === 'request' && l.route === ROUTES.chatStream);
    expect(line).toMatchObject({ status: 200, cache: 'MISS' });
    expect(h.metrics.flush()).toBeGreaterThan(0);
    await h.app.close();
  });

  test('a failure before the first token keeps its status code; after it, one error event ends the stream', async () => {
    const h = await harness();
    h.state.fail = llmThrottled(3);
    const before = await stream(h.app, { message: 'hi' });
    expect(before.statusCode).toBe(429);
    expect(before.headers[HEADERS.retryAfter]).toBe('3');

    h.state.fail = new Error('after-start');
    const after = await stream(h.app, { message: 'hi' });
    expect(after.statusCode).toBe(200);
    const ev = events(after.body);
    expect(ev.map((e) => e.event)).toEqual([SSE_EVENTS.token, SSE_EVENTS.token, SSE_EVENTS.error]);
    expect(ev[2]?.data.error.code).toBe(ERROR_CODES.internal);
    expect(after.body).not.toMatch(STACK_TRACE);

    const invalid = await stream(h.app, { message: '' });
    expect(invalid.statusCode).toBe(400);
    await h.app.close();
  });
});

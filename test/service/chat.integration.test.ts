/**
 * The chat path end to end, against a real Postgres (SSL, scram, app role from the bootstrap code),
 * a real Redis (TLS + AUTH) and the fake LLM, with the service running as a child process from its
 * esbuild bundle and configured by env vars only.
 */
import { Agent } from 'node:http';
import { connect } from 'node:net';
import {
  ERROR_CODES,
  type ErrorResponse,
  HEADERS,
  LIMITS,
  parseServerTiming,
  ROUTES,
  SERVER_TIMING_METRICS,
  SSE_EVENTS,
} from '../../lib/contract';
import { FAKE_LLM_MARKER, type LocalStack, startLocalStack } from '../../scripts/harness';
import { http, postJson, STACK_TRACE, uniqueText } from './support';

jest.setTimeout(60_000);

let stack: LocalStack;
let url: string;

beforeAll(async () => {
  stack = await startLocalStack({
    // The shortest LLM timeout the contract allows, so the timeout test stays short; no provider Retry-After unless a test sets one.
    // A keep-alive other than the default, to see the setting itself in the Keep-Alive header.
    serviceEnv: { LLM_TIMEOUT_MS: '1000', APP_VERSION: 'it-1.0.0', KEEP_ALIVE_TIMEOUT_SECONDS: '77' },
    llm: { retryAfterSeconds: null },
  });
  url = stack.url as string;
});

afterAll(async () => {
  await stack?.stop();
});

beforeEach(() => {
  stack.llm.configure({ failNext: null, latencyMs: 0, retryAfterSeconds: null });
});

/** One principal for the whole file, so a session started by one call can be continued by the next. */
const auth = () => stack.authHeaders('chat-it-user');
const chat = (body: unknown) => postJson(`${url}${ROUTES.chat}`, body, { headers: auth() });

describe('chat turn against real Postgres and Redis (TLS + AUTH)', () => {
  test('the service is ready only after proving the database, the cache and the LLM config', async () => {
    const res = await http(`${url}${ROUTES.ready}`);
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({
      status: 'ready',
      version: 'it-1.0.0',
      checks: { database: 'ok', cache: 'ok', llm: 'ok' },
    });
  });

  test('on a keep-alive connection, the service announces KEEP_ALIVE_TIMEOUT_SECONDS as Keep-Alive: timeout=N', async () => {
    // The ALB's idle timeout must stay below this (lib/config/relations.ts, alb-idle-below-keep-alive).
    const agent = new Agent({ keepAlive: true });
    try {
      const res = await http(`${url}${ROUTES.health}`, { agent });
      expect(res.status).toBe(200);
      expect(res.headers['keep-alive']).toBe('timeout=77');
    } finally {
      agent.destroy();
    }
  });

  test('a repeated question is a cache miss, then a hit (and the LLM is called once)', async () => {
    const question = uniqueText('What is the tallest mountain');
    const before = stack.llm.stats().ok;
    const first = await chat({ message: question });
    expect(first.status).toBe(200);
    expect(first.headers[HEADERS.cache]).toBe('MISS');
    expect(first.headers[HEADERS.appVersion]).toBe('it-1.0.0');
    expect(first.json().cached).toBe(false);
    expect(first.json().reply).toContain(FAKE_LLM_MARKER);

    // Whitespace at the ends does not change the key.
    const second = await chat({ message: `  ${question}\n` });
    expect(second.status).toBe(200);
    expect(second.headers[HEADERS.cache]).toBe('HIT');
    expect(second.json().cached).toBe(true);
    expect(second.json().reply).toBe(first.json().reply);
    expect(stack.llm.stats().ok - before).toBe(1);

    // Case can change meaning ("CO" is carbon monoxide, "Co" cobalt): another key, another answer.
    const recased = await chat({ message: question.toUpperCase() });
    expect([recased.status, recased.headers[HEADERS.cache]]).toEqual([200, 'MISS']);
    expect(stack.llm.stats().ok - before).toBe(2);
  });

  test('a 200 means both messages are committed, in schema chat, owned by the schema owner role', async () => {
    const message = uniqueText('persist me');
    const res = await chat({ message });
    expect(res.status).toBe(200);
    const { session_id, request_id, reply } = res.json<{ session_id: string; request_id: string; reply: string }>();
    const rows = await stack.postgres.query<{ role: string; content: string; request_id: string }>(
      'SELECT role, content, request_id FROM chat.messages WHERE session_id = $1 ORDER BY id',
      [session_id],
    );
    expect(rows).toEqual([
      { role: 'user', content: message, request_id },
      { role: 'assistant', content: reply, request_id },
    ]);
    const session = await stack.postgres.query('SELECT user_id FROM chat.sessions WHERE id = $1', [session_id]);
    expect(session).toEqual([{ user_id: 'chat-it-user' }]);
    const owners = await stack.postgres.query<{ tablename: string; tableowner: string }>(
      "SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'chat' ORDER BY tablename",
    );
    expect(owners.map((o) => o.tableowner)).toEqual(owners.map(() => 'chat_owner'));
    expect(owners.map((o) => o.tablename)).toEqual(['messages', 'schema_migrations', 'sessions']);
  });

  test('a follow-up carries its session context and is never answered from another conversation', async () => {
    const a1 = await chat({ message: uniqueText('topic A') });
    const sessionA = a1.json<{ session_id: string }>().session_id;
    const followUpA = await chat({ message: 'and then?', session_id: sessionA });
    expect(followUpA.headers[HEADERS.cache]).toBe('MISS');
    // The fake LLM reports how many earlier messages it was sent: the first turn's two.
    expect(followUpA.json().reply).toContain('(2 earlier messages');

    const b1 = await chat({ message: uniqueText('topic B') });
    const followUpB = await chat({ message: 'and then?', session_id: b1.json<{ session_id: string }>().session_id });
    expect(followUpB.headers[HEADERS.cache]).toBe('MISS');

    // Asking again in A moves that conversation on: its context now holds four messages.
    const again = await chat({ message: 'and then?', session_id: sessionA });
    expect(again.json().reply).toContain('(4 earlier messages');
  });

  test(`context is bounded to the last ${LIMITS.contextTurns} turns`, async () => {
    const first = await chat({ message: uniqueText('turn 0') });
    const session = first.json<{ session_id: string }>().session_id;
    for (let i = 1; i < LIMITS.contextTurns + 2; i++)
      await chat({ message: uniqueText(`turn ${i}`), session_id: session });
    const last = await chat({ message: uniqueText('last'), session_id: session });
    expect(last.json().reply).toContain(`(${LIMITS.contextTurns * 2} earlier messages`);
  });

  test('the stream route sends tokens, then one done event, after persisting both messages', async () => {
    const message = uniqueText('stream this');
    const res = await postJson(`${url}${ROUTES.chatStream}`, { message }, { headers: auth() });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(res.headers[HEADERS.cache]).toBe('MISS');
    const blocks = res.text.trim().split('\n\n');
    const events = blocks.map((b) => b.split('\n')[0]?.replace('event: ', ''));
    expect(events.filter((e) => e === SSE_EVENTS.token).length).toBeGreaterThan(2);
    expect(events.at(-1)).toBe(SSE_EVENTS.done);
    expect(events.filter((e) => e === SSE_EVENTS.done)).toHaveLength(1);
    const done = JSON.parse((blocks.at(-1) as string).split('\n')[1]?.replace('data: ', '') ?? '{}');
    const deltas = blocks
      .slice(0, -1)
      .map((b) => JSON.parse(b.split('\n')[1]?.replace('data: ', '') ?? '{}').delta as string)
      .join('');
    expect(deltas).toBe(done.reply);
    const rows = await stack.postgres.query('SELECT role FROM chat.messages WHERE session_id = $1', [done.session_id]);
    expect(rows).toHaveLength(2);
    // The head left with the first token (lookup time only); done carries the whole turn's timing.
    const m = SERVER_TIMING_METRICS;
    expect(Object.keys(parseServerTiming(res.headers[HEADERS.serverTiming] as string))).not.toContain(m.llm);
    const whole = parseServerTiming(done.server_timing);
    expect(whole[m.llm]).toBeGreaterThan(0);
    expect(whole[m.db]).toBeGreaterThan(0); // the context read and the insert of both messages
    expect(whole[m.total]).toBeGreaterThanOrEqual((whole[m.llm] as number) + (whole[m.db] as number));

    // Now cached: the stream route answers the same question from the cache.
    const hit = await postJson(`${url}${ROUTES.chatStream}`, { message }, { headers: auth() });
    expect(hit.headers[HEADERS.cache]).toBe('HIT');
  });

  test('every answer reports the LLM tokens it cost (usage), as the provider billed them; a hit costs 0', async () => {
    const message = uniqueText('what does this cost');
    const miss = await chat({ message });
    expect(miss.status).toBe(200);
    const [call] = stack.llm.recordedFor(message);
    expect(call?.usage).not.toBeNull();
    expect(miss.json().usage).toEqual({
      input_tokens: call?.usage?.promptTokens,
      output_tokens: call?.usage?.completionTokens,
    });
    expect((miss.json().usage as { input_tokens: number }).input_tokens).toBeGreaterThan(0);
    const hit = await chat({ message });
    expect(hit.headers[HEADERS.cache]).toBe('HIT');
    expect(hit.json().usage).toEqual({ input_tokens: 0, output_tokens: 0 });

    // The stream's done event carries the same, for a miss and for a hit.
    const streamed = uniqueText('stream what this costs');
    const doneOf = (text: string) =>
      JSON.parse((text.trim().split('\n\n').at(-1) as string).split('\n')[1]?.replace('data: ', '') ?? '{}');
    const sMiss = await postJson(`${url}${ROUTES.chatStream}`, { message: streamed }, { headers: auth() });
    const [sCall] = stack.llm.recordedFor(streamed);
    expect(doneOf(sMiss.text).usage).toEqual({
      input_tokens: sCall?.usage?.promptTokens,
      output_tokens: sCall?.usage?.completionTokens,
    });
    expect(doneOf(sMiss.text).usage.output_tokens).toBeGreaterThan(0);
    const sHit = await postJson(`${url}${ROUTES.chatStream}`, { message: streamed }, { headers: auth() });
    expect(sHit.headers[HEADERS.cache]).toBe('HIT');
    expect(doneOf(sHit.text).usage).toEqual({ input_tokens: 0, output_tokens: 0 });
  });

  test("the stream's first byte is its first token: status, headers and the first event arrive in one piece", async () => {
    // The fake LLM holds its first chunk 400 ms: nothing of the answer may reach the client before it.
    stack.llm.configure({ latencyMs: 400 });
    const { host, hostname, port } = new URL(url);
    const body = JSON.stringify({ message: uniqueText('first byte') });
    const headers = Object.entries({ ...auth(), 'content-type': 'application/json' })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    const first = await new Promise<{ text: string; afterMs: number }>((resolve, reject) => {
      const socket = connect(Number(port), hostname);
      let sentAt = 0;
      let seen = '';
      socket.on('connect', () => {
        sentAt = performance.now();
        socket.write(
          `POST ${ROUTES.chatStream} HTTP/1.1\r\nhost: ${host}\r\n${headers}content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
        );
      });
      // The first read: what the client's TTFB clock stops on. It must hold a whole token event.
      socket.once('data', (chunk: Buffer) => {
        seen = chunk.toString('utf8');
        resolve({ text: seen, afterMs: performance.now() - sentAt });
        socket.destroy();
      });
      socket.on('error', reject);
    });
    expect(first.text.startsWith('HTTP/1.1 200')).toBe(true);
    expect(first.text).toMatch(/\r\n\r\n[0-9a-f]+\r\nevent: token\ndata: \{"delta":/);
    expect(first.afterMs).toBeGreaterThanOrEqual(390);
  });

  test('an error before the first token is a real HTTP status with Retry-After, not a 200 stream', async () => {
    stack.llm.configure({ failNext: { kind: 'throttle', count: 3 } });
    const res = await postJson(
      `${url}${ROUTES.chatStream}`,
      { message: uniqueText('throttled stream') },
      { headers: auth() },
    );
    expect(res.status).toBe(429);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(Number(res.headers[HEADERS.retryAfter])).toBeGreaterThanOrEqual(1);
    expect(res.json<ErrorResponse>().error.code).toBe(ERROR_CODES.llmThrottled);
  });

  test('GET /api/v1/metrics/cache reports hits, misses and the hit rate since start', async () => {
    const before = (await http(`${url}${ROUTES.cacheMetrics}`, { headers: auth() })).json<{
      hits: number;
      misses: number;
    }>();
    const q = uniqueText('metrics');
    await chat({ message: q });
    await chat({ message: q });
    await chat({ message: q });
    const after = (await http(`${url}${ROUTES.cacheMetrics}`, { headers: auth() })).json<{
      hits: number;
      misses: number;
      bypassed: number;
      hit_rate: number;
    }>();
    expect(after.misses - before.misses).toBe(1);
    expect(after.hits - before.hits).toBe(2);
    expect(after.hit_rate).toBeCloseTo(after.hits / (after.hits + after.misses), 10);
  });
});

describe('LLM failures reach clients as 429/503 with Retry-After, never a 500', () => {
  test('persistent LLM throttling: 3 attempts in total, then 429 llm_throttled with Retry-After', async () => {
    stack.llm.configure({ failNext: { kind: 'throttle', count: 3 } });
    const before = stack.llm.stats().calls;
    const res = await chat({ message: uniqueText('throttled') });
    expect(stack.llm.stats().calls - before).toBe(3);
    expect(res.status).toBe(429);
    expect(Number(res.headers[HEADERS.retryAfter])).toBeGreaterThanOrEqual(1);
    expect(res.json<ErrorResponse>().error.code).toBe(ERROR_CODES.llmThrottled);
    expect(res.text).not.toMatch(STACK_TRACE);
  });

  test('two throttled attempts then success: the client just gets its answer', async () => {
    stack.llm.configure({ failNext: { kind: 'throttle', count: 2 } });
    const before = stack.llm.stats().calls;
    const res = await chat({ message: uniqueText('eventually') });
    expect(res.status).toBe(200);
    expect(stack.llm.stats().calls - before).toBe(3);
  });

  test('a provider Retry-After beyond 2 s is handed to the client instead of being waited out', async () => {
    stack.llm.configure({ failNext: { kind: 'throttle', count: 1 }, retryAfterSeconds: 17 });
    const before = stack.llm.stats().calls;
    const res = await chat({ message: uniqueText('long retry-after') });
    expect(res.status).toBe(429);
    expect(res.headers[HEADERS.retryAfter]).toBe('17');
    expect(stack.llm.stats().calls - before).toBe(1);
  });

  test('LLM 500s: 3 attempts; a timeout: 1 (it may have been billed); then 503 llm_unavailable with Retry-After', async () => {
    for (const [kind, attempts] of [
      ['error', 3],
      ['timeout', 1],
    ] as const) {
      stack.llm.configure({ failNext: { kind, count: attempts }, hangMs: 5_000 });
      const before = stack.llm.stats().calls;
      const res = await chat({ message: uniqueText(kind) });
      expect({ kind, status: res.status, calls: stack.llm.stats().calls - before }).toEqual({
        kind,
        status: 503,
        calls: attempts,
      });
      expect(stack.llm.config().failNext).toBeNull();
      expect(Number(res.headers[HEADERS.retryAfter])).toBeGreaterThanOrEqual(1);
      expect(res.json<ErrorResponse>().error.code).toBe(ERROR_CODES.llmUnavailable);
      expect(res.text).not.toMatch(STACK_TRACE);
    }
  });
});

describe('bad input over the wire', () => {
  test('400 for invalid JSON, 413 for an oversized body or message, all JSON, no stack traces', async () => {
    const badJson = await http(`${url}${ROUTES.chat}`, { method: 'POST', body: '{"message":', headers: auth() });
    expect(badJson.status).toBe(400);
    expect(badJson.json<ErrorResponse>().error.code).toBe(ERROR_CODES.badRequest);

    const bigBody = await http(`${url}${ROUTES.chat}`, {
      method: 'POST',
      headers: auth(),
      body: JSON.stringify({ message: 'x'.repeat(LIMITS.maxBodyBytes * 2) }),
    });
    expect(bigBody.status).toBe(413);
    expect(bigBody.json<ErrorResponse>().error.code).toBe(ERROR_CODES.payloadTooLarge);

    const longMessage = await chat({ message: 'y'.repeat(LIMITS.maxMessageChars + 1) });
    expect(longMessage.status).toBe(413);

    for (const r of [badJson, bigBody, longMessage]) {
      expect(r.text).not.toMatch(STACK_TRACE);
      expect(r.headers[HEADERS.appVersion]).toBe('it-1.0.0');
    }
  });
});

describe('logs and metrics', () => {
  test('logs never contain a secret or a user message, and every access line has a request id', async () => {
    const secretMessage = uniqueText('confidential question');
    await chat({ message: secretMessage });
    const output = stack.service?.output() ?? '';
    for (const secret of [stack.appRole.password, stack.redis.password as string, stack.llmApiKey]) {
      expect(output).not.toContain(secret);
    }
    expect(output).not.toContain(secretMessage);
    const requestLines = stack.service?.logs().filter((l) => l.msg === 'request') ?? [];
    expect(requestLines.length).toBeGreaterThan(5);
    for (const l of requestLines) expect(l.request_id).toBeTruthy();
  });
});

describe('circuit breaker (last: it stays open for 30 s)', () => {
  test('after 5 failed requests the LLM gets no more calls, clients get 503 with the remaining time, hits still work', async () => {
    const cachedQuestion = uniqueText('cached before the outage');
    expect((await chat({ message: cachedQuestion })).status).toBe(200);

    stack.llm.configure({ failNext: { kind: 'error', count: 1000 } });
    for (let i = 0; i < 5; i++) expect((await chat({ message: uniqueText(`cb ${i}`) })).status).toBe(503);
    const calls = stack.llm.stats().calls;
    const refused = await chat({ message: uniqueText('cb refused') });
    expect(stack.llm.stats().calls).toBe(calls);
    expect(refused.status).toBe(503);
    expect(Number(refused.headers[HEADERS.retryAfter])).toBeGreaterThan(20);

    const ready = await http(`${url}${ROUTES.ready}`);
    expect(ready.status).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'degraded', checks: { llm: 'down' } });

    const hit = await chat({ message: cachedQuestion });
    expect([hit.status, hit.headers[HEADERS.cache]]).toEqual([200, 'HIT']);
  });
});

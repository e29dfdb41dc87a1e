import {
  assessChatResponse,
  assessReadiness,
  type HttpResult,
  headerValue,
  metricRecords,
  parseSse,
  streamEventsPerSecond,
} from '../../loadtests/src/lib/assess';

const REQUEST_ID = 'gate-r1-smoke-7';

function answer(overrides: Partial<HttpResult> & { json?: unknown } = {}): HttpResult {
  const { json, ...rest } = overrides;
  return {
    status: 200,
    // k6 reports header names in Go's canonical case.
    headers: {
      'X-App-Version': '1.4.0',
      'X-Cache': 'HIT',
      'X-Request-Id': REQUEST_ID,
      'Content-Type': 'application/json',
    },
    body: JSON.stringify(
      json ?? {
        reply: 'We open at 8.',
        session_id: 'sess_1',
        cached: true,
        request_id: REQUEST_ID,
        usage: { input_tokens: 0, output_tokens: 0 },
      },
    ),
    durationMs: 42,
    ...rest,
  };
}

function sse(events: Array<[string, unknown]>): string {
  return events.map(([event, data]) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`).join('');
}

describe('judging a chat answer', () => {
  test('a contract-conforming cache HIT succeeds and passes every check', () => {
    const a = assessChatResponse(answer(), { route: 'chat', requestId: REQUEST_ID });
    expect(a).toMatchObject({
      success: true,
      cacheStatus: 'HIT',
      servedFromCache: true,
      version: '1.4.0',
      sessionId: 'sess_1',
    });
    expect(Object.values(a.checks).every(Boolean)).toBe(true);
    expect(Object.keys(a.checks).length).toBeGreaterThanOrEqual(7);
  });

  test('every answer must report usage, and a HIT must report 0 tokens (it made no LLM call)', () => {
    const body = { reply: 'We open at 8.', session_id: 'sess_1', cached: true, request_id: REQUEST_ID };
    const check = 'answer reports usage {input_tokens, output_tokens}, 0 for a hit';
    expect(assessChatResponse(answer({ json: body }), { route: 'chat', requestId: REQUEST_ID }).checks[check]).toBe(
      false,
    );
    const billedHit = { ...body, usage: { input_tokens: 40, output_tokens: 9 } };
    expect(
      assessChatResponse(answer({ json: billedHit }), { route: 'chat', requestId: REQUEST_ID }).checks[check],
    ).toBe(false);
    const miss = assessChatResponse(
      answer({
        json: { ...billedHit, cached: false },
        headers: { 'X-App-Version': '1.4.0', 'X-Cache': 'MISS', 'X-Request-Id': REQUEST_ID },
      }),
      { route: 'chat', requestId: REQUEST_ID },
    );
    expect(miss.checks[check]).toBe(true);
    expect(miss.usage).toEqual({ inputTokens: 40, outputTokens: 9 });
  });

  test('header names are matched case-insensitively', () => {
    expect(headerValue({ 'X-App-Version': '1' }, 'x-app-version')).toBe('1');
    expect(headerValue({ 'x-cache': 'MISS' }, 'X-Cache')).toBe('MISS');
    expect(headerValue({}, 'x-cache')).toBeUndefined();
  });

  test('cached:true with x-cache MISS breaks the contract (a check fails) but is counted as served from cache', () => {
    const a = assessChatResponse(
      answer({ headers: { 'X-App-Version': '1', 'X-Cache': 'MISS', 'X-Request-Id': REQUEST_ID } }),
      {
        route: 'chat',
        requestId: REQUEST_ID,
      },
    );
    expect(a.checks['cached agrees with x-cache']).toBe(false);
    expect(a.servedFromCache).toBe(true);
  });

  test('a 200 with an empty reply is a failure, not a success', () => {
    const a = assessChatResponse(
      answer({ json: { reply: ' ', session_id: 's', cached: false, request_id: REQUEST_ID } }),
      {
        route: 'chat',
        requestId: REQUEST_ID,
      },
    );
    expect(a.success).toBe(false);
    expect(a.failure).toContain('well-formed');
  });

  test('a follow-up answered in another session fails its check', () => {
    const a = assessChatResponse(answer(), { route: 'chat', requestId: REQUEST_ID, sessionId: 'sess_other' });
    expect(a.checks['a follow-up stays in its session']).toBe(false);
  });

  test("a 503 from the service must carry Retry-After and the error body; an ALB's 502 is only a failure", () => {
    const service = assessChatResponse(
      {
        status: 503,
        headers: { 'X-App-Version': '1.4.0' },
        body: JSON.stringify({ error: { code: 'llm_unavailable', message: 'x', request_id: REQUEST_ID } }),
        durationMs: 3,
      },
      { route: 'chat', requestId: REQUEST_ID },
    );
    expect(service.success).toBe(false);
    expect(service.checks).toEqual({
      'error body is {error:{code, message, request_id}}': true,
      '429 and 503 carry Retry-After': false,
    });
    const alb = assessChatResponse(
      { status: 502, headers: {}, body: '<html>Bad Gateway</html>', durationMs: 3 },
      {
        route: 'chat',
        requestId: REQUEST_ID,
      },
    );
    expect(alb).toMatchObject({ success: false, checks: {}, failure: 'HTTP 502' });
    expect(alb.version).toBeUndefined();
  });

  test('no response at all (timeout, refused) is a failure with no checks', () => {
    const a = assessChatResponse(
      { status: 0, headers: {}, body: null, durationMs: 60000 },
      { route: 'chat', requestId: REQUEST_ID },
    );
    expect(a).toMatchObject({ success: false, checks: {} });
    expect(a.failure).toContain('no response');
  });
});

describe('judging a streamed answer', () => {
  const done = {
    reply: 'We open at 8.',
    session_id: 'sess_2',
    cached: false,
    request_id: REQUEST_ID,
    usage: { input_tokens: 31, output_tokens: 4 },
  };
  const streamed = (body: string): HttpResult => ({
    status: 200,
    headers: {
      'X-App-Version': '1.4.0',
      'X-Cache': 'MISS',
      'X-Request-Id': REQUEST_ID,
      'Content-Type': 'text/event-stream',
    },
    body,
    durationMs: 800,
  });

  test('tokens then done succeeds, and the tokens must add up to the reply', () => {
    const ok = assessChatResponse(
      streamed(
        sse([
          ['token', { delta: 'We open ' }],
          ['token', { delta: 'at 8.' }],
          ['done', done],
        ]),
      ),
      { route: 'stream', requestId: REQUEST_ID },
    );
    expect(ok).toMatchObject({ success: true, cacheStatus: 'MISS', servedFromCache: false });
    expect(Object.values(ok.checks).every(Boolean)).toBe(true);
    const garbled = assessChatResponse(
      streamed(
        sse([
          ['token', { delta: 'We close' }],
          ['done', done],
        ]),
      ),
      {
        route: 'stream',
        requestId: REQUEST_ID,
      },
    );
    expect(garbled.checks['stream tokens add up to the final reply']).toBe(false);
  });

  test('a stream that ends with an error event, or without done, fails', () => {
    const errored = assessChatResponse(
      streamed(
        sse([
          ['token', { delta: 'We' }],
          ['error', { error: { code: 'llm_unavailable' } }],
        ]),
      ),
      { route: 'stream', requestId: REQUEST_ID },
    );
    expect(errored).toMatchObject({ success: false, failure: 'stream ended with an error event' });
    const cut = assessChatResponse(streamed(sse([['token', { delta: 'We' }]])), {
      route: 'stream',
      requestId: REQUEST_ID,
    });
    expect(cut.success).toBe(false);
    expect(cut.checks['stream ends with exactly one done or error event']).toBe(false);
  });

  test("a stream's whole Server-Timing comes from its done event (its header has the lookup's only); the JSON route's from its header", () => {
    const whole = 'cache;dur=0.5, db;dur=4.25, llm;dur=180, total;dur=190';
    const withTiming = (extra: object): HttpResult => {
      const r = streamed(
        sse([
          ['token', { delta: 'We open ' }],
          ['token', { delta: 'at 8.' }],
          ['done', { ...done, ...extra }],
        ]),
      );
      return { ...r, headers: { ...r.headers, 'Server-Timing': 'cache;dur=0.5, db;dur=1' } };
    };
    const stream = withTiming({ server_timing: whole });
    const a = assessChatResponse(stream, { route: 'stream', requestId: REQUEST_ID });
    expect(a.serverTiming).toBe(whole);
    // The seeds' database time of a stream is the whole turn's, not the head's.
    const records = metricRecords({ kind: 'tail', route: 'stream' }, stream, a, undefined);
    expect(records).toContainEqual({ metric: 'chat_db', value: 4.25, tags: { kind: 'tail', route: 'stream' } });
    // Without it (an older version), nothing: the head's partial timing is no turn's.
    expect(assessChatResponse(withTiming({}), { route: 'stream', requestId: REQUEST_ID }).serverTiming).toBeUndefined();
    const json = answer({ headers: { ...answer().headers, 'Server-Timing': whole } });
    expect(assessChatResponse(json, { route: 'chat', requestId: REQUEST_ID }).serverTiming).toBe(whole);
  });

  test('parses CRLF line endings, comments and multi-line data', () => {
    expect(
      parseSse(': keep-alive\r\nevent: token\r\ndata: a\r\ndata: b\r\n\r\nevent: done\r\ndata: {}\r\n\r\n'),
    ).toEqual([
      { event: 'token', data: 'a\nb' },
      { event: 'done', data: '{}' },
    ]);
  });
});

describe('metric samples of one request', () => {
  const hit = answer();
  const assessed = assessChatResponse(hit, { route: 'chat', requestId: REQUEST_ID });

  test('a popular question answered from the cache is a hit, with its latency tagged HIT', () => {
    const records = metricRecords({ kind: 'popular', route: 'chat' }, hit, assessed, undefined);
    expect(records).toEqual(
      expect.arrayContaining([
        { metric: 'chat_requests', value: 1, tags: { kind: 'popular', route: 'chat' } },
        { metric: 'chat_success', value: true, tags: { kind: 'popular', route: 'chat' } },
        { metric: 'chat_latency', value: 42, tags: { kind: 'popular', route: 'chat', cache: 'HIT' } },
        { metric: 'chat_cache_hit', value: true, tags: { kind: 'popular', route: 'chat' } },
      ]),
    );
    expect(records.map((r) => r.metric)).not.toContain('chat_version_match');
  });

  test("an answer's Server-Timing db is its database time sample (the seeds' < 50 ms); none without it", () => {
    const timed = answer({ headers: { ...hit.headers, 'Server-Timing': 'cache;dur=0.4, db;dur=2.87, total;dur=6.1' } });
    const a = assessChatResponse(timed, { route: 'chat', requestId: REQUEST_ID });
    const records = metricRecords({ kind: 'popular', route: 'chat' }, timed, a, undefined);
    expect(records).toContainEqual({ metric: 'chat_db', value: 2.87, tags: { kind: 'popular', route: 'chat' } });
    const untimed = metricRecords({ kind: 'popular', route: 'chat' }, hit, assessed, undefined);
    expect(untimed.map((r) => r.metric)).not.toContain('chat_db');
  });

  test("a stream's token events per second count from its first byte to its last; none for one event or one burst", () => {
    const body = [1, 2, 3, 4, 5].map((i) => `event: token\ndata: {"delta":"${i}"}\n\n`).join('');
    const stream = answer({ body: `${body}event: done\ndata: {}\n\n`, durationMs: 300, waitingMs: 100 });
    const a = assessChatResponse(stream, { route: 'stream', requestId: REQUEST_ID });
    expect(a.tokenEvents).toBe(5);
    expect(streamEventsPerSecond(stream, a)).toBeCloseTo(20, 10); // 4 events after the first in 200 ms
    expect(streamEventsPerSecond({ ...stream, durationMs: 100 }, a)).toBeUndefined(); // all at once
    expect(streamEventsPerSecond(stream, { ...a, tokenEvents: 1 })).toBeUndefined();
    expect(streamEventsPerSecond(hit, assessed)).toBeUndefined(); // JSON
  });

  test('a failed popular request counts against the hit rate and adds no latency sample', () => {
    const failed = { status: 503, headers: { 'X-App-Version': '1.4.0' }, body: '{}', durationMs: 5 };
    const records = metricRecords(
      { kind: 'popular', route: 'chat' },
      failed,
      assessChatResponse(failed, { route: 'chat', requestId: 'x' }),
      undefined,
    );
    expect(records).toContainEqual({
      metric: 'chat_cache_hit',
      value: false,
      tags: { kind: 'popular', route: 'chat' },
    });
    expect(records.map((r) => r.metric)).not.toContain('chat_latency');
  });

  test('a run-unique prompt served from the cache is recorded as a violation', () => {
    const records = metricRecords({ kind: 'fresh', route: 'chat' }, hit, assessed, undefined);
    expect(records).toContainEqual({
      metric: 'chat_fresh_uncached',
      value: false,
      tags: { kind: 'fresh', route: 'chat' },
    });
    expect(records.map((r) => r.metric)).not.toContain('chat_cache_hit');
  });

  test('with EXPECTED_VERSION every service answer is version-checked; an ALB error without the header is not', () => {
    const wrong = metricRecords({ kind: 'tail', route: 'chat' }, hit, assessed, '1.5.0');
    expect(wrong).toContainEqual({ metric: 'chat_version_match', value: false, tags: { kind: 'tail', route: 'chat' } });
    expect(wrong).toContainEqual({ metric: 'chat_version_checked', value: 1, tags: { kind: 'tail', route: 'chat' } });
    const alb = { status: 502, headers: {}, body: '', durationMs: 1 };
    const records = metricRecords(
      { kind: 'tail', route: 'chat' },
      alb,
      assessChatResponse(alb, { route: 'chat', requestId: 'x' }),
      '1.5.0',
    );
    expect(records.map((r) => r.metric)).not.toContain('chat_version_match');
  });

  test('a 200 without x-app-version is a version mismatch, not skipped', () => {
    const bare = answer({ headers: { 'X-Cache': 'MISS', 'X-Request-Id': REQUEST_ID } });
    const records = metricRecords(
      { kind: 'tail', route: 'chat' },
      bare,
      assessChatResponse(bare, { route: 'chat', requestId: REQUEST_ID }),
      '1.4.0',
    );
    expect(records).toContainEqual({
      metric: 'chat_version_match',
      value: false,
      tags: { kind: 'tail', route: 'chat' },
    });
  });
});

describe('readiness', () => {
  const ready = (status: number, body: unknown): HttpResult => ({
    status,
    headers: {},
    body: JSON.stringify(body),
    durationMs: 1,
  });
  const checks = { database: 'ok', cache: 'ok', llm: 'ok' };

  test('200 ready lets the gate run', () => {
    expect(assessReadiness(ready(200, { status: 'ready', version: '2', checks }))).toMatchObject({
      ready: true,
      version: '2',
    });
  });

  test('200 degraded runs, with a note that the cache thresholds will likely fail', () => {
    const r = assessReadiness(ready(200, { status: 'degraded', version: '2', checks: { ...checks, cache: 'down' } }));
    expect(r.ready).toBe(true);
    expect(r.detail).toContain('cache=down');
  });

  test.each([
    [
      '503 not_ready',
      503,
      { status: 'not_ready', version: '2', checks: { ...checks, database: 'auth_failed' } },
      'database=auth_failed',
    ],
    ['200 with a body that is not the contract', 200, { ok: true }, 'HTTP 200'],
    ['404 (wrong route or wrong target)', 404, { error: {} }, 'HTTP 404'],
  ])('%s aborts the gate and says why', (_name, status, body, why) => {
    const r = assessReadiness(ready(status, body));
    expect(r.ready).toBe(false);
    expect(r.detail).toContain(why);
  });

  test('no answer aborts the gate as unreachable', () => {
    expect(assessReadiness({ status: 0, headers: {}, body: null, durationMs: 5000 })).toMatchObject({
      ready: false,
      status: 'unreachable',
    });
  });
});

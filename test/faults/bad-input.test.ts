/**
 * Hostile input against the real service process (real Postgres, real Redis with TLS + AUTH, the
 * fake LLM): property-based tests over both chat routes and the request headers, then oversized
 * bodies sent slowly. Whatever arrives, the answer is never a 5xx, never a stack trace or an
 * internal path, and the process stays alive and ready.
 *
 * Every property runs a bounded number of cases from a fixed seed (FAULTS_SEED overrides it);
 * fast-check prints the seed and the counterexample's path when a property fails, so a failure
 * replays with `FAULTS_SEED=<seed> npx jest test/faults/bad-input`.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { ERROR_CODES, HEADERS, LIMITS, ROUTES, SSE_EVENTS } from '../../lib/contract';
import type { ServiceProcess } from '../../scripts/harness';
import { type RawResponse, rawRequest, slowUpload } from './support/raw-http';
import { type FaultStack, INTERNALS, isAlive, startFaultStack } from './support/stack';

jest.setTimeout(120_000);

const SEED = Number(process.env.FAULTS_SEED ?? 20_260_707);
const RUNS = 250;
// A failing case is shrunk to a small counterexample; a property that runs out of time fails too.
const params = { seed: SEED, numRuns: RUNS, interruptAfterTimeLimit: 40_000, markInterruptAsFailure: true } as const;

let faults: FaultStack;
let svc: ServiceProcess;
const seen: Record<string, number> = {};

beforeAll(async () => {
  faults = await startFaultStack({
    // Hundreds of requests from one address: the limiter would answer most of them 429.
    serviceEnv: { RATE_LIMIT_PER_MINUTE: '100000', APP_VERSION: 'faults-bad-input' },
  });
  svc = faults.stack.service as ServiceProcess;
}, 120_000);

afterAll(async () => {
  await faults?.stop();
  console.log(`bad input: statuses seen ${JSON.stringify(seen)} (seed ${SEED})`);
});

const ROUTE_PATHS = [ROUTES.chat, ROUTES.chatStream] as const;
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** The judgement every response gets, whatever was sent. */
function judge(res: RawResponse, route: string, sentRequestId?: string): void {
  seen[String(res.status)] = (seen[String(res.status)] ?? 0) + 1;
  // An answer, not a dropped connection or a hang.
  expect(res.timedOut).toBe(false);
  expect(res.status).toBeGreaterThanOrEqual(200);
  expect(res.status).toBeLessThan(500);
  if (res.status === 200) {
    if (route === ROUTES.chatStream) {
      const events = [...res.body.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
      expect(events.filter((e) => e === SSE_EVENTS.done)).toHaveLength(1);
      expect(events).not.toContain(SSE_EVENTS.error);
    } else {
      const body = JSON.parse(res.body) as Record<string, unknown>;
      expect(Object.keys(body).sort()).toEqual(['cached', 'reply', 'request_id', 'session_id', 'usage']);
    }
  } else {
    expect(res.body).not.toMatch(INTERNALS);
    // Our own errors are the contract's shape; Node's parser answers bad framing (400/431) itself.
    if (res.headers[HEADERS.appVersion]) {
      const body = JSON.parse(res.body) as { error: { code: string; message: string } };
      expect(Object.values(ERROR_CODES)).toContain(body.error.code);
    }
  }
  const echoed = res.headers[HEADERS.requestId];
  if (echoed !== undefined) {
    expect(echoed).toMatch(SAFE_REQUEST_ID);
    if (sentRequestId !== undefined && !SAFE_REQUEST_ID.test(sentRequestId)) expect(echoed).not.toBe(sentRequestId);
  }
}

// --- arbitraries ------------------------------------------------------------------------------

/** Strings with everything in them: controls, NUL, lone surrogates' replacements, astral planes. */
const anyText = (maxLength: number) =>
  fc.oneof(
    fc.string({ unit: 'binary', maxLength }),
    fc.string({ unit: 'binary-ascii', maxLength }),
    fc.string({ maxLength }),
    fc.constantFrom('', ' ', '\t\n \r', '\u0000', 'a\u0000b', '\u200b', '\ufeff', '\ud83d\ude00'.repeat(10)),
  );

/** Messages around every limit: empty, whitespace only, at and just over LIMITS.maxMessageChars. */
const message = fc.oneof(
  anyText(64),
  fc
    .constantFrom(LIMITS.maxMessageChars - 1, LIMITS.maxMessageChars, LIMITS.maxMessageChars + 1)
    .map((n) => 'm'.repeat(n)),
  fc.nat({ max: 3 * LIMITS.maxMessageChars }).map((n) => ` ${'x'.repeat(n)} `),
  fc.nat({ max: 9000 }).map((n) => ' \n\t'.repeat(n)),
  fc.nat({ max: 2500 }).map((n) => '\ud83d\ude00'.repeat(n)),
);

const id = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9_-]{1,128}$/),
  fc.nat({ max: 20_000 }).map((n) => 's'.repeat(n)),
  anyText(200),
);

/** Anything at all where a field should be: wrong types included. */
const wrongType = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
);

/** Bodies that parse as JSON: the right shape, wrong types, unknown fields, non-objects. */
const jsonBody = fc.oneof(
  fc.record(
    {
      message: fc.oneof({ weight: 4, arbitrary: message }, { weight: 1, arbitrary: wrongType }),
      session_id: fc.oneof({ weight: 3, arbitrary: id }, { weight: 1, arbitrary: wrongType }),
      user_id: fc.oneof({ weight: 3, arbitrary: id }, { weight: 1, arbitrary: wrongType }),
    },
    { requiredKeys: [] },
  ),
  fc
    .tuple(
      fc.record({ message }),
      fc.dictionary(
        fc.string({ maxLength: 20 }).filter((k) => !['message', 'session_id', 'user_id'].includes(k)),
        fc.jsonValue({ maxDepth: 3 }),
        { maxKeys: 5 },
      ),
    )
    .map(([known, unknown]) => ({ ...unknown, ...known })),
  fc.jsonValue({ maxDepth: 4 }),
);

/** Bytes that are not (quite) JSON, or not UTF-8. */
const brokenBody = fc.oneof(
  jsonBody
    .map((v) => JSON.stringify(v) ?? 'null')
    .chain((text) => fc.nat({ max: Math.max(0, text.length - 1) }).map((cut) => Buffer.from(text.slice(0, cut)))),
  fc.tuple(fc.string({ unit: 'binary-ascii', maxLength: 40 }), fc.uint8Array({ minLength: 1, maxLength: 40 })).map(
    // Invalid UTF-8 (lone continuation bytes, truncated sequences, 0xFF) inside a JSON string.
    ([text, bytes]) =>
      Buffer.concat([Buffer.from(`{"message":"${text.replace(/["\\]/g, '')}`), Buffer.from(bytes), Buffer.from('"}')]),
  ),
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
  fc.constantFrom(
    '{"message":"x","__proto__":{"polluted":true}}',
    '{"message":"x","constructor":{"prototype":{"polluted":true}}}',
    `{"message":"x","deep":${'['.repeat(5000)}${']'.repeat(5000)}}`,
    '{"message":"x","n":1e999999}',
    '{"message":"a","message":"b"}',
    '{"message":"\\ud800"}',
  ),
);

type Header = [string, string];
interface HeaderCase {
  readonly headers: Header[];
  /** The x-request-id sent, if any. */
  readonly requestId?: string;
}
const headerCase_ = (headers: Header[], requestId?: string): HeaderCase =>
  requestId === undefined ? { headers } : { headers, requestId };
const noNewlines = (s: string) => s.replace(/[\r\n]/g, '');

// --- properties -------------------------------------------------------------------------------

describe('bad input never becomes a 5xx, a crash or a stack trace', () => {
  test(`JSON bodies of any shape on both chat routes (${RUNS} cases, seed ${SEED})`, async () => {
    await fc.assert(
      fc.asyncProperty(jsonBody, fc.constantFrom(...ROUTE_PATHS), async (body, route) => {
        const res = await rawRequest(svc.port, {
          path: route,
          headers: [['Content-Type', 'application/json']],
          body: JSON.stringify(body) ?? 'null',
        });
        judge(res, route);
      }),
      params,
    );
  });

  test(`malformed JSON and invalid UTF-8 bytes on both chat routes (${RUNS} cases, seed ${SEED})`, async () => {
    await fc.assert(
      fc.asyncProperty(brokenBody, fc.constantFrom(...ROUTE_PATHS), async (body, route) => {
        judge(
          await rawRequest(svc.port, { path: route, headers: [['Content-Type', 'application/json']], body }),
          route,
        );
      }),
      params,
    );
  });

  test(`header abuse: content types, duplicate lengths, request ids, huge headers (${RUNS} cases, seed ${SEED})`, async () => {
    const valid = JSON.stringify({ message: 'header abuse probe' });
    const json: Header = ['Content-Type', 'application/json'];
    const headerCase: fc.Arbitrary<HeaderCase> = fc.oneof(
      // Any Content-Type (or none, or two).
      fc
        .oneof(
          fc.constantFrom(
            'application/json; charset=utf-16',
            'application/json;;;',
            'text/plain',
            'application/x-www-form-urlencoded',
            'multipart/form-data; boundary=x',
            'application/vnd.api+json',
            '',
          ),
          fc.string({ unit: 'binary-ascii', maxLength: 60 }).map(noNewlines),
        )
        .map((ct) => headerCase_([['Content-Type', ct]])),
      fc.constant(headerCase_([])),
      fc.constant(headerCase_([json, ['Content-Type', 'text/plain']])),
      // Duplicate or contradictory framing: request smuggling shapes.
      fc
        .constantFrom<Header[]>(
          [
            ['Content-Length', String(valid.length)],
            ['Content-Length', String(valid.length)],
          ],
          [
            ['Content-Length', String(valid.length)],
            ['Content-Length', '5'],
          ],
          [
            ['Content-Length', String(valid.length)],
            ['Transfer-Encoding', 'chunked'],
          ],
          [['Content-Length', '-1']],
          [['Content-Length', '1e3']],
          [['Transfer-Encoding', 'gzip, chunked']],
        )
        .map((framing) => headerCase_([json, ...framing])),
      // Request ids of any size and content (latin1 bytes on the wire).
      fc
        .oneof(
          fc.string({ unit: 'binary-ascii', maxLength: 300 }),
          fc.nat({ max: 15_000 }).map((n) => 'r'.repeat(n)),
          fc.stringMatching(/^[A-Za-z0-9._:-]{1,64}$/),
        )
        .map(noNewlines)
        .map((rid) => headerCase_([json, [HEADERS.requestId, rid]], rid)),
      // Huge headers: one big one, or many small ones.
      fc.nat({ max: 100_000 }).map((n) => headerCase_([json, ['X-Junk', 'j'.repeat(n)]])),
      fc
        .nat({ max: 3_000 })
        .map((n) => headerCase_([json, ...Array.from({ length: n }, (_, i): Header => [`X-H-${i}`, 'v'])])),
    );
    await fc.assert(
      fc.asyncProperty(headerCase, fc.constantFrom(...ROUTE_PATHS), async ({ headers, requestId }, route) => {
        const hasFraming = headers.some(([k]) => /^(content-length|transfer-encoding)$/i.test(k));
        const res = await rawRequest(svc.port, {
          path: route,
          headers,
          body: valid,
          autoContentLength: !hasFraming,
          timeoutMs: 5_000,
        });
        // A body shorter than its declared length is a client that stalls: the server may wait for
        // the rest (its own request timeout), which we don't sit out here.
        if (res.timedOut && headers.some(([k, v]) => /^content-length$/i.test(k) && Number(v) > valid.length)) return;
        judge(res, route, requestId);
      }),
      params,
    );
  });

  test('a message containing NUL (U+0000) is a 400, not a 503 blamed on the database', async () => {
    for (const route of ROUTE_PATHS) {
      const res = await rawRequest(svc.port, {
        path: route,
        headers: [['Content-Type', 'application/json']],
        body: JSON.stringify({ message: 'hello\u0000world' }),
      });
      expect({ route, status: res.status }).toEqual({ route, status: 400 });
      expect(JSON.parse(res.body).error.code).toBe(ERROR_CODES.badRequest);
    }
  });
});

describe('oversized bodies are rejected before they are read in full', () => {
  test.each(ROUTE_PATHS)(
    '%s: a 16 MiB chunked body sent slowly gets its 413 after at most ~2x the limit',
    async (route) => {
      const totalBytes = 16 * 1024 * 1024;
      const rssBefore = rssKiB(svc.pid);
      const upload = await slowUpload(svc.port, route, { totalBytes, chunkBytes: 8 * 1024, intervalMs: 2 });
      const rssAfter = rssKiB(svc.pid);
      console.log(
        `${route}: 413 after ${upload.bytesSentBeforeResponse} of ${totalBytes} bytes; RSS ${rssBefore} → ${rssAfter} KiB`,
      );
      expect(upload.response.status).toBe(413);
      expect(JSON.parse(upload.response.body).error.code).toBe(ERROR_CODES.payloadTooLarge);
      // The answer came while the client was still sending: the server stopped reading at the limit.
      expect(upload.bytesSentBeforeResponse).toBeGreaterThan(0);
      expect(upload.bytesSentBeforeResponse).toBeLessThan(2 * LIMITS.maxBodyBytes + 64 * 1024);
      expect(upload.bytesSentTotal).toBeLessThan(totalBytes);
      // Nothing near the body's size was held in memory.
      expect(rssAfter - rssBefore).toBeLessThan(8 * 1024);
    },
  );

  test('a declared Content-Length over the limit is a 413 before any body byte is sent', async () => {
    const res = await rawRequest(svc.port, {
      path: ROUTES.chat,
      headers: [
        ['Content-Type', 'application/json'],
        ['Content-Length', String(1024 * 1024 * 1024)],
      ],
      autoContentLength: false,
    });
    expect(res.status).toBe(413);
  });
});

describe('afterwards', () => {
  test('the process is alive, ready and still answers a normal question', async () => {
    expect(isAlive(svc.pid)).toBe(true);
    expect(await svc.readiness()).toMatchObject({ status: 200, body: { status: 'ready' } });
    const res = await rawRequest(svc.port, {
      path: ROUTES.chat,
      headers: [['Content-Type', 'application/json']],
      body: JSON.stringify({ message: 'still fine?' }),
    });
    expect(res.status).toBe(200);
    // Nothing unplanned happened inside: no 500 and no "unhandled" line in the log.
    const unexpected = svc
      .logs()
      .filter(
        (l) =>
          l.msg === 'unhandled error' ||
          (l.msg === 'request' && (ROUTE_PATHS as readonly unknown[]).includes(l.route) && Number(l.status) >= 500),
      );
    expect(unexpected).toEqual([]);
  });

  test('secrets hygiene: no generated secret appears in anything the service printed', async () => {
    const leaks = await faults.stopServicesAndScan();
    expect(faults.capture.size).toBeGreaterThan(10_000);
    expect(leaks).toEqual([]);
  });
});

/** Resident memory of the service process, from procfs (Linux). */
function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}

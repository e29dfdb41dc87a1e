/**
 * Conversations have a lifecycle (issue 22, finding 5), against the real service: two service
 * processes ("tasks") sharing one Postgres and one Redis (TLS + AUTH), real tokens from the local
 * issuer, the fake LLM. Retention runs in-process against the same Postgres, as the app user.
 */
import {
  ERROR_CODES,
  type ErrorResponse,
  HEADERS,
  LIMITS,
  ROUTES,
  type SessionMessagesResponse,
  sessionMessagesPath,
  sessionPath,
} from '../../lib/contract';
import { type LocalStack, type ServiceProcess, startLocalStack, startServiceProcess } from '../../scripts/harness';
import { SESSION_INDEX_PREFIX } from '../../service/src/cache/session-index';
import { Database } from '../../service/src/db/database';
import { MessageRetention } from '../../service/src/db/retention';
import { createLogger } from '../../service/src/observability/logger';
import { type HttpResult, http, LineSink, postJson, uniqueText } from './support';

jest.setTimeout(180_000);

/** Small, so the cap is reached in a few dozen turns of a 4,000-character message. */
const STORED_BYTES_PER_DAY = 100_000;
const MAX_OUTPUT_TOKENS = 256;

let stack: LocalStack;
let taskA: ServiceProcess;
let taskB: ServiceProcess;

beforeAll(async () => {
  stack = await startLocalStack({
    serviceEnv: {
      APP_VERSION: 'lifecycle-it',
      QUOTA_STORED_BYTES_PER_DAY: String(STORED_BYTES_PER_DAY),
      LLM_MAX_OUTPUT_TOKENS: String(MAX_OUTPUT_TOKENS),
      // Every request comes from 127.0.0.1: the per-address flood guard is not under test.
      RATE_LIMIT_PER_MINUTE: '100000',
    },
  });
  taskA = stack.service as ServiceProcess;
  taskB = await startServiceProcess({ env: stack.env, waitFor: 'ready' });
});

afterAll(async () => {
  await taskB?.stop();
  await stack?.stop();
});

type Headers = Record<string, string>;
const chat = (headers: Headers, body: Record<string, unknown>, task = taskA) =>
  postJson(`${task.url}${ROUTES.chat}`, body, { headers });
const history = (headers: Headers, sessionId: string, query = '', task = taskA) =>
  http(`${task.url}${sessionMessagesPath(sessionId)}${query}`, { headers });
const remove = (headers: Headers, sessionId: string, task = taskA) =>
  http(`${task.url}${sessionPath(sessionId)}`, { method: 'DELETE', headers });

async function turn(headers: Headers, message: string, sessionId?: string): Promise<HttpResult> {
  const res = await chat(headers, { message, ...(sessionId ? { session_id: sessionId } : {}) });
  expect(res.status).toBe(200);
  return res;
}
const sessionOf = (res: HttpResult) => res.json<{ session_id: string }>().session_id;

const rowsOf = (sessionId: string) =>
  stack.postgres.query<{ seq: number; role: string; content: string }>(
    'SELECT seq, role, content FROM chat.messages WHERE session_id = $1 ORDER BY seq',
    [sessionId],
  );

/** Everything a client sees of a response but what differs per request anyway. */
function visible(res: HttpResult) {
  const { date: _date, [HEADERS.requestId]: _id, ...headers } = res.headers;
  const body = res.json<ErrorResponse>();
  return { status: res.status, headers, body: { ...body, error: { ...body.error, request_id: undefined } } };
}

describe('reading a conversation', () => {
  test('the owner reads it back, newest page first, each page oldest first, with a cursor to older pages', async () => {
    const alice = stack.authHeaders(uniqueText('alice'));
    const first = await turn(alice, uniqueText('first question'));
    const sessionId = sessionOf(first);
    await turn(alice, uniqueText('second question'), sessionId);
    await turn(alice, uniqueText('third question'), sessionId);
    const stored = await rowsOf(sessionId);
    expect(stored.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6]);

    // The newest four, oldest first; then the rest; then nothing more.
    const page1 = await history(alice, sessionId, '?limit=4');
    expect(page1.status).toBe(200);
    const p1 = page1.json<SessionMessagesResponse>();
    expect(p1.session_id).toBe(sessionId);
    expect(p1.messages.map((m) => [m.seq, m.role, m.content])).toEqual(
      stored.slice(2).map((r) => [r.seq, r.role, r.content]),
    );
    expect(p1.next_before).toBe(3);
    for (const m of p1.messages) expect(Date.parse(m.created_at)).toBeGreaterThan(Date.now() - 600_000);
    // Another task serves the next page the same way.
    const page2 = await history(alice, sessionId, `?limit=4&before=${p1.next_before}`, taskB);
    const p2 = page2.json<SessionMessagesResponse>();
    expect(p2.messages.map((m) => [m.seq, m.role, m.content])).toEqual(
      stored.slice(0, 2).map((r) => [r.seq, r.role, r.content]),
    );
    expect(p2.next_before).toBeNull();
    // Without a limit: one page of at most LIMITS.historyPageDefault holds all six.
    const whole = (await history(alice, sessionId)).json<SessionMessagesResponse>();
    expect(whole.messages).toHaveLength(6);
    expect(whole.next_before).toBeNull();
  });

  test('concurrent turns of one session, on two tasks, get consecutive positions (seq) and all succeed', async () => {
    const alice = stack.authHeaders(uniqueText('alice'));
    const sessionId = sessionOf(await turn(alice, uniqueText('start')));
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        chat(alice, { message: uniqueText(`parallel ${i}`), session_id: sessionId }, i % 2 === 0 ? taskA : taskB),
      ),
    );
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    const rows = await rowsOf(sessionId);
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 14 }, (_, i) => i + 1));
    // Each turn's question is directly followed by its answer.
    for (let i = 0; i < rows.length; i += 2) {
      expect([rows[i]?.role, rows[i + 1]?.role]).toEqual(['user', 'assistant']);
      expect(rows[i + 1]?.content).toContain(String(rows[i]?.content).slice(0, 40));
    }
  });

  test('the page size is bounded: a limit above LIMITS.historyPageMax, or not a number, is a 400', async () => {
    const alice = stack.authHeaders(uniqueText('alice'));
    const sessionId = sessionOf(await turn(alice, uniqueText('q')));
    for (const query of [`?limit=${LIMITS.historyPageMax + 1}`, '?limit=0', '?limit=ten', '?before=-1']) {
      const res = await history(alice, sessionId, query);
      expect(res.status).toBe(400);
      expect(res.json<ErrorResponse>().error.code).toBe(ERROR_CODES.badRequest);
    }
    expect((await history(alice, sessionId, `?limit=${LIMITS.historyPageMax}`)).status).toBe(200);
  });

  test('both routes need a valid bearer token, like the chat routes', async () => {
    for (const res of [await history({}, 'some-session'), await remove({}, 'some-session')]) {
      expect(res.status).toBe(401);
      expect(res.json<ErrorResponse>().error.code).toBe(ERROR_CODES.unauthorized);
    }
  });
});

describe('everyone else gets the answer a never-issued id gets', () => {
  test("another principal's GET and DELETE are 404, identical in status, body and headers; nothing changes", async () => {
    const alice = stack.authHeaders(uniqueText('alice'));
    const bob = stack.authHeaders(uniqueText('bob'));
    const secret = uniqueText('my PIN is 4711');
    const sessionId = sessionOf(await turn(alice, secret));
    await turn(alice, uniqueText('a follow-up'), sessionId);
    const before = await rowsOf(sessionId);
    const boundBefore = await indexOf(sessionId);
    expect(boundBefore.length).toBeGreaterThan(0);

    const neverIssued = `never-issued-${Date.now()}`;
    const readTheirs = await history(bob, sessionId);
    const readNone = await history(bob, neverIssued);
    const deleteTheirs = await remove(bob, sessionId);
    const deleteNone = await remove(bob, neverIssued);
    for (const res of [readTheirs, readNone, deleteTheirs, deleteNone]) {
      expect(res.status).toBe(404);
      expect(res.text).not.toContain(secret);
    }
    expect(visible(readTheirs)).toEqual(visible(readNone));
    expect(visible(deleteTheirs)).toEqual(visible(deleteNone));
    expect(visible(readTheirs).body.error).toEqual({
      code: ERROR_CODES.notFound,
      message: 'No such session.',
      request_id: undefined,
    });

    // Bob's DELETE deleted nothing: not the rows, not the cache entries, and wrote no tombstone.
    expect(await rowsOf(sessionId)).toEqual(before);
    expect(await indexOf(sessionId)).toEqual(boundBefore);
    const redis = stack.redis.client();
    try {
      expect(await redis.exists(`${SESSION_INDEX_PREFIX.gone}${sessionId}`)).toBe(0);
    } finally {
      redis.disconnect();
    }
    expect((await history(alice, sessionId)).status).toBe(200);
  });
});

/** The cache keys bound to a session, as Redis holds them. */
async function indexOf(sessionId: string): Promise<string[]> {
  const redis = stack.redis.client();
  try {
    return (await redis.smembers(`${SESSION_INDEX_PREFIX.keys}${sessionId}`)).sort();
  } finally {
    redis.disconnect();
  }
}

describe('deleting a conversation', () => {
  test('the owner deletes it: the rows are gone, and its follow-ups are never replayed from the cache afterwards', async () => {
    const alice = stack.authHeaders(uniqueText('alice'));
    const question = uniqueText('what is my account number');
    const followUp = uniqueText('and the PIN that goes with it?');
    const first = await turn(alice, question);
    const sessionId = sessionOf(first);
    const second = await turn(alice, followUp, sessionId);
    expect(second.headers[HEADERS.cache]).toBe('MISS');
    const bound = await indexOf(sessionId);
    expect(bound.length).toBeGreaterThanOrEqual(1);

    // Before the deletion: a new conversation with the identical context replays the follow-up.
    const replay = async (headers: Headers) => {
      const s = sessionOf(await turn(headers, question));
      return turn(headers, followUp, s);
    };
    expect((await replay(alice)).headers[HEADERS.cache]).toBe('HIT');

    const deleted = await remove(alice, sessionId, taskB);
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');

    // The rows are gone, and so are the entries the session wrote (checked in Redis itself).
    expect(await rowsOf(sessionId)).toEqual([]);
    expect(await stack.postgres.query('SELECT 1 FROM chat.sessions WHERE id = $1', [sessionId])).toEqual([]);
    const redis = stack.redis.client();
    try {
      for (const key of bound) expect(await redis.exists(key)).toBe(0);
      expect(await redis.exists(`${SESSION_INDEX_PREFIX.keys}${sessionId}`)).toBe(0);
    } finally {
      redis.disconnect();
    }

    // Anyone's new conversation with the identical context now misses: the LLM answers it again.
    const callsBefore = stack.llm.recordedFor(followUp).length;
    const bob = stack.authHeaders(uniqueText('bob'));
    const afterwards = await replay(bob);
    expect(afterwards.headers[HEADERS.cache]).toBe('MISS');
    expect(afterwards.json<{ cached: boolean }>().cached).toBe(false);
    expect(stack.llm.recordedFor(followUp).length).toBe(callsBefore + 1);

    // And the deleted session is a 404 like any other unknown one, for its owner too.
    expect((await history(alice, sessionId)).status).toBe(404);
    expect((await remove(alice, sessionId)).status).toBe(404);
    expect((await chat(alice, { message: 'still there?', session_id: sessionId })).status).toBe(404);
  });

  test('a turn still in flight when its conversation is deleted cannot leave a cache entry behind', async () => {
    const alice = stack.authHeaders(uniqueText('alice'));
    const start = uniqueText('start');
    const sessionId = sessionOf(await turn(alice, start));
    // Slow LLM answers, so the follow-up is in flight while the deletion runs.
    stack.llm.configure({ latencyMs: 1_500 });
    const followUp = uniqueText('slow follow-up');
    let inFlight: Promise<HttpResult>;
    try {
      inFlight = chat(alice, { message: followUp, session_id: sessionId });
      await new Promise((r) => setTimeout(r, 300));
      expect((await remove(alice, sessionId, taskB)).status).toBe(204);
    } finally {
      stack.llm.configure({ latencyMs: 0 });
    }
    // Its rows can no longer be written: the turn is a 404.
    expect((await inFlight).status).toBe(404);
    expect(await rowsOf(sessionId)).toEqual([]);
    // The entry it wrote after the deletion was deleted by its binding (the tombstone): no session
    // index, and nothing answers that follow-up from the cache.
    expect(await indexOf(sessionId)).toEqual([]);
    const redis = stack.redis.client();
    try {
      expect(await redis.exists(`${SESSION_INDEX_PREFIX.gone}${sessionId}`)).toBe(1);
    } finally {
      redis.disconnect();
    }
    const again = sessionOf(await turn(alice, start));
    expect((await turn(alice, followUp, again)).headers[HEADERS.cache]).toBe('MISS');
  });
});

describe('QUOTA_STORED_BYTES_PER_DAY', () => {
  test('repeated cache hits of a 4,000-character message stop at the cap, across tasks: 429 storage_quota_exceeded with Retry-After to midnight UTC', async () => {
    const mallory = stack.authHeaders(uniqueText('mallory'));
    const message = `${uniqueText('big')} ${'x'.repeat(LIMITS.maxMessageChars)}`.slice(0, LIMITS.maxMessageChars);
    const results: HttpResult[] = [];
    // Far more than the cap holds (each turn stores about 4.2 KB); bounded.
    for (let i = 0; i < 60; i++) {
      const res = await chat(mallory, { message }, i % 2 === 0 ? taskA : taskB);
      results.push(res);
      if (res.status === 429) break;
    }
    expect(results.filter((r) => r.status >= 500)).toEqual([]);
    const stored = results.filter((r) => r.status === 200);
    expect(stored.length).toBeGreaterThan(5);
    expect(stored.some((r) => r.headers[HEADERS.cache] === 'HIT')).toBe(true);
    const refused = results[results.length - 1] as HttpResult;
    expect(refused.status).toBe(429);
    expect(refused.json<ErrorResponse>().error.code).toBe(ERROR_CODES.storageQuotaExceeded);
    const now = Date.now();
    const toMidnight = Math.ceil((86_400_000 - (now % 86_400_000)) / 1000);
    const retryAfter = Number(refused.headers[HEADERS.retryAfter]);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(Math.abs(retryAfter - toMidnight)).toBeLessThanOrEqual(30);

    // What the database holds for this principal today stays within the cap.
    const sessions = stored.map(sessionOf);
    const [{ bytes }] = await stack.postgres.query<{ bytes: string }>(
      'SELECT coalesce(sum(octet_length(content)), 0) AS bytes FROM chat.messages WHERE session_id = ANY($1)',
      [sessions],
    );
    expect(Number(bytes)).toBeLessThanOrEqual(STORED_BYTES_PER_DAY);
    expect(Number(bytes)).toBeGreaterThan(STORED_BYTES_PER_DAY / 2);

    // The refusal came before any work: a refused turn wrote nothing and asked the LLM nothing.
    expect(await stack.postgres.query('SELECT 1 FROM chat.sessions WHERE id = ANY($1)', [sessions])).toHaveLength(
      stored.length,
    );
    // Another principal is not affected.
    expect((await chat(stack.authHeaders(uniqueText('bystander')), { message })).status).toBe(200);
  });

  test('with the cache down the cap holds per task: never unlimited, never a 5xx', async () => {
    await stack.redis.takeDown();
    try {
      await taskA.waitForReadiness('degraded');
      const eve = stack.authHeaders(uniqueText('eve'));
      const message = `${uniqueText('outage')} ${'y'.repeat(LIMITS.maxMessageChars)}`.slice(0, LIMITS.maxMessageChars);
      const results: HttpResult[] = [];
      for (let i = 0; i < 60; i++) {
        const res = await chat(eve, { message });
        results.push(res);
        if (res.status === 429) break;
      }
      expect(results.filter((r) => r.status >= 500)).toEqual([]);
      const last = results[results.length - 1] as HttpResult;
      expect(last.status).toBe(429);
      expect(last.json<ErrorResponse>().error.code).toBe(ERROR_CODES.storageQuotaExceeded);
      expect(Number(last.headers[HEADERS.retryAfter])).toBeGreaterThanOrEqual(1);

      // Deleting needs the cache (its entries must go with it): 503 with Retry-After, and nothing is deleted.
      const alice = stack.authHeaders(uniqueText('alice'));
      const sessionId = sessionOf(await turn(alice, uniqueText('during the outage')));
      const refused = await remove(alice, sessionId);
      expect(refused.status).toBe(503);
      expect(refused.json<ErrorResponse>().error.code).toBe(ERROR_CODES.dependencyUnavailable);
      expect(Number(refused.headers[HEADERS.retryAfter])).toBeGreaterThanOrEqual(1);
      expect(await rowsOf(sessionId)).toHaveLength(2);
    } finally {
      await stack.redis.bringUp();
    }
    await taskA.waitForReadiness('ready', 30_000);
  });
});

describe('retention (MESSAGE_RETENTION_DAYS)', () => {
  test('deletes only messages older than N days, then the idle sessions, in bounded batches, safely from two tasks at once', async () => {
    const alice = stack.authHeaders(uniqueText('alice'));
    // Three old conversations (two turns each) and one that is old but continued today.
    const old: string[] = [];
    for (let i = 0; i < 3; i++) {
      const s = sessionOf(await turn(alice, uniqueText(`old ${i}`)));
      await turn(alice, uniqueText(`old ${i} again`), s);
      old.push(s);
    }
    const continued = sessionOf(await turn(alice, uniqueText('long ago')));
    const fresh = sessionOf(await turn(alice, uniqueText('today')));
    await stack.postgres.query(
      "UPDATE chat.messages SET created_at = now() - interval '31 days' WHERE session_id = ANY($1)",
      [[...old, continued]],
    );
    await stack.postgres.query("UPDATE chat.sessions SET updated_at = now() - interval '31 days' WHERE id = ANY($1)", [
      old,
    ]);
    await turn(alice, uniqueText('continued today'), continued);
    // Rows of earlier tests that are older than 30 days: none (they were all written minutes ago).
    const [{ n: oldRows }] = await stack.postgres.query<{ n: string }>(
      "SELECT count(*) AS n FROM chat.messages WHERE created_at < now() - interval '30 days'",
    );
    expect(Number(oldRows)).toBe(3 * 4 + 2);

    const sink = new LineSink();
    const logger = createLogger({ level: 'info', write: sink.write });
    const db = new Database({
      host: '127.0.0.1',
      port: stack.postgres.port,
      database: stack.postgres.database,
      // In-process the harness CA is not in Node's store; verify-full is what the service processes use.
      ssl: 'require',
      username: stack.appRole.username,
      password: stack.appRole.password,
    });
    try {
      // Bounded: 2 batches of 3 rows per table and run.
      const retention = () => new MessageRetention(db, { days: 30, batchSize: 3, maxBatches: 2 }, { logger });
      const firstRun = await retention().runOnce();
      expect(firstRun.deletedMessages).toBe(6);
      expect(firstRun.complete).toBe(false);

      // Two tasks at once: each row is deleted by exactly one of them, and neither fails.
      const runs = await Promise.all([retention().runOnce(), retention().runOnce()]);
      let deleted = firstRun.deletedMessages + runs.reduce((n, r) => n + r.deletedMessages, 0);
      let sessionsDeleted = firstRun.deletedSessions + runs.reduce((n, r) => n + r.deletedSessions, 0);
      for (let i = 0; i < 10; i++) {
        const run = await retention().runOnce();
        deleted += run.deletedMessages;
        sessionsDeleted += run.deletedSessions;
        if (run.complete && run.deletedMessages === 0 && run.deletedSessions === 0) break;
      }
      expect(deleted).toBe(3 * 4 + 2);
      expect(sessionsDeleted).toBe(3);

      // What is left: the fresh conversation whole, and the continued one's turn of today.
      for (const s of old)
        expect(await stack.postgres.query('SELECT 1 FROM chat.sessions WHERE id = $1', [s])).toEqual([]);
      expect((await rowsOf(fresh)).map((r) => r.seq)).toEqual([1, 2]);
      expect((await rowsOf(continued)).map((r) => r.seq)).toEqual([3, 4]);
      // The owner still pages what is left, and new turns keep counting from there.
      const left = (await history(alice, continued)).json<SessionMessagesResponse>();
      expect(left.messages.map((m) => m.seq)).toEqual([3, 4]);
      await turn(alice, uniqueText('after retention'), continued);
      expect((await rowsOf(continued)).map((r) => r.seq)).toEqual([3, 4, 5, 6]);

      // One log line per run, with what it did.
      const lines = sink.parsed().filter((l) => l.event === 'retention');
      expect(lines.length).toBeGreaterThanOrEqual(4);
      expect(lines[0]).toMatchObject({ retention_days: 30, deleted_messages: 6, complete: false });
    } finally {
      await db.close();
    }
  });
});

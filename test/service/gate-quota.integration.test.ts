/**
 * The gate principal's own allowances (GATE_PRINCIPAL, QUOTA_GATE_REQUESTS_PER_MINUTE,
 * QUOTA_GATE_STORED_BYTES_PER_DAY), against the real service: service processes sharing one
 * Postgres and one Redis (TLS + AUTH), real tokens from the local issuer, the fake LLM.
 *
 * The gate principal passes the ordinary quota and is stopped at its own; every other principal,
 * one whose `sub` differs from the gate's by a character included, is still stopped at the ordinary one.
 */
import { ERROR_CODES, type ErrorResponse, HEADERS, LIMITS, ROUTES } from '../../lib/contract';
import { type LocalStack, type ServiceProcess, startLocalStack, startServiceProcess } from '../../scripts/harness';
import { pooled } from '../support/pooled';
import { type HttpResult, postJson, uniqueText } from './support';

jest.setTimeout(240_000);

/** The ordinary request quota, and the gate's: well above it, so passing the first is not an accident. */
const REQUESTS_PER_MINUTE = 10;
const GATE_REQUESTS_PER_MINUTE = 25;

/** The ordinary storage cap (the contract's least) and the gate's, about 23 and 47 turns of 4.2 KB. */
const STORED_BYTES_PER_DAY = 100_000;
const GATE_STORED_BYTES_PER_DAY = 200_000;

/** Each describe has a gate principal of its own, so the request counters of one never stop the other. */
const REQUEST_GATE = uniqueText('gate-client-requests');
const STORAGE_GATE = uniqueText('gate-client-storage');

let stack: LocalStack;
let taskA: ServiceProcess;
let taskB: ServiceProcess;

beforeAll(async () => {
  stack = await startLocalStack({
    serviceEnv: {
      APP_VERSION: 'gate-quota-it',
      QUOTA_REQUESTS_PER_MINUTE: String(REQUESTS_PER_MINUTE),
      GATE_PRINCIPAL: REQUEST_GATE,
      QUOTA_GATE_REQUESTS_PER_MINUTE: String(GATE_REQUESTS_PER_MINUTE),
      // Every request comes from 127.0.0.1: the per-address flood guard is not under test.
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

/** `count` requests of one principal, alternating between the two tasks, six in flight. */
async function flood(sub: string, count: number): Promise<HttpResult[]> {
  const headers = stack.authHeaders(sub);
  const message = uniqueText('flood');
  const started = Date.now();
  const results = await pooled(
    Array.from({ length: count }, (_, i) => () => chat(i % 2 === 0 ? taskA : taskB, headers, { message })),
    6,
  );
  // The quota's window is one minute from the first request; the flood must fit in it to be judged.
  expect(Date.now() - started).toBeLessThan(55_000);
  expect(results.filter((r) => r.status >= 500)).toEqual([]);
  return results;
}

function expectRequestQuotaRejections(results: readonly HttpResult[], allowance: number) {
  const refused = results.filter((r) => r.status !== 200);
  expect(refused.length).toBeGreaterThan(0);
  for (const res of refused) {
    expect(res.status).toBe(429);
    const body = res.json<ErrorResponse>();
    expect(body.error.code).toBe(ERROR_CODES.requestQuotaExceeded);
    // The refusal names the allowance that applied to this principal.
    expect(body.error.message).toContain(`quota of ${allowance} requests per minute`);
    expect(Number(res.headers[HEADERS.retryAfter])).toBeGreaterThanOrEqual(1);
  }
}

describe('QUOTA_GATE_REQUESTS_PER_MINUTE', () => {
  test('the gate principal passes the ordinary request quota and is stopped at its own, across tasks', async () => {
    const results = await flood(REQUEST_GATE, 3 * GATE_REQUESTS_PER_MINUTE);
    expect(results.filter((r) => r.status === 200)).toHaveLength(GATE_REQUESTS_PER_MINUTE);
    expectRequestQuotaRejections(results, GATE_REQUESTS_PER_MINUTE);
  });

  test('another principal is still stopped at the ordinary quota, one whose sub differs by a character too', async () => {
    for (const sub of [uniqueText('user'), `${REQUEST_GATE}x`]) {
      const results = await flood(sub, 3 * REQUESTS_PER_MINUTE);
      expect(results.filter((r) => r.status === 200)).toHaveLength(REQUESTS_PER_MINUTE);
      expectRequestQuotaRejections(results, REQUESTS_PER_MINUTE);
    }
  });
});

describe('QUOTA_GATE_STORED_BYTES_PER_DAY', () => {
  // A task of its own: a request quota that never refuses first, and a gate principal of its own.
  let task: ServiceProcess;
  beforeAll(async () => {
    task = await startServiceProcess({
      env: {
        ...stack.env,
        QUOTA_REQUESTS_PER_MINUTE: '1000',
        QUOTA_GATE_REQUESTS_PER_MINUTE: '1000',
        QUOTA_STORED_BYTES_PER_DAY: String(STORED_BYTES_PER_DAY),
        GATE_PRINCIPAL: STORAGE_GATE,
        QUOTA_GATE_STORED_BYTES_PER_DAY: String(GATE_STORED_BYTES_PER_DAY),
        LLM_MAX_OUTPUT_TOKENS: '256',
      },
      waitFor: 'ready',
    });
  });
  afterAll(async () => {
    await task?.stop();
  });

  /** Sequential turns of a 4,000-character message until refused (bounded); what they stored, from Postgres. */
  async function storeUntilRefused(sub: string): Promise<{ last: HttpResult; storedBytes: number }> {
    const headers = stack.authHeaders(sub);
    const message = `${uniqueText('big')} ${'x'.repeat(LIMITS.maxMessageChars)}`.slice(0, LIMITS.maxMessageChars);
    const results: HttpResult[] = [];
    for (let i = 0; i < 80; i++) {
      const res = await chat(task, headers, { message });
      results.push(res);
      if (res.status !== 200) break;
    }
    const sessions = results.filter((r) => r.status === 200).map((r) => r.json<{ session_id: string }>().session_id);
    const [{ bytes }] = await stack.postgres.query<{ bytes: string }>(
      'SELECT coalesce(sum(octet_length(content)), 0) AS bytes FROM chat.messages WHERE session_id = ANY($1)',
      [sessions],
    );
    return { last: results[results.length - 1] as HttpResult, storedBytes: Number(bytes) };
  }

  function expectStorageRefusal(res: HttpResult) {
    expect(res.status).toBe(429);
    expect(res.json<ErrorResponse>().error.code).toBe(ERROR_CODES.storageQuotaExceeded);
  }

  test('the gate principal stores past the ordinary cap and is stopped at its own', async () => {
    const { last, storedBytes } = await storeUntilRefused(STORAGE_GATE);
    expectStorageRefusal(last);
    expect(storedBytes).toBeGreaterThan(STORED_BYTES_PER_DAY);
    expect(storedBytes).toBeLessThanOrEqual(GATE_STORED_BYTES_PER_DAY);
  });

  test('another principal is still stopped at the ordinary cap', async () => {
    const { last, storedBytes } = await storeUntilRefused(uniqueText('user'));
    expectStorageRefusal(last);
    expect(storedBytes).toBeGreaterThan(STORED_BYTES_PER_DAY / 2);
    expect(storedBytes).toBeLessThanOrEqual(STORED_BYTES_PER_DAY);
  });
});

/**
 * The response cache never tells one principal what another asked: against the real service (its
 * bundle), real Postgres and Redis (TLS + AUTH), real tokens for chosen subjects, and the fake LLM,
 * which counts the calls each prompt caused. CACHE_SHARE_AFTER_PRINCIPALS is the contract default (3).
 */
import type { Redis } from 'ioredis';
import { HEADERS, parseServerTiming, ROUTES, SERVICE_ENV } from '../../lib/contract';
import { type LocalStack, type ServiceProcess, startLocalStack, startServiceProcess } from '../../scripts/harness';
import { type HttpResult, postJson, uniqueText } from './support';

jest.setTimeout(120_000);

/** The fake LLM's delay: a miss takes at least this long, a hit far less. */
const LLM_LATENCY_MS = 300;

let stack: LocalStack;
let redis: Redis;

beforeAll(async () => {
  stack = await startLocalStack({
    serviceEnv: { APP_VERSION: 'cache-sharing-it', RATE_LIMIT_PER_MINUTE: '100000' },
    llm: { latencyMs: LLM_LATENCY_MS },
  });
  redis = stack.redis.client();
  await redis.connect();
});

afterAll(async () => {
  redis?.disconnect();
  await stack?.stop();
});

const ask = (url: string, sub: string, message: string) =>
  postJson(`${url}${ROUTES.chat}`, { message }, { headers: stack.authHeaders(sub) });

interface Timed {
  readonly res: HttpResult;
  readonly ms: number;
}

async function timedAsk(sub: string, message: string, url = stack.url as string): Promise<Timed> {
  const started = performance.now();
  const res = await ask(url, sub, message);
  return { res, ms: performance.now() - started };
}

/** Everything a client can see that tells a hit from a miss. */
function expectMiss({ res, ms }: Timed) {
  expect(res.status).toBe(200);
  expect(res.json().cached).toBe(false);
  expect(res.headers[HEADERS.cache]).toBe('MISS');
  expect(parseServerTiming(String(res.headers[HEADERS.serverTiming]))).toHaveProperty('llm');
  expect(ms).toBeGreaterThanOrEqual(LLM_LATENCY_MS);
}

function expectHit({ res }: Timed) {
  expect(res.status).toBe(200);
  expect(res.json().cached).toBe(true);
  expect(res.headers[HEADERS.cache]).toBe('HIT');
  expect(parseServerTiming(String(res.headers[HEADERS.serverTiming]))).not.toHaveProperty('llm');
}

test('the default share threshold is 3', () => {
  expect(SERVICE_ENV.CACHE_SHARE_AFTER_PRINCIPALS.default).toBe('3');
});

describe('a cached answer crosses principals only after CACHE_SHARE_AFTER_PRINCIPALS asked', () => {
  test("Bob's guess of Alice's message is a real miss, and looks like one; each one's repeat hits their own entry", async () => {
    const [alice, bob] = [uniqueText('alice'), uniqueText('bob')];
    const secret = `my API key is ${uniqueText('sk-live')}, why is it refused?`;

    expectMiss(await timedAsk(alice, secret));
    // Bob's guess, byte for byte: before the threshold it is answered by the LLM, like any miss.
    const guess = await timedAsk(bob, secret);
    expectMiss(guess);
    expect(stack.llm.callsFor(secret)).toBe(2);

    // Each principal's own repeat is served from their own entry.
    expectHit(await timedAsk(alice, secret));
    expectHit(await timedAsk(bob, secret));
    expect(stack.llm.callsFor(secret)).toBe(2);
  });

  test('the third distinct principal is served the shared answer, and so is everyone after', async () => {
    const question = uniqueText('What are your opening hours?');
    const subs = [1, 2, 3, 4].map((i) => uniqueText(`asker-${i}`));
    expectMiss(await timedAsk(subs[0] as string, question));
    expectMiss(await timedAsk(subs[1] as string, question));
    const third = await timedAsk(subs[2] as string, question);
    expectHit(third);
    expectHit(await timedAsk(subs[3] as string, question));
    expect(stack.llm.callsFor(question)).toBe(2);
  });

  test("Bob's guess of Alice's follow-up, in a context he rebuilt to match hers, is a real miss", async () => {
    const [alice, bob] = [uniqueText('alice'), uniqueText('bob')];
    const first = uniqueText('Can you check order');
    const a1 = await ask(stack.url as string, alice, first);
    const b1 = await ask(stack.url as string, bob, first);
    const followUp = uniqueText('and my card ends in');
    await postJson(
      `${stack.url}${ROUTES.chat}`,
      { message: followUp, session_id: a1.json().session_id },
      { headers: stack.authHeaders(alice) },
    );
    // Bob rebuilds the same context in his own session (the fake answers deterministically), so
    // his follow-up has the same cache key as hers.
    const guess = () =>
      postJson(
        `${stack.url}${ROUTES.chat}`,
        { message: followUp, session_id: b1.json().session_id },
        { headers: stack.authHeaders(bob) },
      );
    const g = await guess();
    expect([g.status, g.headers[HEADERS.cache], g.json().cached]).toEqual([200, 'MISS', false]);
    expect(stack.llm.callsFor(followUp)).toBe(2);
  });

  test('the cache holds no sub in clear: the askers are keyed hashes', async () => {
    const sub = uniqueText('clear-sub-probe');
    const question = uniqueText('Where is my parcel?');
    await ask(stack.url as string, sub, question);
    await ask(stack.url as string, uniqueText('other'), question);
    const keys = await redis.keys('chat:*');
    expect(keys.some((k) => k.endsWith(':askers'))).toBe(true);
    for (const key of keys) {
      expect(key).not.toContain(sub);
      const type = await redis.type(key);
      const values = type === 'set' ? await redis.smembers(key) : [String(await redis.get(key))];
      for (const v of values) expect(v).not.toContain(sub);
    }
  });
});

describe('CACHE_SHARE_AFTER_PRINCIPALS=1 is a public FAQ', () => {
  let faq: ServiceProcess;
  beforeAll(async () => {
    faq = await startServiceProcess({
      env: { ...stack.env, CACHE_SHARE_AFTER_PRINCIPALS: '1' },
      waitFor: 'ready',
    });
  });
  afterAll(async () => {
    await faq?.stop();
  });

  test("another principal's first ask is a hit", async () => {
    const question = uniqueText('Do you deliver on weekends?');
    expectMiss(await timedAsk(uniqueText('first'), question, faq.url));
    expectHit(await timedAsk(uniqueText('second'), question, faq.url));
    expect(stack.llm.callsFor(question)).toBe(1);
  });
});

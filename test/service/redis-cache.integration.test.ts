/**
 * RedisCache.installToken against a real redis-server with AUTH (plain TCP here: the service's TLS
 * trust comes from NODE_EXTRA_CA_CERTS, which only a fresh process reads; TLS is covered by the
 * readiness and fault suites). The token handling under test does not depend on TLS.
 */
import { type RedisHandle, randomSecret, startRedis } from '../../scripts/harness';
import { RedisCache } from '../../service/src/cache/redis-cache';

let redis: RedisHandle;
let cache: RedisCache;

/** A Lua command the cache defines on each of its connections (as the quotas' are). */
const defineCountUp = (client: { defineCommand(name: string, d: { numberOfKeys: number; lua: string }): void }) =>
  client.defineCommand('countUp', { numberOfKeys: 1, lua: "return redis.call('INCR', KEYS[1])" });
type Counting = { countUp(key: string): Promise<number> };

beforeAll(async () => {
  redis = await startRedis({});
  cache = new RedisCache(
    { host: redis.host, port: redis.port, tls: false, authToken: redis.password as string },
    { prepare: defineCountUp },
  );
  await cache.ping();
  await cache.set('k', 'v', 600);
}, 30_000);

afterAll(async () => {
  await cache?.close();
  await redis?.stop();
});

test('a new token the cache refuses leaves the working connection in place', async () => {
  const before = cache.currentToken;
  await expect(cache.installToken(randomSecret(32))).rejects.toThrow(/WRONGPASS/);
  expect(cache.currentToken).toBe(before);
  expect(await cache.get('k')).toBe('v');
  await cache.ping();
});

test('an accepted token (ElastiCache ROTATE) takes over without one failed command, and survives the old one being retired', async () => {
  const old = cache.currentToken;
  const next = randomSecret(32);
  await redis.addPassword(next);
  // Commands keep flowing while the new connection is opened and authenticated.
  const reads: Array<Promise<string | null>> = [];
  let swapping = true;
  const installed = cache.installToken(next).finally(() => {
    swapping = false;
  });
  while (swapping && reads.length < 10_000) {
    reads.push(cache.get('k'));
    await new Promise((r) => setImmediate(r));
  }
  await expect(installed).resolves.toBe(true);
  const answers = await Promise.allSettled(reads);
  expect(reads.length).toBeGreaterThan(0);
  expect(answers.filter((a) => a.status !== 'fulfilled' || a.value !== 'v')).toEqual([]);
  expect(cache.currentToken).toBe(next);

  // The old token is retired and every connection must log in again: ours uses the new token.
  await redis.retirePassword(old);
  await redis.killClients();
  let lastError: unknown;
  for (let i = 0; i < 50; i++) {
    try {
      await cache.ping();
      lastError = undefined;
      break;
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  expect(lastError).toBeUndefined();
  expect(await cache.get('k')).toBe('v');
});

test('the connection a new token brings has the defined scripts from its first tick, so a read and a script in one auto-pipeline both answer', async () => {
  // Before, the quota defined its scripts on first use: a pipeline built in the same tick lacked
  // them, ioredis threw outside any promise and the process exited (seen under load after a rotation).
  const next = randomSecret(32);
  await redis.addPassword(next);
  await cache.installToken(next);
  const client = cache.raw as unknown as Counting;
  const [value, count] = await Promise.all([cache.get('k'), client.countUp('counted')]);
  expect(value).toBe('v');
  expect(count).toBeGreaterThanOrEqual(1);
});

/**
 * The calibration's "lost cache writes" fault must still hit the response cache's writes, which go
 * through a Lua script (EVALSHA/EVAL), not a plain SET: against a real redis-server with TLS + AUTH,
 * through the proxy, with the script the service itself uses.
 */
import { Redis } from 'ioredis';
import { createTestCertificates, type RedisHandle, startRedis } from '../../scripts/harness';
import {
  cacheReadKeys,
  cacheWriteKeys,
  type RedisWriteLossProxy,
  startRedisWriteLossProxy,
} from '../../scripts/harness/redis-write-loss-proxy';
import { LOOKUP_LUA, REMEMBER_LUA } from '../../service/src/cache/redis-cache';

jest.setTimeout(30_000);

let redis: RedisHandle;
let proxy: RedisWriteLossProxy;
let direct: Redis;
let viaProxy: Redis & {
  remember(a: string, b: string, c: string, v: string, ttl: number, n: number): Promise<number>;
  lookup(a: string, b: string, c: string, asker: string, n: number, ttl: number): Promise<string | null>;
};

beforeAll(async () => {
  const certs = createTestCertificates();
  redis = await startRedis({ certs });
  proxy = await startRedisWriteLossProxy({ certs, upstreamPort: redis.port });
  const client = (port: number) =>
    new Redis({
      host: '127.0.0.1',
      port,
      password: redis.password as string,
      tls: { ca: certs.caPem },
      lazyConnect: true,
    });
  direct = client(redis.port);
  viaProxy = client(proxy.port) as typeof viaProxy;
  viaProxy.defineCommand('remember', { numberOfKeys: 3, lua: REMEMBER_LUA });
  viaProxy.defineCommand('lookup', { numberOfKeys: 3, lua: LOOKUP_LUA });
  await Promise.all([direct.connect(), viaProxy.connect()]);
});

afterAll(async () => {
  direct?.disconnect();
  viaProxy?.disconnect();
  await proxy?.close();
  await redis?.stop();
});

test('the cache write script (EVALSHA or EVAL) and SET are writes; reads and other scripts are not', () => {
  const b = (...parts: string[]) => parts.map((p) => Buffer.from(p));
  expect(cacheWriteKeys(b('SET', 'k', 'v', 'EX', '60'))).toEqual([1]);
  expect(cacheWriteKeys(b('EVAL', REMEMBER_LUA, '3', 'a', 'b', 'c', 'v', '60', '3'))).toEqual([3, 4, 5]);
  expect(cacheWriteKeys(b('GET', 'k'))).toEqual([]);
  expect(cacheWriteKeys(b('EVAL', "return redis.call('GET', KEYS[1])", '1', 'k'))).toEqual([]);
});

test('with a loss rate of 1, no cache write lands where reads look; with 0, every one does', async () => {
  proxy.setLossRate(1);
  // Twice: the first is sent as EVALSHA, answered NOSCRIPT, then sent as EVAL; the second as EVALSHA.
  for (const key of ['lost-1', 'lost-2']) {
    await viaProxy.remember(key, `${key}:by:t`, `${key}:askers`, 'answer', 60, 3);
    expect(await direct.get(key)).toBeNull();
    expect(await direct.get(`${key}:by:t`)).toBeNull();
  }
  proxy.setLossRate(0);
  await viaProxy.remember('kept', 'kept:by:t', 'kept:askers', 'answer', 60, 3);
  expect(await direct.get('kept')).toBe('answer');
  expect(proxy.stats().lost).toBeGreaterThanOrEqual(2);
});

test('the lookup script is a read; with a read loss rate of 1 every lookup misses, with 0 it hits again', async () => {
  const b = (...parts: string[]) => parts.map((p) => Buffer.from(p));
  expect(cacheReadKeys(b('EVAL', LOOKUP_LUA, '3', 'a', 'b', 'c', 't', '1', '60'))).toEqual([3, 4, 5]);
  expect(cacheReadKeys(b('EVAL', REMEMBER_LUA, '3', 'a', 'b', 'c', 'v', '60', '3'))).toEqual([]);
  expect(cacheReadKeys(b('GET', 'k'))).toEqual([]);

  await direct.set('read-me', 'answer', 'EX', 60);
  // Threshold 1: the shared answer is read at once (the gate's own repeats read their own copy the same way).
  expect(await viaProxy.lookup('read-me', 'read-me:by:t', 'read-me:askers', 't', 1, 60)).toBe('answer');
  proxy.setReadLossRate(1);
  for (let i = 0; i < 2; i++) {
    expect(await viaProxy.lookup('read-me', 'read-me:by:t', 'read-me:askers', 't', 1, 60)).toBeNull();
  }
  proxy.setReadLossRate(0);
  expect(await viaProxy.lookup('read-me', 'read-me:by:t', 'read-me:askers', 't', 1, 60)).toBe('answer');
  expect(proxy.stats().readsLost).toBeGreaterThanOrEqual(2);
  expect(await direct.get('read-me')).toBe('answer'); // nothing was deleted: only the reads missed
});

/**
 * The quotas' failure policy, with a cache client whose every command fails (the connection looks
 * usable, the command does not answer): the decision falls back to the task's memory with the same
 * limit, the failure is reported to the cache monitor, and the fallback is counted. Never unlimited,
 * never an exception. (The real outage, against Redis, is in quota.integration.test.ts.)
 */
import type { Redis } from 'ioredis';
import { ERROR_CODES } from '../../lib/contract';
import { AppError } from '../../service/src/errors';
import type { QuotaCache } from '../../service/src/quota/quota-cache';
import { SharedOrLocalStore } from '../../service/src/quota/request-quota';
import { defineTokenQuotaCommands, TokenQuota } from '../../service/src/quota/token-quota';

/**
 * A client with the quota's commands defined (as the cache defines them on every connection) that
 * fails every command, like one whose server vanished.
 */
function brokenClient(): Redis {
  const client: Record<string, unknown> = {
    defineCommand(name: string) {
      client[name] = (...args: unknown[]) => {
        const err = new Error('Connection is closed.');
        const cb = args[args.length - 1];
        if (typeof cb === 'function') {
          (cb as (e: Error) => void)(err);
          return undefined;
        }
        return Promise.reject(err);
      };
    },
  };
  defineTokenQuotaCommands(client as unknown as Redis);
  return client as unknown as Redis;
}

function recorder(client: Redis | undefined) {
  const failures: unknown[] = [];
  let fallbacks = 0;
  let rejections = 0;
  const cache: QuotaCache = { current: () => client, reportFailure: (err) => failures.push(err) };
  return {
    cache,
    failures,
    onFallback: () => {
      fallbacks += 1;
    },
    onRejected: () => {
      rejections += 1;
    },
    get fallbacks() {
      return fallbacks;
    },
    get rejections() {
      return rejections;
    },
  };
}

const incr = (store: SharedOrLocalStore, key: string, max: number) =>
  new Promise<{ current: number; ttl: number }>((resolve, reject) =>
    store.incr(key, (err, res) => (err || !res ? reject(err ?? new Error('no result')) : resolve(res)), 60_000, max),
  );

describe('the request quota when the cache fails', () => {
  test.each([
    ['a client whose commands fail', brokenClient()],
    ['no usable client', undefined],
  ])('%s: counted per task with the same limit, reported and counted as a fallback', async (_name, client) => {
    const r = recorder(client);
    const store = new SharedOrLocalStore(r.cache, r.onFallback);
    const counts: number[] = [];
    for (let i = 0; i < 5; i++) counts.push((await incr(store, 'sub-1', 3)).current);
    // The plugin refuses once `current > max`: the 4th and 5th here.
    expect(counts).toEqual([1, 2, 3, 4, 5]);
    expect((await incr(store, 'sub-2', 3)).current).toBe(1);
    expect(r.fallbacks).toBe(6);
    expect(r.failures).toHaveLength(client ? 6 : 0);
  });
});

describe('the token quota when the cache fails', () => {
  test.each([
    ['a client whose commands fail', brokenClient()],
    ['no usable client', undefined],
  ])('%s: reservations are held per task against the same limit, and settle', async (_name, client) => {
    const r = recorder(client);
    const now = 120_000 + 10_000; // 10 s into a minute
    const quota = new TokenQuota({
      llmTokensPerMinute: 1_000,
      cache: r.cache,
      onFallback: r.onFallback,
      onRejected: r.onRejected,
      now: () => now,
    });
    const first = await quota.reserve('sub-1', 600);
    const refused = await quota.reserve('sub-1', 600).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AppError);
    expect((refused as AppError).statusCode).toBe(429);
    expect((refused as AppError).code).toBe(ERROR_CODES.tokenQuotaExceeded);
    expect((refused as AppError).extra.retryAfterSeconds).toBe(50);
    expect(r.rejections).toBe(1);
    // Another principal has its own counter.
    await quota.reserve('sub-2', 600);
    // The provider billed 100 of the 600 reserved: 500 come back.
    first.settle(100);
    await new Promise((resolve) => setImmediate(resolve));
    await quota.reserve('sub-1', 600);
    expect(r.fallbacks).toBe(4);
    expect(r.failures).toHaveLength(client ? 4 : 0);
  });
});

/**
 * QUOTA_REQUESTS_PER_MINUTE per principal, with `@fastify/rate-limit` and its own Redis store, so
 * every task counts on the same key in the shared cache and the limit holds at any task count. The
 * gate principal (GATE_PRINCIPAL) gets QUOTA_GATE_REQUESTS_PER_MINUTE instead (the plugin's `max`
 * as a function of the key).
 *
 * The plugin's `skipOnError` would let every request through while the cache is down (fail open),
 * and without it a cache error becomes a 500 (fail closed). Neither is acceptable, so the store
 * given to the plugin is a small wrapper: it counts in Redis while the cache is usable, and in the
 * plugin's in-memory store, per task, otherwise (told to `onFallback`, a metric). During a cache
 * outage a principal can therefore send at most the quota to each task: bounded, never unlimited.
 */
import rateLimit, { type FastifyRateLimitStore } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { ERROR_CODES } from '../../../lib/contract';
import { AppError } from '../errors';
import {
  type FallbackListener,
  limitOf,
  type PerPrincipalLimit,
  QUOTA_KEY_PREFIX,
  QUOTA_WINDOW_MS,
  type QuotaCache,
} from './quota-cache';

type IncrCallback = Parameters<FastifyRateLimitStore['incr']>[1];

/**
 * The plugin's own stores (the ones `redis:` and the default select), which it ships but does not
 * type or export by name. Loaded with require: the package has no `exports` map, so the paths are
 * stable, and the service bundle keeps them external like the plugin itself.
 */
type RedisStoreCtor = new (
  continueExceeding: boolean,
  exponentialBackoff: boolean,
  redis: Redis,
  key?: string,
) => FastifyRateLimitStore;
type LocalStoreCtor = new (
  continueExceeding: boolean,
  exponentialBackoff: boolean,
  cache?: number,
) => FastifyRateLimitStore;
const RedisStore = require('@fastify/rate-limit/store/RedisStore') as RedisStoreCtor;
const LocalStore = require('@fastify/rate-limit/store/LocalStore') as LocalStoreCtor;

/** Principals remembered by the per-task fallback (least recently seen are forgotten first). */
const FALLBACK_PRINCIPALS = 10_000;

const sharedStores = new WeakMap<Redis, FastifyRateLimitStore>();

/**
 * The plugin's Redis store on `client`, made once per client. Making it defines the plugin's Lua
 * commands on the client, so the cache calls this when it creates a client, before any command can
 * be queued on it (see `RedisCacheHooks.prepare`).
 */
export function requestQuotaStoreFor(client: Redis): FastifyRateLimitStore {
  let store = sharedStores.get(client);
  if (!store) {
    store = new RedisStore(false, false, client, QUOTA_KEY_PREFIX.requests);
    sharedStores.set(client, store);
  }
  return store;
}

/** The plugin's Redis store while the cache is usable, its in-memory store while it is not. */
export class SharedOrLocalStore implements FastifyRateLimitStore {
  private readonly local: FastifyRateLimitStore = new LocalStore(false, false, FALLBACK_PRINCIPALS);

  constructor(
    private readonly cache: QuotaCache,
    private readonly onFallback: FallbackListener,
  ) {}

  incr(key: string, callback: IncrCallback, timeWindow: number, max: number): void {
    const client = this.cache.current();
    if (!client) {
      this.fallback(key, callback, timeWindow, max);
      return;
    }
    // The cache replaces its client after a token rotation: follow it.
    requestQuotaStoreFor(client).incr(
      key,
      (err, result) => {
        if (err || !result) {
          if (err) this.cache.reportFailure(err);
          this.fallback(key, callback, timeWindow, max);
          return;
        }
        callback(null, result);
      },
      timeWindow,
      max,
    );
  }

  child(): FastifyRateLimitStore {
    return this;
  }

  private fallback(key: string, callback: IncrCallback, timeWindow: number, max: number): void {
    this.onFallback();
    this.local.incr(key, callback, timeWindow, max);
  }
}

export interface RequestQuotaOptions {
  /** Per principal where one (the gate's) has its own allowance. */
  readonly requestsPerMinute: PerPrincipalLimit;
  readonly cache: QuotaCache;
  readonly onFallback: FallbackListener;
  readonly onRejected: () => void;
}

/**
 * Registers the quota on `scope`: every route registered in `scope` afterwards is counted, after
 * authentication (the quota's hook is added after the authentication check, so the key is the
 * verified `sub`; an unauthenticated request is answered 401 before it counts).
 */
export async function installRequestQuota(scope: FastifyInstance, options: RequestQuotaOptions): Promise<void> {
  const store = new SharedOrLocalStore(options.cache, options.onFallback);
  const limit = options.requestsPerMinute;
  await scope.register(rateLimit, {
    global: true,
    // The counter's key is the principal (see keyGenerator), so its limit is the principal's.
    max: typeof limit === 'number' ? limit : (_request: FastifyRequest, key: string) => limitOf(limit, key),
    timeWindow: QUOTA_WINDOW_MS,
    store: function QuotaStore() {
      return store;
    } as unknown as NonNullable<Parameters<typeof rateLimit>[1]>['store'],
    keyGenerator: (request: FastifyRequest) => request.principal?.sub ?? `address:${request.ip}`,
    addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
    onExceeded: () => options.onRejected(),
    errorResponseBuilder: (_request, context) =>
      new AppError(
        429,
        ERROR_CODES.requestQuotaExceeded,
        `This caller's quota of ${context.max} requests per minute is used up; retry later.`,
        { retryAfterSeconds: Math.max(1, Math.ceil(context.ttl / 1000)) },
      ),
  });
}

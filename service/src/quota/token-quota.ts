/**
 * QUOTA_LLM_TOKENS_PER_MINUTE per principal, shared by all tasks through the cache.
 *
 * Before an LLM call the request reserves its worst case (estimated input + LLM_MAX_OUTPUT_TOKENS)
 * on the principal's counter for the current minute; a reservation that would pass the limit is
 * taken back at once and the request is answered 429. After the call the reservation is settled
 * to the provider's `usage` (an answer without `usage`, a timeout or an error keeps the worst case:
 * the provider may have billed it). Reserving first keeps the limit under concurrency: two tasks
 * cannot both spend the last tokens of a minute.
 *
 * Why not `@fastify/rate-limit`: its stores add 1 per request and have no "add n, and undo when over"
 * step. Why not a token-bucket library: each would bring its own Redis client and connection, and the
 * counter is a fixed window, one Lua script (INCRBY, PEXPIRE on first use, DECRBY when over), as
 * atomic as the rate-limit store's own. A fixed window lets a principal spend up to twice the limit
 * across a minute boundary; docs/cost.md counts with that.
 *
 * While the cache is unusable the same counter runs in memory, per task (told to `onFallback`).
 */
import type { Redis } from 'ioredis';
import { AppError, tokenQuotaExceeded } from '../errors';
import {
  type FallbackListener,
  limitOf,
  type PerPrincipalLimit,
  QUOTA_KEY_PREFIX,
  QUOTA_WINDOW_MS,
  type QuotaCache,
} from './quota-cache';

/** Adds `ARGV[1]` unless the total would pass `ARGV[2]`; returns {allowed 0/1, total, pttl}. ARGV[3]: the key's lifetime. */
const RESERVE_LUA = `
local n = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local used = redis.call('INCRBY', KEYS[1], n)
if used == n then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
if used > limit then
  used = redis.call('DECRBY', KEYS[1], n)
  return {0, used, redis.call('PTTL', KEYS[1])}
end
return {1, used, redis.call('PTTL', KEYS[1])}
`;

/** Adds `ARGV[1]` (possibly negative) to a counter that still exists; never creates one. */
const SETTLE_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCRBY', KEYS[1], ARGV[1]) end
return 0
`;

/**
 * Defines the counter's commands on a client. The cache calls it for every client it makes
 * (`RedisCacheHooks.prepare`), never later: see there for why.
 */
export function defineTokenQuotaCommands(client: Redis): void {
  client.defineCommand('quotaReserve', { numberOfKeys: 1, lua: RESERVE_LUA });
  client.defineCommand('quotaSettle', { numberOfKeys: 1, lua: SETTLE_LUA });
}

type QuotaRedis = Redis & {
  quotaReserve(key: string, n: number, limit: number, windowMs: number): Promise<[number, number, number]>;
  quotaSettle(key: string, delta: number): Promise<number>;
};

/** A reservation on the counter of one principal and minute. */
export interface TokenReservation {
  readonly reservedTokens: number;
  /**
   * Replaces the reservation by what the provider reported (`undefined`: nothing was reported, the
   * reservation stands). Never throws; call at most once.
   */
  settle(billedTokens: number | undefined): void;
}

export interface TokenQuotaOptions {
  readonly llmTokensPerMinute: number;
  readonly cache: QuotaCache;
  readonly onFallback: FallbackListener;
  readonly onRejected: () => void;
  readonly now?: () => number;
}

/** What a reserving counter counts, per how long, and how it says no. */
export interface ReservingQuotaOptions extends Omit<TokenQuotaOptions, 'llmTokensPerMinute'> {
  readonly limit: PerPrincipalLimit;
  readonly windowMs: number;
  /** One of {@link QUOTA_KEY_PREFIX}. */
  readonly keyPrefix: string;
  /** The 429 for a principal over `limit`, to be retried after `retryAfterSeconds` (the window's end). */
  readonly exceeded: (limit: number, retryAfterSeconds: number) => AppError;
}

/**
 * A fixed-window counter per principal that reserves before it spends, shared through the cache
 * (per task while it is down): the LLM-token quota below, and the storage quota
 * (`storage-quota.ts`) with a day for a window.
 */
export class ReservingQuota {
  private readonly limit: PerPrincipalLimit;
  private readonly windowMs: number;
  private readonly now: () => number;
  /** The per-task fallback: one window's counters, dropped when the window changes. */
  private local = { window: -1, used: new Map<string, number>() };

  constructor(private readonly options: ReservingQuotaOptions) {
    this.limit = options.limit;
    this.windowMs = options.windowMs;
    this.now = options.now ?? Date.now;
  }

  /** Reserves `tokens` (at most the whole limit) for `sub`, or throws the option's 429. */
  async reserve(sub: string, tokens: number): Promise<TokenReservation> {
    const limit = limitOf(this.limit, sub);
    const n = Math.max(1, Math.min(Math.ceil(tokens), limit));
    const nowMs = this.now();
    const window = Math.floor(nowMs / this.windowMs);
    const key = `${this.options.keyPrefix}${window}:${sub}`;
    const client = this.options.cache.current();
    if (client) {
      try {
        const redis = this.prepare(client);
        const [allowed] = await redis.quotaReserve(key, n, limit, 2 * this.windowMs);
        if (allowed !== 1) throw this.rejected(limit, nowMs);
        return this.reservation(n, (delta) => redis.quotaSettle(key, delta).then(() => undefined));
      } catch (err) {
        if (isQuotaRejection(err)) throw err;
        this.options.cache.reportFailure(err);
      }
    }
    this.options.onFallback();
    return this.reserveLocally(sub, n, limit, window, nowMs);
  }

  private reserveLocally(sub: string, n: number, limit: number, window: number, nowMs: number): TokenReservation {
    if (this.local.window !== window) this.local = { window, used: new Map() };
    const counters = this.local.used;
    const used = counters.get(sub) ?? 0;
    if (used + n > limit) throw this.rejected(limit, nowMs);
    counters.set(sub, used + n);
    return this.reservation(n, async (delta) => {
      if (this.local.used === counters) counters.set(sub, Math.max(0, (counters.get(sub) ?? 0) + delta));
    });
  }

  private reservation(n: number, adjust: (delta: number) => Promise<void>): TokenReservation {
    let settled = false;
    return {
      reservedTokens: n,
      settle: (billed) => {
        if (settled || billed === undefined) return;
        settled = true;
        const delta = Math.ceil(billed) - n;
        // A lost settlement leaves the reservation counted: the quota errs on the safe side.
        if (delta !== 0) void adjust(delta).catch(() => undefined);
      },
    };
  }

  /**
   * Retry-After: the counter's window ends at the next multiple of the window on the task's clock
   * (a whole minute; midnight UTC for a day). Its key lives two windows, so a settlement that
   * arrives after the window still finds it.
   */
  private rejected(limit: number, nowMs: number): AppError {
    this.options.onRejected();
    return this.options.exceeded(limit, Math.max(1, Math.ceil((this.windowMs - (nowMs % this.windowMs)) / 1000)));
  }

  private prepare(client: Redis): QuotaRedis {
    const c = client as QuotaRedis;
    if (typeof c.quotaReserve !== 'function' || typeof c.quotaSettle !== 'function') {
      // A wiring mistake, not an outage: the counter falls back per task and the error says why.
      throw new Error(
        'the cache client lacks the quota commands (defineTokenQuotaCommands was not given to the cache)',
      );
    }
    return c;
  }
}

/** Only `rejected` makes an AppError inside `reserve`; anything else there is the cache failing. */
function isQuotaRejection(err: unknown): boolean {
  return err instanceof AppError;
}

/** QUOTA_LLM_TOKENS_PER_MINUTE. */
export class TokenQuota extends ReservingQuota {
  constructor({ llmTokensPerMinute, ...options }: TokenQuotaOptions) {
    super({
      ...options,
      limit: llmTokensPerMinute,
      windowMs: QUOTA_WINDOW_MS,
      keyPrefix: QUOTA_KEY_PREFIX.llmTokens,
      exceeded: tokenQuotaExceeded,
    });
  }
}

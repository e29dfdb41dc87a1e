/**
 * One chat turn, shared by the JSON and the streaming route:
 * context → cache lookup → (on a miss) LLM → persist both messages (+ cache the answer) → result.
 *
 * Persistence is synchronous: the caller gets a result only after both messages are committed.
 * The cache is an accelerator, never a requirement: when it is unusable the turn is answered
 * without it (`BYPASS`), counted, and readiness says `degraded`.
 */
import { randomUUID } from 'node:crypto';
import { type CacheStatus, CREDENTIAL_REFRESH_WAIT_MS, LIMITS } from '../../../lib/contract';
import type { ResponseCache, SharePolicy } from '../cache/redis-cache';
import type { SessionCacheIndex } from '../cache/session-index';
import type { ChatStore } from '../db/chat-store';
import { dependencyUnavailable, sessionNotFound } from '../errors';
import type { ChatMessage, LlmCallOptions, LlmGateway } from '../llm/llm-client';
import type { Logger } from '../observability/logger';
import type { EmfMetrics } from '../observability/metrics';
import type { ServerTiming, TimedPart } from '../observability/server-timing';
import type { TokenQuota, TokenReservation } from '../quota/token-quota';
import { type ContextTurn, cacheKeyAndAsker } from './cache-key';
import { SYSTEM_PROMPT } from './prompt';
import { trimContextToBudget } from './token-budget';

export interface ChatInput {
  /** Trimmed, validated. */
  readonly message: string;
  /** An id the server issued to `owner` earlier; absent to start a new session. */
  readonly sessionId?: string;
  /** The authenticated caller (`sub`): the owner of a new session, and the only one who may continue it. */
  readonly owner: string;
}

export interface ChatContext {
  readonly requestId: string;
  readonly logger: Logger;
  readonly signal?: AbortSignal;
  /** Receives the time spent per dependency, for the `Server-Timing` header. */
  readonly timing?: ServerTiming;
}

/** Runs `operation`, adding its duration to `part` of the turn's timing when there is one. */
function timed<T>(ctx: ChatContext, part: TimedPart, operation: () => Promise<T>): Promise<T> {
  return ctx.timing ? ctx.timing.time(part, operation) : operation();
}

/** The LLM tokens one turn cost, as the provider reported them (over all attempts); 0 for a hit. */
export interface TurnUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
}

const NO_USAGE: TurnUsage = { inputTokens: 0, outputTokens: 0 };

export interface ChatResult {
  readonly reply: string;
  readonly sessionId: string;
  readonly cacheStatus: CacheStatus;
  readonly usage: TurnUsage;
}

/** What the chat service needs to know about a dependency's health, and tell it. */
export interface HealthGate {
  readonly usable: boolean;
  reportFailure(err: unknown): void;
}

/** The database's gate also lets a request ride out a credential re-read (a rotation). */
export interface DatabaseGate extends HealthGate {
  /** True when usable, waiting at most `maxWaitMs` for a credential re-read under way; false at once otherwise. */
  waitUsable(maxWaitMs: number): Promise<boolean>;
  /** Reports `err`; true when it was a rejected login that a re-read healed (the operation may be retried once). */
  recoverFrom(err: unknown, maxWaitMs: number): Promise<boolean>;
}

/**
 * How long a request waits for a verdict under way (the re-read of rotated credentials, the probe
 * after a lost connection) before it is answered 503. A re-read is one Secrets Manager call and one
 * login: tens of milliseconds.
 */
export { CREDENTIAL_REFRESH_WAIT_MS } from '../../../lib/contract/time-budgets';

export interface ChatServiceDeps {
  readonly store: ChatStore;
  readonly cache: ResponseCache;
  readonly llm: LlmGateway;
  readonly databaseHealth: DatabaseGate;
  readonly cacheHealth: HealthGate;
  readonly metrics: EmfMetrics;
  /** Binds each written entry to its session, for DELETE; absent in tests that do not exercise it. */
  readonly sessionIndex?: Pick<SessionCacheIndex, 'bind'>;
  /** QUOTA_LLM_TOKENS_PER_MINUTE; absent in tests that do not exercise it. */
  readonly tokenQuota?: Pick<TokenQuota, 'reserve'>;
  readonly settings: {
    readonly promptVersion: string;
    readonly model: string;
    readonly cacheTtlSeconds: number;
    /** CACHE_SHARE_AFTER_PRINCIPALS: distinct askers of a key before its answer crosses principals. */
    readonly cacheShareAfterPrincipals: number;
    /** LLM_CONTEXT_BUDGET_TOKENS: estimated input tokens per call. */
    readonly contextBudgetTokens: number;
    /** LLM_MAX_OUTPUT_TOKENS: what one call may add to its input. */
    readonly maxOutputTokens: number;
  };
}

interface Lookup {
  readonly sessionId: string;
  readonly newSession: boolean;
  readonly context: ContextTurn[];
  /** Estimated input tokens of the LLM call this turn would make. */
  readonly estimatedInputTokens: number;
  readonly key: string;
  /** The caller as the cache names them (a keyed hash of `sub`, see `askerTag`). */
  readonly asker: string;
  readonly status: CacheStatus;
  readonly cached: string | null;
}

export class ChatService {
  /** Who may read an entry and how long it lives: the same for every turn, so made once. */
  private readonly sharePolicy: SharePolicy;

  constructor(private readonly deps: ChatServiceDeps) {
    const { cacheShareAfterPrincipals, cacheTtlSeconds } = deps.settings;
    this.sharePolicy = { shareAfterPrincipals: cacheShareAfterPrincipals, ttlSeconds: cacheTtlSeconds };
  }

  async answer(input: ChatInput, ctx: ChatContext): Promise<ChatResult> {
    const lookup = await this.lookup(input, ctx);
    const { reply, usage } =
      lookup.cached !== null
        ? { reply: lookup.cached, usage: NO_USAGE }
        : await this.billed(input, lookup, ctx, (options) =>
            timed(ctx, 'llm', () => this.deps.llm.complete(this.messages(lookup.context, input.message), options)),
          );
    await this.finish(input, ctx, lookup, reply);
    return { reply, sessionId: lookup.sessionId, cacheStatus: lookup.status, usage };
  }

  /**
   * Like `answer`, but the reply arrives as deltas. `onStart` runs once, before the first delta,
   * with the cache status: the route sends its headers then, so errors before it are plain JSON.
   */
  async answerStream(
    input: ChatInput,
    ctx: ChatContext,
    onStart: (status: CacheStatus) => void,
    onDelta: (delta: string) => void,
  ): Promise<ChatResult> {
    const lookup = await this.lookup(input, ctx);
    let reply: string;
    let usage: TurnUsage = NO_USAGE;
    if (lookup.cached !== null) {
      onStart(lookup.status);
      onDelta(lookup.cached);
      reply = lookup.cached;
    } else {
      let started = false;
      ({ reply, usage } = await this.billed(input, lookup, ctx, (options) =>
        timed(ctx, 'llm', () =>
          this.deps.llm.stream(this.messages(lookup.context, input.message), {
            ...options,
            onDelta: (delta) => {
              if (!started) {
                started = true;
                onStart(lookup.status);
              }
              onDelta(delta);
            },
          }),
        ),
      ));
    }
    await this.finish(input, ctx, lookup, reply);
    return { reply, sessionId: lookup.sessionId, cacheStatus: lookup.status, usage };
  }

  /**
   * An LLM call within the principal's token quota: its worst case (estimated input plus
   * LLM_MAX_OUTPUT_TOKENS) is reserved first, then settled to what the provider reported.
   */
  private async billed(
    input: ChatInput,
    lookup: Lookup,
    ctx: ChatContext,
    call: (options: LlmCallOptions) => Promise<string>,
  ): Promise<{ reply: string; usage: TurnUsage }> {
    const { tokenQuota, settings } = this.deps;
    const reservation: TokenReservation | undefined = tokenQuota
      ? await tokenQuota.reserve(input.owner, lookup.estimatedInputTokens + settings.maxOutputTokens)
      : undefined;
    let reported = 0;
    let inputTokens = 0;
    let outputTokens = 0;
    let calls = 0;
    let attempts = 0;
    let reply: string;
    try {
      reply = await call({
        logger: ctx.logger,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
        principal: input.owner,
        onAttempt: () => {
          attempts += 1;
        },
        onUsage: (u) => {
          reported += u.promptTokens + u.completionTokens;
          inputTokens += u.promptTokens;
          outputTokens += u.completionTokens;
          calls += 1;
        },
      });
    } catch (err) {
      // A request that never reached the provider (the breaker refused it) cost nothing: the
      // reservation is returned. A failed call may have been billed without saying so: the
      // reservation stands, unless the provider reported more.
      if (attempts === 0) reservation?.settle(0);
      else if (reservation && reported > reservation.reservedTokens) reservation.settle(reported);
      throw err;
    }
    reservation?.settle(calls > 0 ? reported : undefined);
    return { reply, usage: { inputTokens, outputTokens } };
  }

  private async lookup(input: ChatInput, ctx: ChatContext): Promise<Lookup> {
    const { databaseHealth, store, settings } = this.deps;
    // No 200 without persistence: refuse early rather than call the LLM for an answer we can't store.
    // (Unless new credentials are being read right now: then the answer is worth a short wait.)
    if (!databaseHealth.usable && !(await databaseHealth.waitUsable(CREDENTIAL_REFRESH_WAIT_MS))) {
      throw dependencyUnavailable('The database is unavailable; retry later.');
    }

    // Session ids are issued here, never taken from a client: a given id must be one of the caller's.
    const newSession = input.sessionId === undefined;
    const sessionId = input.sessionId ?? randomUUID();
    let stored: ContextTurn[] = [];
    if (!newSession) {
      const owned = await this.withDatabase(
        () => timed(ctx, 'db', () => store.ownedContext(sessionId, input.owner, LIMITS.contextTurns)),
        ctx,
      );
      if (owned === null) throw sessionNotFound();
      stored = owned;
    }
    // The key hashes the context actually sent, after the budget left out the oldest turns.
    const { context, estimatedTokens } = trimContextToBudget(
      SYSTEM_PROMPT,
      stored,
      input.message,
      settings.contextBudgetTokens,
    );
    const { key, asker } = cacheKeyAndAsker(
      {
        message: input.message,
        promptVersion: settings.promptVersion,
        systemPrompt: SYSTEM_PROMPT,
        model: settings.model,
        context,
      },
      input.owner,
    );
    const { status, cached } = await this.cacheGet(key, asker, ctx);
    return { sessionId, newSession, context, estimatedInputTokens: estimatedTokens, key, asker, status, cached };
  }

  /**
   * An answer another principal's request computed is a HIT only past the share threshold; before
   * it the lookup returns nothing, and the turn is an ordinary MISS: the LLM answers, and `cached`,
   * `x-cache`, `Server-Timing` and the latency are those of any miss.
   */
  private async cacheGet(
    key: string,
    asker: string,
    ctx: ChatContext,
  ): Promise<{ status: CacheStatus; cached: string | null }> {
    const { cacheHealth, cache, metrics } = this.deps;
    if (!cacheHealth.usable) {
      metrics.increment('cacheBypassed');
      metrics.flagCacheUnavailable();
      return { status: 'BYPASS', cached: null };
    }
    try {
      const cached = await timed(ctx, 'cache', () => cache.lookup(key, asker, this.sharePolicy));
      metrics.increment(cached === null ? 'cacheMisses' : 'cacheHits');
      return { status: cached === null ? 'MISS' : 'HIT', cached };
    } catch (err) {
      cacheHealth.reportFailure(err);
      metrics.increment('cacheBypassed');
      metrics.flagCacheUnavailable();
      ctx.logger.warn('cache lookup failed; answering without the cache', {
        error: err instanceof Error ? err.message : String(err),
      });
      return { status: 'BYPASS', cached: null };
    }
  }

  private async finish(input: ChatInput, ctx: ChatContext, lookup: Lookup, reply: string): Promise<void> {
    const { store, cacheHealth } = this.deps;
    const save = this.withDatabase(
      () =>
        timed(ctx, 'db', () =>
          store.saveTurn({
            sessionId: lookup.sessionId,
            owner: input.owner,
            newSession: lookup.newSession,
            requestId: ctx.requestId,
            userMessage: input.message,
            reply,
            cached: lookup.status === 'HIT',
          }),
        ),
      ctx,
    );
    // The cache write runs next to the insert; its failure costs a future hit, never this answer.
    const remember =
      lookup.status === 'MISS'
        ? timed(ctx, 'cache', () => this.remember(lookup, reply)).catch((err: unknown) => {
            cacheHealth.reportFailure(err);
            ctx.logger.warn('cache write failed', { error: err instanceof Error ? err.message : String(err) });
          })
        : undefined;
    try {
      // The session was the caller's a moment ago; if it is gone now, nothing was written.
      if (!(await save)) throw sessionNotFound();
    } finally {
      await remember;
    }
  }

  /**
   * Writes the entries, then binds the ones this turn wrote to its session, so that deleting the
   * conversation deletes them (`session-index.ts`; a deletion that came first makes the binding
   * delete them at once).
   */
  private async remember(lookup: Lookup, reply: string): Promise<void> {
    const { cache, sessionIndex, settings } = this.deps;
    const written = await cache.remember(lookup.key, lookup.asker, reply, this.sharePolicy);
    if (written.length > 0) await sessionIndex?.bind(lookup.sessionId, written, settings.cacheTtlSeconds);
  }

  private withDatabase<T>(operation: () => Promise<T>, ctx: ChatContext): Promise<T> {
    return withDatabase(this.deps.databaseHealth, operation, ctx.logger);
  }

  private messages(context: readonly ContextTurn[], message: string): ChatMessage[] {
    return [{ role: 'system', content: SYSTEM_PROMPT }, ...context, { role: 'user', content: message }];
  }
}

/**
 * Runs a database operation; a failure becomes a 503. A login rejected because the credentials
 * were rotated is retried once after the re-read: the operation never ran, so that is safe.
 * (Shared with the conversation routes, `conversations.ts`.)
 */
export async function withDatabase<T>(gate: DatabaseGate, operation: () => Promise<T>, logger: Logger): Promise<T> {
  try {
    return await operation();
  } catch (err) {
    if (!(await gate.recoverFrom(err, CREDENTIAL_REFRESH_WAIT_MS))) {
      throw databaseFailed(err, logger);
    }
    logger.info('database login rejected; retried once with the re-read credentials');
    try {
      return await operation();
    } catch (again) {
      gate.reportFailure(again);
      throw databaseFailed(again, logger);
    }
  }
}

/** The failure has been reported (counted as DbErrors/AuthFailures by the monitor); log it, answer 503. */
function databaseFailed(err: unknown, logger: Logger): Error {
  logger.error('database operation failed', {
    error: err instanceof Error ? err.message : String(err),
    code: (err as { code?: unknown })?.code,
  });
  return dependencyUnavailable('The database is unavailable; retry later.');
}

/**
 * One chat turn, shared by the JSON and the streaming route:
 * context → cache lookup → (on a miss) LLM → persist both messages (+ cache the answer) → result.
 *
 * Persistence is synchronous: the caller gets a result only after both messages are committed.
 * The cache is an accelerator, never a requirement: when it is unusable the turn is answered
 * without it (`BYPASS`), counted, and readiness says `degraded`.
 */
import { randomUUID } from 'node:crypto';
import { type CacheStatus, LIMITS } from '../../../lib/contract';
import type { ResponseCache } from '../cache/redis-cache';
import type { ChatStore } from '../db/chat-store';
import { dependencyUnavailable } from '../errors';
import type { ChatMessage, LlmGateway } from '../llm/llm-client';
import type { Logger } from '../observability/logger';
import type { EmfMetrics } from '../observability/metrics';
import type { ServerTiming, TimedPart } from '../observability/server-timing';
import { type ContextTurn, cacheKey } from './cache-key';
import { SYSTEM_PROMPT } from './prompt';

export interface ChatInput {
  /** Trimmed, validated. */
  readonly message: string;
  readonly sessionId?: string;
  readonly userId?: string;
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

export interface ChatResult {
  readonly reply: string;
  readonly sessionId: string;
  readonly cacheStatus: CacheStatus;
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
export const CREDENTIAL_REFRESH_WAIT_MS = 2_000;

export interface ChatServiceDeps {
  readonly store: ChatStore;
  readonly cache: ResponseCache;
  readonly llm: LlmGateway;
  readonly databaseHealth: DatabaseGate;
  readonly cacheHealth: HealthGate;
  readonly metrics: EmfMetrics;
  readonly settings: { readonly promptVersion: string; readonly model: string; readonly cacheTtlSeconds: number };
}

interface Lookup {
  readonly sessionId: string;
  readonly context: ContextTurn[];
  readonly key: string;
  readonly status: CacheStatus;
  readonly cached: string | null;
}

export class ChatService {
  constructor(private readonly deps: ChatServiceDeps) {}

  async answer(input: ChatInput, ctx: ChatContext): Promise<ChatResult> {
    const lookup = await this.lookup(input, ctx);
    const reply =
      lookup.cached ??
      (await timed(ctx, 'llm', () => this.deps.llm.complete(this.messages(lookup.context, input.message), ctx)));
    await this.finish(input, ctx, lookup, reply);
    return { reply, sessionId: lookup.sessionId, cacheStatus: lookup.status };
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
    if (lookup.cached !== null) {
      onStart(lookup.status);
      onDelta(lookup.cached);
      reply = lookup.cached;
    } else {
      let started = false;
      reply = await timed(ctx, 'llm', () =>
        this.deps.llm.stream(this.messages(lookup.context, input.message), {
          ...ctx,
          onDelta: (delta) => {
            if (!started) {
              started = true;
              onStart(lookup.status);
            }
            onDelta(delta);
          },
        }),
      );
    }
    await this.finish(input, ctx, lookup, reply);
    return { reply, sessionId: lookup.sessionId, cacheStatus: lookup.status };
  }

  private async lookup(input: ChatInput, ctx: ChatContext): Promise<Lookup> {
    const { databaseHealth, store, settings } = this.deps;
    // No 200 without persistence: refuse early rather than call the LLM for an answer we can't store.
    // (Unless new credentials are being read right now: then the answer is worth a short wait.)
    if (!databaseHealth.usable && !(await databaseHealth.waitUsable(CREDENTIAL_REFRESH_WAIT_MS))) {
      throw dependencyUnavailable('The database is unavailable; retry later.');
    }

    const sessionId = input.sessionId ?? randomUUID();
    let context: ContextTurn[] = [];
    if (input.sessionId !== undefined) {
      context = await this.withDatabase(
        () => timed(ctx, 'db', () => store.recentContext(sessionId, LIMITS.contextTurns)),
        ctx,
      );
    }
    const key = cacheKey({
      message: input.message,
      promptVersion: settings.promptVersion,
      systemPrompt: SYSTEM_PROMPT,
      model: settings.model,
      context,
    });
    const { status, cached } = await this.cacheGet(key, ctx);
    return { sessionId, context, key, status, cached };
  }

  private async cacheGet(key: string, ctx: ChatContext): Promise<{ status: CacheStatus; cached: string | null }> {
    const { cacheHealth, cache, metrics } = this.deps;
    if (!cacheHealth.usable) {
      metrics.increment('cacheBypassed');
      metrics.flagCacheUnavailable();
      return { status: 'BYPASS', cached: null };
    }
    try {
      const cached = await timed(ctx, 'cache', () => cache.get(key));
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
    const { store, cache, cacheHealth, settings } = this.deps;
    const save = this.withDatabase(
      () =>
        timed(ctx, 'db', () =>
          store.saveTurn({
            sessionId: lookup.sessionId,
            userId: input.userId,
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
        ? timed(ctx, 'cache', () => cache.set(lookup.key, reply, settings.cacheTtlSeconds)).catch((err: unknown) => {
            cacheHealth.reportFailure(err);
            ctx.logger.warn('cache write failed', { error: err instanceof Error ? err.message : String(err) });
          })
        : undefined;
    try {
      await save;
    } finally {
      await remember;
    }
  }

  /**
   * Runs a database operation; a failure becomes a 503. A login rejected because the credentials
   * were rotated is retried once after the re-read: the operation never ran, so that is safe.
   */
  private async withDatabase<T>(operation: () => Promise<T>, ctx: ChatContext): Promise<T> {
    try {
      return await operation();
    } catch (err) {
      if (!(await this.deps.databaseHealth.recoverFrom(err, CREDENTIAL_REFRESH_WAIT_MS))) {
        throw this.databaseFailed(err, ctx);
      }
      ctx.logger.info('database login rejected; retried once with the re-read credentials');
      try {
        return await operation();
      } catch (again) {
        this.deps.databaseHealth.reportFailure(again);
        throw this.databaseFailed(again, ctx);
      }
    }
  }

  /** The failure has been reported (counted as DbErrors/AuthFailures by the monitor); log it, answer 503. */
  private databaseFailed(err: unknown, ctx: ChatContext): Error {
    ctx.logger.error('database operation failed', {
      error: err instanceof Error ? err.message : String(err),
      code: (err as { code?: unknown })?.code,
    });
    return dependencyUnavailable('The database is unavailable; retry later.');
  }

  private messages(context: readonly ContextTurn[], message: string): ChatMessage[] {
    return [{ role: 'system', content: SYSTEM_PROMPT }, ...context, { role: 'user', content: message }];
  }
}

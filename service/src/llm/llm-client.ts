/**
 * The LLM gateway: any OpenAI-compatible chat-completions endpoint through the `openai` SDK with
 * `baseURL`. The SDK's own retries are off (`maxRetries: 0`) so that `withRetries` is the only
 * retry loop and "at most 3 calls per request, at most 1 of them billed" holds; a circuit breaker
 * sits behind it, opened by the provider's 429/5xx, and by timeouts only across principals.
 *
 * HTTP goes through the SDK's supported path for Node: undici's `fetch` with an undici `Agent` as the
 * dispatcher, which keeps connections to the provider alive between calls, decompresses answers,
 * and can be swapped for undici's `ProxyAgent` where a proxy is needed.
 *
 * Every call carries `max_tokens` (LLM_MAX_OUTPUT_TOKENS): `max_tokens` rather than
 * `max_completion_tokens`, because every OpenAI-compatible server accepts it (OpenAI's reasoning
 * models want the newer name). The provider's `usage` becomes the LlmTokensIn/Out metrics and is
 * handed to the caller's quota.
 */
import OpenAI, { type ClientOptions } from 'openai';
import { Agent, fetch as undiciFetch } from 'undici';
import type { CheckStatus } from '../../../lib/contract';
import type { LlmSettings } from '../config';
import { type AppError, llmThrottled, llmUnavailable } from '../errors';
import type { Logger } from '../observability/logger';
import type { EmfMetrics } from '../observability/metrics';
import { isTlsConfigErrorCode } from '../tls-errors';
import { CircuitBreaker } from './circuit-breaker';
import {
  DEFAULT_RETRY_POLICY,
  EmptyAnswerError,
  LlmCallFailed,
  type LlmFailureKind,
  type RetryPolicy,
  withRetries,
} from './retry';

export interface ChatMessage {
  readonly role: 'system' | 'user' | 'assistant';
  readonly content: string;
}

/** What the provider billed for one call, from its `usage` field. */
export interface LlmUsage {
  readonly promptTokens: number;
  readonly completionTokens: number;
}

export interface LlmCallOptions {
  readonly logger: Logger;
  /** Aborted when the client goes away, so we stop paying for an answer nobody reads. */
  readonly signal?: AbortSignal;
  /** Called for every call whose answer reported `usage` (the quota settles on it). */
  readonly onUsage?: (usage: LlmUsage) => void;
  /** Who asked (the token's `sub`): the breaker counts timeouts and empty answers only across principals. */
  readonly principal?: string;
  /** Called before each call to the provider: a request that made none (the breaker refused it) cost nothing. */
  readonly onAttempt?: () => void;
}

/**
 * The provider's own refusals (429, 5xx): they open the breaker whoever's request met them. Timeouts,
 * lost connections and empty answers count only across principals (see `CircuitBreaker`).
 */
export const isProviderSignal = (kind: LlmFailureKind): boolean => kind === 'throttled' || kind === 'server';

export interface LlmGateway {
  complete(messages: readonly ChatMessage[], options: LlmCallOptions): Promise<string>;
  /** Streams deltas to `onDelta`; resolves with the whole reply. Retries only before the first delta. */
  stream(
    messages: readonly ChatMessage[],
    options: LlmCallOptions & { readonly onDelta: (delta: string) => void },
  ): Promise<string>;
  /** `ok` once configured; `down` while the circuit is open; `auth_failed` after a 401/403. */
  status(): CheckStatus;
}

/** What readiness needs from the LLM before the first request: proof that the endpoint answers. */
export interface LlmProbe {
  /**
   * `GET <LLM_BASE_URL>/models` with the key: resolves when the provider answered (2xx, or a 404/405
   * from a provider without that route); rejects with an `LlmProbeError` when it is unreachable,
   * answers 5xx, or rejects the key (401/403).
   */
  probe(): Promise<void>;
}

/** Retry-After for an LLM outage when the provider gave none. */
const DEFAULT_LLM_RETRY_AFTER_SECONDS = 5;

/** The start-up probe is one small GET; it must not hold readiness for a whole LLM_TIMEOUT_MS. */
const PROBE_TIMEOUT_MS = 5_000;

export type LlmProbeFailureKind = 'down' | 'auth_failed' | 'misconfigured';

/** Why the start-up probe could not prove the LLM endpoint. The message names the setting, never the key. */
export class LlmProbeError extends Error {
  constructor(
    readonly kind: LlmProbeFailureKind,
    message: string,
    readonly code?: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'LlmProbeError';
  }
}

export function classifyLlmProbeError(err: unknown): LlmProbeFailureKind {
  return err instanceof LlmProbeError ? err.kind : 'down';
}

export interface OpenAiGatewayOptions {
  readonly settings: LlmSettings;
  readonly logger: Logger;
  readonly metrics: EmfMetrics;
  readonly retry?: RetryPolicy;
  readonly breaker?: CircuitBreaker<LlmFailureKind>;
}

export class OpenAiGateway implements LlmGateway, LlmProbe {
  private readonly client: OpenAI;
  private readonly dispatcher: Agent;
  private readonly model: string;
  private readonly settings: LlmSettings;
  private readonly logger: Logger;
  private readonly metrics: EmfMetrics;
  private readonly retry: RetryPolicy;
  private readonly breaker: CircuitBreaker<LlmFailureKind>;
  private authFailed = false;

  constructor(options: OpenAiGatewayOptions) {
    const { settings } = options;
    // Keep-alive per origin: idle sockets live as long as the provider's Keep-Alive hint allows.
    this.dispatcher = new Agent();
    this.client = new OpenAI({
      apiKey: settings.apiKey,
      baseURL: settings.baseUrl,
      timeout: settings.timeoutMs,
      // The only retry loop is ours (withRetries): at most 3 calls per request (1 billed), all counted.
      maxRetries: 0,
      // undici's own fetch, as the SDK requires when an undici dispatcher is passed.
      fetch: undiciFetch as unknown as typeof fetch,
      // The cast only bridges two copies of undici's types (the package's and @types/node's undici-types).
      fetchOptions: { dispatcher: this.dispatcher } as unknown as ClientOptions['fetchOptions'],
    });
    this.model = settings.model;
    this.settings = settings;
    this.logger = options.logger;
    this.metrics = options.metrics;
    this.retry = options.retry ?? DEFAULT_RETRY_POLICY;
    this.breaker = options.breaker ?? new CircuitBreaker<LlmFailureKind>({ isProviderSignal });
  }

  async probe(): Promise<void> {
    let res: Awaited<ReturnType<typeof undiciFetch>>;
    try {
      res = await undiciFetch(`${this.settings.baseUrl}/models`, {
        method: 'GET',
        headers: { authorization: `Bearer ${this.settings.apiKey}`, accept: 'application/json' },
        signal: AbortSignal.timeout(Math.min(PROBE_TIMEOUT_MS, this.settings.timeoutMs)),
        dispatcher: this.dispatcher,
      });
    } catch (err) {
      // undici's fetch rejects with `TypeError('fetch failed')` and the socket's error as `cause`.
      const e = ((err as { cause?: unknown })?.cause ?? err) as NodeJS.ErrnoException;
      const timeout =
        (err as Error)?.name === 'AbortError' ||
        (err as Error)?.name === 'TimeoutError' ||
        e?.name === 'AbortError' ||
        e?.name === 'TimeoutError';
      const code = timeout ? 'ETIMEDOUT' : typeof e?.code === 'string' ? e.code : undefined;
      const why = timeout ? 'no answer within the probe timeout' : (e?.message ?? String(err));
      const kind: LlmProbeFailureKind = isTlsConfigErrorCode(code) ? 'misconfigured' : 'down';
      throw new LlmProbeError(kind, `the LLM endpoint (LLM_BASE_URL) is unreachable: ${why}`, code);
    }
    // The body is not needed; reading it returns the socket to the keep-alive pool.
    await res.arrayBuffer().catch(() => undefined);
    if (res.status === 401 || res.status === 403) {
      throw new LlmProbeError(
        'auth_failed',
        `the LLM endpoint (LLM_BASE_URL) rejected the key with ${res.status}`,
        undefined,
        res.status,
      );
    }
    if (res.status >= 500) {
      throw new LlmProbeError(
        'down',
        `the LLM endpoint (LLM_BASE_URL) answered ${res.status} to GET /models`,
        undefined,
        res.status,
      );
    }
    // 2xx, or a provider that has no /models (404/405) or throttles (429): it is there and answering.
  }

  /** Closes the keep-alive connections to the provider. */
  close(): void {
    void this.dispatcher.destroy().catch(() => undefined);
  }

  status(): CheckStatus {
    if (this.authFailed) return 'auth_failed';
    return this.breaker.state === 'open' ? 'down' : 'ok';
  }

  complete(messages: readonly ChatMessage[], options: LlmCallOptions): Promise<string> {
    return this.guarded(options, async (signal) => {
      const completion = await this.client.chat.completions.create(
        { model: this.model, messages: messages as ChatMessage[], max_tokens: this.settings.maxOutputTokens },
        { signal },
      );
      this.usage(completion.usage, options);
      const text = completion.choices[0]?.message?.content;
      if (typeof text !== 'string' || text.length === 0) throw new EmptyAnswerError();
      return text;
    });
  }

  stream(
    messages: readonly ChatMessage[],
    options: LlmCallOptions & { readonly onDelta: (delta: string) => void },
  ): Promise<string> {
    let delivered = false;
    return this.guarded(
      options,
      async (signal) => {
        const stream = await this.client.chat.completions.create(
          {
            model: this.model,
            messages: messages as ChatMessage[],
            max_tokens: this.settings.maxOutputTokens,
            stream: true,
            // The last chunk then carries `usage`, which the quota and the token metrics need.
            stream_options: { include_usage: true },
          },
          { signal },
        );
        let text = '';
        let usage: (typeof stream extends AsyncIterable<infer C> ? C : never)['usage'];
        for await (const chunk of stream) {
          if (chunk.usage) usage = chunk.usage;
          const delta = chunk.choices[0]?.delta?.content;
          if (delta) {
            text += delta;
            delivered = true;
            options.onDelta(delta);
          }
        }
        this.usage(usage, options);
        if (text.length === 0) throw new EmptyAnswerError('LLM stream ended without content');
        return text;
      },
      () => !delivered,
    );
  }

  /** Tokens in and out as metrics, and to the caller's quota. */
  private usage(
    usage: { prompt_tokens?: number; completion_tokens?: number } | null | undefined,
    options: LlmCallOptions,
  ): void {
    if (!usage || typeof usage.prompt_tokens !== 'number' || typeof usage.completion_tokens !== 'number') {
      this.metrics.increment('llmUsageMissing');
      return;
    }
    this.metrics.increment('llmTokensIn', usage.prompt_tokens);
    this.metrics.increment('llmTokensOut', usage.completion_tokens);
    options.onUsage?.({ promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens });
  }

  private async guarded(
    options: LlmCallOptions,
    call: (signal: AbortSignal | undefined) => Promise<string>,
    mayRetry?: () => boolean,
  ): Promise<string> {
    const principal = options.principal ?? '';
    const admission = this.breaker.tryAcquire(principal);
    if (!admission.allowed) {
      const seconds = Math.ceil(admission.retryAfterMs / 1000);
      throw this.breaker.lastFailureKind === 'throttled' ? llmThrottled(seconds) : llmUnavailable(seconds);
    }
    try {
      const text = await withRetries(
        async () => {
          const started = performance.now();
          this.metrics.increment('llmCalls');
          options.onAttempt?.();
          try {
            return await call(options.signal);
          } finally {
            this.metrics.observe('llmLatencyMs', performance.now() - started);
          }
        },
        this.retry,
        {
          ...(mayRetry ? { mayRetry } : {}),
          onAttemptFailed: (failure, attempt, err) => {
            if (failure.kind === 'throttled') this.metrics.increment('llmThrottled');
            else if (failure.kind !== 'aborted') this.metrics.increment('llmErrors');
            options.logger.warn('llm attempt failed', {
              attempt,
              kind: failure.kind,
              status: failure.status,
              error: err instanceof Error ? err.message : String(err),
            });
          },
        },
      );
      this.breaker.onSuccess();
      this.authFailed = false;
      return text;
    } catch (err) {
      if (!(err instanceof LlmCallFailed)) {
        this.breaker.onNeutral(principal);
        throw err;
      }
      const { failure } = err;
      if (failure.kind === 'aborted' || failure.kind === 'client') this.breaker.onNeutral(principal);
      else this.breaker.onFailure(failure.kind, principal);
      if (failure.kind === 'auth' && !this.authFailed) {
        this.authFailed = true;
        // One loud line per episode: the key is wrong or revoked. The key itself is never logged.
        this.logger.error('LLM authentication failed: check LLM_API_KEY (the secret it comes from)', {
          event: 'dependency_auth_failed',
          dependency: 'llm',
          status: failure.status,
        });
      }
      throw toClientError(err);
    }
  }
}

function toClientError(err: LlmCallFailed): AppError {
  const { failure } = err;
  const providerSeconds = failure.retryAfterMs === undefined ? undefined : Math.ceil(failure.retryAfterMs / 1000);
  const seconds = Math.max(1, providerSeconds ?? DEFAULT_LLM_RETRY_AFTER_SECONDS);
  return failure.kind === 'throttled' ? llmThrottled(seconds) : llmUnavailable(seconds);
}

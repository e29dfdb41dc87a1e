/**
 * Bounded retries for LLM calls: at most `maxAttempts` calls per request in total (the SDK's own
 * retries are switched off, so this loop is the only one), with full-jitter exponential backoff on
 * throttling (429), server errors (5xx), timeouts and network errors. Client errors (400, 401, ...)
 * are never retried: sending the same request again cannot fix them.
 *
 * And at most `maxBilledAttempts` calls that the provider may have billed. A 429 or 5xx answer is
 * the provider refusing before it generated anything; a call that timed out, lost its connection
 * after sending, or broke off mid-stream may have been generated, and billed, in full. So those end
 * the retries once the billed budget is spent (default 1: a timed-out generation is never retried).
 */
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { LLM_RETRY_POLICY } from '../../../lib/contract/time-budgets';

export type LlmFailureKind = 'throttled' | 'server' | 'timeout' | 'network' | 'empty' | 'auth' | 'client' | 'aborted';

/**
 * The provider answered 200 with no content. It answered, so it is up: what it was asked decides
 * this (a prompt that gets nothing back), so it is the caller's failure, not the provider's
 * (`isProviderSignal`), and it was generated, so it may have been billed and is not retried.
 */
export class EmptyAnswerError extends Error {
  constructor(message = 'LLM answered without content') {
    super(message);
    this.name = 'EmptyAnswerError';
  }
}

export interface LlmFailure {
  readonly kind: LlmFailureKind;
  readonly retryable: boolean;
  /** The provider may have generated (and billed) this call: it was sent and not refused with a status. */
  readonly mayHaveBilled: boolean;
  readonly status?: number;
  /** The provider's Retry-After, when it sent one. */
  readonly retryAfterMs?: number;
}

export interface RetryPolicy {
  /** Calls per request, first one included. */
  readonly maxAttempts: number;
  /** Calls per request the provider may have billed (see {@link LlmFailure.mayHaveBilled}), successful one included. */
  readonly maxBilledAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /**
   * A provider Retry-After longer than this ends the retries at once: waiting it out inside one
   * request would only hold the client's connection; the client gets it as its own Retry-After.
   */
  readonly maxHonouredRetryAfterMs: number;
}

/** The contract's policy: the synth-time relations add up its worst case against the ALB idle timeout. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = LLM_RETRY_POLICY;

/** `Retry-After` as seconds or an HTTP date; `retry-after-ms` (OpenAI's) wins when present. */
export function parseRetryAfterMs(headers: Headers | undefined, nowMs: number = Date.now()): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get('retry-after-ms');
  if (ms !== null && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.ceil(Number(ms));
  const value = headers.get('retry-after');
  if (value === null) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

/** Connection errors raised before the request could be sent: nothing was generated. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

function causeCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export function classifyLlmError(err: unknown): LlmFailure {
  if (err instanceof EmptyAnswerError) return { kind: 'empty', retryable: false, mayHaveBilled: true };
  if (err instanceof APIUserAbortError) return { kind: 'aborted', retryable: false, mayHaveBilled: true };
  if (err instanceof APIConnectionTimeoutError) return { kind: 'timeout', retryable: true, mayHaveBilled: true };
  if (err instanceof APIConnectionError) {
    const code = causeCode(err.cause);
    return { kind: 'network', retryable: true, mayHaveBilled: !(code !== undefined && NOT_SENT_CODES.has(code)) };
  }
  if (err instanceof APIError && typeof err.status === 'number') {
    const status = err.status;
    const retryAfterMs = parseRetryAfterMs(err.headers);
    const extra = retryAfterMs === undefined ? {} : { retryAfterMs };
    if (status === 429) return { kind: 'throttled', retryable: true, mayHaveBilled: false, status, ...extra };
    if (status >= 500 || status === 408)
      return { kind: 'server', retryable: true, mayHaveBilled: false, status, ...extra };
    if (status === 401 || status === 403) return { kind: 'auth', retryable: false, mayHaveBilled: false, status };
    return { kind: 'client', retryable: false, mayHaveBilled: false, status };
  }
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) {
    return { kind: 'timeout', retryable: true, mayHaveBilled: true };
  }
  // A stream that broke mid-way, a malformed answer: a provider fault, after it may have generated.
  return { kind: 'server', retryable: true, mayHaveBilled: true };
}

/** Full jitter: a uniform delay in [0, min(max, base * 2^(retry-1))]. */
export function backoffDelayMs(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  return Math.floor(random() * ceiling);
}

export class LlmCallFailed extends Error {
  constructor(
    readonly failure: LlmFailure,
    readonly attempts: number,
    readonly lastError: unknown,
  ) {
    super(`LLM call failed after ${attempts} attempt(s): ${failure.kind}${failure.status ? ` ${failure.status}` : ''}`);
    this.name = 'LlmCallFailed';
  }
}

export interface RetryHooks {
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  /** Decides, after a failed attempt, whether another may follow (e.g. not after a stream began). */
  readonly mayRetry?: () => boolean;
  readonly onAttemptFailed?: (failure: LlmFailure, attempt: number, err: unknown) => void;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function withRetries<T>(
  call: (attempt: number) => Promise<T>,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  hooks: RetryHooks = {},
): Promise<T> {
  const sleep = hooks.sleep ?? defaultSleep;
  let billed = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call(attempt);
    } catch (err) {
      const failure = classifyLlmError(err);
      if (failure.mayHaveBilled) billed += 1;
      hooks.onAttemptFailed?.(failure, attempt, err);
      const last =
        attempt >= policy.maxAttempts ||
        billed >= policy.maxBilledAttempts ||
        !failure.retryable ||
        (hooks.mayRetry !== undefined && !hooks.mayRetry()) ||
        (failure.retryAfterMs !== undefined && failure.retryAfterMs > policy.maxHonouredRetryAfterMs);
      if (last) throw new LlmCallFailed(failure, attempt, err);
      const jittered = backoffDelayMs(attempt, policy, hooks.random);
      await sleep(Math.max(jittered, failure.retryAfterMs ?? 0));
    }
  }
}

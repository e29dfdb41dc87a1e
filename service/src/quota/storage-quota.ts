/**
 * QUOTA_STORED_BYTES_PER_DAY: how many bytes of messages (each question and its answer, UTF-8) one
 * principal may store per UTC day. Without it a principal could fill the database at the request
 * quota's pace: 100 cache hits of one 4,000-character message stored 1.5 MB in seconds.
 *
 * The counter is the token quota's (`ReservingQuota`) with a day for a window: in the shared cache,
 * so the cap holds across tasks; per task in memory while the cache is unusable (QuotaFallback), so
 * an outage makes it N times the cap with N tasks, never unlimited and never a 5xx. The day is the
 * UTC calendar day, and Retry-After counts the seconds to midnight UTC.
 *
 * A turn reserves its question plus the longest answer it can expect before anything runs (so the
 * 429 comes before any LLM call and any write), and is settled to the bytes actually stored; a turn
 * that stored nothing (an error, a refused session) gives its reservation back. A reply longer than
 * the expectation is counted in full after it was stored: the cap can be passed by at most that
 * excess of the turns in flight at once.
 */
import { storageQuotaExceeded } from '../errors';
import type { ChatHandler } from '../types';
import { type PerPrincipalLimit, QUOTA_KEY_PREFIX, type QuotaCache } from './quota-cache';
import { ReservingQuota, type TokenReservation } from './token-quota';

export const STORAGE_WINDOW_MS = 24 * 60 * 60 * 1000;

/** Bytes of UTF-8 per output token expected of an answer (English averages about 4). */
export const EXPECTED_BYTES_PER_OUTPUT_TOKEN = 4;

export interface StorageQuotaOptions {
  /** Per principal where one (the gate's) has its own cap. */
  readonly storedBytesPerDay: PerPrincipalLimit;
  readonly cache: QuotaCache;
  readonly onFallback: () => void;
  readonly onRejected: () => void;
  readonly now?: () => number;
}

export class StorageQuota extends ReservingQuota {
  constructor({ storedBytesPerDay, ...options }: StorageQuotaOptions) {
    super({
      ...options,
      limit: storedBytesPerDay,
      windowMs: STORAGE_WINDOW_MS,
      keyPrefix: QUOTA_KEY_PREFIX.storedBytes,
      exceeded: storageQuotaExceeded,
    });
  }
}

const bytes = (text: string) => Buffer.byteLength(text, 'utf8');

/**
 * The chat service with the storage cap around each turn. `maxOutputTokens` (LLM_MAX_OUTPUT_TOKENS)
 * sizes the answer a turn reserves for.
 */
export function capStorage(
  chat: ChatHandler,
  quota: Pick<StorageQuota, 'reserve'>,
  maxOutputTokens: number,
): ChatHandler {
  const expectedReplyBytes = maxOutputTokens * EXPECTED_BYTES_PER_OUTPUT_TOKEN;
  const capped = async <R extends { readonly reply: string }>(
    owner: string,
    message: string,
    turn: () => Promise<R>,
  ): Promise<R> => {
    const reservation: TokenReservation = await quota.reserve(owner, bytes(message) + expectedReplyBytes);
    let result: R;
    try {
      result = await turn();
    } catch (err) {
      reservation.settle(0);
      throw err;
    }
    reservation.settle(bytes(message) + bytes(result.reply));
    return result;
  };
  return {
    answer: (input, ctx) => capped(input.owner, input.message, () => chat.answer(input, ctx)),
    answerStream: (input, ctx, onStart, onDelta) =>
      capped(input.owner, input.message, () => chat.answerStream(input, ctx, onStart, onDelta)),
  };
}

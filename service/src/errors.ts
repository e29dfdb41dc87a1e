/**
 * The errors a client can see. Every one maps to a status, a contract error code and, for 429 and
 * 503, a Retry-After. Anything else that escapes a handler becomes a generic 500 whose details stay
 * in the server log.
 */
import { ERROR_CODES, type ErrorCode, type ErrorResponse } from '../../lib/contract';

export interface FieldProblem {
  readonly field: string;
  readonly problem: string;
}

export class AppError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: ErrorCode,
    message: string,
    readonly extra: { readonly retryAfterSeconds?: number; readonly details?: readonly FieldProblem[] } = {},
  ) {
    super(message);
    this.name = 'AppError';
  }
}

/** Default Retry-After for dependency outages: long enough for a probe cycle, short for a client. */
export const DEPENDENCY_RETRY_AFTER_SECONDS = 5;

export const badRequest = (message: string, details?: readonly FieldProblem[]) =>
  new AppError(400, ERROR_CODES.badRequest, message, details ? { details } : {});

export const payloadTooLarge = (message: string) => new AppError(413, ERROR_CODES.payloadTooLarge, message);

/**
 * A `session_id` the server never issued and one that another principal started get this same
 * answer, so a caller cannot learn whether someone else's session exists.
 */
export const sessionNotFound = () => new AppError(404, ERROR_CODES.notFound, 'No such session.');

export const dependencyUnavailable = (message: string, retryAfterSeconds = DEPENDENCY_RETRY_AFTER_SECONDS) =>
  new AppError(503, ERROR_CODES.dependencyUnavailable, message, { retryAfterSeconds });

export const llmThrottled = (retryAfterSeconds: number) =>
  new AppError(429, ERROR_CODES.llmThrottled, 'The language model provider is throttling requests; retry later.', {
    retryAfterSeconds,
  });

/** The caller's QUOTA_LLM_TOKENS_PER_MINUTE is spent until the minute ends. */
export const tokenQuotaExceeded = (tokensPerMinute: number, retryAfterSeconds: number) =>
  new AppError(
    429,
    ERROR_CODES.tokenQuotaExceeded,
    `This caller's quota of ${tokensPerMinute} LLM tokens per minute is used up; retry later.`,
    { retryAfterSeconds },
  );

/** The caller stored its QUOTA_STORED_BYTES_PER_DAY of messages; the window ends at midnight UTC. */
export const storageQuotaExceeded = (bytesPerDay: number, retryAfterSeconds: number) =>
  new AppError(
    429,
    ERROR_CODES.storageQuotaExceeded,
    `This caller stored its ${bytesPerDay} bytes of messages for today (UTC); retry after midnight UTC.`,
    { retryAfterSeconds },
  );

export const llmUnavailable = (retryAfterSeconds: number) =>
  new AppError(503, ERROR_CODES.llmUnavailable, 'The language model is unavailable; retry later.', {
    retryAfterSeconds,
  });

export function errorBody(
  code: ErrorCode,
  message: string,
  requestId: string,
  details?: readonly FieldProblem[],
): ErrorResponse {
  return { error: { code, message, request_id: requestId, ...(details && details.length > 0 ? { details } : {}) } };
}

/**
 * The service's HTTP contract: routes, headers, payloads, limits and error codes, defined once.
 *
 * The service registers these routes, the CDK target groups health-check `ROUTES.ready`, and the
 * k6 suites call them. Nobody copies a route string.
 */

export const ROUTES = {
  /** `POST` a {@link ChatRequest}, answered with a {@link ChatResponse}. */
  chat: '/api/chatbot',
  /** `POST` a {@link ChatRequest}, answered as server-sent events ({@link SSE_EVENTS}). */
  chatStream: '/api/v1/chat/stream',
  /** Liveness: 200 while the process runs. */
  health: '/health',
  /** Readiness: 200 (`ready`, `degraded`) or 503 (`not_ready`). The ALB health check. */
  ready: '/health/ready',
  /** Cache counters since start ({@link CacheMetricsResponse}). Needs a bearer token like the chat routes. */
  cacheMetrics: '/api/v1/metrics/cache',
  /**
   * `GET`: one page of a conversation ({@link SessionMessagesResponse}), to its owner only; query
   * `limit` (1..{@link LIMITS.historyPageMax}) and `before` (a `seq` from `next_before`). Build it with {@link sessionMessagesPath}.
   */
  sessionMessages: '/api/v1/sessions/:session_id/messages',
  /** `DELETE`: the conversation, its messages and the cache entries its turns wrote; 204, owner only. See {@link sessionPath}. */
  session: '/api/v1/sessions/:session_id',
} as const;

/** The parameter of the session routes, as Fastify names it in {@link ROUTES}. */
const SESSION_PARAM = ':session_id';

/** `ROUTES.session` for one id (an id the server issued: `LIMITS.idPattern`). */
export const sessionPath = (sessionId: string): string =>
  ROUTES.session.replace(SESSION_PARAM, encodeURIComponent(sessionId));

/** `ROUTES.sessionMessages` for one id. */
export const sessionMessagesPath = (sessionId: string): string =>
  ROUTES.sessionMessages.replace(SESSION_PARAM, encodeURIComponent(sessionId));

/** Response (and request) header names, lower case as Node and k6 report them. */
export const HEADERS = {
  /** Every response carries the running `APP_VERSION`; the gate's version check reads it. */
  appVersion: 'x-app-version',
  /** `HIT`, `MISS` or `BYPASS` on every chat answer. */
  cache: 'x-cache',
  /** Echoed on every response; accepted from the caller when it matches {@link REQUEST_ID_PATTERN}. */
  requestId: 'x-request-id',
  /** On every 429 and 503, in whole seconds. */
  retryAfter: 'retry-after',
  /** On every chat answer: the turn's time split (`llm`, `db`, `cache`, `total`); see `server-timing.ts`. */
  serverTiming: 'server-timing',
  /** `Bearer <JWT>` on every API route (everything except the health routes); redacted from every log that sees requests (WAF, service). */
  authorization: 'authorization',
  /** On every 401: `Bearer realm="chat-api"`, plus `error="invalid_token"` when a token was sent (RFC 6750). */
  wwwAuthenticate: 'www-authenticate',
} as const;

/** The routes that answer without a token: the load balancer's health checks. */
export const PUBLIC_ROUTES: readonly string[] = [ROUTES.health, ROUTES.ready];

/** Why a request got 401: no bearer token, an expired one, or any other failed check (never more detail). */
export const AUTH_FAILURE_REASONS = ['missing', 'expired', 'invalid'] as const;
export type AuthFailureReason = (typeof AUTH_FAILURE_REASONS)[number];

/** A caller's request id is echoed when it is a short, safe token; otherwise the server makes one. */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

export const CACHE_STATUSES = ['HIT', 'MISS', 'BYPASS'] as const;
export type CacheStatus = (typeof CACHE_STATUSES)[number];

/** Input limits. Documented in the README; the service enforces them, the fault tests probe them. */
export const LIMITS = {
  /** A message longer than this (in characters, after trimming) is answered 413. */
  maxMessageChars: 4000,
  /** A request body larger than this is answered 413 before it is buffered in full. */
  maxBodyBytes: 32 * 1024,
  /** `session_id`: 1..128 characters of `[A-Za-z0-9_-]` (anything else is 400). */
  maxIdChars: 128,
  idPattern: '^[A-Za-z0-9_-]{1,128}$',
  /**
   * At most this many earlier turns of a session are read as context; LLM_CONTEXT_BUDGET_TOKENS
   * may leave out the oldest of them.
   */
  contextTurns: 6,
  /**
   * A request body must arrive within this long (Fastify's `requestTimeout`): a body is at most
   * `maxBodyBytes`, so a slow client is answered 408 instead of holding a socket open.
   */
  requestTimeoutMs: 10_000,
  /** Messages per page of `GET ROUTES.sessionMessages` when `limit` is absent, and the most it may ask for. */
  historyPageDefault: 50,
  historyPageMax: 100,
} as const;

/**
 * Omit `session_id` to start a conversation: the server issues the id and answers with it. A
 * `session_id` the server never issued, or one another principal started, is a 404. The caller is the
 * token's `sub`; a `user_id` in the body is ignored.
 */
export interface ChatRequest {
  readonly message: string;
  readonly session_id?: string;
}

/**
 * What one answer cost at the LLM provider, as the provider reported it (summed over retries of the
 * turn's call). Both are 0 for a cache hit: no LLM call was made. The gate compares tokens per LLM call
 * and prices answers from this (docs/loadtests.md).
 */
export interface ChatUsage {
  readonly input_tokens: number;
  readonly output_tokens: number;
}

export interface ChatResponse {
  readonly reply: string;
  readonly session_id: string;
  readonly cached: boolean;
  readonly request_id: string;
  /** The turn's LLM tokens; `{0, 0}` for a cache hit. The stream's `done` event carries the same. */
  readonly usage: ChatUsage;
}

/**
 * The stream's `done` event: a {@link ChatResponse} plus the turn's whole `Server-Timing`, which the
 * stream's header could not carry (it leaves with the first token, before the LLM has finished).
 * `server_timing` has the header's syntax and metrics (`lib/contract/server-timing.ts`), `total`
 * included, as a JSON route's header has them: the gate pairs streamed misses on the service's own
 * time (`total − llm`) and the LLM time as it pairs JSON ones. HTTP trailers would be the standard
 * place, but neither k6 nor most SSE clients read them. It says nothing a JSON answer's header does
 * not already say to the same caller.
 */
export interface StreamDone extends ChatResponse {
  readonly server_timing: string;
}

/** One stored message of a conversation. */
export interface SessionMessage {
  /** Its position in the conversation, from 1; stable (retention deletes from the start, never renumbers). */
  readonly seq: number;
  readonly role: 'user' | 'assistant';
  readonly content: string;
  /** ISO 8601, when the turn was stored. */
  readonly created_at: string;
}

/**
 * A page of a conversation: the newest messages before `before` (the newest of all without it),
 * listed oldest first. `next_before` is the `before` of the page of older messages, `null` on the
 * first page of the conversation.
 */
export interface SessionMessagesResponse {
  readonly session_id: string;
  readonly messages: readonly SessionMessage[];
  readonly next_before: number | null;
}

/**
 * Server-sent event names of the stream route. `token` repeats; exactly one `done` or `error` ends it.
 *
 * **The first byte is the first token.** The status line, the headers and the first `token` event
 * leave in one write, when the first token exists (for a hit: the cached answer). A client's time to
 * first byte (k6's `timings.waiting`) is therefore its time to first token. Until then nothing was
 * sent, so an error before the first token is an ordinary JSON error with its real status (429 and
 * 503 with `Retry-After`); after it the status is 200 and an `error` event ends the stream.
 */
export const SSE_EVENTS = {
  /** `data: {"delta": "..."}` */
  token: 'token',
  /** `data:` a {@link StreamDone}: the whole reply, the turn's `usage` and its `server_timing`. */
  done: 'done',
  /** `data:` an {@link ErrorResponse} body. */
  error: 'error',
} as const;

export const READINESS_STATUSES = ['ready', 'degraded', 'not_ready'] as const;
export type ReadinessStatus = (typeof READINESS_STATUSES)[number];
export const CHECK_STATUSES = ['ok', 'down', 'auth_failed', 'misconfigured', 'pending'] as const;
export type CheckStatus = (typeof CHECK_STATUSES)[number];

export interface ReadinessResponse {
  readonly status: ReadinessStatus;
  readonly version: string;
  readonly checks: {
    readonly database: CheckStatus;
    readonly cache: CheckStatus;
    readonly llm: CheckStatus;
  };
}

export interface LivenessResponse {
  readonly status: 'ok';
  readonly version: string;
}

export interface CacheMetricsResponse {
  readonly hits: number;
  readonly misses: number;
  readonly bypassed: number;
  /** hits / (hits + misses); 0 when there were none. Bypassed requests are not lookups. */
  readonly hit_rate: number;
}

export const ERROR_CODES = {
  badRequest: 'bad_request',
  /** The request (headers and body) did not arrive within LIMITS.requestTimeoutMs. */
  requestTimeout: 'request_timeout',
  payloadTooLarge: 'payload_too_large',
  notFound: 'not_found',
  unauthorized: 'unauthorized',
  rateLimited: 'rate_limited',
  /** The principal used its QUOTA_REQUESTS_PER_MINUTE. */
  requestQuotaExceeded: 'request_quota_exceeded',
  /** The principal used its QUOTA_LLM_TOKENS_PER_MINUTE. */
  tokenQuotaExceeded: 'token_quota_exceeded',
  /** The principal stored its QUOTA_STORED_BYTES_PER_DAY of messages today (UTC). */
  storageQuotaExceeded: 'storage_quota_exceeded',
  llmThrottled: 'llm_throttled',
  llmUnavailable: 'llm_unavailable',
  dependencyUnavailable: 'dependency_unavailable',
  shuttingDown: 'shutting_down',
  internal: 'internal_error',
} as const;
export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

export interface ErrorResponse {
  readonly error: {
    readonly code: ErrorCode;
    readonly message: string;
    readonly request_id: string;
    /** Field-level problems for 400s. */
    readonly details?: ReadonlyArray<{ readonly field: string; readonly problem: string }>;
    /** On 401s only. */
    readonly reason?: AuthFailureReason;
  };
}

/**
 * The service's fixed time budgets and pool sizes: what bounds one request's time and one task's
 * database connections. The service uses these numbers, and the synth-time relations
 * (lib/config/relations.ts) add them up against the load balancer's idle timeout and the
 * database's connection limit, so a change here is checked where it matters.
 *
 * Plain TypeScript with no imports, like the rest of the contract.
 */

/** The LLM retry loop (service/src/llm/retry.ts): the only one, the SDK's own retries are off. */
export const LLM_RETRY_POLICY = {
  /** Calls per request, first one included. */
  maxAttempts: 3,
  /** Calls the provider may have billed (a timeout, a connection lost after sending), successful one included. */
  maxBilledAttempts: 1,
  baseDelayMs: 200,
  /** The longest jittered backoff between two calls. */
  maxDelayMs: 2_000,
  /** A provider Retry-After above this ends the retries instead of being waited out. */
  maxHonouredRetryAfterMs: 2_000,
} as const;

/** The Postgres pool of one task (service/src/db/database.ts). */
export const DB_POOL = {
  /** Connections per task, per pool. */
  maxConnectionsPerTask: 10,
  /** Waiting for a free or new connection. */
  connectionTimeoutMs: 3_000,
  /** Per statement, on the client (`query_timeout`) and the server (`statement_timeout`). */
  statementTimeoutMs: 5_000,
  idleTimeoutMs: 30_000,
} as const;

/**
 * The service process's V8 heap limit (`--max-old-space-size`, in SERVICE_NODE_OPTIONS and the
 * image's NODE_OPTIONS; why: service/build.ts). A task's memory must leave room above it for the
 * rest of the process (buffers, code, the young generation), so synth holds each stage's task size
 * to it (relation `heap-within-task-memory`).
 */
export const SERVICE_HEAP_LIMIT_MIB = 512;

/** The cache client (service/src/cache/redis-cache.ts): every command, quota round trips included. */
export const CACHE_CLIENT = {
  commandTimeoutMs: 1_000,
  connectTimeoutMs: 3_000,
} as const;

/**
 * How long a request waits for a verdict under way (the re-read of rotated credentials, the probe
 * after a lost connection) before it is answered 503 (service/src/chat/chat-service.ts).
 */
export const CREDENTIAL_REFRESH_WAIT_MS = 2_000;

/**
 * One request for the issuer's signing keys, made for a token signed by a key not yet known
 * (service/src/auth/token-verifier.ts); the library tries twice.
 */
export const JWKS_FETCH_TIMEOUT_MS = 2_000;
const JWKS_FETCH_TRIES = 2;

/**
 * The longest one chat request can take before its first response byte, in ms, from the budgets
 * above: the sum of every wait on its path, each at its limit.
 *
 * - authentication: one JWKS fetch (two tries);
 * - the cache: the request quota, the lookup and the token reservation, one command each (the
 *   cache write runs beside the insert, which is longer);
 * - the database: a wait for a credential re-read under way, then two statements (the session's
 *   context, the turn's insert), each of which may be tried twice around a re-read (a rotated
 *   login): 2 × (connection + statement) + a re-read wait;
 * - the LLM: every attempt may run to LLM_TIMEOUT_MS (a billed timeout ends the retries, but a
 *   429 or 5xx answered just before the timeout does not), plus the longest wait between attempts.
 */
export function worstCaseRequestMs(llmTimeoutMs: number): number {
  const policy = LLM_RETRY_POLICY;
  const llm =
    policy.maxAttempts * llmTimeoutMs +
    (policy.maxAttempts - 1) * Math.max(policy.maxDelayMs, policy.maxHonouredRetryAfterMs);
  // The request quota, the lookup, the token reservation; the write runs beside the (longer) insert.
  const cacheCommands = 3 * CACHE_CLIENT.commandTimeoutMs;
  const statement = 2 * (DB_POOL.connectionTimeoutMs + DB_POOL.statementTimeoutMs) + CREDENTIAL_REFRESH_WAIT_MS;
  const database = CREDENTIAL_REFRESH_WAIT_MS + 2 * statement;
  return JWKS_FETCH_TRIES * JWKS_FETCH_TIMEOUT_MS + cacheCommands + database + llm;
}

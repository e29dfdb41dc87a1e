/**
 * Readiness: the one answer the ALB (and the k6 gate's `setup()`) trusts.
 *
 * - `not_ready` (503) until Postgres, the cache and the LLM endpoint have each been proven once (a
 *   query with the service's credentials, an authenticated PING over TLS, an answered
 *   `GET /models` with the key); while draining; whenever the database is not usable; and whenever
 *   a credential or TLS configuration error is known for the database or the cache.
 * - `degraded` (200) when the cache is down after having worked (answers go on without it, as
 *   `x-cache: BYPASS`, and the cache alarm fires), or the LLM circuit is open or the key was
 *   rejected after the LLM had been proven.
 * - `ready` (200) otherwise.
 */
import type { CheckStatus, ReadinessResponse, ReadinessStatus } from '../../../lib/contract';

export interface CheckSource {
  readonly status: CheckStatus;
  readonly provenOnce: boolean;
}

export interface ReadinessSources {
  readonly version: string;
  readonly database: CheckSource;
  readonly cache: CheckSource;
  /** The start-up proof of the LLM endpoint. */
  readonly llmProbe: CheckSource;
  /** The LLM's state once proven (the circuit breaker, a rejected key). */
  readonly llm: { status(): CheckStatus };
  readonly isDraining: () => boolean;
}

const CONFIG_ERRORS: ReadonlySet<CheckStatus> = new Set(['auth_failed', 'misconfigured']);

export interface ProvenOnce {
  readonly cache: boolean;
  readonly llm: boolean;
}

export function overallStatus(
  checks: ReadinessResponse['checks'],
  proven: ProvenOnce,
  draining: boolean,
): ReadinessStatus {
  if (draining) return 'not_ready';
  if (checks.database !== 'ok') return 'not_ready';
  if (CONFIG_ERRORS.has(checks.cache) || (checks.cache !== 'ok' && !proven.cache)) return 'not_ready';
  // An LLM that never answered (unreachable, key rejected at start) would turn every miss into a 503.
  if (!proven.llm || checks.llm === 'misconfigured') return 'not_ready';
  if (checks.cache !== 'ok' || checks.llm !== 'ok') return 'degraded';
  return 'ready';
}

export function readinessSnapshot(sources: ReadinessSources): ReadinessResponse {
  const llmProven = sources.llmProbe.provenOnce;
  const checks = {
    database: sources.database.status,
    cache: sources.cache.status,
    llm: llmProven ? sources.llm.status() : sources.llmProbe.status,
  };
  return {
    status: overallStatus(checks, { cache: sources.cache.provenOnce, llm: llmProven }, sources.isDraining()),
    version: sources.version,
    checks,
  };
}

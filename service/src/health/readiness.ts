/**
 * Readiness: the one answer the ALB (and the k6 gate's `setup()`) trusts.
 *
 * - `not_ready` (503) until Postgres and the cache have each been proven once (a query with the
 *   service's credentials, an authenticated PING over TLS) and the LLM is configured; while
 *   draining; whenever the database is not usable; and whenever a credential or TLS
 *   configuration error is known for any dependency.
 * - `degraded` (200) when the cache is down after having worked (answers go on without it, as
 *   `x-cache: BYPASS`, and the cache alarm fires), or the LLM circuit is open.
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
  readonly llm: { status(): CheckStatus };
  readonly isDraining: () => boolean;
}

const CONFIG_ERRORS: ReadonlySet<CheckStatus> = new Set(['auth_failed', 'misconfigured']);

export function overallStatus(
  checks: ReadinessResponse['checks'],
  cacheProvenOnce: boolean,
  draining: boolean,
): ReadinessStatus {
  if (draining) return 'not_ready';
  if (checks.database !== 'ok') return 'not_ready';
  if (CONFIG_ERRORS.has(checks.cache) || (checks.cache !== 'ok' && !cacheProvenOnce)) return 'not_ready';
  if (checks.llm === 'misconfigured') return 'not_ready';
  if (checks.cache !== 'ok' || checks.llm !== 'ok') return 'degraded';
  return 'ready';
}

export function readinessSnapshot(sources: ReadinessSources): ReadinessResponse {
  const checks = {
    database: sources.database.status,
    cache: sources.cache.status,
    llm: sources.llm.status(),
  };
  return {
    status: overallStatus(checks, sources.cache.provenOnce, sources.isDraining()),
    version: sources.version,
    checks,
  };
}

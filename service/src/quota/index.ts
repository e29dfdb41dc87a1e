/**
 * The quotas per principal, wired to the response cache's connection and its health: counted in
 * the shared cache while it is usable, per task while it is not (the QuotaFallback metric).
 */
import type { RedisCache } from '../cache/redis-cache';
import type { HealthGate } from '../chat/chat-service';
import type { ChatApiConfig } from '../config';
import type { EmfMetrics } from '../observability/metrics';
import type { PerPrincipalLimit, QuotaCache } from './quota-cache';
import type { RequestQuotaOptions } from './request-quota';
import { StorageQuota } from './storage-quota';
import { TokenQuota } from './token-quota';

export interface QuotaWiring {
  /** For `buildHttpApp`: QUOTA_REQUESTS_PER_MINUTE (the gate principal's own), after authentication. */
  readonly requestQuota: RequestQuotaOptions;
  /** For the chat service: QUOTA_LLM_TOKENS_PER_MINUTE, reserved before each LLM call. */
  readonly tokenQuota: TokenQuota;
  /** QUOTA_STORED_BYTES_PER_DAY (the gate principal's own), reserved around each turn (`capStorage`). */
  readonly storageQuota: StorageQuota;
}

export function wireQuotas(
  config: ChatApiConfig,
  parts: { readonly cache: RedisCache; readonly cacheHealth: HealthGate; readonly metrics: EmfMetrics },
): QuotaWiring {
  const { cache, cacheHealth, metrics } = parts;
  const shared: QuotaCache = {
    current: () => (cacheHealth.usable ? cache.raw : undefined),
    reportFailure: (err) => cacheHealth.reportFailure(err),
  };
  const onFallback = () => metrics.increment('quotaFallback');
  const { gate } = config.quotas;
  // The gate principal's allowances (GATE_PRINCIPAL); everyone else, the gate included for its LLM
  // tokens, has the ordinary quotas.
  const gateOr = (allowance: (g: NonNullable<typeof gate>) => number, ordinary: number): PerPrincipalLimit => {
    if (gate === undefined) return ordinary;
    const own = allowance(gate);
    return (sub) => (sub === gate.principal ? own : ordinary);
  };
  return {
    requestQuota: {
      requestsPerMinute: gateOr((g) => g.requestsPerMinute, config.quotas.requestsPerMinute),
      cache: shared,
      onFallback,
      onRejected: () => metrics.increment('quotaRequestsRejected'),
    },
    tokenQuota: new TokenQuota({
      llmTokensPerMinute: config.quotas.llmTokensPerMinute,
      cache: shared,
      onFallback,
      onRejected: () => metrics.increment('quotaTokensRejected'),
    }),
    storageQuota: new StorageQuota({
      storedBytesPerDay: gateOr((g) => g.storedBytesPerDay, config.quotas.storedBytesPerDay),
      cache: shared,
      onFallback,
      onRejected: () => metrics.increment('quotaStorageRejected'),
    }),
  };
}

/**
 * Metric names shared by the emitters (the service's EMF lines, the k6 summary, the gate Lambda)
 * and the consumers (alarms and the dashboard). A renamed metric silently breaks an alarm, so the
 * names live here once.
 */

/** The service publishes these as CloudWatch Embedded Metric Format on stdout. */
export const SERVICE_METRICS = {
  namespace: 'ChatApi',
  /** Every metric carries exactly this one dimension, valued with `SERVICE_NAME`. */
  dimension: 'Service',
  names: {
    /** Milliseconds from request received to response sent, chat routes only. */
    requestLatencyMs: 'RequestLatency',
    /** Count of chat requests answered, by any status. */
    requests: 'Requests',
    /** Count of chat requests answered with a 5xx. */
    serverErrors: 'ServerErrors',
    /** Count of response-cache hits / misses / bypasses (cache down or unusable). */
    cacheHits: 'CacheHit',
    cacheMisses: 'CacheMiss',
    cacheBypassed: 'CacheBypass',
    /** 1 for every interval in which the cache could not be used at all. */
    cacheUnavailable: 'CacheUnavailable',
    /** Milliseconds per LLM call (successful or not). */
    llmLatencyMs: 'LlmLatency',
    /** Count of LLM calls answered 429 by the provider. */
    llmThrottled: 'LlmThrottled',
    /** Count of LLM calls that failed (5xx, timeout, network), throttling excluded. */
    llmErrors: 'LlmErrors',
    /** Count of LLM calls made, so the error rate has a denominator. */
    llmCalls: 'LlmCalls',
    /** Count of failed database operations. */
    dbErrors: 'DbErrors',
    /**
     * Count of authentication-failure episodes against Postgres or the cache that re-reading the
     * secret did not heal (wrong password/token): one per episode, with the loud log line.
     */
    authFailures: 'AuthFailures',
    /** Count of rejected credentials healed by re-reading the secret (a rotation), not alarmed. */
    credentialRefreshes: 'CredentialRefreshes',
    /** LLM input tokens billed, from the provider's `usage.prompt_tokens` (summed; per call it is the Sum / LlmCalls). */
    llmTokensIn: 'LlmTokensIn',
    /** LLM output tokens billed, from the provider's `usage.completion_tokens`. */
    llmTokensOut: 'LlmTokensOut',
    /** Count of LLM calls whose answer carried no `usage` (their reservation is billed to the quota instead). */
    llmUsageMissing: 'LlmUsageMissing',
    /** Count of requests answered 429 because the principal used its QUOTA_REQUESTS_PER_MINUTE. */
    quotaRequestsRejected: 'QuotaRequestsRejected',
    /** Count of requests answered 429 because the principal used its QUOTA_LLM_TOKENS_PER_MINUTE. */
    quotaTokensRejected: 'QuotaTokensRejected',
    /** Count of requests answered 429 because the principal stored its QUOTA_STORED_BYTES_PER_DAY. */
    quotaStorageRejected: 'QuotaStorageRejected',
    /** Count of messages deleted by the retention runs (MESSAGE_RETENTION_DAYS). */
    retentionDeletedMessages: 'RetentionDeletedMessages',
    /**
     * Count of quota decisions taken by the per-task fallback because the cache was unusable: the
     * quotas then hold per task, not across tasks.
     */
    quotaFallback: 'QuotaFallback',
    /** Count of API requests answered 401 (no, expired or invalid bearer token). Callers' mistakes: not alarmed. */
    unauthenticated: 'Unauthenticated',
  },
} as const;

/** The k6 gate publishes these (from the k6 summary's EMF line and from the hook Lambda). */
export const GATE_METRICS = {
  namespace: 'ChatPlatform/Gate',
  /** Dimension valued like the service's `SERVICE_NAME` (`<app>-<stage>-api`, see `serviceDimension`). */
  dimension: 'Service',
  names: {
    /** 1 when a gate run failed (thresholds or gate error), 0 when it passed. */
    failed: 'GateFailed',
    /** 1 when the gate could not produce a verdict (runner did not start, timed out, crashed). */
    error: 'GateError',
    durationSeconds: 'GateDuration',
    p95LatencyMs: 'GateP95Latency',
    errorRatePercent: 'GateErrorRate',
    requests: 'GateRequests',
    cacheHitRatePercent: 'GateCacheHitRate',
    /** Comparisons with the serving version that failed; absent when the run had no baseline. */
    comparisonsFailed: 'GateComparisonsFailed',
    /** The candidate's LLM tokens (input + output) per call, from the answers' `usage`; absent without calls. */
    tokensPerCall: 'GateTokensPerCall',
    /** p95 of the candidate's time to first token on streamed answers (client-side first byte). */
    ttftP95Ms: 'GateTtftP95',
  },
} as const;

/**
 * The quotas per principal for runs that measure something else (the fault suites, the alarm
 * proof's captures, the relative gate's pair, the bench): on, so each request is counted in the
 * cache (per task while the cache is down) as in every stage, but far above what a run sends, so
 * no request is refused and the figures stay comparable.
 */
export const UNBOUNDED_QUOTAS = {
  QUOTA_REQUESTS_PER_MINUTE: '1000000',
  QUOTA_LLM_TOKENS_PER_MINUTE: '1000000000',
  QUOTA_STORED_BYTES_PER_DAY: '1000000000000',
  // The gate principal's own allowances (GATE_PRINCIPAL, set wherever the stack has an issuer).
  QUOTA_GATE_REQUESTS_PER_MINUTE: '1000000',
  QUOTA_GATE_STORED_BYTES_PER_DAY: '1000000000000',
} as const;

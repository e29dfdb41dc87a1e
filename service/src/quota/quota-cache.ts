/**
 * What the quotas need from the shared cache: its current connection (the response cache's own
 * client, TLS + AUTH, replaced after a token rotation), or nothing while it is known to be down.
 */
import type { Redis } from 'ioredis';

export interface QuotaCache {
  /** The connection to count on now; undefined while the cache is unusable (the quotas fall back). */
  current(): Redis | undefined;
  /** A quota command failed: the cache's monitor decides whether it is down. */
  reportFailure(err: unknown): void;
}

/** Told once per quota decision taken per task because the cache was unusable. */
export type FallbackListener = () => void;

/** Key prefixes in the cache; the response cache's keys start with `chat:`. */
export const QUOTA_KEY_PREFIX = {
  requests: 'quota:req:',
  llmTokens: 'quota:tok:',
  storedBytes: 'quota:bytes:',
} as const;

/** The request and token quotas count per minute (the storage quota per day). */
export const QUOTA_WINDOW_MS = 60_000;

/**
 * A quota's limit: the same for every principal, or chosen per principal (`sub`), as the gate
 * principal gets its own allowances (GATE_PRINCIPAL).
 */
export type PerPrincipalLimit = number | ((sub: string) => number);

/** The limit of `sub` under `limit`. */
export function limitOf(limit: PerPrincipalLimit, sub: string): number {
  return typeof limit === 'number' ? limit : limit(sub);
}

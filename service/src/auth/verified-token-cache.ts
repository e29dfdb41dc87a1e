/**
 * A bounded cache of verified bearer tokens around a {@link TokenVerifier}, so a client that sends
 * the same token on every request (as every OAuth client does until the token expires) pays for
 * one signature check and one set of claim checks, not one per request.
 *
 * - **Key**: the SHA-256 of the whole compact token (header, payload and signature), never the
 *   token itself, so the cache holds nothing a heap dump could replay. Any change to any byte of
 *   the token (a tampered payload, another signature) is another key: the verifier decides it.
 * - **Only successes** are kept, with the principal the verifier returned. A failure is never
 *   cached, so an answer can only be served from here if the verifier gave it before.
 * - **Until `exp`**, never past it: an entry is served while the clock is before the token's `exp`
 *   and dropped after. The verifier itself still accepts a token up to `CLOCK_SKEW_SECONDS` after
 *   its `exp`; in that window the cache misses and the verifier decides, exactly as without the
 *   cache. So the cache never makes a token live longer than the verifier alone would.
 * - **Bounded**: at most `maxEntries`, the least recently used dropped first.
 * - **Emptied on every successful JWKS re-read** (`warmUp`, every `JWKS_REFRESH_MS`): a key the
 *   issuer has withdrawn stops verifying cached tokens at the same moment it stops verifying new
 *   ones.
 *
 * What this means for revocation: docs/security.md, "Where identity is checked".
 */
import { hash } from 'node:crypto';
import type { Principal, TokenVerifier } from './token-verifier';

/** Distinct tokens remembered: about 200 bytes each, so at most a few MiB. */
export const VERIFIED_TOKEN_CACHE_MAX_ENTRIES = 10_000;

export interface VerifiedTokenCacheOptions {
  /** @default VERIFIED_TOKEN_CACHE_MAX_ENTRIES */
  readonly maxEntries?: number;
  /** Milliseconds since the epoch. @default Date.now (read on every call) */
  readonly now?: () => number;
}

export interface CachingTokenVerifier extends TokenVerifier {
  /** Tokens held now. */
  readonly size: number;
  /** Forgets every token. */
  clear(): void;
}

interface Entry {
  readonly principal: Principal;
  readonly expiresAtMs: number;
}

// One-shot `crypto.hash`: no Hash object per request.
const tokenKey = (token: string) => hash('sha256', token, 'base64url');

/** `exp` of a token the verifier has just accepted (its payload is then the signed one), in ms. */
function expiryMs(token: string): number | undefined {
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  if (first < 0 || second < 0) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(token.slice(first + 1, second), 'base64url').toString('utf8'));
    const exp = (payload as { exp?: unknown } | null)?.exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

export function cacheVerifiedTokens(
  inner: TokenVerifier,
  options: VerifiedTokenCacheOptions = {},
): CachingTokenVerifier {
  const maxEntries = options.maxEntries ?? VERIFIED_TOKEN_CACHE_MAX_ENTRIES;
  if (!(Number.isInteger(maxEntries) && maxEntries >= 1)) throw new Error('maxEntries must be an integer >= 1');
  const now = options.now ?? (() => Date.now());
  // A Map iterates in insertion order: re-inserting on a hit makes the first key the least recently used.
  const entries = new Map<string, Entry>();
  // Bumped by clear(): a verification that started before a clear must not refill the cache after it.
  let generation = 0;

  const clear = () => {
    entries.clear();
    generation += 1;
  };

  return {
    get size() {
      return entries.size;
    },
    clear,
    // Not async: a cached token is answered with one resolved promise, no async layer around it.
    verify(token) {
      const key = tokenKey(token);
      const hit = entries.get(key);
      if (hit) {
        entries.delete(key);
        if (now() < hit.expiresAtMs) {
          entries.set(key, hit);
          return Promise.resolve(hit.principal);
        }
      }
      return verifyAndKeep(token, key);
    },
    async warmUp() {
      const result = await inner.warmUp();
      if (result.ok) clear();
      return result;
    },
  };

  /** The verifier's answer, kept under `key` when it is a success that has not expired yet. */
  async function verifyAndKeep(token: string, key: string): Promise<Principal> {
    const startedIn = generation;
    const principal = await inner.verify(token);
    const expiresAtMs = expiryMs(token);
    if (startedIn === generation && expiresAtMs !== undefined && now() < expiresAtMs) {
      entries.set(key, {
        principal: Object.freeze({ ...principal, scopes: Object.freeze([...principal.scopes]) }),
        expiresAtMs,
      });
      if (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
    }
    return principal;
  }
}

/**
 * Bearer-token verification with `aws-jwt-verify` (a kept library made for it): the signature
 * against the issuer's JWKS, `iss`, the audience ({@link audienceAccepted}: `aud` when present, else
 * Cognito's `client_id`), `token_use` (`access` when present), a printable `sub` of at most 256 bytes,
 * `exp`/`nbf` with a small clock skew, and an allow-list of algorithms.
 *
 * Keys are cached in memory for the life of the process. The JWKS is fetched again for a `kid` the
 * cache does not hold (a key rotation), at most once per {@link JWKS_PENALTY_SECONDS} after a miss,
 * and on a fixed schedule ({@link JWKS_REFRESH_MS}, see `index.ts`), which a stream of made-up `kid`s
 * cannot hold off. A failed fetch keeps the keys already cached, so an issuer outage never stops
 * known keys from verifying, and made-up `kid`s cannot turn the service into a JWKS flood. Every
 * fetch is bounded in time.
 */
import { JwtVerifier } from 'aws-jwt-verify';
import {
  FetchError,
  JwksNotAvailableInCacheError,
  JwksValidationError,
  JwtBaseError,
  JwtExpiredError,
  WaitPeriodNotYetEndedJwkError,
} from 'aws-jwt-verify/error';
import { SimpleFetcher } from 'aws-jwt-verify/https';
import { SimpleJwksCache, SimplePenaltyBox } from 'aws-jwt-verify/jwk';
import type { AuthFailureReason } from '../../../lib/contract';
import { JWKS_FETCH_TIMEOUT_MS } from '../../../lib/contract/time-budgets';

/** Asymmetric only: never `none`, never an HMAC algorithm that a public key could be misused for. */
export const ALLOWED_ALGORITHMS: readonly string[] = ['RS256', 'ES256'];

/** Clock skew tolerated on `exp` and `nbf`. */
export const CLOCK_SKEW_SECONDS = 30;

/** How long one JWKS request may take (the library retries once, so a fetch is bounded by twice this). */
export { JWKS_FETCH_TIMEOUT_MS };

/** After an unknown `kid` (or a failed fetch), no fetch on a miss for this long. */
export const JWKS_PENALTY_SECONDS = 10;

/** The scheduled re-read of the JWKS: picks up a rotation even while misses are in their penalty period. */
export const JWKS_REFRESH_MS = 10 * 60_000;

/** Who is calling: the token's `sub` owns the sessions it starts. */
export interface Principal {
  readonly sub: string;
  /** The OAuth client the token was issued to, when the token says (Cognito `client_id`, or `azp`). */
  readonly clientId?: string;
  readonly scopes: readonly string[];
}

/** A request whose token does not prove a principal. `detail` is for the log only, never the client. */
export class AuthFailure extends Error {
  constructor(
    readonly reason: AuthFailureReason,
    readonly detail: string,
  ) {
    super(`${reason}: ${detail}`);
    this.name = 'AuthFailure';
  }
}

export interface TokenVerifierSettings {
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly jwksUrl: string;
}

/** Turns a bearer token into a {@link Principal}, or throws {@link AuthFailure}. */
export interface TokenVerifier {
  verify(token: string): Promise<Principal>;
  /** (Re)loads the JWKS; a failure is reported, never thrown, and keeps the keys already cached. */
  warmUp(): Promise<{ ok: true } | { ok: false; error: string }>;
}

/** The longest `sub` accepted, in UTF-8 bytes: it is stored as the owner of sessions and hashed per question. */
export const MAX_SUB_BYTES = 256;

/** Printable: letters, marks, digits, punctuation, symbols and the plain space; no control, format or separator character. */
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]+$/u;

/** A `sub` that can name an owner: 1 to {@link MAX_SUB_BYTES} bytes of printable text. */
export function isUsableSub(sub: unknown): sub is string {
  return typeof sub === 'string' && Buffer.byteLength(sub, 'utf8') <= MAX_SUB_BYTES && PRINTABLE.test(sub);
}

/**
 * The audience rule (docs/security.md states it in the same words): a token that carries `aud` is
 * accepted when one of its `aud` values is in AUTH_AUDIENCE, and its `client_id` is not looked at (a
 * token issued for another API is refused whoever the client was); a token without `aud` (a Cognito
 * access token) is accepted when its `client_id` is in AUTH_AUDIENCE.
 */
export function audienceAccepted(
  payload: { aud?: unknown; client_id?: unknown },
  audiences: ReadonlySet<string>,
): boolean {
  if (payload.aud !== undefined) {
    const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    return aud.some((a) => typeof a === 'string' && audiences.has(a));
  }
  return typeof payload.client_id === 'string' && audiences.has(payload.client_id);
}

function decodeHeader(token: string): { alg?: unknown; kid?: unknown } | undefined {
  const dot = token.indexOf('.');
  if (dot <= 0) return undefined;
  try {
    const header: unknown = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8'));
    return header && typeof header === 'object' ? (header as { alg?: unknown; kid?: unknown }) : undefined;
  } catch {
    return undefined;
  }
}

export function createTokenVerifier(settings: TokenVerifierSettings): TokenVerifier {
  const audiences = new Set(settings.audiences);
  const jwksCache = new SimpleJwksCache({
    fetcher: new SimpleFetcher({
      defaultRequestOptions: { responseTimeout: JWKS_FETCH_TIMEOUT_MS, timeout: JWKS_FETCH_TIMEOUT_MS },
    }),
    penaltyBox: new SimplePenaltyBox({ waitSeconds: JWKS_PENALTY_SECONDS }),
  });
  const verifier = JwtVerifier.create(
    {
      issuer: settings.issuer,
      jwksUri: settings.jwksUrl,
      // Checked below instead: Cognito access tokens name their client in `client_id`, not `aud`.
      audience: null,
      graceSeconds: CLOCK_SKEW_SECONDS,
      customJwtCheck: ({ header, payload }) => {
        if (!ALLOWED_ALGORITHMS.includes(header.alg ?? 'none'))
          throw new Error(`algorithm ${header.alg} is not allowed`);
        if (typeof payload.exp !== 'number') throw new Error('the token has no exp');
        // Only access tokens call the API: Cognito marks ID tokens `id` (and they carry the client as `aud`).
        if (payload.token_use !== undefined && payload.token_use !== 'access') {
          throw new Error(`token_use ${String(payload.token_use)} is not access`);
        }
        if (!audienceAccepted(payload, audiences)) {
          throw new Error(
            payload.aud !== undefined ? 'aud names no accepted audience' : 'client_id is not an accepted audience',
          );
        }
        if (!isUsableSub(payload.sub)) {
          throw new Error(`the token has no usable sub (1-${MAX_SUB_BYTES} bytes of printable text)`);
        }
      },
    },
    { jwksCache },
  );

  return {
    async verify(token) {
      // Refuse what can never pass before the library may fetch a JWKS for it.
      const header = decodeHeader(token);
      if (!header) throw new AuthFailure('invalid', 'not a JWT');
      if (typeof header.alg !== 'string' || !ALLOWED_ALGORITHMS.includes(header.alg)) {
        throw new AuthFailure('invalid', `algorithm ${String(header.alg)} is not allowed`);
      }
      if (typeof header.kid !== 'string') throw new AuthFailure('invalid', 'the token header has no kid');
      try {
        const payload = await verifier.verify(token);
        const clientId =
          typeof payload.client_id === 'string'
            ? payload.client_id
            : typeof payload.azp === 'string'
              ? payload.azp
              : undefined;
        const scope = typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [];
        return { sub: payload.sub as string, ...(clientId ? { clientId } : {}), scopes: scope };
      } catch (err) {
        throw toAuthFailure(err);
      }
    },
    async warmUp() {
      try {
        await verifier.hydrate();
        return { ok: true };
      } catch (err) {
        return { ok: false, error: err instanceof Error ? err.message : String(err) };
      }
    },
  };
}

/**
 * Every failure is a 401: `expired` when only the clock is wrong, `invalid` otherwise. A token whose
 * key could not be fetched (JWKS unreachable, or its `kid` still in the penalty period) is `invalid`
 * too, not a 5xx: the caller cannot be told apart from one presenting a forged `kid`, and a 5xx
 * would count against the deployment's error alarms.
 */
export function toAuthFailure(err: unknown): AuthFailure {
  if (err instanceof AuthFailure) return err;
  if (err instanceof JwtExpiredError) return new AuthFailure('expired', 'the token has expired');
  if (
    err instanceof FetchError ||
    err instanceof JwksNotAvailableInCacheError ||
    err instanceof WaitPeriodNotYetEndedJwkError ||
    err instanceof JwksValidationError
  ) {
    return new AuthFailure('invalid', `signing key unavailable: ${err.message}`);
  }
  if (err instanceof JwtBaseError || err instanceof Error) return new AuthFailure('invalid', err.message);
  return new AuthFailure('invalid', 'verification failed');
}

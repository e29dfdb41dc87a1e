/**
 * The service's authentication, built from `config.auth`: bearer tokens verified against the
 * issuer's JWKS (each distinct token once, then cached until its `exp`), or, with `AUTH_MODE=off`
 * (local runs only), nobody checked and one warning line at start.
 */
import type { AuthSettings } from '../config';
import type { Logger } from '../observability/logger';
import { type Authenticator, allowEveryone, bearerAuthenticator, LOCAL_PRINCIPAL } from './authenticate';
import { createTokenVerifier, JWKS_REFRESH_MS } from './token-verifier';
import { cacheVerifiedTokens } from './verified-token-cache';

export { type Authenticator, allowEveryone, bearerAuthenticator, type Principal } from './authenticate';

export interface ServiceAuth {
  readonly authenticate: Authenticator;
  /** Fetches the JWKS in the background now (so the first request does not pay for it) and every JWKS_REFRESH_MS. */
  start(): void;
  stop(): void;
}

export function createServiceAuth(settings: AuthSettings, logger: Logger): ServiceAuth {
  if (settings.mode === 'off') {
    logger.warn('AUTH_MODE=off: the API accepts every caller without a token; for local runs only', {
      event: 'auth_disabled',
      principal: LOCAL_PRINCIPAL.sub,
    });
    return { authenticate: allowEveryone, start: () => undefined, stop: () => undefined };
  }
  // A client sends the same token until it expires: verified once, then served from the cache
  // until its exp (verified-token-cache.ts; what that means for revocation: docs/security.md).
  const verifier = cacheVerifiedTokens(createTokenVerifier(settings));
  logger.info('bearer tokens required', {
    event: 'auth_enabled',
    issuer: settings.issuer,
    audiences: settings.audiences,
    jwks_url: settings.jwksUrl,
  });
  let timer: NodeJS.Timeout | undefined;
  const refresh = () =>
    void verifier.warmUp().then((r) => {
      if (!r.ok) {
        // Not fatal: the keys already cached keep verifying, and a token with a new kid fetches again.
        logger.warn('could not load the token issuer keys', { event: 'jwks_unavailable', error: r.error });
      }
    });
  return {
    authenticate: bearerAuthenticator(verifier),
    start: () => {
      refresh();
      timer = setInterval(refresh, JWKS_REFRESH_MS);
      timer.unref();
    },
    stop: () => clearInterval(timer),
  };
}

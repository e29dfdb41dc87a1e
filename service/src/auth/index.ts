/**
 * The service's authentication, built from `config.auth`: bearer tokens verified against the
 * issuer's JWKS, or, with `AUTH_MODE=off` (local runs and benchmarks only), nobody checked and one
 * warning line at start.
 */
import type { AuthSettings } from '../config';
import type { Logger } from '../observability/logger';
import { type Authenticator, allowEveryone, bearerAuthenticator, LOCAL_PRINCIPAL } from './authenticate';
import { createTokenVerifier } from './token-verifier';

export { type Authenticator, allowEveryone, bearerAuthenticator, type Principal } from './authenticate';

export interface ServiceAuth {
  readonly authenticate: Authenticator;
  /** Fetches the JWKS once in the background, so the first request does not pay for it. */
  start(): void;
}

export function createServiceAuth(settings: AuthSettings, logger: Logger): ServiceAuth {
  if (settings.mode === 'off') {
    logger.warn('AUTH_MODE=off: the API accepts every caller without a token; for local runs only', {
      event: 'auth_disabled',
      principal: LOCAL_PRINCIPAL.sub,
    });
    return { authenticate: allowEveryone, start: () => undefined };
  }
  const verifier = createTokenVerifier(settings);
  logger.info('bearer tokens required', {
    event: 'auth_enabled',
    issuer: settings.issuer,
    audiences: settings.audiences,
    jwks_url: settings.jwksUrl,
  });
  return {
    authenticate: bearerAuthenticator(verifier),
    start: () => {
      void verifier.warmUp().then((r) => {
        if (!r.ok) {
          // Not fatal: the first token with a known issuer fetches the JWKS again.
          logger.warn('could not load the token issuer keys yet', { event: 'jwks_unavailable', error: r.error });
        }
      });
    },
  };
}

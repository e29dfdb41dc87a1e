/**
 * Identity is checked here, in the service, on every route except the load balancer's health checks
 * (`PUBLIC_ROUTES`). Not as an ALB `authenticate-*` action: see `lib/constructs/service-load-balancer.ts`.
 *
 * The check is a route-level `onRequest` hook, added to each route after the rate limiter's, so an
 * unauthenticated flood is still rate limited, and a request without a valid token is answered 401
 * before its body is read or validated.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { type AuthFailureReason, ERROR_CODES, HEADERS, PUBLIC_ROUTES } from '../../../lib/contract';
import { errorBody } from '../errors';
import { AuthFailure, type Principal, type TokenVerifier } from './token-verifier';

export type { Principal } from './token-verifier';

/** Resolves the caller of a request, or throws {@link AuthFailure}. */
export type Authenticator = (authorization: string | undefined) => Promise<Principal>;

/** The principal every request runs as with `AUTH_MODE=off` (local runs): all sessions belong to it. */
export const LOCAL_PRINCIPAL: Principal = { sub: 'local-unauthenticated', scopes: [] };

/** `AUTH_MODE=off`: no identity check at all. */
export const allowEveryone: Authenticator = async () => LOCAL_PRINCIPAL;

const BEARER = /^Bearer[ ]+([A-Za-z0-9._~+/=-]+)[ ]*$/i;

/**
 * Bearer tokens from the `Authorization` header, checked by `verifier`. Not an async function: a
 * well-formed header gets the verifier's own promise, with no layer (promise and ticks) around it.
 */
export function bearerAuthenticator(verifier: TokenVerifier): Authenticator {
  return (authorization) => {
    if (authorization === undefined || authorization.trim() === '') {
      return Promise.reject(new AuthFailure('missing', 'no Authorization header'));
    }
    const match = BEARER.exec(authorization);
    if (!match?.[1]) {
      return Promise.reject(new AuthFailure('invalid', 'the Authorization header is not a Bearer token'));
    }
    return verifier.verify(match[1]);
  };
}

const MESSAGES: Record<AuthFailureReason, string> = {
  missing: 'A bearer token is required.',
  expired: 'The bearer token has expired.',
  invalid: 'The bearer token is not valid.',
};

/** RFC 6750 §3: no `error` attribute when the request carried no token at all. */
export function wwwAuthenticate(reason: AuthFailureReason): string {
  return reason === 'missing'
    ? 'Bearer realm="chat-api"'
    : `Bearer realm="chat-api", error="invalid_token", error_description="${reason}"`;
}

export function sendUnauthorized(request: FastifyRequest, reply: FastifyReply, reason: AuthFailureReason): void {
  reply
    .code(401)
    .header(HEADERS.wwwAuthenticate, wwwAuthenticate(reason))
    .header('cache-control', 'no-store')
    .send({ error: { ...errorBody(ERROR_CODES.unauthorized, MESSAGES[reason], request.id).error, reason } });
}

export interface AuthenticationOptions {
  readonly authenticate: Authenticator;
  /** Called once per rejected request (metrics). */
  readonly onRejected?: (reason: AuthFailureReason) => void;
}

/**
 * Adds the check to every route registered after this call, except {@link PUBLIC_ROUTES}. Call it on
 * the root instance, after the rate limiter and before the routes.
 */
export function installAuthentication(app: FastifyInstance, options: AuthenticationOptions): void {
  app.decorateRequest('principal', null);
  const check: onRequestHookHandler = async function check(request, reply) {
    try {
      request.principal = await options.authenticate(request.headers.authorization);
    } catch (err) {
      const failure =
        err instanceof AuthFailure ? err : new AuthFailure('invalid', err instanceof Error ? err.message : 'error');
      options.onRejected?.(failure.reason);
      // The reason code goes to the client; the detail (never the token) only to the log.
      request.logger?.info('request not authenticated', {
        event: 'unauthenticated',
        reason: failure.reason,
        detail: failure.detail,
      });
      sendUnauthorized(request, reply, failure.reason);
      return reply;
    }
  };
  app.addHook('onRoute', (route) => {
    if (PUBLIC_ROUTES.includes(route.url)) return;
    const existing =
      route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
    route.onRequest = [...existing, check];
  });
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller; set on every non-public route before its handler runs. */
    principal: Principal | null;
  }
}

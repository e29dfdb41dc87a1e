/**
 * How the gate authenticates to the chat API, as pure functions: which credentials the environment
 * holds, the OAuth2 client-credentials request for a token, and what a token endpoint's answer means.
 * The k6 script (`setup()`) and the `npm run gate` wrapper's preflight both use these, so they agree.
 *
 * Nothing returned here for printing ever contains a token, a client secret or a response body.
 */
import { GATE_ENV } from '../../../lib/contract/gate';
import type { GateEnv } from './config';

export type GateCredentials =
  /** No credentials: only a target with AUTH_MODE=off accepts the gate. */
  | { readonly kind: 'none' }
  | { readonly kind: 'token'; readonly token: string }
  | {
      readonly kind: 'clientCredentials';
      readonly tokenUrl: string;
      readonly clientId: string;
      readonly clientSecret: string;
      readonly scope?: string;
    };

export class GateAuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GateAuthError';
  }
}

const LOOPBACK = /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\//;

/** Reads the gate's credentials; incomplete or contradictory settings are an error naming the variables. */
export function readGateCredentials(env: GateEnv): GateCredentials {
  const value = (name: string) => {
    const v = env[name]?.trim();
    return v ? v : undefined;
  };
  const token = value(GATE_ENV.authToken);
  const tokenUrl = value(GATE_ENV.tokenUrl);
  const clientId = value(GATE_ENV.clientId);
  const clientSecret = value(GATE_ENV.clientSecret);
  const scope = value(GATE_ENV.tokenScope);
  const clientNames = [GATE_ENV.tokenUrl, GATE_ENV.clientId, GATE_ENV.clientSecret];
  const anyClient = tokenUrl !== undefined || clientId !== undefined || clientSecret !== undefined;

  if (token !== undefined) {
    if (anyClient) {
      throw new GateAuthError(
        `set either ${GATE_ENV.authToken} or ${clientNames.join(', ')}, not both: which one the gate uses must be clear`,
      );
    }
    if (!/^[A-Za-z0-9._~+/=-]+$/.test(token)) throw new GateAuthError(`${GATE_ENV.authToken} is not a bearer token`);
    return { kind: 'token', token };
  }
  if (!anyClient) return { kind: 'none' };
  const missing = clientNames.filter((n) => value(n) === undefined);
  if (missing.length > 0) {
    throw new GateAuthError(`client credentials are incomplete: ${missing.join(', ')} not set`);
  }
  // The client secret travels to this URL: TLS, except to a token endpoint on this machine (npm run local).
  if (!/^https:\/\/[^/\s]+/.test(tokenUrl as string) && !LOOPBACK.test(`${tokenUrl as string}/`)) {
    throw new GateAuthError(`${GATE_ENV.tokenUrl} must be an https URL (or http on 127.0.0.1 for local runs)`);
  }
  return {
    kind: 'clientCredentials',
    tokenUrl: tokenUrl as string,
    clientId: clientId as string,
    clientSecret: clientSecret as string,
    ...(scope === undefined ? {} : { scope }),
  };
}

/** Base64 without `btoa` or `Buffer` (neither is available in both k6 and Node's typings). */
function base64(text: string): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const bytes: number[] = [];
  const utf8 = encodeURIComponent(text).replace(/%([0-9A-F]{2})/g, (_m, hex: string) =>
    String.fromCharCode(Number.parseInt(hex, 16)),
  );
  for (const ch of utf8) bytes.push(ch.charCodeAt(0));
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const [a = 0, b = 0, c = 0] = [bytes[i], bytes[i + 1], bytes[i + 2]];
    const n = (a << 16) | (b << 8) | c;
    out += chars[(n >> 18) & 63];
    out += chars[(n >> 12) & 63];
    out += i + 1 < bytes.length ? chars[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.length ? chars[n & 63] : '=';
  }
  return out;
}

export interface TokenRequest {
  readonly url: string;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** RFC 6749 §4.4: client authentication by HTTP Basic (§2.3.1), what Cognito's token endpoint expects. */
export function clientCredentialsRequest(creds: Extract<GateCredentials, { kind: 'clientCredentials' }>): TokenRequest {
  const form = [`grant_type=client_credentials`];
  if (creds.scope) form.push(`scope=${encodeURIComponent(creds.scope)}`);
  return {
    url: creds.tokenUrl,
    body: form.join('&'),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
      authorization: `Basic ${base64(`${encodeURIComponent(creds.clientId)}:${encodeURIComponent(creds.clientSecret)}`)}`,
    },
  };
}

/** The token from a token endpoint's answer, or what went wrong (status and OAuth error code only). */
export function parseTokenResponse(
  status: number,
  body: string | null,
): { ok: true; token: string } | { ok: false; problem: string } {
  if (status === 0) return { ok: false, problem: 'the token endpoint did not answer' };
  let parsed: { access_token?: unknown; token_type?: unknown; error?: unknown } = {};
  try {
    parsed = JSON.parse(body ?? '') as typeof parsed;
  } catch {
    // not JSON
  }
  if (status !== 200) {
    const code = typeof parsed.error === 'string' && /^[a-z_]{1,40}$/.test(parsed.error) ? ` (${parsed.error})` : '';
    return { ok: false, problem: `the token endpoint answered ${status}${code}` };
  }
  if (typeof parsed.access_token !== 'string' || !/^[A-Za-z0-9._~+/=-]+$/.test(parsed.access_token)) {
    return { ok: false, problem: 'the token endpoint answered 200 without an access_token' };
  }
  if (typeof parsed.token_type === 'string' && parsed.token_type.toLowerCase() !== 'bearer') {
    return { ok: false, problem: `the token endpoint issued a ${parsed.token_type} token, not a bearer token` };
  }
  return { ok: true, token: parsed.access_token };
}

/** What a 401 from the target means for the gate, in words (the service's reason code, never the token). */
export function describeRejection(credentials: GateCredentials, reason: string | undefined): string {
  const why = reason ? ` (reason: ${reason})` : '';
  return credentials.kind === 'none'
    ? `the target requires a bearer token${why}: set ${GATE_ENV.authToken}, or ${GATE_ENV.tokenUrl}, ${GATE_ENV.clientId} and ${GATE_ENV.clientSecret}`
    : `the target rejected the gate's token${why}: check the issuer and audience the service trusts (AUTH_ISSUER, AUTH_AUDIENCE)`;
}

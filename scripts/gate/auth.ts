/**
 * The wrapper's authentication preflight, before k6 starts: the same credential rules and token
 * request as the k6 script's `setup()` (loadtests/src/lib/auth.ts), so a gate that cannot
 * authenticate ends with its own exit code (GATE_EXIT_CODES.authFailed) instead of k6's generic 108,
 * and never with a pass. The token is used for one cheap authenticated call and then dropped; k6
 * fetches its own from the same credentials, which it reads from the environment, never from `-e`.
 */
import { AUTH_PROBE } from '../../lib/contract/gate';
import {
  clientCredentialsRequest,
  describeRejection,
  GateAuthError,
  type GateCredentials,
  parseTokenResponse,
  readGateCredentials,
} from '../../loadtests/src/lib/auth';
import type { GateEnv } from '../../loadtests/src/lib/config';

export type AuthPreflight =
  | { readonly ok: true; readonly summary: string }
  | { readonly ok: false; readonly problem: string };

const TIMEOUT_MS = 10_000;

function describe(credentials: GateCredentials): string {
  if (credentials.kind === 'none') return 'no credentials';
  if (credentials.kind === 'token') return 'a bearer token from GATE_AUTH_TOKEN';
  return `a client-credentials token from ${credentials.tokenUrl}`;
}

export async function authPreflight(target: string, env: GateEnv): Promise<AuthPreflight> {
  let credentials: GateCredentials;
  try {
    credentials = readGateCredentials(env);
  } catch (error) {
    return { ok: false, problem: error instanceof GateAuthError ? error.message : String(error) };
  }

  let authorization: string | undefined;
  if (credentials.kind === 'token') authorization = `Bearer ${credentials.token}`;
  if (credentials.kind === 'clientCredentials') {
    const request = clientCredentialsRequest(credentials);
    let status = 0;
    let body: string | null = null;
    try {
      const res = await fetch(request.url, {
        method: 'POST',
        headers: request.headers,
        body: request.body,
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      status = res.status;
      body = await res.text();
    } catch {
      status = 0;
    }
    const parsed = parseTokenResponse(status, body);
    if (!parsed.ok) return { ok: false, problem: `${parsed.problem} (${credentials.tokenUrl})` };
    authorization = `Bearer ${parsed.token}`;
  }

  // An unreachable or not-ready target is k6's to report (setup() fails fast, 108): only a clear
  // 401 is an authentication verdict.
  try {
    const res = await fetch(`${target.replace(/\/+$/, '')}${AUTH_PROBE.path}`, {
      method: AUTH_PROBE.method,
      body: AUTH_PROBE.body,
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    if (res.status === 401) {
      const body = (await res.json().catch(() => ({}))) as { error?: { reason?: unknown } };
      const reason = typeof body.error?.reason === 'string' ? body.error.reason : undefined;
      return { ok: false, problem: describeRejection(credentials, reason) };
    }
    await res.body?.cancel();
  } catch {
    // not reachable now: k6's setup() decides
  }
  return { ok: true, summary: describe(credentials) };
}

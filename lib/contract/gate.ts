/**
 * The k6 gate's inputs and outputs, defined once: the suites read these `__ENV` names, `npm run gate`
 * and the in-AWS hook Lambda set them, and everybody agrees on what an exit code means.
 */

import { ROUTES } from './http';

/** Environment variables the bundled k6 scripts read (k6 `__ENV`). */
export const GATE_ENV = {
  /** Base URL of the version under test, e.g. `http://127.0.0.1:8080` or the ALB test listener. */
  baseUrl: 'BASE_URL',
  /**
   * Base URL of the version serving now. When set, the gate sends every question to both, in the
   * same window, and compares the candidate with it; when absent it judges fixed limits only.
   */
  baselineUrl: 'BASELINE_URL',
  /** One of {@link GATE_PROFILES}; `smoke` when absent. */
  profile: 'PROFILE',
  /** When set, every answer must carry this `x-app-version`, or the gate fails. */
  expectedVersion: 'EXPECTED_VERSION',
  /** Distinguishes this run's unique (never cacheable) prompts; a random value when absent. */
  runId: 'RUN_ID',
  /** Directory where `handleSummary` writes the JSON and JUnit reports; `.` when absent. */
  outDir: 'OUT_DIR',
  /** Optional threshold overrides (numbers). A stricter value is always allowed; see the README. */
  maxP95Ms: 'MAX_P95_MS',
  maxAvgMs: 'MAX_AVG_MS',
  minSuccessRate: 'MIN_SUCCESS_RATE',
  minCacheHitRate: 'MIN_CACHE_HIT_RATE',
  minRequests: 'MIN_REQUESTS',
  /** Value of the `Service` dimension on the gate's EMF line; the service's `SERVICE_NAME` default when absent. */
  serviceName: 'SERVICE_NAME',
  /**
   * The same value as k6's `--execution-segment` when a run is split across runners (e.g. `0:1/2`). k6 does
   * not tell the init context its segment, so the no-data guards scale by this; `setup()` aborts when the
   * two disagree.
   */
  executionSegment: 'EXECUTION_SEGMENT',
  /**
   * The stage's LLM price, `<input>/<output>` USD per million tokens (e.g. `3/15`): the verdict prices
   * both targets' answers with it. Optional; without it the verdict shows tokens only.
   */
  llmPricePerMTok: 'LLM_PRICE_PER_MTOK',
  /**
   * How the gate proves who it is (the chat API requires a bearer token). Either a ready token in
   * `GATE_AUTH_TOKEN`, or the machine client's credentials: `setup()` then asks `GATE_TOKEN_URL` for a
   * token by OAuth2 client credentials. Read from the process environment, never passed with `-e`
   * (which k6 and the wrapper print), and never written to a log or a report.
   */
  authToken: 'GATE_AUTH_TOKEN',
  tokenUrl: 'GATE_TOKEN_URL',
  clientId: 'GATE_CLIENT_ID',
  clientSecret: 'GATE_CLIENT_SECRET',
  /** Optional OAuth2 scope of the token request, e.g. `chat-api/chat`. */
  tokenScope: 'GATE_TOKEN_SCOPE',
} as const;

/** An LLM price in US dollars per million tokens, as providers list it. */
export interface LlmPrice {
  readonly inputPerMTok: number;
  readonly outputPerMTok: number;
}

/** `LLM_PRICE_PER_MTOK`'s format: `<input>/<output>`, e.g. `0.15/0.6`. */
export const LLM_PRICE_RULE = `${GATE_ENV.llmPricePerMTok} must be <input>/<output> USD per million tokens, e.g. 0.15/0.6`;

/** The value of `LLM_PRICE_PER_MTOK` for a price (the stage config writes it, the gate reads it). */
export function formatLlmPrice(price: LlmPrice): string {
  return `${price.inputPerMTok}/${price.outputPerMTok}`;
}

/** Reads `LLM_PRICE_PER_MTOK`: null when absent, 'invalid' when malformed. */
export function parseLlmPrice(raw: string | undefined): LlmPrice | null | 'invalid' {
  const text = raw?.trim();
  if (!text) return null;
  const m = /^(\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?)$/.exec(text);
  if (!m) return 'invalid';
  return { inputPerMTok: Number(m[1]), outputPerMTok: Number(m[2]) };
}

/**
 * The OAuth2 scope the chat API's resource server defines and the gate's machine client is granted
 * (the stage's Cognito user pool, and the local issuer of `npm run local`).
 */
export const API_OAUTH_SCOPE = {
  resourceServer: 'chat-api',
  scope: 'chat',
  /** As it appears in a token request and in a token's `scope` claim. */
  full: 'chat-api/chat',
} as const;

/** The JSON keys of the Secrets Manager secret that holds the gate's machine client. */
export const GATE_CLIENT_SECRET_JSON_KEYS = {
  clientId: 'clientId',
  clientSecret: 'clientSecret',
} as const;

export const GATE_PROFILES = ['smoke', 'baseline', 'light', 'medium', 'heavy', 'stress', 'soak', 'spike'] as const;
export type GateProfile = (typeof GATE_PROFILES)[number];
export const DEFAULT_GATE_PROFILE: GateProfile = 'smoke';

export function isGateProfile(value: string): value is GateProfile {
  return (GATE_PROFILES as readonly string[]).includes(value);
}

/**
 * What `RUN_ID` may be: it ends up in prompts, request ids and `user_id` (the HTTP contract's id
 * pattern: `[A-Za-z0-9_-]`, at most 128), with room left for the suffixes the suites add.
 */
export const RUN_ID_PATTERN = /^[A-Za-z0-9_-]{1,48}$/;
/** {@link RUN_ID_PATTERN} in words, for the error that rejects a run id. */
export const RUN_ID_RULE = '1-48 characters of A-Z a-z 0-9 _ -';

/** File names `handleSummary` writes into `OUT_DIR`. */
export const GATE_REPORT_FILES = {
  json: 'k6-summary.json',
  junit: 'k6-junit.xml',
} as const;

/**
 * Exit codes. 0 and 99 are k6's own; the gate wrapper passes every k6 code through unchanged and
 * only adds codes for failures that happen before k6 runs.
 * See https://grafana.com/docs/k6/latest/results-output/end-of-test/ and k6's errext/exitcodes.
 */
/**
 * The gate's one cheap authenticated call before any load: an empty chat request. The bearer check
 * runs before the body is read, so a rejected token answers 401 and an accepted one 400 (no LLM
 * call, no cost). It uses a route the production listener forwards, so the check works against the
 * production URL as well as the test listener.
 */
export const AUTH_PROBE = { method: 'POST', path: ROUTES.chat, body: '{}' } as const;

export const GATE_EXIT_CODES = {
  pass: 0,
  /** k6: one or more thresholds failed. The only "the version is bad" verdict. */
  thresholdsFailed: 99,
  /** k6: the script called `exec.test.abort()` (e.g. `setup()` found the target not ready). */
  scriptAborted: 108,
  /** Wrapper: k6 was not found on `K6_BIN` or `PATH`. */
  k6NotFound: 127,
  /** Wrapper: bad command-line arguments. */
  usage: 64,
  /**
   * Wrapper: the gate could not authenticate before any load: credentials incomplete, the token
   * endpoint refused or failed, or the target answered 401 to the gate's token (or to no token).
   * (In AWS, `setup()` aborts for the same causes and k6 exits 108: a gate error either way.)
   */
  authFailed: 77,
  /** Wrapper: the gate could not be prepared (the k6 bundle failed to build) or the wrapper itself failed. */
  wrapperError: 70,
} as const;

/** How a gate outcome is classified by the wrapper and the hook Lambda. */
export type GateVerdict = 'pass' | 'fail' | 'error';

export function classifyGateExit(code: number): GateVerdict {
  if (code === GATE_EXIT_CODES.pass) return 'pass';
  if (code === GATE_EXIT_CODES.thresholdsFailed) return 'fail';
  return 'error';
}

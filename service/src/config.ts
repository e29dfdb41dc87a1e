/**
 * The service's configuration, parsed once at start from exactly the variables the contract lists
 * (`SERVICE_ENV` in lib/contract) and nothing else.
 *
 * A problem never includes the variable's value: values may be secrets, and the one start-up line
 * that reports problems goes to CloudWatch Logs. (RATE_LIMIT_EXEMPT_CIDRS names an entry once it has
 * parsed as a CIDR: then it is an address range, nothing else.)
 */
import {
  APP_VERSION_PATTERN,
  APP_VERSION_RULE,
  type DbSslMode,
  type EnvVarSpec,
  envRangeText,
  GATE_PRINCIPAL_PATTERN,
  GATE_PRINCIPAL_RULE,
  type IntegerEnvName,
  inEnvRange,
  type LogLevel,
  SERVICE_ENV,
  SERVICE_ENV_NAMES,
  type ServiceEnvName,
} from '../../lib/contract';
import { NO_EXEMPTIONS, parseRateLimitExemptions, type RateLimitExemptions } from './rate-limit-exemptions';

export interface DatabaseSettings {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly ssl: DbSslMode;
  readonly username: string;
  readonly password: string;
  /** Re-read `{username, password}` from this secret every ROTATION_POLL_SECONDS and after an authentication failure. */
  readonly secretArn?: string;
}

export interface CacheSettings {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  readonly authToken: string;
  /** Re-read `{token}` from this secret every ROTATION_POLL_SECONDS and after WRONGPASS / NOAUTH. */
  readonly authSecretArn?: string;
}

export interface LlmSettings {
  readonly baseUrl: string;
  readonly model: string;
  readonly apiKey: string;
  readonly timeoutMs: number;
  /** `max_tokens` on every completion. */
  readonly maxOutputTokens: number;
  /** Estimated input tokens per call; the oldest context turns are left out to fit. */
  readonly contextBudgetTokens: number;
}

/** Per principal (`sub`), per minute, shared by all tasks through the cache. */
export interface QuotaSettings {
  readonly requestsPerMinute: number;
  readonly llmTokensPerMinute: number;
  /** UTF-8 bytes of messages stored per principal and UTC day. */
  readonly storedBytesPerDay: number;
  /**
   * GATE_PRINCIPAL: the k6 gate's `sub`, which gets `gate`'s allowances instead of
   * `requestsPerMinute` and `storedBytesPerDay` (its token quota is everyone's). Absent: no gate principal.
   */
  readonly gate?: {
    readonly principal: string;
    readonly requestsPerMinute: number;
    readonly storedBytesPerDay: number;
  };
}

/**
 * Who may call the API. `on`: every API route needs a bearer JWT from `issuer` whose `aud` (or
 * Cognito `client_id`) is one of `audiences`, signed by a key from `jwksUrl`. `off`: local runs only.
 */
export type AuthSettings =
  | {
      readonly mode: 'on';
      readonly issuer: string;
      readonly audiences: readonly string[];
      readonly jwksUrl: string;
    }
  | { readonly mode: 'off' };

export interface ChatApiConfig {
  /** 0 asks the OS for a free port (tests); the bound port is logged. */
  readonly port: number;
  /** Listen address: 0.0.0.0 in the container, 127.0.0.1 locally. */
  readonly host: string;
  readonly appVersion: string;
  readonly serviceName: string;
  readonly db: DatabaseSettings;
  readonly cache: CacheSettings;
  readonly llm: LlmSettings;
  readonly cacheTtlSeconds: number;
  /** CACHE_SHARE_AFTER_PRINCIPALS. */
  readonly cacheShareAfterPrincipals: number;
  readonly promptVersion: string;
  /** Per-task, per-address flood guard, before authentication. */
  readonly rateLimitPerMinute: number;
  /** RATE_LIMIT_EXEMPT_CIDRS: addresses the flood guard does not count (the VPC's own); none when unset. */
  readonly rateLimitExempt: RateLimitExemptions;
  readonly quotas: QuotaSettings;
  /** Messages older than this many days are deleted by the retention runs. */
  readonly messageRetentionDays: number;
  readonly drainTimeoutMs: number;
  /** Idle client connections are closed after this long (Node's keepAliveTimeout; announced in `Keep-Alive`). */
  readonly keepAliveTimeoutMs: number;
  /** Proactive re-read of the rotated secrets (when their ARNs are set). */
  readonly rotationPollMs: number;
  readonly logLevel: LogLevel;
  readonly auth: AuthSettings;
}

export interface ConfigProblem {
  readonly name: ServiceEnvName;
  /** What is wrong, in words; never the value. */
  readonly problem: string;
}

export type ConfigResult =
  | { readonly ok: true; readonly config: ChatApiConfig }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

/** An environment as `process.env` presents it. */
export type EnvSource = Readonly<Record<string, string | undefined>>;

/** Exactly the contract's variables, each read once, in contract order. Empty strings count as unset. */
export type ContractEnv = { readonly [K in ServiceEnvName]: string | undefined };

/**
 * Reads the contract's names from `env`, one property access per name, and touches nothing else
 * (no enumeration, no other key). The config test proves this with a recording Proxy.
 */
export function readContractEnv(env: EnvSource): ContractEnv {
  const out: Partial<Record<ServiceEnvName, string | undefined>> = {};
  for (const name of SERVICE_ENV_NAMES) {
    const raw = env[name];
    out[name] = raw === undefined || raw === '' ? undefined : raw;
  }
  return out as ContractEnv;
}

type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };
type Validator<T> = (raw: string) => Parsed<T>;

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = <T>(problem: string): Parsed<T> => ({ ok: false, problem });

/** Decimal digits inside the contract's range for `name` (the synth validation uses the same range). */
const integer =
  (name: IntegerEnvName): Validator<number> =>
  (raw) => {
    const n = Number(raw);
    return /^\d+$/.test(raw) && inEnvRange(name, n) ? ok(n) : bad(`must be an integer in ${envRangeText(name)}`);
  };

const oneOf =
  <T extends string>(allowed: readonly T[]): Validator<T> =>
  (raw) =>
    (allowed as readonly string[]).includes(raw) ? ok(raw as T) : bad(`must be one of ${allowed.join(', ')}`);

const pattern =
  (re: RegExp, what: string): Validator<string> =>
  (raw) =>
    re.test(raw) ? ok(raw) : bad(`must be ${what}`);

const anyNonEmpty: Validator<string> = (raw) => ok(raw);

const bool: Validator<boolean> = (raw) =>
  raw === 'true' ? ok(true) : raw === 'false' ? ok(false) : bad('must be true or false');

/**
 * Loopback hosts: the only ones the LLM may be reached on without TLS (the fake LLM in tests and
 * local runs). The rule needs no flag, so no deployed setting can switch it off: a task never has a
 * model on its own loopback interface.
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** The LLM key travels in every request's Authorization header: https, except to a loopback host. */
const llmUrl: Validator<string> = (raw) => {
  try {
    const u = new URL(raw);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return bad('must be an https URL');
    if (u.username || u.password) return bad('must not embed credentials (use LLM_API_KEY)');
    if (u.protocol === 'http:' && !isLoopbackHost(u.hostname)) {
      return bad('must be an https URL (plain http only to a loopback host: 127.0.0.0/8, ::1, localhost)');
    }
    return ok(raw.replace(/\/+$/, ''));
  } catch {
    return bad('must be an https URL');
  }
};

/**
 * The token issuer and its key set are fetched and trusted over TLS only. The issuer is kept exactly
 * as given: it is compared byte for byte with the `iss` claim.
 */
const httpsUrl: Validator<string> = (raw) => {
  try {
    const u = new URL(raw);
    if (u.protocol !== 'https:') return bad('must be an https URL');
    if (u.username || u.password || u.search || u.hash)
      return bad('must be an https URL without credentials, query or fragment');
    return ok(raw);
  } catch {
    return bad('must be an https URL');
  }
};

const AUDIENCE = /^[\x21-\x2b\x2d-\x7e]{1,256}$/;
const audienceList: Validator<string[]> = (raw) => {
  const items = raw.split(',').map((a) => a.trim());
  return items.length <= 20 && items.every((a) => AUDIENCE.test(a))
    ? ok(items)
    : bad('must be 1-20 comma-separated audiences or client ids (visible ASCII, no spaces)');
};

const HOST = /^[A-Za-z0-9.:[\]_-]{1,253}$/;
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/;

/**
 * The validator of every `text` variable: its format. The other types come from the contract
 * ({@link contractValidator}). Typed as a total record over the text names: a name added to the
 * contract as text without a validator here is a compile error, so the parser never silently
 * ignores a contract variable.
 */
const TEXT_VALIDATORS = {
  HOST: pattern(/^[0-9A-Fa-f.:]{2,45}$|^localhost$/, 'an IP address to listen on (0.0.0.0, 127.0.0.1, ::)'),
  APP_VERSION: pattern(APP_VERSION_PATTERN, APP_VERSION_RULE),
  SERVICE_NAME: pattern(/^[A-Za-z0-9._-]{1,255}$/, '1-255 characters of [A-Za-z0-9._-]'),
  DB_HOST: pattern(HOST, 'a host name or IP address'),
  DB_NAME: pattern(/^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/, 'a Postgres database name'),
  DB_USERNAME: pattern(/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/, 'a Postgres role name'),
  DB_PASSWORD: anyNonEmpty,
  DB_SECRET_ARN: pattern(SECRET_ARN, 'a Secrets Manager secret ARN'),
  REDIS_HOST: pattern(HOST, 'a host name or IP address'),
  REDIS_AUTH_TOKEN: anyNonEmpty,
  REDIS_AUTH_SECRET_ARN: pattern(SECRET_ARN, 'a Secrets Manager secret ARN'),
  LLM_BASE_URL: llmUrl,
  LLM_MODEL: pattern(/^\S{1,200}$/, '1-200 characters without spaces'),
  LLM_API_KEY: anyNonEmpty,
  PROMPT_VERSION: pattern(/^[A-Za-z0-9._-]{1,64}$/, '1-64 characters of [A-Za-z0-9._-]'),
  AUTH_ISSUER: httpsUrl,
  AUTH_AUDIENCE: audienceList,
  AUTH_JWKS_URL: httpsUrl,
  GATE_PRINCIPAL: pattern(GATE_PRINCIPAL_PATTERN, GATE_PRINCIPAL_RULE),
  RATE_LIMIT_EXEMPT_CIDRS: parseRateLimitExemptions,
} satisfies { readonly [K in TextEnvName]: Validator<unknown> };

/** Names whose contract entry has no `type` other than text: their format lives in {@link TEXT_VALIDATORS}. */
type TextEnvName = {
  [K in ServiceEnvName]: (typeof SERVICE_ENV)[K] extends { readonly type: 'integer' | 'enum' | 'boolean' } ? never : K;
}[ServiceEnvName];

/** The validator of a typed variable, from its contract entry: range, allowed values or true/false. */
function contractValidator(name: ServiceEnvName): Validator<unknown> {
  const spec = SERVICE_ENV[name] as EnvVarSpec;
  switch (spec.type) {
    case 'integer':
      return integer(name as IntegerEnvName);
    case 'enum':
      return oneOf(spec.values);
    case 'boolean':
      return bool;
    default:
      return TEXT_VALIDATORS[name as TextEnvName];
  }
}

type Values = {
  -readonly [K in ServiceEnvName]: (typeof SERVICE_ENV)[K] extends { readonly type: 'integer' }
    ? number
    : (typeof SERVICE_ENV)[K] extends { readonly type: 'boolean' }
      ? boolean
      : (typeof SERVICE_ENV)[K] extends { readonly type: 'enum'; readonly values: readonly (infer V)[] }
        ? V
        : K extends TextEnvName
          ? ReturnType<(typeof TEXT_VALIDATORS)[K]> extends Parsed<infer T>
            ? T
            : never
          : never;
};

export function parseServiceConfig(env: EnvSource): ConfigResult {
  const raw = readContractEnv(env);
  const problems: ConfigProblem[] = [];
  const values: Partial<Record<ServiceEnvName, unknown>> = {};

  for (const name of SERVICE_ENV_NAMES) {
    const spec: { readonly required: boolean; readonly default?: string } = SERVICE_ENV[name];
    const given = raw[name] ?? spec.default;
    if (given === undefined) {
      if (spec.required) problems.push({ name, problem: 'missing' });
      continue;
    }
    const parsed = contractValidator(name)(given);
    if (parsed.ok) values[name] = parsed.value;
    else problems.push({ name, problem: parsed.problem });
  }
  const v = values as Values;
  // Authentication is on unless switched off by name: without an issuer the service would answer
  // everybody, so a missing one stops it like any other missing variable.
  if (v.AUTH_MODE === 'on') {
    const hint = 'missing (or set AUTH_MODE=off, for local runs only)';
    if (raw.AUTH_ISSUER === undefined) problems.push({ name: 'AUTH_ISSUER', problem: hint });
    if (raw.AUTH_AUDIENCE === undefined) problems.push({ name: 'AUTH_AUDIENCE', problem: hint });
  }
  if (problems.length > 0) return { ok: false, problems };

  return {
    ok: true,
    config: {
      port: v.PORT,
      host: v.HOST,
      appVersion: v.APP_VERSION,
      serviceName: v.SERVICE_NAME,
      db: {
        host: v.DB_HOST,
        port: v.DB_PORT,
        database: v.DB_NAME,
        ssl: v.DB_SSL,
        username: v.DB_USERNAME,
        password: v.DB_PASSWORD,
        ...(v.DB_SECRET_ARN === undefined ? {} : { secretArn: v.DB_SECRET_ARN }),
      },
      cache: {
        host: v.REDIS_HOST,
        port: v.REDIS_PORT,
        tls: v.REDIS_TLS,
        authToken: v.REDIS_AUTH_TOKEN,
        ...(v.REDIS_AUTH_SECRET_ARN === undefined ? {} : { authSecretArn: v.REDIS_AUTH_SECRET_ARN }),
      },
      llm: {
        baseUrl: v.LLM_BASE_URL,
        model: v.LLM_MODEL,
        apiKey: v.LLM_API_KEY,
        timeoutMs: v.LLM_TIMEOUT_MS,
        maxOutputTokens: v.LLM_MAX_OUTPUT_TOKENS,
        contextBudgetTokens: v.LLM_CONTEXT_BUDGET_TOKENS,
      },
      cacheTtlSeconds: v.CACHE_TTL_SECONDS,
      cacheShareAfterPrincipals: v.CACHE_SHARE_AFTER_PRINCIPALS,
      promptVersion: v.PROMPT_VERSION,
      rateLimitPerMinute: v.RATE_LIMIT_PER_MINUTE,
      rateLimitExempt: v.RATE_LIMIT_EXEMPT_CIDRS ?? NO_EXEMPTIONS,
      quotas: {
        requestsPerMinute: v.QUOTA_REQUESTS_PER_MINUTE,
        llmTokensPerMinute: v.QUOTA_LLM_TOKENS_PER_MINUTE,
        storedBytesPerDay: v.QUOTA_STORED_BYTES_PER_DAY,
        ...(v.GATE_PRINCIPAL === undefined
          ? {}
          : {
              gate: {
                principal: v.GATE_PRINCIPAL,
                requestsPerMinute: v.QUOTA_GATE_REQUESTS_PER_MINUTE,
                storedBytesPerDay: v.QUOTA_GATE_STORED_BYTES_PER_DAY,
              },
            }),
      },
      messageRetentionDays: v.MESSAGE_RETENTION_DAYS,
      drainTimeoutMs: v.DRAIN_TIMEOUT_MS,
      keepAliveTimeoutMs: v.KEEP_ALIVE_TIMEOUT_SECONDS * 1000,
      rotationPollMs: v.ROTATION_POLL_SECONDS * 1000,
      logLevel: v.LOG_LEVEL,
      auth:
        v.AUTH_MODE === 'off'
          ? { mode: 'off' }
          : {
              mode: 'on',
              issuer: v.AUTH_ISSUER,
              audiences: v.AUTH_AUDIENCE,
              jwksUrl: v.AUTH_JWKS_URL ?? defaultJwksUrl(v.AUTH_ISSUER),
            },
    },
  };
}

/** Where an OIDC issuer (Cognito included) publishes its signing keys. */
export function defaultJwksUrl(issuer: string): string {
  return `${issuer.replace(/\/+$/, '')}/.well-known/jwks.json`;
}

/** The secret values of a parsed config, so the logger can refuse to print them. */
export function secretValues(config: ChatApiConfig): string[] {
  return [config.db.password, config.cache.authToken, config.llm.apiKey];
}

/** The single start-up line's text: every bad variable with its problem, no values. */
export function describeProblems(problems: readonly ConfigProblem[]): string {
  return `invalid configuration: ${problems.map((p) => `${p.name} ${p.problem}`).join('; ')}`;
}

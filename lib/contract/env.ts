/**
 * The service's environment contract: every variable the chat API container reads, defined once.
 *
 * Imported by the CDK task definition (which generates `Environment` and `Secrets` from it), by the
 * service's config parser (which reads exactly these names and nothing else), and by the local
 * runner. A test proves the synthesized task definition and the service agree name for name.
 *
 * This module is plain TypeScript with no imports, so the service and the k6 bundles can include it.
 */

/** `plain` values go into the task definition's `Environment`; `secret` values only into `Secrets`. */
export type EnvKind = 'plain' | 'secret';

/** The unit of an integer variable, shown next to its range in every message and in the docs. */
export type EnvUnit =
  | 'port'
  | 'ms'
  | 's'
  | 'days'
  | 'tokens'
  | 'requests/min'
  | 'tokens/min'
  | 'bytes/day'
  | 'principals';

/**
 * The values an integer variable may take, inclusive. The service refuses anything else at start,
 * and the synth validation refuses a stage setting outside it (lib/config/env-settings.ts), so a
 * stage never synthesizes with a value its tasks would crash-loop on. `why` says why these bounds.
 */
export interface EnvRange {
  readonly min: number;
  readonly max: number;
  readonly why: string;
}

interface EnvVarBase {
  readonly kind: EnvKind;
  /** Whether the service refuses to start without it. */
  readonly required: boolean;
  /** The value the service uses when the variable is absent (plain, optional variables only). */
  readonly default?: string;
  readonly description: string;
  /**
   * Set only by hand for local runs: the CDK task definition never carries it (a synth
   * test proves it for every stage), so it is not one of {@link PLAIN_ENV_NAMES}.
   */
  readonly localOnly?: boolean;
  /**
   * Set by the CDK app only when the stage has such a value (said here, in words); otherwise left
   * out of the task definition, and the service runs without it. Still one of {@link PLAIN_ENV_NAMES}.
   */
  readonly deployedWhen?: string;
}

/**
 * What a value must look like. `integer`: decimal digits within `range`, in `unit` (the service's
 * parser and the synth validation both derive from these fields). `enum`: one of `values`.
 * `boolean`: `true` or `false`. `text` (also when `type` is absent): a string whose format the
 * service's parser checks (service/src/config.ts), described in `description`.
 */
export type EnvValueSpec =
  | { readonly type: 'integer'; readonly unit: EnvUnit; readonly range: EnvRange }
  | { readonly type: 'enum'; readonly values: readonly string[] }
  | { readonly type: 'boolean' }
  | { readonly type?: 'text' };

export type EnvVarSpec = EnvVarBase & EnvValueSpec;

/** The allowed values of the enumerated variables. */
export const DB_SSL_MODES = ['verify-full', 'require', 'disable'] as const;
export type DbSslMode = (typeof DB_SSL_MODES)[number];
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const AUTH_MODES = ['on', 'off'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

/** Any TCP port a client connects to. */
const TCP_PORT: EnvRange = { min: 1, max: 65_535, why: 'any TCP port (RDS and ElastiCache narrow it at synth)' };

/**
 * RATE_LIMIT_EXEMPT_CIDRS' rule, which the service's parser enforces at start
 * (service/src/rate-limit-exemptions.ts). The exemption switches the per-address flood guard off for
 * the addresses it covers, so a typo must never cover internet clients:
 * - `maxEntries`: a VPC has at most 5 IPv4 CIDR blocks under AWS's default quota; the CDK app sets one.
 * - `privateRanges`: addresses no internet client can have as seen by the ALB (RFC 1918, RFC 6598
 *   shared space, which AWS allows for VPCs, loopback, IPv6 unique-local and loopback). An entry
 *   inside one of them may be as wide as it.
 * - `widestPublicPrefix`: any other entry is at most the widest block a VPC can have (IPv4 /16;
 *   IPv6 /44 through IPAM), which refuses 0.0.0.0/0, ::/0 and every range wide enough to matter.
 * - `ipv4MappedRange`: `node:net`'s BlockList matches an IPv4 address against IPv6 rules as
 *   `::ffff:a.b.c.d`, so an IPv6 entry covering this range would exempt IPv4 clients; refused.
 */
export const RATE_LIMIT_EXEMPT_RULE = {
  maxEntries: 5,
  privateRanges: [
    '10.0.0.0/8',
    '172.16.0.0/12',
    '192.168.0.0/16',
    '100.64.0.0/10',
    '127.0.0.0/8',
    'fc00::/7',
    '::1/128',
  ],
  widestPublicPrefix: { ipv4: 16, ipv6: 44 },
  ipv4MappedRange: '::ffff:0:0/96',
} as const;

export const SERVICE_ENV = {
  PORT: {
    kind: 'plain',
    required: false,
    type: 'integer',
    unit: 'port',
    range: { min: 0, max: 65_535, why: '0 asks the OS for a free port (tests)' },
    default: '8080',
    description: 'Listen port.',
  },
  HOST: {
    kind: 'plain',
    required: false,
    default: '0.0.0.0',
    description: 'Listen address: all interfaces in the container (the default); 127.0.0.1 for local runs and tests.',
  },
  APP_VERSION: {
    kind: 'plain',
    required: true,
    description: 'Version string, returned on every response as x-app-version.',
  },
  SERVICE_NAME: {
    kind: 'plain',
    required: false,
    default: 'chat-api',
    description: 'Value of the `Service` dimension on every EMF metric (the alarms use the same value).',
  },
  DB_HOST: { kind: 'plain', required: true, description: 'Postgres host.' },
  DB_PORT: {
    kind: 'plain',
    required: false,
    type: 'integer',
    unit: 'port',
    range: TCP_PORT,
    default: '5432',
    description: 'Postgres port.',
  },
  DB_NAME: { kind: 'plain', required: true, description: 'Postgres database name.' },
  DB_SSL: {
    kind: 'plain',
    required: false,
    type: 'enum',
    values: DB_SSL_MODES,
    default: 'verify-full',
    description: 'verify-full (RDS CA bundle in the image), require, or disable (local only).',
  },
  DB_USERNAME: { kind: 'secret', required: true, description: "App user's name, from its Secrets Manager secret." },
  DB_PASSWORD: { kind: 'secret', required: true, description: "App user's password, from its Secrets Manager secret." },
  DB_SECRET_ARN: {
    kind: 'plain',
    required: false,
    description:
      'When set, credentials are re-read from Secrets Manager every ROTATION_POLL_SECONDS and after an authentication failure.',
  },
  REDIS_HOST: { kind: 'plain', required: true, description: 'Cache (Valkey/Redis) primary endpoint host.' },
  REDIS_PORT: {
    kind: 'plain',
    required: false,
    type: 'integer',
    unit: 'port',
    range: TCP_PORT,
    default: '6379',
    description: 'Cache port.',
  },
  REDIS_TLS: {
    kind: 'plain',
    required: false,
    type: 'boolean',
    default: 'true',
    description: 'true (TLS with hostname verification) or false (local only).',
  },
  REDIS_AUTH_TOKEN: { kind: 'secret', required: true, description: 'Cache AUTH token.' },
  REDIS_AUTH_SECRET_ARN: {
    kind: 'plain',
    required: false,
    description:
      'When set, the AUTH token is re-read from Secrets Manager every ROTATION_POLL_SECONDS and after WRONGPASS/NOAUTH.',
  },
  LLM_BASE_URL: {
    kind: 'plain',
    required: true,
    description: 'OpenAI-compatible base URL (…/v1); https, except on a loopback host (127.0.0.0/8, ::1, localhost).',
  },
  LLM_MODEL: { kind: 'plain', required: true, description: 'Model name sent to the LLM.' },
  LLM_API_KEY: { kind: 'secret', required: true, description: 'LLM provider key.' },
  LLM_TIMEOUT_MS: {
    kind: 'plain',
    required: false,
    type: 'integer',
    unit: 'ms',
    range: {
      min: 1_000,
      max: 600_000,
      why: 'no model answers a chat turn in under a second; ten minutes is past any ALB idle timeout worth having',
    },
    default: '30000',
    description: 'Per-call LLM timeout.',
  },
  CACHE_TTL_SECONDS: {
    kind: 'plain',
    required: false,
    type: 'integer',
    unit: 's',
    range: {
      min: 60,
      max: 30 * 24 * 3600,
      why: 'below a minute the cache holds almost nothing; past 30 days answers outlive the prompts and models they were made with',
    },
    default: '1800',
    description: 'Response cache TTL.',
  },
  CACHE_SHARE_AFTER_PRINCIPALS: {
    kind: 'plain',
    required: false,
    type: 'integer',
    unit: 'principals',
    range: {
      min: 1,
      max: 1_000,
      why: '1 shares every answer at once (a public FAQ: anyone can confirm what anyone asked); past 1,000 no answer would ever be shared',
    },
    default: '3',
    description:
      'An answer cached for one principal is served to another only once this many distinct principals asked the same key (1: shared at once, a public FAQ; docs/security.md).',
  },
  PROMPT_VERSION: {
    kind: 'plain',
    required: false,
    default: 'v1',
    description: 'Part of every cache key, so a prompt change never serves stale answers.',
  },
  RATE_LIMIT_PER_MINUTE: {
    kind: 'plain',
    required: false,
    type: 'integer',
    unit: 'requests/min',
    range: { min: 1, max: 1_000_000, why: 'at least one request; a million a minute is the load tests\' "no limit"' },
    default: '120',
    description:
      'Per-task flood guard: requests per minute allowed per client address (the one the ALB appended to X-Forwarded-For), checked in memory before authentication.',
  },
  RATE_LIMIT_EXEMPT_CIDRS: {
    kind: 'plain',
    required: false,
    description: `Client addresses the RATE_LIMIT_PER_MINUTE flood guard does not count (that guard only: every chat route still needs a valid token, and the caller's principal quotas apply): comma-separated IPv4/IPv6 CIDRs (address/prefix). The CDK app sets the VPC's CIDR, so the k6 gate runner, which sends each target hundreds of chat requests a minute from one private address, is not answered 429 rate_limited. Safe because the address checked is the one the ALB appended to X-Forwarded-For, which an internet client cannot choose. At most ${RATE_LIMIT_EXEMPT_RULE.maxEntries} entries; an entry outside the private ranges (${RATE_LIMIT_EXEMPT_RULE.privateRanges.join(', ')}) may be at most a /${RATE_LIMIT_EXEMPT_RULE.widestPublicPrefix.ipv4} (IPv4) or /${RATE_LIMIT_EXEMPT_RULE.widestPublicPrefix.ipv6} (IPv6), the widest block a VPC can have, so 0.0.0.0/0, ::/0 or a typo cannot exempt the internet; IPv6 entries must not cover IPv4-mapped addresses (${RATE_LIMIT_EXEMPT_RULE.ipv4MappedRange}). Unset: nobody is exempt.`,
  },
  QUOTA_REQUESTS_PER_MINUTE: {
    kind: 'plain',
    required: false,
    type: 'integer',
    unit: 'requests/min',
    range: { min: 1, max: 1_000_000, why: 'at least one request; a million a minute is the load tests\' "no limit"' },
    default: '240',
    description:
      "API requests per minute allowed per principal (the token's `sub`), counted in the cache so the limit holds across all tasks; per task while the cache is down.",
  },
  GATE_PRINCIPAL: {
    kind: 'plain',
    required: false,
    deployedWhen:
      "always with the stage's Cognito user pool (the gate machine client's id); with an external issuer only when auth.gateClient.principal is set",
    description:
      "The `sub` of the k6 gate's access tokens: this principal gets QUOTA_GATE_REQUESTS_PER_MINUTE and QUOTA_GATE_STORED_BYTES_PER_DAY instead of the ordinary quotas (its token quota is everyone's). 1–256 characters, no whitespace or control characters. Not a secret: it is in every token the gate presents. Unset: no principal is treated as the gate.",
  },
  QUOTA_GATE_REQUESTS_PER_MINUTE: {
    kind: 'plain',
    required: false,
    type: 'integer',
    unit: 'requests/min',
    range: {
      min: 1,
      max: 1_000_000,
      why: 'at least one request; a million a minute is the load tests\' "no limit" (the relation gate-within-request-quota sets the floor a stage needs)',
    },
    default: '2000',
    description:
      'QUOTA_REQUESTS_PER_MINUTE for GATE_PRINCIPAL alone: a relative gate run sends both targets about 1,000 chat requests in a minute as that one principal. Shared like QUOTA_REQUESTS_PER_MINUTE.',
  },
  QUOTA_LLM_TOKENS_PER_MINUTE: {
    kind: 'plain',
    required: false,
    type: 'integer',
    unit: 'tokens/min',
    range: { min: 1, max: 1_000_000_000, why: 'at least one token; a billion a minute is the load tests\' "no limit"' },
    default: '50000',
    description:
      "LLM tokens (in + out) per minute allowed per principal, reserved before each call and settled from the provider's `usage`; shared like QUOTA_REQUESTS_PER_MINUTE.",
  },
  QUOTA_STORED_BYTES_PER_DAY: {
    kind: 'plain',
    required: false,
    type: 'integer',
    unit: 'bytes/day',
    range: {
      min: 100_000,
      max: 1_000_000_000_000,
      why: 'below 100 kB a few long answers would stop a user for the day; 1 TB is past any budget worth a cap (load tests set it)',
    },
    default: '10000000',
    description:
      'UTF-8 bytes of messages (question and answer) a principal may store per UTC day; past it, 429 storage_quota_exceeded until midnight UTC. Shared like QUOTA_REQUESTS_PER_MINUTE.',
  },
  QUOTA_GATE_STORED_BYTES_PER_DAY: {
    kind: 'plain',
    required: false,
    type: 'integer',
    unit: 'bytes/day',
    range: {
      min: 100_000,
      max: 1_000_000_000_000,
      why: "QUOTA_STORED_BYTES_PER_DAY's bounds: below 100 kB not even one gate run fits; 1 TB is past any budget worth a cap",
    },
    default: '500000000',
    description:
      'QUOTA_STORED_BYTES_PER_DAY for GATE_PRINCIPAL alone: a relative gate run stores about 1,000 turns of 1–2 KB; 500 MB is some 250 runs a day. Shared like QUOTA_REQUESTS_PER_MINUTE.',
  },
  MESSAGE_RETENTION_DAYS: {
    kind: 'plain',
    required: false,
    type: 'integer',
    unit: 'days',
    range: { min: 1, max: 3_650, why: 'at least a day to look into a problem; at most ten years' },
    default: '30',
    description:
      'Messages older than this many days are deleted (every 15 minutes ±20%, in bounded batches, by every task), then the sessions left without a turn in that time.',
  },
  LLM_MAX_OUTPUT_TOKENS: {
    kind: 'plain',
    required: false,
    type: 'integer',
    unit: 'tokens',
    range: { min: 1, max: 1_000_000, why: 'at least one token of answer; no model writes a million in one call' },
    default: '1024',
    description: 'Sent as `max_tokens` on every completion: the most output tokens one LLM call can be billed for.',
  },
  LLM_CONTEXT_BUDGET_TOKENS: {
    kind: 'plain',
    required: false,
    type: 'integer',
    unit: 'tokens',
    range: {
      min: 100,
      max: 2_000_000,
      why: 'the system prompt alone needs tens of tokens; no model reads more than two million',
    },
    default: '6000',
    description:
      'Estimated input tokens per LLM call (system prompt, earlier turns, the message): the oldest turns are left out until the estimate fits.',
  },
  ROTATION_POLL_SECONDS: {
    kind: 'plain',
    required: false,
    type: 'integer',
    unit: 's',
    range: {
      min: 1,
      max: 3_600,
      why: 'at least hourly, far inside any rotation period; 1 s lets the fault suite prove a proactive rotation quickly (each poll is one GetSecretValue per secret)',
    },
    default: '300',
    description:
      'How often DB_SECRET_ARN and REDIS_AUTH_SECRET_ARN are re-read (±20%), so a rotation is picked up before the old credentials are retired.',
  },
  DRAIN_TIMEOUT_MS: {
    kind: 'plain',
    required: false,
    type: 'integer',
    unit: 'ms',
    range: {
      min: 1_000,
      max: 119_000,
      why: "a second for in-flight requests at least; it must end a second before Fargate's longest stop timeout (120 s)",
    },
    default: '20000',
    description: 'SIGTERM drain budget; must stay below the ECS stop timeout.',
  },
  KEEP_ALIVE_TIMEOUT_SECONDS: {
    kind: 'plain',
    required: false,
    type: 'integer',
    unit: 's',
    range: {
      min: 2,
      max: 4_001,
      why: "one above the ALB's idle timeout range (1–4000 s), which it must exceed",
    },
    default: '190',
    description:
      'How long an idle client connection stays open, announced as `Keep-Alive: timeout=N`. Longer than the ALB idle timeout, so the ALB, not the service, closes idle connections (else sporadic 502s).',
  },
  LOG_LEVEL: {
    kind: 'plain',
    required: false,
    type: 'enum',
    values: LOG_LEVELS,
    default: 'info',
    description: 'debug, info, warn or error.',
  },
  AUTH_ISSUER: {
    kind: 'plain',
    required: false,
    description:
      'Who may call the API: the token issuer, exactly as in the `iss` claim (https). Required unless AUTH_MODE=off.',
  },
  AUTH_AUDIENCE: {
    kind: 'plain',
    required: false,
    description:
      'Comma-separated accepted audiences: a token with `aud` passes when one of its `aud` values is one of them (its `client_id` is then ignored); a token without `aud` (Cognito access token) when its `client_id` is. Required unless AUTH_MODE=off.',
  },
  AUTH_JWKS_URL: {
    kind: 'plain',
    required: false,
    description: "The issuer's signing keys (https); `<AUTH_ISSUER>/.well-known/jwks.json` when unset.",
  },
  AUTH_MODE: {
    kind: 'plain',
    required: false,
    type: 'enum',
    values: AUTH_MODES,
    default: 'on',
    localOnly: true,
    description:
      '`on` (bearer tokens verified on every API route) or `off` (local runs only: no identity check, one warning at start). Never set by the CDK app.',
  },
} as const satisfies Record<string, EnvVarSpec>;

export type ServiceEnvName = keyof typeof SERVICE_ENV;

/** All names, in declaration order. */
export const SERVICE_ENV_NAMES = Object.keys(SERVICE_ENV) as ServiceEnvName[];

/** The names whose values are integers with a range and a unit. */
export type IntegerEnvName = {
  [K in ServiceEnvName]: (typeof SERVICE_ENV)[K] extends { readonly type: 'integer' } ? K : never;
}[ServiceEnvName];
export const INTEGER_ENV_NAMES = SERVICE_ENV_NAMES.filter(
  (n): n is IntegerEnvName => (SERVICE_ENV[n] as EnvVarSpec).type === 'integer',
);

/** The spec of an integer variable, with its range and unit. */
export function integerEnvSpec(name: IntegerEnvName): EnvVarBase & Extract<EnvValueSpec, { type: 'integer' }> {
  return SERVICE_ENV[name];
}

/** The default of an integer variable as a number (undefined for one without a default). */
export function integerEnvDefault(name: IntegerEnvName): number {
  const value = (SERVICE_ENV[name] as EnvVarSpec).default;
  if (value === undefined) throw new Error(`${name} has no default`);
  return Number(value);
}

/** True when `value` is a whole number inside the variable's range: exactly what the service accepts. */
export function inEnvRange(name: IntegerEnvName, value: number): boolean {
  const { range } = integerEnvSpec(name);
  return Number.isInteger(value) && value >= range.min && value <= range.max;
}

/** `1000–600000 ms`: the range as messages and docs print it. */
export function envRangeText(name: IntegerEnvName): string {
  const { range, unit } = integerEnvSpec(name);
  return `${range.min}–${range.max} ${unit}`;
}

/** Names the deployed task definition never sets (see {@link EnvVarSpec.localOnly}). */
export type LocalOnlyEnvName = {
  [K in ServiceEnvName]: (typeof SERVICE_ENV)[K] extends { readonly localOnly: true } ? K : never;
}[ServiceEnvName];
export const LOCAL_ONLY_ENV_NAMES = SERVICE_ENV_NAMES.filter(
  (n): n is LocalOnlyEnvName => (SERVICE_ENV[n] as EnvVarSpec).localOnly === true,
);

/** Names the task definition carries only in some stages (see {@link EnvVarSpec.deployedWhen}). */
export type ConditionalEnvName = {
  [K in ServiceEnvName]: (typeof SERVICE_ENV)[K] extends { readonly deployedWhen: string } ? K : never;
}[ServiceEnvName];
export const CONDITIONAL_ENV_NAMES = SERVICE_ENV_NAMES.filter(
  (n): n is ConditionalEnvName => (SERVICE_ENV[n] as EnvVarSpec).deployedWhen !== undefined,
);

/**
 * GATE_PRINCIPAL's shape, checked by the service at start and by synth on `auth.gateClient.principal`:
 * a token's `sub` as issuers write it (a UUID, a client id, `<client_id>@clients`), never blank,
 * never a value that could be two things in a log line. No `u` flag or `\p{…}` escape: the k6 bundles
 * include this module, and the length is counted in UTF-16 units.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters (Unicode Cc) are what it excludes.
export const GATE_PRINCIPAL_PATTERN = /^[^\s\u0000-\u001f\u007f-\u009f]{1,256}$/;
export const GATE_PRINCIPAL_RULE = '1-256 characters without whitespace or control characters';

/** The names whose kind is `secret`, as a type. */
export type SecretEnvName = {
  [K in ServiceEnvName]: (typeof SERVICE_ENV)[K]['kind'] extends 'secret' ? K : never;
}[ServiceEnvName];
export type PlainEnvName = Exclude<ServiceEnvName, SecretEnvName | LocalOnlyEnvName>;

/** Names delivered through ECS `secrets` (Secrets Manager), never through `environment`. */
export const SECRET_ENV_NAMES = SERVICE_ENV_NAMES.filter((n): n is SecretEnvName => SERVICE_ENV[n].kind === 'secret');

/** Names delivered as plain task-definition environment values. */
export const PLAIN_ENV_NAMES = SERVICE_ENV_NAMES.filter(
  (n): n is PlainEnvName => SERVICE_ENV[n].kind === 'plain' && (SERVICE_ENV[n] as EnvVarSpec).localOnly !== true,
);

/** The JSON keys of the Secrets Manager secrets that feed the secret variables. */
export const SECRET_JSON_KEYS = {
  /** RDS-style database secret (`username`, `password`, `host`, ...), as generated by aws-cdk-lib. */
  DB_USERNAME: 'username',
  DB_PASSWORD: 'password',
  /** The cache AUTH token secret: `{"token": "..."}` (letters and digits only, 64 characters). */
  REDIS_AUTH_TOKEN: 'token',
  /** The LLM key secret: `{"apiKey": "..."}`. */
  LLM_API_KEY: 'apiKey',
} as const satisfies Record<SecretEnvName, string>;

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

export interface EnvVarSpec {
  readonly kind: EnvKind;
  /** Whether the service refuses to start without it. */
  readonly required: boolean;
  /** The value the service uses when the variable is absent (plain, optional variables only). */
  readonly default?: string;
  readonly description: string;
  /**
   * Set only by hand for local runs and benchmarks: the CDK task definition never carries it (a synth
   * test proves it for every stage), so it is not one of {@link PLAIN_ENV_NAMES}.
   */
  readonly localOnly?: boolean;
}

export const SERVICE_ENV = {
  PORT: { kind: 'plain', required: false, default: '8080', description: 'Listen port.' },
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
  DB_PORT: { kind: 'plain', required: false, default: '5432', description: 'Postgres port.' },
  DB_NAME: { kind: 'plain', required: true, description: 'Postgres database name.' },
  DB_SSL: {
    kind: 'plain',
    required: false,
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
  REDIS_PORT: { kind: 'plain', required: false, default: '6379', description: 'Cache port.' },
  REDIS_TLS: {
    kind: 'plain',
    required: false,
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
  LLM_TIMEOUT_MS: { kind: 'plain', required: false, default: '30000', description: 'Per-call LLM timeout.' },
  CACHE_TTL_SECONDS: { kind: 'plain', required: false, default: '1800', description: 'Response cache TTL.' },
  PROMPT_VERSION: {
    kind: 'plain',
    required: false,
    default: 'v1',
    description: 'Part of every cache key, so a prompt change never serves stale answers.',
  },
  RATE_LIMIT_PER_MINUTE: {
    kind: 'plain',
    required: false,
    default: '120',
    description:
      'Per-task flood guard: requests per minute allowed per client address (the one the ALB appended to X-Forwarded-For), checked in memory before authentication.',
  },
  QUOTA_REQUESTS_PER_MINUTE: {
    kind: 'plain',
    required: false,
    default: '240',
    description:
      "API requests per minute allowed per principal (the token's `sub`), counted in the cache so the limit holds across all tasks; per task while the cache is down.",
  },
  QUOTA_LLM_TOKENS_PER_MINUTE: {
    kind: 'plain',
    required: false,
    default: '50000',
    description:
      "LLM tokens (in + out) per minute allowed per principal, reserved before each call and settled from the provider's `usage`; shared like QUOTA_REQUESTS_PER_MINUTE.",
  },
  QUOTA_STORED_BYTES_PER_DAY: {
    kind: 'plain',
    required: false,
    default: '10000000',
    description:
      'UTF-8 bytes of messages (question and answer) a principal may store per UTC day; past it, 429 storage_quota_exceeded until midnight UTC. Shared like QUOTA_REQUESTS_PER_MINUTE.',
  },
  MESSAGE_RETENTION_DAYS: {
    kind: 'plain',
    required: false,
    default: '30',
    description:
      'Messages older than this many days are deleted (hourly, in bounded batches, by every task), then the sessions left without a turn in that time.',
  },
  LLM_MAX_OUTPUT_TOKENS: {
    kind: 'plain',
    required: false,
    default: '1024',
    description: 'Sent as `max_tokens` on every completion: the most output tokens one LLM call can be billed for.',
  },
  LLM_CONTEXT_BUDGET_TOKENS: {
    kind: 'plain',
    required: false,
    default: '6000',
    description:
      'Estimated input tokens per LLM call (system prompt, earlier turns, the message): the oldest turns are left out until the estimate fits.',
  },
  ROTATION_POLL_SECONDS: {
    kind: 'plain',
    required: false,
    default: '300',
    description:
      'How often DB_SECRET_ARN and REDIS_AUTH_SECRET_ARN are re-read (±20%), so a rotation is picked up before the old credentials are retired.',
  },
  DRAIN_TIMEOUT_MS: {
    kind: 'plain',
    required: false,
    default: '20000',
    description: 'SIGTERM drain budget; must stay below the ECS stop timeout.',
  },
  LOG_LEVEL: { kind: 'plain', required: false, default: 'info', description: 'debug, info, warn or error.' },
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
      'Comma-separated accepted audiences: a token passes when its `aud` or its Cognito `client_id` is one of them. Required unless AUTH_MODE=off.',
  },
  AUTH_JWKS_URL: {
    kind: 'plain',
    required: false,
    description: "The issuer's signing keys (https); `<AUTH_ISSUER>/.well-known/jwks.json` when unset.",
  },
  AUTH_MODE: {
    kind: 'plain',
    required: false,
    default: 'on',
    localOnly: true,
    description:
      '`on` (bearer tokens verified on every API route) or `off` (local runs and benchmarks only: no identity check, one warning at start). Never set by the CDK app.',
  },
} as const satisfies Record<string, EnvVarSpec>;

export type ServiceEnvName = keyof typeof SERVICE_ENV;

/** All names, in declaration order. */
export const SERVICE_ENV_NAMES = Object.keys(SERVICE_ENV) as ServiceEnvName[];

/** Names the deployed task definition never sets (see {@link EnvVarSpec.localOnly}). */
export type LocalOnlyEnvName = {
  [K in ServiceEnvName]: (typeof SERVICE_ENV)[K] extends { readonly localOnly: true } ? K : never;
}[ServiceEnvName];
export const LOCAL_ONLY_ENV_NAMES = SERVICE_ENV_NAMES.filter(
  (n): n is LocalOnlyEnvName => (SERVICE_ENV[n] as EnvVarSpec).localOnly === true,
);

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

/** The allowed values of the enumerated variables. */
export const DB_SSL_MODES = ['verify-full', 'require', 'disable'] as const;
export type DbSslMode = (typeof DB_SSL_MODES)[number];
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const AUTH_MODES = ['on', 'off'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

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

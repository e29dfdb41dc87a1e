/**
 * Every sizing and policy choice, per stage, in one file. Read top to bottom to see how dev
 * differs from prod. `bin/` picks one with `-c stage=<name>`; constructs never read context.
 *
 * Units are in the names (`…Minutes`, `…MiB`, `…Percent`) wherever the type does not carry them.
 *
 * The service's settings default to the contract's defaults (lib/contract/env.ts), and their ranges
 * are the contract's too (lib/config/env-settings.ts): a value is written in one place. Settings
 * that span components are checked against each other by the relations (lib/config/relations.ts).
 */
import { type GateProfile, integerEnvDefault, type LlmPrice, SERVICE_ENV } from '../contract';

export const STAGE_NAMES = ['dev', 'staging', 'prod'] as const;
export type StageName = (typeof STAGE_NAMES)[number];

export type CacheEngine = 'valkey' | 'redis';
export type DeploymentStrategyName = 'BLUE_GREEN' | 'CANARY' | 'LINEAR';

export interface NetworkConfig {
  /**
   * Availability Zone names, listed explicitly so synth never needs an AWS lookup.
   * Two in dev and staging, three in prod. Each must belong to `env.region`.
   */
  readonly availabilityZones: readonly string[];
  readonly cidr: string;
  /** NAT gateways for the tasks' egress (the LLM provider, ECR without endpoints). One per AZ in prod. */
  readonly natGateways: number;
  /**
   * Interface endpoints for Secrets Manager, ECR (api + dkr) and CloudWatch Logs. They keep that
   * traffic off the NAT and cost about $7.30 per endpoint per AZ per month. The S3 gateway endpoint
   * (free) is always created.
   */
  readonly interfaceEndpoints: boolean;
}

export interface DatabaseConfig {
  /** RDS instance class without the `db.` prefix, e.g. `t4g.micro`. */
  readonly instanceType: string;
  /** Deliberately not 5432 (cdk-nag AwsSolutions-RDS11): a scan of the default port finds nothing. */
  readonly port: number;
  readonly allocatedStorageGiB: number;
  /** Storage autoscaling ceiling. */
  readonly maxAllocatedStorageGiB: number;
  readonly multiAz: boolean;
  readonly backupRetentionDays: number;
  /** Also turns on snapshot-on-delete and stack termination protection for the Data stack. */
  readonly deletionProtection: boolean;
  readonly performanceInsights: boolean;
  /** How often Secrets Manager rotates the application user's password (alternating users). */
  readonly appUserRotationDays: number;
}

export interface CacheConfig {
  /** `valkey` (default: cheaper, Redis-compatible) or `redis`. */
  readonly engine: CacheEngine;
  /** Major.minor engine version, e.g. `8.0` for valkey or `7.1` for redis. */
  readonly engineVersion: string;
  /** ElastiCache node type, e.g. `cache.t4g.micro`. */
  readonly nodeType: string;
  /** Read replicas next to the primary. At least 1 enables Multi-AZ with automatic failover. */
  readonly replicasPerNodeGroup: number;
  /** Explicitly not 6379: a scanner probing the default port finds nothing. */
  readonly port: number;
  readonly snapshotRetentionDays: number;
}

export type ImageSource =
  /** Build `service/Dockerfile` as a CDK asset at deploy time (the default). */
  | { readonly kind: 'asset' }
  /** Use a pre-built image, e.g. `123456789012.dkr.ecr.us-east-1.amazonaws.com/chat:1.4.2`. */
  | { readonly kind: 'uri'; readonly uri: string };

export interface LlmConfig {
  /** Any OpenAI-compatible chat-completions base URL. */
  readonly baseUrl: string;
  readonly model: string;
  /**
   * Name of an existing Secrets Manager secret holding `{"apiKey": "..."}`. Create it before the
   * first deploy (see README); the stack never generates or sees the key.
   */
  readonly apiKeySecretName: string;
  readonly timeoutMs: number;
  /** `max_tokens` on every completion: the most output one LLM call can be billed for. */
  readonly maxOutputTokens: number;
  /** Estimated input tokens per call (system prompt, earlier turns, the message); older turns are left out to fit. */
  readonly contextBudgetTokens: number;
  /**
   * The model's price, USD per million input and output tokens: the k6 gate prints each version's
   * cost per 1,000 answers with it (LLM_PRICE_PER_MTOK, through the gate's hook details and the
   * pipeline's gate step). Not used by the service.
   */
  readonly pricePerMTok: LlmPrice;
}

/**
 * Per principal (the token's `sub`), counted in the shared cache so they hold at any task count (per
 * task while the cache is down). The k6 gate's machine client is one principal, the gate principal
 * (GATE_PRINCIPAL: the Cognito machine client's id, or `auth.gateClient.principal`), and a relative
 * gate run sends both targets about 1,000 chat requests within a minute
 * (`2 × gateChatRequestsPerTarget`, lib/contract/gate-profiles.ts): so it has allowances of its own,
 * `gateRequestsPerMinute` and `gateStoredBytesPerDay`, checked against the stage's gate profile at
 * synth (the relation gate-within-request-quota), while every other principal keeps the ordinary
 * ones. Its LLM token quota is everyone's: the profile bounds its LLM calls. docs/security.md says
 * what the larger allowance lets a thief of the gate's client secret do.
 */
export interface QuotaConfig {
  readonly requestsPerPrincipalPerMinute: number;
  /**
   * QUOTA_GATE_REQUESTS_PER_MINUTE: the gate principal's requests per minute instead of
   * `requestsPerPrincipalPerMinute`. The default (2,000) holds a relative run of every shipped
   * stage's profile (smoke: 2 × 481 = 962; light: 2 × 459 = 918) with room to spare; `soak`
   * (2 × 2,356) needs more.
   */
  readonly gateRequestsPerMinute: number;
  /** LLM tokens in + out, as the provider bills them. docs/cost.md prices the worst case. */
  readonly llmTokensPerPrincipalPerMinute: number;
  /**
   * UTF-8 bytes of messages (each question and its answer) one principal may store per UTC day;
   * past it, `429 storage_quota_exceeded` until midnight UTC.
   */
  readonly storedBytesPerPrincipalPerDay: number;
  /**
   * QUOTA_GATE_STORED_BYTES_PER_DAY: the gate principal's bytes per UTC day instead of
   * `storedBytesPerPrincipalPerDay`. A relative gate run stores about 1,000 turns of 1–2 KB
   * (about 2 MB): the ordinary 10 MB would stop the fifth run of a day; 500 MB holds some 250.
   */
  readonly gateStoredBytesPerDay: number;
}

/**
 * The chat service's sizing and settings in this stage (`…Settings`: the service has its own
 * config type, the one it parses from its environment at start).
 */
export interface ServiceSettings {
  readonly image: ImageSource;
  /** Fargate task size. */
  readonly cpu: number;
  readonly memoryMiB: number;
  /**
   * Autoscaling bounds. There is no fixed desired count: the template leaves the running count to
   * autoscaling, so a deploy never shrinks a scaled-up service (and green starts at its size).
   */
  readonly minTaskCount: number;
  readonly maxTaskCount: number;
  readonly targetCpuUtilizationPercent: number;
  readonly targetMemoryUtilizationPercent: number;
  /** ECS stop timeout: SIGTERM, then SIGKILL after this long (Fargate allows at most 120 s). */
  readonly stopTimeoutSeconds: number;
  /** The service's drain budget after SIGTERM; must be below `stopTimeoutSeconds`. */
  readonly drainTimeoutMs: number;
  /** KEEP_ALIVE_TIMEOUT_SECONDS: idle client connections close after this; above `ingress.idleTimeoutSeconds`. */
  readonly keepAliveTimeoutSeconds: number;
  readonly llm: LlmConfig;
  readonly cacheTtlSeconds: number;
  /**
   * Distinct principals that must ask the same question before its cached answer is served across
   * principals (CACHE_SHARE_AFTER_PRINCIPALS, 1-1000). Below it, another principal's request is a
   * real miss. 1 makes the cache a public FAQ: anyone can confirm what anyone asked (docs/security.md).
   * @default 3
   */
  readonly cacheShareAfterPrincipals: number;
  readonly promptVersion: string;
  /** Per-task flood guard per client address, checked in memory before authentication. */
  readonly rateLimitPerMinute: number;
  readonly quotas: QuotaConfig;
  /**
   * Messages older than this many days are deleted by the service (hourly, in bounded batches),
   * then the sessions without a turn in that time. Must outlive `cacheTtlSeconds`, so a cached
   * answer never outlives the conversation it was written for.
   */
  readonly messageRetentionDays: number;
  /**
   * How often each task re-reads the rotated DB and cache secrets. Well below the rotation period,
   * so alternating-users rotations never reach a task as a rejected login.
   */
  readonly rotationPollSeconds: number;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
}

export interface IngressConfig {
  /** ACM certificate for the HTTPS listeners. Required in prod. */
  readonly certificateArn?: string;
  /**
   * Optional DNS name of the API; set with `hostedZoneId` and `hostedZoneName` (all three or none), it
   * gets an alias A record to the load balancer (lib/constructs/service-dns.ts) and is `ServiceUrl`'s host.
   */
  readonly domainName?: string;
  readonly hostedZoneId?: string;
  readonly hostedZoneName?: string;
  /**
   * The load balancer closes a connection that carried no data for this long (1–4000 s). Above the
   * worst-case request time (a JSON answer sends nothing until it is done), below the service's
   * keep-alive timeout (both checked at synth, lib/config/relations.ts).
   */
  readonly idleTimeoutSeconds: number;
  /** Plain HTTP listeners. Only for stages without a certificate; never in prod. */
  readonly allowHttp: boolean;
  /** CIDRs allowed to reach the production listener. */
  readonly allowedCidrs: readonly string[];
  readonly productionPort: number;
  /** The test listener only the k6 runner's security group can reach. */
  readonly testPort: number;
  /** The WAF WebACL on the load balancer (lib/constructs/api-firewall.ts). */
  readonly firewall: FirewallConfig;
  /** The load balancer refuses to be deleted (turn it off before a deliberate teardown). Required in prod. */
  readonly deletionProtection: boolean;
}

export interface FirewallConfig {
  /**
   * Requests one client IP may send in any 5-minute window before WAF blocks it (at least 10).
   * Sources inside the VPC (the k6 gate runner) are exempt.
   */
  readonly requestsPerIpPerFiveMinutes: number;
}

/**
 * Who may call the chat API. By default each stage deploys its own Cognito user pool (a user app
 * client, and a machine client with client credentials for the k6 gate); a stage may name an
 * external OIDC issuer instead. Either way the service verifies every bearer token itself
 * (docs/security.md).
 */
export interface AuthConfig {
  /**
   * An external OIDC issuer, exactly as in its tokens' `iss` (https).
   * @default - a Cognito user pool for the stage
   */
  readonly issuer?: string;
  /** With `issuer`: the accepted `aud` (or `client_id`) values, e.g. this API's client ids there. */
  readonly audiences?: readonly string[];
  /** With `issuer`: its JWKS. @default `<issuer>/.well-known/jwks.json` */
  readonly jwksUrl?: string;
  /**
   * With `issuer` and the gate enabled: the gate's machine client there, its token endpoint and an
   * existing Secrets Manager secret `{"clientId": "...", "clientSecret": "..."}` created before the
   * first deploy (like the LLM key).
   */
  readonly gateClient?: {
    readonly tokenUrl: string;
    readonly secretName: string;
    readonly scope?: string;
    /**
     * The `sub` of the gate client's access tokens at that issuer (GATE_PRINCIPAL), which it gets
     * the gate's quotas by (`service.quotas.gateRequestsPerMinute`, `gateStoredBytesPerDay`). Issuer
     * specific: Keycloak puts the client's service-account user id there, Auth0 `<client_id>@clients`.
     * Read it from a token the client got. Not a secret: every token the gate presents carries it.
     * @default - no gate principal: the gate has the ordinary quotas, which the relation
     * gate-within-request-quota then holds its runs to
     */
    readonly principal?: string;
  };
  /** Cognito: how long an access token is valid (5–1440 minutes). The gate fetches a new one per run. */
  readonly accessTokenValidityMinutes: number;
}

/**
 * Whether the stage's tasks know the gate's principal (GATE_PRINCIPAL), and so give it the gate's
 * quotas: always with the stage's Cognito user pool (the machine client's id), with an external
 * issuer only when `auth.gateClient.principal` names it.
 */
export function hasGatePrincipal(auth: AuthConfig): boolean {
  return auth.issuer === undefined || auth.gateClient?.principal !== undefined;
}

export interface CanaryConfig {
  /** Share of production traffic the new version gets first, 0.1–100. */
  readonly canaryPercent: number;
  readonly canaryBakeTimeMinutes: number;
}

export interface LinearConfig {
  /** Share of production traffic shifted per step, 3–100. */
  readonly stepPercent: number;
  readonly stepBakeTimeMinutes: number;
}

/** The in-AWS k6 gate of every deployment (`…Settings`: the load tests' config type is one run's input). */
export interface GateSettings {
  /** Run the k6 gate on every deployment. Turning it off in prod is refused. */
  readonly enabled: boolean;
  readonly profile: GateProfile;
  /** The hook answers FAILED (gate error) when the runner has not finished by then. */
  readonly timeoutMinutes: number;
  /** Parallel k6 runner tasks, each taking a share of the load with `--execution-segment`. */
  readonly parallelism: number;
  readonly runnerCpu: number;
  readonly runnerMemoryMiB: number;
}

export interface DeploymentConfig {
  readonly strategy: DeploymentStrategyName;
  /**
   * Explicit on purpose: ECS's default bake time keeps blue and green running (double capacity)
   * for a long time. Deployment alarms can still roll back during the bake.
   */
  readonly bakeTimeMinutes: number;
  readonly canary?: CanaryConfig;
  readonly linear?: LinearConfig;
  readonly gate: GateSettings;
}

export interface AlarmThresholds {
  /**
   * ALB target response time over both target groups: the higher of the blue and the green
   * group's percentile (lib/monitoring/service-metrics.ts says why). Seeds: "p95 > 10 s is critical".
   */
  readonly p95LatencyMs: number;
  readonly p99LatencyMs: number;
  /** ALB 5xx (targets + ELB) as a share of requests. Seeds: "error rate > 1%". */
  readonly serverErrorRatePercent: number;
  /** Below this many requests per period, rate alarms stay quiet (a quiet night is not an outage). */
  readonly minRequestsPerPeriod: number;
  /** Seeds: "cache hit rate < 50% is a warning". */
  readonly minCacheHitRatePercent: number;
  readonly minCacheLookupsPerPeriod: number;
  readonly llmErrorRatePercent: number;
  readonly serviceCpuPercent: number;
  readonly serviceMemoryPercent: number;
  readonly dbCpuPercent: number;
  readonly dbMinFreeStorageGiB: number;
  readonly dbMinFreeableMemoryMiB: number;
  /** Connections as a share of the instance class's max_connections. */
  readonly dbConnectionsPercentOfMax: number;
  readonly cacheEngineCpuPercent: number;
  readonly cacheMemoryPercent: number;
  readonly cacheEvictionsPerPeriod: number;
  readonly cacheMaxConnections: number;
  readonly cacheReplicationLagSeconds: number;
  /** Targets failing ALB health checks, summed over the blue and green target groups. */
  readonly maxUnhealthyHosts: number;
  /** Container Insights' DesiredTaskCount minus RunningTaskCount. */
  readonly maxTasksBelowDesired: number;
  /** LLM calls the provider answered 429. Seeds: "openai_429_errors > 0 is critical". */
  readonly maxLlmThrottledPerPeriod: number;
  /** Below this many LLM calls per period the LLM error-rate alarm stays quiet. */
  readonly minLlmCallsPerPeriod: number;
  readonly maxDbErrorsPerPeriod: number;
  /** Wrong database password or cache AUTH token. 0: the first one pages (a rotation gone wrong). */
  readonly maxAuthFailuresPerPeriod: number;
  /** Requests the WAF WebACL blocked (all rules); a spike is an attack or a rule blocking real users. */
  readonly maxWafBlockedRequestsPerPeriod: number;
  /**
   * LLM tokens (in + out, every task, from the provider's `usage`) per minute, averaged over a
   * period: the stage's LLM budget. Above it the bill grows faster than planned (docs/cost.md).
   */
  readonly maxLlmTokensPerMinute: number;
  /** Requests answered 429 because a principal used its request or token quota. */
  readonly maxQuotaRejectionsPerPeriod: number;
  /**
   * The database's real `max_connections`, for `dbConnectionsPercentOfMax`.
   * @default - estimated from `database.instanceType` (lib/config/db-connection-limit.ts); set it
   * from `SHOW max_connections;` for an exact value, and whenever the parameter group overrides it.
   */
  readonly dbMaxConnections?: number;
}

/** "`datapointsToAlarm` of the last `evaluationPeriods` periods breach" (M out of N). */
export interface AlarmEvaluation {
  readonly datapointsToAlarm: number;
  readonly evaluationPeriods: number;
}

export interface MonitoringConfig {
  /** E-mail addresses subscribed to the alarm topic (each must confirm the subscription). */
  readonly alarmEmails: readonly string[];
  /** Period of every alarm's metric. */
  readonly periodMinutes: number;
  /**
   * Symptoms users feel (5xx, latency, unhealthy or missing tasks, app errors). The deployment
   * (rollback) alarms use it too, so `datapointsToAlarm x periodMinutes` must fit in the bake time.
   */
  readonly symptomEvaluation: AlarmEvaluation;
  /** Resource saturation (CPU, memory, storage, connections): slower, because a spike is not a page. */
  readonly saturationEvaluation: AlarmEvaluation;
  /**
   * Where alarm descriptions point for runbooks: `<runbookBaseUrl>/<alarm-id>.md`, e.g. the
   * repository's web URL `https://github.com/acme/chat-platform/blob/main/docs/runbooks`.
   * @default 'docs/runbooks' (the path inside this repository)
   */
  readonly runbookBaseUrl?: string;
  readonly thresholds: AlarmThresholds;
}

export interface StageConfig {
  readonly stage: StageName;
  /** Prefix of every physical name: `<appName>-<stage>-<what>`. */
  readonly appName: string;
  /** Account and region. Each falls back to CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION in `bin/`. */
  readonly env: { readonly account?: string; readonly region: string };
  /** CloudWatch Logs retention for every log group of the stage, in days. */
  /**
   * Keep every CloudWatch log group when its stack is deleted (or a log group is replaced): the
   * logs outlive the stack for audits and post-mortems. Required in prod.
   */
  readonly retainLogGroups: boolean;
  /**
   * CloudFormation termination protection on the network and service stacks (the data stack follows
   * `database.deletionProtection`). Required in prod. CDK Pipelines' deploy actions do not apply it
   * (docs/deployments.md).
   */
  readonly terminationProtection: boolean;
  readonly logRetentionDays: number;
  readonly network: NetworkConfig;
  readonly database: DatabaseConfig;
  readonly cache: CacheConfig;
  readonly service: ServiceSettings;
  readonly ingress: IngressConfig;
  readonly auth: AuthConfig;
  readonly deployment: DeploymentConfig;
  readonly monitoring: MonitoringConfig;
}

const REGION = 'us-east-1';

/** Shared by every stage; each stage below overrides what differs. */
const thresholds: AlarmThresholds = {
  p95LatencyMs: 10_000,
  p99LatencyMs: 20_000,
  serverErrorRatePercent: 1,
  minRequestsPerPeriod: 20,
  minCacheHitRatePercent: 50,
  minCacheLookupsPerPeriod: 50,
  llmErrorRatePercent: 5,
  serviceCpuPercent: 85,
  serviceMemoryPercent: 85,
  dbCpuPercent: 80,
  dbMinFreeStorageGiB: 2,
  dbMinFreeableMemoryMiB: 64,
  dbConnectionsPercentOfMax: 80,
  cacheEngineCpuPercent: 80,
  cacheMemoryPercent: 80,
  cacheEvictionsPerPeriod: 100,
  cacheMaxConnections: 1000,
  cacheReplicationLagSeconds: 5,
  maxUnhealthyHosts: 0,
  maxTasksBelowDesired: 0,
  maxLlmThrottledPerPeriod: 0,
  minLlmCallsPerPeriod: 10,
  maxDbErrorsPerPeriod: 5,
  maxAuthFailuresPerPeriod: 0,
  maxWafBlockedRequestsPerPeriod: 500,
  // gpt-4o-mini at list price: 100,000 tokens a minute is about $9 an hour; a budget, not a limit.
  maxLlmTokensPerMinute: 100_000,
  maxQuotaRejectionsPerPeriod: 50,
};

/** With 5-minute periods, saturation must last a quarter of an hour before anyone is told. */
const saturationEvaluation = { datapointsToAlarm: 3, evaluationPeriods: 3 } as const;

const llm: LlmConfig = {
  baseUrl: 'https://api.openai.com/v1',
  model: 'gpt-4o-mini',
  apiKeySecretName: 'chat-platform/llm-api-key',
  timeoutMs: integerEnvDefault('LLM_TIMEOUT_MS'),
  maxOutputTokens: integerEnvDefault('LLM_MAX_OUTPUT_TOKENS'),
  contextBudgetTokens: integerEnvDefault('LLM_CONTEXT_BUDGET_TOKENS'),
  // gpt-4o-mini's list price (https://openai.com/api/pricing/): $0.15 input, $0.60 output per 1M tokens.
  pricePerMTok: { inputPerMTok: 0.15, outputPerMTok: 0.6 },
};

const serviceDefaults = {
  image: { kind: 'asset' },
  stopTimeoutSeconds: 30,
  drainTimeoutMs: integerEnvDefault('DRAIN_TIMEOUT_MS'),
  keepAliveTimeoutSeconds: integerEnvDefault('KEEP_ALIVE_TIMEOUT_SECONDS'),
  llm,
  cacheTtlSeconds: integerEnvDefault('CACHE_TTL_SECONDS'),
  cacheShareAfterPrincipals: integerEnvDefault('CACHE_SHARE_AFTER_PRINCIPALS'),
  promptVersion: SERVICE_ENV.PROMPT_VERSION.default,
  rateLimitPerMinute: integerEnvDefault('RATE_LIMIT_PER_MINUTE'),
  quotas: {
    requestsPerPrincipalPerMinute: integerEnvDefault('QUOTA_REQUESTS_PER_MINUTE'),
    gateRequestsPerMinute: integerEnvDefault('QUOTA_GATE_REQUESTS_PER_MINUTE'),
    llmTokensPerPrincipalPerMinute: integerEnvDefault('QUOTA_LLM_TOKENS_PER_MINUTE'),
    storedBytesPerPrincipalPerDay: integerEnvDefault('QUOTA_STORED_BYTES_PER_DAY'),
    gateStoredBytesPerDay: integerEnvDefault('QUOTA_GATE_STORED_BYTES_PER_DAY'),
  },
  messageRetentionDays: integerEnvDefault('MESSAGE_RETENTION_DAYS'),
  rotationPollSeconds: integerEnvDefault('ROTATION_POLL_SECONDS'),
  logLevel: SERVICE_ENV.LOG_LEVEL.default,
  targetCpuUtilizationPercent: 60,
  targetMemoryUtilizationPercent: 75,
} as const satisfies Partial<ServiceSettings>;

/**
 * The ALB's idle timeout in every stage: above the worst-case request (about 139 s with the default
 * 30 s LLM timeout, lib/contract/time-budgets.ts) and below KEEP_ALIVE_TIMEOUT_SECONDS (190 s).
 */
const ALB_IDLE_TIMEOUT_SECONDS = 180;

/** Every stage: its own Cognito user pool, one-hour access tokens. */
const auth: AuthConfig = { accessTokenValidityMinutes: 60 };

const gateDefaults: GateSettings = {
  enabled: true,
  profile: 'smoke',
  timeoutMinutes: 15,
  parallelism: 1,
  runnerCpu: 1024,
  runnerMemoryMiB: 2048,
};

export const STAGES: Readonly<Record<StageName, StageConfig>> = {
  dev: {
    stage: 'dev',
    appName: 'chat',
    env: { region: REGION },
    logRetentionDays: 14,
    retainLogGroups: false,
    terminationProtection: false,
    network: {
      availabilityZones: [`${REGION}a`, `${REGION}b`],
      cidr: '10.10.0.0/16',
      natGateways: 1,
      interfaceEndpoints: false,
    },
    database: {
      instanceType: 't4g.micro',
      port: 5433,
      allocatedStorageGiB: 20,
      maxAllocatedStorageGiB: 50,
      multiAz: false,
      backupRetentionDays: 1,
      deletionProtection: false,
      performanceInsights: false,
      appUserRotationDays: 30,
    },
    cache: {
      engine: 'valkey',
      engineVersion: '8.0',
      nodeType: 'cache.t4g.micro',
      replicasPerNodeGroup: 0,
      port: 6380,
      snapshotRetentionDays: 0,
    },
    service: {
      ...serviceDefaults,
      cpu: 512,
      memoryMiB: 1024,
      minTaskCount: 1,
      maxTaskCount: 2,
      logLevel: 'debug',
      // Test conversations: a week is enough to look into a problem.
      messageRetentionDays: 7,
    },
    ingress: {
      idleTimeoutSeconds: ALB_IDLE_TIMEOUT_SECONDS,
      allowHttp: true,
      allowedCidrs: ['0.0.0.0/0'],
      productionPort: 80,
      testPort: 8080,
      firewall: { requestsPerIpPerFiveMinutes: 1000 },
      deletionProtection: false,
    },
    auth,
    deployment: { strategy: 'BLUE_GREEN', bakeTimeMinutes: 5, gate: gateDefaults },
    monitoring: {
      alarmEmails: [],
      periodMinutes: 5,
      // One 5-minute datapoint: the bake is 5 minutes, and a rollback alarm must fit in it.
      symptomEvaluation: { datapointsToAlarm: 1, evaluationPeriods: 1 },
      saturationEvaluation,
      thresholds,
    },
  },

  staging: {
    stage: 'staging',
    appName: 'chat',
    env: { region: REGION },
    logRetentionDays: 30,
    retainLogGroups: false,
    terminationProtection: false,
    network: {
      availabilityZones: [`${REGION}a`, `${REGION}b`],
      cidr: '10.20.0.0/16',
      natGateways: 1,
      interfaceEndpoints: true,
    },
    database: {
      instanceType: 't4g.small',
      port: 5433,
      allocatedStorageGiB: 20,
      maxAllocatedStorageGiB: 100,
      multiAz: false,
      backupRetentionDays: 7,
      deletionProtection: false,
      performanceInsights: true,
      appUserRotationDays: 30,
    },
    cache: {
      engine: 'valkey',
      engineVersion: '8.0',
      nodeType: 'cache.t4g.small',
      replicasPerNodeGroup: 1,
      port: 6380,
      snapshotRetentionDays: 1,
    },
    service: { ...serviceDefaults, cpu: 512, memoryMiB: 1024, minTaskCount: 2, maxTaskCount: 4 },
    ingress: {
      idleTimeoutSeconds: ALB_IDLE_TIMEOUT_SECONDS,
      allowHttp: true,
      allowedCidrs: ['0.0.0.0/0'],
      productionPort: 80,
      testPort: 8080,
      firewall: { requestsPerIpPerFiveMinutes: 1000 },
      deletionProtection: false,
    },
    auth,
    deployment: { strategy: 'BLUE_GREEN', bakeTimeMinutes: 10, gate: { ...gateDefaults, profile: 'light' } },
    monitoring: {
      alarmEmails: [],
      periodMinutes: 5,
      symptomEvaluation: { datapointsToAlarm: 2, evaluationPeriods: 2 },
      saturationEvaluation,
      thresholds,
    },
  },

  prod: {
    stage: 'prod',
    appName: 'chat',
    env: { region: REGION },
    logRetentionDays: 90,
    retainLogGroups: true,
    terminationProtection: true,
    network: {
      availabilityZones: [`${REGION}a`, `${REGION}b`, `${REGION}c`],
      cidr: '10.30.0.0/16',
      natGateways: 3,
      interfaceEndpoints: true,
    },
    database: {
      instanceType: 'm7g.large',
      port: 5433,
      allocatedStorageGiB: 100,
      maxAllocatedStorageGiB: 500,
      multiAz: true,
      backupRetentionDays: 14,
      deletionProtection: true,
      performanceInsights: true,
      appUserRotationDays: 30,
    },
    cache: {
      engine: 'valkey',
      engineVersion: '8.0',
      nodeType: 'cache.m7g.large',
      replicasPerNodeGroup: 2,
      port: 6380,
      snapshotRetentionDays: 7,
    },
    service: {
      ...serviceDefaults,
      cpu: 1024,
      memoryMiB: 2048,
      minTaskCount: 3,
      maxTaskCount: 12,
    },
    ingress: {
      // REPLACE before deploying prod: synth refuses a certificate from another account once the
      // target account is known (CDK_DEFAULT_ACCOUNT or env.account).
      certificateArn: `arn:aws:acm:${REGION}:123456789012:certificate/00000000-0000-0000-0000-000000000000`,
      idleTimeoutSeconds: ALB_IDLE_TIMEOUT_SECONDS,
      allowHttp: false,
      allowedCidrs: ['0.0.0.0/0'],
      productionPort: 443,
      testPort: 8443,
      // 10 requests a second from one address, sustained over 5 minutes: far above one user's chat,
      // low enough that a single source cannot flood the API.
      firewall: { requestsPerIpPerFiveMinutes: 3000 },
      deletionProtection: true,
    },
    auth,
    deployment: {
      strategy: 'BLUE_GREEN',
      bakeTimeMinutes: 15,
      canary: { canaryPercent: 10, canaryBakeTimeMinutes: 10 },
      linear: { stepPercent: 25, stepBakeTimeMinutes: 5 },
      gate: { ...gateDefaults, profile: 'smoke', parallelism: 2 },
    },
    monitoring: {
      // REPLACE with the on-call distribution list.
      alarmEmails: ['chat-oncall@example.com'],
      periodMinutes: 1,
      // 3 bad minutes out of 5: quick enough to roll back within the 15-minute bake, and one
      // noisy minute does not page.
      symptomEvaluation: { datapointsToAlarm: 3, evaluationPeriods: 5 },
      saturationEvaluation: { datapointsToAlarm: 10, evaluationPeriods: 15 },
      thresholds,
    },
  },
};

/** One stage the optional pipeline deploys; the pipeline runs them in the order listed. */
export interface PipelineStageConfig {
  /** The stage config deployed: its account, region and sizing come from `STAGES[stage]`. */
  readonly stage: StageName;
  /**
   * Profile of the post-deploy k6 gate against the stage's production URL. It runs after the ECS
   * deployment (and its own in-AWS gate) finished; a failure stops promotion to the next stage.
   */
  readonly gateProfile: GateProfile;
  /** Wait for a person to approve in CodePipeline before this stage deploys anything. */
  readonly manualApproval: boolean;
}

/**
 * The optional CDK pipeline (lib/pipeline/pipeline-stack.ts, docs/pipelines.md): source from a Git
 * repository through a CodeConnections connection, `npm ci && npm test && cdk synth`, then each
 * stage in order, each gated by k6.
 */
export interface PipelineConfig {
  /**
   * Synthesize the pipeline stack instead of one stage's stacks. `-c pipeline=true|false` overrides it.
   * @default false - `cdk deploy` deploys the stage named by `-c stage=` (the pipeline's own synth
   * step always passes `-c pipeline=true`).
   */
  readonly enabled: boolean;
  /**
   * Stack ID, stack name and CodePipeline name. A public contract: renaming it creates a second
   * pipeline next to the first.
   */
  readonly name: string;
  /** Where the pipeline lives. The account falls back to CDK_DEFAULT_ACCOUNT in `bin/`. */
  readonly env: { readonly account?: string; readonly region: string };
  /**
   * A CodeConnections (formerly CodeStar Connections) connection to the Git provider, created and
   * authorised in the console of the pipeline's account and region before the first deploy.
   * @example 'arn:aws:codestar-connections:us-east-1:111122223333:connection/8b2d3c4e-...'
   */
  readonly connectionArn: string;
  /** The repository, e.g. `{ owner: 'acme', name: 'chat-platform' }` for github.com/acme/chat-platform. */
  readonly repository: { readonly owner: string; readonly name: string };
  /** Every push to this branch starts a release. */
  readonly branch: string;
  /** Deployed in this order; each must pass its gate before the next starts. */
  readonly stages: readonly PipelineStageConfig[];
  /** CloudWatch Logs retention of the pipeline's CodeBuild logs, in days. */
  readonly logRetentionDays: number;
}

export const PIPELINE_CONFIG: PipelineConfig = {
  enabled: false,
  name: 'chat-pipeline',
  env: { region: REGION },
  // REPLACE with your connection: synth refuses a connection from another account once the
  // pipeline's account is known (CDK_DEFAULT_ACCOUNT or env.account), as it does prod's certificate.
  connectionArn: `arn:aws:codestar-connections:${REGION}:123456789012:connection/00000000-0000-0000-0000-000000000000`,
  // REPLACE with your repository.
  repository: { owner: 'acme', name: 'chat-platform' },
  branch: 'main',
  stages: [
    // The seeds' light scenario (5 VUs, 20 requests) proves staging under some concurrency.
    { stage: 'staging', gateProfile: 'light', manualApproval: false },
    // Prod's traffic is real: the smoke gate proves the release end to end without adding load.
    { stage: 'prod', gateProfile: 'smoke', manualApproval: true },
  ],
  logRetentionDays: 90,
};

/**
 * Synth-time validation of a stage config: one checker per config section, each adding the
 * problems it finds to one list, which is thrown at the end. Every message names the bad value and
 * what to change, so one synth shows everything that is wrong.
 */
import { APP_VERSION_RULE, GATE_PROFILES, isGateProfile } from '../contract';
import { GATE_PROFILE_SPECS, maxDurationSeconds } from '../contract/gate-profiles';
import { estimateMaxConnections } from './db-connection-limit';
import { checkLogRetention, Problems } from './problems';
import {
  type CacheConfig,
  type DatabaseConfig,
  type DeploymentConfig,
  type GateSettings,
  type IngressConfig,
  type MonitoringConfig,
  type NetworkConfig,
  type ServiceSettings,
  STAGE_NAMES,
  STAGES,
  type StageConfig,
  type StageName,
} from './stage-config';
import { checkAuth } from './validate-auth';

export class StageConfigError extends Error {
  constructor(
    readonly stage: string,
    readonly problems: readonly string[],
  ) {
    super(
      `Stage config '${stage}' is invalid (lib/config/stage-config.ts):\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'StageConfigError';
  }
}

/** The problem a version the service would refuse at start makes, on every path that resolves one. */
export function appVersionProblem(appVersion: string): string {
  return `appVersion '${appVersion}' must be ${APP_VERSION_RULE}; pass -c appVersion=<version>.`;
}

const DEFAULT_REDIS_PORT = 6379;
/** Fargate's maximum container stop timeout. */
const MAX_STOP_TIMEOUT_SECONDS = 120;
/** Budget for the k6 runner task to start (image pull) and for setup() to prime the cache. */
const GATE_START_AND_SETUP_MINUTES = 3;
/** ECS lifecycle-hook / deployment bake time ceiling (24 h). */
const MAX_BAKE_MINUTES = 1440;

/** ECS takes traffic percentages in steps of 0.1; the same test aws-cdk-lib applies at synth. */
const isStepOfTenth = (percent: number): boolean => Number.isInteger(percent * 10);

/** Throws a {@link StageConfigError} listing every problem; returns the config unchanged otherwise. */
export function validateStageConfig(config: StageConfig, target: { account?: string } = {}): StageConfig {
  const problems = new Problems();
  checkNaming(problems, config);
  checkNetwork(problems, config.network, config.env.region);
  checkDatabase(problems, config.database);
  checkCache(problems, config.cache);
  checkService(problems, config.service);
  checkIngress(problems, config.ingress, target);
  checkAuth(problems, config.auth, config.deployment.gate.enabled);
  checkDeployment(problems, config.deployment);
  checkMonitoring(problems, config.monitoring, config);
  if (config.stage === 'prod') checkProdSafety(problems, config);
  if (!problems.empty) throw new StageConfigError(config.stage, problems.list);
  return config;
}

function checkNaming(problems: Problems, config: StageConfig): void {
  problems.check(
    /^[a-z][a-z0-9-]{1,15}$/.test(config.appName),
    `appName '${config.appName}' must match [a-z][a-z0-9-]{1,15}.`,
  );
  checkLogRetention(problems, config.logRetentionDays);
}

function checkNetwork(problems: Problems, network: NetworkConfig, region: string): void {
  const p = problems.check;
  const azs = network.availabilityZones;
  p(azs.length >= 2, `network.availabilityZones has ${azs.length}; at least 2 are required for RDS and the ALB.`);
  p(new Set(azs).size === azs.length, `network.availabilityZones has duplicates: ${azs.join(', ')}.`);
  for (const az of azs) {
    p(az.startsWith(region), `network.availabilityZones '${az}' is not in region '${region}'.`);
  }
  p(
    network.natGateways >= 1 && network.natGateways <= azs.length,
    `network.natGateways ${network.natGateways} must be between 1 and the AZ count (${azs.length}); tasks need egress to reach the LLM.`,
  );
}

function checkDatabase(problems: Problems, database: DatabaseConfig): void {
  const p = problems.check;
  p(
    database.maxAllocatedStorageGiB >= database.allocatedStorageGiB,
    `database.maxAllocatedStorageGiB (${database.maxAllocatedStorageGiB}) must be >= allocatedStorageGiB (${database.allocatedStorageGiB}).`,
  );
  p(
    database.allocatedStorageGiB >= 20,
    `database.allocatedStorageGiB ${database.allocatedStorageGiB} is below RDS's 20 GiB minimum.`,
  );
  p(database.port >= 1150 && database.port <= 65535, `database.port ${database.port} must be 1150–65535 (RDS limit).`);
  p(
    database.backupRetentionDays >= 1 && database.backupRetentionDays <= 35,
    `database.backupRetentionDays ${database.backupRetentionDays} must be 1–35 (0 would disable backups).`,
  );
  p(
    database.appUserRotationDays >= 1 && database.appUserRotationDays <= 365,
    `database.appUserRotationDays ${database.appUserRotationDays} must be 1–365.`,
  );
}

function checkCache(problems: Problems, cache: CacheConfig): void {
  const p = problems.check;
  p(cache.port !== DEFAULT_REDIS_PORT, `cache.port must not be the default ${DEFAULT_REDIS_PORT}; use e.g. 6380.`);
  p(cache.port >= 1024 && cache.port <= 65535, `cache.port ${cache.port} must be 1024–65535.`);
  p(
    cache.replicasPerNodeGroup >= 0 && cache.replicasPerNodeGroup <= 5,
    `cache.replicasPerNodeGroup ${cache.replicasPerNodeGroup} must be 0–5.`,
  );
  p(/^\d+\.\d+$/.test(cache.engineVersion), `cache.engineVersion '${cache.engineVersion}' must look like '8.0'.`);
}

function checkService(problems: Problems, service: ServiceSettings): void {
  const p = problems.check;
  p(
    service.minTaskCount >= 1 && service.minTaskCount <= service.maxTaskCount,
    `service.minTaskCount (${service.minTaskCount}) must be >= 1 and <= maxTaskCount (${service.maxTaskCount}).`,
  );
  p(
    service.stopTimeoutSeconds >= 2 && service.stopTimeoutSeconds <= MAX_STOP_TIMEOUT_SECONDS,
    `service.stopTimeoutSeconds ${service.stopTimeoutSeconds} must be 2–${MAX_STOP_TIMEOUT_SECONDS} (Fargate limit).`,
  );
  p(
    service.drainTimeoutMs > 0 && service.drainTimeoutMs + 1000 <= service.stopTimeoutSeconds * 1000,
    `service.drainTimeoutMs (${service.drainTimeoutMs}) must leave at least 1 s before the ECS stop timeout (${service.stopTimeoutSeconds} s), or in-flight requests are killed.`,
  );
  for (const [name, value] of [
    ['targetCpuUtilizationPercent', service.targetCpuUtilizationPercent],
    ['targetMemoryUtilizationPercent', service.targetMemoryUtilizationPercent],
  ] as const) {
    p(value >= 10 && value <= 95, `service.${name} ${value} must be 10–95.`);
  }
  // The LLM key and every prompt cross this connection: a deployed stage talks to its provider over
  // TLS only. Plain http is for local runs (the fake LLM on loopback), which never go through synth.
  p(
    /^https:\/\/\S+$/.test(service.llm.baseUrl),
    `service.llm.baseUrl '${service.llm.baseUrl}' must be an https:// URL: the API key and the prompts travel over it.`,
  );
  p(service.llm.timeoutMs >= 1000, `service.llm.timeoutMs ${service.llm.timeoutMs} must be >= 1000.`);
  const { quotas, llm } = service;
  for (const [name, value] of [
    ['quotas.requestsPerPrincipalPerMinute', quotas.requestsPerPrincipalPerMinute],
    ['quotas.llmTokensPerPrincipalPerMinute', quotas.llmTokensPerPrincipalPerMinute],
    ['quotas.storedBytesPerPrincipalPerDay', quotas.storedBytesPerPrincipalPerDay],
    ['llm.maxOutputTokens', llm.maxOutputTokens],
    ['llm.contextBudgetTokens', llm.contextBudgetTokens],
  ] as const) {
    p(Number.isInteger(value) && value >= 1, `service.${name} ${value} must be a whole number >= 1.`);
  }
  // One call reserves its input budget plus its output cap: a quota below that refuses full calls.
  p(
    quotas.llmTokensPerPrincipalPerMinute >= llm.contextBudgetTokens + llm.maxOutputTokens,
    `service.quotas.llmTokensPerPrincipalPerMinute (${quotas.llmTokensPerPrincipalPerMinute}) must be at least llm.contextBudgetTokens + llm.maxOutputTokens (${llm.contextBudgetTokens + llm.maxOutputTokens}), or one call with a full context never fits.`,
  );
  p(
    service.rotationPollSeconds >= 30 && service.rotationPollSeconds <= 3600,
    `service.rotationPollSeconds ${service.rotationPollSeconds} must be 30–3600 (a few reads an hour per task, far inside the rotation period).`,
  );
  p(service.cacheTtlSeconds >= 1, `service.cacheTtlSeconds ${service.cacheTtlSeconds} must be >= 1.`);
  p(
    Number.isInteger(service.messageRetentionDays) &&
      service.messageRetentionDays >= 1 &&
      service.messageRetentionDays <= 3650,
    `service.messageRetentionDays ${service.messageRetentionDays} must be a whole number of days, 1–3650.`,
  );
  // Retention deletes rows, not cache entries: an entry must expire before its conversation does.
  p(
    service.cacheTtlSeconds < service.messageRetentionDays * 86_400,
    `service.cacheTtlSeconds (${service.cacheTtlSeconds}) must be shorter than service.messageRetentionDays (${service.messageRetentionDays} days), or a cached answer outlives the conversation it was written for.`,
  );
  if (service.image.kind === 'uri') {
    p(
      service.image.uri.includes(':') || service.image.uri.includes('@'),
      'service.image.uri must pin a tag or digest.',
    );
  }
}

function checkIngress(problems: Problems, ingress: IngressConfig, target: { account?: string }): void {
  const p = problems.check;
  p(
    ingress.certificateArn !== undefined || ingress.allowHttp,
    'ingress: set certificateArn for HTTPS, or set allowHttp: true explicitly (not allowed in prod).',
  );
  p(ingress.productionPort !== ingress.testPort, 'ingress.productionPort and ingress.testPort must differ.');
  const dns = [ingress.domainName, ingress.hostedZoneId, ingress.hostedZoneName].filter((v) => v !== undefined);
  p(dns.length === 0 || dns.length === 3, 'ingress: set domainName, hostedZoneId and hostedZoneName together.');
  const rate = ingress.firewall.requestsPerIpPerFiveMinutes;
  p(
    Number.isInteger(rate) && rate >= 10 && rate <= 2_000_000_000,
    `ingress.firewall.requestsPerIpPerFiveMinutes ${rate} must be a whole number from 10 (WAF's minimum) to 2,000,000,000.`,
  );
  if (ingress.certificateArn && target.account && !ingress.certificateArn.includes(`:${target.account}:`)) {
    problems.add(
      `ingress.certificateArn belongs to another account than the deploy target ${target.account}; set it to your ACM certificate.`,
    );
  }
}

function checkDeployment(problems: Problems, deployment: DeploymentConfig): void {
  checkBakeMinutes(problems, 'deployment.bakeTimeMinutes', deployment.bakeTimeMinutes);
  const { canary, linear } = deployment;
  if (deployment.strategy === 'CANARY') {
    checkTrafficShift(
      problems,
      'CANARY',
      canary && { percent: canary.canaryPercent, bake: canary.canaryBakeTimeMinutes },
    );
  }
  if (deployment.strategy === 'LINEAR') {
    checkTrafficShift(problems, 'LINEAR', linear && { percent: linear.stepPercent, bake: linear.stepBakeTimeMinutes });
  }
  checkGate(problems, deployment.gate);
}

/** A bake time ECS accepts: whole minutes, at most a day. */
function checkBakeMinutes(problems: Problems, field: string, minutes: number): void {
  problems.check(minutes >= 0 && minutes <= MAX_BAKE_MINUTES, `${field} ${minutes} must be 0–${MAX_BAKE_MINUTES}.`);
  problems.check(Number.isInteger(minutes), `${field} ${minutes} must be whole minutes.`);
}

/** The settings block each traffic-shifting strategy needs, and the smallest step ECS allows. */
const TRAFFIC_SHIFTS = {
  CANARY: {
    field: 'deployment.canary',
    percent: 'canaryPercent',
    bake: 'canaryBakeTimeMinutes',
    minPercent: 0.1,
    example: '5 or 12.5',
  },
  LINEAR: {
    field: 'deployment.linear',
    percent: 'stepPercent',
    bake: 'stepBakeTimeMinutes',
    minPercent: 3,
    example: '10 or 12.5',
  },
} as const;

/** The canary's first step or the linear strategy's every step: a traffic share, then a bake. */
function checkTrafficShift(
  problems: Problems,
  strategy: keyof typeof TRAFFIC_SHIFTS,
  settings: { percent: number; bake: number } | undefined,
): void {
  const spec = TRAFFIC_SHIFTS[strategy];
  if (!settings) {
    problems.add(`deployment.strategy '${strategy}' needs ${spec.field} { ${spec.percent}, ${spec.bake} }.`);
    return;
  }
  const { percent, bake } = settings;
  const percentField = `${spec.field}.${spec.percent}`;
  problems.check(
    percent >= spec.minPercent && percent <= 100,
    `${percentField} ${percent} must be ${spec.minPercent}–100.`,
  );
  problems.check(
    isStepOfTenth(percent),
    `${percentField} ${percent} must be a multiple of 0.1 (ECS), e.g. ${spec.example}.`,
  );
  checkBakeMinutes(problems, `${spec.field}.${spec.bake}`, bake);
}

function checkGate(problems: Problems, gate: GateSettings): void {
  const p = problems.check;
  p(
    isGateProfile(gate.profile),
    `deployment.gate.profile '${gate.profile}' is unknown; use one of ${GATE_PROFILES.join(', ')}.`,
  );
  p(gate.parallelism >= 1 && gate.parallelism <= 10, `deployment.gate.parallelism ${gate.parallelism} must be 1–10.`);
  const spec = GATE_PROFILE_SPECS[gate.profile];
  if (spec) {
    // The runner also needs time to start (image pull) and for setup()'s priming requests.
    const worstCaseMinutes = Math.ceil(
      (Math.max(maxDurationSeconds(spec.main), maxDurationSeconds(spec.fresh)) + spec.gracefulStopSeconds) / 60 +
        GATE_START_AND_SETUP_MINUTES,
    );
    p(
      worstCaseMinutes <= gate.timeoutMinutes,
      `deployment.gate.profile '${gate.profile}' can take up to ${worstCaseMinutes} min, longer than deployment.gate.timeoutMinutes (${gate.timeoutMinutes}); every deploy would fail as a gate error. Pick a shorter profile or raise the timeout.`,
    );
  }
  p(
    gate.timeoutMinutes >= 2 && gate.timeoutMinutes <= 55,
    `deployment.gate.timeoutMinutes ${gate.timeoutMinutes} must be 2–55 (the hook must answer within ECS's lifecycle-hook limit).`,
  );
}

/**
 * Monitoring reads two other sections: the instance class (to estimate max_connections) and the
 * bake time (the deployment alarms must be able to fire inside it).
 */
function checkMonitoring(problems: Problems, monitoring: MonitoringConfig, config: StageConfig): void {
  const p = problems.check;
  for (const email of monitoring.alarmEmails) {
    p(/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email), `monitoring.alarmEmails '${email}' is not an e-mail address.`);
  }
  p(
    [1, 5, 15].includes(monitoring.periodMinutes),
    `monitoring.periodMinutes ${monitoring.periodMinutes} must be 1, 5 or 15.`,
  );
  checkThresholds(problems, monitoring.thresholds, config.database.instanceType);
  checkEvaluations(problems, monitoring, config.deployment.bakeTimeMinutes);
  if (monitoring.runbookBaseUrl !== undefined) {
    p(
      /^(https:\/\/\S+|[A-Za-z0-9._-][A-Za-z0-9._/-]*)$/.test(monitoring.runbookBaseUrl) &&
        !monitoring.runbookBaseUrl.endsWith('/'),
      `monitoring.runbookBaseUrl '${monitoring.runbookBaseUrl}' must be an https URL or a repository path, without a trailing slash.`,
    );
  }
}

function checkThresholds(problems: Problems, t: MonitoringConfig['thresholds'], databaseInstanceType: string): void {
  const p = problems.check;
  p(
    t.p95LatencyMs > 0 && t.p95LatencyMs <= t.p99LatencyMs,
    'monitoring.thresholds: need 0 < p95LatencyMs <= p99LatencyMs.',
  );
  for (const [name, value] of Object.entries(t)) {
    if (value === undefined) continue; // optional thresholds fall back to a documented default
    p(Number.isFinite(value) && value >= 0, `monitoring.thresholds.${name} ${value} must be a non-negative number.`);
    if (name.endsWith('Percent') || name.endsWith('PercentOfMax')) {
      p(value <= 100, `monitoring.thresholds.${name} ${value} is a percentage; it must be <= 100.`);
    }
  }
  p(
    t.minRequestsPerPeriod >= 1,
    'monitoring.thresholds.minRequestsPerPeriod must be >= 1, or rate alarms page on silence.',
  );
  for (const name of ['minCacheLookupsPerPeriod', 'minLlmCallsPerPeriod'] as const) {
    p(t[name] >= 1, `monitoring.thresholds.${name} must be >= 1, or its rate alarm divides by zero on a quiet night.`);
  }
  if (t.dbMaxConnections !== undefined) {
    p(
      Number.isInteger(t.dbMaxConnections) && t.dbMaxConnections >= 1,
      `monitoring.thresholds.dbMaxConnections ${t.dbMaxConnections} must be a whole number >= 1 (the value of SHOW max_connections).`,
    );
  } else {
    p(
      estimateMaxConnections(databaseInstanceType) !== undefined,
      `monitoring.thresholds.dbMaxConnections is required: max_connections of database.instanceType '${databaseInstanceType}' cannot be estimated; set it to the value of SHOW max_connections.`,
    );
  }
}

function checkEvaluations(problems: Problems, monitoring: MonitoringConfig, bakeTimeMinutes: number): void {
  const p = problems.check;
  for (const [name, evaluation] of [
    ['symptomEvaluation', monitoring.symptomEvaluation],
    ['saturationEvaluation', monitoring.saturationEvaluation],
  ] as const) {
    const { datapointsToAlarm: m, evaluationPeriods: n } = evaluation;
    p(
      Number.isInteger(m) && Number.isInteger(n) && m >= 1 && m <= n,
      `monitoring.${name}: need whole numbers 1 <= datapointsToAlarm (${m}) <= evaluationPeriods (${n}).`,
    );
    p(
      n * monitoring.periodMinutes <= 1440,
      `monitoring.${name}: evaluationPeriods x periodMinutes is ${n * monitoring.periodMinutes} minutes; CloudWatch evaluates at most one day.`,
    );
  }
  const symptomMinutes = monitoring.symptomEvaluation.datapointsToAlarm * monitoring.periodMinutes;
  p(
    symptomMinutes <= bakeTimeMinutes,
    `monitoring.symptomEvaluation needs ${symptomMinutes} minutes of bad data to alarm, longer than deployment.bakeTimeMinutes (${bakeTimeMinutes}); the deployment alarms could never roll back. Lower datapointsToAlarm or periodMinutes.`,
  );
}

/** Prod must not be configurable into an unsafe state. */
function checkProdSafety(problems: Problems, config: StageConfig): void {
  const p = problems.check;
  const { network, database, cache, service, ingress, deployment, monitoring } = config;
  p(database.multiAz, 'prod: database.multiAz must be true (a single-AZ database is an outage waiting for an AZ).');
  p(database.deletionProtection, 'prod: database.deletionProtection must be true.');
  p(
    database.backupRetentionDays >= 7,
    `prod: database.backupRetentionDays must be >= 7 (is ${database.backupRetentionDays}).`,
  );
  p(
    network.availabilityZones.length >= 3,
    `prod: network.availabilityZones must list 3 AZs (has ${network.availabilityZones.length}).`,
  );
  p(
    cache.replicasPerNodeGroup >= 1,
    'prod: cache.replicasPerNodeGroup must be >= 1 (Multi-AZ with automatic failover needs a replica).',
  );
  p(service.minTaskCount >= 2, `prod: service.minTaskCount must be >= 2 (is ${service.minTaskCount}).`);
  p(!ingress.allowHttp, 'prod: ingress.allowHttp must be false; serve HTTPS with ingress.certificateArn.');
  p(ingress.certificateArn !== undefined, 'prod: ingress.certificateArn is required.');
  p(
    ingress.deletionProtection,
    'prod: ingress.deletionProtection must be true; the load balancer carries the public address.',
  );
  p(deployment.gate.enabled, 'prod: deployment.gate.enabled must be true; every prod rollout is gated.');
  p(
    monitoring.alarmEmails.length >= 1,
    'prod: monitoring.alarmEmails needs at least one address; alarms must reach someone.',
  );
  p(config.logRetentionDays >= 30, `prod: logRetentionDays must be >= 30 (is ${config.logRetentionDays}).`);
  p(config.retainLogGroups, 'prod: retainLogGroups must be true; its logs must outlive a deleted stack.');
  p(config.terminationProtection, 'prod: terminationProtection must be true (network and service stacks).');
}

/** Looks a stage up by name; an unknown name is an error that lists the known ones. */
export function getStageConfig(name: string): StageConfig {
  if (!(STAGE_NAMES as readonly string[]).includes(name)) {
    throw new StageConfigError(name, [
      `unknown stage '${name}'. Known stages: ${STAGE_NAMES.join(', ')}. Pass one with -c stage=<name>.`,
    ]);
  }
  return STAGES[name as StageName];
}

/**
 * `getStageConfig`, then the account fallback (CDK_DEFAULT_ACCOUNT, passed in by `bin/`), then
 * validation. The region always comes from the config, because the AZ names there belong to it.
 */
export function resolveStageConfig(name: string, fallback: { account?: string } = {}): StageConfig {
  const base = getStageConfig(name);
  const config: StageConfig = { ...base, env: { ...base.env, account: base.env.account ?? fallback.account } };
  return validateStageConfig(config, { account: config.env.account });
}

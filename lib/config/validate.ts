/**
 * Synth-time validation of a stage config. Every problem is collected, then thrown together, each
 * naming the bad value and what to change, so one synth shows everything that is wrong.
 */
import { GATE_PROFILES } from '../contract';
import { GATE_PROFILE_SPECS, maxDurationSeconds } from '../contract/gate-profiles';
import { estimateMaxConnections } from './db-connection-limit';
import {
  PIPELINE_CONFIG,
  type PipelineConfig,
  type PipelineStageConfig,
  STAGE_NAMES,
  STAGES,
  type StageConfig,
  type StageName,
} from './stage-config';

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

/** CloudWatch Logs accepts only these retention values (days). */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

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
  const problems: string[] = [];
  const p = (condition: boolean, message: string) => {
    if (!condition) problems.push(message);
  };
  const isProd = config.stage === 'prod';
  const { network, database, cache, service, ingress, deployment, monitoring } = config;

  // Naming and environment
  p(/^[a-z][a-z0-9-]{1,15}$/.test(config.appName), `appName '${config.appName}' must match [a-z][a-z0-9-]{1,15}.`);
  p(
    LOG_RETENTION_DAYS.includes(config.logRetentionDays),
    `logRetentionDays ${config.logRetentionDays} is not a CloudWatch Logs retention; use one of ${LOG_RETENTION_DAYS.join(', ')}.`,
  );

  // Network
  const azs = network.availabilityZones;
  p(azs.length >= 2, `network.availabilityZones has ${azs.length}; at least 2 are required for RDS and the ALB.`);
  p(new Set(azs).size === azs.length, `network.availabilityZones has duplicates: ${azs.join(', ')}.`);
  for (const az of azs) {
    p(az.startsWith(config.env.region), `network.availabilityZones '${az}' is not in region '${config.env.region}'.`);
  }
  p(
    network.natGateways >= 1 && network.natGateways <= azs.length,
    `network.natGateways ${network.natGateways} must be between 1 and the AZ count (${azs.length}); tasks need egress to reach the LLM.`,
  );

  // Database
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

  // Cache
  p(cache.port !== DEFAULT_REDIS_PORT, `cache.port must not be the default ${DEFAULT_REDIS_PORT}; use e.g. 6380.`);
  p(cache.port >= 1024 && cache.port <= 65535, `cache.port ${cache.port} must be 1024–65535.`);
  p(
    cache.replicasPerNodeGroup >= 0 && cache.replicasPerNodeGroup <= 5,
    `cache.replicasPerNodeGroup ${cache.replicasPerNodeGroup} must be 0–5.`,
  );
  p(/^\d+\.\d+$/.test(cache.engineVersion), `cache.engineVersion '${cache.engineVersion}' must look like '8.0'.`);

  // Service
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
  p(/^https?:\/\/\S+$/.test(service.llm.baseUrl), `service.llm.baseUrl '${service.llm.baseUrl}' is not a URL.`);
  p(service.llm.timeoutMs >= 1000, `service.llm.timeoutMs ${service.llm.timeoutMs} must be >= 1000.`);
  p(
    service.rotationPollSeconds >= 30 && service.rotationPollSeconds <= 3600,
    `service.rotationPollSeconds ${service.rotationPollSeconds} must be 30–3600 (a few reads an hour per task, far inside the rotation period).`,
  );
  p(service.cacheTtlSeconds >= 1, `service.cacheTtlSeconds ${service.cacheTtlSeconds} must be >= 1.`);
  if (service.image.kind === 'uri') {
    p(
      service.image.uri.includes(':') || service.image.uri.includes('@'),
      'service.image.uri must pin a tag or digest.',
    );
  }

  // Ingress
  p(
    ingress.certificateArn !== undefined || ingress.allowHttp,
    'ingress: set certificateArn for HTTPS, or set allowHttp: true explicitly (not allowed in prod).',
  );
  p(ingress.productionPort !== ingress.testPort, 'ingress.productionPort and ingress.testPort must differ.');
  const dns = [ingress.domainName, ingress.hostedZoneId, ingress.hostedZoneName].filter((v) => v !== undefined);
  p(dns.length === 0 || dns.length === 3, 'ingress: set domainName, hostedZoneId and hostedZoneName together.');
  if (ingress.certificateArn && target.account && !ingress.certificateArn.includes(`:${target.account}:`)) {
    problems.push(
      `ingress.certificateArn belongs to another account than the deploy target ${target.account}; set it to your ACM certificate.`,
    );
  }

  // Deployment
  p(
    deployment.bakeTimeMinutes >= 0 && deployment.bakeTimeMinutes <= MAX_BAKE_MINUTES,
    `deployment.bakeTimeMinutes ${deployment.bakeTimeMinutes} must be 0–${MAX_BAKE_MINUTES}.`,
  );
  p(
    Number.isInteger(deployment.bakeTimeMinutes),
    `deployment.bakeTimeMinutes ${deployment.bakeTimeMinutes} must be whole minutes.`,
  );
  if (deployment.strategy === 'CANARY') {
    const c = deployment.canary;
    p(
      c !== undefined,
      "deployment.strategy 'CANARY' needs deployment.canary { canaryPercent, canaryBakeTimeMinutes }.",
    );
    if (c) {
      p(
        c.canaryPercent >= 0.1 && c.canaryPercent <= 100,
        `deployment.canary.canaryPercent ${c.canaryPercent} must be 0.1–100.`,
      );
      p(
        c.canaryBakeTimeMinutes >= 0 && c.canaryBakeTimeMinutes <= MAX_BAKE_MINUTES,
        `deployment.canary.canaryBakeTimeMinutes ${c.canaryBakeTimeMinutes} must be 0–${MAX_BAKE_MINUTES}.`,
      );
      p(
        isStepOfTenth(c.canaryPercent),
        `deployment.canary.canaryPercent ${c.canaryPercent} must be a multiple of 0.1 (ECS), e.g. 5 or 12.5.`,
      );
      p(
        Number.isInteger(c.canaryBakeTimeMinutes),
        `deployment.canary.canaryBakeTimeMinutes ${c.canaryBakeTimeMinutes} must be whole minutes.`,
      );
    }
  }
  if (deployment.strategy === 'LINEAR') {
    const l = deployment.linear;
    p(l !== undefined, "deployment.strategy 'LINEAR' needs deployment.linear { stepPercent, stepBakeTimeMinutes }.");
    if (l) {
      p(l.stepPercent >= 3 && l.stepPercent <= 100, `deployment.linear.stepPercent ${l.stepPercent} must be 3–100.`);
      p(
        l.stepBakeTimeMinutes >= 0 && l.stepBakeTimeMinutes <= MAX_BAKE_MINUTES,
        `deployment.linear.stepBakeTimeMinutes ${l.stepBakeTimeMinutes} must be 0–${MAX_BAKE_MINUTES}.`,
      );
      p(
        isStepOfTenth(l.stepPercent),
        `deployment.linear.stepPercent ${l.stepPercent} must be a multiple of 0.1 (ECS), e.g. 10 or 12.5.`,
      );
      p(
        Number.isInteger(l.stepBakeTimeMinutes),
        `deployment.linear.stepBakeTimeMinutes ${l.stepBakeTimeMinutes} must be whole minutes.`,
      );
    }
  }
  const gate = deployment.gate;
  p(
    (GATE_PROFILES as readonly string[]).includes(gate.profile),
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

  // Monitoring
  for (const email of monitoring.alarmEmails) {
    p(/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email), `monitoring.alarmEmails '${email}' is not an e-mail address.`);
  }
  p(
    [1, 5, 15].includes(monitoring.periodMinutes),
    `monitoring.periodMinutes ${monitoring.periodMinutes} must be 1, 5 or 15.`,
  );
  const t = monitoring.thresholds;
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
      estimateMaxConnections(database.instanceType) !== undefined,
      `monitoring.thresholds.dbMaxConnections is required: max_connections of database.instanceType '${database.instanceType}' cannot be estimated; set it to the value of SHOW max_connections.`,
    );
  }
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
    symptomMinutes <= deployment.bakeTimeMinutes,
    `monitoring.symptomEvaluation needs ${symptomMinutes} minutes of bad data to alarm, longer than deployment.bakeTimeMinutes (${deployment.bakeTimeMinutes}); the deployment alarms could never roll back. Lower datapointsToAlarm or periodMinutes.`,
  );
  if (monitoring.runbookBaseUrl !== undefined) {
    p(
      /^(https:\/\/\S+|[A-Za-z0-9._-][A-Za-z0-9._/-]*)$/.test(monitoring.runbookBaseUrl) &&
        !monitoring.runbookBaseUrl.endsWith('/'),
      `monitoring.runbookBaseUrl '${monitoring.runbookBaseUrl}' must be an https URL or a repository path, without a trailing slash.`,
    );
  }

  // Prod must not be configurable into an unsafe state.
  if (isProd) {
    p(database.multiAz, 'prod: database.multiAz must be true (a single-AZ database is an outage waiting for an AZ).');
    p(database.deletionProtection, 'prod: database.deletionProtection must be true.');
    p(
      database.backupRetentionDays >= 7,
      `prod: database.backupRetentionDays must be >= 7 (is ${database.backupRetentionDays}).`,
    );
    p(azs.length >= 3, `prod: network.availabilityZones must list 3 AZs (has ${azs.length}).`);
    p(
      cache.replicasPerNodeGroup >= 1,
      'prod: cache.replicasPerNodeGroup must be >= 1 (Multi-AZ with automatic failover needs a replica).',
    );
    p(service.minTaskCount >= 2, `prod: service.minTaskCount must be >= 2 (is ${service.minTaskCount}).`);
    p(!ingress.allowHttp, 'prod: ingress.allowHttp must be false; serve HTTPS with ingress.certificateArn.');
    p(ingress.certificateArn !== undefined, 'prod: ingress.certificateArn is required.');
    p(gate.enabled, 'prod: deployment.gate.enabled must be true; every prod rollout is gated.');
    p(
      monitoring.alarmEmails.length >= 1,
      'prod: monitoring.alarmEmails needs at least one address; alarms must reach someone.',
    );
    p(config.logRetentionDays >= 30, `prod: logRetentionDays must be >= 30 (is ${config.logRetentionDays}).`);
  }

  if (problems.length > 0) throw new StageConfigError(config.stage, problems);
  return config;
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

/** A problem with PIPELINE_CONFIG; a StageConfigError, so `bin/` reports it the same way. */
export class PipelineConfigError extends StageConfigError {
  constructor(problems: readonly string[]) {
    super('pipeline', problems);
    this.message = `Pipeline config (PIPELINE_CONFIG in lib/config/stage-config.ts) is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`;
    this.name = 'PipelineConfigError';
  }
}

/** One pipeline stage with its stage config resolved (account fallback applied) and validated. */
export interface ResolvedPipelineStage extends PipelineStageConfig {
  readonly config: StageConfig;
}

export interface ResolvedPipeline {
  /** PIPELINE_CONFIG with the account fallback applied. */
  readonly config: PipelineConfig;
  readonly stages: readonly ResolvedPipelineStage[];
}

const CONNECTION_ARN =
  /^arn:aws[a-z-]*:(codestar-connections|codeconnections):([a-z0-9-]+):(\d{12}):connection\/[0-9a-f-]{36}$/;
const ANYWHERE = '0.0.0.0/0';

/**
 * `-c pipeline=` from the command line arrives as a string. Absent means `config.enabled`; anything
 * but true or false is a mistake worth stopping for, not a silent default.
 */
export function isPipelineEnabled(contextValue: unknown, config: PipelineConfig = PIPELINE_CONFIG): boolean {
  if (contextValue === undefined) return config.enabled;
  if (contextValue === true || contextValue === 'true') return true;
  if (contextValue === false || contextValue === 'false') return false;
  throw new PipelineConfigError([`-c pipeline=${String(contextValue)} must be true or false.`]);
}

/**
 * Checks the pipeline config against the stage configs it deploys (already resolved, in the same
 * order as `pipeline.stages`). `target.account` is the pipeline's account when known: like prod's
 * certificate, a connection from another account is refused only then, so offline synth works
 * with the placeholder.
 */
export function validatePipelineConfig(
  pipeline: PipelineConfig,
  stages: readonly (StageConfig | undefined)[],
  target: { account?: string } = {},
): PipelineConfig {
  const problems: string[] = [];
  const p = (condition: boolean, message: string) => {
    if (!condition) problems.push(message);
  };

  p(/^[a-z][a-z0-9-]{1,62}$/.test(pipeline.name), `name '${pipeline.name}' must match [a-z][a-z0-9-]{1,62}.`);
  p(
    LOG_RETENTION_DAYS.includes(pipeline.logRetentionDays),
    `logRetentionDays ${pipeline.logRetentionDays} is not a CloudWatch Logs retention; use one of ${LOG_RETENTION_DAYS.join(', ')}.`,
  );

  // Source
  const arn = CONNECTION_ARN.exec(pipeline.connectionArn);
  p(
    arn !== null,
    `connectionArn '${pipeline.connectionArn}' is not a connection ARN; create a connection (Developer Tools > Settings > Connections) and copy its ARN, e.g. arn:aws:codestar-connections:${pipeline.env.region}:111122223333:connection/<id>.`,
  );
  if (arn && target.account && arn[3] !== target.account) {
    problems.push(
      `connectionArn belongs to account ${arn[3]}, not the pipeline's account ${target.account}; create a connection in ${target.account} and set connectionArn to it.`,
    );
  }
  const { owner, name } = pipeline.repository;
  p(
    /^[A-Za-z0-9_.-]+$/.test(owner) && /^[A-Za-z0-9_.-]+$/.test(name),
    `repository '${owner}/${name}' must be an owner and a repository name, e.g. { owner: 'acme', name: 'chat-platform' }.`,
  );
  p(
    /^[^\s~^:?*[\\]+$/.test(pipeline.branch) && !pipeline.branch.startsWith('refs/'),
    `branch '${pipeline.branch}' must be a branch name such as 'main' (no refs/ prefix, no spaces).`,
  );

  // Stages
  p(pipeline.stages.length >= 1, 'stages is empty; list at least one stage to deploy.');
  const names = pipeline.stages.map((s) => s.stage);
  for (const name of names) {
    p(
      (STAGE_NAMES as readonly string[]).includes(name),
      `stages: unknown stage '${name}'. Known stages: ${STAGE_NAMES.join(', ')}.`,
    );
  }
  p(new Set(names).size === names.length, `stages lists a stage twice: ${names.join(', ')}.`);
  const order = names.map((n) => STAGE_NAMES.indexOf(n));
  p(
    order.every((index, i) => i === 0 || index > order[i - 1]),
    `stages must follow the release order ${STAGE_NAMES.join(' → ')} (is ${names.join(' → ')}): a release is proven in the earlier stage first.`,
  );
  for (const [i, stage] of pipeline.stages.entries()) {
    const where = `stages[${i}] (${stage.stage})`;
    p(
      (GATE_PROFILES as readonly string[]).includes(stage.gateProfile),
      `${where}: gateProfile '${stage.gateProfile}' is unknown; use one of ${GATE_PROFILES.join(', ')}.`,
    );
    const config = stages[i];
    if (!config) continue;
    p(
      config.env.region === pipeline.env.region,
      `${where}: region ${config.env.region} differs from the pipeline's ${pipeline.env.region}; multi-region deployment is out of scope (DESIGN.md), deploy the pipeline in the stages' region.`,
    );
    // The gate step runs in CodeBuild outside the stage's VPC, from addresses that are not fixed.
    p(
      config.ingress.allowedCidrs.includes(ANYWHERE),
      `${where}: ingress.allowedCidrs does not include ${ANYWHERE}, so the pipeline's gate step (CodeBuild, outside the VPC, no fixed address) cannot reach the production listener; allow ${ANYWHERE} or drop the stage from the pipeline.`,
    );
    const stageAccount = config.env.account ?? target.account;
    if (stageAccount && config.ingress.certificateArn && config.ingress.domainName === undefined) {
      problems.push(
        `${where}: ingress.certificateArn is set but ingress.domainName is not, so the gate would call https://<load balancer DNS name>, which the certificate does not name, and TLS verification fails; set domainName, hostedZoneId and hostedZoneName.`,
      );
    }
  }

  if (problems.length > 0) throw new PipelineConfigError(problems);
  return pipeline;
}

/**
 * PIPELINE_CONFIG with the account fallback (CDK_DEFAULT_ACCOUNT, passed in by `bin/`), and the
 * stage configs it deploys. A stage without its own account deploys into the pipeline's account.
 * Every stage config is validated for its target account, then the pipeline config, and every
 * problem of either is reported at once.
 */
export function resolvePipelineConfig(
  fallback: { account?: string } = {},
  base: PipelineConfig = PIPELINE_CONFIG,
): ResolvedPipeline {
  const account = base.env.account ?? fallback.account;
  const config: PipelineConfig = { ...base, env: { ...base.env, account } };
  const problems: string[] = [];
  const stages: ResolvedPipelineStage[] = [];
  const candidates: (StageConfig | undefined)[] = [];
  for (const stage of config.stages) {
    if (!(STAGE_NAMES as readonly string[]).includes(stage.stage)) {
      candidates.push(undefined); // reported by validatePipelineConfig
      continue;
    }
    const named = getStageConfig(stage.stage);
    const candidate: StageConfig = { ...named, env: { ...named.env, account: named.env.account ?? account } };
    candidates.push(candidate);
    try {
      stages.push({ ...stage, config: validateStageConfig(candidate, { account: candidate.env.account }) });
    } catch (err) {
      if (!(err instanceof StageConfigError)) throw err;
      problems.push(...err.problems.map((problem) => `stage '${stage.stage}' (STAGES.${stage.stage}): ${problem}`));
    }
  }
  try {
    validatePipelineConfig(config, candidates, { account });
  } catch (err) {
    if (!(err instanceof PipelineConfigError)) throw err;
    problems.push(...err.problems);
  }
  if (problems.length > 0) throw new PipelineConfigError(problems);
  return { config, stages };
}

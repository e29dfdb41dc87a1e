/**
 * Synth-time validation of PIPELINE_CONFIG against the stage configs it deploys: one checker per
 * part (source, stage list, each stage's target), every problem reported in one pass, as for the
 * stage configs (validate.ts).
 */
import { GATE_PROFILES, isGateProfile } from '../contract';
import { checkLogRetention, Problems } from './problems';
import {
  PIPELINE_CONFIG,
  type PipelineConfig,
  type PipelineStageConfig,
  STAGE_NAMES,
  type StageConfig,
} from './stage-config';
import { getStageConfig, StageConfigError, validateStageConfig } from './validate';

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
  const problems = new Problems();
  problems.check(
    /^[a-z][a-z0-9-]{1,62}$/.test(pipeline.name),
    `name '${pipeline.name}' must match [a-z][a-z0-9-]{1,62}.`,
  );
  checkLogRetention(problems, pipeline.logRetentionDays);
  checkSource(problems, pipeline, target);
  checkStageOrder(problems, pipeline.stages);
  for (const [i, stage] of pipeline.stages.entries()) {
    checkPipelineStage(problems, `stages[${i}] (${stage.stage})`, stage, stages[i], pipeline, target);
  }
  if (!problems.empty) throw new PipelineConfigError(problems.list);
  return pipeline;
}

/** The connection, repository and branch every release comes from. */
function checkSource(problems: Problems, pipeline: PipelineConfig, target: { account?: string }): void {
  const arn = CONNECTION_ARN.exec(pipeline.connectionArn);
  problems.check(
    arn !== null,
    `connectionArn '${pipeline.connectionArn}' is not a connection ARN; create a connection (Developer Tools > Settings > Connections) and copy its ARN, e.g. arn:aws:codestar-connections:${pipeline.env.region}:111122223333:connection/<id>.`,
  );
  if (arn && target.account && arn[3] !== target.account) {
    problems.add(
      `connectionArn belongs to account ${arn[3]}, not the pipeline's account ${target.account}; create a connection in ${target.account} and set connectionArn to it.`,
    );
  }
  const { owner, name } = pipeline.repository;
  problems.check(
    /^[A-Za-z0-9_.-]+$/.test(owner) && /^[A-Za-z0-9_.-]+$/.test(name),
    `repository '${owner}/${name}' must be an owner and a repository name, e.g. { owner: 'acme', name: 'chat-platform' }.`,
  );
  problems.check(
    /^[^\s~^:?*[\\]+$/.test(pipeline.branch) && !pipeline.branch.startsWith('refs/'),
    `branch '${pipeline.branch}' must be a branch name such as 'main' (no refs/ prefix, no spaces).`,
  );
}

/** Known stages, each once, in release order. */
function checkStageOrder(problems: Problems, stages: readonly PipelineStageConfig[]): void {
  problems.check(stages.length >= 1, 'stages is empty; list at least one stage to deploy.');
  const names = stages.map((s) => s.stage);
  for (const name of names) {
    problems.check(
      (STAGE_NAMES as readonly string[]).includes(name),
      `stages: unknown stage '${name}'. Known stages: ${STAGE_NAMES.join(', ')}.`,
    );
  }
  problems.check(new Set(names).size === names.length, `stages lists a stage twice: ${names.join(', ')}.`);
  const order = names.map((n) => STAGE_NAMES.indexOf(n));
  problems.check(
    order.every((index, i) => i === 0 || index > order[i - 1]),
    `stages must follow the release order ${STAGE_NAMES.join(' → ')} (is ${names.join(' → ')}): a release is proven in the earlier stage first.`,
  );
}

/** One stage as the pipeline deploys and gates it; `config` is undefined for an unknown stage. */
function checkPipelineStage(
  problems: Problems,
  where: string,
  stage: PipelineStageConfig,
  config: StageConfig | undefined,
  pipeline: PipelineConfig,
  target: { account?: string },
): void {
  problems.check(
    isGateProfile(stage.gateProfile),
    `${where}: gateProfile '${stage.gateProfile}' is unknown; use one of ${GATE_PROFILES.join(', ')}.`,
  );
  if (!config) return;
  problems.check(
    config.env.region === pipeline.env.region,
    `${where}: region ${config.env.region} differs from the pipeline's ${pipeline.env.region}; multi-region deployment is out of scope (DESIGN.md), deploy the pipeline in the stages' region.`,
  );
  // The gate step runs in CodeBuild outside the stage's VPC, from addresses that are not fixed.
  problems.check(
    config.ingress.allowedCidrs.includes(ANYWHERE),
    `${where}: ingress.allowedCidrs does not include ${ANYWHERE}, so the pipeline's gate step (CodeBuild, outside the VPC, no fixed address) cannot reach the production listener; allow ${ANYWHERE} or drop the stage from the pipeline.`,
  );
  const stageAccount = config.env.account ?? target.account;
  if (stageAccount && config.ingress.certificateArn && config.ingress.domainName === undefined) {
    problems.add(
      `${where}: ingress.certificateArn is set but ingress.domainName is not, so the gate would call https://<load balancer DNS name>, which the certificate does not name, and TLS verification fails; set domainName, hostedZoneId and hostedZoneName.`,
    );
  }
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

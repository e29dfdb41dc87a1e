/**
 * Relations between components: limits set in different places (the load balancer, the service,
 * the database, the gate, the alarms) that only work together when one stays below the other.
 * Each is declared once here, checked at synth for every stage (validateStageConfig), listed in
 * docs/architecture.md ("Relations between components", generated from this catalogue), and has a
 * test that a config violating it is refused (test/infra/relations.test.ts).
 *
 * A violation names both sides, their values in the stage, and what breaks.
 */
import { DB_POOL, inEnvRange, LLM_RETRY_POLICY, SERVICE_HEAP_LIMIT_MIB, worstCaseRequestMs } from '../contract';
import {
  GATE_PROFILE_SPECS,
  gateChatRequestsPerTarget,
  maxDurationSeconds,
  type ProfileSpec,
} from '../contract/gate-profiles';
import { configuredMaxConnections } from './db-connection-limit';
import type { Problems } from './problems';
import { hasGatePrincipal, type StageConfig } from './stage-config';

/** Budget for the k6 runner task to start (image pull) and for setup() to prime the cache. */
export const GATE_START_AND_SETUP_MINUTES = 3;

/** The service re-reads rotated secrets every ROTATION_POLL_SECONDS ± this share (service/src/secrets). */
const ROTATION_POLL_JITTER = 0.2;

/** Both colours run at full size while ECS shifts traffic and bakes (blue/green, canary and linear alike). */
const DEPLOYMENT_COLOURS = 2;

export interface RelationValues {
  readonly left: number;
  readonly right: number;
  /** What the values were computed from in this stage (e.g. the gate profile), when it is not obvious. */
  readonly detail?: string;
}

export interface Relation {
  /** Kebab-case, stable: it starts every message. */
  readonly name: string;
  /** The side that must be smaller, as a setting or a computed quantity. */
  readonly left: string;
  /** The side that bounds it. */
  readonly right: string;
  readonly op: '<' | '<=';
  readonly unit: string;
  /** What breaks when it does not hold. */
  readonly why: string;
  /** Both sides in a stage; `undefined` when a side cannot be known (another check reports why). */
  readonly measure: (config: StageConfig) => RelationValues | undefined;
}

/** The longest a gate profile's k6 run takes: start and setup, the longer scenario, its graceful stop. */
export function gateWorstCaseSeconds(spec: ProfileSpec): number {
  return (
    GATE_START_AND_SETUP_MINUTES * 60 +
    Math.max(maxDurationSeconds(spec.main), maxDurationSeconds(spec.fresh)) +
    spec.gracefulStopSeconds
  );
}

const ALB_IDLE = 'ingress.idleTimeoutSeconds (the ALB idle timeout)';

export const RELATIONS: readonly Relation[] = [
  {
    name: 'alb-idle-below-keep-alive',
    left: ALB_IDLE,
    right: 'service.keepAliveTimeoutSeconds (KEEP_ALIVE_TIMEOUT_SECONDS, announced as `Keep-Alive: timeout=N`)',
    op: '<',
    unit: 's',
    why: 'a target that closes an idle connection before the load balancer does gets sporadic 502s; AWS asks for a target keep-alive longer than the idle timeout (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html#connection-idle-timeout)',
    measure: (c) => ({ left: c.ingress.idleTimeoutSeconds, right: c.service.keepAliveTimeoutSeconds }),
  },
  {
    name: 'request-within-alb-idle',
    left: `the worst-case request: ${LLM_RETRY_POLICY.maxAttempts} attempts × service.llm.timeoutMs + retry waits + database, cache and JWKS budgets (lib/contract/time-budgets.ts)`,
    right: ALB_IDLE,
    op: '<',
    unit: 's',
    why: 'a JSON answer sends no byte until it is done, and the load balancer answers 504 for a connection idle longer than its timeout',
    measure: (c) => ({ left: worstCaseRequestMs(c.service.llm.timeoutMs) / 1000, right: c.ingress.idleTimeoutSeconds }),
  },
  {
    name: 'gate-run-within-hook-timeout',
    left: "the gate's worst-case run: runner start and setup (3 min) + the profile's longer scenario + graceful stop",
    right: 'deployment.gate.timeoutMinutes (the hook answers FAILED after it)',
    op: '<=',
    unit: 'min',
    why: 'a profile that cannot finish in time fails every deploy as a gate error; pick a shorter profile or raise the timeout',
    measure: (c) => {
      const spec = GATE_PROFILE_SPECS[c.deployment.gate.profile];
      if (!spec) return undefined; // an unknown profile is reported by the gate checks
      return {
        left: Math.ceil(gateWorstCaseSeconds(spec) / 60),
        right: c.deployment.gate.timeoutMinutes,
        detail: `profile '${spec.name}'`,
      };
    },
  },
  {
    name: 'gate-within-request-quota',
    left: "a relative gate run's chat requests to both targets, whose quota counts add up in the one cache they share: 2 × gateChatRequestsPerTarget(profile) (priming, main, fresh, ttft and hit pairs)",
    right:
      "the gate principal's request quota: service.quotas.gateRequestsPerMinute (QUOTA_GATE_REQUESTS_PER_MINUTE) with a gate principal (Cognito, or auth.gateClient.principal), else service.quotas.requestsPerPrincipalPerMinute",
    op: '<=',
    unit: 'requests',
    why: "the gate is one principal: past its quota it is answered 429 and fails the deploy. Conservative on purpose (the whole run must fit in one quota minute). Raise service.quotas.gateRequestsPerMinute (with an external issuer, name the gate's sub in auth.gateClient.principal first), not every principal's quota",
    measure: (c) => {
      if (!c.deployment.gate.enabled) return undefined;
      const spec = GATE_PROFILE_SPECS[c.deployment.gate.profile];
      if (!spec) return undefined; // an unknown profile is reported by the gate checks
      const named = hasGatePrincipal(c.auth);
      return {
        left: DEPLOYMENT_COLOURS * gateChatRequestsPerTarget(spec, true),
        right: named ? c.service.quotas.gateRequestsPerMinute : c.service.quotas.requestsPerPrincipalPerMinute,
        detail: `profile '${spec.name}'${named ? '' : ', no gate principal'}`,
      };
    },
  },
  {
    name: 'drain-within-stop-timeout',
    left: 'service.drainTimeoutMs (DRAIN_TIMEOUT_MS) + 1 s',
    right: 'service.stopTimeoutSeconds (the ECS stop timeout, then SIGKILL)',
    op: '<=',
    unit: 'ms',
    why: 'requests still in flight when the stop timeout ends are killed with the task',
    measure: (c) => ({ left: c.service.drainTimeoutMs + 1000, right: c.service.stopTimeoutSeconds * 1000 }),
  },
  {
    name: 'db-pool-within-connection-alarm',
    left: `the app's connections at most: ${DB_POOL.maxConnectionsPerTask} per task (DB_POOL) × service.maxTaskCount × ${DEPLOYMENT_COLOURS} colours during a deployment`,
    right:
      "the connection alarm's threshold: monitoring.thresholds.dbConnectionsPercentOfMax of max_connections (dbMaxConnections, else estimated for database.instanceType)",
    op: '<=',
    unit: 'connections',
    why: 'a deployment at full scale would page (and approach the limit, where new connections are refused) with nothing wrong; raise the instance class or lower maxTaskCount',
    measure: (c) => {
      const max = configuredMaxConnections(c);
      if (max === undefined) return undefined; // the thresholds check asks for dbMaxConnections
      return {
        left: DB_POOL.maxConnectionsPerTask * c.service.maxTaskCount * DEPLOYMENT_COLOURS,
        right: Math.floor((max * c.monitoring.thresholds.dbConnectionsPercentOfMax) / 100),
      };
    },
  },
  {
    name: 'token-quota-fits-one-request',
    left: "one request's reservation: service.llm.contextBudgetTokens + service.llm.maxOutputTokens",
    right: 'service.quotas.llmTokensPerPrincipalPerMinute (QUOTA_LLM_TOKENS_PER_MINUTE)',
    op: '<=',
    unit: 'tokens',
    why: 'each call reserves its input budget plus its output cap first; a smaller quota refuses every call with a full context',
    measure: (c) => ({
      left: c.service.llm.contextBudgetTokens + c.service.llm.maxOutputTokens,
      right: c.service.quotas.llmTokensPerPrincipalPerMinute,
    }),
  },
  {
    name: 'cache-ttl-covers-soak',
    left: "the soak profile's hit-rate window: runner start and setup (3 min, when the popular answers are primed) + its main scenario + graceful stop",
    right: 'service.cacheTtlSeconds (CACHE_TTL_SECONDS)',
    op: '<=',
    unit: 's',
    why: `answers primed in setup() must still be cached when the soak's last requests ask for them, or its hit-rate target (> ${GATE_PROFILE_SPECS.soak.targets.minCacheHitRate * 100}%) fails on expiry, not on a defect`,
    measure: (c) => ({ left: gateWorstCaseSeconds(GATE_PROFILE_SPECS.soak), right: c.service.cacheTtlSeconds }),
  },
  {
    name: 'heap-within-task-memory',
    left: `the service's heap limit (SERVICE_HEAP_LIMIT_MIB, ${SERVICE_HEAP_LIMIT_MIB} MiB: --max-old-space-size in the image) × 2`,
    right: 'service.memoryMiB (the Fargate task size)',
    op: '<=',
    unit: 'MiB',
    why: 'a heap allowed to grow to the whole task leaves nothing for the rest of the process (buffers, code, the young generation), and the task is killed out of memory instead of V8 collecting; a task with at least twice the heap limit keeps that room',
    measure: (c) => ({ left: 2 * SERVICE_HEAP_LIMIT_MIB, right: c.service.memoryMiB }),
  },
  {
    name: 'cache-ttl-within-retention',
    left: 'service.cacheTtlSeconds (CACHE_TTL_SECONDS)',
    right: 'service.messageRetentionDays (MESSAGE_RETENTION_DAYS)',
    op: '<',
    unit: 's',
    why: 'retention deletes rows, not cache entries: a cached answer would outlive the conversation it was written for, and could be replayed after its messages are gone',
    // A side outside its own contract range is reported by the range check, once.
    measure: (c) =>
      inEnvRange('CACHE_TTL_SECONDS', c.service.cacheTtlSeconds) &&
      inEnvRange('MESSAGE_RETENTION_DAYS', c.service.messageRetentionDays)
        ? { left: c.service.cacheTtlSeconds, right: c.service.messageRetentionDays * 86_400 }
        : undefined,
  },
  {
    name: 'rotation-poll-within-rotation-period',
    left: `service.rotationPollSeconds (ROTATION_POLL_SECONDS) + ${ROTATION_POLL_JITTER * 100}% jitter`,
    right: 'database.appUserRotationDays (the app user rotation period)',
    op: '<',
    unit: 's',
    why: 'alternating users: the previous credentials work until the next rotation, so a task must re-read the secret within one period or its next login is rejected',
    measure: (c) => ({
      left: Math.ceil(c.service.rotationPollSeconds * (1 + ROTATION_POLL_JITTER)),
      right: c.database.appUserRotationDays * 86_400,
    }),
  },
  {
    name: 'alarm-within-bake',
    left: 'monitoring.symptomEvaluation.datapointsToAlarm × monitoring.periodMinutes (bad data before a deployment alarm fires)',
    right: 'deployment.bakeTimeMinutes',
    op: '<=',
    unit: 'min',
    why: 'the deployment alarms could never roll back a bad version; lower datapointsToAlarm or periodMinutes',
    measure: (c) => ({
      left: c.monitoring.symptomEvaluation.datapointsToAlarm * c.monitoring.periodMinutes,
      right: c.deployment.bakeTimeMinutes,
    }),
  },
];

const OP_WORDS = { '<': 'below', '<=': 'at most' } as const;

const holds = (op: Relation['op'], { left, right }: RelationValues): boolean =>
  op === '<' ? left < right : left <= right;

/** The violation message: both sides with their values, and what breaks. */
export function relationProblem(relation: Relation, values: RelationValues): string {
  const { name, left, right, op, unit, why } = relation;
  const detail = values.detail ? ` (${values.detail})` : '';
  return `relation ${name}: ${left}${detail} is ${values.left} ${unit}, which must be ${OP_WORDS[op]} ${right}, ${values.right} ${unit}; ${why}.`;
}

/** Checks every relation of the catalogue; each violation adds one problem. */
export function checkRelations(problems: Problems, config: StageConfig, relations = RELATIONS): void {
  for (const relation of relations) {
    const values = relation.measure(config);
    if (values !== undefined && !holds(relation.op, values)) problems.add(relationProblem(relation, values));
  }
}

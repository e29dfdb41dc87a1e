/**
 * What an alarm policy is, and one builder per kind of alarm that fills in what every alarm of
 * that kind shares (comparison, missing-data treatment and why, evaluation, how it is built), after
 * cdk-monitoring-constructs' alarm factories. The catalogue (alarm-catalogue.ts) then states, per
 * alarm, only what is special about it.
 */
import { ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { type AlarmEvaluation, type AlarmThresholds, physicalName, type StageConfig } from '../config';
import type { AlarmId } from './alarm-names';

/**
 * - `symptom`: what users feel; `monitoring.symptomEvaluation` (fits the bake time, so the
 *   deployment alarms can roll back).
 * - `saturation`: resources filling up; `monitoring.saturationEvaluation`.
 * - `first-datapoint`: one bad period is enough (credentials, a failed gate, any LLM 429).
 */
export type EvaluationPolicy = 'symptom' | 'saturation' | 'first-datapoint';

/** `stage`: one alarm. `cache-node`: one per cache node. `cache-node-if-replicated`: per node, only with replicas. */
export type AlarmScope = 'stage' | 'cache-node' | 'cache-node-if-replicated';

export interface AlarmPolicy {
  readonly id: AlarmId;
  readonly title: string;
  /** The metric (or metric math) in words, for the catalogue. */
  readonly metric: string;
  readonly comparison: ComparisonOperator;
  /** The number CloudWatch compares against, in the metric's unit. */
  threshold(config: StageConfig): number;
  /** The threshold as a person reads it, with the config field it comes from. */
  thresholdText(config: StageConfig): string;
  readonly treatMissingData: TreatMissingData;
  /** Why that treatment is right for this metric. */
  readonly missingDataReason: string;
  readonly evaluation: EvaluationPolicy;
  readonly implementedBy: 'cdk-monitoring-constructs' | 'hand-written';
  readonly scope: AlarmScope;
  /** A member of the composite `service-degraded` alarm (the page). */
  readonly pages: boolean;
  /** Listed in the ECS service's deployment alarms: ALARM during a deployment rolls it back. */
  readonly rollsBack: boolean;
  /** What is wrong, as the first sentence of the alarm description. */
  sentence(config: StageConfig, node?: string): string;
}

/** The evaluation (M of N periods) an alarm uses. */
export function evaluationOf(config: StageConfig, policy: EvaluationPolicy): AlarmEvaluation {
  if (policy === 'symptom') return config.monitoring.symptomEvaluation;
  if (policy === 'saturation') return config.monitoring.saturationEvaluation;
  return { datapointsToAlarm: 1, evaluationPeriods: 1 };
}

/** "in 3 of the last 5 1-minute periods", "for 3 consecutive 5-minute periods", "in the last 5-minute period". */
export function windowText(config: StageConfig, policy: EvaluationPolicy): string {
  const { datapointsToAlarm: m, evaluationPeriods: n } = evaluationOf(config, policy);
  const period = `${config.monitoring.periodMinutes}-minute period`;
  if (n === 1) return `in the last ${period}`;
  if (m === n) return `for ${n} consecutive ${period}s`;
  return `in ${m} of the last ${n} ${period}s`;
}

/** A numeric threshold field of the stage config. */
export type ThresholdField = {
  [K in keyof AlarmThresholds]-?: AlarmThresholds[K] extends number ? K : never;
}[keyof AlarmThresholds];

/** How a threshold is written after its number, and what it is multiplied by for CloudWatch. */
export interface Unit {
  readonly text: string;
  readonly toMetric: number;
}
export const PERCENT: Unit = { text: '%', toMetric: 1 };
export const MS: Unit = { text: ' ms', toMetric: 1 };
export const SECONDS: Unit = { text: ' s', toMetric: 1 };
export const PER_PERIOD: Unit = { text: ' per period', toMetric: 1 };
export const GIB: Unit = { text: ' GiB', toMetric: 1024 ** 3 };
export const MIB: Unit = { text: ' MiB', toMetric: 1024 ** 2 };
/** A count of things: `> 0 targets`. */
export const count = (noun: string): Unit => ({ text: ` ${noun}`, toMetric: 1 });

export interface Threshold {
  readonly comparison: ComparisonOperator;
  /** The threshold in the config's unit: what the alarm's sentence says. */
  limit(config: StageConfig): number;
  /** What CloudWatch compares against, in the metric's unit. */
  value(config: StageConfig): number;
  text(config: StageConfig): string;
}

const SYMBOL: Partial<Record<ComparisonOperator, string>> = {
  [ComparisonOperator.GREATER_THAN_THRESHOLD]: '>',
  [ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD]: '>=',
  [ComparisonOperator.LESS_THAN_THRESHOLD]: '<',
};

function fromConfig(comparison: ComparisonOperator, field: ThresholdField, unit: Unit): Threshold {
  const limit = (config: StageConfig) => config.monitoring.thresholds[field];
  return {
    comparison,
    limit,
    value: (config) => limit(config) * unit.toMetric,
    text: (config) => `${SYMBOL[comparison]} ${limit(config)}${unit.text} (${field})`,
  };
}

/** Alarms when the metric is above `monitoring.thresholds[field]`. */
export const above = (field: ThresholdField, unit: Unit) =>
  fromConfig(ComparisonOperator.GREATER_THAN_THRESHOLD, field, unit);
/** Alarms when the metric is below `monitoring.thresholds[field]`. */
export const below = (field: ThresholdField, unit: Unit) =>
  fromConfig(ComparisonOperator.LESS_THAN_THRESHOLD, field, unit);

/** A 0/1 metric: 1 is the alarm, nothing to tune. */
export const FLAG: Threshold = {
  comparison: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
  limit: () => 1,
  value: () => 1,
  text: () => '>= 1 (a 0/1 flag; not tunable)',
};

export interface MissingData {
  readonly treat: TreatMissingData;
  /** Why, after the treatment's name: "notBreaching: <because>". */
  readonly because: string;
}
export const notBreaching = (because: string): MissingData => ({ treat: TreatMissingData.NOT_BREACHING, because });
export const breaching = (because: string): MissingData => ({ treat: TreatMissingData.BREACHING, because });

/** A rate whose expression has no datapoint below a minimum of `what` (requests, lookups, calls). */
const guarded = (what: string) =>
  notBreaching(
    `the expression has no datapoint while traffic is below the minimum-${what} guard; a quiet night is not an outage.`,
  );
/** A count of bad events. */
const NO_EVENTS = notBreaching(
  'the metric is a count of bad events and no datapoint means none happened (or no task is running, which the task-count alarms report).',
);
/** A gauge AWS publishes by itself. */
const AWS_GAUGE: MissingData = {
  treat: TreatMissingData.MISSING,
  because:
    'AWS publishes this gauge every minute while the resource exists, so a gap says nothing about the threshold; the alarm keeps its state (INSUFFICIENT_DATA when the gap lasts) and the application alarms page if the resource is really gone.',
};

/** What an alarm's sentence may use, so it never restates its threshold or its window. */
export interface SentenceFacts {
  readonly config: StageConfig;
  /** The threshold in the config's unit. */
  readonly limit: number;
  /** The evaluation window in words: "for 3 consecutive 5-minute periods". */
  readonly window: string;
  /** The service, database and cache names: `chat-prod-api`, `chat-prod-db`, `chat-prod-cache`. */
  readonly app: string;
  readonly db: string;
  readonly cache: string;
  /** The cache node of a per-node alarm: `chat-prod-cache-001`. */
  readonly node: string;
}

/** Everything an alarm states; each kind's builder fills in the rest. */
export interface AlarmSpec {
  readonly id: AlarmId;
  readonly title: string;
  readonly metric: string;
  readonly threshold: Threshold;
  readonly missingData: MissingData;
  readonly evaluation: EvaluationPolicy;
  /** @default 'hand-written' */
  readonly implementedBy?: AlarmPolicy['implementedBy'];
  /** @default 'stage' - one alarm for the stage */
  readonly scope?: AlarmScope;
  /** @default false - notifies, does not page */
  readonly pages?: boolean;
  /** @default false - a deployment does not watch it */
  readonly rollsBack?: boolean;
  readonly says: (facts: SentenceFacts) => string;
}

/** The one place an {@link AlarmSpec} becomes an {@link AlarmPolicy}. */
export function alarm(spec: AlarmSpec): AlarmPolicy {
  const { threshold, missingData, evaluation } = spec;
  return {
    id: spec.id,
    title: spec.title,
    metric: spec.metric,
    comparison: threshold.comparison,
    threshold: threshold.value,
    thresholdText: threshold.text,
    treatMissingData: missingData.treat,
    missingDataReason: `${missingData.treat}: ${missingData.because}`,
    evaluation,
    implementedBy: spec.implementedBy ?? 'hand-written',
    scope: spec.scope ?? 'stage',
    pages: spec.pages ?? false,
    rollsBack: spec.rollsBack ?? false,
    sentence: (config, node = '') =>
      spec.says({
        config,
        limit: threshold.limit(config),
        window: windowText(config, evaluation),
        app: physicalName(config, 'api'),
        db: physicalName(config, 'db'),
        cache: physicalName(config, 'cache'),
        node: `${physicalName(config, 'cache')}-${node}`,
      }),
  };
}

type Optional<T, K extends keyof T> = Omit<T, K> & Partial<Pick<T, K>>;

/**
 * A share of traffic (5xx, hit rate, LLM errors) computed by metric math that has no datapoint
 * below a minimum of `guard` (requests, lookups, calls) per period. What users feel: a symptom.
 */
export function guardedRate(
  spec: Optional<Omit<AlarmSpec, 'missingData'>, 'evaluation'> & {
    /** @default 'request' - the 5xx and latency guard, thresholds.minRequestsPerPeriod */
    readonly guard?: 'request' | 'lookup' | 'call';
  },
): AlarmPolicy {
  const { guard = 'request', ...rest } = spec;
  return alarm({ evaluation: 'symptom', ...rest, missingData: guarded(guard) });
}

/**
 * Where a latency alarm's milliseconds are measured. The alarm's metric is wired in the stacks; its
 * policy only needs to say whose latency it is, in the title and in the page's sentence.
 */
export interface LatencySource {
  /** The title's subject: `Service` gives "Service p95 latency". */
  readonly subject: string;
  /** The measurement in the sentence, after "The <percentile> ": `response time of chat-prod-api (...)`. */
  readonly measurement: (app: string) => string;
}

/** The ALB's `TargetResponseTime`, the slower of the blue and green target groups (`BlueGreenMetrics.latencyMs`). */
export const TARGET_RESPONSE_TIME: LatencySource = {
  subject: 'Service',
  measurement: (app) => `response time of ${app} (the slower of the blue and green target groups)`,
};

/** The service's own EMF `RequestLatency` of the chat routes, over all tasks (`AppMetrics.latencyMs`). */
export const APP_REQUEST_LATENCY: LatencySource = {
  subject: 'App',
  measurement: (app) => `request latency that ${app} measures on its chat routes (all tasks)`,
};

/** A latency percentile in milliseconds above its stage threshold, from any source, guarded like a rate. */
export function latency(
  percentile: 'p95' | 'p99',
  source: LatencySource,
  spec: Pick<AlarmSpec, 'id' | 'metric' | 'pages' | 'rollsBack'> & {
    /** @default `<percentile>LatencyMs` */
    readonly threshold?: ThresholdField;
  },
): AlarmPolicy {
  const { threshold = `${percentile}LatencyMs`, ...rest } = spec;
  return guardedRate({
    ...rest,
    title: `${source.subject} ${percentile} latency`,
    threshold: above(threshold, MS),
    says: ({ app, limit, window }) => `The ${percentile} ${source.measurement(app)} was above ${limit} ms ${window}.`,
  });
}

/** A count of bad events per period, above `field`. */
export function eventCount(
  field: ThresholdField,
  spec: Optional<Omit<AlarmSpec, 'threshold'>, 'missingData'>,
): AlarmPolicy {
  return alarm({ missingData: NO_EVENTS, ...spec, threshold: above(field, PER_PERIOD) });
}

/**
 * A rejected password or AUTH token anywhere: a rotation gone wrong does not heal by itself, so
 * the first bad period pages.
 */
export function credentialFailures(
  spec: Optional<Omit<AlarmSpec, 'threshold' | 'evaluation' | 'pages'>, 'missingData'>,
): AlarmPolicy {
  return eventCount('maxAuthFailuresPerPeriod', { evaluation: 'first-datapoint', pages: true, ...spec });
}

/** A resource gauge AWS publishes by itself (RDS, ElastiCache): saturation, and a gap keeps the state. */
export function awsGauge(spec: Optional<Omit<AlarmSpec, 'missingData'>, 'evaluation'>): AlarmPolicy {
  return alarm({ evaluation: 'saturation', ...spec, missingData: AWS_GAUGE });
}

/** A 0/1 flag the application or the gate writes only when it has something to say. */
export function flag(spec: Omit<AlarmSpec, 'threshold' | 'missingData'> & { readonly silence: string }): AlarmPolicy {
  const { silence, ...rest } = spec;
  return alarm({ ...rest, threshold: FLAG, missingData: notBreaching(silence) });
}

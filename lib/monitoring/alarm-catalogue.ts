/**
 * The alarm policy of every alarm: what it watches, its threshold (always from the stage config),
 * comparison, missing-data treatment and why, how many periods must breach, and the one sentence
 * that tells the person paged what is wrong. The Monitoring stack wires these to metrics,
 * docs/monitoring.md is generated from them, and the runbook test checks one runbook per ID.
 */
import { ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { type AlarmEvaluation, physicalName, type StageConfig } from '../config';
import { estimateMaxConnections } from '../config/db-connection-limit';
import { ALARM_IDS, type AlarmId, alarmName, nodeAlarmName } from './alarm-names';
import { cacheNodeIds } from './data-metrics';

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

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;
const GT = ComparisonOperator.GREATER_THAN_THRESHOLD;
const GTE = ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD;
const LT = ComparisonOperator.LESS_THAN_THRESHOLD;

const t = (config: StageConfig) => config.monitoring.thresholds;
const app = (config: StageConfig) => physicalName(config, 'api');
/** `chat-prod-cache-001` from `001`. */
const cacheNode = (config: StageConfig, node = '') => `${physicalName(config, 'cache')}-${node}`;

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

/** The `max_connections` the connection alarm measures against (configured, else estimated). */
export function dbConnectionLimit(config: StageConfig): number {
  const limit = t(config).dbMaxConnections ?? estimateMaxConnections(config.database.instanceType);
  if (limit === undefined) {
    // validateStageConfig refuses this combination; reaching it means an unvalidated config.
    throw new Error(
      `Cannot estimate max_connections of database.instanceType '${config.database.instanceType}'; set monitoring.thresholds.dbMaxConnections.`,
    );
  }
  return limit;
}

const NOT_BREACHING_GUARDED =
  'notBreaching: the expression has no datapoint while traffic is below the minimum-request guard; a quiet night is not an outage.';
const NOT_BREACHING_EVENTS =
  'notBreaching: the metric is a count of bad events and no datapoint means none happened (or no task is running, which the task-count alarms report).';
const MISSING_AWS_GAUGE =
  'missing: AWS publishes this gauge every minute while the resource exists, so a gap says nothing about the threshold; the alarm keeps its state (INSUFFICIENT_DATA when the gap lasts) and the application alarms page if the resource is really gone.';

const policies: readonly AlarmPolicy[] = [
  {
    id: ALARM_IDS.serverErrorRate,
    title: 'Service 5xx rate',
    metric:
      '100 × (HTTPCode_Target_5XX_Count blue + green + HTTPCode_ELB_5XX_Count) / (RequestCount blue + green + HTTPCode_ELB_5XX_Count), Sum; no datapoint below thresholds.minRequestsPerPeriod requests',
    comparison: GT,
    threshold: (c) => t(c).serverErrorRatePercent,
    thresholdText: (c) => `> ${t(c).serverErrorRatePercent}% (serverErrorRatePercent)`,
    treatMissingData: TreatMissingData.NOT_BREACHING,
    missingDataReason: NOT_BREACHING_GUARDED,
    evaluation: 'symptom',
    implementedBy: 'hand-written',
    scope: 'stage',
    pages: true,
    rollsBack: true,
    sentence: (c) =>
      `More than ${t(c).serverErrorRatePercent}% of requests to ${app(c)} were answered with a 5xx (blue and green target groups plus the load balancer's own) ${windowText(c, 'symptom')}.`,
  },
  {
    id: ALARM_IDS.p95Latency,
    title: 'Service p95 latency',
    metric:
      '1000 × MAX(TargetResponseTime p95 of blue, of green), each counted only with >= thresholds.minRequestsPerPeriod requests in the period',
    comparison: GT,
    threshold: (c) => t(c).p95LatencyMs,
    thresholdText: (c) => `> ${t(c).p95LatencyMs} ms (p95LatencyMs)`,
    treatMissingData: TreatMissingData.NOT_BREACHING,
    missingDataReason: NOT_BREACHING_GUARDED,
    evaluation: 'symptom',
    implementedBy: 'hand-written',
    scope: 'stage',
    pages: true,
    rollsBack: true,
    sentence: (c) =>
      `The p95 response time of ${app(c)} (the slower of the blue and green target groups) was above ${t(c).p95LatencyMs} ms ${windowText(c, 'symptom')}.`,
  },
  {
    id: ALARM_IDS.p99Latency,
    title: 'Service p99 latency',
    metric: 'as service-p95-latency, with p99',
    comparison: GT,
    threshold: (c) => t(c).p99LatencyMs,
    thresholdText: (c) => `> ${t(c).p99LatencyMs} ms (p99LatencyMs)`,
    treatMissingData: TreatMissingData.NOT_BREACHING,
    missingDataReason: NOT_BREACHING_GUARDED,
    evaluation: 'symptom',
    implementedBy: 'hand-written',
    scope: 'stage',
    pages: false,
    rollsBack: false,
    sentence: (c) =>
      `The p99 response time of ${app(c)} (the slower of the blue and green target groups) was above ${t(c).p99LatencyMs} ms ${windowText(c, 'symptom')}.`,
  },
  {
    id: ALARM_IDS.unhealthyHosts,
    title: 'Unhealthy targets',
    metric: 'UnHealthyHostCount blue + green, Maximum',
    comparison: GT,
    threshold: (c) => t(c).maxUnhealthyHosts,
    thresholdText: (c) => `> ${t(c).maxUnhealthyHosts} targets (maxUnhealthyHosts)`,
    treatMissingData: TreatMissingData.NOT_BREACHING,
    missingDataReason:
      'notBreaching: both groups are filled with 0, so a gap only happens when the load balancer publishes nothing at all, which the 5xx and task-count alarms cover.',
    evaluation: 'symptom',
    implementedBy: 'hand-written',
    scope: 'stage',
    pages: true,
    rollsBack: false,
    sentence: (c) =>
      `More than ${t(c).maxUnhealthyHosts} of ${app(c)}'s tasks failed the load balancer's health check (GET /health/ready) ${windowText(c, 'symptom')}.`,
  },
  {
    id: ALARM_IDS.tasksBelowDesired,
    title: 'Running tasks below desired',
    metric: 'Container Insights DesiredTaskCount − RunningTaskCount, Average',
    comparison: GT,
    threshold: (c) => t(c).maxTasksBelowDesired,
    thresholdText: (c) => `> ${t(c).maxTasksBelowDesired} tasks (maxTasksBelowDesired)`,
    treatMissingData: TreatMissingData.BREACHING,
    missingDataReason:
      'breaching: Container Insights reports the desired count every minute while the service exists; silence means the service, its cluster or Container Insights is gone, and somebody must look.',
    evaluation: 'symptom',
    implementedBy: 'hand-written',
    scope: 'stage',
    pages: true,
    rollsBack: false,
    sentence: (c) =>
      `ECS ran fewer ${app(c)} tasks than desired (short by more than ${t(c).maxTasksBelowDesired}) ${windowText(c, 'symptom')}.`,
  },
  {
    id: ALARM_IDS.serviceCpu,
    title: 'Service CPU',
    metric: 'AWS/ECS CPUUtilization (cluster, service), Average',
    comparison: GT,
    threshold: (c) => t(c).serviceCpuPercent,
    thresholdText: (c) => `> ${t(c).serviceCpuPercent}% (serviceCpuPercent)`,
    treatMissingData: TreatMissingData.NOT_BREACHING,
    missingDataReason:
      'notBreaching: ECS publishes CPU only while tasks run; no tasks means no CPU to be high, and service-tasks-below-desired reports the missing tasks.',
    evaluation: 'saturation',
    implementedBy: 'cdk-monitoring-constructs',
    scope: 'stage',
    pages: false,
    rollsBack: false,
    sentence: (c) =>
      `${app(c)}'s tasks used more than ${t(c).serviceCpuPercent}% of their CPU on average ${windowText(c, 'saturation')}.`,
  },
  {
    id: ALARM_IDS.serviceMemory,
    title: 'Service memory',
    metric: 'AWS/ECS MemoryUtilization (cluster, service), Average',
    comparison: GT,
    threshold: (c) => t(c).serviceMemoryPercent,
    thresholdText: (c) => `> ${t(c).serviceMemoryPercent}% (serviceMemoryPercent)`,
    treatMissingData: TreatMissingData.NOT_BREACHING,
    missingDataReason:
      'notBreaching: ECS publishes memory only while tasks run; service-tasks-below-desired reports the missing tasks.',
    evaluation: 'saturation',
    implementedBy: 'cdk-monitoring-constructs',
    scope: 'stage',
    pages: false,
    rollsBack: false,
    sentence: (c) =>
      `${app(c)}'s tasks used more than ${t(c).serviceMemoryPercent}% of their memory on average ${windowText(c, 'saturation')}.`,
  },
  {
    id: ALARM_IDS.cacheHitRate,
    title: 'Cache hit rate',
    metric:
      '100 × CacheHit / (CacheHit + CacheMiss + CacheBypass), Sum (ChatApi); no datapoint below thresholds.minCacheLookupsPerPeriod lookups',
    comparison: LT,
    threshold: (c) => t(c).minCacheHitRatePercent,
    thresholdText: (c) => `< ${t(c).minCacheHitRatePercent}% (minCacheHitRatePercent)`,
    treatMissingData: TreatMissingData.NOT_BREACHING,
    missingDataReason: NOT_BREACHING_GUARDED.replace('minimum-request guard', 'minimum-lookup guard'),
    evaluation: 'saturation',
    implementedBy: 'hand-written',
    scope: 'stage',
    pages: false,
    rollsBack: false,
    sentence: (c) =>
      `Fewer than ${t(c).minCacheHitRatePercent}% of ${app(c)}'s chat requests were answered from the cache (bypasses count as misses) ${windowText(c, 'saturation')}.`,
  },
  {
    id: ALARM_IDS.cacheUnavailable,
    title: 'Cache unavailable',
    metric: 'CacheUnavailable (0/1 per task and interval), Maximum (ChatApi)',
    comparison: GTE,
    threshold: () => 1,
    thresholdText: () => '>= 1 (a 0/1 flag; not tunable)',
    treatMissingData: TreatMissingData.NOT_BREACHING,
    missingDataReason:
      'notBreaching: tasks write the flag (0 while the cache works) with every interval that saw traffic; no datapoint means no traffic or no task, and the task-count alarms report missing tasks.',
    evaluation: 'symptom',
    implementedBy: 'hand-written',
    scope: 'stage',
    pages: true,
    rollsBack: false,
    sentence: (c) =>
      `${app(c)} could not use its cache and served requests without it (readiness 'degraded') ${windowText(c, 'symptom')}.`,
  },
  {
    id: ALARM_IDS.llmThrottled,
    title: 'LLM throttled (429)',
    metric: 'LlmThrottled, Sum (ChatApi)',
    comparison: GT,
    threshold: (c) => t(c).maxLlmThrottledPerPeriod,
    thresholdText: (c) => `> ${t(c).maxLlmThrottledPerPeriod} per period (maxLlmThrottledPerPeriod)`,
    treatMissingData: TreatMissingData.NOT_BREACHING,
    missingDataReason: NOT_BREACHING_EVENTS,
    evaluation: 'first-datapoint',
    implementedBy: 'hand-written',
    scope: 'stage',
    pages: false,
    rollsBack: false,
    sentence: (c) =>
      `The LLM provider answered ${app(c)} with 429 (rate limited) more than ${t(c).maxLlmThrottledPerPeriod} times ${windowText(c, 'first-datapoint')}.`,
  },
  {
    id: ALARM_IDS.llmErrorRate,
    title: 'LLM error rate',
    metric: '100 × LlmErrors / LlmCalls, Sum (ChatApi); no datapoint below thresholds.minLlmCallsPerPeriod calls',
    comparison: GT,
    threshold: (c) => t(c).llmErrorRatePercent,
    thresholdText: (c) => `> ${t(c).llmErrorRatePercent}% (llmErrorRatePercent)`,
    treatMissingData: TreatMissingData.NOT_BREACHING,
    missingDataReason: NOT_BREACHING_GUARDED.replace('minimum-request guard', 'minimum-call guard'),
    evaluation: 'symptom',
    implementedBy: 'hand-written',
    scope: 'stage',
    pages: false,
    rollsBack: false,
    sentence: (c) =>
      `More than ${t(c).llmErrorRatePercent}% of ${app(c)}'s LLM calls failed with a 5xx, a timeout or a network error ${windowText(c, 'symptom')}.`,
  },
  {
    id: ALARM_IDS.dbErrors,
    title: 'Database errors',
    metric: 'DbErrors, Sum (ChatApi)',
    comparison: GT,
    threshold: (c) => t(c).maxDbErrorsPerPeriod,
    thresholdText: (c) => `> ${t(c).maxDbErrorsPerPeriod} per period (maxDbErrorsPerPeriod)`,
    treatMissingData: TreatMissingData.NOT_BREACHING,
    missingDataReason: NOT_BREACHING_EVENTS,
    evaluation: 'symptom',
    implementedBy: 'hand-written',
    scope: 'stage',
    pages: false,
    rollsBack: false,
    sentence: (c) =>
      `${app(c)} had more than ${t(c).maxDbErrorsPerPeriod} failed database operations per period ${windowText(c, 'symptom')}.`,
  },
  {
    id: ALARM_IDS.authFailures,
    title: 'Credential failures (app)',
    metric: 'AuthFailures (Postgres password or cache AUTH token rejected), Sum (ChatApi)',
    comparison: GT,
    threshold: (c) => t(c).maxAuthFailuresPerPeriod,
    thresholdText: (c) => `> ${t(c).maxAuthFailuresPerPeriod} per period (maxAuthFailuresPerPeriod)`,
    treatMissingData: TreatMissingData.NOT_BREACHING,
    missingDataReason: NOT_BREACHING_EVENTS,
    evaluation: 'first-datapoint',
    implementedBy: 'hand-written',
    scope: 'stage',
    pages: true,
    rollsBack: false,
    sentence: (c) =>
      `Postgres or the cache rejected ${app(c)}'s credentials (wrong password or AUTH token) more than ${t(c).maxAuthFailuresPerPeriod} times ${windowText(c, 'first-datapoint')}.`,
  },
  {
    id: ALARM_IDS.dbCpu,
    title: 'Database CPU',
    metric: 'AWS/RDS CPUUtilization, Average',
    comparison: GT,
    threshold: (c) => t(c).dbCpuPercent,
    thresholdText: (c) => `> ${t(c).dbCpuPercent}% (dbCpuPercent)`,
    treatMissingData: TreatMissingData.MISSING,
    missingDataReason: MISSING_AWS_GAUGE,
    evaluation: 'saturation',
    implementedBy: 'cdk-monitoring-constructs',
    scope: 'stage',
    pages: false,
    rollsBack: false,
    sentence: (c) =>
      `The CPU of database ${physicalName(c, 'db')} was above ${t(c).dbCpuPercent}% ${windowText(c, 'saturation')}.`,
  },
  {
    id: ALARM_IDS.dbFreeStorage,
    title: 'Database free storage',
    metric: 'AWS/RDS FreeStorageSpace (bytes), Maximum',
    comparison: LT,
    threshold: (c) => t(c).dbMinFreeStorageGiB * GIB,
    thresholdText: (c) => `< ${t(c).dbMinFreeStorageGiB} GiB (dbMinFreeStorageGiB)`,
    treatMissingData: TreatMissingData.MISSING,
    missingDataReason: MISSING_AWS_GAUGE,
    evaluation: 'saturation',
    implementedBy: 'cdk-monitoring-constructs',
    scope: 'stage',
    pages: false,
    rollsBack: false,
    sentence: (c) =>
      `Database ${physicalName(c, 'db')} had less than ${t(c).dbMinFreeStorageGiB} GiB of free storage ${windowText(c, 'saturation')} (autoscaling stops at ${c.database.maxAllocatedStorageGiB} GiB).`,
  },
  {
    id: ALARM_IDS.dbConnections,
    title: 'Database connections',
    metric: 'AWS/RDS DatabaseConnections, Maximum',
    comparison: GT,
    threshold: (c) => Math.floor((dbConnectionLimit(c) * t(c).dbConnectionsPercentOfMax) / 100),
    thresholdText: (c) =>
      `> ${Math.floor((dbConnectionLimit(c) * t(c).dbConnectionsPercentOfMax) / 100)} connections (dbConnectionsPercentOfMax ${t(c).dbConnectionsPercentOfMax}% of max_connections ${dbConnectionLimit(c)}, ${t(c).dbMaxConnections === undefined ? `estimated for ${c.database.instanceType}` : 'dbMaxConnections'})`,
    treatMissingData: TreatMissingData.MISSING,
    missingDataReason: MISSING_AWS_GAUGE,
    evaluation: 'saturation',
    implementedBy: 'hand-written',
    scope: 'stage',
    pages: false,
    rollsBack: false,
    sentence: (c) =>
      `Database ${physicalName(c, 'db')} had more than ${t(c).dbConnectionsPercentOfMax}% of its ${dbConnectionLimit(c)} connections open ${windowText(c, 'saturation')}.`,
  },
  {
    id: ALARM_IDS.dbFreeableMemory,
    title: 'Database freeable memory',
    metric: 'AWS/RDS FreeableMemory (bytes), Minimum',
    comparison: LT,
    threshold: (c) => t(c).dbMinFreeableMemoryMiB * MIB,
    thresholdText: (c) => `< ${t(c).dbMinFreeableMemoryMiB} MiB (dbMinFreeableMemoryMiB)`,
    treatMissingData: TreatMissingData.MISSING,
    missingDataReason: MISSING_AWS_GAUGE,
    evaluation: 'saturation',
    implementedBy: 'hand-written',
    scope: 'stage',
    pages: false,
    rollsBack: false,
    sentence: (c) =>
      `Database ${physicalName(c, 'db')} had less than ${t(c).dbMinFreeableMemoryMiB} MiB of freeable memory ${windowText(c, 'saturation')}.`,
  },
  {
    id: ALARM_IDS.dbAuthFailures,
    title: 'Database password failures',
    metric: 'Metric filter "password authentication failed" on the instance\'s postgresql log, Sum',
    comparison: GT,
    threshold: (c) => t(c).maxAuthFailuresPerPeriod,
    thresholdText: (c) => `> ${t(c).maxAuthFailuresPerPeriod} per period (maxAuthFailuresPerPeriod)`,
    treatMissingData: TreatMissingData.NOT_BREACHING,
    missingDataReason:
      'notBreaching: the metric filter writes a datapoint only when log lines arrive; no line means no failed login.',
    evaluation: 'first-datapoint',
    implementedBy: 'hand-written',
    scope: 'stage',
    pages: true,
    rollsBack: false,
    sentence: (c) =>
      `Database ${physicalName(c, 'db')} rejected a password login more than ${t(c).maxAuthFailuresPerPeriod} times ${windowText(c, 'first-datapoint')}.`,
  },
  {
    id: ALARM_IDS.cacheEngineCpu,
    title: 'Cache engine CPU',
    metric: 'AWS/ElastiCache EngineCPUUtilization of the node, Maximum',
    comparison: GT,
    threshold: (c) => t(c).cacheEngineCpuPercent,
    thresholdText: (c) => `> ${t(c).cacheEngineCpuPercent}% (cacheEngineCpuPercent)`,
    treatMissingData: TreatMissingData.MISSING,
    missingDataReason: MISSING_AWS_GAUGE,
    evaluation: 'saturation',
    implementedBy: 'cdk-monitoring-constructs',
    scope: 'cache-node',
    pages: false,
    rollsBack: false,
    sentence: (c, node) =>
      `The engine thread of cache node ${cacheNode(c, node)} was busier than ${t(c).cacheEngineCpuPercent}% ${windowText(c, 'saturation')}.`,
  },
  {
    id: ALARM_IDS.cacheMemory,
    title: 'Cache memory',
    metric: 'AWS/ElastiCache DatabaseMemoryUsagePercentage of the node, Maximum',
    comparison: GT,
    threshold: (c) => t(c).cacheMemoryPercent,
    thresholdText: (c) => `> ${t(c).cacheMemoryPercent}% (cacheMemoryPercent)`,
    treatMissingData: TreatMissingData.MISSING,
    missingDataReason: MISSING_AWS_GAUGE,
    evaluation: 'saturation',
    implementedBy: 'hand-written',
    scope: 'cache-node',
    pages: false,
    rollsBack: false,
    sentence: (c, node) =>
      `Cache node ${cacheNode(c, node)} used more than ${t(c).cacheMemoryPercent}% of its maxmemory ${windowText(c, 'saturation')}.`,
  },
  {
    id: ALARM_IDS.cacheEvictions,
    title: 'Cache evictions',
    metric: 'AWS/ElastiCache Evictions of the node, Sum',
    comparison: GT,
    threshold: (c) => t(c).cacheEvictionsPerPeriod,
    thresholdText: (c) => `> ${t(c).cacheEvictionsPerPeriod} per period (cacheEvictionsPerPeriod)`,
    treatMissingData: TreatMissingData.NOT_BREACHING,
    missingDataReason: NOT_BREACHING_EVENTS,
    evaluation: 'saturation',
    implementedBy: 'cdk-monitoring-constructs',
    scope: 'cache-node',
    pages: false,
    rollsBack: false,
    sentence: (c, node) =>
      `Cache node ${cacheNode(c, node)} evicted more than ${t(c).cacheEvictionsPerPeriod} keys per period to make room ${windowText(c, 'saturation')}.`,
  },
  {
    id: ALARM_IDS.cacheConnections,
    title: 'Cache connections',
    metric: 'AWS/ElastiCache CurrConnections of the node, Maximum',
    comparison: GT,
    threshold: (c) => t(c).cacheMaxConnections,
    thresholdText: (c) => `> ${t(c).cacheMaxConnections} connections (cacheMaxConnections)`,
    treatMissingData: TreatMissingData.MISSING,
    missingDataReason: MISSING_AWS_GAUGE,
    evaluation: 'saturation',
    implementedBy: 'hand-written',
    scope: 'cache-node',
    pages: false,
    rollsBack: false,
    sentence: (c, node) =>
      `Cache node ${cacheNode(c, node)} had more than ${t(c).cacheMaxConnections} client connections open ${windowText(c, 'saturation')}.`,
  },
  {
    id: ALARM_IDS.cacheReplicationLag,
    title: 'Cache replication lag',
    metric: 'AWS/ElastiCache ReplicationLag of the node (seconds), Maximum',
    comparison: GT,
    threshold: (c) => t(c).cacheReplicationLagSeconds,
    thresholdText: (c) => `> ${t(c).cacheReplicationLagSeconds} s (cacheReplicationLagSeconds)`,
    treatMissingData: TreatMissingData.NOT_BREACHING,
    missingDataReason:
      "notBreaching: only replicas publish ReplicationLag, and which node is the primary changes at every failover; the primary's silence is normal.",
    evaluation: 'saturation',
    implementedBy: 'hand-written',
    scope: 'cache-node-if-replicated',
    pages: false,
    rollsBack: false,
    sentence: (c, node) =>
      `Cache node ${cacheNode(c, node)} lagged more than ${t(c).cacheReplicationLagSeconds} s behind the primary ${windowText(c, 'saturation')}.`,
  },
  {
    id: ALARM_IDS.cacheAuthFailures,
    title: 'Cache AUTH failures',
    metric: 'AWS/ElastiCache AuthenticationFailures, summed over every node, Sum',
    comparison: GT,
    threshold: (c) => t(c).maxAuthFailuresPerPeriod,
    thresholdText: (c) => `> ${t(c).maxAuthFailuresPerPeriod} per period (maxAuthFailuresPerPeriod)`,
    treatMissingData: TreatMissingData.NOT_BREACHING,
    missingDataReason: NOT_BREACHING_EVENTS,
    evaluation: 'first-datapoint',
    implementedBy: 'hand-written',
    scope: 'stage',
    pages: true,
    rollsBack: false,
    sentence: (c) =>
      `Cache ${physicalName(c, 'cache')} rejected an AUTH token more than ${t(c).maxAuthFailuresPerPeriod} times ${windowText(c, 'first-datapoint')}.`,
  },
  {
    id: ALARM_IDS.gateFailed,
    title: 'k6 gate failed',
    metric: 'MAX(GateFailed, GateError), Maximum (ChatPlatform/Gate)',
    comparison: GTE,
    threshold: () => 1,
    thresholdText: () => '>= 1 (a 0/1 flag; not tunable)',
    treatMissingData: TreatMissingData.NOT_BREACHING,
    missingDataReason:
      'notBreaching: the gate reports only when a deployment runs it; no deployment, no datapoint, nothing wrong.',
    evaluation: 'first-datapoint',
    implementedBy: 'hand-written',
    scope: 'stage',
    pages: false,
    rollsBack: true,
    sentence: (c) =>
      `The k6 gate failed a new version of ${app(c)} (thresholds breached, or no verdict: the runner did not start, crashed or timed out) ${windowText(c, 'first-datapoint')}.`,
  },
];

/** Every metric alarm's policy, by ID (the composite is {@link SERVICE_DEGRADED}). */
export const ALARM_POLICIES: ReadonlyMap<AlarmId, AlarmPolicy> = new Map(policies.map((p) => [p.id, p]));

/**
 * The page. Its rule is `ALARM(x) OR ...` over every policy with `pages: true`: users get errors
 * or slow answers (5xx, p95), capacity is gone (unhealthy targets, tasks below desired), the cache
 * is off (readiness 'degraded'), or credentials are rejected anywhere (they do not heal by
 * themselves, and only this service and its rotation functions can reach Postgres and the cache).
 * Saturation, LLM trouble, p99 and the gate notify but do not page: they either warn before users
 * notice or already show up in the 5xx and latency alarms, and a failed gate has already rolled
 * its deployment back.
 */
export const SERVICE_DEGRADED = {
  id: ALARM_IDS.serviceDegraded,
  title: 'Service degraded (composite, the page)',
  members: policies.filter((p) => p.pages).map((p) => p.id),
  sentence: (config: StageConfig) =>
    `${app(config)} is degraded for users: at least one of ${policies
      .filter((p) => p.pages)
      .map((p) => alarmName(config, p.id))
      .join(', ')} is in ALARM.`,
} as const;

export interface AlarmInstance {
  readonly id: AlarmId;
  /** The CloudWatch alarm name. */
  readonly name: string;
  /** The cache node (`001`, ...) for per-node alarms. */
  readonly node?: string;
  /** The full cache node id (`chat-prod-cache-001`), the CacheClusterId dimension. */
  readonly nodeId?: string;
}

/** The cache nodes of a stage: `{ node: '001', nodeId: 'chat-prod-cache-001' }`, ... */
export function cacheNodes(config: StageConfig): { node: string; nodeId: string }[] {
  return cacheNodeIds(physicalName(config, 'cache'), 1 + config.cache.replicasPerNodeGroup).map((nodeId) => ({
    nodeId,
    node: nodeId.slice(-3),
  }));
}

/** Every alarm a stage has, composite included, in catalogue order. */
export function alarmInstances(config: StageConfig): AlarmInstance[] {
  const replicated = config.cache.replicasPerNodeGroup >= 1;
  const instances = policies.flatMap((p): AlarmInstance[] => {
    if (p.scope === 'stage') return [{ id: p.id, name: alarmName(config, p.id) }];
    if (p.scope === 'cache-node-if-replicated' && !replicated) return [];
    return cacheNodes(config).map(({ node, nodeId }) => ({
      id: p.id,
      name: nodeAlarmName(config, p.id, node),
      node,
      nodeId,
    }));
  });
  return [...instances, { id: SERVICE_DEGRADED.id, name: alarmName(config, SERVICE_DEGRADED.id) }];
}

/** Every alarm ID of the catalogue, composite included. */
export const ALL_ALARM_IDS: readonly AlarmId[] = [...policies.map((p) => p.id), SERVICE_DEGRADED.id];

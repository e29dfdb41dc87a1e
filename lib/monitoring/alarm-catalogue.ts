/**
 * The alarm policy of every alarm: what it watches, its threshold (always from the stage config),
 * comparison, missing-data treatment and why, how many periods must breach, and the one sentence
 * that tells the person paged what is wrong. Each entry is built by the builder of its kind
 * (alarm-policy.ts), which fills in what the kind shares, so an entry states only what is special
 * about it. The Monitoring stack wires these to metrics (the Service stack wires the three
 * deployment alarms), docs/monitoring.md is generated from them, and the runbook test checks one
 * runbook per ID.
 */
import { physicalName, type StageConfig } from '../config';
import { configuredMaxConnections } from '../config/db-connection-limit';
import { ALARM_IDS, type AlarmId, alarmName, nodeAlarmName } from './alarm-names';
import {
  type AlarmPolicy,
  above,
  alarm,
  awsGauge,
  below,
  breaching,
  count,
  credentialFailures,
  eventCount,
  flag,
  GIB,
  guardedRate,
  latency,
  MIB,
  notBreaching,
  PERCENT,
  SECONDS,
  TARGET_RESPONSE_TIME,
  type Threshold,
} from './alarm-policy';
import { cacheNodeIds } from './data-metrics';

export { type AlarmPolicy, type AlarmScope, type EvaluationPolicy, evaluationOf, windowText } from './alarm-policy';

/** The `max_connections` the connection alarm measures against (configured, else estimated). */
export function dbConnectionLimit(config: StageConfig): number {
  const limit = configuredMaxConnections(config);
  if (limit === undefined) {
    // validateStageConfig refuses this combination; reaching it means an unvalidated config.
    throw new Error(
      `Cannot estimate max_connections of database.instanceType '${config.database.instanceType}'; set monitoring.thresholds.dbMaxConnections.`,
    );
  }
  return limit;
}

/** A share of max_connections: the limit is the percentage, CloudWatch compares a connection count. */
const DB_CONNECTIONS: Threshold = (() => {
  const share = above('dbConnectionsPercentOfMax', PERCENT);
  const connections = (c: StageConfig) => Math.floor((dbConnectionLimit(c) * share.limit(c)) / 100);
  const source = (c: StageConfig) =>
    c.monitoring.thresholds.dbMaxConnections === undefined
      ? `estimated for ${c.database.instanceType}`
      : 'dbMaxConnections';
  return {
    ...share,
    value: connections,
    text: (c) =>
      `> ${connections(c)} connections (dbConnectionsPercentOfMax ${share.limit(c)}% of max_connections ${dbConnectionLimit(c)}, ${source(c)})`,
  };
})();

const policies: readonly AlarmPolicy[] = [
  guardedRate({
    id: ALARM_IDS.serverErrorRate,
    title: 'Service 5xx rate',
    metric:
      '100 × (HTTPCode_Target_5XX_Count blue + green + HTTPCode_ELB_5XX_Count) / (RequestCount blue + green + HTTPCode_ELB_5XX_Count), Sum; no datapoint below thresholds.minRequestsPerPeriod requests',
    threshold: above('serverErrorRatePercent', PERCENT),
    pages: true,
    rollsBack: true,
    says: ({ app, limit, window }) =>
      `More than ${limit}% of requests to ${app} were answered with a 5xx (blue and green target groups plus the load balancer's own) ${window}.`,
  }),
  latency('p95', TARGET_RESPONSE_TIME, {
    id: ALARM_IDS.p95Latency,
    metric:
      '1000 × MAX(TargetResponseTime p95 of blue, of green), each counted only with >= thresholds.minRequestsPerPeriod requests in the period',
    pages: true,
    rollsBack: true,
  }),
  latency('p99', TARGET_RESPONSE_TIME, { id: ALARM_IDS.p99Latency, metric: 'as service-p95-latency, with p99' }),
  alarm({
    id: ALARM_IDS.unhealthyHosts,
    title: 'Unhealthy targets',
    metric: 'UnHealthyHostCount blue + green, Maximum',
    threshold: above('maxUnhealthyHosts', count('targets')),
    missingData: notBreaching(
      'both groups are filled with 0, so a gap only happens when the load balancer publishes nothing at all, which the 5xx and task-count alarms cover.',
    ),
    evaluation: 'symptom',
    pages: true,
    says: ({ app, limit, window }) =>
      `More than ${limit} of ${app}'s tasks failed the load balancer's health check (GET /health/ready) ${window}.`,
  }),
  alarm({
    id: ALARM_IDS.tasksBelowDesired,
    title: 'Running tasks below desired',
    metric: 'Container Insights DesiredTaskCount − RunningTaskCount, Average',
    threshold: above('maxTasksBelowDesired', count('tasks')),
    missingData: breaching(
      'Container Insights reports the desired count every minute while the service exists; silence means the service, its cluster or Container Insights is gone, and somebody must look.',
    ),
    evaluation: 'symptom',
    pages: true,
    says: ({ app, limit, window }) =>
      `ECS ran fewer ${app} tasks than desired (short by more than ${limit}) ${window}.`,
  }),
  alarm({
    id: ALARM_IDS.serviceCpu,
    title: 'Service CPU',
    metric: 'AWS/ECS CPUUtilization (cluster, service), Average',
    threshold: above('serviceCpuPercent', PERCENT),
    missingData: notBreaching(
      'ECS publishes CPU only while tasks run; no tasks means no CPU to be high, and service-tasks-below-desired reports the missing tasks.',
    ),
    evaluation: 'saturation',
    implementedBy: 'cdk-monitoring-constructs',
    says: ({ app, limit, window }) => `${app}'s tasks used more than ${limit}% of their CPU on average ${window}.`,
  }),
  alarm({
    id: ALARM_IDS.serviceMemory,
    title: 'Service memory',
    metric: 'AWS/ECS MemoryUtilization (cluster, service), Average',
    threshold: above('serviceMemoryPercent', PERCENT),
    missingData: notBreaching(
      'ECS publishes memory only while tasks run; service-tasks-below-desired reports the missing tasks.',
    ),
    evaluation: 'saturation',
    implementedBy: 'cdk-monitoring-constructs',
    says: ({ app, limit, window }) => `${app}'s tasks used more than ${limit}% of their memory on average ${window}.`,
  }),
  guardedRate({
    id: ALARM_IDS.cacheHitRate,
    title: 'Cache hit rate',
    metric:
      '100 × CacheHit / (CacheHit + CacheMiss + CacheBypass), Sum (ChatApi); no datapoint below thresholds.minCacheLookupsPerPeriod lookups',
    threshold: below('minCacheHitRatePercent', PERCENT),
    guard: 'lookup',
    // A cold or churning cache costs money and latency, but users are still answered.
    evaluation: 'saturation',
    says: ({ app, limit, window }) =>
      `Fewer than ${limit}% of ${app}'s chat requests were answered from the cache (bypasses count as misses) ${window}.`,
  }),
  flag({
    id: ALARM_IDS.cacheUnavailable,
    title: 'Cache unavailable',
    metric: 'CacheUnavailable (0/1 per task and interval), Maximum (ChatApi)',
    silence:
      'tasks write the flag (0 while the cache works) with every interval that saw traffic; no datapoint means no traffic or no task, and the task-count alarms report missing tasks.',
    evaluation: 'symptom',
    pages: true,
    says: ({ app, window }) =>
      `${app} could not use its cache and served requests without it (readiness 'degraded') ${window}.`,
  }),
  eventCount('maxLlmThrottledPerPeriod', {
    id: ALARM_IDS.llmThrottled,
    title: 'LLM throttled (429)',
    metric: 'LlmThrottled, Sum (ChatApi)',
    evaluation: 'first-datapoint',
    says: ({ app, limit, window }) =>
      `The LLM provider answered ${app} with 429 (rate limited) more than ${limit} times ${window}.`,
  }),
  guardedRate({
    id: ALARM_IDS.llmErrorRate,
    title: 'LLM error rate',
    metric: '100 × LlmErrors / LlmCalls, Sum (ChatApi); no datapoint below thresholds.minLlmCallsPerPeriod calls',
    threshold: above('llmErrorRatePercent', PERCENT),
    guard: 'call',
    says: ({ app, limit, window }) =>
      `More than ${limit}% of ${app}'s LLM calls failed with a 5xx, a timeout or a network error ${window}.`,
  }),
  eventCount('maxDbErrorsPerPeriod', {
    id: ALARM_IDS.dbErrors,
    title: 'Database errors',
    metric: 'DbErrors, Sum (ChatApi)',
    evaluation: 'symptom',
    says: ({ app, limit, window }) => `${app} had more than ${limit} failed database operations per period ${window}.`,
  }),
  credentialFailures({
    id: ALARM_IDS.authFailures,
    title: 'Credential failures (app)',
    metric: 'AuthFailures (Postgres password or cache AUTH token rejected), Sum (ChatApi)',
    says: ({ app, limit, window }) =>
      `Postgres or the cache rejected ${app}'s credentials (wrong password or AUTH token) more than ${limit} times ${window}.`,
  }),
  awsGauge({
    id: ALARM_IDS.dbCpu,
    title: 'Database CPU',
    metric: 'AWS/RDS CPUUtilization, Average',
    threshold: above('dbCpuPercent', PERCENT),
    implementedBy: 'cdk-monitoring-constructs',
    says: ({ db, limit, window }) => `The CPU of database ${db} was above ${limit}% ${window}.`,
  }),
  awsGauge({
    id: ALARM_IDS.dbFreeStorage,
    title: 'Database free storage',
    metric: 'AWS/RDS FreeStorageSpace (bytes), Maximum',
    threshold: below('dbMinFreeStorageGiB', GIB),
    implementedBy: 'cdk-monitoring-constructs',
    says: ({ config, db, limit, window }) =>
      `Database ${db} had less than ${limit} GiB of free storage ${window} (autoscaling stops at ${config.database.maxAllocatedStorageGiB} GiB).`,
  }),
  awsGauge({
    id: ALARM_IDS.dbConnections,
    title: 'Database connections',
    metric: 'AWS/RDS DatabaseConnections, Maximum',
    threshold: DB_CONNECTIONS,
    says: ({ config, db, limit, window }) =>
      `Database ${db} had more than ${limit}% of its ${dbConnectionLimit(config)} connections open ${window}.`,
  }),
  awsGauge({
    id: ALARM_IDS.dbFreeableMemory,
    title: 'Database freeable memory',
    metric: 'AWS/RDS FreeableMemory (bytes), Minimum',
    threshold: below('dbMinFreeableMemoryMiB', MIB),
    says: ({ db, limit, window }) => `Database ${db} had less than ${limit} MiB of freeable memory ${window}.`,
  }),
  credentialFailures({
    id: ALARM_IDS.dbAuthFailures,
    title: 'Database password failures',
    metric: 'Metric filter "password authentication failed" on the instance\'s postgresql log, Sum',
    missingData: notBreaching(
      'the metric filter writes a datapoint only when log lines arrive; no line means no failed login.',
    ),
    says: ({ db, limit, window }) => `Database ${db} rejected a password login more than ${limit} times ${window}.`,
  }),
  awsGauge({
    id: ALARM_IDS.cacheEngineCpu,
    title: 'Cache engine CPU',
    metric: 'AWS/ElastiCache EngineCPUUtilization of the node, Maximum',
    threshold: above('cacheEngineCpuPercent', PERCENT),
    implementedBy: 'cdk-monitoring-constructs',
    scope: 'cache-node',
    says: ({ node, limit, window }) => `The engine thread of cache node ${node} was busier than ${limit}% ${window}.`,
  }),
  awsGauge({
    id: ALARM_IDS.cacheMemory,
    title: 'Cache memory',
    metric: 'AWS/ElastiCache DatabaseMemoryUsagePercentage of the node, Maximum',
    threshold: above('cacheMemoryPercent', PERCENT),
    scope: 'cache-node',
    says: ({ node, limit, window }) => `Cache node ${node} used more than ${limit}% of its maxmemory ${window}.`,
  }),
  eventCount('cacheEvictionsPerPeriod', {
    id: ALARM_IDS.cacheEvictions,
    title: 'Cache evictions',
    metric: 'AWS/ElastiCache Evictions of the node, Sum',
    evaluation: 'saturation',
    implementedBy: 'cdk-monitoring-constructs',
    scope: 'cache-node',
    says: ({ node, limit, window }) =>
      `Cache node ${node} evicted more than ${limit} keys per period to make room ${window}.`,
  }),
  awsGauge({
    id: ALARM_IDS.cacheConnections,
    title: 'Cache connections',
    metric: 'AWS/ElastiCache CurrConnections of the node, Maximum',
    threshold: above('cacheMaxConnections', count('connections')),
    scope: 'cache-node',
    says: ({ node, limit, window }) => `Cache node ${node} had more than ${limit} client connections open ${window}.`,
  }),
  alarm({
    id: ALARM_IDS.cacheReplicationLag,
    title: 'Cache replication lag',
    metric: 'AWS/ElastiCache ReplicationLag of the node (seconds), Maximum',
    threshold: above('cacheReplicationLagSeconds', SECONDS),
    missingData: notBreaching(
      "only replicas publish ReplicationLag, and which node is the primary changes at every failover; the primary's silence is normal.",
    ),
    evaluation: 'saturation',
    scope: 'cache-node-if-replicated',
    says: ({ node, limit, window }) => `Cache node ${node} lagged more than ${limit} s behind the primary ${window}.`,
  }),
  credentialFailures({
    id: ALARM_IDS.cacheAuthFailures,
    title: 'Cache AUTH failures',
    metric: 'AWS/ElastiCache AuthenticationFailures, summed over every node, Sum',
    says: ({ cache, limit, window }) => `Cache ${cache} rejected an AUTH token more than ${limit} times ${window}.`,
  }),
  flag({
    id: ALARM_IDS.gateFailed,
    title: 'k6 gate failed',
    metric: 'MAX(GateFailed, GateError), Maximum (ChatPlatform/Gate)',
    silence: 'the gate reports only when a deployment runs it; no deployment, no datapoint, nothing wrong.',
    evaluation: 'first-datapoint',
    rollsBack: true,
    says: ({ app, window }) =>
      `The k6 gate failed a new version of ${app} (thresholds breached, or no verdict: the runner did not start, crashed or timed out) ${window}.`,
  }),
  alarm({
    id: ALARM_IDS.llmTokensOverBudget,
    title: 'LLM tokens over budget',
    metric: '(LlmTokensIn + LlmTokensOut) / period minutes, Sum (ChatApi)',
    threshold: above('maxLlmTokensPerMinute', count('tokens per minute')),
    missingData: notBreaching('no datapoint means no LLM call was billed in the period.'),
    evaluation: 'saturation',
    says: ({ app, limit, window }) =>
      `${app} spent more than ${limit} LLM tokens per minute (in and out, all tasks) ${window}: the bill grows faster than the stage's budget.`,
  }),
  eventCount('maxQuotaRejectionsPerPeriod', {
    id: ALARM_IDS.quotaRejections,
    title: 'Requests rejected by quota',
    metric: 'QuotaRequestsRejected + QuotaTokensRejected, Sum (ChatApi)',
    evaluation: 'symptom',
    says: ({ app, limit, window }) =>
      `${app} answered more than ${limit} requests per period with 429 because a caller used its request or token quota ${window}.`,
  }),
  eventCount('maxWafBlockedRequestsPerPeriod', {
    id: ALARM_IDS.wafBlocked,
    title: 'WAF blocked requests',
    metric: 'AWS/WAFV2 BlockedRequests of the WebACL, Rule ALL, Sum',
    evaluation: 'symptom',
    says: ({ config, limit, window }) =>
      `The WAF in front of ${physicalName(config, 'api')} blocked more than ${limit} requests per period ${window}: a flood or an attack, or a rule blocking real users.`,
  }),
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
    `${physicalName(config, 'api')} is degraded for users: at least one of ${policies
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

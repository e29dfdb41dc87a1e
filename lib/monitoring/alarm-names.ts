import { physicalName, type StageConfig } from '../config';

/**
 * Alarm names are fixed `<app>-<stage>-<id>` strings. The ECS service names its deployment
 * (rollback) alarms from here; the Service stack creates those three alarms with exactly these
 * names (deployment-section.ts) and orders the service after them, the Monitoring stack all others.
 */
export const DEPLOYMENT_ALARM_IDS = {
  /** ALB 5xx as a share of requests, summed over both target groups. */
  serverErrorRate: 'service-5xx-rate',
  /** ALB p95 target response time over both target groups. */
  p95Latency: 'service-p95-latency',
  /** The k6 gate failed (thresholds or gate error). */
  gateFailed: 'gate-failed',
} as const;

export type DeploymentAlarmId = (typeof DEPLOYMENT_ALARM_IDS)[keyof typeof DEPLOYMENT_ALARM_IDS];

/**
 * Every alarm of a stage, by ID. An ID is also the runbook's file name: `docs/runbooks/<id>.md`.
 * Renaming one renames the CloudWatch alarm (history and any subscription filter are lost).
 */
export const ALARM_IDS = {
  ...DEPLOYMENT_ALARM_IDS,
  // The service, seen by the load balancer and ECS
  p99Latency: 'service-p99-latency',
  unhealthyHosts: 'service-unhealthy-hosts',
  tasksBelowDesired: 'service-tasks-below-desired',
  serviceCpu: 'service-cpu',
  serviceMemory: 'service-memory',
  // The service's own EMF metrics
  cacheHitRate: 'app-cache-hit-rate',
  cacheUnavailable: 'app-cache-unavailable',
  llmThrottled: 'app-llm-throttled',
  llmErrorRate: 'app-llm-error-rate',
  dbErrors: 'app-db-errors',
  authFailures: 'app-auth-failures',
  llmTokensOverBudget: 'app-llm-tokens-over-budget',
  quotaRejections: 'app-quota-rejections',
  // RDS
  dbCpu: 'db-cpu',
  dbFreeStorage: 'db-free-storage',
  dbConnections: 'db-connections',
  dbFreeableMemory: 'db-freeable-memory',
  dbAuthFailures: 'db-auth-failures',
  // ElastiCache (the per-node ones are named `<id>-<node>`, e.g. `cache-engine-cpu-001`)
  cacheEngineCpu: 'cache-engine-cpu',
  cacheMemory: 'cache-memory',
  cacheEvictions: 'cache-evictions',
  cacheConnections: 'cache-connections',
  cacheReplicationLag: 'cache-replication-lag',
  cacheAuthFailures: 'cache-auth-failures',
  // The edge: the WAF WebACL in front of the load balancer
  wafBlocked: 'edge-waf-blocked',
  // The page: a composite of the above
  serviceDegraded: 'service-degraded',
} as const;

export type AlarmId = (typeof ALARM_IDS)[keyof typeof ALARM_IDS];

export function alarmName(config: Pick<StageConfig, 'appName' | 'stage'>, id: string): string {
  return physicalName(config, id);
}

/** The name of a per-node cache alarm: `<app>-<stage>-<id>-<node>`, `node` being `001`, `002`, ... */
export function nodeAlarmName(config: Pick<StageConfig, 'appName' | 'stage'>, id: AlarmId, node: string): string {
  return alarmName(config, `${id}-${node}`);
}

/** The names the ECS service lists in `deploymentAlarms`. */
export function deploymentAlarmNames(config: Pick<StageConfig, 'appName' | 'stage'>): string[] {
  return Object.values(DEPLOYMENT_ALARM_IDS).map((id) => alarmName(config, id));
}

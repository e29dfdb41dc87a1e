import { physicalName, type StageConfig } from '../config';

/**
 * Alarm names are fixed `<app>-<stage>-<id>` strings. The Service stack names its deployment
 * (rollback) alarms from here without referencing the Monitoring stack, which depends on it;
 * the Monitoring stack creates the alarms with exactly these names.
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

export function alarmName(config: Pick<StageConfig, 'appName' | 'stage'>, id: string): string {
  return physicalName(config, id);
}

/** The names the ECS service lists in `deploymentAlarms`. */
export function deploymentAlarmNames(config: Pick<StageConfig, 'appName' | 'stage'>): string[] {
  return Object.values(DEPLOYMENT_ALARM_IDS).map((id) => alarmName(config, id));
}

/**
 * SYNTHETIC series for the alarms on metrics AWS publishes (ALB, ECS / Container Insights, RDS,
 * ElastiCache, WAF) and on the gate's metrics, none of which can be observed on this machine. Each
 * alarm gets one series shaped like its failure and one shaped like a healthy day, written per
 * metric name in the metric's own units and per minute, independent of any threshold: the numbers
 * describe the failure (a 10% 5xx rate, a 15 s p95, a task short, a full disk), so a threshold set
 * out of their reach makes the proof fail. They are labelled synthetic wherever they are reported.
 */
import type { StageConfig } from '../../config';
import { dbConnectionLimit } from '../alarm-catalogue';
import { ALARM_IDS, type AlarmId } from '../alarm-names';
import type { AlarmDefinition, Datapoint } from './evaluator';

type Shape = number | undefined | ((config: StageConfig) => number);
interface MetricShape {
  /** Per minute for counts (summed to the period), the value for gauges; undefined: not published. */
  readonly fault: Shape;
  readonly healthy: Shape;
  /** Counts scale with the period and with the day's traffic; gauges do not. */
  readonly kind: 'count' | 'gauge' | 'traffic-gauge';
}

export interface SyntheticSpec {
  readonly fault: string;
  readonly healthy: string;
  /** By metric name; a metric of the alarm not listed here is not published (missing). */
  readonly metrics: Readonly<Record<string, MetricShape>>;
}

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;
const traffic = (fault: Shape, healthy: Shape): MetricShape => ({ fault, healthy, kind: 'count' });
const gauge = (fault: Shape, healthy: Shape): MetricShape => ({ fault, healthy, kind: 'gauge' });
const ALB_TRAFFIC = { RequestCount: traffic(600, 600) };

export const SYNTHETIC: Partial<Record<AlarmId, SyntheticSpec>> = {
  [ALARM_IDS.serverErrorRate]: {
    fault: 'a bad version answers 10% of 600 requests a minute with 5xx',
    healthy: 'a day of traffic (up to 600 requests a minute), a stray 5xx an hour',
    metrics: {
      ...ALB_TRAFFIC,
      HTTPCode_Target_5XX_Count: traffic(60, 0.02),
      HTTPCode_ELB_5XX_Count: traffic(1, undefined),
    },
  },
  [ALARM_IDS.p95Latency]: {
    fault: 'the LLM path hangs: p95 target response time 15 s',
    healthy: 'p95 1.2 s at up to 600 requests a minute',
    metrics: { ...ALB_TRAFFIC, TargetResponseTime: { fault: 15, healthy: 1.2, kind: 'traffic-gauge' } },
  },
  [ALARM_IDS.p99Latency]: {
    fault: 'p99 target response time 30 s (LLM timeouts and retries)',
    healthy: 'p99 2.5 s at up to 600 requests a minute',
    metrics: { ...ALB_TRAFFIC, TargetResponseTime: { fault: 30, healthy: 2.5, kind: 'traffic-gauge' } },
  },
  [ALARM_IDS.unhealthyHosts]: {
    fault: 'one task fails /health/ready',
    healthy: 'every target healthy',
    metrics: { UnHealthyHostCount: gauge(1, 0) },
  },
  [ALARM_IDS.tasksBelowDesired]: {
    fault: 'tasks crash-loop: 1 of the desired tasks running',
    healthy: 'every desired task running',
    metrics: { DesiredTaskCount: gauge(3, 3), RunningTaskCount: gauge(1, 3) },
  },
  [ALARM_IDS.serviceCpu]: {
    fault: 'tasks at 97% CPU',
    healthy: 'tasks at 35% CPU',
    metrics: { CPUUtilization: gauge(97, 35) },
  },
  [ALARM_IDS.serviceMemory]: {
    fault: 'a leak: tasks at 95% memory',
    healthy: 'tasks at 55% memory',
    metrics: { MemoryUtilization: gauge(95, 55) },
  },
  [ALARM_IDS.dbCpu]: {
    fault: 'a runaway query: database CPU 96%',
    healthy: 'database CPU 20%',
    metrics: { CPUUtilization: gauge(96, 20) },
  },
  [ALARM_IDS.dbFreeStorage]: {
    fault: 'the disk is nearly full: 0.5 GiB free',
    healthy: '15 GiB free',
    metrics: { FreeStorageSpace: gauge(0.5 * GIB, 15 * GIB) },
  },
  [ALARM_IDS.dbConnections]: {
    fault: "a connection leak: every one of the instance's max_connections open",
    healthy: '12 connections open',
    metrics: { DatabaseConnections: gauge(dbConnectionLimit, 12) },
  },
  [ALARM_IDS.dbFreeableMemory]: {
    fault: 'memory pressure: 20 MiB freeable',
    healthy: '600 MiB freeable',
    metrics: { FreeableMemory: gauge(20 * MIB, 600 * MIB) },
  },
  [ALARM_IDS.dbAuthFailures]: {
    fault: 'a rotation went wrong: 30 rejected password logins a minute',
    healthy: 'no rejected login (the metric filter writes nothing)',
    metrics: {
      // The metric filter's metric name is per stage (`<app>-<stage>-db-PasswordAuthFailures`).
      '*PasswordAuthFailures': traffic(30, undefined),
    },
  },
  [ALARM_IDS.cacheEngineCpu]: {
    fault: 'a hot key: engine CPU 95%',
    healthy: 'engine CPU 8%',
    metrics: { EngineCPUUtilization: gauge(95, 8) },
  },
  [ALARM_IDS.cacheMemory]: {
    fault: 'the cache is full: 97% of maxmemory',
    healthy: '40% of maxmemory',
    metrics: { DatabaseMemoryUsagePercentage: gauge(97, 40) },
  },
  [ALARM_IDS.cacheEvictions]: {
    fault: 'the cache is too small: 2,000 evictions a minute',
    healthy: 'no evictions',
    metrics: { Evictions: traffic(2000, 0) },
  },
  [ALARM_IDS.cacheConnections]: {
    fault: 'a connection storm: 5,000 client connections',
    healthy: '40 client connections',
    metrics: { CurrConnections: gauge(5000, 40) },
  },
  [ALARM_IDS.cacheReplicationLag]: {
    fault: 'the replica falls behind: 30 s',
    healthy: '0.05 s',
    metrics: { ReplicationLag: gauge(30, 0.05) },
  },
  [ALARM_IDS.cacheAuthFailures]: {
    fault: 'a wrong AUTH token: 20 failed AUTH a minute',
    healthy: 'no failed AUTH',
    metrics: { AuthenticationFailures: traffic(20, 0) },
  },
  [ALARM_IDS.wafBlocked]: {
    fault: 'a flood: 3,000 blocked requests a minute',
    healthy: 'background scanning: 20 blocked requests a minute',
    metrics: { BlockedRequests: traffic(3000, 20) },
  },
  [ALARM_IDS.gateFailed]: {
    fault: 'the gate fails a deployment (GateFailed 1)',
    healthy: 'a deployment whose gate passes (GateFailed 0), otherwise no gate run',
    metrics: { GateFailed: gauge(1, 0), GateError: gauge(undefined, undefined) },
  },
};

function shapeFor(spec: SyntheticSpec, metricName: string): MetricShape | undefined {
  return (
    spec.metrics[metricName] ??
    Object.entries(spec.metrics).find(([k]) => k.startsWith('*') && metricName.endsWith(k.slice(1)))?.[1]
  );
}

/** Green only carries traffic during a deployment: on a normal day it publishes nothing. */
const idleTargetGroup = (dimensions: Readonly<Record<string, string>>) =>
  Object.values(dimensions).some((v) => v.includes('GreenTargetGroup'));

export interface SyntheticSeries {
  readonly points: Datapoint[];
  readonly slots: number;
}

/**
 * `fault`: one healthy hour, then the failure for N + 2 periods. `healthy`: a day (24 h) with the
 * traffic of a day (quiet at night, the peak in the afternoon), one datapoint per metric per minute.
 */
export function syntheticSeries(
  alarm: AlarmDefinition,
  spec: SyntheticSpec,
  which: 'fault' | 'healthy',
  config: StageConfig,
): SyntheticSeries {
  const periodMinutes = alarm.periodSeconds / 60;
  const faultStartMinute = 60;
  const minutes = which === 'healthy' ? 24 * 60 : faultStartMinute + (alarm.evaluationPeriods + 2) * periodMinutes;
  const points: Datapoint[] = [];
  for (const q of alarm.queries) {
    if (!q.metric) continue;
    const shape = shapeFor(spec, q.metric.name);
    if (!shape) continue;
    for (let minute = 0; minute < minutes; minute++) {
      const failing = which === 'fault' && minute >= faultStartMinute;
      const raw = failing ? shape.fault : shape.healthy;
      const base = typeof raw === 'function' ? raw(config) : raw;
      if (base === undefined) continue;
      if (which === 'healthy' && idleTargetGroup(q.metric.dimensions)) continue;
      // A day: 10% of the peak at 04:00, the peak at 16:00.
      const dayFactor = which === 'healthy' ? 0.55 - 0.45 * Math.cos(((minute - 240) / 1440) * 2 * Math.PI) : 1;
      let value = base;
      if (shape.kind === 'count') value = base * dayFactor;
      // Sparse counts (a stray 5xx an hour): a whole event now and then, never a fraction.
      if (shape.kind === 'count' && value < 1 && value > 0) value = minute % Math.round(1 / value) === 0 ? 1 : 0;
      points.push({
        namespace: q.metric.namespace,
        name: q.metric.name,
        dimensions: q.metric.dimensions,
        timestampMs: minute * 60_000 + 30_000,
        values: [value],
      });
    }
  }
  return { points, slots: Math.ceil(minutes / periodMinutes) };
}

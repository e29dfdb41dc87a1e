/**
 * Metric definitions for the data tier that cdk-monitoring-constructs does not provide (or
 * provides with a statistic that does not fit): RDS connections and freeable memory, password
 * failures from the Postgres log, and the ElastiCache node metrics beyond CPU and evictions.
 */
import type { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';

const RDS_NAMESPACE = 'AWS/RDS';
const ELASTICACHE_NAMESPACE = 'AWS/ElastiCache';

/**
 * Where the metric filter on the instance's `postgresql` log puts failed password logins. A
 * plain-text filter cannot carry dimensions, so the instance is part of the metric name.
 */
export const DB_AUTH_FAILURE_METRIC = {
  namespace: 'ChatPlatform/Database',
  metricName: (instanceIdentifier: string) => `${instanceIdentifier}-PasswordAuthFailures`,
  /** Postgres logs `FATAL:  password authentication failed for user "<name>"` for every rejected login. */
  filterPattern: '"password authentication failed"',
  /** The log group RDS exports the instance's Postgres log to. */
  logGroupName: (instanceIdentifier: string) => `/aws/rds/instance/${instanceIdentifier}/postgresql`,
} as const;

export class DatabaseMetrics {
  constructor(
    private readonly instanceIdentifier: string,
    private readonly period: Duration,
  ) {}

  private metric(metricName: string, statistic: string, label: string): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: RDS_NAMESPACE,
      metricName,
      statistic,
      period: this.period,
      label,
      dimensionsMap: { DBInstanceIdentifier: this.instanceIdentifier },
    });
  }

  /**
   * Open connections, worst minute of the period. (cdk-monitoring-constructs sums this gauge,
   * which multiplies it by the number of one-minute samples in a longer period.)
   */
  connections(): cloudwatch.Metric {
    return this.metric('DatabaseConnections', cloudwatch.Stats.MAXIMUM, 'Connections (max)');
  }

  /** Bytes of RAM left, lowest sample of the period. */
  freeableMemoryBytes(): cloudwatch.Metric {
    return this.metric('FreeableMemory', cloudwatch.Stats.MINIMUM, 'Freeable memory (min)');
  }
}

/**
 * Rejected password logins, counted from the Postgres log by the metric filter. Takes the literal
 * instance identifier (`chat-<stage>-db`), the same string the filter's metric name is built from.
 */
export function dbPasswordAuthFailures(instanceIdentifier: string, period: Duration): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: DB_AUTH_FAILURE_METRIC.namespace,
    metricName: DB_AUTH_FAILURE_METRIC.metricName(instanceIdentifier),
    statistic: cloudwatch.Stats.SUM,
    period,
    label: 'Password authentication failures',
  });
}

/** ElastiCache metrics of one node (`CacheClusterId` is the node id, e.g. `chat-prod-cache-001`). */
export class CacheNodeMetrics {
  constructor(
    readonly nodeId: string,
    private readonly period: Duration,
  ) {}

  metric(metricName: string, statistic: string, label: string): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: ELASTICACHE_NAMESPACE,
      metricName,
      statistic,
      period: this.period,
      label: `${label} ${this.nodeId}`,
      dimensionsMap: { CacheClusterId: this.nodeId },
    });
  }

  /** Share of `maxmemory` in use; at 100% the eviction policy starts dropping keys. */
  memoryUsagePercent(): cloudwatch.Metric {
    return this.metric('DatabaseMemoryUsagePercentage', cloudwatch.Stats.MAXIMUM, 'Memory used %');
  }

  connections(): cloudwatch.Metric {
    return this.metric('CurrConnections', cloudwatch.Stats.MAXIMUM, 'Connections');
  }

  /** Seconds a replica is behind the primary; only replicas publish it. */
  replicationLagSeconds(): cloudwatch.Metric {
    return this.metric('ReplicationLag', cloudwatch.Stats.MAXIMUM, 'Replication lag s');
  }

  /** AUTH commands rejected (wrong token). */
  authenticationFailures(): cloudwatch.Metric {
    return this.metric('AuthenticationFailures', cloudwatch.Stats.SUM, 'AUTH failures');
  }
}

/** AUTH failures summed over every node: after a failover the primary is another node. */
export function cacheAuthFailuresTotal(nodes: readonly CacheNodeMetrics[], period: Duration) {
  const usingMetrics = Object.fromEntries(nodes.map((node, i) => [`node${i + 1}`, node.authenticationFailures()]));
  return new cloudwatch.MathExpression({
    expression: Object.keys(usingMetrics)
      .map((id) => `FILL(${id}, 0)`)
      .join(' + '),
    usingMetrics,
    period,
    label: 'Cache AUTH failures (all nodes)',
  });
}

/** Node ids of a replication group without cluster mode: `<group>-001`, `<group>-002`, ... */
export function cacheNodeIds(replicationGroupId: string, nodeCount: number): string[] {
  return Array.from({ length: nodeCount }, (_, i) => `${replicationGroupId}-${String(i + 1).padStart(3, '0')}`);
}

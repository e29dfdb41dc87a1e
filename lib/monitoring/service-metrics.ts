/**
 * Metric definitions for the service as the load balancer and ECS see it, across blue/green.
 *
 * ECS blue/green keeps two target groups behind one ALB and moves traffic between them, so a
 * metric of one target group goes quiet (or starts) at every deployment. Every alarm here therefore
 * combines both groups with metric math; cdk-monitoring-constructs binds one target group per
 * service, which is why these are written by hand.
 *
 * Percentiles are not additive: the p95 of blue plus green cannot be computed from the two
 * groups' p95s. For a mixture of two distributions the combined p95 always lies between the two
 * groups' p95s, so the higher of the two is an upper bound of the true p95, and it is the one that
 * shows a slow new version even while that version takes a small share of the traffic (a canary).
 * The alarms use that upper bound, counting a group only in periods where it served at least
 * `minRequestsPerPeriod` requests (a percentile of five requests is noise). The load-balancer-wide
 * `TargetResponseTime` would be the exact combined percentile, but it dilutes a slow canary into the
 * healthy majority; it is on the dashboard for comparison.
 */
import type { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';

const ALB_NAMESPACE = 'AWS/ApplicationELB';
const CONTAINER_INSIGHTS_NAMESPACE = 'ECS/ContainerInsights';

export type LatencyPercentile = 'p50' | 'p95' | 'p99';

export interface BlueGreenTargets {
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly blueTargetGroup: elbv2.ApplicationTargetGroup;
  readonly greenTargetGroup: elbv2.ApplicationTargetGroup;
}

type Color = 'blue' | 'green';

export class BlueGreenMetrics {
  constructor(
    private readonly targets: BlueGreenTargets,
    private readonly period: Duration,
  ) {}

  private targetGroup(color: Color): elbv2.ApplicationTargetGroup {
    return color === 'blue' ? this.targets.blueTargetGroup : this.targets.greenTargetGroup;
  }

  /** A metric of one target group (dimensions TargetGroup and LoadBalancer). */
  targetGroupMetric(color: Color, metricName: string, statistic: string, label: string): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: ALB_NAMESPACE,
      metricName,
      statistic,
      period: this.period,
      label: `${label} (${color})`,
      dimensionsMap: {
        TargetGroup: this.targetGroup(color).targetGroupFullName,
        LoadBalancer: this.targets.loadBalancer.loadBalancerFullName,
      },
    });
  }

  /** A metric of the whole load balancer (dimension LoadBalancer only). */
  loadBalancerMetric(metricName: string, statistic: string, label: string): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: ALB_NAMESPACE,
      metricName,
      statistic,
      period: this.period,
      label,
      dimensionsMap: { LoadBalancer: this.targets.loadBalancer.loadBalancerFullName },
    });
  }

  requests(color: Color): cloudwatch.Metric {
    return this.targetGroupMetric(color, 'RequestCount', cloudwatch.Stats.SUM, 'Requests');
  }

  target5xx(color: Color): cloudwatch.Metric {
    return this.targetGroupMetric(color, 'HTTPCode_Target_5XX_Count', cloudwatch.Stats.SUM, 'Target 5xx');
  }

  /** 5xx the load balancer generated itself (502/503/504: no healthy target, resets, timeouts). */
  loadBalancer5xx(): cloudwatch.Metric {
    return this.loadBalancerMetric('HTTPCode_ELB_5XX_Count', cloudwatch.Stats.SUM, 'Load balancer 5xx');
  }

  targetResponseTime(color: Color, percentile: LatencyPercentile): cloudwatch.Metric {
    return this.targetGroupMetric(color, 'TargetResponseTime', percentile, `Target response time ${percentile}`);
  }

  /** The exact percentile over every target of the load balancer, for the dashboard. */
  loadBalancerResponseTime(percentile: LatencyPercentile): cloudwatch.Metric {
    return this.loadBalancerMetric('TargetResponseTime', percentile, `Target response time ${percentile} (all)`);
  }

  /**
   * 5xx (target and load balancer) as a percentage of requests, blue and green summed; no datapoint
   * while fewer than `minRequests` requests arrived in the period.
   *
   * `RequestCount` leaves out requests the load balancer rejected before choosing a target, such
   * as the 503 it answers when no target is healthy. Adding the load balancer's own 5xx to the
   * denominator keeps "every request fails, no target is healthy" at 100% instead of a division by
   * zero; where a load balancer 5xx was also counted in `RequestCount` (a 502 or 504 from a
   * target), the rate reads slightly low, never high.
   */
  serverErrorRatePercent(minRequests: number): cloudwatch.MathExpression {
    const usingMetrics = {
      requestsBlue: this.requests('blue'),
      requestsGreen: this.requests('green'),
      target5xxBlue: this.target5xx('blue'),
      target5xxGreen: this.target5xx('green'),
      elb5xx: this.loadBalancer5xx(),
    };
    const errors = new cloudwatch.MathExpression({
      expression: 'FILL(target5xxBlue, 0) + FILL(target5xxGreen, 0) + FILL(elb5xx, 0)',
      usingMetrics,
      period: this.period,
      label: '5xx (blue + green + load balancer)',
    });
    const total = new cloudwatch.MathExpression({
      expression: 'FILL(requestsBlue, 0) + FILL(requestsGreen, 0) + FILL(elb5xx, 0)',
      usingMetrics,
      period: this.period,
      label: 'Requests (blue + green + load balancer 5xx)',
    });
    return new cloudwatch.MathExpression({
      expression: `IF(total >= ${minRequests}, 100 * errors / total)`,
      usingMetrics: { errors, total },
      period: this.period,
      label: '5xx rate % (blue + green)',
    });
  }

  /**
   * The higher of the blue and green groups' latency percentile, in milliseconds; a group counts
   * only in periods where it served at least `minRequests` requests (see the file comment).
   */
  latencyMs(percentile: LatencyPercentile, minRequests: number): cloudwatch.MathExpression {
    // Metric ids are unique per percentile: p95 and p99 share a dashboard graph.
    const blue = `${percentile}Blue`;
    const green = `${percentile}Green`;
    return new cloudwatch.MathExpression({
      expression:
        `1000 * MAX([FILL(IF(requestsBlue >= ${minRequests}, ${blue}), 0), ` +
        `FILL(IF(requestsGreen >= ${minRequests}, ${green}), 0)])`,
      usingMetrics: {
        requestsBlue: this.requests('blue'),
        requestsGreen: this.requests('green'),
        [blue]: this.targetResponseTime('blue', percentile),
        [green]: this.targetResponseTime('green', percentile),
      },
      period: this.period,
      label: `Latency ${percentile} ms (worse of blue and green)`,
    });
  }

  unhealthyHosts(color: Color): cloudwatch.Metric {
    return this.targetGroupMetric(color, 'UnHealthyHostCount', cloudwatch.Stats.MAXIMUM, 'Unhealthy targets');
  }

  healthyHosts(color: Color): cloudwatch.Metric {
    return this.targetGroupMetric(color, 'HealthyHostCount', cloudwatch.Stats.MINIMUM, 'Healthy targets');
  }

  /** Targets failing health checks in either group (the idle group has none registered). */
  unhealthyHostsTotal(): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({
      expression: 'FILL(unhealthyBlue, 0) + FILL(unhealthyGreen, 0)',
      usingMetrics: { unhealthyBlue: this.unhealthyHosts('blue'), unhealthyGreen: this.unhealthyHosts('green') },
      period: this.period,
      label: 'Unhealthy targets (blue + green)',
    });
  }
}

/** Container Insights task counts of the ECS service. */
export class TaskCountMetrics {
  constructor(
    private readonly service: ecs.FargateService,
    private readonly period: Duration,
  ) {}

  private metric(metricName: string, label: string): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: CONTAINER_INSIGHTS_NAMESPACE,
      metricName,
      statistic: cloudwatch.Stats.AVERAGE,
      period: this.period,
      label,
      dimensionsMap: { ClusterName: this.service.cluster.clusterName, ServiceName: this.service.serviceName },
    });
  }

  desired(): cloudwatch.Metric {
    return this.metric('DesiredTaskCount', 'Desired tasks');
  }

  running(): cloudwatch.Metric {
    return this.metric('RunningTaskCount', 'Running tasks');
  }

  pending(): cloudwatch.Metric {
    return this.metric('PendingTaskCount', 'Pending tasks');
  }

  /**
   * Desired minus running. During a blue/green deployment both versions run, so this goes
   * negative, which is fine; it is positive only when ECS cannot keep the tasks it wants running.
   */
  tasksBelowDesired(): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({
      expression: 'desired - FILL(running, 0)',
      usingMetrics: { desired: this.desired(), running: this.running() },
      period: this.period,
      label: 'Tasks below desired',
    });
  }
}

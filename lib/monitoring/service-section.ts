/**
 * Wiring for the service as users and ECS see it: traffic, 5xx, latency and task health across
 * blue/green (hand-written, see service-metrics.ts), plus CPU and memory from
 * cdk-monitoring-constructs' Fargate monitoring.
 */
import type { Duration } from 'aws-cdk-lib';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type { MonitoringFacade } from 'cdk-monitoring-constructs';
import { physicalName } from '../config';
import { ALARM_IDS } from './alarm-names';
import type { AlarmWiring } from './alarm-wiring';
import { BlueGreenMetrics, type BlueGreenTargets, TaskCountMetrics } from './service-metrics';

export interface ServiceSectionProps {
  readonly wiring: AlarmWiring;
  readonly period: Duration;
  readonly targets: BlueGreenTargets;
  readonly service: ecs.FargateService;
}

export function monitorService(facade: MonitoringFacade, props: ServiceSectionProps): void {
  const { wiring, period } = props;
  const { config } = wiring;
  const { minRequestsPerPeriod } = config.monitoring.thresholds;
  const alb = new BlueGreenMetrics(props.targets, period);
  const tasks = new TaskCountMetrics(props.service, period);
  const name = physicalName(config, 'api');
  facade.monitorCustom({
    alarmFriendlyName: `${name}-traffic`,
    humanReadableName: `${name}: traffic and errors (ALB, blue + green)`,
    metricGroups: [
      {
        title: 'Requests',
        metrics: [alb.requests('blue'), alb.requests('green'), alb.loadBalancer5xx()],
      },
      {
        // Alarmed in the Service stack (deployment-section.ts): the ECS service names that alarm.
        title: '5xx rate % (deployment alarm)',
        metrics: [alb.serverErrorRatePercent(minRequestsPerPeriod)],
      },
      {
        title: '5xx count',
        metrics: [alb.target5xx('blue'), alb.target5xx('green'), alb.loadBalancer5xx()],
      },
    ],
  });

  facade.monitorCustom({
    alarmFriendlyName: `${name}-latency`,
    humanReadableName: `${name}: latency`,
    metricGroups: [
      {
        // p95 is alarmed in the Service stack (deployment-section.ts): the ECS service names that alarm.
        title: 'p95 / p99 ms, worse of blue and green (alarmed)',
        metrics: [
          alb.latencyMs('p95', minRequestsPerPeriod),
          wiring.alarmed(ALARM_IDS.p99Latency, alb.latencyMs('p99', minRequestsPerPeriod)),
        ],
      },
      {
        title: 'Target response time s, per target group',
        metrics: (['blue', 'green'] as const).flatMap((color) =>
          (['p50', 'p95', 'p99'] as const).map((p) => alb.targetResponseTime(color, p)),
        ),
      },
      {
        title: 'Target response time s, all targets (exact percentiles)',
        metrics: (['p50', 'p95', 'p99'] as const).map((p) => alb.loadBalancerResponseTime(p)),
      },
    ],
  });

  facade.monitorCustom({
    alarmFriendlyName: `${name}-tasks`,
    humanReadableName: `${name}: running tasks and health checks`,
    metricGroups: [
      {
        title: 'Health checks (alarmed: unhealthy)',
        metrics: [
          wiring.alarmed(ALARM_IDS.unhealthyHosts, alb.unhealthyHostsTotal()),
          alb.healthyHosts('blue'),
          alb.healthyHosts('green'),
        ],
      },
      {
        title: 'Tasks (alarmed: below desired)',
        metrics: [
          wiring.alarmed(ALARM_IDS.tasksBelowDesired, tasks.tasksBelowDesired()),
          tasks.desired(),
          tasks.running(),
          tasks.pending(),
        ],
      },
    ],
  });

  // CPU and memory: cdk-monitoring-constructs does these well (AWS/ECS, Average per service).
  facade.monitorSimpleFargateService({
    fargateService: props.service,
    alarmFriendlyName: name,
    humanReadableName: `${name}: CPU and memory`,
    minAutoScalingTaskCount: config.service.minTaskCount,
    maxAutoScalingTaskCount: config.service.maxTaskCount,
    addCpuUsageAlarm: {
      Critical: { ...wiring.props(ALARM_IDS.serviceCpu), maxUsagePercent: wiring.threshold(ALARM_IDS.serviceCpu) },
    },
    addMemoryUsageAlarm: {
      Critical: {
        ...wiring.props(ALARM_IDS.serviceMemory),
        maxUsagePercent: wiring.threshold(ALARM_IDS.serviceMemory),
      },
    },
  });
}

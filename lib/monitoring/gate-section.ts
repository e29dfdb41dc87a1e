/** Wiring for the k6 gate's results (namespace ChatPlatform/Gate). */
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { MonitoringFacade } from 'cdk-monitoring-constructs';
import { physicalName } from '../config';
import type { AlarmWiring } from './alarm-wiring';
import type { AppMetrics } from './app-metrics';

export interface GateSectionProps {
  readonly wiring: AlarmWiring;
  readonly metrics: AppMetrics;
}

export function monitorGate(facade: MonitoringFacade, props: GateSectionProps): void {
  const { wiring, metrics } = props;
  const max = cloudwatch.Stats.MAXIMUM;
  facade.monitorCustom({
    alarmFriendlyName: `${physicalName(wiring.config, 'gate')}`,
    humanReadableName: `${physicalName(wiring.config, 'gate')}: k6 gate results`,
    metricGroups: [
      {
        // Alarmed in the Service stack (deployment-section.ts): the ECS service names that alarm.
        title: 'Gate failed or errored (deployment alarm; rolls back)',
        metrics: [metrics.gateFailedOrErrored()],
      },
      {
        title: 'Gate p95 latency ms / error rate %',
        metrics: [
          metrics.gate('p95LatencyMs', max, 'Gate p95 latency ms'),
          metrics.gate('errorRatePercent', max, 'Gate error rate %'),
        ],
      },
      {
        title: 'Gate requests / cache hit rate % / duration s',
        metrics: [
          metrics.gate('requests', cloudwatch.Stats.SUM, 'Gate requests'),
          metrics.gate('cacheHitRatePercent', max, 'Gate cache hit rate %'),
          metrics.gate('durationSeconds', max, 'Gate duration s'),
        ],
      },
    ],
  });
}

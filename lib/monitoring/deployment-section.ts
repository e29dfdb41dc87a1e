/**
 * The deployment (rollback) alarms: the three alarms the ECS service names in
 * `DeploymentConfiguration.Alarms`. They are built in the Service stack, next to the service, so
 * they exist before the service that names them on the very first deploy (the Monitoring stack
 * deploys after the Service stack). Their policies are the catalogue's, like every other alarm.
 */
import type { Duration } from 'aws-cdk-lib';
import type { MonitoringFacade } from 'cdk-monitoring-constructs';
import { physicalName } from '../config';
import { DEPLOYMENT_ALARM_IDS } from './alarm-names';
import type { AlarmWiring } from './alarm-wiring';
import type { AppMetrics } from './app-metrics';
import { BlueGreenMetrics, type BlueGreenTargets } from './service-metrics';

export interface DeploymentSectionProps {
  readonly wiring: AlarmWiring;
  readonly period: Duration;
  readonly targets: BlueGreenTargets;
  readonly metrics: AppMetrics;
}

export function monitorDeployment(facade: MonitoringFacade, props: DeploymentSectionProps): void {
  const { wiring, period, metrics } = props;
  const { minRequestsPerPeriod } = wiring.config.monitoring.thresholds;
  const alb = new BlueGreenMetrics(props.targets, period);
  const name = physicalName(wiring.config, 'api');
  facade.monitorCustom({
    alarmFriendlyName: `${name}-deployment`,
    humanReadableName: `${name}: deployment (rollback) alarms`,
    metricGroups: [
      {
        title: '5xx rate % (alarmed; rolls back)',
        metrics: [
          wiring.alarmed(DEPLOYMENT_ALARM_IDS.serverErrorRate, alb.serverErrorRatePercent(minRequestsPerPeriod)),
        ],
      },
      {
        title: 'p95 ms, worse of blue and green (alarmed; rolls back)',
        metrics: [wiring.alarmed(DEPLOYMENT_ALARM_IDS.p95Latency, alb.latencyMs('p95', minRequestsPerPeriod))],
      },
      {
        title: 'Gate failed or errored (alarmed; rolls back)',
        metrics: [wiring.alarmed(DEPLOYMENT_ALARM_IDS.gateFailed, metrics.gateFailedOrErrored())],
      },
    ],
  });
}

/**
 * The one way this app builds a cdk-monitoring-constructs facade: every alarm named
 * `<app>-<stage>-<id>` (the wiring's overrides), notifying the alarm topic on ALARM and on OK.
 */
import type { Duration } from 'aws-cdk-lib';
import type * as sns from 'aws-cdk-lib/aws-sns';
import {
  DefaultDashboardFactory,
  type IDynamicDashboardFactory,
  MonitoringFacade,
  SnsAlarmActionStrategy,
} from 'cdk-monitoring-constructs';
import type { Construct } from 'constructs';
import type { StageConfig } from '../config';

export interface AlarmFacadeProps {
  readonly config: StageConfig;
  readonly period: Duration;
  readonly topic: sns.ITopic;
  /** @default no dashboard at all (alarms only) */
  readonly dashboardFactory?: IDynamicDashboardFactory;
}

export function alarmFacade(scope: Construct, id: string, props: AlarmFacadeProps): MonitoringFacade {
  const { config, period, topic } = props;
  return new MonitoringFacade(scope, id, {
    metricFactoryDefaults: { period },
    alarmFactoryDefaults: {
      alarmNamePrefix: `${config.appName}-${config.stage}`,
      actionsEnabled: true,
      action: new SnsAlarmActionStrategy({ onAlarmTopic: topic, onOkTopic: topic }),
    },
    dashboardFactory:
      props.dashboardFactory ??
      new DefaultDashboardFactory(scope, `${id}Dashboards`, {
        dashboardNamePrefix: `${config.appName}-${config.stage}-${id}`,
        createDashboard: false,
        createSummaryDashboard: false,
        createAlarmDashboard: false,
      }),
  });
}

import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as rds from 'aws-cdk-lib/aws-rds';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { type AlarmWithAnnotation, DefaultDashboardFactory, type MonitoringFacade } from 'cdk-monitoring-constructs';
import type { Construct } from 'constructs';
import { physicalName, type StageConfig, serviceDimension } from '../config';
import { SERVICE_DEGRADED } from '../monitoring/alarm-catalogue';
import { alarmFacade } from '../monitoring/alarm-facade';
import { alarmName } from '../monitoring/alarm-names';
import { AlarmWiring, PAGE_TAG } from '../monitoring/alarm-wiring';
import { AppMetrics } from '../monitoring/app-metrics';
import { monitorApp } from '../monitoring/app-section';
import { DB_AUTH_FAILURE_METRIC } from '../monitoring/data-metrics';
import { monitorCache, monitorDatabase } from '../monitoring/data-section';
import { monitorEdge } from '../monitoring/edge-section';
import { monitorGate } from '../monitoring/gate-section';
import { RUNBOOK_DIR, runbookLink } from '../monitoring/runbooks';
import type { BlueGreenTargets } from '../monitoring/service-metrics';
import { monitorService } from '../monitoring/service-section';

/**
 * What the Monitoring stack watches from the Service stack: exactly the pieces the Service stack
 * exposes, so `new MonitoringStack(..., { service: serviceStack })` needs no adapter.
 */
export interface MonitoredService {
  readonly service: ecs.FargateService;
  /** The load balancer and both target groups (per-colour metrics). */
  readonly ingress: BlueGreenTargets;
  /** The service's log group (the first place to look for most alarms). */
  readonly api: { readonly logGroup: logs.ILogGroup };
  /** The k6 runner's log group (the gate's summary). */
  readonly runner: { readonly logGroup: logs.ILogGroup };
  /** The WAF WebACL in front of the load balancer, by name (its metrics' dimension). */
  readonly firewall: { readonly name: string };
  /** The topic every alarm notifies (created with the deployment alarms, which notify it too). */
  readonly alarmTopic: sns.ITopic;
  /** The alarms the ECS service names for rollback; created beside it, paged on from here. */
  readonly deploymentAlarms: readonly AlarmWithAnnotation[];
}

export interface MonitoringStackProps extends StackProps {
  readonly config: StageConfig;
  readonly service: MonitoredService;
  readonly database: rds.IDatabaseInstance;
}

/**
 * Monitoring: every alarm but the three deployment alarms (the Service stack creates those, and the
 * alarm topic, so they exist before the service that names them), the composite page over both and
 * the stage's dashboard. The alarm policies are in lib/monitoring/alarm-catalogue.ts; this stack wires
 * them to metrics, section by section.
 */
export class MonitoringStack extends Stack {
  readonly topic: sns.ITopic;
  readonly monitoring: MonitoringFacade;
  readonly serviceDegraded: cloudwatch.CompositeAlarm;
  readonly dashboardName: string;

  constructor(scope: Construct, id: string, props: MonitoringStackProps) {
    super(scope, id, props);
    const { config, service } = props;
    const period = Duration.minutes(config.monitoring.periodMinutes);
    const wiring = new AlarmWiring(config);
    const app = new AppMetrics(serviceDimension(config), period);
    this.dashboardName = physicalName(config, 'dashboard');

    this.topic = service.alarmTopic;
    this.monitoring = this.createFacade(config, period);
    this.createDbAuthFailureFilter(config);

    this.monitoring.addWidget(this.readMeWidget(config));
    monitorService(this.monitoring, { wiring, period, targets: service.ingress, service: service.service });
    monitorApp(this.monitoring, { wiring, metrics: app });
    monitorDatabase(this.monitoring, { wiring, period, instance: props.database });
    monitorCache(this.monitoring, { wiring, period });
    monitorGate(this.monitoring, { wiring, metrics: app });
    monitorEdge(this.monitoring, { wiring, period, webAclName: service.firewall.name, region: this.region });
    this.monitoring.addWidget(this.recentLogsWidget(service));
    this.serviceDegraded = this.createServiceDegraded(config, service.deploymentAlarms);

    new CfnOutput(this, 'AlarmTopicArn', { value: this.topic.topicArn });
    new CfnOutput(this, 'DashboardName', { value: this.dashboardName });
  }

  /** Every alarm notifies the topic on ALARM and on OK; the dashboard is named `<app>-<stage>-dashboard`. */
  private createFacade(config: StageConfig, period: Duration): MonitoringFacade {
    return alarmFacade(this, 'Monitoring', {
      config,
      period,
      topic: this.topic,
      dashboardFactory: new DefaultDashboardFactory(this, 'Dashboards', {
        dashboardNamePrefix: this.dashboardName,
        createDashboard: true,
        createSummaryDashboard: false,
        createAlarmDashboard: false,
        detailDashboardRange: Duration.hours(6),
      }),
    });
  }

  /** Counts rejected password logins in the Postgres log the Data stack exports. */
  private createDbAuthFailureFilter(config: StageConfig): void {
    const instanceIdentifier = physicalName(config, 'db');
    new logs.MetricFilter(this, 'DbAuthFailuresFilter', {
      logGroup: logs.LogGroup.fromLogGroupName(
        this,
        'PostgresLog',
        DB_AUTH_FAILURE_METRIC.logGroupName(instanceIdentifier),
      ),
      filterPattern: logs.FilterPattern.literal(DB_AUTH_FAILURE_METRIC.filterPattern),
      metricNamespace: DB_AUTH_FAILURE_METRIC.namespace,
      metricName: DB_AUTH_FAILURE_METRIC.metricName(instanceIdentifier),
      metricValue: '1',
    });
  }

  /**
   * The page: see SERVICE_DEGRADED in alarm-catalogue.ts for the rule and why. Its members are this
   * stack's paging alarms and the Service stack's (by ARN, an import: that stack deploys first).
   */
  private createServiceDegraded(
    config: StageConfig,
    deploymentAlarms: readonly AlarmWithAnnotation[],
  ): cloudwatch.CompositeAlarm {
    const members = [
      ...deploymentAlarms.filter((a) => a.customTags?.includes(PAGE_TAG)),
      ...this.monitoring.createdAlarmsWithTag(PAGE_TAG),
    ];
    if (members.length === 0) throw new Error('No alarm is tagged for the service-degraded composite.');
    return this.monitoring.createAlarmFactory('Composite').addCompositeAlarm(members, {
      alarmNameOverride: alarmName(config, SERVICE_DEGRADED.id),
      alarmDescription: SERVICE_DEGRADED.sentence(config),
      runbookLink: runbookLink(config, SERVICE_DEGRADED.id),
      disambiguator: 'Critical',
      actionsEnabled: true,
    });
  }

  private readMeWidget(config: StageConfig): cloudwatch.TextWidget {
    return new cloudwatch.TextWidget({
      width: 24,
      height: 2,
      markdown: [
        `# ${physicalName(config, 'api')} (${config.stage})`,
        `Every alarm is named \`${config.appName}-${config.stage}-<id>\` and has a runbook at ` +
          `\`${config.monitoring.runbookBaseUrl ?? RUNBOOK_DIR}/<id>.md\`; ` +
          `\`${alarmName(config, SERVICE_DEGRADED.id)}\` is the page. Periods: ${config.monitoring.periodMinutes} min.`,
      ].join('\n'),
    });
  }

  /** The first thing a runbook looks at: the service's latest errors and the gate runs' verdicts. */
  private recentLogsWidget(service: MonitoredService): cloudwatch.Row {
    return new cloudwatch.Row(
      new cloudwatch.LogQueryWidget({
        title: 'Service errors and dependency events (latest 50)',
        logGroupNames: [service.api.logGroup.logGroupName],
        width: 12,
        height: 6,
        queryLines: [
          'fields @timestamp, level, event, msg, request_id',
          'filter level = "error" or ispresent(event)',
          'sort @timestamp desc',
          'limit 50',
        ],
      }),
      new cloudwatch.LogQueryWidget({
        title: 'k6 gate runs (runner log, latest 50)',
        logGroupNames: [service.runner.logGroup.logGroupName],
        width: 12,
        height: 6,
        queryLines: ['fields @timestamp, @message', 'sort @timestamp desc', 'limit 50'],
      }),
    );
  }
}

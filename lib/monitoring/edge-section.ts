/**
 * Wiring for the edge: the WAF WebACL in front of the load balancer (lib/constructs/api-firewall.ts).
 * WAF publishes `AWS/WAFV2` metrics per WebACL, region and rule; `Rule=ALL` is the WebACL's total.
 */
import type { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { MonitoringFacade } from 'cdk-monitoring-constructs';
import { ALARM_IDS } from './alarm-names';
import type { AlarmWiring } from './alarm-wiring';

export interface EdgeSectionProps {
  readonly wiring: AlarmWiring;
  readonly period: Duration;
  /** The WebACL's name (a fixed physical name) and region: the metrics' dimensions. */
  readonly webAclName: string;
  readonly region: string;
}

export function monitorEdge(facade: MonitoringFacade, props: EdgeSectionProps): void {
  const { wiring, period, webAclName, region } = props;
  const waf = (metricName: 'BlockedRequests' | 'AllowedRequests' | 'CountedRequests', label: string) =>
    new cloudwatch.Metric({
      namespace: 'AWS/WAFV2',
      metricName,
      dimensionsMap: { WebACL: webAclName, Region: region, Rule: 'ALL' },
      statistic: 'Sum',
      period,
      label,
    });
  facade.monitorCustom({
    alarmFriendlyName: `${webAclName}-requests`,
    humanReadableName: `${webAclName}: requests the WAF allowed, counted and blocked`,
    metricGroups: [
      {
        title: 'Blocked (alarmed)',
        metrics: [wiring.alarmed(ALARM_IDS.wafBlocked, waf('BlockedRequests', 'Blocked'))],
      },
      {
        title: 'Allowed and counted (count: rules set to observe, e.g. body size)',
        metrics: [waf('AllowedRequests', 'Allowed'), waf('CountedRequests', 'Counted')],
      },
    ],
  });
}

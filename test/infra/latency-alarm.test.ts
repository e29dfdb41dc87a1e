/**
 * The latency alarm builder (lib/monitoring/alarm-policy.ts) takes its source: the ALB's target
 * response time (the catalogue's service-p95/p99-latency alarms, whose templates
 * monitoring-stack.test.ts holds) or the service's own EMF request latency.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { STAGES } from '../../lib/config';
import { SERVICE_METRICS } from '../../lib/contract';
import { ALARM_POLICIES } from '../../lib/monitoring/alarm-catalogue';
import { ALARM_IDS } from '../../lib/monitoring/alarm-names';
import { APP_REQUEST_LATENCY, latency, TARGET_RESPONSE_TIME } from '../../lib/monitoring/alarm-policy';
import { AppMetrics } from '../../lib/monitoring/app-metrics';

const prod = STAGES.prod;

describe('the latency alarm builder', () => {
  test("the catalogue's latency alarms are built from the ALB's target response time", () => {
    const p95 = ALARM_POLICIES.get(ALARM_IDS.p95Latency);
    expect(p95?.title).toBe('Service p95 latency');
    expect(p95?.sentence(prod)).toMatch(
      /^The p95 response time of chat-prod-api \(the slower of the blue and green target groups\) was above 10000 ms /,
    );
    expect(latency('p95', TARGET_RESPONSE_TIME, { id: ALARM_IDS.p95Latency, metric: 'x' }).title).toBe(
      'Service p95 latency',
    );
  });

  test("serves an alarm on the app's own request latency, with the same threshold, guard and missing data", () => {
    const alb = latency('p99', TARGET_RESPONSE_TIME, { id: ALARM_IDS.p99Latency, metric: 'alb' });
    const app = latency('p99', APP_REQUEST_LATENCY, { id: ALARM_IDS.p99Latency, metric: 'RequestLatency p99' });
    expect(app.title).toBe('App p99 latency');
    expect(app.sentence(prod)).toMatch(
      /^The p99 request latency that chat-prod-api measures on its chat routes \(all tasks\) was above 20000 ms /,
    );
    expect(app.threshold(prod)).toBe(prod.monitoring.thresholds.p99LatencyMs);
    const shared = (p: typeof app) => ({
      comparison: p.comparison,
      threshold: p.threshold(prod),
      thresholdText: p.thresholdText(prod),
      treatMissingData: p.treatMissingData,
      missingDataReason: p.missingDataReason,
      evaluation: p.evaluation,
    });
    expect(shared(app)).toEqual(shared(alb));
    // Another threshold field of the stage config can be named.
    expect(
      latency('p95', APP_REQUEST_LATENCY, {
        id: ALARM_IDS.p95Latency,
        metric: 'x',
        threshold: 'p99LatencyMs',
      }).threshold(prod),
    ).toBe(prod.monitoring.thresholds.p99LatencyMs);
  });

  test('the app-side metric: EMF RequestLatency of this service, no datapoint below the request guard', () => {
    const stack = new Stack();
    const metrics = new AppMetrics('chat-prod-api', Duration.minutes(5));
    new cloudwatch.Alarm(stack, 'AppP95', {
      metric: metrics.latencyMs('p95', 20),
      threshold: prod.monitoring.thresholds.p95LatencyMs,
      evaluationPeriods: 3,
    });
    const alarm = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Alarm'))[0] as {
      Properties: {
        Metrics: {
          Expression?: string;
          MetricStat?: { Metric: { MetricName: string; Namespace: string }; Stat: string };
        }[];
      };
    };
    const queries = alarm.Properties.Metrics;
    expect(queries.find((q) => q.Expression)?.Expression).toBe('IF(FILL(requests, 0) >= 20, p95Latency)');
    expect(
      queries
        .filter((q) => q.MetricStat)
        .map((q) => [q.MetricStat?.Metric.Namespace, q.MetricStat?.Metric.MetricName, q.MetricStat?.Stat])
        .sort(),
    ).toEqual([
      [SERVICE_METRICS.namespace, SERVICE_METRICS.names.requestLatencyMs, 'p95'],
      [SERVICE_METRICS.namespace, SERVICE_METRICS.names.requests, 'Sum'],
    ]);
  });
});

/**
 * One CloudWatch Embedded Metric Format line for the run, printed on stdout: in AWS the runner
 * task's log group turns it into the gate metrics the deployment alarms and the dashboard read.
 * Names come from the contract's GATE_METRICS; the `Service` dimension is SERVICE_NAME.
 */
import { GATE_METRICS } from '../../../lib/contract/metrics';
import type { GateReport } from './report';

type EmfUnit = 'Count' | 'Seconds' | 'Milliseconds' | 'Percent' | 'None';

export function buildEmfLine(report: GateReport, timestampMs: number): string {
  const n = GATE_METRICS.names;
  const values: Array<[string, number | null, EmfUnit]> = [
    [n.failed, report.verdict === 'PASS' ? 0 : 1, 'Count'],
    [n.error, report.verdict === 'ERROR' ? 1 : 0, 'Count'],
    [n.durationSeconds, report.durationSeconds, 'Seconds'],
    [n.p95LatencyMs, report.latencyMs.p95, 'Milliseconds'],
    [n.errorRatePercent, report.errorRatePercent, 'Percent'],
    [n.requests, report.requests.total, 'Count'],
    [n.cacheHitRatePercent, report.cacheHitRatePercent, 'Percent'],
    [n.comparisonsFailed, report.comparisons ? report.comparisons.filter((c) => !c.ok).length : null, 'Count'],
    [n.tokensPerCall, report.cost.candidate.tokensPerCall, 'None'],
    [n.ttftP95Ms, report.ttftP95Ms, 'Milliseconds'],
  ];
  // A metric without a value is left out rather than published as 0: a 0 ms p95 would be a lie.
  const present = values.filter((v): v is [string, number, EmfUnit] => v[1] !== null);
  const doc: Record<string, unknown> = {
    _aws: {
      Timestamp: timestampMs,
      CloudWatchMetrics: [
        {
          Namespace: GATE_METRICS.namespace,
          Dimensions: [[GATE_METRICS.dimension]],
          Metrics: present.map(([name, , unit]) => ({ Name: name, Unit: unit })),
        },
      ],
    },
    [GATE_METRICS.dimension]: report.serviceName,
    // Properties, not dimensions: searchable in Logs Insights without multiplying metrics.
    Profile: report.profile,
    Verdict: report.verdict,
    RunId: report.runId,
    ExpectedVersion: report.expectedVersion,
    Baseline: report.baseline,
    BaselineVersion: report.baselineVersion,
    // The comparisons' figures, searchable in Logs Insights; null: fixed limits only, no comparison made.
    Comparisons: report.comparisons,
    // Tokens per call and cost per 1,000 answers of both targets at the stage's price.
    Cost: report.cost,
  };
  for (const [name, value] of present) doc[name] = value;
  return JSON.stringify(doc);
}

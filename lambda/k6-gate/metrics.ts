/**
 * The gate's result as CloudWatch metrics, in the contract's namespace and dimension, so the
 * `gate-failed` deployment alarm and the dashboard read exactly what the hook writes. The k6
 * runner adds the load numbers (p95, error rate, requests, hit rate) as an EMF line in its logs.
 */
import type { PutMetricDataCommandInput } from '@aws-sdk/client-cloudwatch';
import { GATE_METRICS, type GateVerdict } from '../../lib/contract';

export function gateMetricData(
  serviceName: string,
  verdict: GateVerdict,
  durationSeconds: number,
  at: Date,
): PutMetricDataCommandInput {
  const dimensions = [{ Name: GATE_METRICS.dimension, Value: serviceName }];
  const datum = (name: string, value: number, unit: 'Count' | 'Seconds') => ({
    MetricName: name,
    Dimensions: dimensions,
    Timestamp: at,
    Value: value,
    Unit: unit,
  });
  return {
    Namespace: GATE_METRICS.namespace,
    MetricData: [
      // Failed is 1 for a threshold failure and for a gate error: either way the version is not proven.
      datum(GATE_METRICS.names.failed, verdict === 'pass' ? 0 : 1, 'Count'),
      datum(GATE_METRICS.names.error, verdict === 'error' ? 1 : 0, 'Count'),
      datum(GATE_METRICS.names.durationSeconds, Math.max(0, Math.round(durationSeconds)), 'Seconds'),
    ],
  };
}

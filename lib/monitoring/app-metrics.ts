/**
 * Metric definitions for what the service and the k6 gate report about themselves: the service's
 * EMF lines (namespace ChatApi) and the gate's (namespace ChatPlatform/Gate). Names come from the
 * contract, so a renamed metric fails to compile here instead of silently breaking an alarm.
 *
 * Every task writes one EMF document per interval with the same `Service` dimension, so CloudWatch
 * sums the counters over all tasks (statistic Sum) and the 0/1 flags take the worst task (Maximum).
 */
import type { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { GATE_METRICS, SERVICE_METRICS } from '../contract';

export type ServiceMetricName = keyof typeof SERVICE_METRICS.names;
export type GateMetricName = keyof typeof GATE_METRICS.names;

export class AppMetrics {
  /**
   * @param serviceDimension value of the `Service` dimension (`serviceDimension(config)`), the same
   *   value the task definition gives the service and the gate as `SERVICE_NAME`.
   */
  constructor(
    private readonly serviceDimension: string,
    private readonly period: Duration,
  ) {}

  /** One of the service's EMF metrics. */
  service(name: ServiceMetricName, statistic: string, label: string): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: SERVICE_METRICS.namespace,
      metricName: SERVICE_METRICS.names[name],
      dimensionsMap: { [SERVICE_METRICS.dimension]: this.serviceDimension },
      statistic,
      period: this.period,
      label,
    });
  }

  /** One of the gate's EMF metrics (hook Lambda and k6 summary). */
  gate(name: GateMetricName, statistic: string, label: string): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: GATE_METRICS.namespace,
      metricName: GATE_METRICS.names[name],
      dimensionsMap: { [GATE_METRICS.dimension]: this.serviceDimension },
      statistic,
      period: this.period,
      label,
    });
  }

  count(name: ServiceMetricName, label: string): cloudwatch.Metric {
    return this.service(name, cloudwatch.Stats.SUM, label);
  }

  /**
   * Share of chat requests answered from the cache, in percent: hits / (hits + misses + bypassed);
   * no datapoint below `minLookups` lookups in the period.
   *
   * Bypassed requests are in the denominator on purpose: a cache that silently switched itself off
   * (the seeds' failure) turns every request into a bypass, and this rate drops to 0% instead of
   * vanishing for lack of hits and misses.
   */
  cacheHitRatePercent(minLookups: number): cloudwatch.MathExpression {
    const usingMetrics = {
      hits: this.count('cacheHits', 'Cache hits'),
      misses: this.count('cacheMisses', 'Cache misses'),
      bypassed: this.count('cacheBypassed', 'Cache bypassed'),
    };
    const lookups = new cloudwatch.MathExpression({
      expression: 'FILL(hits, 0) + FILL(misses, 0) + FILL(bypassed, 0)',
      usingMetrics,
      period: this.period,
      label: 'Cache lookups',
    });
    return new cloudwatch.MathExpression({
      expression: `IF(lookups >= ${minLookups}, 100 * FILL(hits, 0) / lookups)`,
      usingMetrics: { ...usingMetrics, lookups },
      period: this.period,
      label: 'Cache hit rate % (bypass counts as a miss)',
    });
  }

  /** LLM tokens billed (in + out, every task) per minute, averaged over the period. */
  llmTokensPerMinute(): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({
      expression: `(FILL(tokensIn, 0) + FILL(tokensOut, 0)) / ${this.period.toMinutes()}`,
      usingMetrics: {
        tokensIn: this.count('llmTokensIn', 'LLM tokens in'),
        tokensOut: this.count('llmTokensOut', 'LLM tokens out'),
      },
      period: this.period,
      label: 'LLM tokens per minute',
    });
  }

  /** Requests answered 429 because a principal used its request or token quota. */
  quotaRejections(): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({
      expression: 'FILL(requests, 0) + FILL(tokens, 0)',
      usingMetrics: {
        requests: this.count('quotaRequestsRejected', 'Rejected: request quota'),
        tokens: this.count('quotaTokensRejected', 'Rejected: token quota'),
      },
      period: this.period,
      label: 'Requests rejected by quota',
    });
  }

  /** 1 in any period in which some task could not use the cache at all. */
  cacheUnavailable(): cloudwatch.Metric {
    return this.service('cacheUnavailable', cloudwatch.Stats.MAXIMUM, 'Cache unavailable (worst task)');
  }

  /** Failed LLM calls (5xx, timeout, network; not 429) as a percentage of calls made. */
  llmErrorRatePercent(minCalls: number): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({
      expression: `IF(FILL(calls, 0) >= ${minCalls}, 100 * FILL(errors, 0) / calls)`,
      usingMetrics: { calls: this.count('llmCalls', 'LLM calls'), errors: this.count('llmErrors', 'LLM errors') },
      period: this.period,
      label: 'LLM error rate %',
    });
  }

  latency(name: 'requestLatencyMs' | 'llmLatencyMs', percentile: string): cloudwatch.Metric {
    const what = name === 'requestLatencyMs' ? 'Request latency' : 'LLM latency';
    return this.service(name, percentile, `${what} ${percentile} ms`);
  }

  /**
   * The chat routes' request latency percentile as the service measures it, in milliseconds, with
   * no datapoint below `minRequests` requests in the period: the app-side counterpart of
   * `BlueGreenMetrics.latencyMs`, for a latency alarm built with `APP_REQUEST_LATENCY`.
   */
  latencyMs(percentile: 'p95' | 'p99', minRequests: number): cloudwatch.MathExpression {
    const latency = `${percentile}Latency`;
    return new cloudwatch.MathExpression({
      expression: `IF(FILL(requests, 0) >= ${minRequests}, ${latency})`,
      usingMetrics: {
        requests: this.count('requests', 'Requests'),
        [latency]: this.latency('requestLatencyMs', percentile),
      },
      period: this.period,
      label: `Request latency ${percentile} ms (service-measured)`,
    });
  }

  /** 1 when the last gate run in the period failed, for thresholds (GateFailed) or for want of a verdict (GateError). */
  gateFailedOrErrored(): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({
      expression: 'MAX([FILL(failed, 0), FILL(errored, 0)])',
      usingMetrics: {
        failed: this.gate('failed', cloudwatch.Stats.MAXIMUM, 'Gate failed'),
        errored: this.gate('error', cloudwatch.Stats.MAXIMUM, 'Gate error'),
      },
      period: this.period,
      label: 'Gate failed or errored',
    });
  }
}

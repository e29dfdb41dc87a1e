/**
 * Wiring for what the service reports about itself (EMF, namespace ChatApi): cache, LLM and
 * database, including the credential failures a rotation gone wrong would cause.
 */
import type { MonitoringFacade } from 'cdk-monitoring-constructs';
import { physicalName } from '../config';
import { ALARM_IDS } from './alarm-names';
import type { AlarmWiring } from './alarm-wiring';
import type { AppMetrics } from './app-metrics';

export interface AppSectionProps {
  readonly wiring: AlarmWiring;
  readonly metrics: AppMetrics;
}

export function monitorApp(facade: MonitoringFacade, props: AppSectionProps): void {
  const { wiring, metrics } = props;
  const { thresholds } = wiring.config.monitoring;
  const name = physicalName(wiring.config, 'api');

  facade.monitorCustom({
    alarmFriendlyName: `${name}-app`,
    humanReadableName: `${name}: request latency and cache (EMF)`,
    metricGroups: [
      {
        title: 'Request latency ms (chat routes, in the service)',
        metrics: ['p50', 'p95', 'p99'].map((p) => metrics.latency('requestLatencyMs', p)),
      },
      {
        title: 'Cache hit rate % (alarmed)',
        metrics: [
          wiring.alarmed(ALARM_IDS.cacheHitRate, metrics.cacheHitRatePercent(thresholds.minCacheLookupsPerPeriod)),
        ],
      },
      {
        title: 'Cache lookups',
        metrics: [
          metrics.count('cacheHits', 'Hits'),
          metrics.count('cacheMisses', 'Misses'),
          metrics.count('cacheBypassed', 'Bypassed'),
        ],
      },
      {
        title: 'Cache unavailable (alarmed)',
        metrics: [wiring.alarmed(ALARM_IDS.cacheUnavailable, metrics.cacheUnavailable())],
      },
    ],
  });

  facade.monitorCustom({
    alarmFriendlyName: `${name}-llm`,
    humanReadableName: `${name}: LLM provider`,
    metricGroups: [
      {
        title: 'LLM latency ms',
        metrics: ['p50', 'p95', 'p99'].map((p) => metrics.latency('llmLatencyMs', p)),
      },
      {
        title: 'LLM throttled, 429 (alarmed)',
        metrics: [wiring.alarmed(ALARM_IDS.llmThrottled, metrics.count('llmThrottled', 'Throttled (429)'))],
      },
      {
        title: 'LLM error rate % (alarmed)',
        metrics: [wiring.alarmed(ALARM_IDS.llmErrorRate, metrics.llmErrorRatePercent(thresholds.minLlmCallsPerPeriod))],
      },
      {
        title: 'LLM calls',
        metrics: [metrics.count('llmCalls', 'Calls'), metrics.count('llmErrors', 'Errors')],
      },
    ],
  });

  facade.monitorCustom({
    alarmFriendlyName: `${name}-cost`,
    humanReadableName: `${name}: LLM spend and quotas`,
    metricGroups: [
      {
        title: 'LLM tokens per minute (alarmed: budget)',
        metrics: [wiring.alarmed(ALARM_IDS.llmTokensOverBudget, metrics.llmTokensPerMinute())],
      },
      {
        title: 'Requests rejected by quota (alarmed)',
        metrics: [wiring.alarmed(ALARM_IDS.quotaRejections, metrics.quotaRejections())],
      },
      {
        title: 'Quota decisions taken per task (cache unusable)',
        metrics: [metrics.count('quotaFallback', 'Quota fallback'), metrics.count('llmUsageMissing', 'Usage missing')],
      },
    ],
  });

  facade.monitorCustom({
    alarmFriendlyName: `${name}-dependencies`,
    humanReadableName: `${name}: database errors and credential failures (EMF)`,
    metricGroups: [
      {
        title: 'Database errors (alarmed)',
        metrics: [wiring.alarmed(ALARM_IDS.dbErrors, metrics.count('dbErrors', 'DB errors'))],
      },
      {
        title: 'Credentials rejected by Postgres or the cache (alarmed)',
        metrics: [wiring.alarmed(ALARM_IDS.authFailures, metrics.count('authFailures', 'Auth failures'))],
      },
      {
        title: 'Requests and 5xx seen by the service',
        metrics: [metrics.count('requests', 'Requests'), metrics.count('serverErrors', '5xx')],
      },
    ],
  });
}

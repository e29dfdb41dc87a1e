/**
 * The service's EMF documents, parsed out of what it prints: the fault suites' metric assertions
 * and the alarm proof (scripts/alarms-prove) read the same documents the same way.
 */
import { SERVICE_METRICS } from '../../lib/contract';
import type { LogLine } from './service';

export type EmfTotals = Partial<Record<string, number>>;

/** The EMF documents among parsed log lines (those with `_aws.CloudWatchMetrics`). */
export function emfDocuments(lines: readonly LogLine[]): Array<Record<string, unknown>> {
  return lines.filter((l) => {
    const aws = (l as { _aws?: { CloudWatchMetrics?: unknown } })._aws;
    return typeof aws === 'object' && aws !== null && Array.isArray(aws.CloudWatchMetrics);
  }) as Array<Record<string, unknown>>;
}

/** Parses EMF documents out of raw output text (one JSON object per line). */
export function emfFromText(text: string): Array<Record<string, unknown>> {
  const docs: LogLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.includes('"_aws"')) continue;
    try {
      docs.push(JSON.parse(line) as LogLine);
    } catch {
      // a partial line
    }
  }
  return emfDocuments(docs);
}

/**
 * Sums each counter over the documents; `CacheUnavailable` is the max (it is a 0/1 flag per
 * interval). Latency arrays are ignored.
 */
export function emfTotals(docs: ReadonlyArray<Record<string, unknown>>): EmfTotals {
  const totals: Record<string, number> = {};
  for (const doc of docs) {
    const aws = doc._aws as { CloudWatchMetrics: Array<{ Namespace: string; Metrics: Array<{ Name: string }> }> };
    for (const directive of aws.CloudWatchMetrics) {
      if (directive.Namespace !== SERVICE_METRICS.namespace) continue;
      for (const { Name } of directive.Metrics) {
        const value = doc[Name];
        if (typeof value !== 'number') continue;
        totals[Name] =
          Name === SERVICE_METRICS.names.cacheUnavailable
            ? Math.max(totals[Name] ?? 0, value)
            : (totals[Name] ?? 0) + value;
      }
    }
  }
  return totals;
}

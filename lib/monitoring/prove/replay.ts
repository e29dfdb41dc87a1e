/**
 * EMF documents -> CloudWatch datapoints, on a stretched clock.
 *
 * EMF (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
 * each `CloudWatchMetrics` directive publishes every metric it lists once per dimension set in its
 * `Dimensions`, the dimension values read from the document's root; a value may be a number or an
 * array of numbers; the datapoint's time is `_aws.Timestamp`.
 *
 * Honest time: the capture ran the service's 60 s flush every `flushMs`, so each document holds one
 * "minute" of the service's own counting. The replay multiplies each document's offset from the
 * run's start by 60 000 / flushMs (the *stretched* clock), from the first document, which puts document i at about the middle of minute i:
 * what the same requests, arriving at the same pace per flush, would have produced with the real
 * flush. Every count stays as the service counted it; only time is stretched. The `slots` clock puts
 * document i exactly in the middle of minute i; a verdict that differs
 * between the two clocks is reported as a failure, so timer jitter in the compressed run cannot
 * decide a verdict. Periods are aligned to multiples of the period, as in CloudWatch, with the run
 * starting on a period boundary.
 */
import type { Datapoint } from './evaluator';

export type EmfDoc = { readonly [key: string]: unknown };

export function emfDatapoints(doc: EmfDoc, timestampMs: number): Datapoint[] {
  const aws = doc._aws as { CloudWatchMetrics?: unknown[] } | undefined;
  const out: Datapoint[] = [];
  for (const raw of aws?.CloudWatchMetrics ?? []) {
    const directive = raw as {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit?: string }[];
    };
    for (const set of directive.Dimensions ?? [[]]) {
      const dimensions = Object.fromEntries(set.map((d) => [d, String(doc[d])]));
      for (const m of directive.Metrics) {
        const v = doc[m.Name];
        const values = Array.isArray(v) ? v.map(Number) : typeof v === 'number' ? [v] : [];
        if (values.length === 0) continue;
        out.push({
          namespace: directive.Namespace,
          name: m.Name,
          dimensions,
          timestampMs,
          values,
          ...(m.Unit ? { unit: m.Unit } : {}),
        });
      }
    }
  }
  return out;
}

export type Clock = 'stretched' | 'slots';

export interface ReplayInput {
  readonly startedMs: number;
  readonly flushMs: number;
  readonly documents: readonly EmfDoc[];
}

/** The factor the capture's time was compressed by. */
export const stretchFactor = (flushMs: number) => 60_000 / flushMs;

/** Datapoints of every document, on a clock that starts at 0 (a boundary of any period). */
export function replay(input: ReplayInput, clock: Clock): Datapoint[] {
  const k = stretchFactor(input.flushMs);
  const stamp = (doc: EmfDoc) => Number((doc._aws as { Timestamp?: number } | undefined)?.Timestamp);
  const first = input.documents.length > 0 ? stamp(input.documents[0]) : 0;
  // Documents written in the same flush (latency samples beyond 100) share a timestamp and a minute.
  let minute = -1;
  let last = Number.NaN;
  return input.documents.flatMap((doc) => {
    const ts = stamp(doc);
    if (ts !== last) minute += 1;
    last = ts;
    const at = clock === 'stretched' ? (ts - first) * k + 30_000 : minute * 60_000 + 30_000;
    return emfDatapoints(doc, at);
  });
}

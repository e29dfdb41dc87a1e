/**
 * CloudWatch Embedded Metric Format (EMF) on stdout, aggregated in process.
 *
 * The hot path only increments numbers and drops a latency into a bounded reservoir; a timer writes
 * one EMF document per interval (and once more on shutdown). One line per interval instead of one
 * per request keeps the request path cheap and the log volume flat under load.
 *
 * Counts are exact. Latencies are a uniform reservoir sample (Algorithm R) of at most
 * `maxSamples` values per interval, because an EMF value array holds at most 100 numbers and has no
 * per-value counts; percentiles and averages stay unbiased, while `SampleCount` of a latency metric
 * is the sample size, so use the `Requests` / `LlmCalls` counters for volumes.
 * Spec: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */
import { type CacheMetricsResponse, SERVICE_METRICS } from '../../../lib/contract';

type MetricKey = keyof typeof SERVICE_METRICS.names;
export type TimingMetric = Extract<MetricKey, 'requestLatencyMs' | 'llmLatencyMs'>;
export type CounterMetric = Exclude<MetricKey, TimingMetric | 'cacheUnavailable'>;

const TIMINGS: readonly TimingMetric[] = ['requestLatencyMs', 'llmLatencyMs'];
const COUNTERS = (Object.keys(SERVICE_METRICS.names) as MetricKey[]).filter(
  (k): k is CounterMetric => k !== 'cacheUnavailable' && !(TIMINGS as readonly string[]).includes(k),
);

/** EMF allows at most 100 values in one metric's array. */
const EMF_MAX_VALUES = 100;

export interface MetricsOptions {
  /** Value of the `Service` dimension (`SERVICE_NAME`). */
  readonly serviceName: string;
  readonly write?: (line: string) => void;
  /** @default 60000 (CloudWatch's standard resolution) */
  readonly flushIntervalMs?: number;
  /** Latency samples kept per metric per interval; a multiple of 100 uses whole lines. @default 300 */
  readonly maxSamples?: number;
  readonly now?: () => number;
  readonly random?: () => number;
}

interface Reservoir {
  seen: number;
  samples: number[];
}

export class EmfMetrics {
  private readonly serviceName: string;
  private readonly write: (line: string) => void;
  private readonly flushIntervalMs: number;
  private readonly maxSamples: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private counters: Record<CounterMetric, number>;
  private reservoirs: Record<TimingMetric, Reservoir>;
  private cacheUnavailable = false;
  private readonly totals = { hits: 0, misses: 0, bypassed: 0 };
  private timer: NodeJS.Timeout | undefined;

  constructor(options: MetricsOptions) {
    this.serviceName = options.serviceName;
    this.write = options.write ?? ((line) => process.stdout.write(line));
    this.flushIntervalMs = options.flushIntervalMs ?? 60_000;
    this.maxSamples = options.maxSamples ?? 300;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.counters = this.zeroCounters();
    this.reservoirs = this.emptyReservoirs();
  }

  increment(metric: CounterMetric, by = 1): void {
    this.counters[metric] += by;
    if (metric === 'cacheHits') this.totals.hits += by;
    else if (metric === 'cacheMisses') this.totals.misses += by;
    else if (metric === 'cacheBypassed') this.totals.bypassed += by;
  }

  observe(metric: TimingMetric, valueMs: number): void {
    const r = this.reservoirs[metric];
    r.seen += 1;
    const v = Math.round(valueMs * 10) / 10;
    if (r.samples.length < this.maxSamples) {
      r.samples.push(v);
    } else {
      const j = Math.floor(this.random() * r.seen);
      if (j < this.maxSamples) r.samples[j] = v;
    }
  }

  /** The cache could not be used at some point in this interval (reported as 1, otherwise 0). */
  flagCacheUnavailable(): void {
    this.cacheUnavailable = true;
  }

  /** Counters since the process started, for `GET /api/v1/metrics/cache`. */
  cacheTotals(): CacheMetricsResponse {
    const { hits, misses, bypassed } = this.totals;
    const lookups = hits + misses;
    return { hits, misses, bypassed, hit_rate: lookups === 0 ? 0 : hits / lookups };
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.flush(), this.flushIntervalMs);
    this.timer.unref();
  }

  /** Stops the timer and writes what is left (the last partial interval). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.flush();
  }

  /** Writes the interval's EMF document(s) and resets the interval. Returns the number of lines. */
  flush(): number {
    const counters = this.counters;
    const reservoirs = this.reservoirs;
    const cacheUnavailable = this.cacheUnavailable;
    this.counters = this.zeroCounters();
    this.reservoirs = this.emptyReservoirs();
    this.cacheUnavailable = false;

    const anyCount = COUNTERS.some((k) => counters[k] !== 0);
    const anySample = TIMINGS.some((k) => reservoirs[k].samples.length > 0);
    if (!anyCount && !anySample && !cacheUnavailable) return 0;

    const timestamp = this.now();
    const names = SERVICE_METRICS.names;
    let lines = 0;
    // Line 0 carries every counter and the first 100 samples of each latency; later lines carry
    // only the remaining samples, so no counter is ever counted twice.
    for (let chunk = 0; ; chunk++) {
      const start = chunk * EMF_MAX_VALUES;
      const timingsHere = TIMINGS.filter((k) => reservoirs[k].samples.length > start);
      if (chunk > 0 && timingsHere.length === 0) break;
      const definitions: { Name: string; Unit: string }[] = [];
      const doc: Record<string, unknown> = {};
      if (chunk === 0) {
        for (const k of COUNTERS) {
          definitions.push({ Name: names[k], Unit: 'Count' });
          doc[names[k]] = counters[k];
        }
        definitions.push({ Name: names.cacheUnavailable, Unit: 'Count' });
        doc[names.cacheUnavailable] = cacheUnavailable ? 1 : 0;
      }
      for (const k of timingsHere) {
        definitions.push({ Name: names[k], Unit: 'Milliseconds' });
        doc[names[k]] = reservoirs[k].samples.slice(start, start + EMF_MAX_VALUES);
      }
      const line = {
        _aws: {
          Timestamp: timestamp,
          CloudWatchMetrics: [
            { Namespace: SERVICE_METRICS.namespace, Dimensions: [[SERVICE_METRICS.dimension]], Metrics: definitions },
          ],
        },
        [SERVICE_METRICS.dimension]: this.serviceName,
        ...doc,
      };
      this.write(`${JSON.stringify(line)}\n`);
      lines += 1;
    }
    return lines;
  }

  private zeroCounters(): Record<CounterMetric, number> {
    return Object.fromEntries(COUNTERS.map((k) => [k, 0])) as Record<CounterMetric, number>;
  }

  private emptyReservoirs(): Record<TimingMetric, Reservoir> {
    return { requestLatencyMs: { seen: 0, samples: [] }, llmLatencyMs: { seen: 0, samples: [] } };
  }
}

import { SERVICE_METRICS } from '../../lib/contract';
import { EmfMetrics } from '../../service/src/observability/metrics';
import { LineSink } from './support';

interface EmfDoc {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: Array<{
      Namespace: string;
      Dimensions: string[][];
      Metrics: Array<{ Name: string; Unit: string }>;
    }>;
  };
  [key: string]: unknown;
}

const N = SERVICE_METRICS.names;

describe('EMF metrics', () => {
  test('counts are aggregated in process and written as one EMF document per interval', () => {
    const sink = new LineSink();
    const m = new EmfMetrics({ serviceName: 'chat-dev', write: sink.write, now: () => 1_700_000_000_000 });
    for (let i = 0; i < 1000; i++) {
      m.increment('requests');
      m.increment(i % 4 === 0 ? 'cacheMisses' : 'cacheHits');
      m.observe('requestLatencyMs', i % 50);
    }
    m.increment('authFailures');
    expect(sink.lines).toHaveLength(0);
    m.flush();
    const docs = sink.parsed() as unknown as EmfDoc[];
    const first = docs[0] as EmfDoc;
    const directive = first._aws.CloudWatchMetrics[0];
    expect(directive?.Namespace).toBe(SERVICE_METRICS.namespace);
    expect(directive?.Dimensions).toEqual([[SERVICE_METRICS.dimension]]);
    expect(first[SERVICE_METRICS.dimension]).toBe('chat-dev');
    expect(first._aws.Timestamp).toBe(1_700_000_000_000);
    expect(first[N.requests]).toBe(1000);
    expect(first[N.cacheHits]).toBe(750);
    expect(first[N.cacheMisses]).toBe(250);
    expect(first[N.authFailures]).toBe(1);
    expect(first[N.cacheUnavailable]).toBe(0);
    // Every value a directive names is present in its document (EMF requirement).
    for (const doc of docs) {
      for (const metric of doc._aws.CloudWatchMetrics[0]?.Metrics ?? []) expect(doc[metric.Name]).toBeDefined();
    }
    expect(directive?.Metrics.find((x) => x.Name === N.requestLatencyMs)?.Unit).toBe('Milliseconds');
  });

  test('latencies are a bounded sample: at most 100 values per line, counters only on the first line', () => {
    const sink = new LineSink();
    const m = new EmfMetrics({ serviceName: 's', write: sink.write, maxSamples: 300 });
    for (let i = 0; i < 10_000; i++) {
      m.increment('requests');
      m.observe('requestLatencyMs', i);
    }
    expect(m.flush()).toBe(3);
    const docs = sink.parsed() as unknown as EmfDoc[];
    const samples = docs.flatMap((d) => (d[N.requestLatencyMs] as number[] | undefined) ?? []);
    expect(samples).toHaveLength(300);
    for (const d of docs) expect(((d[N.requestLatencyMs] as number[]) ?? []).length).toBeLessThanOrEqual(100);
    expect(docs.filter((d) => d[N.requests] !== undefined)).toHaveLength(1);
    // A uniform sample of 0..9999 has a median near 5000.
    const sorted = [...samples].sort((a, b) => a - b);
    expect(sorted[150]).toBeGreaterThan(3500);
    expect(sorted[150]).toBeLessThan(6500);
  });

  test('an interval resets after a flush, and an idle interval writes nothing', () => {
    const sink = new LineSink();
    const m = new EmfMetrics({ serviceName: 's', write: sink.write });
    m.increment('requests', 3);
    m.flush();
    expect(m.flush()).toBe(0);
    m.increment('requests');
    m.flush();
    const docs = sink.parsed() as unknown as EmfDoc[];
    expect(docs.map((d) => d[N.requests])).toEqual([3, 1]);
  });

  test('CacheUnavailable is 1 for an interval in which the cache could not be used', () => {
    const sink = new LineSink();
    const m = new EmfMetrics({ serviceName: 's', write: sink.write });
    m.flagCacheUnavailable();
    m.flush();
    m.increment('requests');
    m.flush();
    expect((sink.parsed() as unknown as EmfDoc[]).map((d) => d[N.cacheUnavailable])).toEqual([1, 0]);
  });

  test('stop() writes the last partial interval (shutdown flush)', () => {
    const sink = new LineSink();
    const m = new EmfMetrics({ serviceName: 's', write: sink.write, flushIntervalMs: 60_000 });
    m.start();
    m.increment('llmCalls', 2);
    m.stop();
    expect((sink.parsed() as unknown as EmfDoc[])[0]?.[N.llmCalls]).toBe(2);
  });

  test('cache totals since start back GET /api/v1/metrics/cache and survive flushes', () => {
    const m = new EmfMetrics({ serviceName: 's', write: () => undefined });
    m.increment('cacheHits', 3);
    m.increment('cacheMisses');
    m.flush();
    m.increment('cacheBypassed', 2);
    expect(m.cacheTotals()).toEqual({ hits: 3, misses: 1, bypassed: 2, hit_rate: 0.75 });
    expect(new EmfMetrics({ serviceName: 's' }).cacheTotals().hit_rate).toBe(0);
  });
});

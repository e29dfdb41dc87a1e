/**
 * The comparisons as the verdict, JSON, JUnit and EMF show them: per comparison the baseline and
 * candidate figures, the paired difference with its interval, the limit, PASS/FAIL (k6's own
 * threshold outcome, never re-judged here) and the smallest regression the run could have detected.
 */
import type { K6MetricSummary } from '../k6-summary';
import { COMPARISON_ALPHA, type ComparisonDesign, comparisonMetrics } from './comparisons';
import { medianLowerBoundRank, newcombeInterval } from './stats';

export interface ComparisonResult {
  readonly id: string;
  readonly title: string;
  readonly unit: 'ms' | 'ratio' | 'points';
  /** What the baseline and candidate figures of a latency-kind comparison are. */
  readonly valueUnit: 'ms' | 'tokens';
  readonly pairs: number;
  /** Latency: medians (ms; for ratios, of the LLM ms). Proportions: rates in percent. */
  readonly baseline: number | null;
  readonly candidate: number | null;
  /** Latency: median paired difference (ms, or a ratio). Proportions: candidate − baseline, points. */
  readonly difference: number | null;
  /** One-sided (1 − alpha) bound below the difference and the matching bound above it. */
  readonly interval: { readonly low: number; readonly high: number } | null;
  readonly limit: string;
  /** Pairs that were worse than the limit, and the boundary that fails the comparison. */
  readonly worsePairs: number;
  readonly failsAtWorse: string;
  /**
   * The smallest regression this run could have detected, in the comparison's unit: PASS means
   * "no regression bigger than this". null when the run had too few pairs to detect any.
   */
  readonly detectable: number | null;
  readonly ok: boolean;
}

type Metrics = Readonly<Record<string, K6MetricSummary>>;

export function buildComparisonResults(
  metrics: Metrics,
  designs: readonly ComparisonDesign[],
  thresholdOk: (metric: string) => boolean,
): ComparisonResult[] {
  return designs.map((d) => {
    const m = comparisonMetrics(d.spec.id);
    const pairs = metrics[m.pairs]?.values.count ?? 0;
    const worseMetric = metrics[m.worse];
    // The Rate's samples include the boundary's pseudo-trials (zeros), added in setup().
    const worsePairs = worseMetric?.values.passes ?? 0;
    const trials = Math.max(
      0,
      (worseMetric?.values.passes ?? 0) + (worseMetric?.values.fails ?? 0) - d.boundary.pseudoTrials,
    );
    const common = {
      id: d.spec.id,
      title: d.spec.title,
      unit: d.spec.unit,
      valueUnit: d.spec.valueUnit,
      pairs,
      limit: d.spec.limitText,
      worsePairs,
      failsAtWorse: `${d.boundary.maxRate} × (${trials} trials + ${d.boundary.pseudoTrials})`,
      ok: thresholdOk(m.worse) && thresholdOk(m.pairs),
    };
    if (d.spec.kind === 'proportion') {
      const b = metrics[m.baseline]?.values.count ?? 0;
      const c = metrics[m.candidate]?.values.count ?? 0;
      const n = pairs;
      // For the hit rate, events are hits and a regression is fewer of them: show candidate − baseline.
      const diff = n > 0 ? ((c - b) / n) * 100 : null;
      const ci = n > 0 ? newcombeInterval(c, n, b, n, COMPARISON_ALPHA) : null;
      // Detectable: McNemar fails once only-candidate-worse pairs reach the boundary with none the
      // other way; in points of the pairs.
      const needed = Math.ceil((d.boundary.maxRate * d.boundary.pseudoTrials) / (1 - d.boundary.maxRate) - 1e-9);
      return {
        ...common,
        baseline: n > 0 ? round((b / n) * 100, 2) : null,
        candidate: n > 0 ? round((c / n) * 100, 2) : null,
        difference: diff === null ? null : round(diff, 2),
        interval: ci ? { low: round(ci.low * 100, 2), high: round(ci.high * 100, 2) } : null,
        detectable: n > 0 ? round((Math.max(1, needed) / n) * 100, 1) : null,
      };
    }
    const diffTrend = metrics[m.diff];
    const toUnit = (v: number) => (d.spec.unit === 'ratio' ? Math.exp(v) : v);
    const median = trendValue(diffTrend, 'med');
    const bounds = medianBounds(diffTrend, pairs, COMPARISON_ALPHA);
    const detectable =
      median !== null && bounds !== null ? toUnit(d.spec.limit + Math.max(0, median - bounds.lowRaw)) : null;
    return {
      ...common,
      baseline: roundOrNull(trendValue(metrics[m.baseline], 'med'), 2),
      candidate: roundOrNull(trendValue(metrics[m.candidate], 'med'), 2),
      difference: median === null ? null : round(toUnit(median), 3),
      interval: bounds ? { low: round(toUnit(bounds.lowRaw), 3), high: round(toUnit(bounds.highRaw), 3) } : null,
      detectable: detectable === null ? null : round(detectable, 3),
    };
  });
}

function trendValue(metric: K6MetricSummary | undefined, stat: string): number | null {
  if (!metric?.values.count) return null;
  const v = metric.values[stat];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/**
 * The distribution-free interval of the median difference: order statistics k and n − k + 1, read
 * from k6's percentile grid (p(q) interpolates at index q/100·(n − 1)). The grid point at or below
 * the wanted index is taken for the low end and at or above for the high end, so the interval is
 * never narrower than the exact one.
 */
export function medianBounds(
  trend: K6MetricSummary | undefined,
  n: number,
  alpha: number,
): { lowRaw: number; highRaw: number } | null {
  if (!trend || n < 2) return null;
  const k = medianLowerBoundRank(n, alpha);
  if (k === 0) return null;
  const at = (index: number, direction: 'down' | 'up'): number | null => {
    const q = (100 * index) / (n - 1);
    const p = direction === 'down' ? Math.floor(q + 1e-9) : Math.ceil(q - 1e-9);
    if (p <= 0) return trendValue(trend, 'min');
    if (p >= 100) return trendValue(trend, 'max');
    return trendValue(trend, `p(${p})`);
  };
  const low = at(k - 1, 'down');
  const high = at(n - k, 'up');
  return low === null || high === null ? null : { lowRaw: low, highRaw: high };
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function roundOrNull(n: number | null, digits: number): number | null {
  return n === null ? null : round(n, digits);
}

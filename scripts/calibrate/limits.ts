/**
 * "Close to the limit": for each latency and token comparison, the smallest shift ANY paired test
 * at the gate's alpha and power could detect with the pairs a run has (the statistical floor), next
 * to the shift the gate's own sign-test boundary detects (its minimum detectable effect), both
 * computed from the paired differences an identical candidate produced in the calibration.
 *
 * - The spread: each identical run's k6 summary holds the differences' percentiles p1..p99
 *   (`cmp_<id>_diff`, and per route `cmp_<id>_diff_<route>`, the percentile grid); the runs are
 *   pooled by averaging each percentile (Vincentizing), and the robust standard deviation is half
 *   the 16th–84th percentile range, per route (JSON and streamed pairs can differ in spread).
 * - The floor: (z(1 − alpha) + z(power)) · sigma / sqrt(n), the shift the most powerful test (the
 *   one-sided z test with a known sigma) detects when the differences are normal with that spread;
 *   with routes of different spreads, the precision-weighted z test's (z(1 − alpha) + z(power)) /
 *   sqrt(Σ n_r / sigma_r²), the most powerful for a shift common to all pairs.
 *   Heavier tails than a normal's would let a test tuned to their exact shape do better; that shape
 *   cannot be known from 99 percentiles, so this floor is the normal-shape one, and it says so.
 * - The gate's MDE: the smallest added shift d at which P(worse pairs >= boundary(n)) reaches the
 *   power, the worse pairs a sum of Binomial(n_r, p_r(d)) over the routes, with p_r(d) =
 *   P(D + d > limit) read off the route's pooled percentiles (D: the identical candidate's difference). It includes the limit itself (a regression smaller than the limit is
 *   allowed by design), so both figures are also shown as their excess over the limit.
 *
 * Pure (the k6 summaries are passed in), so jest checks it on synthetic grids.
 */
import type { ProfileSpec } from '../../lib/contract/gate-profiles';
import {
  COMPARISON_ALPHA,
  type ComparisonDesign,
  comparisonMetrics,
  designComparisons,
  PAIR_ROUTES,
  routeDiffMetric,
} from '../../loadtests/src/lib/compare/comparisons';
import { binomialPmf, boundaryCount, normalQuantile } from '../../loadtests/src/lib/compare/stats';
import type { K6MetricSummary } from '../../loadtests/src/lib/k6-summary';
import { defaultPlan } from '../../loadtests/src/lib/plan';

/** The power both figures are computed at: the issue's detection goals are 95%. */
export const LIMIT_POWER = 0.95;

export interface LimitRow {
  readonly id: string;
  readonly title: string;
  readonly unit: 'ms' | 'ratio';
  /** Runs pooled, and the median pairs per run (n). */
  readonly runs: number;
  readonly pairs: number;
  /**
   * Robust sigma of the paired difference (ms, or ln ratio); with several routes, the effective one
   * of the precision-weighted test, sqrt(n / Σ n_r / sigma_r²).
   */
  readonly sigma: number;
  /** Each route's pairs per run and robust sigma (one `all` stratum for reports without routes). */
  readonly strata: readonly { readonly route: string; readonly pairs: number; readonly sigma: number }[];
  /** The limit (ms, or ln ratio). */
  readonly limit: number;
  /** Smallest detectable shift above the limit: the floor, and the gate's (ms, or ln ratio). */
  readonly floorExcess: number;
  readonly gateExcess: number;
  /**
   * gateExcess / floorExcess: infinite when the boundary cannot be crossed with these pairs; 1 when
   * the differences have no spread and the gate detects any shift past the limit, as any test would.
   */
  readonly ratio: number;
}

/** The 99 percentiles of a Trend summary, or undefined when any is missing. */
export function percentileGrid(summary: K6MetricSummary | undefined): number[] | undefined {
  if (!summary) return undefined;
  const grid: number[] = [];
  for (let q = 1; q <= 99; q++) {
    const v = summary.values[`p(${q})`];
    if (typeof v !== 'number' || !Number.isFinite(v)) return undefined;
    grid.push(v);
  }
  return grid;
}

/**
 * P(D > x) from a percentile grid, linear between percentiles. Below p1 it is taken as 1 and above
 * p99 as 0: both ends only matter where the power is already about 1 or about 0.
 */
export function exceedance(grid: readonly number[], x: number): number {
  if (x < (grid[0] as number)) return 1;
  for (let i = 1; i < grid.length; i++) {
    const lo = grid[i - 1] as number;
    const hi = grid[i] as number;
    if (x < hi) return 1 - (i + (hi > lo ? (x - lo) / (hi - lo) : 0)) / 100;
  }
  return 0;
}

/** One route's pooled differences: its percentile grid, pairs per run, and robust sigma. */
interface Stratum {
  readonly route: string;
  readonly grid: readonly number[];
  readonly pairs: number;
  readonly sigma: number;
}

/**
 * The pooled percentile grids of one Trend across runs (Vincentized), with the median count per run
 * (0 for runs without the Trend, so a route some runs lack counts as rare). Runs with fewer than
 * `minCount` samples of it add no grid: their percentiles are a handful of points.
 */
function pooledTrend(
  runs: readonly Readonly<Record<string, K6MetricSummary>>[],
  metric: string,
  minCount: number,
): { grid: number[]; pairs: number; runs: number } | undefined {
  const grids: number[][] = [];
  const counts: number[] = [];
  for (const metrics of runs) {
    const summary = metrics[metric];
    const count = summary?.values.count;
    counts.push(typeof count === 'number' ? count : 0);
    const grid = percentileGrid(summary);
    if (grid && typeof count === 'number' && count >= minCount) grids.push(grid);
  }
  if (grids.length === 0) return undefined;
  const grid = Array.from({ length: 99 }, (_, i) => grids.reduce((sum, g) => sum + (g[i] as number), 0) / grids.length);
  const sorted = [...counts].sort((a, b) => a - b);
  return { grid, pairs: sorted[Math.floor(sorted.length / 2)] as number, runs: grids.length };
}

/** Robust sigma: half the 16th–84th percentile range (the normal's sigma for normal data). */
function robustSigma(grid: readonly number[]): number {
  return ((grid[83] as number) - (grid[15] as number)) / 2;
}

/** The distribution of a sum of independent binomials, P(X = 0..Σn). */
function sumOfBinomials(parts: readonly { n: number; p: number }[]): number[] {
  let dist = [1];
  for (const { n, p } of parts) {
    const next = new Array<number>(dist.length + n).fill(0);
    for (let k = 0; k <= n; k++) {
      const pk = binomialPmf(k, n, p);
      if (pk === 0) continue;
      for (let j = 0; j < dist.length; j++) next[j + k] = (next[j + k] as number) + (dist[j] as number) * pk;
    }
    dist = next;
  }
  return dist;
}

/**
 * The comparison's row. When the runs hold each route's differences (`routeDiffMetric`), each route
 * is a stratum with its own spread: JSON and streamed pairs can differ a lot (a streamed answer's
 * LLM time is mostly its steady token stream, a JSON one's mostly the provider's wait), and one
 * pooled sigma would describe neither.
 * - The floor is then the most powerful test for a shift common to all pairs when each stratum is
 *   normal with its own known sigma, the precision-weighted z test:
 *   (z(1 − alpha) + z(power)) / sqrt(Σ n_r / sigma_r²). With one stratum it is the formula above.
 * - The gate's worse pairs are a sum of one binomial per stratum, each with its own share past the
 *   limit at the shift; its power is that sum's chance of reaching the boundary at n = Σ n_r.
 * Runs without per-route Trends (reports from before they existed) are one stratum: the pooled diff.
 */
export function limitRow(
  design: ComparisonDesign,
  runs: readonly Readonly<Record<string, K6MetricSummary>>[],
): LimitRow | undefined {
  const { spec } = design;
  if (spec.kind !== 'latency' || spec.unit === 'points') return undefined;
  const pooled = pooledTrend(runs, comparisonMetrics(spec.id).diff, 10);
  if (!pooled) return undefined;
  const routed = PAIR_ROUTES.flatMap((route): Stratum[] => {
    const t = pooledTrend(runs, routeDiffMetric(spec.id, route), 5);
    return t && t.pairs > 0 ? [{ route, grid: t.grid, pairs: t.pairs, sigma: robustSigma(t.grid) }] : [];
  });
  const strata: Stratum[] =
    routed.length > 0
      ? routed
      : [{ route: 'all', grid: pooled.grid, pairs: pooled.pairs, sigma: robustSigma(pooled.grid) }];
  const n = strata.reduce((sum, st) => sum + st.pairs, 0);
  // Σ n_r / sigma_r²: infinite when a stratum has no spread (then any shift past the limit is certain).
  const precision = strata.reduce((sum, st) => sum + (st.sigma > 0 ? st.pairs / st.sigma ** 2 : Infinity), 0);
  const sigma = Number.isFinite(precision) ? Math.sqrt(n / precision) : 0;
  const z = normalQuantile(1 - COMPARISON_ALPHA) + normalQuantile(LIMIT_POWER);
  const floorExcess = Number.isFinite(precision) ? z / Math.sqrt(precision) : 0;
  // The gate: bisect the added shift d on [0, hi] for power >= LIMIT_POWER.
  const need = boundaryCount(design.boundary, n);
  const power = (d: number) =>
    sumOfBinomials(strata.map((st) => ({ n: st.pairs, p: exceedance(st.grid, spec.limit - d) })))
      .slice(need)
      .reduce((sum, p) => sum + p, 0);
  const median = pooled.grid[49] as number;
  const widest = Math.max(...strata.map((st) => st.sigma), 1e-6);
  let lo = 0;
  let hi = Math.max(spec.limit - Math.min(...strata.map((st) => st.grid[0] as number)), 0) + 20 * widest;
  // Too few pairs for the boundary to be crossed at all: no shift is detectable.
  if (power(hi) < LIMIT_POWER) hi = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 100 && Number.isFinite(hi); i++) {
    const mid = (lo + hi) / 2;
    if (power(mid) >= LIMIT_POWER) hi = mid;
    else lo = mid;
  }
  // The excess over the limit, measured from the identical candidate's own median difference.
  const gateExcess = hi - (spec.limit - median);
  // No spread at all (tokens per call of an unchanged version: every pair equal): any test, the
  // gate's too, detects any shift past the limit; the ratio of two zeros is taken as 1.
  const ratio = floorExcess === 0 ? (gateExcess <= 1e-9 ? 1 : Number.POSITIVE_INFINITY) : gateExcess / floorExcess;
  return {
    id: spec.id,
    title: spec.title,
    unit: spec.unit,
    runs: pooled.runs,
    pairs: n,
    sigma,
    strata: strata.map(({ route, pairs, sigma: s }) => ({ route, pairs, sigma: s })),
    limit: spec.limit,
    floorExcess,
    gateExcess,
    ratio,
  };
}

/** Every latency and token comparison's row for relative runs of `spec`, from identical runs' k6 metrics. */
export function limitRows(spec: ProfileSpec, runs: readonly Readonly<Record<string, K6MetricSummary>>[]): LimitRow[] {
  return designComparisons(defaultPlan(spec, true)).flatMap((d) => limitRow(d, runs) ?? []);
}

/** The markdown table docs/loadtests.md carries. */
export function renderLimitTable(rows: readonly LimitRow[]): string {
  const fmt = (r: LimitRow, v: number) => (r.unit === 'ms' ? `${v.toFixed(2)} ms` : `×${Math.exp(v).toFixed(3)}`);
  const limit = (r: LimitRow) => (r.unit === 'ms' ? `+${r.limit} ms` : `×${Math.exp(r.limit).toFixed(2)}`);
  const lines = [
    `| comparison | pairs per run (runs pooled) | spread of the paired difference (robust σ; per route: pairs at σ) | limit | floor: smallest shift above the limit any test could detect | the gate's: smallest shift above the limit it detects | gate / floor | within 1.5× |`,
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const fmtSigma = (v: number) => (r.unit === 'ms' ? `${v.toFixed(2)} ms` : `${v.toFixed(3)}`);
    const routes =
      r.strata.length > 1
        ? ` (${r.strata.map((st) => `${st.route}: ${st.pairs} at ${fmtSigma(st.sigma)}`).join('; ')})`
        : '';
    const sigma = `${fmtSigma(r.sigma)}${r.unit === 'ratio' ? ' (ln ratio)' : ''}${routes}`;
    lines.push(
      `| ${r.title} | ${r.pairs} (${r.runs}) | ${sigma} | ${limit(r)} | ${fmt(r, r.floorExcess)} | ${fmt(r, r.gateExcess)} | ${r.ratio.toFixed(2)} | ${r.ratio <= 1.5 ? 'yes' : '**no**'} |`,
    );
  }
  return lines.join('\n');
}

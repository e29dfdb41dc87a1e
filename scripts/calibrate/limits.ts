/**
 * "Close to the limit": for each latency and token comparison, the smallest shift ANY paired test
 * at the gate's alpha and power could detect with the pairs a run has (the statistical floor), next
 * to the shift the gate's own sign-test boundary detects (its minimum detectable effect), both
 * computed from the paired differences an identical candidate produced in the calibration.
 *
 * - The spread: each identical run's k6 summary holds the differences' percentiles p1..p99
 *   (`cmp_<id>_diff`, the percentile grid); the runs are pooled by averaging each percentile
 *   (Vincentizing), and the robust standard deviation is half the 16th–84th percentile range.
 * - The floor: (z(1 − alpha) + z(power)) · sigma / sqrt(n), the shift the most powerful test (the
 *   one-sided z test with a known sigma) detects when the differences are normal with that spread.
 *   Heavier tails than a normal's would let a test tuned to their exact shape do better; that shape
 *   cannot be known from 99 percentiles, so this floor is the normal-shape one, and it says so.
 * - The gate's MDE: the smallest added shift d at which P(Binomial(n, p(d)) >= boundary(n)) reaches
 *   the power, with p(d) = P(D + d > limit) read off the pooled percentiles (D: the identical
 *   candidate's difference). It includes the limit itself (a regression smaller than the limit is
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
} from '../../loadtests/src/lib/compare/comparisons';
import { binomialPmf, boundaryCount, normalQuantile } from '../../loadtests/src/lib/compare/stats';
import type { K6MetricSummary } from '../../loadtests/src/lib/k6-summary';
import { defaultPlan } from '../../loadtests/src/lib/plan';

/** The power both figures are computed at: the detection goals are 95%. */
export const LIMIT_POWER = 0.95;

export interface LimitRow {
  readonly id: string;
  readonly title: string;
  readonly unit: 'ms' | 'ratio';
  /** Runs pooled, and the median pairs per run (n). */
  readonly runs: number;
  readonly pairs: number;
  /** Robust sigma of the paired difference (ms, or ln ratio). */
  readonly sigma: number;
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

/** P(X >= boundary(X)) for X ~ Binomial(n, p): the chance a comparison with n pairs fails. */
export function failChance(design: ComparisonDesign, n: number, p: number): number {
  const need = boundaryCount(design.boundary, n);
  let total = 0;
  for (let x = need; x <= n; x++) total += binomialPmf(x, n, p);
  return total;
}

export function limitRow(
  design: ComparisonDesign,
  runs: readonly Readonly<Record<string, K6MetricSummary>>[],
): LimitRow | undefined {
  const { spec } = design;
  if (spec.kind !== 'latency' || spec.unit === 'points') return undefined;
  const m = comparisonMetrics(spec.id);
  const grids: number[][] = [];
  const counts: number[] = [];
  for (const metrics of runs) {
    const summary = metrics[m.diff];
    const grid = percentileGrid(summary);
    const count = summary?.values.count;
    if (grid && typeof count === 'number' && count >= 10) {
      grids.push(grid);
      counts.push(count);
    }
  }
  if (grids.length === 0) return undefined;
  const pooled = Array.from({ length: 99 }, (_, i) => grids.reduce((s, g) => s + (g[i] as number), 0) / grids.length);
  const sorted = [...counts].sort((a, b) => a - b);
  const n = sorted[Math.floor(sorted.length / 2)] as number;
  const sigma = ((pooled[83] as number) - (pooled[15] as number)) / 2;
  const z = normalQuantile(1 - COMPARISON_ALPHA) + normalQuantile(LIMIT_POWER);
  const floorExcess = (z * sigma) / Math.sqrt(n);
  // The gate: bisect the added shift d on [0, hi] for power >= LIMIT_POWER.
  const power = (d: number) => failChance(design, n, exceedance(pooled, spec.limit - d));
  const median = pooled[49] as number;
  let lo = 0;
  let hi = Math.max(spec.limit - median, 0) + 20 * Math.max(sigma, 1e-6);
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
  const ratio = sigma === 0 ? (gateExcess <= 1e-9 ? 1 : Number.POSITIVE_INFINITY) : gateExcess / floorExcess;
  return {
    id: spec.id,
    title: spec.title,
    unit: spec.unit,
    runs: grids.length,
    pairs: n,
    sigma,
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
    `| comparison | pairs per run (runs pooled) | spread of the paired difference (robust σ) | limit | floor: smallest shift above the limit any test could detect | the gate's: smallest shift above the limit it detects | gate / floor | within 1.5× |`,
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const sigma = r.unit === 'ms' ? `${r.sigma.toFixed(2)} ms` : `${r.sigma.toFixed(3)} (ln ratio)`;
    lines.push(
      `| ${r.title} | ${r.pairs} (${r.runs}) | ${sigma} | ${limit(r)} | ${fmt(r, r.floorExcess)} | ${fmt(r, r.gateExcess)} | ${r.ratio.toFixed(2)} | ${r.ratio <= 1.5 ? 'yes' : '**no**'} |`,
    );
  }
  return lines.join('\n');
}

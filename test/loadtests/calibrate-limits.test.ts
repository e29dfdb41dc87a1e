/**
 * "Close to the limit" (scripts/calibrate/limits.ts) on synthetic percentile grids, where the
 * answers are known: for normal paired differences the floor is the z test's shift, and a sign test
 * needs about sqrt(pi/2) ≈ 1.25 times that shift (its asymptotic efficiency is 2/pi).
 */
import { GATE_PROFILE_SPECS } from '../../lib/contract/gate-profiles';
import {
  COMPARISON_ALPHA,
  comparisonMetrics,
  designComparisons,
  routeDiffMetric,
} from '../../loadtests/src/lib/compare/comparisons';
import { normalQuantile } from '../../loadtests/src/lib/compare/stats';
import type { K6MetricSummary } from '../../loadtests/src/lib/k6-summary';
import { defaultPlan } from '../../loadtests/src/lib/plan';
import { exceedance, LIMIT_POWER, limitRow, renderLimitTable } from '../../scripts/calibrate/limits';

const designs = designComparisons(defaultPlan(GATE_PROFILE_SPECS.smoke, true));
const design = (id: string) => designs.find((d) => d.spec.id === id) as (typeof designs)[number];

/** A k6 Trend summary whose percentiles are those of N(mean, sd). */
function normalTrend(mean: number, sd: number, count: number): K6MetricSummary {
  const values: Record<string, number> = { count };
  for (let q = 1; q <= 99; q++) values[`p(${q})`] = mean + sd * normalQuantile(q / 100);
  return { type: 'trend', values };
}

test('P(D > x) is read off the percentile grid, linearly between percentiles', () => {
  const grid = Array.from({ length: 99 }, (_, i) => i + 1); // p(q) = q
  expect(exceedance(grid, 50)).toBeCloseTo(0.5, 10);
  expect(exceedance(grid, 90.5)).toBeCloseTo(0.095, 10);
  expect(exceedance(grid, 0)).toBe(1);
  expect(exceedance(grid, 100)).toBe(0);
});

test('normal differences: the floor is the z test shift, and the sign test needs about 1.25 times it', () => {
  const id = 'hit_latency';
  const n = 400;
  const runs = [
    { [comparisonMetrics(id).diff]: normalTrend(0, 2, n) },
    { [comparisonMetrics(id).diff]: normalTrend(0, 2, n) },
  ];
  const row = limitRow(design(id), runs);
  if (!row) throw new Error('no row');
  const z = normalQuantile(1 - COMPARISON_ALPHA) + normalQuantile(LIMIT_POWER);
  expect(row.sigma).toBeCloseTo(2, 1);
  expect(row.floorExcess).toBeCloseTo((z * row.sigma) / Math.sqrt(n), 10);
  expect(row.ratio).toBeGreaterThan(1.05);
  expect(row.ratio).toBeLessThan(1.5);
  expect(row.runs).toBe(2);
  expect(row.pairs).toBe(n);
});

test('routes of different spreads: the floor is the precision-weighted z test, and the gate counts each route by its own spread', () => {
  const id = 'service_time';
  const n = 50;
  // JSON pairs spread 10 ms, streamed pairs 1 ms: one pooled sigma would describe neither.
  const run = {
    [comparisonMetrics(id).diff]: normalTrend(0, 5, 2 * n),
    [routeDiffMetric(id, 'chat')]: normalTrend(0, 10, n),
    [routeDiffMetric(id, 'stream')]: normalTrend(0, 1, n),
  };
  const row = limitRow(design(id), [run, run]);
  if (!row) throw new Error('no row');
  const z = normalQuantile(1 - COMPARISON_ALPHA) + normalQuantile(LIMIT_POWER);
  // Robust sigma: half the 16th–84th percentile range, sd × Φ⁻¹(0.84) for a normal's grid.
  const robust = (sd: number) => sd * normalQuantile(0.84);
  const precision = n / robust(10) ** 2 + n / robust(1) ** 2;
  expect(row.pairs).toBe(2 * n);
  expect(row.strata.map((st) => [st.route, st.pairs])).toEqual([
    ['chat', n],
    ['stream', n],
  ]);
  expect(row.strata[0]?.sigma).toBeCloseTo(robust(10), 9);
  expect(row.floorExcess).toBeCloseTo(z / Math.sqrt(precision), 9);
  expect(row.sigma).toBeCloseTo(Math.sqrt((2 * n) / precision), 9);
  // The sign test treats a precise streamed pair like a loose JSON one: far above the floor here,
  // which the pooled sigma (5 ms) would have hidden.
  expect(row.ratio).toBeGreaterThan(1.5);
  const pooledOnly = limitRow(design(id), [{ [comparisonMetrics(id).diff]: run[comparisonMetrics(id).diff] }]);
  expect(pooledOnly?.strata.map((st) => st.route)).toEqual(['all']);
});

test('a gate with too few pairs for its boundary is far from the floor, and the table says no', () => {
  // 20 pairs at alpha 0.125%: the boundary optimised for 417 needs 21 of them, more than exist.
  const id = 'hit_latency';
  const row = limitRow(design(id), [{ [comparisonMetrics(id).diff]: normalTrend(0, 2, 20) }]);
  if (!row) throw new Error('no row');
  expect(row.ratio).toBeGreaterThan(1.5);
  expect(renderLimitTable([row])).toMatch(/\| \*\*no\*\* \|$/);
});

test('rates and the tail have no row (they are proportions); a comparison without data has none', () => {
  expect(limitRow(design('hit_rate'), [])).toBeUndefined();
  expect(limitRow(design('tail_latency'), [])).toBeUndefined();
  expect(limitRow(design('ttft'), [{}])).toBeUndefined();
});

test('no spread at all (every pair equal, as tokens per call of an unchanged version): both detect any shift past the limit', () => {
  const id = 'tokens_per_call';
  const row = limitRow(design(id), [{ [comparisonMetrics(id).diff]: normalTrend(0, 0, 40) }]);
  if (!row) throw new Error('no row');
  expect(row.sigma).toBe(0);
  expect(row.floorExcess).toBe(0);
  expect(row.gateExcess).toBeLessThan(1e-6);
  expect(row.ratio).toBe(1);
});

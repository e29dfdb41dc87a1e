/**
 * The relative gate without k6: how a pair is recorded, how prompts are scoped per target in a
 * shared cache, the comparisons' thresholds, and the figures the reports show (built from a k6
 * summary computed the way k6 computes it).
 */

import { GATE_PROFILE_SPECS, RELATIVE_GATE_PAIRS } from '../../lib/contract/gate-profiles';
import {
  COMPARISON_ALPHA,
  COMPARISONS,
  comparisonMetrics,
  comparisonThresholds,
  designComparisons,
  FAMILY_ALPHA,
  HIT_PAIRS,
  type Pair,
  PERCENTILE_GRID,
  pairRecords,
  plannedMisses,
  routeDiffMetric,
} from '../../loadtests/src/lib/compare/comparisons';
import { pairOrder, scopeMessage } from '../../loadtests/src/lib/compare/pairing';
import { buildComparisonResults, medianBounds } from '../../loadtests/src/lib/compare/report';
import { binomialPmf, boundaryCount } from '../../loadtests/src/lib/compare/stats';
import { readGateConfig } from '../../loadtests/src/lib/config';
import { freshRoute, MIX_CYCLE } from '../../loadtests/src/lib/corpus';
import { buildEmfLine } from '../../loadtests/src/lib/emf';
import { buildJUnit, escapeXml } from '../../loadtests/src/lib/junit';
import type { K6MetricSummary } from '../../loadtests/src/lib/k6-summary';
import { resolvePlan } from '../../loadtests/src/lib/plan';
import { buildGateReport } from '../../loadtests/src/lib/report';
import { buildThresholds } from '../../loadtests/src/lib/thresholds';
import { renderVerdict } from '../../loadtests/src/lib/verdict';
import { parseGateArgs } from '../../scripts/gate/args';
import { buildK6Invocation } from '../../scripts/gate/k6-command';
import { SETUP, SUMMARY_AT_MS, smokeRunWithColdCache } from './fixtures/k6-summary';

const side = (over: Partial<Pair['candidate']> = {}): Pair['candidate'] => ({
  success: true,
  cacheStatus: 'HIT',
  durationMs: 10,
  route: 'chat',
  ...over,
});
const values = (pair: Pair) => {
  const out: Record<string, Array<number | boolean>> = {};
  for (const r of pairRecords(pair)) {
    const list = out[r.metric] ?? [];
    list.push(r.value);
    out[r.metric] = list;
  }
  return out;
};

describe('pairing', () => {
  test('a popular pair where both hit feeds the hit latency difference and the hit rate', () => {
    const v = values({ kind: 'popular', baseline: side({ durationMs: 8 }), candidate: side({ durationMs: 20 }) });
    const m = comparisonMetrics('hit_latency');
    expect(v[m.diff]).toEqual([12]);
    expect(v[m.worse]).toEqual([true]); // 12 ms > the 5 ms limit
    expect(v[comparisonMetrics('hit_rate').pairs]).toEqual([1]);
    expect(v[comparisonMetrics('hit_rate').worse]).toBeUndefined(); // concordant: no trial
  });

  test('only the candidate missing a primed question is a worse hit-rate pair, and no latency pair', () => {
    const v = values({ kind: 'popular', baseline: side(), candidate: side({ cacheStatus: 'MISS' }) });
    expect(v[comparisonMetrics('hit_rate').worse]).toEqual([true]);
    expect(v[comparisonMetrics('hit_latency').pairs]).toBeUndefined();
  });

  test('the tail counts only sequential pairs (one in flight): a stall of one side is one trial, not one per VU', () => {
    const slow = { kind: 'popular', baseline: side({ durationMs: 10 }), candidate: side({ durationMs: 320 }) };
    const m = comparisonMetrics('tail_latency');
    expect(values(slow)[m.pairs]).toBeUndefined(); // a pair of the concurrent mix
    expect(values({ ...slow, sequential: true })[m.worse]).toEqual([true]);
    const reverse = { kind: 'popular', sequential: true, baseline: side({ durationMs: 320 }), candidate: side() };
    expect(values(reverse)[m.worse]).toEqual([false]); // the baseline slow: a trial, "better"
    const close = {
      kind: 'popular',
      sequential: true,
      baseline: side({ durationMs: 10 }),
      candidate: side({ durationMs: 90 }),
    };
    expect(values(close)[m.worse]).toBeUndefined(); // within the 100 ms margin: no trial
    expect(values(close)[m.pairs]).toEqual([1]);
  });

  test('error pairs: discordant pairs are trials, the candidate failing alone is worse', () => {
    const m = comparisonMetrics('error_rate');
    expect(values({ kind: 'tail', baseline: side(), candidate: side({ success: false }) })[m.worse]).toEqual([true]);
    expect(values({ kind: 'tail', baseline: side({ success: false }), candidate: side() })[m.worse]).toEqual([false]);
    expect(values({ kind: 'tail', baseline: side(), candidate: side() })[m.worse]).toBeUndefined();
  });

  test('a miss pair on the JSON route yields service time (total − llm), and no LLM time pair (streamed only)', () => {
    const v = values({
      kind: 'fresh',
      baseline: side({ cacheStatus: 'MISS', serverTiming: 'cache;dur=1, db;dur=3, llm;dur=100, total;dur=105' }),
      candidate: side({ cacheStatus: 'MISS', serverTiming: 'cache;dur=1, db;dur=3, llm;dur=400, total;dur=440' }),
    });
    expect(v[comparisonMetrics('service_time').diff]).toEqual([35]); // 40 − 5
    expect(v[routeDiffMetric('service_time', 'chat')]).toEqual([35]);
    expect(v[comparisonMetrics('service_time').worse]).toEqual([true]);
    expect(v[comparisonMetrics('llm_time').pairs]).toBeUndefined();
  });

  test("a streamed miss pair is a service-time, LLM-time and TTFT pair, from its done event's whole timing", () => {
    const stream = (serverTiming: string, ttfbMs: number) =>
      side({ cacheStatus: 'MISS', route: 'stream', serverTiming, ttfbMs });
    const v = values({
      kind: 'fresh',
      baseline: stream('cache;dur=1, db;dur=3, llm;dur=200, total;dur=206', 40),
      candidate: stream('cache;dur=1, db;dur=3, llm;dur=210, total;dur=236', 44),
    });
    expect(v[comparisonMetrics('service_time').diff]).toEqual([20]); // 26 − 6
    // Each route keeps its own differences too (their spreads differ: scripts/calibrate/limits.ts).
    expect(v[routeDiffMetric('service_time', 'stream')]).toEqual([20]);
    expect(v[routeDiffMetric('service_time', 'chat')]).toBeUndefined();
    expect(v[comparisonMetrics('llm_time').diff]?.[0]).toBeCloseTo(Math.log(210 / 200), 12);
    expect(v[comparisonMetrics('ttft').diff]?.[0]).toBeCloseTo(Math.log(44 / 40), 12);
  });

  test("a stream's head timing alone (no llm, no total) and a mixed HIT/MISS pair are not latency pairs", () => {
    // What a stream without a done event's server_timing has: the head's lookup time only.
    const stream = side({ cacheStatus: 'MISS', route: 'stream', serverTiming: 'cache;dur=1' });
    expect(values({ kind: 'tail', baseline: stream, candidate: stream })[comparisonMetrics('service_time').pairs]).toBe(
      undefined,
    );
    const mixed = values({ kind: 'tail', baseline: side({ cacheStatus: 'MISS' }), candidate: side() });
    expect(mixed[comparisonMetrics('llm_time').pairs]).toBeUndefined();
  });

  test('questions that must hit or must miss are scoped per target; follow-ups live in per-target sessions', () => {
    for (const kind of ['popular', 'tail', 'fresh'] as const) {
      const b = scopeMessage(kind, 'What is TLS?', 'run1', 'baseline');
      const c = scopeMessage(kind, 'What is TLS?', 'run1', 'candidate');
      expect(b).not.toBe(c);
      expect(b.length).toBe(c.length); // same prompt cost for the LLM
    }
    expect(scopeMessage('tail', 'What is TLS?', 'run1', 'candidate')).toContain('run1');
    expect(scopeMessage('followup', 'And in French?', 'run1', 'candidate')).toBe('And in French?');
  });

  test('the order within a pair is drawn per pair, reproducibly, and both orders occur about equally', () => {
    expect(pairOrder('r', 7)).toEqual(pairOrder('r', 7));
    let baselineFirst = 0;
    for (let i = 0; i < 1000; i++) if (pairOrder('r', i)[0] === 'baseline') baselineFirst++;
    expect(baselineFirst).toBeGreaterThan(430);
    expect(baselineFirst).toBeLessThan(570);
  });
});

const config = readGateConfig({
  BASE_URL: 'http://green.test',
  BASELINE_URL: 'http://blue.test',
  PROFILE: 'smoke',
  EXPECTED_VERSION: '2.0.0',
  RUN_ID: 'ci-1234',
});
const plan = resolvePlan(GATE_PROFILE_SPECS.smoke, config);
const designs = designComparisons(plan);

describe('comparison thresholds', () => {
  test('every comparison, Bonferroni: each at alpha / their number and every boundary no looser than that', () => {
    expect(designs.map((d) => d.spec.id)).toEqual(COMPARISONS.map((c) => c.id));
    expect(COMPARISON_ALPHA * designs.length).toBeCloseTo(FAMILY_ALPHA, 12);
    for (const d of designs) expect(d.boundary.size).toBeLessThanOrEqual(COMPARISON_ALPHA);
  });

  test("the miss comparisons expect the mix's misses on both routes plus the ttft scenario's, TTFT and the LLM time the streamed ones", () => {
    // Count the mix slot by slot, as k6 would run it: the shares come from MIX_CYCLE, not a constant.
    const mix = Array.from({ length: plan.minMainRequests }, (_, i) => MIX_CYCLE[i % MIX_CYCLE.length]);
    const fresh = Array.from({ length: plan.minFreshRequests }, (_, i) => freshRoute(i));
    const on = (route: string) =>
      mix.filter((s) => s?.kind !== 'popular' && s?.route === route).length + fresh.filter((r) => r === route).length;
    const planned = plannedMisses(plan);
    expect(planned).toEqual({ chat: on('chat'), stream: on('stream') + RELATIVE_GATE_PAIRS.ttft });
    const expected = (id: string) => designs.find((d) => d.spec.id === id)?.expectedPairs;
    expect(expected('service_time')).toBe(planned.chat + planned.stream);
    expect(expected('llm_time')).toBe(planned.stream);
    expect(expected('tokens_per_call')).toBe(planned.chat + planned.stream);
    expect(expected('ttft')).toBe(planned.stream);
  });

  test('each comparison has a no-data guard and a test threshold k6 can fail', () => {
    const t = comparisonThresholds(designs);
    for (const d of designs) {
      const m = comparisonMetrics(d.spec.id);
      const guard = t.find((x) => x.metric === m.pairs);
      const test = t.find((x) => x.metric === m.worse);
      expect(guard?.expression).toMatch(/^count>=\d+$/);
      expect(Number(guard?.expression.split('>=')[1])).toBeGreaterThanOrEqual(1);
      expect(test?.expression).toBe(`rate<${Math.round(d.boundary.maxRate * 1000) / 1000}`);
      expect(test?.role).toBe('comparison');
      expect(d.boundary.maxRate).toBeLessThan(1); // a rate of 1 (every pair worse) always fails
    }
  });

  test('by design, the hit pairs detect a slowest-10% regression, a 20-point hit-rate drop and 5 points more errors', () => {
    // Exact power of each boundary against the injected regressions of the calibration, with no
    // trial on the baseline's side: X ~ Binomial(pairs, share) candidate-side trials fail the
    // comparison when X >= the boundary at X trials. The calibration measures the same on real runs.
    const power = (id: string, pairs: number, share: number) => {
      const d = designs.find((x) => x.spec.id === id);
      if (!d) throw new Error(id);
      let p = 0;
      for (let x = 0; x <= pairs; x++) if (x >= boundaryCount(d.boundary, x)) p += binomialPmf(x, pairs, share);
      return p;
    };
    expect(power('tail_latency', HIT_PAIRS, 0.1)).toBeGreaterThan(0.99);
    expect(power('hit_rate', HIT_PAIRS, 0.2)).toBeGreaterThan(0.99);
    expect(power('error_rate', HIT_PAIRS, 0.05)).toBeGreaterThan(0.95);
    // ... and the guard of the tail asks for a quarter of them: what a slow machine still sends.
    const tail = designs.find((x) => x.spec.id === 'tail_latency');
    expect(tail?.minPairs).toBe(HIT_PAIRS / 4);
  });

  test('the percentile grid gives every whole percentile for the order statistics', () => {
    expect(PERCENTILE_GRID).toHaveLength(99);
    expect(PERCENTILE_GRID[0]).toBe('p(1)');
    expect(PERCENTILE_GRID[98]).toBe('p(99)');
  });
});

/** k6's Trend percentile: linear interpolation at index q/100 · (n − 1) of the sorted samples. */
function k6Trend(samples: number[]): K6MetricSummary {
  const s = [...samples].sort((a, b) => a - b);
  const p = (q: number) => {
    const i = (q / 100) * (s.length - 1);
    const lo = s[Math.floor(i)] as number;
    const hi = s[Math.ceil(i)] as number;
    return lo + (hi - lo) * (i - Math.floor(i));
  };
  const values: Record<string, number> = { count: s.length, min: s[0] as number, max: s.at(-1) as number, med: p(50) };
  for (let q = 1; q <= 99; q++) values[`p(${q})`] = p(q);
  return { type: 'trend', values };
}

describe('comparison figures', () => {
  test('the median interval is the exact order-statistic interval when the grid hits the index', () => {
    const diffs = Array.from({ length: 21 }, (_, i) => i); // 0..20, index step 5 percentiles
    const b = medianBounds(k6Trend(diffs), 21, COMPARISON_ALPHA);
    // n = 21, alpha = 0.002: k = 4 (P(B <= 3) = 0.00074 <= 0.002 < P(B <= 4) = 0.0036), so x(4) .. x(18).
    expect(b).toEqual({ lowRaw: 3, highRaw: 17 });
  });

  const summaryWith = (hitDiffs: number[], worse: number) => {
    const m = comparisonMetrics('hit_latency');
    const d = designs.find((x) => x.spec.id === 'hit_latency');
    const pseudo = d?.boundary.pseudoTrials ?? 0;
    const base = smokeRunWithColdCache();
    return {
      ...base,
      metrics: {
        ...base.metrics,
        [m.pairs]: { type: 'counter' as const, values: { count: hitDiffs.length } },
        [m.worse]: {
          type: 'rate' as const,
          values: { passes: worse, fails: hitDiffs.length - worse + pseudo, rate: 0 },
        },
        [m.diff]: k6Trend(hitDiffs),
        [m.baseline]: k6Trend(hitDiffs.map(() => 4)),
        [m.candidate]: k6Trend(hitDiffs.map((x) => 4 + x)),
      },
      setup_data: {
        ...SETUP,
        baseline: { readiness: { status: 'ready', version: '1.9.0', detail: 'ready' }, primed: SETUP.primed },
      },
    };
  };

  test('a slower candidate: baseline, candidate, difference, interval, limit, detectable and FAIL in every report', () => {
    const diffs = Array.from({ length: 20 }, (_, i) => 38 + (i % 5));
    const data = summaryWith(diffs, 20);
    const m = comparisonMetrics('hit_latency');
    const thresholds = [...buildThresholds(plan), ...comparisonThresholds(designs)];
    // k6's own outcome of the comparison threshold: 20 worse of 20 crosses the boundary.
    const withOutcome = {
      ...data,
      metrics: {
        ...data.metrics,
        [m.worse]: {
          ...(data.metrics[m.worse] as K6MetricSummary),
          thresholds: { [`rate<${Math.round((designs[0]?.boundary.maxRate ?? 0) * 1000) / 1000}`]: { ok: false } },
        },
        [m.pairs]: {
          ...(data.metrics[m.pairs] as K6MetricSummary),
          thresholds: { [`count>=${designs[0]?.minPairs}`]: { ok: true } },
        },
      },
    };
    const report = buildGateReport(withOutcome, { config, plan, thresholds, nowMs: SUMMARY_AT_MS, designs });
    const hit = report.comparisons?.find((c) => c.id === 'hit_latency');
    expect(hit).toMatchObject({ baseline: 4, candidate: 44, difference: 40, pairs: 20, worsePairs: 20, ok: false });
    expect(hit?.interval?.low).toBeGreaterThanOrEqual(38);
    expect(hit?.interval?.high).toBeLessThanOrEqual(42);
    expect(hit?.detectable).toBeGreaterThan(5);
    const verdict = renderVerdict(report);
    expect(verdict).toContain('FAIL  cache-hit latency: baseline 4 ms, candidate 44 ms, difference +40 ms');
    expect(verdict).toContain('baseline:  http://blue.test (version 1.9.0)');
    expect(buildJUnit(report, '2026-12-02T00:00:00Z')).toMatch(
      /<testcase classname="gate\.smoke\.compare" name="cache-hit latency"[\s\S]*?<failure/,
    );
    const emf = JSON.parse(buildEmfLine(report, SUMMARY_AT_MS));
    expect(emf.GateComparisonsFailed).toBeGreaterThanOrEqual(1);
    expect(emf.Comparisons.find((c: { id: string }) => c.id === 'hit_latency').difference).toBe(40);
  });

  test('JUnit: exactly one test case per comparison; a failed comparison is one failure, not two', () => {
    const data = summaryWith(
      Array.from({ length: 20 }, () => 40),
      20,
    );
    const m = comparisonMetrics('hit_latency');
    const thresholds = [...buildThresholds(plan), ...comparisonThresholds(designs)];
    const hitDesign = designs.find((d) => d.spec.id === 'hit_latency');
    const failed = {
      ...data,
      metrics: {
        ...data.metrics,
        [m.worse]: {
          ...(data.metrics[m.worse] as K6MetricSummary),
          thresholds: { [`rate<${Math.round((hitDesign?.boundary.maxRate ?? 0) * 1000) / 1000}`]: { ok: false } },
        },
      },
    };
    const report = buildGateReport(failed, { config, plan, thresholds, nowMs: SUMMARY_AT_MS, designs });
    const xml = buildJUnit(report, '2026-12-02T00:00:00Z');
    const names = [...xml.matchAll(/<testcase classname="([^"]+)" name="([^"]+)"/g)].map((x) => `${x[1]}|${x[2]}`);
    // Every comparison once, under its title; none of its thresholds as a case of its own.
    for (const d of designs)
      expect(names.filter((n) => n === `gate.smoke.compare|${escapeXml(d.spec.title)}`)).toHaveLength(1);
    expect(names.filter((n) => n.includes('cmp_'))).toEqual([]);
    const failedCases = (xml.match(/<failure /g) ?? []).length;
    expect(xml).toContain(`tests="${names.length}" failures="${failedCases}"`);
    // The hit-latency comparison failed: exactly one failure names it, and it says which threshold failed.
    const hitCase = xml.split('<testcase').find((c) => c.includes('name="cache-hit latency"')) ?? '';
    expect(hitCase).toContain('<failure');
    expect(hitCase).toMatch(new RegExp(`failed: [^\\n]*${m.worse} rate&lt;`));
    expect(xml.split('<testcase').filter((c) => c.includes(m.worse) && c.includes('<failure'))).toHaveLength(1);
  });

  test('without a baseline the verdict says that no comparison was made', () => {
    const plain = readGateConfig({ BASE_URL: 'http://green.test', PROFILE: 'smoke' });
    const p = resolvePlan(GATE_PROFILE_SPECS.smoke, plain);
    const report = buildGateReport(smokeRunWithColdCache(), {
      config: plain,
      plan: p,
      thresholds: buildThresholds(p),
      nowMs: SUMMARY_AT_MS,
    });
    expect(report.comparisons).toBeNull();
    expect(renderVerdict(report)).toContain('no comparison with the serving version was made; fixed limits only');
    expect(JSON.parse(buildEmfLine(report, SUMMARY_AT_MS)).GateComparisonsFailed).toBeUndefined();
  });

  test('a comparison with no pairs reports no figures and cannot pass', () => {
    const results = buildComparisonResults({}, designs, () => false);
    for (const r of results) {
      expect(r.ok).toBe(false);
      expect(r.pairs).toBe(0);
      expect(r.difference).toBeNull();
    }
  });
});

describe('gate inputs', () => {
  test('BASELINE_URL equal to BASE_URL is refused: a version compared with itself proves nothing', () => {
    expect(() => readGateConfig({ BASE_URL: 'http://a.test/', BASELINE_URL: 'http://a.test' })).toThrow(
      /BASELINE_URL equals BASE_URL/,
    );
  });
});

describe('npm run gate -- --baseline', () => {
  test('passes the baseline to k6 as BASELINE_URL next to BASE_URL', () => {
    const parsed = parseGateArgs(['--target', 'http://127.0.0.1:8081/', '--baseline', 'http://127.0.0.1:8080/']);
    expect(parsed.kind).toBe('run');
    if (parsed.kind !== 'run') return;
    expect(parsed.options.baseline).toBe('http://127.0.0.1:8080');
    const inv = buildK6Invocation({ ...parsed.options, runId: 'r1', outDirAbsolute: '/tmp/out' }, 'gate.js', {});
    expect(inv.gateEnv).toMatchObject({ BASE_URL: 'http://127.0.0.1:8081', BASELINE_URL: 'http://127.0.0.1:8080' });
  });

  test('without --baseline no BASELINE_URL reaches k6', () => {
    const parsed = parseGateArgs(['--target', 'http://127.0.0.1:8081']);
    if (parsed.kind !== 'run') throw new Error('expected a run');
    const inv = buildK6Invocation({ ...parsed.options, runId: 'r1', outDirAbsolute: '/tmp/out' }, 'gate.js', {});
    expect(inv.gateEnv.BASELINE_URL).toBeUndefined();
  });

  test.each([
    [['--target', 'http://a.test', '--baseline', 'http://a.test/'], /same URL as --target/],
    [['--target', 'http://a.test', '--baseline', 'ftp://b.test'], /must be an http/],
    [['--target', 'http://a.test', '--baseline', 'not a url'], /is not a URL/],
  ])('refuses %j', (argv, message) => {
    const parsed = parseGateArgs(argv);
    expect(parsed.kind).toBe('error');
    if (parsed.kind === 'error') expect(parsed.message).toMatch(message);
  });
});

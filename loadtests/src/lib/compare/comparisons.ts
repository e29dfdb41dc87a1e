/**
 * The relative gate: the candidate against the version serving now (the baseline), measured in the
 * same window with paired requests (the same question to both, at the same moment, in random
 * order). Eight comparisons, each a one-sided test whose false-failure rate is fixed by design:
 *
 * | id | a pair is "worse" when | limit |
 * |---|---|---|
 * | hit_latency | both HIT: candidate ms − baseline ms > limit | 5 ms |
 * | service_time | both MISS (JSON or streamed): (total − llm) difference > limit | 10 ms |
 * | llm_time | both streamed MISS: candidate llm / baseline llm > limit | ×1.25 |
 * | error_rate | only the candidate failed (only the baseline failed: "better") | 0 points |
 * | hit_rate | primed question: only the candidate missed (only the baseline: "better") | 0 points |
 * | tail_latency | sequential hit pairs, both answered: the candidate > 100 ms slower (the baseline > 100 ms slower: "better") | 0 points |
 * | ttft | both streamed MISSes: candidate first byte / baseline first byte > limit | ×1.25 |
 * | tokens_per_call | both MISS with usage: candidate tokens / baseline tokens > limit | ×1.10 |
 *
 * Latency comparisons are sign tests on the paired differences (H0: the median difference is at
 * most the limit); rates are McNemar's test on the discordant pairs (H0: the candidate fails no
 * more often than the baseline). Both reduce to "worse pairs ~ Binomial(m, 1/2) at most", which k6
 * judges as one Rate threshold with a boundary valid for every m (see `stats.ts`), so a failed
 * comparison exits 99 like any other threshold. Bonferroni: each comparison gets alpha / 8, so
 * the chance that an identical candidate fails any of them is at most {@link FAMILY_ALPHA}.
 */
import { RELATIVE_GATE_PAIRS } from '../../../../lib/contract/gate-profiles';
import { parseServerTiming, SERVER_TIMING_METRICS } from '../../../../lib/contract/server-timing';
import type { MetricRecord } from '../assess';
import { freshRoute, MIX_CYCLE } from '../corpus';
import type { RouteKind } from '../metrics';
import type { GatePlan } from '../plan';
import type { ThresholdSpec } from '../thresholds';
import { boundaryCount, designSignBoundary, type SignBoundary } from './stats';

/** The chance that an identical candidate fails at least one comparison, by design. */
export const FAMILY_ALPHA = 0.01;

export type ComparisonId =
  | 'hit_latency'
  | 'service_time'
  | 'llm_time'
  | 'error_rate'
  | 'hit_rate'
  | 'tail_latency'
  | 'ttft'
  | 'tokens_per_call';

/**
 * The tail's margin: a pair counts for the tail test only when one side took more than this longer
 * than the other. Larger than the paired noise of a healthy pair (a fake or real LLM's jitter on a
 * miss is tens of ms), smaller than the slow end a user feels (a 300 ms hold on a share of requests).
 */
export const TAIL_MARGIN_MS = 100;

/**
 * Run-unique streamed prompts each relative run adds (the `ttft` scenario), to both targets: the
 * pairs of the TTFT comparison, and more pairs for the service's own time, the LLM time and tokens
 * per call (a stream's `done` event carries the turn's whole Server-Timing and its usage). Each
 * costs one LLM call per target; hits cost none, so this is the only traffic a comparison adds to
 * the bill.
 *
 * How many: the sign test's minimum detectable shift comes within 1.5× of the statistical floor
 * (scripts/calibrate/limits.ts) from about 48 pairs for TTFT and about 69 for the service's own
 * time, projected from 50 identical runs' paired differences (robust σ 0.128 ln-ratio and 21.9 ms)
 * with the boundary optimised at each count. Below that the discrete boundary costs more than half
 * again: at the mix's 7 streamed misses plus 16 it was ×1.89 and ×2.19. The mix adds about 6
 * streamed and 19 JSON misses (`plannedMisses`), so 48 here gives about 54 and 73.
 */
export const TTFT_PAIRS = RELATIVE_GATE_PAIRS.ttft;
export const TTFT_SCENARIO = 'ttft';

/**
 * Pairs of primed questions each relative run adds (the `hit_pairs` scenario), sent ONE PAIR AT A
 * TIME by one VU per runner. They are cache hits, so they cost no LLM call, and they are the tail
 * comparison's only pairs: with one pair in flight, a stall of one service process (a GC pause, a
 * descheduled task, a noisy neighbour) slows at most the pair in flight, so the pairs stay
 * independent trials. Concurrent pairs are not: one 200 ms stall of one side slows every pair in
 * flight at once, which a sign test cannot tell from a regression (an identical candidate failed
 * 2 of 33 calibration runs that way when the tail counted the concurrent mix's pairs).
 *
 * How many: a slowest-10% regression makes about 1 pair in 10 a trial on the candidate's side; the
 * sign test at alpha = 0.125% needs about m/2 + 1.5·sqrt(m) of m trials, so about 40 such trials
 * for 95% power: 400 pairs. They also feed the hit rate, the hit latency and the error rate.
 */
export const HIT_PAIRS = RELATIVE_GATE_PAIRS.hits;
export const HIT_PAIRS_SCENARIO = 'hit_pairs';
/** The share of pairs a slowest-10% regression makes slow: the tail boundary is optimised for those trials. */
export const TAIL_REGRESSION_SHARE = 0.1;

export interface ComparisonSpec {
  readonly id: ComparisonId;
  readonly title: string;
  readonly kind: 'latency' | 'proportion';
  /** How differences are shown: ms, a ratio (the diff Trend holds ln(ratio)), or percentage points. */
  readonly unit: 'ms' | 'ratio' | 'points';
  /** In the diff Trend's units: ms, ln(ratio), or 0 for proportions. */
  readonly limit: number;
  /** What each side's figure is, for latency-kind comparisons: milliseconds or LLM tokens. */
  readonly valueUnit: 'ms' | 'tokens';
  readonly limitText: string;
  readonly why: string;
}

export const COMPARISONS: readonly ComparisonSpec[] = [
  {
    id: 'hit_latency',
    title: 'cache-hit latency',
    kind: 'latency',
    unit: 'ms',
    valueUnit: 'ms',
    limit: 5,
    limitText: 'median paired difference ≤ +5 ms',
    why: 'A hit is one cache GET and one insert: a few ms. A slower client, an extra round trip or a lost connection pool shows up here first.',
  },
  {
    id: 'service_time',
    title: "service's own time on a miss (Server-Timing total − llm)",
    kind: 'latency',
    unit: 'ms',
    valueUnit: 'ms',
    limit: 10,
    limitText: 'median paired difference ≤ +10 ms',
    why: "The service's overhead around the LLM call (context read, lookup, insert, cache write), with the provider's variance taken out.",
  },
  {
    id: 'llm_time',
    title: 'LLM time per streamed miss (Server-Timing llm)',
    kind: 'latency',
    unit: 'ratio',
    valueUnit: 'ms',
    limit: Math.log(1.25),
    limitText: 'median paired ratio ≤ ×1.25',
    why: "A new version can make every LLM call slower (a longer prompt, another model, more retries); judged as a ratio because LLM time scales with the answer. Streamed misses only: their LLM time is mostly the steady token stream, far less spread than a JSON call's wait, and a sign test counting both alike detected only a larger shift than on streamed pairs alone (docs/loadtests.md, close to the limit). JSON-route calls stay in the service's own time and tokens per call.",
  },
  {
    id: 'error_rate',
    title: 'error rate',
    kind: 'proportion',
    unit: 'points',
    valueUnit: 'ms',
    limit: 0,
    limitText: 'no more failures than the baseline beyond chance',
    why: 'Pairs where only the candidate failed, against pairs where only the baseline failed (McNemar).',
  },
  {
    id: 'hit_rate',
    title: 'cache hit rate (primed questions)',
    kind: 'proportion',
    unit: 'points',
    valueUnit: 'ms',
    limit: 0,
    limitText: 'no more misses than the baseline beyond chance',
    why: 'Primed questions the candidate missed but the baseline hit, against the reverse (McNemar): a broken cache write or key shows up here.',
  },
  {
    id: 'tail_latency',
    title: `tail latency (pairs with one side > ${TAIL_MARGIN_MS} ms slower)`,
    kind: 'proportion',
    unit: 'points',
    valueUnit: 'ms',
    limit: 0,
    limitText: `the candidate is the slower one by > ${TAIL_MARGIN_MS} ms no more often than the baseline beyond chance`,
    why: `The slow end users feel and SLOs are written on: pairs where the candidate took more than ${TAIL_MARGIN_MS} ms longer, against pairs where the baseline did (a sign test on exceedances of a margin). A hold on a share of requests moves p95/p99, not the median.`,
  },
  {
    id: 'ttft',
    title: 'time to first token (streamed misses, first byte as the client sees it)',
    kind: 'latency',
    unit: 'ratio',
    valueUnit: 'ms',
    limit: Math.log(1.25),
    limitText: 'median paired ratio ≤ ×1.25',
    why: "What a person waits for before text moves: k6's time to first byte of a stream, which the service makes its first token (status, headers and first event in one write). Measured by the client, so a layer that buffers the stream after the service is caught too.",
  },
  {
    id: 'tokens_per_call',
    title: 'LLM tokens per call (usage, input + output)',
    kind: 'latency',
    unit: 'ratio',
    valueUnit: 'tokens',
    limit: Math.log(1.1),
    limitText: 'median paired ratio ≤ ×1.10',
    why: "The provider's bill: the same prompt to both targets, so a grown system prompt, a larger context or longer answers show as a ratio of the usage each answer reports.",
  },
];

export const COMPARISON_ALPHA = FAMILY_ALPHA / COMPARISONS.length;

/** k6 metric names of one comparison. */
export function comparisonMetrics(id: ComparisonId) {
  return {
    /** Rate: 1 a worse pair, 0 a pair that is not (plus the boundary's pseudo-trials, added in setup()). */
    worse: `cmp_${id}_worse`,
    /** Counter: usable pairs (latency: both answered as required; proportion: every pair judged). */
    pairs: `cmp_${id}_pairs`,
    /** Trend (latency): candidate − baseline (ms), or ln(candidate / baseline) for ratios. */
    diff: `cmp_${id}_diff`,
    /** Trend (latency) or Counter of events (proportion): each side's own figure. */
    baseline: `cmp_${id}_baseline`,
    candidate: `cmp_${id}_candidate`,
  } as const;
}

/** The routes a latency comparison's pairs come from: each keeps a Trend of its own differences. */
export const PAIR_ROUTES = ['chat', 'stream'] as const satisfies readonly RouteKind[];

/**
 * Trend of one route's paired differences of a latency comparison (ms or ln ratio), beside the
 * pooled `diff`: JSON and streamed pairs can differ in spread, and the close-to-the-limit floor
 * (scripts/calibrate/limits.ts) weighs each route by its own.
 */
export function routeDiffMetric(id: ComparisonId, route: (typeof PAIR_ROUTES)[number]): string {
  return `cmp_${id}_diff_${route}`;
}

/** Percentiles requested for every Trend when comparing: order statistics for the intervals. */
export const PERCENTILE_GRID: readonly string[] = Array.from({ length: 99 }, (_, i) => `p(${i + 1})`);

/** One side of a pair, as the k6 glue hands it over. */
export interface PairSide {
  readonly success: boolean;
  readonly cacheStatus: string;
  readonly durationMs: number;
  readonly route: 'chat' | 'stream';
  /** The raw `Server-Timing` header, when present. */
  readonly serverTiming?: string;
  /** Time to first byte as the client measured it (k6 `timings.waiting`); for a stream, its first token. */
  readonly ttfbMs?: number;
  /** The LLM tokens the answer reports (`usage`). */
  readonly usage?: { readonly inputTokens: number; readonly outputTokens: number };
}

export interface Pair {
  /** `popular` questions were primed in setup() (must HIT); every other kind is a miss by design. */
  readonly kind: string;
  /** Sent by the `hit_pairs` scenario, one pair at a time: the tail comparison's pairs. */
  readonly sequential?: boolean;
  readonly baseline: PairSide;
  readonly candidate: PairSide;
}

/** The metric samples one pair contributes. Pure: jest checks the pairing rules directly. */
export function pairRecords(pair: Pair): MetricRecord[] {
  const out: MetricRecord[] = [];
  const { baseline: b, candidate: c } = pair;
  const add = (id: ComparisonId, field: keyof ReturnType<typeof comparisonMetrics>, value: number | boolean) =>
    out.push({ metric: comparisonMetrics(id)[field], value, tags: {} });

  // error rate: every pair counts; only discordant pairs are trials of McNemar's test.
  add('error_rate', 'pairs', 1);
  add('error_rate', 'baseline', b.success ? 0 : 1);
  add('error_rate', 'candidate', c.success ? 0 : 1);
  if (b.success !== c.success) add('error_rate', 'worse', !c.success);

  if (pair.kind === 'popular' && b.success && c.success) {
    const bHit = b.cacheStatus === 'HIT';
    const cHit = c.cacheStatus === 'HIT';
    add('hit_rate', 'pairs', 1);
    add('hit_rate', 'baseline', bHit ? 1 : 0);
    add('hit_rate', 'candidate', cHit ? 1 : 0);
    if (bHit !== cHit) add('hit_rate', 'worse', !cHit);
    if (bHit && cHit) latency('hit_latency', b.durationMs, c.durationMs);
  }

  if (pair.kind !== 'popular' && b.success && c.success && b.cacheStatus === 'MISS' && c.cacheStatus === 'MISS') {
    // JSON or streamed alike: a stream's done event carries the turn's whole timing (StreamDone).
    const bt = parseServerTiming(b.serverTiming);
    const ct = parseServerTiming(c.serverTiming);
    const { llm, total } = SERVER_TIMING_METRICS;
    const bl = bt[llm];
    const cl = ct[llm];
    const btot = bt[total];
    const ctot = ct[total];
    if (bl !== undefined && cl !== undefined && btot !== undefined && ctot !== undefined) {
      latency('service_time', Math.max(0, btot - bl), Math.max(0, ctot - cl));
      // A 0 ms LLM time (a fake answering at once) has no meaningful ratio: floor at 0.01 ms.
      if (c.route === 'stream') latency('llm_time', Math.max(bl, 0.01), Math.max(cl, 0.01));
    }
  }

  if (pair.sequential && b.success && c.success) {
    // The tail: only pairs where one side was much slower are trials (like McNemar's discordant pairs).
    // Only sequential pairs: a stall of one side slows every concurrent pair at once (HIT_PAIRS).
    const cSlow = c.durationMs - b.durationMs > TAIL_MARGIN_MS;
    const bSlow = b.durationMs - c.durationMs > TAIL_MARGIN_MS;
    add('tail_latency', 'pairs', 1);
    add('tail_latency', 'baseline', bSlow ? 1 : 0);
    add('tail_latency', 'candidate', cSlow ? 1 : 0);
    if (cSlow || bSlow) add('tail_latency', 'worse', cSlow);
  }

  const bothMiss = b.success && c.success && b.cacheStatus === 'MISS' && c.cacheStatus === 'MISS';
  if (bothMiss && b.route === 'stream' && c.route === 'stream' && b.ttfbMs !== undefined && c.ttfbMs !== undefined) {
    latency('ttft', Math.max(b.ttfbMs, 0.01), Math.max(c.ttfbMs, 0.01));
  }
  if (bothMiss && b.usage && c.usage) {
    const bt = b.usage.inputTokens + b.usage.outputTokens;
    const ct = c.usage.inputTokens + c.usage.outputTokens;
    if (bt > 0 && ct > 0) latency('tokens_per_call', bt, ct);
  }
  return out;

  function latency(id: ComparisonId, base: number, cand: number): void {
    const spec = COMPARISONS.find((s) => s.id === id) as ComparisonSpec;
    const diff = spec.unit === 'ratio' ? Math.log(cand / base) : cand - base;
    add(id, 'pairs', 1);
    add(id, 'baseline', base);
    add(id, 'candidate', cand);
    add(id, 'diff', diff);
    // Both sides of a pair are sent on the same route.
    out.push({ metric: routeDiffMetric(id, c.route), value: diff, tags: {} });
    add(id, 'worse', diff > spec.limit);
  }
}

export interface ComparisonDesign {
  readonly spec: ComparisonSpec;
  readonly boundary: SignBoundary;
  /** Usable pairs the comparison needs before it may pass (its no-data guard). */
  readonly minPairs: number;
  /** Pairs the plan expects (for the boundary's optimisation and the docs). */
  readonly expectedPairs: number;
}

/** The `hit_pairs` scenario's pairs this runner sends (its share of {@link HIT_PAIRS} when split). */
export function hitPairsFor(plan: GatePlan): number {
  return Math.max(1, Math.floor(HIT_PAIRS * plan.segmentFraction));
}

/** The `ttft` scenario's pairs this runner sends (its share of {@link TTFT_PAIRS} when split). */
export function ttftPairsFor(plan: GatePlan): number {
  return Math.max(1, Math.floor(TTFT_PAIRS * plan.segmentFraction));
}

/**
 * Misses the plan is certain to pair on each route: the main mix's slots that are not primed
 * questions (by MIX_CYCLE's shares) and the fresh prompts (which alternate routes, `freshRoute`),
 * plus, streamed, the `ttft` scenario's pairs.
 */
export function plannedMisses(plan: GatePlan): { readonly chat: number; readonly stream: number } {
  const mixShare = (route: RouteKind) =>
    MIX_CYCLE.filter((slot) => slot.kind !== 'popular' && slot.route === route).length / MIX_CYCLE.length;
  const fresh = (route: RouteKind) =>
    Array.from({ length: plan.minFreshRequests }, (_, i) => freshRoute(i)).filter((r) => r === route).length;
  const on = (route: RouteKind) => Math.floor(plan.minMainRequests * mixShare(route)) + fresh(route);
  return { chat: on('chat'), stream: on('stream') + ttftPairsFor(plan) };
}

/**
 * The boundary and guard of every comparison for a plan. Expected pairs: the primed questions are
 * every other main request plus the `hit_pairs` scenario; misses are {@link plannedMisses}, JSON
 * and streamed (TTFT and the LLM time: streamed only); the tail's pairs are the `hit_pairs` scenario's.
 */
export function designComparisons(plan: GatePlan): ComparisonDesign[] {
  const sequential = hitPairsFor(plan);
  const hits = Math.max(1, plan.minPopularRequests) + sequential;
  const planned = plannedMisses(plan);
  const misses = Math.max(1, planned.chat + planned.stream);
  const streamed = Math.max(1, planned.stream);
  const all = plan.minMainRequests + plan.minFreshRequests + ttftPairsFor(plan) + sequential;
  const expected: Record<ComparisonId, number> = {
    hit_latency: hits,
    hit_rate: hits,
    service_time: misses,
    llm_time: streamed,
    error_rate: all,
    tail_latency: sequential,
    ttft: streamed,
    tokens_per_call: misses,
  };
  const sequentialShare: Record<ComparisonId, number> = {
    hit_latency: sequential,
    hit_rate: sequential,
    service_time: 0,
    llm_time: 0,
    error_rate: sequential,
    tail_latency: sequential,
    ttft: 0,
    tokens_per_call: 0,
  };
  return COMPARISONS.map((spec) => {
    const expectedPairs = expected[spec.id];
    const maxTrials = Math.min(1000, Math.max(200, 2 * expectedPairs));
    // Latency: every pair is a trial. Rates: only discordant pairs are, as few as a regression
    // makes; the tail's are optimised for a slowest-10% regression's, the others for none at all
    // on the baseline's side. Either way the size holds for every trial count (stats.ts).
    const optimiseAtTrials =
      spec.kind === 'latency'
        ? expectedPairs
        : spec.id === 'tail_latency'
          ? Math.round(TAIL_REGRESSION_SHARE * expectedPairs)
          : undefined;
    const boundary = designSignBoundary({
      alpha: COMPARISON_ALPHA,
      maxTrials,
      ...(optimiseAtTrials !== undefined ? { optimiseAtTrials } : {}),
    });
    // A comparison judged on fewer pairs than it needs to fail could never fail: that is no
    // evidence, and the guard says so. At least that many, and half the pairs the concurrent
    // scenarios are certain to send. The sequential pairs are sent one at a time within a
    // bounded duration, so how many arrive depends on the machine: for the tail, whose only pairs
    // they are, a quarter of them.
    const certain = spec.id === 'tail_latency' ? expectedPairs / 4 : (expectedPairs - sequentialShare[spec.id]) / 2;
    const minPairs = Math.max(smallestRejectable(boundary), Math.ceil(certain));
    return { spec, boundary, minPairs, expectedPairs };
  });
}

/** The fewest trials at which the boundary can be crossed at all (every trial worse). */
export function smallestRejectable(b: SignBoundary): number {
  for (let m = 1; m <= 10_000; m++) if (boundaryCount(b, m) <= m) return m;
  return Number.POSITIVE_INFINITY;
}

/** The comparisons' k6 thresholds: a guard (enough pairs) and the test (the boundary). */
export function comparisonThresholds(designs: readonly ComparisonDesign[]): ThresholdSpec[] {
  const out: ThresholdSpec[] = [];
  for (const d of designs) {
    const m = comparisonMetrics(d.spec.id);
    const guard: ThresholdSpec = {
      metric: m.pairs,
      expression: `count>=${d.minPairs}`,
      role: 'guard',
      why: `Comparison "${d.spec.title}" is judged on at least ${d.minPairs} usable pairs; fewer could not show a regression.`,
    };
    out.push(guard);
    out.push({
      metric: m.worse,
      expression: `rate<${Math.round(d.boundary.maxRate * 1000) / 1000}`,
      role: 'comparison',
      why: `${d.spec.title} vs the baseline, ${d.spec.limitText}: fails when worse pairs >= ${d.boundary.maxRate} × (pairs + ${d.boundary.pseudoTrials}), false-failure rate <= ${round(d.boundary.size, 4)} by design. ${d.spec.why}`,
      guardedBy: [`${guard.metric} ${guard.expression}`],
    });
  }
  return out;
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

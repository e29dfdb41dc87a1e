/**
 * The gate's thresholds: built from a plan, each with the reason it exists. They become k6
 * `options.thresholds`, the JUnit test cases, the verdict lines and the docs table.
 *
 * Two k6 facts shape this module (checked against k6 v1.8.1):
 * - a Rate or Trend threshold on a metric with no samples PASSES, so every one of them is paired
 *   with a Counter threshold (`count>=N`), which does fail at zero (see `guardedBy`);
 * - a threshold key may filter by tags (`chat_success{scenario:smoke}`), which k6 reports as its own
 *   entry in the summary.
 */
import { FRESH_SCENARIO, K6_CHECKS_METRIC, GATE_K6_METRICS as M, STREAMS_SCENARIO } from './metrics';
import type { GatePlan } from './plan';

export type ThresholdRole = 'guard' | 'criterion' | 'abort' | 'comparison';

export interface ThresholdSpec {
  /** The k6 threshold key: a metric name, optionally with a tag filter. */
  readonly metric: string;
  /** The k6 threshold expression, e.g. `rate>0.95`, `p(95)<500`, `count>=40`. */
  readonly expression: string;
  /** Why the threshold exists, in one or two sentences. */
  readonly why: string;
  /** `guard`: proves there is enough data; `criterion`: a requirement on the version; `abort`: stop early. */
  readonly role: ThresholdRole;
  /** For `abort` thresholds: k6 `abortOnFail` with `delayAbortEval`. */
  readonly abortAfterSeconds?: number;
  /** Ids ({@link thresholdId}) of the thresholds that guarantee this one has samples to judge. */
  readonly guardedBy?: readonly string[];
}

export function thresholdId(t: Pick<ThresholdSpec, 'metric' | 'expression'>): string {
  return `${t.metric} ${t.expression}`;
}

/** `name{tag:value,...}` */
export function metricKey(name: string, tags: Readonly<Record<string, string>> = {}): string {
  const entries = Object.entries(tags);
  return entries.length === 0 ? name : `${name}{${entries.map(([k, v]) => `${k}:${v}`).join(',')}}`;
}

/** The smallest number that prints without noise, for expressions like `rate>0.95`. */
function num(value: number): string {
  return String(Math.round(value * 1e6) / 1e6);
}

export function buildThresholds(plan: GatePlan): ThresholdSpec[] {
  const { profile, targets } = plan;
  const main = { scenario: profile.name };
  const fresh = { scenario: FRESH_SCENARIO };
  const specs: ThresholdSpec[] = [];
  const add = (spec: ThresholdSpec): string => {
    specs.push(spec);
    return thresholdId(spec);
  };

  // --- no-data guards: a gate never passes without evidence -------------------------------------
  const requestsGuard = add({
    metric: metricKey(M.requests, main),
    expression: `count>=${plan.minMainRequests}`,
    role: 'guard',
    why:
      targets.minRequestShare >= 1
        ? `No-data guard: all ${plan.minMainRequests} planned requests were sent and answered; a hung, unreachable or stalled target sends fewer. Every rate below is judged on these samples.`
        : `No-data guard: at least ${Math.round(targets.minRequestShare * 100)}% of the planned arrivals were sent; fewer means every VU was stuck waiting on the target.`,
  });
  const popularGuard = add({
    metric: metricKey(M.requests, { ...main, kind: 'popular' }),
    expression: `count>=${plan.minPopularRequests}`,
    role: 'guard',
    why: 'The cache hit rate is judged on at least this many requests for questions primed in setup(); the mix makes that many certain.',
  });
  const freshGuard = add({
    metric: metricKey(M.requests, fresh),
    expression: `count>=${plan.minFreshRequests}`,
    role: 'guard',
    why: 'Prompts unique to this run reached the service: they prove the LLM path of this version, which no shared cache can stand in for.',
  });
  let versionGuard: string | undefined;
  if (plan.minVersionChecked !== undefined) {
    versionGuard = add({
      metric: M.versionChecked,
      expression: `count>=${plan.minVersionChecked}`,
      role: 'guard',
      why: 'The version check below is judged on at least as many answers as the success threshold demands.',
    });
  }

  // --- criteria: what the version under test must do --------------------------------------------
  const successMain = add({
    metric: metricKey(M.success, main),
    expression: `rate>${num(targets.minSuccessRate)}`,
    role: 'criterion',
    why: `Requests answered 200 with a well-formed reply (JSON or a stream ending in done). ${capitalise(profile.rationale)}.`,
    guardedBy: [requestsGuard],
  });
  if (targets.maxAvgLatencyMs !== undefined) {
    add({
      metric: metricKey(M.latency, main),
      expression: `avg<${num(targets.maxAvgLatencyMs)}`,
      role: 'criterion',
      why:
        profile.origin === 'seeds'
          ? "Average latency of successful requests, the seeds' own latency criterion for this scenario."
          : 'Average latency of successful requests: the mix is half cache hits, so a slow average means slow hits or a slow LLM path.',
      guardedBy: [requestsGuard, successMain],
    });
  }
  if (targets.maxP95LatencyMs !== undefined) {
    add({
      metric: metricKey(M.latency, main),
      expression: `p(95)<${num(targets.maxP95LatencyMs)}`,
      role: 'criterion',
      why: 'p95 latency of successful requests: the tail users feel, dominated by LLM calls; an average hides it.',
      guardedBy: [requestsGuard, successMain],
    });
  }
  const hitRate = add({
    metric: metricKey(M.cacheHit, main),
    expression: `rate>${num(targets.minCacheHitRate)}`,
    role: 'criterion',
    why: 'Requests for questions primed in setup() must be served from the cache (x-cache HIT / cached:true); a cache that silently stopped caching drives this to 0.',
    guardedBy: [popularGuard],
  });
  if (targets.maxCacheHitP95LatencyMs !== undefined) {
    add({
      metric: metricKey(M.latency, { ...main, cache: 'HIT' }),
      expression: `p(95)<${num(targets.maxCacheHitP95LatencyMs)}`,
      role: 'criterion',
      why: 'A cache hit costs no LLM call, so it must be fast; a slow hit means an overloaded or distant cache, or no connection reuse.',
      guardedBy: [popularGuard, hitRate],
    });
  }
  add({
    metric: metricKey(M.db, main),
    expression: `med<${num(targets.maxDbMedianMs)}`,
    role: 'criterion',
    why: 'p95 of the service\'s database time per answer (Server-Timing db): the seeds\' "database queries under 50 ms". A missing index, a lock or a slow or distant database shows here before the latency does.',
    guardedBy: [requestsGuard, successMain],
  });
  // The run-unique prompts alternate routes by their number in the whole test, so an unsplit run
  // streams half of them for certain; a runner of a split run may get only JSON ones, and judges
  // no TTFT of its own (the comparison with a baseline still does, on its ttft scenario).
  if (plan.segmentFraction === 1) {
    const freshStreamGuard = add({
      metric: metricKey(M.requests, { ...fresh, route: 'stream' }),
      expression: `count>=${Math.max(1, Math.floor(plan.minFreshRequests / 2))}`,
      role: 'guard',
      why: 'Half the run-unique prompts are streamed (they alternate routes): the time to first token is judged on at least these.',
    });
    add({
      metric: metricKey(M.ttft, fresh),
      expression: `p(95)<${num(targets.maxTtftP95Ms)}`,
      role: 'criterion',
      why: "p95 time to first token of the run-unique streamed prompts, as the client sees it (first byte = first token, the contract's SSE_EVENTS): what a person waits for before text moves; a layer that buffers the stream shows here.",
      guardedBy: [freshStreamGuard],
    });
  }
  add({
    metric: metricKey(M.llmTokens, fresh),
    expression: `max<=${num(targets.maxTokensPerAnswer)}`,
    role: 'criterion',
    why: "No run-unique first turn may cost more LLM tokens (input + output, from the answer's usage) than this: the bill, judged without a baseline. A grown system prompt, a larger context or a raised answer cap crosses it.",
    guardedBy: [freshGuard],
  });
  add({
    metric: metricKey(M.success, fresh),
    expression: `rate>${num(targets.minSuccessRate)}`,
    role: 'criterion',
    why: 'Prompts no cache can answer are answered too: this is the new version calling the LLM, not the old version cached answers.',
    guardedBy: [freshGuard],
  });
  add({
    metric: M.freshUncached,
    expression: 'rate==1',
    role: 'criterion',
    why: 'A prompt unique to this run cannot be in any cache; a HIT means the cache key ignores the message or the cache returns answers for the wrong key.',
    guardedBy: [freshGuard],
  });
  if (profile.streams) {
    const streams = { scenario: STREAMS_SCENARIO };
    const streamsGuard = add({
      metric: metricKey(M.requests, streams),
      expression: `count>=${Math.max(1, Math.floor(profile.streams.concurrent * plan.segmentFraction))}`,
      role: 'guard',
      why: `The seeds' "more than 10 concurrent connections": ${profile.streams.concurrent} streams opened at the same moment (this runner's share when split).`,
    });
    const streamsAnswered = add({
      metric: metricKey(M.success, streams),
      expression: `rate>${num(targets.minSuccessRate)}`,
      role: 'criterion',
      why: 'Streams opened all at once are answered like the rest of the load: a version that cannot hold that many streams open fails them.',
      guardedBy: [streamsGuard],
    });
    add({
      metric: metricKey(M.streamEventsPerSecond, streams),
      expression: `med>${num(profile.streams.minEventsPerSecond)}`,
      role: 'criterion',
      why: `The seeds' "more than ${profile.streams.minEventsPerSecond} events per second": the typical stream of the ${profile.streams.concurrent} open at once delivers its token events faster than that, so all of them together far faster.`,
      guardedBy: [streamsGuard, streamsAnswered],
    });
  }
  if (versionGuard) {
    add({
      metric: M.versionMatch,
      expression: 'rate==1',
      role: 'criterion',
      why: 'Every answer carries x-app-version equal to EXPECTED_VERSION; anything else means the old version answered and the gate would judge the wrong tasks.',
      guardedBy: [versionGuard],
    });
  }
  add({
    metric: K6_CHECKS_METRIC,
    expression: 'rate>=0.99',
    role: 'criterion',
    why: 'HTTP contract assertions on every answer (x-cache agrees with cached, x-request-id echoed, streams end with done, 429/503 carry Retry-After): a fast version that breaks the contract still fails.',
    guardedBy: [requestsGuard, successMain],
  });

  // --- early abort: stop spending load on a target that has clearly failed ----------------------
  if (targets.abortWhenSuccessBelow) {
    add({
      metric: metricKey(M.success, main),
      expression: `rate>${num(targets.abortWhenSuccessBelow.rate)}`,
      role: 'abort',
      abortAfterSeconds: targets.abortWhenSuccessBelow.afterSeconds,
      why: `Stops the run (exit 99) when fewer than ${Math.round(targets.abortWhenSuccessBelow.rate * 100)}% of requests succeed after ${targets.abortWhenSuccessBelow.afterSeconds} s: the verdict is already FAIL, and the rest of the run would only cost time and LLM calls.`,
      guardedBy: [requestsGuard],
    });
  }
  return specs;
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** The shape k6 accepts in `options.thresholds`. */
export type K6Threshold = string | { threshold: string; abortOnFail: boolean; delayAbortEval?: string };

export function toK6Thresholds(specs: readonly ThresholdSpec[]): Record<string, K6Threshold[]> {
  const out: Record<string, K6Threshold[]> = {};
  for (const spec of specs) {
    const entry: K6Threshold =
      spec.role === 'abort'
        ? { threshold: spec.expression, abortOnFail: true, delayAbortEval: `${spec.abortAfterSeconds ?? 0}s` }
        : spec.expression;
    const list = out[spec.metric] ?? [];
    list.push(entry);
    out[spec.metric] = list;
  }
  return out;
}

// --- a tiny evaluator for threshold expressions (k6's own grammar, the subset the gate uses) ----

export type ThresholdOperator = '<' | '<=' | '>' | '>=' | '==' | '===' | '!=';

export interface ParsedThreshold {
  /** The summary value the expression reads: `rate`, `count`, `avg`, `min`, `max`, `med`, `p(95)`... */
  readonly aggregation: string;
  readonly operator: ThresholdOperator;
  readonly value: number;
}

const EXPRESSION =
  /^\s*(rate|count|avg|min|max|med|value|p\((\d+(?:\.\d+)?)\))\s*(<=|>=|===|==|!=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$/;

/** Parses `aggregation operator number`; returns null for anything else. */
export function parseThreshold(expression: string): ParsedThreshold | null {
  const m = EXPRESSION.exec(expression);
  if (!m) return null;
  const [, aggregation, percentile, operator, value] = m;
  if (percentile !== undefined && !(Number(percentile) >= 0 && Number(percentile) <= 100)) return null;
  return { aggregation: aggregation as string, operator: operator as ThresholdOperator, value: Number(value) };
}

export function evaluateThreshold(parsed: ParsedThreshold, observed: number): boolean {
  switch (parsed.operator) {
    case '<':
      return observed < parsed.value;
    case '<=':
      return observed <= parsed.value;
    case '>':
      return observed > parsed.value;
    case '>=':
      return observed >= parsed.value;
    case '==':
    case '===':
      return observed === parsed.value;
    case '!=':
      return observed !== parsed.value;
  }
}

/**
 * From k6's end-of-test `data` (what `handleSummary` receives) to the gate's report: the verdict,
 * the headline numbers and one line per threshold. The JSON summary, the JUnit file, the EMF line
 * and the human verdict are all renderings of this one object, so they cannot disagree.
 *
 * PASS/FAIL per threshold is k6's own (`thresholds[expr].ok`); this module never re-judges. A
 * threshold the plan declared but k6 did not report counts as failed.
 */

import type { LlmPrice } from '../../../lib/contract/gate';
import type { ComparisonDesign } from './compare/comparisons';
import { buildComparisonResults, type ComparisonResult } from './compare/report';
import type { GateConfig } from './config';
import { buildTargetCost, type TargetCost } from './cost';
import type { K6Check, K6Group, K6SummaryData } from './k6-summary';
import { FRESH_SCENARIO, GATE_K6_METRICS as M } from './metrics';
import type { GatePlan } from './plan';
import { metricKey, parseThreshold, type ThresholdRole, type ThresholdSpec, thresholdId } from './thresholds';

/** What `setup()` returns; it reaches `handleSummary` as `data.setup_data`. */
export interface SetupData {
  readonly runId: string;
  readonly readiness: { readonly status: string; readonly version?: string; readonly detail: string };
  readonly primed: { readonly questions: number; readonly answered: number; readonly failures: readonly string[] };
  readonly startedAtMs: number;
  /**
   * `Bearer …` for every request, when the gate has credentials. The VUs get it through the setup
   * data, so `handleSummary` removes it ({@link withoutCredentials}) before anything is written.
   */
  readonly bearerHeader?: string;
  /** With a baseline: its readiness and version, and how its priming went. */
  readonly baseline?: {
    readonly readiness: { readonly status: string; readonly version?: string; readonly detail: string };
    readonly primed: { readonly questions: number; readonly answered: number; readonly failures: readonly string[] };
  };
}

/** The summary data without the gate's token, so no report or printed summary can contain it. */
export function withoutCredentials<T extends { readonly setup_data?: unknown }>(data: T): T {
  const setup = data.setup_data;
  if (!setup || typeof setup !== 'object' || !('bearerHeader' in setup)) return data;
  const { bearerHeader: _dropped, ...rest } = setup as Record<string, unknown>;
  return { ...data, setup_data: rest };
}

export type GateVerdictLabel = 'PASS' | 'FAIL' | 'ERROR';

export interface ThresholdResult {
  readonly metric: string;
  readonly expression: string;
  readonly role: ThresholdRole | 'unplanned';
  readonly ok: boolean;
  /** The value k6 judged, read from the summary (null when k6 did not report it). */
  readonly observed: number | null;
  readonly why: string;
}

export interface GateReport {
  readonly verdict: GateVerdictLabel;
  /** Set when the gate could not judge (setup aborted or failed before any load). */
  readonly error?: string;
  readonly profile: string;
  readonly target: string;
  /** The serving version compared with; null when the run judged fixed limits only. */
  readonly baseline: string | null;
  readonly baselineVersion: string | null;
  /** One entry per comparison with the baseline; null without a baseline (no comparison made). */
  readonly comparisons: readonly ComparisonResult[] | null;
  readonly runId: string | null;
  readonly expectedVersion: string | null;
  readonly serviceName: string;
  readonly executionSegment: string | null;
  readonly readiness: SetupData['readiness'] | null;
  readonly primed: SetupData['primed'] | null;
  /** Time to verdict: setup() start to the summary. */
  readonly durationSeconds: number;
  /** k6's test run duration (the load, without setup). */
  readonly loadSeconds: number;
  readonly requests: {
    readonly total: number;
    readonly main: number;
    readonly fresh: number;
    readonly popular: number;
  };
  /** Over all chat requests of the run (main and fresh); null without requests. */
  readonly errorRatePercent: number | null;
  /** Main scenario, successful requests. */
  readonly latencyMs: { readonly avg: number | null; readonly p95: number | null };
  /** Share of primed-question requests served from the cache; null without any. */
  readonly cacheHitRatePercent: number | null;
  /** p95 of the candidate's time to first token on streamed answers (client-side first byte); null without any. */
  readonly ttftP95Ms: number | null;
  /**
   * What the answers cost at the provider, per target, from their `usage`; the price is the stage's
   * (`LLM_PRICE_PER_MTOK`), null when not given. `llmCallBound`: the most LLM calls (turns) this run
   * makes per target.
   */
  readonly cost: {
    readonly price: LlmPrice | null;
    readonly llmCallBound: number;
    readonly candidate: TargetCost;
    readonly baseline: TargetCost | null;
  };
  /** Share of answers from EXPECTED_VERSION; null when no version was expected. */
  readonly versionMatchPercent: number | null;
  readonly thresholds: readonly ThresholdResult[];
  readonly failedChecks: ReadonlyArray<{ readonly name: string; readonly passes: number; readonly fails: number }>;
  readonly overridesApplied: readonly string[];
}

export interface ReportContext {
  readonly config: GateConfig;
  readonly plan: GatePlan;
  readonly thresholds: readonly ThresholdSpec[];
  /** When the summary is built (ms since the epoch): the end of "time to verdict". */
  readonly nowMs: number;
  /** The comparisons' designs, when the run had a baseline. */
  readonly designs?: readonly ComparisonDesign[];
  /** The most LLM calls (turns) the run makes per target ({@link llmCallBound}). */
  readonly llmCallBound?: number;
}

export function isSetupData(value: unknown): value is SetupData {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as SetupData).runId === 'string' &&
    typeof (value as SetupData).readiness === 'object'
  );
}

export function buildGateReport(data: K6SummaryData, ctx: ReportContext): GateReport {
  const { config, plan } = ctx;
  const main = { scenario: plan.profile.name };
  const value = (key: string, stat: string): number | null => {
    const metric = data.metrics[key];
    // k6 reports 0 for every statistic of a Trend without samples; that is "no data", not 0 ms.
    if (!metric || (metric.type === 'trend' && metric.values.count === 0)) return null;
    const v = metric.values[stat];
    return typeof v === 'number' && Number.isFinite(v) ? v : null;
  };
  const rateOrNull = (key: string): number | null => {
    const m = data.metrics[key];
    if (!m) return null;
    const samples = (m.values.passes ?? 0) + (m.values.fails ?? 0);
    return samples > 0 ? (m.values.rate ?? null) : null;
  };

  const planned = new Map(ctx.thresholds.map((t) => [thresholdId(t), t]));
  const results: ThresholdResult[] = ctx.thresholds.map((t) => {
    const reported = data.metrics[t.metric]?.thresholds?.[t.expression];
    const parsed = parseThreshold(t.expression);
    return {
      metric: t.metric,
      expression: t.expression,
      role: t.role,
      ok: reported?.ok === true,
      observed: parsed ? value(t.metric, parsed.aggregation) : null,
      why: reported ? t.why : `${t.why} (k6 did not report this threshold: counted as failed)`,
    };
  });
  // Thresholds k6 reports that the plan does not know (should not happen) still count.
  for (const [metric, summary] of Object.entries(data.metrics)) {
    for (const [expression, outcome] of Object.entries(summary.thresholds ?? {})) {
      if (planned.has(`${metric} ${expression}`)) continue;
      const parsed = parseThreshold(expression);
      results.push({
        metric,
        expression,
        role: 'unplanned',
        ok: outcome.ok,
        observed: parsed ? value(metric, parsed.aggregation) : null,
        why: 'declared outside the gate plan',
      });
    }
  }

  const setup = isSetupData(data.setup_data) ? data.setup_data : null;
  const allOk = results.every((r) => r.ok);
  const verdict: GateVerdictLabel = setup === null ? 'ERROR' : allOk ? 'PASS' : 'FAIL';
  const successRate = rateOrNull(M.success);
  const hitRate = rateOrNull(metricKey(M.cacheHit, main)) ?? rateOrNull(M.cacheHit);
  const versionRate = config.expectedVersion ? rateOrNull(M.versionMatch) : null;

  return {
    verdict,
    ...(setup === null
      ? {
          error:
            'setup() did not complete: the target was not ready, the run was misconfigured, or setup timed out (see the k6 log above); no load was judged',
        }
      : {}),
    profile: plan.profile.name,
    target: config.baseUrl,
    baseline: config.baselineUrl ?? null,
    baselineVersion: setup?.baseline?.readiness.version ?? null,
    comparisons:
      config.baselineUrl && ctx.designs
        ? buildComparisonResults(data.metrics, ctx.designs, (metric) =>
            results.filter((r) => r.metric === metric).every((r) => r.ok),
          )
        : null,
    runId: setup?.runId ?? config.runId ?? null,
    expectedVersion: config.expectedVersion ?? null,
    serviceName: config.serviceName,
    executionSegment: config.executionSegment?.text ?? null,
    readiness: setup?.readiness ?? null,
    primed: setup?.primed ?? null,
    // From the start of setup() (readiness, priming) to now; k6's own run duration leaves setup out.
    durationSeconds: round((setup ? ctx.nowMs - setup.startedAtMs : data.state.testRunDurationMs) / 1000, 1),
    loadSeconds: round(data.state.testRunDurationMs / 1000, 1),
    requests: {
      total: value(M.requests, 'count') ?? 0,
      main: value(metricKey(M.requests, main), 'count') ?? 0,
      fresh: value(metricKey(M.requests, { scenario: FRESH_SCENARIO }), 'count') ?? 0,
      popular: value(metricKey(M.requests, { ...main, kind: 'popular' }), 'count') ?? 0,
    },
    errorRatePercent: successRate === null ? null : round((1 - successRate) * 100, 2),
    latencyMs: {
      avg: roundOrNull(value(metricKey(M.latency, main), 'avg') ?? value(M.latency, 'avg'), 0),
      p95: roundOrNull(value(metricKey(M.latency, main), 'p(95)') ?? value(M.latency, 'p(95)'), 0),
    },
    cacheHitRatePercent: hitRate === null ? null : round(hitRate * 100, 1),
    ttftP95Ms: roundOrNull(value(M.ttft, 'p(95)'), 0),
    cost: {
      price: config.llmPrice ?? null,
      llmCallBound: ctx.llmCallBound ?? 0,
      candidate: buildTargetCost(data.metrics, 'candidate', config.llmPrice ?? null),
      baseline: config.baselineUrl ? buildTargetCost(data.metrics, 'baseline', config.llmPrice ?? null) : null,
    },
    versionMatchPercent: versionRate === null ? null : round(versionRate * 100, 1),
    thresholds: results,
    failedChecks: collectChecks(data.root_group).filter((c) => c.fails > 0),
    overridesApplied: plan.overridesApplied,
  };
}

function collectChecks(group: K6Group | undefined): K6Check[] {
  if (!group) return [];
  return [...group.checks, ...group.groups.flatMap(collectChecks)];
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function roundOrNull(n: number | null, digits: number): number | null {
  return n === null ? null : round(n, digits);
}

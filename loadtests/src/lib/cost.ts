/**
 * What a gate run's answers cost at the LLM provider, per target, from the `usage` every answer
 * reports (`ChatUsage` in the contract): tokens per LLM call, and the cost per 1,000 answers at the
 * stage's price (`LLM_PRICE_PER_MTOK`). Hits report 0 tokens and count as answers, so the cost per
 * answer is what the mix costs with its cache.
 *
 * Also the bound on the LLM calls a run makes per target, which the verdict and docs/loadtests.md
 * state: in AWS every miss is billed.
 */
import type { LlmPrice } from '../../../lib/contract/gate';
import type { ChatAssessment, MetricRecord } from './assess';
import type { K6MetricSummary } from './k6-summary';
import type { GatePlan } from './plan';

export type CostTarget = 'baseline' | 'candidate';

/** k6 Counters of one target's answers and the tokens they report. */
export function costMetrics(target: CostTarget) {
  return {
    /** Successful answers (hits included: they cost 0). */
    answers: `cost_${target}_answers`,
    /** Answers that reported tokens: the turns that made an LLM call. */
    calls: `cost_${target}_llm_calls`,
    input: `cost_${target}_input_tokens`,
    output: `cost_${target}_output_tokens`,
  } as const;
}

/** The samples one answer contributes to its target's cost. */
export function costRecords(target: CostTarget, assessed: Pick<ChatAssessment, 'success' | 'usage'>): MetricRecord[] {
  if (!assessed.success) return [];
  const m = costMetrics(target);
  const out: MetricRecord[] = [{ metric: m.answers, value: 1, tags: {} }];
  const u = assessed.usage;
  if (u && u.inputTokens + u.outputTokens > 0) {
    out.push(
      { metric: m.calls, value: 1, tags: {} },
      { metric: m.input, value: u.inputTokens, tags: {} },
      { metric: m.output, value: u.outputTokens, tags: {} },
    );
  }
  return out;
}

export interface TargetCost {
  readonly answers: number;
  readonly llmCalls: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** (input + output) / LLM calls; null without calls. */
  readonly tokensPerCall: number | null;
  /** USD per 1,000 answers at the price; null without a price or without answers. */
  readonly costPer1000Answers: number | null;
}

export function buildTargetCost(
  metrics: Readonly<Record<string, K6MetricSummary>>,
  target: CostTarget,
  price: LlmPrice | null,
): TargetCost {
  const m = costMetrics(target);
  const count = (name: string) => metrics[name]?.values.count ?? 0;
  const answers = count(m.answers);
  const llmCalls = count(m.calls);
  const inputTokens = count(m.input);
  const outputTokens = count(m.output);
  const dollars = price ? (inputTokens * price.inputPerMTok + outputTokens * price.outputPerMTok) / 1e6 : null;
  return {
    answers,
    llmCalls,
    inputTokens,
    outputTokens,
    tokensPerCall: llmCalls > 0 ? round((inputTokens + outputTokens) / llmCalls, 1) : null,
    costPer1000Answers: dollars !== null && answers > 0 ? round((dollars / answers) * 1000, 4) : null,
  };
}

/**
 * The most LLM calls (turns that miss) a run makes per target: priming (every popular question,
 * once, plus one retry of those that failed), every main request that is not a primed question, the
 * fresh prompts, the concurrent streams of the profiles that have them and, with a baseline, the
 * `ttft` scenario's streamed prompts. Each turn makes at most
 * 3 attempts on provider errors (the service's retry policy); the bound counts turns.
 */
export function llmCallBound(plan: GatePlan, popularQuestions: number, ttftPairs: number): number {
  const mainMisses = plan.minMainRequests - plan.minPopularRequests;
  const streams = plan.profile.streams
    ? Math.max(1, Math.floor(plan.profile.streams.concurrent * plan.segmentFraction))
    : 0;
  return 2 * popularQuestions + mainMisses + plan.minFreshRequests + streams + ttftPairs;
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

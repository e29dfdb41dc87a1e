/**
 * The profiles-and-thresholds table of docs/loadtests.md and the README, generated from the profiles
 * themselves so the docs cannot drift from the gate. One of the blocks `npm run docs` writes
 * (scripts/docs.ts).
 */
import { GATE_PROFILES } from '../../lib/contract/gate';
import {
  GATE_MAX_PRIMED_QUESTIONS,
  GATE_PROFILE_SPECS,
  gateChatRequestsPerTarget,
  plannedIterations,
  type TrafficShape,
} from '../../lib/contract/gate-profiles';
import { TTFT_PAIRS } from '../../loadtests/src/lib/compare/comparisons';
import { llmCallBound } from '../../loadtests/src/lib/cost';
import { defaultPlan } from '../../loadtests/src/lib/plan';

function shape(s: TrafficShape): string {
  switch (s.executor) {
    case 'per-vu-iterations':
      return `${s.vus} VU × ${s.iterations} (per-vu-iterations, max ${s.maxDurationSeconds} s)`;
    case 'shared-iterations':
      return `${s.vus} VUs share ${s.iterations} (shared-iterations, max ${s.maxDurationSeconds} s)`;
    case 'constant-arrival-rate':
      return `${s.ratePerMinute}/min for ${s.durationSeconds / 60} min (constant-arrival-rate, ≤ ${s.maxVUs} VUs)`;
    case 'ramping-arrival-rate':
      return `${s.startRatePerMinute}→${Math.max(...s.stages.map((x) => x.targetRatePerMinute))}/min over ${s.stages.reduce((a, x) => a + x.durationSeconds, 0)} s (ramping-arrival-rate, ≤ ${s.maxVUs} VUs)`;
  }
}

const pct = (rate: number) => `> ${Math.round(rate * 1000) / 10}%`;
const ms = (value: number | undefined) => (value === undefined ? '–' : `< ${value} ms`);

export function renderProfileTable(): string {
  const rows = [
    '| profile | traffic (main scenario) | requests (min) | fresh | success | avg | p95 | HIT p95 | cache hit | TTFT p95 (fresh) | tokens per fresh answer | DB median (Server-Timing) | why |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const name of GATE_PROFILES) {
    const p = GATE_PROFILE_SPECS[name];
    const t = p.targets;
    const planned = plannedIterations(p.main);
    const min = Math.ceil(planned * t.minRequestShare);
    rows.push(
      `| \`${name}\` | ${shape(p.main)} | ${planned}${min < planned ? ` (${min})` : ''} | ${plannedIterations(p.fresh)} | ${pct(t.minSuccessRate)} | ${ms(t.maxAvgLatencyMs)} | ${ms(t.maxP95LatencyMs)} | ${ms(t.maxCacheHitP95LatencyMs)} | ${pct(t.minCacheHitRate)} | ${ms(t.maxTtftP95Ms)} | ≤ ${t.maxTokensPerAnswer} | ${ms(t.maxDbMedianMs)} | ${p.rationale} |`,
    );
  }
  return rows.join('\n');
}

/**
 * Per profile and target: the most LLM calls a run makes (`llmCallBound`, what the verdict states)
 * and the most chat requests it sends (`gateChatRequestsPerTarget`, what the gate principal's
 * quota must hold), with fixed limits only and with a baseline.
 */
export function renderBudgetTable(): string {
  const rows = [
    '| profile | LLM calls per target, fixed limits only | with a baseline (each target) | chat requests per target, fixed limits only | with a baseline (each target) |',
    '|---|---|---|---|---|',
  ];
  for (const name of GATE_PROFILES) {
    const spec = GATE_PROFILE_SPECS[name];
    const calls = (baseline: boolean) =>
      llmCallBound(defaultPlan(spec, baseline), GATE_MAX_PRIMED_QUESTIONS, baseline ? TTFT_PAIRS : 0);
    rows.push(
      `| \`${name}\` | ${calls(false)} | ${calls(true)} | ${gateChatRequestsPerTarget(spec, false)} | ${gateChatRequestsPerTarget(spec, true)} |`,
    );
  }
  return rows.join('\n');
}

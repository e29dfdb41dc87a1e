/**
 * The human verdict printed at the end of a run: what was tested, the headline numbers, one line
 * per threshold, and the outcome. Short enough to read in a CI log without scrolling.
 */
import type { ComparisonResult } from './compare/report';
import type { TargetCost } from './cost';
import type { GateReport, ThresholdResult } from './report';

export function renderVerdict(report: GateReport): string {
  const lines: string[] = [];
  const version = report.expectedVersion ? `, expecting version ${report.expectedVersion}` : '';
  const segment = report.executionSegment ? `, segment ${report.executionSegment}` : '';
  lines.push(
    `k6 gate "${report.profile}" against ${report.target} (run ${report.runId ?? 'unknown'}${version}${segment})`,
  );
  if (report.readiness) lines.push(`  readiness: ${report.readiness.detail}`);
  if (report.primed) {
    const failures = report.primed.failures.length > 0 ? ` (first failure: ${report.primed.failures[0]})` : '';
    lines.push(`  primed:    ${report.primed.answered}/${report.primed.questions} popular questions${failures}`);
  }
  const r = report.requests;
  lines.push(
    `  requests:  ${r.total} (${report.profile} ${r.main}, of which popular ${r.popular}; fresh ${r.fresh})` +
      `  error rate ${fmt(report.errorRatePercent, '%')}  p95 ${fmt(report.latencyMs.p95, ' ms')}  avg ${fmt(report.latencyMs.avg, ' ms')}`,
  );
  lines.push(
    `  cache hit: ${fmt(report.cacheHitRatePercent, '%')} of primed questions` +
      `  version match: ${report.expectedVersion ? fmt(report.versionMatchPercent, '%') : 'not checked (no EXPECTED_VERSION)'}`,
  );
  lines.push(...renderCost(report));
  for (const o of report.overridesApplied) lines.push(`  override:  ${o}`);
  lines.push(...renderComparisons(report));
  lines.push('  thresholds:');
  const width = Math.max(...report.thresholds.map((t) => `${t.metric} ${t.expression}`.length), 10);
  for (const t of report.thresholds) lines.push(`    ${thresholdLine(t, width)}`);
  for (const c of report.failedChecks.slice(0, 5)) {
    lines.push(`  check failed: "${c.name}" ${c.fails}x (passed ${c.passes}x)`);
  }
  if (report.failedChecks.length > 5) lines.push(`  ... and ${report.failedChecks.length - 5} more failing checks`);
  const failed = report.thresholds.filter((t) => !t.ok).length;
  const outcome =
    report.verdict === 'PASS'
      ? `PASS: all ${report.thresholds.length} thresholds held`
      : report.verdict === 'FAIL'
        ? `FAIL: ${failed} of ${report.thresholds.length} thresholds breached`
        : `ERROR: ${report.error ?? 'no verdict'}`;
  lines.push(`verdict: ${outcome} (time to verdict ${report.durationSeconds} s)`);
  return lines.join('\n');
}

function thresholdLine(t: ThresholdResult, width: number): string {
  const label = `${t.metric} ${t.expression}`.padEnd(width);
  const observed = t.observed === null ? 'no data' : `observed ${formatNumber(t.observed)}`;
  const role = t.role === 'criterion' ? '' : ` [${t.role}]`;
  return `${t.ok ? 'PASS' : 'FAIL'}  ${label}  ${observed}${role}`;
}

function fmt(n: number | null, unit: string): string {
  return n === null ? 'n/a' : `${formatNumber(n)}${unit}`;
}

export function formatNumber(n: number): string {
  if (Number.isInteger(n)) return String(n);
  return String(Math.round(n * 1000) / 1000);
}

/** Tokens per LLM call and cost per 1,000 answers, per target, and the bound on LLM calls. */
export function renderCost(report: GateReport): string[] {
  const { price, candidate, baseline, llmCallBound } = report.cost;
  const priceText = price
    ? `at $${formatNumber(price.inputPerMTok)}/$${formatNumber(price.outputPerMTok)} per million input/output tokens`
    : 'no price given (LLM_PRICE_PER_MTOK)';
  const one = (name: string, c: TargetCost) =>
    `${name} ${c.tokensPerCall === null ? 'n/a' : formatNumber(c.tokensPerCall)} tokens/call ` +
    `(${c.llmCalls} LLM calls for ${c.answers} answers), ` +
    `${c.costPer1000Answers === null ? 'cost n/a' : `$${formatNumber(c.costPer1000Answers)} per 1,000 answers`}`;
  return [
    `  cost:      ${one('candidate', candidate)}${baseline ? `; ${one('baseline', baseline)}` : ''}; ${priceText}; ` +
      `at most ${llmCallBound} LLM calls per target in this run`,
    ...(report.ttftP95Ms !== null
      ? [`  ttft:      p95 ${formatNumber(report.ttftP95Ms)} ms (streamed answers, first byte)`]
      : []),
  ];
}

/** The relative verdict: one line per comparison, or the statement that none was made. */
export function renderComparisons(report: GateReport): string[] {
  if (!report.comparisons) {
    return ['  baseline:  none given: no comparison with the serving version was made; fixed limits only'];
  }
  const lines = [
    `  baseline:  ${report.baseline} (version ${report.baselineVersion ?? 'unknown'}); paired comparisons, each one-sided, family-wise false-failure rate <= 1% by design:`,
  ];
  for (const c of report.comparisons) lines.push(`    ${comparisonLine(c)}`);
  return lines;
}

export function comparisonLine(c: ComparisonResult): string {
  const u = (v: number | null) =>
    v === null
      ? 'n/a'
      : c.unit === 'ratio'
        ? `×${formatNumber(v)}`
        : c.unit === 'points'
          ? `${formatNumber(v)} pt`
          : `${formatNumber(v)} ms`;
  const side = (v: number | null) =>
    v === null
      ? 'n/a'
      : c.unit === 'points'
        ? `${formatNumber(v)}%`
        : `${formatNumber(v)} ${c.valueUnit === 'tokens' ? 'tokens' : 'ms'}`;
  const diff =
    c.unit === 'ratio'
      ? c.difference === null
        ? 'n/a'
        : `×${formatNumber(c.difference)}`
      : signed(c.difference, c.unit);
  const interval = c.interval ? ` [${u(c.interval.low)}, ${u(c.interval.high)}]` : '';
  const detectable =
    c.detectable === null ? 'too few pairs to detect any' : `${c.unit === 'points' ? '≥' : '>'} ${u(c.detectable)}`;
  return (
    `${c.ok ? 'PASS' : 'FAIL'}  ${c.title}: baseline ${side(c.baseline)}, candidate ${side(c.candidate)}, ` +
    `difference ${diff}${interval}; limit: ${c.limit}; ${c.pairs} pairs, ${c.worsePairs} worse; detectable ${detectable}`
  );
}

function signed(v: number | null, unit: 'ms' | 'points' | 'ratio'): string {
  if (v === null) return 'n/a';
  return `${v >= 0 ? '+' : ''}${formatNumber(v)} ${unit === 'ms' ? 'ms' : 'pt'}`;
}

/**
 * JUnit XML for CI: one test case per threshold (a breached one is a failure carrying the observed
 * value and the reason the threshold exists), and one error case when the gate could not judge.
 * A comparison with the serving version is ONE case (its figures; its failure names the k6
 * thresholds that failed): the thresholds behind it (its test and its no-data guard) are not listed
 * again, so a failed comparison counts as one failure.
 */
import { type ComparisonId, comparisonMetrics } from './compare/comparisons';
import type { GateReport } from './report';
import { comparisonLine, formatNumber } from './verdict';

export function escapeXml(text: string): string {
  return (
    text
      // Characters XML 1.0 cannot carry at all.
      // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
  );
}

export function buildJUnit(report: GateReport, timestampIso: string): string {
  const suite = `k6 gate ${report.profile}`;
  const classname = `gate.${report.profile}`;
  const cases: string[] = [];
  let failures = 0;
  let errors = 0;
  if (report.verdict === 'ERROR') {
    errors++;
    cases.push(
      `    <testcase classname="${escapeXml(classname)}" name="setup: target ready and gate configured" time="0">\n` +
        `      <error message="${escapeXml(report.error ?? 'no verdict')}" type="gate-error"/>\n` +
        '    </testcase>',
    );
  }
  const comparisonOf = new Map<string, string>();
  for (const c of report.comparisons ?? []) {
    const m = comparisonMetrics(c.id as ComparisonId);
    for (const metric of Object.values(m)) comparisonOf.set(metric, c.id);
  }
  for (const t of report.thresholds) {
    if (comparisonOf.has(t.metric)) continue; // reported once, as its comparison's case below
    const name = `${t.metric} ${t.expression}`;
    const head = `    <testcase classname="${escapeXml(classname)}" name="${escapeXml(name)}" time="0">`;
    if (t.ok) {
      cases.push(
        `${head}\n      <system-out>${escapeXml(observedText(t.observed))}; ${escapeXml(t.why)}</system-out>\n    </testcase>`,
      );
    } else {
      failures++;
      const message = `${observedText(t.observed)}; required ${t.expression}`;
      cases.push(
        `${head}\n      <failure message="${escapeXml(message)}" type="threshold">${escapeXml(t.why)}</failure>\n    </testcase>`,
      );
    }
  }
  // One case per comparison with the serving version, carrying its figures and, when it failed,
  // which of its thresholds k6 failed (the test, or the no-data guard).
  for (const c of report.comparisons ?? []) {
    const head = `    <testcase classname="${escapeXml(`${classname}.compare`)}" name="${escapeXml(c.title)}" time="0">`;
    const own = report.thresholds.filter((t) => comparisonOf.get(t.metric) === c.id);
    if (c.ok) cases.push(`${head}\n      <system-out>${escapeXml(comparisonLine(c))}</system-out>\n    </testcase>`);
    else {
      failures++;
      const failed = own.filter((t) => !t.ok).map((t) => `${t.metric} ${t.expression} (${observedText(t.observed)})`);
      const detail = [
        c.limit,
        ...(failed.length > 0 ? [`failed: ${failed.join('; ')}`] : []),
        ...own.map((t) => t.why),
      ];
      cases.push(
        `${head}\n      <failure message="${escapeXml(comparisonLine(c))}" type="comparison">${escapeXml(detail.join('\n'))}</failure>\n    </testcase>`,
      );
    }
  }
  const tests = cases.length;
  const properties = [
    ['target', report.target],
    ['run_id', report.runId ?? ''],
    ['expected_version', report.expectedVersion ?? ''],
    ['baseline', report.baseline ?? 'none (no comparison made)'],
    ['verdict', report.verdict],
  ]
    .map(([k, v]) => `      <property name="${escapeXml(k as string)}" value="${escapeXml(v as string)}"/>`)
    .join('\n');
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="k6 gate" tests="${tests}" failures="${failures}" errors="${errors}" time="${report.durationSeconds}">`,
    `  <testsuite name="${escapeXml(suite)}" tests="${tests}" failures="${failures}" errors="${errors}" time="${report.durationSeconds}" timestamp="${escapeXml(timestampIso)}">`,
    '    <properties>',
    properties,
    '    </properties>',
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

function observedText(observed: number | null): string {
  return observed === null ? 'no data' : `observed ${formatNumber(observed)}`;
}

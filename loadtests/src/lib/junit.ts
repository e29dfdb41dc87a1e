/**
 * JUnit XML for CI: one test case per threshold (a breached one is a failure carrying the observed
 * value and the reason the threshold exists), and one error case when the gate could not judge.
 */
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
  for (const t of report.thresholds) {
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
  // One case per comparison with the serving version, carrying its figures (the threshold behind
  // it is listed above too; this case is what a CI report shows as the relative verdict).
  for (const c of report.comparisons ?? []) {
    const head = `    <testcase classname="${escapeXml(`${classname}.compare`)}" name="${escapeXml(c.title)}" time="0">`;
    if (c.ok) cases.push(`${head}\n      <system-out>${escapeXml(comparisonLine(c))}</system-out>\n    </testcase>`);
    else {
      failures++;
      cases.push(
        `${head}\n      <failure message="${escapeXml(comparisonLine(c))}" type="comparison">${escapeXml(c.limit)}</failure>\n    </testcase>`,
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

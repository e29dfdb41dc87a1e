/** The calibration's arithmetic and table, without running a gate. */
import {
  CALIBRATION_ROWS,
  goalMet,
  llmErrorRateForPoints,
  type RowResult,
  renderCalibrationTable,
} from '../../scripts/calibrate/rows';

const row = (id: string) => CALIBRATION_ROWS.find((r) => r.id === id) as (typeof CALIBRATION_ROWS)[number];
const result = (id: string, runs: number, failures: number, errors = 0): RowResult => ({
  row: row(id),
  injected: 'x',
  runs,
  failures,
  errors,
  caughtBy: { hit_latency: failures },
  verdictSeconds: [10, 12, 30],
});

test('the rows the issue asks for are all there, each with a named goal', () => {
  expect(CALIBRATION_ROWS.map((r) => r.id)).toEqual([
    'identical',
    'hit+10ms',
    'hit+40ms',
    'hit-x10',
    'miss+25ms',
    'miss+100ms',
    'llm-x2',
    'llm-x4',
    'errors+2pt',
    'errors+5pt',
    'llm-errors+5pt',
    'hitrate-20pt',
    'tail+300ms',
    'ttft-buffered',
    'tokens+25pct',
    'prompt+2000',
  ]);
  for (const id of ['tail+300ms', 'ttft-buffered', 'tokens+25pct', 'prompt+2000']) {
    expect(row(id).goal).toMatchObject({ kind: 'detection', rate: 0.95 });
  }
  expect(row('identical').goal).toMatchObject({ kind: 'false-failures', rate: 0.01 });
  expect(row('hit+40ms').goal).toMatchObject({ kind: 'detection', rate: 0.95 });
  expect(row('llm-x2').goal).toMatchObject({ kind: 'detection', rate: 0.95 });
  for (const r of CALIBRATION_ROWS) expect(r.goal.note.length).toBeGreaterThan(0);
});

test('an LLM error rate that makes N points of requests fail after the service retries 3 times', () => {
  const r = llmErrorRateForPoints(5, 0.5);
  expect(r ** 3 * 0.5).toBeCloseTo(0.05, 12);
  expect(llmErrorRateForPoints(100, 0.5)).toBe(1);
});

test('goals: false failures at most, detection at least, gate errors never count as judged', () => {
  expect(goalMet(result('identical', 50, 0))).toBe(true);
  expect(goalMet(result('identical', 50, 1))).toBe(false); // 2% > 1%
  expect(goalMet(result('hit+40ms', 20, 19))).toBe(true);
  expect(goalMet(result('hit+40ms', 20, 18))).toBe(false);
  expect(goalMet(result('hit+40ms', 20, 0, 20))).toBe(false); // nothing judged
  expect(goalMet(result('errors+2pt', 20, 3))).toBeNull();
});

test('the table names rows, runs, failures, rate, goal, and the median time to verdict', () => {
  const table = renderCalibrationTable([result('identical', 50, 0), result('hit+40ms', 20, 20)]);
  expect(table).toContain('| identical candidate | x | 50 | 0 | 0 | 0% | ≤ 1% fail | yes | – | 12.0 s |');
  expect(table).toContain(
    '| cache-hit path +40 ms | x | 20 | 20 | 0 | 100% | ≥ 95% detected | yes | hit_latency 20 | 12.0 s |',
  );
});

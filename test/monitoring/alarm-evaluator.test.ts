/**
 * The proof's CloudWatch evaluator on hand-made series whose outcome the CloudWatch documentation
 * states: the two missing-data tables of "How alarm state is evaluated when data is missing"
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarms-evaluating-missing-data),
 * the M-of-N example of "Evaluating an alarm", metric identity, and the metric math of
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html .
 */
import {
  type AlarmDefinition,
  type AlarmState,
  evaluateComposite,
  evaluateRange,
  type MetricQuery,
  MetricStore,
  runAlarm,
  type TreatMissing,
} from '../../lib/monitoring/prove/evaluator';
import { evaluateNode, parseExpression } from '../../lib/monitoring/prove/metric-math';

/** "0 - X - X": 0 not breaching, X breaching, - missing; oldest first, as in the documentation. */
const range = (text: string) =>
  text.split(/\s+/).map((c) => (c === '-' ? undefined : c === 'X' ? 10 : c === '0' ? 0 : Number.NaN));

const TREATMENTS: TreatMissing[] = ['missing', 'ignore', 'breaching', 'notBreaching'];
const RETAIN = 'retain';

function check(m: number, n: number, rows: [string, ...(AlarmState | typeof RETAIN)[]][]) {
  for (const [points, ...expected] of rows) {
    TREATMENTS.forEach((treat, i) => {
      const alarm = {
        comparison: 'GreaterThanThreshold',
        threshold: 5,
        evaluationPeriods: n,
        datapointsToAlarm: m,
        treatMissingData: treat,
      };
      for (const current of ['OK', 'ALARM'] as const) {
        const want = expected[i] === RETAIN ? current : expected[i];
        expect({ points, treat, current, state: evaluateRange(range(points), alarm, current) }).toEqual({
          points,
          treat,
          current,
          state: want,
        });
      }
    });
  }
}

describe('missing data, as the documentation tables state', () => {
  test('Datapoints to Alarm and Evaluation Periods both 3 (5 datapoints retrieved)', () => {
    check(3, 3, [
      ['0 - X - X', 'OK', 'OK', 'OK', 'OK'],
      ['0 - - - -', 'OK', 'OK', 'OK', 'OK'],
      ['- - - - -', 'INSUFFICIENT_DATA', RETAIN, 'ALARM', 'OK'],
      ['0 X X - X', 'ALARM', 'ALARM', 'ALARM', 'ALARM'],
      ['- - - - X', 'INSUFFICIENT_DATA', RETAIN, 'ALARM', 'OK'],
      ['X - - - -', 'ALARM', RETAIN, 'ALARM', 'OK'],
    ]);
  });

  test('2 out of 3 (M out of N)', () => {
    check(2, 3, [
      ['0 - X - X', 'ALARM', 'ALARM', 'ALARM', 'ALARM'],
      ['0 0 X 0 X', 'ALARM', 'ALARM', 'ALARM', 'ALARM'],
      ['0 - X - -', 'OK', 'OK', 'ALARM', 'OK'],
      ['- - - - 0', 'OK', 'OK', 'ALARM', 'OK'],
      ['- - - - X', 'INSUFFICIENT_DATA', RETAIN, 'ALARM', 'OK'],
    ]);
  });
});

const alarmOf = (over: Partial<AlarmDefinition>): AlarmDefinition => ({
  name: 'a',
  comparison: 'GreaterThanThreshold',
  threshold: 5,
  evaluationPeriods: 3,
  datapointsToAlarm: 3,
  treatMissingData: 'missing',
  periodSeconds: 60,
  queries: [
    {
      id: 'm1',
      returnData: true,
      metric: { namespace: 'N', name: 'Errors', dimensions: { Service: 's' }, stat: 'Sum', periodSeconds: 60 },
    },
  ],
  ...over,
});

const points = (values: (number | undefined)[], dimensions: Record<string, string> = { Service: 's' }) =>
  values.flatMap((v, i) =>
    v === undefined ? [] : [{ namespace: 'N', name: 'Errors', dimensions, timestampMs: i * 60_000 + 1, values: [v] }],
  );

test('"Evaluating an alarm": 3 of 3 goes to ALARM on the third consecutive breach and back to OK on the next good period', () => {
  const run = runAlarm(alarmOf({}), new MetricStore(points([1, 1, 9, 9, 9, 1, 1, 1, 9, 1])), {
    startMs: 0,
    slots: 10,
  });
  expect(run.states).toEqual(['OK', 'OK', 'OK', 'OK', 'ALARM', 'OK', 'OK', 'OK', 'OK', 'OK']);
});

test('the statistic sums every value of the period, and another dimension set is another metric', () => {
  const store = new MetricStore([
    ...points([3, 3]).map((p) => ({ ...p, timestampMs: 10 })),
    ...points([100], { Service: 's', Extra: 'x' }),
    ...points([100], { Service: 'other' }),
  ]);
  const run = runAlarm(alarmOf({ evaluationPeriods: 1, datapointsToAlarm: 1 }), store, { startMs: 0, slots: 1 });
  expect(run.series).toEqual([6]);
  expect(run.states).toEqual(['ALARM']);
});

test('a unit named by the alarm selects only datapoints published with it', () => {
  const alarm = alarmOf({ evaluationPeriods: 1, datapointsToAlarm: 1 });
  const withUnit: AlarmDefinition = {
    ...alarm,
    queries: [
      {
        ...alarm.queries[0],
        metric: { ...(alarm.queries[0].metric as NonNullable<MetricQuery['metric']>), unit: 'Milliseconds' },
      },
    ],
  };
  const store = new MetricStore(points([9]).map((p) => ({ ...p, unit: 'Count' })));
  expect(runAlarm(withUnit, store, { startMs: 0, slots: 1 }).series).toEqual([undefined]);
  expect(runAlarm(alarm, store, { startMs: 0, slots: 1 }).series).toEqual([9]);
});

describe('metric math', () => {
  const series = (s: (number | undefined)[]) => ({ series: s });
  const ev = (text: string, refs: Record<string, (number | undefined)[]>) =>
    evaluateNode(parseExpression(text), 3, (id) => series(refs[id]));

  test('arithmetic on two time series has a value only where both have one; FILL fills the gaps', () => {
    expect(ev('a + b', { a: [1, undefined, 3], b: [1, 2, undefined] })).toEqual(series([2, undefined, undefined]));
    expect(ev('FILL(a, 0) + FILL(b, 0)', { a: [1, undefined, 3], b: [1, 2, undefined] })).toEqual(series([2, 2, 3]));
  });

  test('IF without a false value drops the datapoint where the condition is false', () => {
    expect(ev('IF(n >= 10, 100 * e / n)', { n: [20, 5, undefined], e: [2, 5, 1] })).toEqual(
      series([10, undefined, undefined]),
    );
    expect(ev('IF(n >= 10, 1, 0)', { n: [20, 5, 10] })).toEqual(series([1, 0, 1]));
  });

  test('MAX of an array is a time series, MAX of one time series a scalar; precedence is arithmetic', () => {
    expect(ev('MAX([a, b])', { a: [1, undefined, 3], b: [2, 1, undefined] })).toEqual(series([2, 1, 3]));
    expect(ev('MAX(a)', { a: [1, 7, 3] })).toBe(7);
    expect(ev('1000 * MAX([a, b]) - 1', { a: [1, 1, 1], b: [2, 0, 0] })).toEqual(series([1999, 999, 999]));
    expect(ev('(FILL(a, 0) + FILL(b, 0)) / 5', { a: [10, undefined, 5], b: [undefined, undefined, 5] })).toEqual(
      series([2, 0, 2]),
    );
  });
});

test('composite rule: ALARM when its boolean rule over the members holds', () => {
  const rule = '(ALARM("a") OR ALARM("b")) AND NOT OK("c")';
  const states: Record<string, AlarmState> = { a: 'OK', b: 'ALARM', c: 'INSUFFICIENT_DATA' };
  expect(evaluateComposite(rule, (n) => states[n])).toBe('ALARM');
  states.c = 'OK';
  expect(evaluateComposite(rule, (n) => states[n])).toBe('OK');
  expect(evaluateComposite('ALARM(a) OR TRUE', () => 'OK')).toBe('ALARM');
});

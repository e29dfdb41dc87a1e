/**
 * A CloudWatch alarm evaluator for the alarms exactly as synthesized (CloudFormation
 * `AWS::CloudWatch::Alarm` and `AWS::CloudWatch::CompositeAlarm` properties), over datapoints
 * given to it. It follows the CloudWatch user guide, "Using Amazon CloudWatch alarms"
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html):
 *
 * - **Metric identity** (section "Metrics"/"Dimensions" of the concepts, and the alarm's MetricStat):
 *   a datapoint belongs to a metric only if namespace, metric name and the *exact* set of dimension
 *   names and values match; an EMF line published with another dimension set is another metric.
 *   When the alarm names a Unit, only datapoints published with that unit count.
 * - **Statistic per period**: Sum, Maximum, Minimum, Average, SampleCount and pNN over every value
 *   whose timestamp falls in the period (periods aligned to multiples of the period).
 * - **Evaluation** ("Evaluating an alarm"): the alarm looks at the last `EvaluationPeriods` (N)
 *   datapoints; ALARM when at least `DatapointsToAlarm` (M) of them breach, else OK.
 * - **Missing data** ("How alarm state is evaluated when data is missing"): CloudWatch retrieves an
 *   evaluation range larger than N (5 datapoints for N = 3 in the documentation's tables; here
 *   N + 2). If at least N real datapoints are in the range, the most recent N real ones are
 *   evaluated and the treatment is not used. Otherwise the real ones are all included and the
 *   missing ones filled with the treatment, as few as possible (breaching / notBreaching); with
 *   `missing` no real datapoint is INSUFFICIENT_DATA and `ignore` keeps the state. The documented
 *   table also has the alarm go to ALARM under `missing` when only breaching real datapoints remain
 *   and the oldest datapoint of the range is one of them (its sixth row), INSUFFICIENT_DATA when
 *   that lone breaching datapoint is the newest (its fifth row); `ignore` keeps the state in both.
 * - **Composite alarms** ("Create a composite alarm"): the rule is a boolean expression of
 *   ALARM(name), OK(name), INSUFFICIENT_DATA(name), TRUE and FALSE with AND, OR, NOT and brackets.
 */
import { evaluateNode, type MathValue, type Node, type Series } from './metric-math';

export type AlarmState = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';
export type TreatMissing = 'breaching' | 'notBreaching' | 'ignore' | 'missing';

export interface MetricIdentity {
  readonly namespace: string;
  readonly name: string;
  /** Dimension name -> value; intrinsic values are kept as their JSON text. */
  readonly dimensions: Readonly<Record<string, string>>;
}

export interface MetricQuery {
  readonly id: string;
  readonly returnData: boolean;
  readonly metric?: MetricIdentity & { readonly stat: string; readonly periodSeconds: number; readonly unit?: string };
  readonly expression?: Node;
  readonly expressionText?: string;
}

export interface AlarmDefinition {
  readonly name: string;
  readonly comparison: string;
  readonly threshold: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  readonly treatMissingData: TreatMissing;
  readonly periodSeconds: number;
  readonly queries: readonly MetricQuery[];
}

export interface CompositeDefinition {
  readonly name: string;
  readonly rule: string;
}

/** One published value (an EMF value, or one synthetic sample). */
export interface Datapoint extends MetricIdentity {
  readonly timestampMs: number;
  readonly values: readonly number[];
  readonly unit?: string;
}

/** A dimension value as text: literals as they are, CloudFormation intrinsics as their JSON. */
export function dimensionValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function sameDimensions(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

export function sameMetric(a: MetricIdentity, b: MetricIdentity): boolean {
  return a.namespace === b.namespace && a.name === b.name && sameDimensions(a.dimensions, b.dimensions);
}

function percentile(sorted: number[], p: number): number {
  // Nearest-rank percentile of the period's values.
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1];
}

export function statistic(stat: string, values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  switch (stat) {
    case 'Sum':
      return values.reduce((a, b) => a + b, 0);
    case 'Maximum':
      return Math.max(...values);
    case 'Minimum':
      return Math.min(...values);
    case 'Average':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'SampleCount':
      return values.length;
    default: {
      const m = /^p(\d+(\.\d+)?)$/.exec(stat);
      if (!m) throw new Error(`statistic '${stat}' is not supported by the proof's evaluator`);
      return percentile(
        [...values].sort((x, y) => x - y),
        Number(m[1]),
      );
    }
  }
}

/** Datapoints indexed by metric identity, so each query scans only its own metric. */
export class MetricStore {
  private readonly byName = new Map<string, Datapoint[]>();

  constructor(points: Iterable<Datapoint> = []) {
    for (const p of points) this.add(p);
  }

  add(p: Datapoint): void {
    const key = `${p.namespace}\u0000${p.name}`;
    const list = this.byName.get(key);
    if (list) list.push(p);
    else this.byName.set(key, [p]);
  }

  /** The statistic of each period slot `[start + i * period, start + (i + 1) * period)`. */
  query(q: NonNullable<MetricQuery['metric']>, startMs: number, slots: number): Series {
    const periodMs = q.periodSeconds * 1000;
    const buckets: number[][] = Array.from({ length: slots }, () => []);
    for (const p of this.byName.get(`${q.namespace}\u0000${q.name}`) ?? []) {
      if (!sameDimensions(p.dimensions, q.dimensions)) continue;
      if (q.unit !== undefined && p.unit !== q.unit) continue;
      const slot = Math.floor((p.timestampMs - startMs) / periodMs);
      if (slot >= 0 && slot < slots) buckets[slot].push(...p.values);
    }
    return buckets.map((b) => statistic(q.stat, b));
  }

  /** The earliest and latest timestamp stored. */
  span(): { first: number; last: number } | undefined {
    let first = Number.POSITIVE_INFINITY;
    let last = Number.NEGATIVE_INFINITY;
    for (const list of this.byName.values())
      for (const p of list) {
        first = Math.min(first, p.timestampMs);
        last = Math.max(last, p.timestampMs);
      }
    return first === Number.POSITIVE_INFINITY ? undefined : { first, last };
  }
}

/** The alarm's returned time series over `slots` periods starting at `startMs`. */
export function alarmSeries(alarm: AlarmDefinition, store: MetricStore, startMs: number, slots: number): Series {
  const byId = new Map(alarm.queries.map((q) => [q.id, q]));
  const memo = new Map<string, MathValue>();
  const resolve = (id: string): MathValue => {
    const cached = memo.get(id);
    if (cached !== undefined) return cached;
    const q = byId.get(id);
    if (!q) throw new Error(`${alarm.name}: the expression refers to '${id}', which the alarm does not define`);
    let value: MathValue;
    if (q.metric) value = { series: store.query(q.metric, startMs, slots) };
    else if (q.expression) value = evaluateNode(q.expression, slots, resolve);
    else throw new Error(`${alarm.name}: query '${id}' has neither a metric nor an expression`);
    memo.set(id, value);
    return value;
  };
  const returned = alarm.queries.filter((q) => q.returnData);
  if (returned.length !== 1) throw new Error(`${alarm.name}: an alarm returns exactly one time series`);
  const v = resolve(returned[0].id);
  if (typeof v === 'number') return Array.from({ length: slots }, () => v);
  if ('array' in v) throw new Error(`${alarm.name}: the returned expression is an array of time series`);
  return v.series;
}

export function breaches(comparison: string, value: number, threshold: number): boolean {
  switch (comparison) {
    case 'GreaterThanThreshold':
      return value > threshold;
    case 'GreaterThanOrEqualToThreshold':
      return value >= threshold;
    case 'LessThanThreshold':
      return value < threshold;
    case 'LessThanOrEqualToThreshold':
      return value <= threshold;
    default:
      throw new Error(`comparison '${comparison}' is not supported by the proof's evaluator`);
  }
}

/**
 * One evaluation: `range` holds the datapoints of the evaluation range, oldest first (undefined is
 * missing). Returns the new state (`current` for `ignore` when the documentation retains it).
 */
export function evaluateRange(
  range: Series,
  alarm: Pick<
    AlarmDefinition,
    'comparison' | 'threshold' | 'evaluationPeriods' | 'datapointsToAlarm' | 'treatMissingData'
  >,
  current: AlarmState,
): AlarmState {
  const n = alarm.evaluationPeriods;
  const m = alarm.datapointsToAlarm;
  const real = range.filter((v): v is number => v !== undefined);
  const breach = (v: number) => breaches(alarm.comparison, v, alarm.threshold);
  const verdict = (flags: boolean[]): AlarmState => (flags.filter(Boolean).length >= m ? 'ALARM' : 'OK');
  if (real.length >= n) return verdict(real.slice(-n).map(breach));
  const flags = real.map(breach);
  switch (alarm.treatMissingData) {
    case 'breaching':
      return verdict([...flags, ...Array(n - real.length).fill(true)]);
    case 'notBreaching':
      return verdict([...flags, ...Array(n - real.length).fill(false)]);
    case 'missing':
    case 'ignore': {
      const retain: AlarmState = alarm.treatMissingData === 'ignore' ? current : 'INSUFFICIENT_DATA';
      if (real.length === 0) return retain;
      if (flags.filter(Boolean).length >= m) return 'ALARM';
      if (flags.some((f) => !f)) return 'OK';
      // Only breaching real datapoints, fewer than M (the table's fifth and sixth rows).
      if (alarm.treatMissingData === 'ignore') return current;
      return range[0] !== undefined ? 'ALARM' : 'INSUFFICIENT_DATA';
    }
  }
}

export interface Timeline {
  /** Start of the first period (a multiple of the period). */
  readonly startMs: number;
  readonly slots: number;
}

export interface AlarmRun {
  readonly alarm: AlarmDefinition;
  /** The alarm's datapoint of each period (undefined: missing). */
  readonly series: Series;
  /** The state after each period's evaluation, starting from INSUFFICIENT_DATA (a new alarm). */
  readonly states: readonly AlarmState[];
  /** Periods with a datapoint, and of them the breaching ones. */
  readonly datapoints: number;
  readonly breaching: number;
}

/** Evaluates the alarm at the end of every period of the timeline, as CloudWatch does each period. */
export function runAlarm(
  alarm: AlarmDefinition,
  store: MetricStore,
  timeline: Timeline,
  /**
   * `new`: the alarm is created when the timeline starts (periods before it are missing).
   * `existing`: the metric was reported before, so evaluation starts once a whole evaluation range
   * lies inside the timeline ("CloudWatch retrieves the most recent data points from before the
   * alarm was created").
   */
  history: 'new' | 'existing' = 'new',
): AlarmRun {
  const series = alarmSeries(alarm, store, timeline.startMs, timeline.slots);
  const rangeSize = alarm.evaluationPeriods + 2;
  const states: AlarmState[] = [];
  let state: AlarmState = 'INSUFFICIENT_DATA';
  const firstEnd = history === 'existing' ? Math.min(rangeSize, timeline.slots) : 1;
  for (let end = firstEnd; end <= timeline.slots; end++) {
    const from = Math.max(0, end - rangeSize);
    const range = [...Array(Math.max(0, rangeSize - end)).fill(undefined), ...series.slice(from, end)];
    state = evaluateRange(range, alarm, state);
    states.push(state);
  }
  const real = series.filter((v): v is number => v !== undefined);
  return {
    alarm,
    series,
    states,
    datapoints: real.length,
    breaching: real.filter((v) => breaches(alarm.comparison, v, alarm.threshold)).length,
  };
}

/** The timeline that covers every datapoint of the store, on the alarm's period grid. */
export function timelineFor(store: MetricStore, periodSeconds: number, extraSlots = 0): Timeline {
  const span = store.span();
  const periodMs = periodSeconds * 1000;
  if (!span) return { startMs: 0, slots: 1 + extraSlots };
  const startMs = Math.floor(span.first / periodMs) * periodMs;
  return { startMs, slots: Math.floor((span.last - startMs) / periodMs) + 1 + extraSlots };
}

// --- composite alarms -----------------------------------------------------------------------

type RuleNode =
  | { k: 'state'; state: AlarmState; name: string }
  | { k: 'const'; v: boolean }
  | { k: 'not'; a: RuleNode }
  | { k: 'and' | 'or'; a: RuleNode; b: RuleNode };

export function parseRule(rule: string): RuleNode {
  const tokens =
    rule.match(/ALARM|OK|INSUFFICIENT_DATA|TRUE|FALSE|AND|OR|NOT|\(|\)|"(?:[^"\\]|\\.)*"|[^\s()"]+/g) ?? [];
  let pos = 0;
  const next = () => tokens[pos++];
  const expect = (t: string) => {
    if (next() !== t) throw new Error(`composite rule: expected '${t}' in ${rule}`);
  };
  const primary = (): RuleNode => {
    const t = next();
    if (t === 'NOT') return { k: 'not', a: primary() };
    if (t === 'TRUE' || t === 'FALSE') return { k: 'const', v: t === 'TRUE' };
    if (t === '(') {
      const inner = or();
      expect(')');
      return inner;
    }
    if (t === 'ALARM' || t === 'OK' || t === 'INSUFFICIENT_DATA') {
      expect('(');
      const raw = next() ?? '';
      expect(')');
      return { k: 'state', state: t, name: raw.startsWith('"') ? JSON.parse(raw) : raw };
    }
    throw new Error(`composite rule: unexpected '${t}' in ${rule}`);
  };
  const and = (): RuleNode => {
    let left = primary();
    while (tokens[pos] === 'AND') {
      pos++;
      left = { k: 'and', a: left, b: primary() };
    }
    return left;
  };
  const or = (): RuleNode => {
    let left = and();
    while (tokens[pos] === 'OR') {
      pos++;
      left = { k: 'or', a: left, b: and() };
    }
    return left;
  };
  const node = or();
  if (pos !== tokens.length) throw new Error(`composite rule: trailing input in ${rule}`);
  return node;
}

export function ruleMembers(rule: string): string[] {
  const out: string[] = [];
  const walk = (n: RuleNode) => {
    if (n.k === 'state') out.push(n.name);
    else if (n.k === 'not') walk(n.a);
    else if (n.k === 'and' || n.k === 'or') {
      walk(n.a);
      walk(n.b);
    }
  };
  walk(parseRule(rule));
  return [...new Set(out)];
}

/** The composite's state: ALARM when its rule is true for the members' states, else OK. */
export function evaluateComposite(rule: string, stateOf: (name: string) => AlarmState): AlarmState {
  const ev = (n: RuleNode): boolean => {
    switch (n.k) {
      case 'state':
        return stateOf(n.name) === n.state;
      case 'const':
        return n.v;
      case 'not':
        return !ev(n.a);
      case 'and':
        return ev(n.a) && ev(n.b);
      case 'or':
        return ev(n.a) || ev(n.b);
    }
  };
  return ev(parseRule(rule)) ? 'ALARM' : 'OK';
}

export type { MathValue, Series };

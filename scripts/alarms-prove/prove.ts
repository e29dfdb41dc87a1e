/**
 * The proof: every alarm of an assembly, evaluated (lib/monitoring/prove/evaluator.ts) over the
 * telemetry of the failure it exists for and over a healthy run.
 *
 * - App alarms (namespace ChatApi): the EMF documents the real service printed under its fault
 *   (capture.ts), replayed on the stretched clock, and again on the slot clock as a cross-check.
 * - Alarms on metrics AWS publishes, and the gate's: SYNTHETIC series (lib/monitoring/prove/synthetic.ts).
 * - The composite: ALARM for each of its members alone in ALARM, OK for each other alarm alone.
 *
 * Under its fault an alarm must reach ALARM; healthy it must never be in ALARM and end OK, or
 * INSUFFICIENT_DATA where its missing-data treatment is `missing` (documented in the catalogue).
 */
import { type StageConfig, serviceDimension } from '../../lib/config';
import { SERVICE_METRICS } from '../../lib/contract';
import { alarmInstances, SERVICE_DEGRADED } from '../../lib/monitoring/alarm-catalogue';
import { ALARM_IDS, type AlarmId, alarmName } from '../../lib/monitoring/alarm-names';
import {
  type AlarmDefinition,
  type AlarmRun,
  type AlarmState,
  type CompositeDefinition,
  evaluateComposite,
  MetricStore,
  ruleMembers,
  runAlarm,
  timelineFor,
} from '../../lib/monitoring/prove/evaluator';
import { type Clock, type EmfDoc, replay, stretchFactor } from '../../lib/monitoring/prove/replay';
import { SYNTHETIC, syntheticSeries } from '../../lib/monitoring/prove/synthetic';
import type { Capture, FaultId } from './capture';

/** The fault each application alarm exists for. */
export const APP_ALARM_FAULTS: Partial<Record<AlarmId, FaultId>> = {
  [ALARM_IDS.cacheUnavailable]: 'cacheUnavailable',
  [ALARM_IDS.cacheHitRate]: 'cacheHitRate',
  [ALARM_IDS.llmThrottled]: 'llmThrottled',
  [ALARM_IDS.llmErrorRate]: 'llmErrorRate',
  [ALARM_IDS.dbErrors]: 'dbErrors',
  [ALARM_IDS.authFailures]: 'authFailures',
  [ALARM_IDS.llmTokensOverBudget]: 'tokensOverBudget',
  [ALARM_IDS.quotaRejections]: 'quotaRejections',
};

export interface ProofRow {
  readonly alarm: string;
  readonly source: 'service EMF' | 'SYNTHETIC' | 'composite';
  readonly run: 'fault' | 'healthy';
  readonly fault: string;
  /** "12 (9 breaching) of 14 periods" */
  readonly datapoints: string;
  readonly state: string;
  readonly expected: string;
  readonly ok: boolean;
  readonly why?: string;
}

export interface ProofResult {
  readonly stage: string;
  readonly rows: ProofRow[];
  /** Alarm names that failed, each once. */
  readonly failed: string[];
  readonly compression: string;
}

const N = SERVICE_METRICS.names;

/**
 * The request quota's window is 60 s of *real* time, which compression does not shorten, so in the
 * compressed run a principal keeps being rejected through what the stretched clock calls later
 * minutes. Scaled to the real period: each stretched minute's rejections are cut to what a fresh
 * window would reject, requests minus the quota (never more than the service counted).
 */
function quotaToRealMinutes(doc: EmfDoc, quota: number): EmfDoc {
  const rejected = Number(doc[N.quotaRequestsRejected] ?? 0);
  if (rejected === 0) return doc;
  const requests = Number(doc[N.requests] ?? 0);
  return { ...doc, [N.quotaRequestsRejected]: Math.max(0, Math.min(rejected, requests - quota)) };
}

/**
 * While Postgres is down the service answers requests without touching it, and DbErrors counts the
 * dependency monitor's failed probes, one per second of the service's *own* clock, which
 * compression does not speed up: a stretched minute holds flushMs / 1 s probes instead of 60.
 * Scaled to the real period: from the first error on, each document gets the run's measured probe
 * rate (errors per document) times the stretch factor. Only when the run's errors are no more than
 * that cadence allows (so none came from requests, which must never be inflated).
 */
export const DB_PROBE_DOWN_INTERVAL_MS = 1_000;
function probeErrorsToRealMinutes(docs: readonly EmfDoc[], flushMs: number): readonly EmfDoc[] {
  const first = docs.findIndex((d) => Number(d[N.dbErrors] ?? 0) > 0);
  if (first === -1) return docs;
  const counters = docs.slice(first).filter((d) => d[N.requests] !== undefined);
  const total = counters.reduce((sum, d) => sum + Number(d[N.dbErrors] ?? 0), 0);
  const cadence = flushMs / DB_PROBE_DOWN_INTERVAL_MS;
  if (total > counters.length * cadence + 1) return docs;
  const perMinute = Math.round((total / counters.length) * (60_000 / flushMs));
  return docs.map((d, i) => (i >= first && d[N.requests] !== undefined ? { ...d, [N.dbErrors]: perMinute } : d));
}

function storeFor(capture: Capture, clock: Clock): MetricStore {
  const documents =
    capture.fault === 'quotaRejections'
      ? capture.documents.map((d) => quotaToRealMinutes(d, capture.quotaRequestsPerMinute))
      : capture.fault === 'dbErrors'
        ? probeErrorsToRealMinutes(capture.documents, capture.flushMs)
        : capture.documents;
  return new MetricStore(replay({ ...capture, documents }, clock));
}

function reached(run: AlarmRun): AlarmState {
  return run.states.includes('ALARM') ? 'ALARM' : (run.states.at(-1) ?? 'INSUFFICIENT_DATA');
}

function describe(run: AlarmRun): string {
  return `${run.datapoints} (${run.breaching} breaching) of ${run.series.length} periods`;
}

function judge(alarm: AlarmDefinition, which: 'fault' | 'healthy', run: AlarmRun): { ok: boolean; expected: string } {
  if (which === 'fault') return { ok: run.states.includes('ALARM'), expected: 'ALARM' };
  const insufficientOk = alarm.treatMissingData === 'missing';
  const final = run.states.at(-1);
  return {
    ok: !run.states.includes('ALARM') && (final === 'OK' || (insufficientOk && final === 'INSUFFICIENT_DATA')),
    expected: insufficientOk ? 'OK or INSUFFICIENT_DATA (missing data: missing)' : 'OK',
  };
}

export interface ProveInput {
  readonly config: StageConfig;
  readonly alarms: readonly AlarmDefinition[];
  readonly composites: readonly CompositeDefinition[];
  readonly captures: readonly Capture[];
}

export function proveAlarms(input: ProveInput): ProofResult {
  const { config, alarms, composites, captures } = input;
  const rows: ProofRow[] = [];
  const failed = new Set<string>();
  const push = (row: ProofRow) => {
    rows.push(row);
    if (!row.ok) failed.add(row.alarm);
  };
  const instances = alarmInstances(config);
  const idOf = new Map(instances.map((i) => [i.name, i.id]));
  const byName = new Map(alarms.map((a) => [a.name, a]));
  const capture = (f: FaultId) => captures.find((c) => c.fault === f);
  const healthy = capture('healthy');

  for (const instance of instances) {
    if (instance.id === SERVICE_DEGRADED.id) continue;
    if (!byName.has(instance.name))
      push({
        alarm: instance.name,
        source: 'SYNTHETIC',
        run: 'fault',
        fault: '—',
        datapoints: '—',
        state: 'absent',
        expected: 'ALARM',
        ok: false,
        why: 'the catalogue lists this alarm but the assembly has no such alarm',
      });
  }

  for (const alarm of alarms) {
    const id = idOf.get(alarm.name);
    const faultId = id ? APP_ALARM_FAULTS[id] : undefined;
    const spec = id ? SYNTHETIC[id] : undefined;
    if (faultId) {
      for (const which of ['fault', 'healthy'] as const) {
        const c = which === 'fault' ? capture(faultId) : healthy;
        if (!c) {
          push({
            alarm: alarm.name,
            source: 'service EMF',
            run: which,
            fault: which === 'fault' ? faultId : 'healthy',
            datapoints: '—',
            state: 'not run',
            expected: which === 'fault' ? 'ALARM' : 'OK',
            ok: false,
            why: 'no capture of this run',
          });
          continue;
        }
        const verdicts = (['stretched', 'slots'] as const).map((clock) => {
          const store = storeFor(c, clock);
          const run = runAlarm(alarm, store, timelineFor(store, alarm.periodSeconds, alarm.evaluationPeriods + 2));
          return { run, ...judge(alarm, which, run) };
        });
        const [stretched, slots] = verdicts;
        const agree = stretched.ok === slots.ok;
        push({
          alarm: alarm.name,
          source: 'service EMF',
          run: which,
          fault: c.description,
          datapoints: describe(stretched.run),
          state: reached(stretched.run),
          expected: stretched.expected,
          ok: stretched.ok && agree,
          ...(agree ? {} : { why: `the slot clock reaches ${reached(slots.run)}: the verdict depends on the clock` }),
        });
      }
    } else if (spec) {
      for (const which of ['fault', 'healthy'] as const) {
        const { points, slots } = syntheticSeries(alarm, spec, which, config);
        const run = runAlarm(alarm, new MetricStore(points), { startMs: 0, slots }, 'existing');
        const verdict = judge(alarm, which, run);
        push({
          alarm: alarm.name,
          source: 'SYNTHETIC',
          run: which,
          fault: `SYNTHETIC: ${which === 'fault' ? spec.fault : spec.healthy}`,
          datapoints: describe(run),
          state: reached(run),
          ...verdict,
        });
      }
    } else {
      push({
        alarm: alarm.name,
        source: 'SYNTHETIC',
        run: 'fault',
        fault: '—',
        datapoints: '—',
        state: 'unproven',
        expected: 'ALARM',
        ok: false,
        why: 'no fault capture and no synthetic series for this alarm',
      });
    }
  }

  const pageMembers = new Set(
    instances.filter((i) => (SERVICE_DEGRADED.members as readonly string[]).includes(i.id)).map((i) => i.name),
  );
  for (const composite of composites) {
    const inRule = new Set(ruleMembers(composite.rule));
    const wrong: string[] = [];
    for (const alarm of alarms) {
      const state = evaluateComposite(composite.rule, (n) => (n === alarm.name ? 'ALARM' : 'OK'));
      const want: AlarmState = pageMembers.has(alarm.name) ? 'ALARM' : 'OK';
      if (state !== want) wrong.push(`${alarm.name} alone in ALARM -> ${state}, want ${want}`);
    }
    for (const m of pageMembers) if (!byName.has(m)) wrong.push(`member ${m} is not in the assembly`);
    for (const m of inRule) if (!byName.has(m)) wrong.push(`the rule names ${m}, which is not in the assembly`);
    const allOk = evaluateComposite(composite.rule, () => 'OK');
    if (allOk !== 'OK') wrong.push(`every alarm OK -> ${allOk}`);
    const isPage = composite.name === alarmName(config, SERVICE_DEGRADED.id);
    push({
      alarm: composite.name,
      source: 'composite',
      run: 'fault',
      fault: `each of its ${pageMembers.size} members alone in ALARM; each of the ${alarms.length - pageMembers.size} other alarms alone in ALARM`,
      datapoints: `${alarms.length} single-alarm cases`,
      state: wrong.length === 0 ? 'ALARM on each member, OK on every other' : 'wrong',
      expected: 'ALARM on each member, OK on every other',
      ok: isPage && wrong.length === 0,
      ...(wrong.length ? { why: wrong.join('; ') } : isPage ? {} : { why: 'a composite the catalogue does not know' }),
    });
  }
  if (!composites.some((c) => c.name === alarmName(config, SERVICE_DEGRADED.id)))
    push({
      alarm: alarmName(config, SERVICE_DEGRADED.id),
      source: 'composite',
      run: 'fault',
      fault: '—',
      datapoints: '—',
      state: 'absent',
      expected: 'ALARM on each member',
      ok: false,
      why: 'the assembly has no composite page',
    });

  const flushMs = captures[0]?.flushMs;
  return {
    stage: config.stage,
    rows,
    failed: [...failed],
    compression: flushMs
      ? `the service's 60 s EMF flush ran every ${flushMs} ms; replayed on a clock stretched ${stretchFactor(flushMs)}x (one document per minute), cross-checked on the slot clock; Service dimension ${serviceDimension(config)}`
      : 'no capture',
  };
}

const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

/** The table: alarm, source, run, fault, datapoints evaluated, state reached, verdict. */
export function renderProofTable(result: ProofResult): string {
  const lines = [
    '| Alarm | Telemetry | Run | Fault | Datapoints evaluated | State reached | Verdict |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of result.rows)
    lines.push(
      `| ${[
        `\`${r.alarm}\``,
        r.source,
        r.run,
        r.fault,
        r.datapoints,
        r.state,
        r.ok ? 'proven' : `FAILED (want ${r.expected}${r.why ? `; ${r.why}` : ''})`,
      ]
        .map(cell)
        .join(' | ')} |`,
    );
  return lines.join('\n');
}

/**
 * `npm run alarms:prove` in `npm test`: every stage's synthesized alarms, evaluated over one capture
 * of the real service under each app alarm's fault and once healthy (the thresholds are the same
 * in every stage and this machine reaches them; the stages differ in period and M of N, which the
 * capture is long enough for), and the proof failing, naming the alarm, when an app alarm is
 * changed so its fault cannot reach it.
 */
import { STAGES, type StageName, serviceDimension } from '../../lib/config';
import { type NamedTemplate, readAlarms } from '../../lib/monitoring/prove/template';
import { readTemplates, synthesizeStage } from '../../scripts/alarms-prove/assembly';
import { type Capture, captureFaults } from '../../scripts/alarms-prove/capture';
import { readSavedProof, stableRows } from '../../scripts/alarms-prove/doc';
import { proveAlarms, renderProofTable } from '../../scripts/alarms-prove/prove';

jest.setTimeout(300_000);

const STAGE_LIST: StageName[] = ['dev', 'staging', 'prod'];
const templates = new Map<StageName, NamedTemplate[]>();
let captures: Capture[] = [];

beforeAll(async () => {
  for (const stage of STAGE_LIST) templates.set(stage, readTemplates(synthesizeStage(stage)));
  // The Service dimension is the same shape in every stage (<app>-<stage>-api); capture as dev and
  // re-label per stage below, exactly as the task definition of each stage would name it.
  captures = await captureFaults({ serviceName: serviceDimension(STAGES.dev) });
});

/** The captures as the service of `stage` would have published them. */
function capturesFor(stage: StageName): Capture[] {
  const from = serviceDimension(STAGES.dev);
  const to = serviceDimension(STAGES[stage]);
  return captures.map((c) => ({
    ...c,
    documents: c.documents.map((d) => (d.Service === from ? { ...d, Service: to } : d)),
  }));
}

function prove(stage: StageName, mutate?: (alarm: Record<string, unknown>) => void, alarmName?: string) {
  let stageTemplates = templates.get(stage) as NamedTemplate[];
  if (mutate) {
    stageTemplates = structuredClone(stageTemplates);
    const target = stageTemplates
      .flatMap((t) => Object.values(t.template.Resources ?? {}))
      .find((r) => r.Type === 'AWS::CloudWatch::Alarm' && r.Properties?.AlarmName === alarmName);
    if (!target?.Properties) throw new Error(`no alarm ${alarmName}`);
    mutate(target.Properties);
  }
  const { alarms, composites } = readAlarms(stageTemplates);
  return proveAlarms({ config: STAGES[stage], alarms, composites, captures: capturesFor(stage) });
}

test.each(STAGE_LIST)('every alarm of %s reaches ALARM under its fault and stays quiet on a healthy run', (stage) => {
  const result = prove(stage);
  const failures = result.rows.filter((r) => !r.ok).map((r) => `${r.alarm} (${r.run}): ${r.state} ${r.why ?? ''}`);
  expect(failures).toEqual([]);
  // Every alarm of the stage is in the table, with a fault run (and a healthy run but the composite).
  const metricAlarms = readAlarms(templates.get(stage) as NamedTemplate[]).alarms;
  for (const a of metricAlarms) {
    expect(result.rows.filter((r) => r.alarm === a.name).map((r) => r.run)).toEqual(['fault', 'healthy']);
  }
  if (stage === 'dev') {
    // docs/monitoring.md shows the saved run (npm run alarms:prove -- --save; npm run docs renders it).
    const saved = readSavedProof();
    expect(saved.stage).toBe('dev');
    expect(stableRows(renderProofTable(saved))).toEqual(stableRows(renderProofTable(result)));
  }
});

type Metrics = { Id: string; MetricStat?: { Metric: Record<string, unknown>; Stat: string } }[];
const metricsOf = (p: Record<string, unknown>) => p.Metrics as Metrics;

describe('the proof fails, naming the alarm, when an app alarm cannot be reached by its fault', () => {
  const cases: [string, StageName, string, (p: Record<string, unknown>) => void][] = [
    [
      'metric name',
      'prod',
      'chat-prod-app-cache-unavailable',
      (p) => {
        metricsOf(p)[0].MetricStat!.Metric.MetricName = 'CacheUnavailible';
      },
    ],
    [
      'a dimension (another dimension set is another metric)',
      'prod',
      'chat-prod-app-db-errors',
      (p) => {
        const metric = metricsOf(p)[0].MetricStat!.Metric;
        metric.Dimensions = [...(metric.Dimensions as unknown[]), { Name: 'Environment', Value: 'prod' }];
      },
    ],
    [
      'a dimension value',
      'staging',
      'chat-staging-app-auth-failures',
      (p) => {
        metricsOf(p)[0].MetricStat!.Metric.Dimensions = [{ Name: 'Service', Value: 'chat-staging' }];
      },
    ],
    [
      'statistic (Average instead of Sum)',
      'dev',
      'chat-dev-app-llm-tokens-over-budget',
      (p) => {
        for (const m of metricsOf(p)) if (m.MetricStat) m.MetricStat.Stat = 'Average';
      },
    ],
    [
      'statistic (SampleCount instead of Sum)',
      'prod',
      'chat-prod-app-quota-rejections',
      (p) => {
        for (const m of metricsOf(p)) if (m.MetricStat) m.MetricStat.Stat = 'SampleCount';
      },
    ],
    [
      'threshold',
      'prod',
      'chat-prod-app-llm-error-rate',
      (p) => {
        p.Threshold = 100;
      },
    ],
    [
      'threshold (a minimum-traffic guard too high for the traffic)',
      'dev',
      'chat-dev-app-cache-hit-rate',
      (p) => {
        const expr = metricsOf(p).find((m) => m.Id === 'expr_1') as unknown as { Expression: string };
        expr.Expression = expr.Expression.replace('lookups >= 50', 'lookups >= 50000');
      },
    ],
  ];
  test.each(cases)('%s: %s %s', (_what, stage, alarm, mutate) => {
    const result = prove(stage, mutate, alarm);
    expect(result.failed).toEqual([alarm]);
    expect(result.rows.find((r) => r.alarm === alarm && r.run === 'fault')?.state).not.toBe('ALARM');
  });
});

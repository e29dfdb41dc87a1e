/**
 * Reads the alarms and composite alarms out of synthesized CloudFormation templates, as
 * CloudFormation would create them (AWS::CloudWatch::Alarm, AWS::CloudWatch::CompositeAlarm).
 * The composite's rule refers to its members by ARN (`Fn::GetAtt [alarm, Arn]`, or a cross-stack
 * `Fn::GetStackOutput` of such a GetAtt); each is resolved back to the member's AlarmName.
 */
import {
  type AlarmDefinition,
  type CompositeDefinition,
  dimensionValue,
  type MetricQuery,
  type TreatMissing,
} from './evaluator';
import { parseExpression } from './metric-math';

interface Resource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}
export interface CfnTemplate {
  readonly Resources?: Record<string, Resource>;
  readonly Outputs?: Record<string, { Value?: unknown }>;
}
export interface NamedTemplate {
  /** The stack name (`chat-dev-monitoring`), what `Fn::GetStackOutput` refers to. */
  readonly stackName: string;
  readonly template: CfnTemplate;
}

type Props = Record<string, unknown>;

function metricQuery(raw: Props): MetricQuery {
  const id = String(raw.Id);
  const returnData = raw.ReturnData !== false;
  if (typeof raw.Expression === 'string')
    return { id, returnData, expression: parseExpression(raw.Expression), expressionText: raw.Expression };
  const stat = raw.MetricStat as Props;
  const metric = stat.Metric as Props;
  const dims = (metric.Dimensions as { Name: string; Value: unknown }[] | undefined) ?? [];
  return {
    id,
    returnData,
    metric: {
      namespace: String(metric.Namespace),
      name: String(metric.MetricName),
      dimensions: Object.fromEntries(dims.map((d) => [d.Name, dimensionValue(d.Value)])),
      stat: String(stat.Stat),
      periodSeconds: Number(stat.Period),
      ...(stat.Unit ? { unit: String(stat.Unit) } : {}),
    },
  };
}

export function alarmDefinition(p: Props): AlarmDefinition {
  const name = String(p.AlarmName);
  let queries: MetricQuery[];
  if (Array.isArray(p.Metrics)) {
    queries = (p.Metrics as Props[]).map(metricQuery);
  } else {
    // The single-metric form: Namespace, MetricName, Dimensions, Statistic/ExtendedStatistic, Period.
    queries = [
      metricQuery({
        Id: 'm1',
        ReturnData: true,
        MetricStat: {
          Metric: { Namespace: p.Namespace, MetricName: p.MetricName, Dimensions: p.Dimensions },
          Stat: p.Statistic ?? p.ExtendedStatistic,
          Period: p.Period,
          Unit: p.Unit,
        },
      }),
    ];
  }
  const periods = queries.flatMap((q) => (q.metric ? [q.metric.periodSeconds] : []));
  const periodSeconds = periods[0] ?? Number(p.Period);
  // "A math expression used for an alarm can include as many as 10 metrics. Each metric must be using the same period."
  if (periods.some((s) => s !== periodSeconds)) throw new Error(`${name}: its metrics use different periods`);
  const n = Number(p.EvaluationPeriods);
  return {
    name,
    comparison: String(p.ComparisonOperator),
    threshold: Number(p.Threshold),
    evaluationPeriods: n,
    datapointsToAlarm: p.DatapointsToAlarm === undefined ? n : Number(p.DatapointsToAlarm),
    // "If TreatMissingData is omitted, the default behavior of missing is used."
    treatMissingData: (p.TreatMissingData as TreatMissing | undefined) ?? 'missing',
    periodSeconds,
    queries,
  };
}

export interface AssemblyAlarms {
  readonly alarms: AlarmDefinition[];
  readonly composites: CompositeDefinition[];
}

export function readAlarms(templates: readonly NamedTemplate[]): AssemblyAlarms {
  const alarms: AlarmDefinition[] = [];
  const composites: { name: string; rule: unknown; stack: NamedTemplate }[] = [];
  for (const t of templates)
    for (const r of Object.values(t.template.Resources ?? {})) {
      if (r.Type === 'AWS::CloudWatch::Alarm') alarms.push(alarmDefinition(r.Properties ?? {}));
      if (r.Type === 'AWS::CloudWatch::CompositeAlarm')
        composites.push({ name: String(r.Properties?.AlarmName), rule: r.Properties?.AlarmRule, stack: t });
    }
  const byStack = new Map(templates.map((t) => [t.stackName, t]));
  const resolve = (value: unknown, here: NamedTemplate): string => {
    if (typeof value === 'string') return value;
    const v = value as Record<string, unknown>;
    if (v['Fn::Join']) {
      const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
      return parts.map((p) => resolve(p, here)).join(sep);
    }
    if (v['Fn::GetAtt']) {
      const [logicalId, attr] = v['Fn::GetAtt'] as [string, string];
      const res = here.template.Resources?.[logicalId];
      if (attr !== 'Arn' || res?.Type !== 'AWS::CloudWatch::Alarm')
        throw new Error(`composite rule: cannot resolve ${JSON.stringify(value)} in ${here.stackName}`);
      return String(res.Properties?.AlarmName);
    }
    if (v['Fn::GetStackOutput']) {
      const { StackName, OutputName } = v['Fn::GetStackOutput'] as { StackName: string; OutputName: string };
      const other = byStack.get(StackName);
      const output = other?.template.Outputs?.[OutputName];
      if (!other || !output) throw new Error(`composite rule: no output ${OutputName} in stack ${StackName}`);
      return resolve(output.Value, other);
    }
    throw new Error(`composite rule: cannot resolve ${JSON.stringify(value)}`);
  };
  return { alarms, composites: composites.map((c) => ({ name: c.name, rule: resolve(c.rule, c.stack) })) };
}

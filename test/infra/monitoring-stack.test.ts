import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { STAGE_NAMES, STAGES, type StageConfig, type StageName } from '../../lib/config';
import { GATE_METRICS, SERVICE_METRICS } from '../../lib/contract';
import {
  ALARM_POLICIES,
  alarmInstances,
  dbConnectionLimit,
  evaluationOf,
  SERVICE_DEGRADED,
} from '../../lib/monitoring/alarm-catalogue';
import { ALARM_IDS, type AlarmId, alarmName, deploymentAlarmNames } from '../../lib/monitoring/alarm-names';
import { withOverrides } from '../support/cdk';
import { synthMonitoredStage } from './monitoring.fixture';

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation resources are untyped JSON.
type Json = any;

interface QueryMetric {
  readonly id: string;
  readonly namespace: string;
  readonly metricName: string;
  readonly stat: string;
  readonly period: number;
  /** Dimension name → value (tokens are kept as JSON strings). */
  readonly dimensions: Record<string, string>;
}

interface AlarmUnderTest {
  readonly logicalId: string;
  readonly props: Json;
  /** The expression CloudWatch evaluates (the query with ReturnData), or undefined for a plain metric. */
  readonly expression?: string;
  /** Every expression in the query, the returned one first. */
  readonly expressions: string[];
  readonly metrics: QueryMetric[];
}

function dims(list: Json[] | undefined): Record<string, string> {
  return Object.fromEntries(
    (list ?? []).map((d: Json) => [d.Name, typeof d.Value === 'string' ? d.Value : JSON.stringify(d.Value)]),
  );
}

function parseAlarm(logicalId: string, props: Json): AlarmUnderTest {
  if (!props.Metrics) {
    return {
      logicalId,
      props,
      expressions: [],
      metrics: [
        {
          id: 'm1',
          namespace: props.Namespace,
          metricName: props.MetricName,
          stat: props.Statistic ?? props.ExtendedStatistic,
          period: props.Period,
          dimensions: dims(props.Dimensions),
        },
      ],
    };
  }
  const queries: Json[] = props.Metrics;
  const returned = queries.find((q) => q.ReturnData !== false);
  const expressions = [returned, ...queries.filter((q) => q !== returned)]
    .filter((q) => q.Expression !== undefined)
    .map((q) => q.Expression as string);
  return {
    logicalId,
    props,
    expression: returned.Expression,
    expressions,
    metrics: queries
      .filter((q) => q.MetricStat)
      .map((q) => ({
        id: q.Id,
        namespace: q.MetricStat.Metric.Namespace,
        metricName: q.MetricStat.Metric.MetricName,
        stat: q.MetricStat.Stat,
        period: q.MetricStat.Period,
        dimensions: dims(q.MetricStat.Metric.Dimensions),
      })),
  };
}

function stage(name: StageName, config?: StageConfig) {
  const s = synthMonitoredStage(name, config);
  // The alarm topic and the deployment alarms are in the Service stack; this stack reads them as
  // outputs of it. Each such read is replaced by the value the output publishes, so both templates
  // read as one and an alarm's action is `{ Ref: <topic> }` wherever the alarm lives.
  const serviceJson = s.serviceTemplate.toJSON();
  const json = JSON.parse(JSON.stringify(s.template.toJSON()), (_k, v) =>
    v?.['Fn::GetStackOutput']?.StackName === s.serviceStackName
      ? serviceJson.Outputs[v['Fn::GetStackOutput'].OutputName].Value
      : v,
  );
  const clash = Object.keys(json.Resources).filter((id) => id in serviceJson.Resources);
  if (clash.length > 0) throw new Error(`logical IDs in both stacks: ${clash.join(', ')}`);
  const resources: Record<string, Json> = { ...serviceJson.Resources, ...json.Resources };
  const alarms = new Map<string, AlarmUnderTest>();
  for (const [id, r] of Object.entries(resources)) {
    if (r.Type === 'AWS::CloudWatch::Alarm') alarms.set(r.Properties.AlarmName, parseAlarm(id, r.Properties));
  }
  const composites = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::CloudWatch::CompositeAlarm');
  const topicId = Object.keys(resources).find((id) => resources[id].Type === 'AWS::SNS::Topic')!;
  const alarm = (id: AlarmId, node?: string) => {
    const name = alarmName(s.config, node ? `${id}-${node}` : id);
    const found = alarms.get(name);
    if (!found) throw new Error(`no alarm named ${name}`);
    return found;
  };
  return { ...s, json, resources, alarms, composites, topicId, alarm };
}

const prod = stage('prod');
const dev = stage('dev');
const staging = stage('staging');
const all = { dev, staging, prod } as const;

const PERIOD_S = (config: StageConfig) => config.monitoring.periodMinutes * 60;

describe('alarm names are fixed strings', () => {
  test('prod has exactly these alarms', () => {
    expect([...prod.alarms.keys()].sort()).toEqual(
      [
        'chat-prod-service-5xx-rate',
        'chat-prod-service-p95-latency',
        'chat-prod-service-p99-latency',
        'chat-prod-service-unhealthy-hosts',
        'chat-prod-service-tasks-below-desired',
        'chat-prod-service-cpu',
        'chat-prod-service-memory',
        'chat-prod-app-cache-hit-rate',
        'chat-prod-app-cache-unavailable',
        'chat-prod-app-llm-throttled',
        'chat-prod-app-llm-error-rate',
        'chat-prod-app-db-errors',
        'chat-prod-app-auth-failures',
        'chat-prod-app-llm-tokens-over-budget',
        'chat-prod-app-quota-rejections',
        'chat-prod-db-cpu',
        'chat-prod-db-free-storage',
        'chat-prod-db-connections',
        'chat-prod-db-freeable-memory',
        'chat-prod-db-auth-failures',
        ...['001', '002', '003'].flatMap((n) => [
          `chat-prod-cache-engine-cpu-${n}`,
          `chat-prod-cache-memory-${n}`,
          `chat-prod-cache-evictions-${n}`,
          `chat-prod-cache-connections-${n}`,
          `chat-prod-cache-replication-lag-${n}`,
        ]),
        'chat-prod-cache-auth-failures',
        'chat-prod-gate-failed',
        'chat-prod-edge-waf-blocked',
      ].sort(),
    );
    expect(prod.composites.map(([, r]) => r.Properties.AlarmName)).toEqual(['chat-prod-service-degraded']);
  });

  test.each(STAGE_NAMES)('%s has every alarm of its catalogue and nothing else', (name) => {
    const s = all[name];
    const expected = alarmInstances(s.config)
      .map((a) => a.name)
      .sort();
    const actual = [...s.alarms.keys(), ...s.composites.map(([, r]) => r.Properties.AlarmName as string)].sort();
    expect(actual).toEqual(expected);
  });

  test('a single-node cache (dev) has no replication-lag alarm; replicated stages have one per node', () => {
    expect([...dev.alarms.keys()].filter((n) => n.includes('replication-lag'))).toEqual([]);
    expect([...staging.alarms.keys()].filter((n) => n.includes('replication-lag')).sort()).toEqual([
      'chat-staging-cache-replication-lag-001',
      'chat-staging-cache-replication-lag-002',
    ]);
  });

  test.each(STAGE_NAMES)('the deployment alarms the Service stack names exist in %s', (name) => {
    const s = all[name];
    expect(deploymentAlarmNames(s.config)).toEqual([
      `chat-${name}-service-5xx-rate`,
      `chat-${name}-service-p95-latency`,
      `chat-${name}-gate-failed`,
    ]);
    for (const n of deploymentAlarmNames(s.config)) expect(s.alarms.has(n)).toBe(true);
    const rollsBack = [...ALARM_POLICIES.values()].filter((p) => p.rollsBack).map((p) => alarmName(s.config, p.id));
    expect(rollsBack.sort()).toEqual(deploymentAlarmNames(s.config).sort());
  });
});

describe('every alarm applies its policy', () => {
  const cases = STAGE_NAMES.flatMap((name) =>
    alarmInstances(all[name].config)
      .filter((a) => a.id !== SERVICE_DEGRADED.id)
      .map((a) => [a.name, name, a] as const),
  );

  test.each(cases)('%s: threshold, comparison, missing data, evaluation, actions, description', (_n, name, a) => {
    const s = all[name];
    const policy = ALARM_POLICIES.get(a.id)!;
    const { props } = s.alarm(a.id, a.node);
    const { datapointsToAlarm, evaluationPeriods } = evaluationOf(s.config, policy.evaluation);
    expect(props).toMatchObject({
      Threshold: policy.threshold(s.config),
      ComparisonOperator: policy.comparison,
      TreatMissingData: policy.treatMissingData,
      DatapointsToAlarm: datapointsToAlarm,
      EvaluationPeriods: evaluationPeriods,
      ActionsEnabled: true,
      AlarmActions: [{ Ref: s.topicId }],
      OKActions: [{ Ref: s.topicId }],
      AlarmDescription: `${policy.sentence(s.config, a.node)} \r\nRunbook: docs/runbooks/${a.id}.md`,
    });
    expect(props.InsufficientDataActions).toBeUndefined();
  });

  test.each(cases)('%s: every metric uses the stage period', (_n, name, a) => {
    const s = all[name];
    for (const m of s.alarm(a.id, a.node).metrics) expect(m.period).toBe(PERIOD_S(s.config));
  });

  test('each description is one sentence that says what is wrong, then the runbook', () => {
    for (const s of Object.values(all)) {
      for (const [name, a] of s.alarms) {
        const [sentence, runbook] = a.props.AlarmDescription.split(' \r\n');
        expect({ name, sentence }).toEqual({ name, sentence: expect.stringMatching(/^[^\r\n]+[.]$/) });
        // No second sentence: a full stop followed by a capital letter would start one.
        expect({ name, sentence }).toEqual({ name, sentence: expect.not.stringMatching(/\.\s+[A-Z]/) });
        expect(runbook).toMatch(/^Runbook: docs\/runbooks\/[a-z0-9-]+\.md$/);
      }
    }
  });
});

/** The metric with this id in the alarm's query. */
const metric = (a: AlarmUnderTest, metricId: string) => a.metrics.find((m) => m.id === metricId)!;

describe('the blue/green service alarms combine both target groups', () => {
  const fivexx = prod.alarm(ALARM_IDS.serverErrorRate);

  test('5xx rate: target 5xx of blue and green plus load balancer 5xx over requests, guarded by a minimum', () => {
    expect(fivexx.expression).toBe(
      `IF(total >= ${prod.config.monitoring.thresholds.minRequestsPerPeriod}, 100 * errors / total)`,
    );
    expect(fivexx.expressions).toEqual([
      'IF(total >= 20, 100 * errors / total)',
      'FILL(target5xxBlue, 0) + FILL(target5xxGreen, 0) + FILL(elb5xx, 0)',
      'FILL(requestsBlue, 0) + FILL(requestsGreen, 0) + FILL(elb5xx, 0)',
    ]);
    const byId = Object.fromEntries(fivexx.metrics.map((m) => [m.id, m]));
    expect(Object.keys(byId).sort()).toEqual([
      'elb5xx',
      'requestsBlue',
      'requestsGreen',
      'target5xxBlue',
      'target5xxGreen',
    ]);
    for (const m of fivexx.metrics) {
      expect(m).toMatchObject({ namespace: 'AWS/ApplicationELB', stat: 'Sum' });
    }
    expect(byId.target5xxBlue.metricName).toBe('HTTPCode_Target_5XX_Count');
    expect(byId.target5xxGreen.metricName).toBe('HTTPCode_Target_5XX_Count');
    expect(byId.requestsBlue.metricName).toBe('RequestCount');
    expect(byId.requestsGreen.metricName).toBe('RequestCount');
    expect(byId.elb5xx.metricName).toBe('HTTPCode_ELB_5XX_Count');
    // Blue and green are different target groups of the same load balancer; ELB 5xx has no target group.
    expect(byId.target5xxBlue.dimensions.TargetGroup).not.toEqual(byId.target5xxGreen.dimensions.TargetGroup);
    expect(byId.target5xxBlue.dimensions.TargetGroup).toEqual(byId.requestsBlue.dimensions.TargetGroup);
    expect(byId.target5xxGreen.dimensions.TargetGroup).toEqual(byId.requestsGreen.dimensions.TargetGroup);
    expect(new Set(fivexx.metrics.map((m) => m.dimensions.LoadBalancer)).size).toBe(1);
    expect(Object.keys(byId.elb5xx.dimensions)).toEqual(['LoadBalancer']);
  });

  test.each([
    [ALARM_IDS.p95Latency, 'p95'],
    [ALARM_IDS.p99Latency, 'p99'],
  ] as const)('%s: the worse of blue and green, each guarded by its own request count, in ms', (id, p) => {
    const a = prod.alarm(id);
    expect(a.expression).toBe(
      `1000 * MAX([FILL(IF(requestsBlue >= 20, ${p}Blue), 0), FILL(IF(requestsGreen >= 20, ${p}Green), 0)])`,
    );
    const latency = [metric(a, `${p}Blue`), metric(a, `${p}Green`)];
    for (const m of latency)
      expect(m).toMatchObject({ namespace: 'AWS/ApplicationELB', metricName: 'TargetResponseTime', stat: p });
    expect(latency[0].dimensions.TargetGroup).not.toEqual(latency[1].dimensions.TargetGroup);
    expect(metric(a, 'requestsBlue')).toMatchObject({ metricName: 'RequestCount', stat: 'Sum' });
    expect(metric(a, 'requestsBlue').dimensions.TargetGroup).toEqual(latency[0].dimensions.TargetGroup);
  });

  test('unhealthy hosts: the sum of both groups, worst sample', () => {
    const a = prod.alarm(ALARM_IDS.unhealthyHosts);
    expect(a.expression).toBe('FILL(unhealthyBlue, 0) + FILL(unhealthyGreen, 0)');
    for (const id of ['unhealthyBlue', 'unhealthyGreen']) {
      expect(metric(a, id)).toMatchObject({
        namespace: 'AWS/ApplicationELB',
        metricName: 'UnHealthyHostCount',
        stat: 'Maximum',
      });
    }
    expect(metric(a, 'unhealthyBlue').dimensions.TargetGroup).not.toEqual(
      metric(a, 'unhealthyGreen').dimensions.TargetGroup,
    );
  });

  test('tasks below desired: Container Insights desired minus running of the service', () => {
    const a = prod.alarm(ALARM_IDS.tasksBelowDesired);
    expect(a.expression).toBe('desired - FILL(running, 0)');
    expect(metric(a, 'desired')).toMatchObject({
      namespace: 'ECS/ContainerInsights',
      metricName: 'DesiredTaskCount',
      stat: 'Average',
    });
    expect(metric(a, 'running')).toMatchObject({ namespace: 'ECS/ContainerInsights', metricName: 'RunningTaskCount' });
    expect(Object.keys(metric(a, 'running').dimensions).sort()).toEqual(['ClusterName', 'ServiceName']);
  });

  test.each([
    [ALARM_IDS.serviceCpu, 'CPUUtilization'],
    [ALARM_IDS.serviceMemory, 'MemoryUtilization'],
  ] as const)('%s: AWS/ECS %s of the service, average (cdk-monitoring-constructs)', (id, metricName) => {
    const [m] = prod.alarm(id).metrics;
    expect(prod.alarm(id).metrics).toHaveLength(1);
    expect(m).toMatchObject({ namespace: 'AWS/ECS', metricName, stat: 'Average' });
    expect(Object.keys(m.dimensions).sort()).toEqual(['ClusterName', 'ServiceName']);
  });
});

describe('the service EMF alarms read namespace ChatApi with Service=chat-<stage>-api', () => {
  const app = (a: AlarmUnderTest) => {
    for (const m of a.metrics) {
      expect(m.namespace).toBe(SERVICE_METRICS.namespace);
      expect(m.dimensions).toEqual({ Service: 'chat-prod-api' });
    }
    return Object.fromEntries(a.metrics.map((m) => [m.id, m]));
  };

  test('cache hit rate: hits over hits + misses + bypassed, guarded by a minimum of lookups', () => {
    const a = prod.alarm(ALARM_IDS.cacheHitRate);
    const m = app(a);
    expect(a.expression).toBe('IF(lookups >= 50, 100 * FILL(hits, 0) / lookups)');
    expect(a.expressions).toContain('FILL(hits, 0) + FILL(misses, 0) + FILL(bypassed, 0)');
    expect(m.hits).toMatchObject({ metricName: 'CacheHit', stat: 'Sum' });
    expect(m.misses).toMatchObject({ metricName: 'CacheMiss', stat: 'Sum' });
    expect(m.bypassed).toMatchObject({ metricName: 'CacheBypass', stat: 'Sum' });
  });

  test('cache unavailable: the 0/1 flag, worst task', () => {
    const [m] = prod.alarm(ALARM_IDS.cacheUnavailable).metrics;
    app(prod.alarm(ALARM_IDS.cacheUnavailable));
    expect(m).toMatchObject({ metricName: 'CacheUnavailable', stat: 'Maximum' });
  });

  test('LLM throttled: any 429 in a period (seeds: openai_429_errors > 0)', () => {
    const a = prod.alarm(ALARM_IDS.llmThrottled);
    app(a);
    expect(a.metrics).toHaveLength(1);
    expect(a.metrics[0]).toMatchObject({ metricName: 'LlmThrottled', stat: 'Sum' });
    expect(a.props).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 1 });
  });

  test('LLM error rate: errors over calls, guarded by a minimum of calls', () => {
    const a = prod.alarm(ALARM_IDS.llmErrorRate);
    const m = app(a);
    expect(a.expression).toBe('IF(FILL(calls, 0) >= 10, 100 * FILL(errors, 0) / calls)');
    expect(m.calls).toMatchObject({ metricName: 'LlmCalls', stat: 'Sum' });
    expect(m.errors).toMatchObject({ metricName: 'LlmErrors', stat: 'Sum' });
  });

  test.each([
    [ALARM_IDS.dbErrors, SERVICE_METRICS.names.dbErrors],
    [ALARM_IDS.authFailures, SERVICE_METRICS.names.authFailures],
  ] as const)('%s: %s, summed over tasks', (id, metricName) => {
    const a = prod.alarm(id);
    app(a);
    expect(a.metrics).toHaveLength(1);
    expect(a.metrics[0]).toMatchObject({ metricName, stat: 'Sum' });
  });

  test('a rejected credential pages on the first period: a rotation gone wrong must page', () => {
    for (const id of [ALARM_IDS.authFailures, ALARM_IDS.dbAuthFailures, ALARM_IDS.cacheAuthFailures]) {
      expect(prod.alarm(id).props).toMatchObject({
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        DatapointsToAlarm: 1,
        EvaluationPeriods: 1,
      });
      expect(SERVICE_DEGRADED.members).toContain(id);
    }
  });
});

describe('data tier alarms', () => {
  test.each([
    [ALARM_IDS.dbCpu, 'CPUUtilization', 'Average'],
    [ALARM_IDS.dbFreeStorage, 'FreeStorageSpace', 'Maximum'],
    [ALARM_IDS.dbConnections, 'DatabaseConnections', 'Maximum'],
    [ALARM_IDS.dbFreeableMemory, 'FreeableMemory', 'Minimum'],
  ] as const)('%s: AWS/RDS %s (%s) of the stage database', (id, metricName, stat) => {
    const a = prod.alarm(id);
    expect(a.metrics).toHaveLength(1);
    expect(a.metrics[0]).toMatchObject({ namespace: 'AWS/RDS', metricName, stat });
    expect(Object.keys(a.metrics[0].dimensions)).toEqual(['DBInstanceIdentifier']);
  });

  test('units are converted from the config: GiB and MiB to bytes', () => {
    const t = prod.config.monitoring.thresholds;
    expect(prod.alarm(ALARM_IDS.dbFreeStorage).props.Threshold).toBe(t.dbMinFreeStorageGiB * 1024 ** 3);
    expect(prod.alarm(ALARM_IDS.dbFreeableMemory).props.Threshold).toBe(t.dbMinFreeableMemoryMiB * 1024 ** 2);
  });

  test('connections: a share of the instance class limit, estimated low, or the configured number', () => {
    expect(dbConnectionLimit(STAGES.dev)).toBe(79); // t4g.micro: (1024 - 300) MiB / 9531392 B
    expect(dbConnectionLimit(STAGES.staging)).toBe(192); // t4g.small
    expect(dbConnectionLimit(STAGES.prod)).toBe(868); // m7g.large
    expect(dev.alarm(ALARM_IDS.dbConnections).props.Threshold).toBe(63); // 80% of 79
    expect(prod.alarm(ALARM_IDS.dbConnections).props.Threshold).toBe(694);
    const configured = withOverrides('dev', (c) => {
      c.monitoring.thresholds.dbMaxConnections = 100;
    });
    expect(dbConnectionLimit(configured)).toBe(100);
  });

  test('database password failures are counted from the Postgres log by a metric filter', () => {
    const a = prod.alarm(ALARM_IDS.dbAuthFailures);
    expect(a.metrics[0]).toMatchObject({
      namespace: 'ChatPlatform/Database',
      metricName: 'chat-prod-db-PasswordAuthFailures',
      stat: 'Sum',
    });
    prod.template.hasResourceProperties('AWS::Logs::MetricFilter', {
      LogGroupName: '/aws/rds/instance/chat-prod-db/postgresql',
      FilterPattern: '"password authentication failed"',
      MetricTransformations: [
        { MetricNamespace: 'ChatPlatform/Database', MetricName: 'chat-prod-db-PasswordAuthFailures', MetricValue: '1' },
      ],
    });
  });

  test.each([
    [ALARM_IDS.cacheEngineCpu, 'EngineCPUUtilization', 'Maximum'],
    [ALARM_IDS.cacheMemory, 'DatabaseMemoryUsagePercentage', 'Maximum'],
    [ALARM_IDS.cacheEvictions, 'Evictions', 'Sum'],
    [ALARM_IDS.cacheConnections, 'CurrConnections', 'Maximum'],
    [ALARM_IDS.cacheReplicationLag, 'ReplicationLag', 'Maximum'],
  ] as const)('%s: AWS/ElastiCache %s (%s), one alarm per node', (id, metricName, stat) => {
    for (const node of ['001', '002', '003']) {
      const a = prod.alarm(id, node);
      expect(a.metrics).toHaveLength(1);
      expect(a.metrics[0]).toMatchObject({
        namespace: 'AWS/ElastiCache',
        metricName,
        stat,
        dimensions: { CacheClusterId: `chat-prod-cache-${node}` },
      });
    }
  });

  test('cache AUTH failures: summed over every node (the primary moves at failover)', () => {
    const a = prod.alarm(ALARM_IDS.cacheAuthFailures);
    expect(a.expression).toBe('FILL(node1, 0) + FILL(node2, 0) + FILL(node3, 0)');
    expect(a.metrics.map((m) => m.dimensions.CacheClusterId)).toEqual([
      'chat-prod-cache-001',
      'chat-prod-cache-002',
      'chat-prod-cache-003',
    ]);
    for (const m of a.metrics) expect(m).toMatchObject({ metricName: 'AuthenticationFailures', stat: 'Sum' });
  });
});

describe('the gate alarm', () => {
  test('fires on GateFailed or GateError of this stage, from the first datapoint', () => {
    const a = prod.alarm(ALARM_IDS.gateFailed);
    expect(a.expression).toBe('MAX([FILL(failed, 0), FILL(errored, 0)])');
    const byId = Object.fromEntries(a.metrics.map((m) => [m.id, m]));
    expect(byId.failed).toMatchObject({ namespace: GATE_METRICS.namespace, metricName: 'GateFailed', stat: 'Maximum' });
    expect(byId.errored).toMatchObject({ namespace: GATE_METRICS.namespace, metricName: 'GateError', stat: 'Maximum' });
    expect(byId.failed.dimensions).toEqual({ Service: 'chat-prod-api' });
    expect(a.props).toMatchObject({
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      DatapointsToAlarm: 1,
      EvaluationPeriods: 1,
    });
  });
});

describe('the composite service-degraded alarm is the page', () => {
  test.each(STAGE_NAMES)('%s: ALARM of any member, notifying the topic on ALARM and OK', (name) => {
    const s = all[name];
    expect(s.composites).toHaveLength(1);
    const [, composite] = s.composites[0];
    const p = composite.Properties;
    expect(p.AlarmName).toBe(`chat-${name}-service-degraded`);
    expect(p).toMatchObject({
      ActionsEnabled: true,
      AlarmActions: [{ Ref: s.topicId }],
      OKActions: [{ Ref: s.topicId }],
    });
    expect(p.AlarmDescription).toBe(
      `${SERVICE_DEGRADED.sentence(s.config)} \r\nRunbook: docs/runbooks/service-degraded.md`,
    );

    // Render the rule with alarm names in place of the ARNs it references.
    const byLogicalId = new Map([...s.alarms.values()].map((a) => [a.logicalId, a.props.AlarmName as string]));
    const [, parts] = p.AlarmRule['Fn::Join'] as [string, Json[]];
    const rule = parts
      .map((part) => (typeof part === 'string' ? part : (byLogicalId.get(part['Fn::GetAtt'][0]) ?? '?')))
      .join('');
    const members = SERVICE_DEGRADED.members.map((id) => alarmName(s.config, id));
    expect(rule).toBe(`(${members.map((m) => `ALARM("${m}")`).join(' OR ')})`);
  });

  test('members: 5xx, p95, unhealthy targets, tasks below desired, cache unavailable, every credential failure', () => {
    expect([...SERVICE_DEGRADED.members].sort()).toEqual(
      [
        'service-5xx-rate',
        'service-p95-latency',
        'service-unhealthy-hosts',
        'service-tasks-below-desired',
        'app-cache-unavailable',
        'app-auth-failures',
        'db-auth-failures',
        'cache-auth-failures',
      ].sort(),
    );
  });
});

describe('the alarm topic', () => {
  test("is encrypted with its own rotating KMS key that CloudWatch may use for this account's alarms", () => {
    const keys = Object.entries(prod.serviceTemplate.toJSON().Resources as Record<string, Json>).filter(
      ([, r]) => r.Type === 'AWS::KMS::Key',
    );
    expect(keys).toHaveLength(1);
    const [keyId, key] = keys[0];
    expect(key.Properties.EnableKeyRotation).toBe(true);
    prod.serviceTemplate.hasResourceProperties('AWS::SNS::Topic', {
      TopicName: 'chat-prod-alarms',
      KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
    });
    expect(key.Properties.KeyPolicy.Statement).toContainEqual(
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        Condition: expect.objectContaining({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } }),
      }),
    );
  });

  test('lets CloudWatch alarms publish, and nobody without TLS', () => {
    prod.serviceTemplate.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sns:Publish',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          Match.objectLike({
            Effect: 'Allow',
            Action: 'sns:Publish',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
          }),
        ]),
      },
    });
  });

  test.each(STAGE_NAMES)("%s subscribes exactly the stage config's e-mail addresses", (name) => {
    const s = all[name];
    const subscriptions = Object.values(s.resources).filter((r) => r.Type === 'AWS::SNS::Subscription');
    expect(subscriptions.map((r) => r.Properties)).toEqual(
      s.config.monitoring.alarmEmails.map((email) => ({
        Protocol: 'email',
        Endpoint: email,
        TopicArn: { Ref: s.topicId },
      })),
    );
  });

  test('prod notifies the on-call list; more addresses mean more subscriptions', () => {
    expect(STAGES.prod.monitoring.alarmEmails.length).toBeGreaterThanOrEqual(1);
    const config = withOverrides('staging', (c) => {
      c.monitoring.alarmEmails = ['a@example.com', 'b@example.com'];
    });
    const s = stage('staging', config);
    expect(
      Object.values(s.resources)
        .filter((r) => r.Type === 'AWS::SNS::Subscription')
        .map((r) => r.Properties.Endpoint),
    ).toEqual(['a@example.com', 'b@example.com']);
  });
});

describe('runbook links', () => {
  test('default to the repository path, and follow monitoring.runbookBaseUrl when set', () => {
    expect(prod.alarm(ALARM_IDS.dbCpu).props.AlarmDescription).toMatch(/Runbook: docs\/runbooks\/db-cpu\.md$/);
    const base = 'https://github.com/acme/chat-platform/blob/main/docs/runbooks';
    const config = withOverrides('dev', (c) => {
      c.monitoring.runbookBaseUrl = base;
    });
    const s = stage('dev', config);
    for (const a of s.alarms.values()) expect(a.props.AlarmDescription).toContain(`Runbook: ${base}/`);
  });
});

describe('the dashboard', () => {
  test.each(STAGE_NAMES)('%s has one dashboard covering every area an SRE needs', (name) => {
    const s = all[name];
    const dashboards = Object.values(s.resources).filter((r) => r.Type === 'AWS::CloudWatch::Dashboard');
    expect(dashboards).toHaveLength(1);
    expect(dashboards[0].Properties.DashboardName).toBe(`chat-${name}-dashboard`);
    const body = JSON.stringify(dashboards[0].Properties.DashboardBody);
    for (const title of [
      'Requests', // traffic
      '5xx rate %', // errors
      'p95 / p99 ms', // latency percentiles
      'Target response time s, all targets',
      'Cache hit rate %',
      'Cache unavailable',
      'LLM latency ms',
      'LLM throttled, 429',
      'LLM error rate %',
      'Database errors',
      'RDS PostgreSQL', // DB health (library segment)
      'ElastiCache', // cache health (library segment)
      'Tasks (alarmed: below desired)', // running tasks
      'CPU and memory',
      'Gate failed or errored', // gate results
      'Gate p95 latency ms',
      'Service errors and dependency events', // the service log, where every runbook starts
      'k6 gate runs',
    ]) {
      expect({ name, title, found: body.includes(title) }).toEqual({ name, title, found: true });
    }
  });
});

describe('cdk-nag', () => {
  test.each(STAGE_NAMES)('the %s Monitoring stack has no AwsSolutions finding', (name) => {
    const s = all[name];
    const annotations = Annotations.fromStack(s.monitoring);
    expect(annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-'))).toEqual([]);
    expect(annotations.findWarning('*', Match.stringLikeRegexp('CdkNagValidationFailure'))).toEqual([]);
  });
});

describe('the WAF alarm', () => {
  test('watches the WebACL in front of the load balancer by its name, in the stack region, all rules', () => {
    const { props, metrics } = prod.alarm(ALARM_IDS.wafBlocked);
    expect(props.Threshold).toBe(prod.config.monitoring.thresholds.maxWafBlockedRequestsPerPeriod);
    expect(metrics).toEqual([
      expect.objectContaining({
        namespace: 'AWS/WAFV2',
        metricName: 'BlockedRequests',
        stat: 'Sum',
        dimensions: { WebACL: 'chat-prod-api-waf', Rule: 'ALL', Region: prod.config.env.region },
      }),
    ]);
  });
});

describe('the cost alarms', () => {
  test('LLM tokens per minute: in + out over all tasks, divided by the period in minutes, against the budget', () => {
    const { props, expressions, metrics } = prod.alarm(ALARM_IDS.llmTokensOverBudget);
    expect(props.Threshold).toBe(prod.config.monitoring.thresholds.maxLlmTokensPerMinute);
    expect(expressions[0]).toBe(`(FILL(tokensIn, 0) + FILL(tokensOut, 0)) / ${prod.config.monitoring.periodMinutes}`);
    expect(metrics.map((m) => [m.namespace, m.metricName, m.stat]).sort()).toEqual([
      ['ChatApi', 'LlmTokensIn', 'Sum'],
      ['ChatApi', 'LlmTokensOut', 'Sum'],
    ]);
  });

  test('requests rejected by quota: request and token quota rejections summed, against their limit', () => {
    const { props, expressions, metrics } = prod.alarm(ALARM_IDS.quotaRejections);
    expect(props.Threshold).toBe(prod.config.monitoring.thresholds.maxQuotaRejectionsPerPeriod);
    expect(expressions[0]).toBe('FILL(requests, 0) + FILL(tokens, 0)');
    expect(metrics.map((m) => m.metricName).sort()).toEqual(['QuotaRequestsRejected', 'QuotaTokensRejected']);
  });
});

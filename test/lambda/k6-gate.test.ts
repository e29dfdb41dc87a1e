import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeNetworkInterfacesCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  RunTaskCommand,
  StopTaskCommand,
  type Task,
} from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { type HookConfig, type HookConfigError, readHookConfig } from '../../lambda/k6-gate/config';
import type { RunState } from '../../lambda/k6-gate/decide';
import { RUN_STATE_KEY } from '../../lambda/k6-gate/event';
import { CALLBACK_DELAY_SECONDS, type GateDeps, handleHookEvent } from '../../lambda/k6-gate/gate';
import { GATE_ENV, GATE_METRICS, HOOK_ENV, RUN_ID_PATTERN } from '../../lib/contract';

const ecs = mockClient(ECSClient);
const ec2 = mockClient(EC2Client);
const cloudwatch = mockClient(CloudWatchClient);

const CLUSTER = 'arn:aws:ecs:us-east-1:111122223333:cluster/chat-dev';
const TASK_DEF = 'arn:aws:ecs:us-east-1:111122223333:task-definition/chat-dev-k6-runner:7';
const GREEN = 'arn:aws:ecs:us-east-1:111122223333:service-revision/chat-dev/chat-dev-api/222';
const BLUE = 'arn:aws:ecs:us-east-1:111122223333:service-revision/chat-dev/chat-dev-api/111';
const EXECUTION_ID = '3a0345ba-b029-404b-890d-7da2a4b266aa';
const T0 = Date.parse('2026-11-22T20:00:00Z');

const config: HookConfig = {
  clusterArn: CLUSTER,
  taskDefinitionArn: TASK_DEF,
  containerName: 'k6',
  subnetIds: ['subnet-a', 'subnet-b'],
  securityGroupId: 'sg-runner',
  runnerLogGroup: '/chat-dev/k6-runner',
  loadBalancerFullName: 'app/chat-dev-alb/0123456789abcdef',
  testListenerPort: 8080,
  serviceName: 'chat-dev-api',
  parallelism: 2,
  timeoutMs: 15 * 60_000,
};

let now = T0;
let logs: Record<string, unknown>[] = [];
const deps = (overrides: Partial<HookConfig> = {}): GateDeps => ({
  ecs: new ECSClient({}),
  ec2: new EC2Client({}),
  cloudwatch: new CloudWatchClient({}),
  config: { ...config, ...overrides },
  now: () => now,
  log: (line) => logs.push(line),
});

const event = (
  fields: { stage?: string; hookDetails?: Record<string, unknown>; prod?: Record<string, number> } = {},
) => ({
  executionId: EXECUTION_ID,
  lifecycleStage: fields.stage ?? 'POST_TEST_TRAFFIC_SHIFT',
  resourceArn: 'arn:aws:ecs:us-east-1:111122223333:service-deployment/chat-dev/chat-dev-api/EZe5RNVLH6PPzHXINuP28',
  executionDetails: {
    serviceArn: 'arn:aws:ecs:us-east-1:111122223333:service/chat-dev/chat-dev-api',
    targetServiceRevisionArn: GREEN,
    testTrafficWeights: {},
    productionTrafficWeights: fields.prod ?? {},
  },
  ...(fields.hookDetails ? { hookDetails: fields.hookDetails } : {}),
});

const configured = { PROFILE: 'light', EXPECTED_VERSION: '2.0.0' };

const task = (arn: string, fields: Partial<Task> = {}): Task => ({
  taskArn: arn,
  lastStatus: 'RUNNING',
  createdAt: new Date(T0 - 5_000),
  containers: [{ name: 'k6' }],
  ...fields,
});
const stopped = (arn: string, exitCode: number | undefined, fields: Partial<Task> = {}): Task =>
  task(arn, {
    lastStatus: 'STOPPED',
    stopCode: 'EssentialContainerExited',
    containers: [{ name: 'k6', ...(exitCode === undefined ? {} : { exitCode }) }],
    ...fields,
  });

const state = (fields: Partial<RunState> = {}): RunState => ({
  v: 1,
  startedAtMs: T0 - 60_000,
  profile: 'light',
  expectedVersion: '2.0.0',
  runners: [
    { index: 0, taskArn: 'task/a', segment: '0:1/2' },
    { index: 1, taskArn: 'task/b', segment: '1/2:1' },
  ],
  ...fields,
});
const polling = (s: RunState = state()) => event({ hookDetails: { ...configured, [RUN_STATE_KEY]: s } });

const verdicts = () => logs.filter((l) => l.event === 'k6-gate.verdict');
const metricValues = () => {
  const calls = cloudwatch.commandCalls(PutMetricDataCommand);
  expect(calls).toHaveLength(1);
  const input = calls[0].args[0].input;
  expect(input.Namespace).toBe(GATE_METRICS.namespace);
  return Object.fromEntries(
    (input.MetricData ?? []).map((d) => {
      expect(d.Dimensions).toEqual([{ Name: GATE_METRICS.dimension, Value: 'chat-dev-api' }]);
      return [d.MetricName, d.Value];
    }),
  );
};
const envOf = (input: {
  overrides?: { containerOverrides?: { environment?: { name?: string; value?: string }[] }[] };
}) => Object.fromEntries((input.overrides?.containerOverrides?.[0].environment ?? []).map((e) => [e.name, e.value]));

beforeEach(() => {
  ecs.reset();
  ec2.reset();
  cloudwatch.reset();
  cloudwatch.on(PutMetricDataCommand).resolves({});
  ec2.on(DescribeNetworkInterfacesCommand).resolves({
    NetworkInterfaces: [
      { PrivateIpAddress: '10.10.1.20', Status: 'in-use' },
      { PrivateIpAddress: '10.10.0.10', Status: 'in-use' },
    ],
  });
  now = T0;
  logs = [];
});

describe('first call of a hook execution', () => {
  beforeEach(() => {
    ecs
      .on(RunTaskCommand)
      .resolvesOnce({ tasks: [task('task/a', { createdAt: new Date(T0 - 2_000) })] })
      .resolvesOnce({ tasks: [task('task/b', { createdAt: new Date(T0 - 1_000) })] });
  });

  test('starts one runner per segment against the test listener and answers IN_PROGRESS with their ARNs', async () => {
    const res = await handleHookEvent(event({ hookDetails: configured }), deps());

    expect(res).toEqual({
      hookStatus: 'IN_PROGRESS',
      callBackDelay: CALLBACK_DELAY_SECONDS,
      hookDetails: {
        [RUN_STATE_KEY]: {
          v: 1,
          startedAtMs: T0 - 2_000,
          profile: 'light',
          expectedVersion: '2.0.0',
          runners: [
            { index: 0, taskArn: 'task/a', segment: '0:1/2' },
            { index: 1, taskArn: 'task/b', segment: '1/2:1' },
          ],
        },
      },
    });
    const runs = ecs.commandCalls(RunTaskCommand).map((c) => c.args[0].input);
    expect(runs).toHaveLength(2);
    expect(runs.map(envOf)).toEqual([
      expect.objectContaining({
        [GATE_ENV.baseUrl]: 'http://10.10.0.10:8080',
        [GATE_ENV.profile]: 'light',
        [GATE_ENV.expectedVersion]: '2.0.0',
        [GATE_ENV.serviceName]: 'chat-dev-api',
        [GATE_ENV.executionSegment]: '0:1/2',
      }),
      expect.objectContaining({ [GATE_ENV.baseUrl]: 'http://10.10.1.20:8080', [GATE_ENV.executionSegment]: '1/2:1' }),
    ]);
    // k6 itself gets the segment as flags after the image's `k6 run <script>` entrypoint.
    expect(runs.map((r) => r.overrides?.containerOverrides?.[0].command)).toEqual([
      ['--execution-segment', '0:1/2', '--execution-segment-sequence', '0,1/2,1'],
      ['--execution-segment', '1/2:1', '--execution-segment-sequence', '0,1/2,1'],
    ]);
    const runIds = runs.map((r) => envOf(r)[GATE_ENV.runId]);
    expect(new Set(runIds).size).toBe(2);
    for (const id of runIds) expect(id).toMatch(RUN_ID_PATTERN);
    expect(runs[0]).toMatchObject({
      cluster: CLUSTER,
      taskDefinition: TASK_DEF,
      launchType: 'FARGATE',
      startedBy: `k6-gate/${EXECUTION_ID}`,
      clientToken: `${EXECUTION_ID}-0`,
      networkConfiguration: {
        awsvpcConfiguration: {
          subnets: ['subnet-a', 'subnet-b'],
          securityGroups: ['sg-runner'],
          assignPublicIp: 'DISABLED',
        },
      },
    });
    expect(runs[1].clientToken).toBe(`${EXECUTION_ID}-1`);
    expect(ec2.commandCalls(DescribeNetworkInterfacesCommand)[0].args[0].input.Filters).toEqual([
      { Name: 'description', Values: ['ELB app/chat-dev-alb/0123456789abcdef'] },
    ]);
    expect(cloudwatch.commandCalls(PutMetricDataCommand)).toHaveLength(0);
    expect(verdicts()).toHaveLength(0);
  });

  test('the profile and version come from the hook details alone; without a version none is expected', async () => {
    await handleHookEvent(event({ hookDetails: { PROFILE: 'smoke' } }), deps({ parallelism: 1 }));
    const env = envOf(ecs.commandCalls(RunTaskCommand)[0].args[0].input);
    expect(env).toMatchObject({ [GATE_ENV.profile]: 'smoke' });
    expect(env).not.toHaveProperty(GATE_ENV.expectedVersion);
    // One runner: no segment at all, so k6 runs the whole profile.
    expect(
      ecs.commandCalls(RunTaskCommand)[0].args[0].input.overrides?.containerOverrides?.[0].command,
    ).toBeUndefined();
    expect(env).not.toHaveProperty(GATE_ENV.executionSegment);
  });

  test("the stage's LLM price travels from the hook details to every runner as LLM_PRICE_PER_MTOK", async () => {
    await handleHookEvent(event({ hookDetails: { PROFILE: 'smoke', LLM_PRICE_PER_MTOK: '0.15/0.6' } }), deps());
    for (const call of ecs.commandCalls(RunTaskCommand)) {
      expect(envOf(call.args[0].input)).toMatchObject({ [GATE_ENV.llmPricePerMTok]: '0.15/0.6' });
    }
  });

  test('a malformed price in the hook details is a gate error', async () => {
    const res = await handleHookEvent(
      event({ hookDetails: { PROFILE: 'smoke', LLM_PRICE_PER_MTOK: 'cheap' } }),
      deps(),
    );
    expect(res).toEqual({ hookStatus: 'FAILED' });
    expect(ecs.commandCalls(RunTaskCommand)).toHaveLength(0);
  });

  test('hook details without a profile are a gate error, not a silent default', async () => {
    const res = await handleHookEvent(event(), deps());
    expect(res).toEqual({ hookStatus: 'FAILED' });
    expect(ecs.commandCalls(RunTaskCommand)).toHaveLength(0);
    expect(verdicts()[0]).toMatchObject({ verdict: 'error', reason: expect.stringMatching(/PROFILE=undefined/) });
  });

  test('an unknown profile in the hook details is a gate error, not a silent default', async () => {
    const res = await handleHookEvent(event({ hookDetails: { PROFILE: 'huge' } }), deps());
    expect(res).toEqual({ hookStatus: 'FAILED' });
    expect(ecs.commandCalls(RunTaskCommand)).toHaveLength(0);
    expect(verdicts()[0]).toMatchObject({ verdict: 'error', reason: expect.stringMatching(/PROFILE=huge/) });
    expect(metricValues()).toMatchObject({ GateFailed: 1, GateError: 1 });
  });

  test('a load balancer without private addresses is a gate error', async () => {
    ec2.on(DescribeNetworkInterfacesCommand).resolves({ NetworkInterfaces: [] });
    const res = await handleHookEvent(event({ hookDetails: configured }), deps());
    expect(res.hookStatus).toBe('FAILED');
    expect(verdicts()[0].reason).toMatch(/no private address/);
  });
});

describe('idempotent per executionId', () => {
  test('a retried first call (no hookDetails) sends the same client tokens and parameters, so no second run starts', async () => {
    // ECS returns the original RunTask result for a repeated client token with the same parameters.
    const byToken = new Map<string, Task>();
    let started = 0;
    ecs.on(RunTaskCommand).callsFake((input) => {
      if (!byToken.has(input.clientToken)) {
        started += 1;
        byToken.set(input.clientToken, task(`task/${started}`));
      }
      return { tasks: [byToken.get(input.clientToken)] };
    });
    const first = await handleHookEvent(event({ hookDetails: configured }), deps());
    const retry = await handleHookEvent(event({ hookDetails: configured }), deps());

    expect(started).toBe(2);
    expect(retry).toEqual(first);
    const [a, b, c, d] = ecs.commandCalls(RunTaskCommand).map((call) => call.args[0].input);
    expect(c).toEqual(a);
    expect(d).toEqual(b);
  });

  test('when the parameters changed in between (ConflictException), the runner started for that execution is adopted', async () => {
    const conflict = Object.assign(new Error('client token reused with other parameters'), {
      name: 'ConflictException',
    });
    ecs.on(RunTaskCommand).rejects(conflict);
    const runIdOf = (i: number) => `g${EXECUTION_ID.replace(/-/g, '')}-${i}`;
    const existing = (arn: string, i: number) =>
      task(arn, {
        overrides: { containerOverrides: [{ name: 'k6', environment: [{ name: GATE_ENV.runId, value: runIdOf(i) }] }] },
      });
    ecs
      .on(ListTasksCommand, { desiredStatus: 'RUNNING' })
      .resolves({ taskArns: ['task/a', 'task/b'] })
      .on(ListTasksCommand, { desiredStatus: 'STOPPED' })
      .resolves({ taskArns: [] })
      .on(DescribeTasksCommand)
      .resolves({ tasks: [existing('task/b', 1), existing('task/a', 0)] });

    const res = await handleHookEvent(event({ hookDetails: configured }), deps());

    expect(res.hookStatus).toBe('IN_PROGRESS');
    expect((res.hookDetails?.[RUN_STATE_KEY] as RunState | undefined)?.runners.map((r) => r.taskArn)).toEqual([
      'task/a',
      'task/b',
    ]);
    expect(ecs.commandCalls(ListTasksCommand)[0].args[0].input).toMatchObject({
      cluster: CLUSTER,
      startedBy: `k6-gate/${EXECUTION_ID}`,
    });
  });

  test('a later call with the run in hookDetails only polls: it never calls RunTask', async () => {
    ecs.on(DescribeTasksCommand).resolves({ tasks: [task('task/a'), task('task/b')] });
    await handleHookEvent(polling(), deps());
    expect(ecs.commandCalls(RunTaskCommand)).toHaveLength(0);
  });
});

describe('polling', () => {
  test('still running: IN_PROGRESS with the same run state, no verdict, no metrics', async () => {
    ecs.on(DescribeTasksCommand).resolves({ tasks: [task('task/a'), task('task/b', { lastStatus: 'PROVISIONING' })] });
    const res = await handleHookEvent(polling(), deps());
    expect(res).toEqual({
      hookStatus: 'IN_PROGRESS',
      callBackDelay: CALLBACK_DELAY_SECONDS,
      hookDetails: { [RUN_STATE_KEY]: state() },
    });
    expect(ecs.commandCalls(DescribeTasksCommand)[0].args[0].input).toEqual({
      cluster: CLUSTER,
      tasks: ['task/a', 'task/b'],
    });
    expect(verdicts()).toHaveLength(0);
    expect(cloudwatch.commandCalls(PutMetricDataCommand)).toHaveLength(0);
  });

  test('every runner exited 0: SUCCEEDED, GateFailed 0, GateError 0, the duration, one verdict line', async () => {
    ecs.on(DescribeTasksCommand).resolves({ tasks: [stopped('task/a', 0), stopped('task/b', 0)] });
    const res = await handleHookEvent(polling(), deps());
    expect(res).toEqual({ hookStatus: 'SUCCEEDED' });
    expect(metricValues()).toEqual({ GateFailed: 0, GateError: 0, GateDuration: 60 });
    expect(verdicts()).toEqual([
      expect.objectContaining({
        verdict: 'pass',
        hookStatus: 'SUCCEEDED',
        executionId: EXECUTION_ID,
        targetServiceRevisionArn: GREEN,
        profile: 'light',
        expectedVersion: '2.0.0',
        runnerLogGroup: '/chat-dev/k6-runner',
      }),
    ]);
  });

  test('exit 99 (thresholds failed): FAILED as a failed version, GateFailed 1, GateError 0', async () => {
    ecs.on(DescribeTasksCommand).resolves({ tasks: [stopped('task/a', 0), stopped('task/b', 99)] });
    const res = await handleHookEvent(polling(), deps());
    expect(res).toEqual({ hookStatus: 'FAILED' });
    expect(metricValues()).toMatchObject({ GateFailed: 1, GateError: 0 });
    expect(verdicts()[0]).toMatchObject({
      verdict: 'fail',
      reason: expect.stringMatching(/thresholds failed.*1\/2:1/),
    });
  });

  test('any other exit code is a gate error with a distinct reason', async () => {
    ecs.on(DescribeTasksCommand).resolves({ tasks: [stopped('task/a', 108), stopped('task/b', 0)] });
    const res = await handleHookEvent(polling(), deps());
    expect(res).toEqual({ hookStatus: 'FAILED' });
    expect(metricValues()).toMatchObject({ GateFailed: 1, GateError: 1 });
    expect(verdicts()[0]).toMatchObject({
      verdict: 'error',
      reason: expect.stringMatching(/gate error: .*k6 exited 108 \(scriptAborted\)/),
    });
  });

  test('a runner that failed to start (stopCode TaskFailedToStart) is a gate error', async () => {
    ecs.on(DescribeTasksCommand).resolves({
      tasks: [
        stopped('task/a', undefined, {
          stopCode: 'TaskFailedToStart',
          stoppedReason: 'CannotPullContainerError: pull access denied',
        }),
        task('task/b'),
      ],
    });
    const res = await handleHookEvent(polling(), deps());
    expect(res).toEqual({ hookStatus: 'FAILED' });
    expect(verdicts()[0]).toMatchObject({
      verdict: 'error',
      reason: expect.stringMatching(/failed to start.*CannotPullContainerError/),
    });
    // The other runner is not left running.
    expect(ecs.commandCalls(StopTaskCommand).map((c) => c.args[0].input.task)).toEqual(['task/b']);
  });

  test('a runner stopped without an exit code is a gate error', async () => {
    ecs.on(DescribeTasksCommand).resolves({
      tasks: [stopped('task/a', undefined, { stoppedReason: 'OutOfMemoryError' }), stopped('task/b', 0)],
    });
    const res = await handleHookEvent(polling(), deps());
    expect(res.hookStatus).toBe('FAILED');
    expect(verdicts()[0].reason).toMatch(/without an exit code.*OutOfMemoryError/);
  });

  test('a runner ECS no longer knows (DescribeTasks failure MISSING) is a gate error', async () => {
    ecs
      .on(DescribeTasksCommand)
      .resolves({ tasks: [stopped('task/a', 0)], failures: [{ arn: 'task/b', reason: 'MISSING' }] });
    const res = await handleHookEvent(polling(), deps());
    expect(res.hookStatus).toBe('FAILED');
    expect(verdicts()[0].reason).toMatch(/MISSING/);
  });

  test("the gate's own time limit: FAILED as a gate error and the stuck runners are stopped", async () => {
    now = T0 + 16 * 60_000;
    ecs.on(DescribeTasksCommand).resolves({ tasks: [stopped('task/a', 0), task('task/b')] });
    const res = await handleHookEvent(polling(state({ startedAtMs: T0 })), deps());
    expect(res).toEqual({ hookStatus: 'FAILED' });
    expect(verdicts()[0]).toMatchObject({
      verdict: 'error',
      reason: expect.stringMatching(/timed out after 960 s \(limit 15 min\).*1\/2:1/),
    });
    expect(metricValues()).toEqual({ GateFailed: 1, GateError: 1, GateDuration: 960 });
    expect(ecs.commandCalls(StopTaskCommand).map((c) => c.args[0].input)).toEqual([
      expect.objectContaining({ cluster: CLUSTER, task: 'task/b' }),
    ]);
  });

  test('parallel runs: one segment failing its thresholds fails the gate at once and stops the other', async () => {
    ecs.on(DescribeTasksCommand).resolves({ tasks: [stopped('task/a', 99), task('task/b')] });
    const res = await handleHookEvent(polling(), deps());
    expect(res).toEqual({ hookStatus: 'FAILED' });
    expect(verdicts()[0]).toMatchObject({ verdict: 'fail', reason: expect.stringMatching(/0:1\/2/) });
    expect(ecs.commandCalls(StopTaskCommand).map((c) => c.args[0].input.task)).toEqual(['task/b']);
  });

  test('a failed poll is retried on the next invocation, not turned into a verdict', async () => {
    ecs.on(DescribeTasksCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const res = await handleHookEvent(polling(), deps());
    expect(res.hookStatus).toBe('IN_PROGRESS');
    expect(verdicts()).toHaveLength(0);
  });
});

describe('starting fails', () => {
  test('RunTask reporting failures[] is a gate error, and runners that did start are stopped', async () => {
    ecs
      .on(RunTaskCommand)
      .resolvesOnce({ tasks: [task('task/a')] })
      .resolvesOnce({ tasks: [], failures: [{ reason: 'RESOURCE:ENI', detail: 'no free address' }] });
    const res = await handleHookEvent(event({ hookDetails: configured }), deps());
    expect(res).toEqual({ hookStatus: 'FAILED' });
    expect(verdicts()[0]).toMatchObject({
      verdict: 'error',
      reason: expect.stringMatching(/runner failed to start.*1\/2:1: RESOURCE:ENI: no free address/),
    });
    expect(ecs.commandCalls(StopTaskCommand).map((c) => c.args[0].input.task)).toEqual(['task/a']);
    expect(metricValues()).toMatchObject({ GateFailed: 1, GateError: 1 });
  });

  test('RunTask denied is a gate error answered FAILED, not an unhandled crash', async () => {
    ecs.on(RunTaskCommand).rejects(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' }));
    const res = await handleHookEvent(event({ hookDetails: configured }), deps());
    expect(res).toEqual({ hookStatus: 'FAILED' });
    expect(verdicts()[0].reason).toMatch(/AccessDeniedException/);
  });
});

describe('invocations answered without load', () => {
  test('a rollback re-invocation (green at 0% of production) is SUCCEEDED without any AWS call', async () => {
    const res = await handleHookEvent(
      event({ stage: 'PRODUCTION_TRAFFIC_SHIFT', prod: { [GREEN]: 0, [BLUE]: 100 } }),
      deps(),
    );
    expect(res).toEqual({ hookStatus: 'SUCCEEDED' });
    expect(ecs.calls()).toHaveLength(0);
    expect(ec2.calls()).toHaveLength(0);
    expect(cloudwatch.calls()).toHaveLength(0);
    expect(verdicts()).toEqual([expect.objectContaining({ verdict: 'rollback', hookStatus: 'SUCCEEDED' })]);
  });

  test('a production step of a canary (green above 0%) is gated like the test stage', async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [task('task/a')] });
    const res = await handleHookEvent(
      event({ stage: 'PRODUCTION_TRAFFIC_SHIFT', prod: { [GREEN]: 10, [BLUE]: 90 }, hookDetails: configured }),
      deps({ parallelism: 1 }),
    );
    expect(res.hookStatus).toBe('IN_PROGRESS');
    expect(ecs.commandCalls(RunTaskCommand)).toHaveLength(1);
  });

  test('an operator skip with a reason is SUCCEEDED without load and logged as a warning', async () => {
    const res = await handleHookEvent(
      event({
        hookDetails: {
          ...configured,
          SKIP_GATE_REASON: 'INC-4711: gate runner image broken, hotfix approved by on-call',
        },
      }),
      deps(),
    );
    expect(res).toEqual({ hookStatus: 'SUCCEEDED' });
    expect(ecs.calls()).toHaveLength(0);
    expect(verdicts()).toEqual([
      expect.objectContaining({ verdict: 'skipped', level: 'WARN', reason: expect.stringMatching(/INC-4711/) }),
    ]);
  });

  test('a skip without a real reason is ignored and the gate runs', async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [task('task/a')] });
    const res = await handleHookEvent(
      event({ hookDetails: { ...configured, SKIP_GATE_REASON: 'x' } }),
      deps({ parallelism: 1 }),
    );
    expect(res.hookStatus).toBe('IN_PROGRESS');
  });
});

describe('the metrics', () => {
  test('a metrics outage does not change the verdict', async () => {
    cloudwatch.on(PutMetricDataCommand).rejects(new Error('boom'));
    ecs.on(DescribeTasksCommand).resolves({ tasks: [stopped('task/a', 0), stopped('task/b', 0)] });
    const res = await handleHookEvent(polling(), deps());
    expect(res).toEqual({ hookStatus: 'SUCCEEDED' });
    expect(logs.some((l) => l.event === 'k6-gate.metrics-failed')).toBe(true);
  });
});

describe('the hook configuration', () => {
  const env = {
    [HOOK_ENV.clusterArn]: CLUSTER,
    [HOOK_ENV.taskDefinitionArn]: TASK_DEF,
    [HOOK_ENV.containerName]: 'k6',
    [HOOK_ENV.subnetIds]: 'subnet-a,subnet-b',
    [HOOK_ENV.securityGroupId]: 'sg-runner',
    [HOOK_ENV.runnerLogGroup]: '/chat-dev/k6-runner',
    [HOOK_ENV.loadBalancerFullName]: 'app/chat-dev-alb/0123456789abcdef',
    [HOOK_ENV.testListenerPort]: '8080',
    [HOOK_ENV.serviceName]: 'chat-dev-api',
    [HOOK_ENV.parallelism]: '2',
    [HOOK_ENV.timeoutMinutes]: '15',
  };

  test('is read from the environment once and validated', () => {
    expect(readHookConfig(env)).toEqual(config);
  });

  test('names every bad variable at once', () => {
    const { [HOOK_ENV.clusterArn]: _c, ...rest } = env;
    let error: HookConfigError | undefined;
    try {
      readHookConfig({ ...rest, [HOOK_ENV.testListenerPort]: '70000', [HOOK_ENV.parallelism]: '0' });
    } catch (err) {
      error = err as HookConfigError;
    }
    expect(error?.problems).toEqual([
      `${HOOK_ENV.clusterArn} is missing`,
      expect.stringMatching(/TEST_LISTENER_PORT=70000 must be 1-65535/),
      expect.stringMatching(/PARALLELISM=0 must be 1-10/),
    ]);
  });
});

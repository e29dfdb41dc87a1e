/**
 * The relative gate in AWS: the hook finds the revision serving production, passes its tasks'
 * addresses to every runner as BASELINE_URL, and passes none on a first deploy or a redeploy of
 * the same task definition (the gate then judges fixed limits and says so). Canary and linear
 * steps compare too.
 */
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeNetworkInterfacesCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  DescribeServiceRevisionsCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  RunTaskCommand,
  type Task,
} from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { findBaseline, servingRevision, taskAddress } from '../../lambda/k6-gate/baseline';
import { type HookConfig, readHookConfig } from '../../lambda/k6-gate/config';
import { parseHookEvent } from '../../lambda/k6-gate/event';
import { type GateDeps, handleHookEvent } from '../../lambda/k6-gate/gate';
import { GATE_ENV, HOOK_ENV } from '../../lib/contract';

const ecs = mockClient(ECSClient);
const ec2 = mockClient(EC2Client);
const cloudwatch = mockClient(CloudWatchClient);

const CLUSTER = 'arn:aws:ecs:us-east-1:111122223333:cluster/chat-dev';
const GREEN = 'arn:aws:ecs:us-east-1:111122223333:service-revision/chat-dev/chat-dev-api/222';
const BLUE = 'arn:aws:ecs:us-east-1:111122223333:service-revision/chat-dev/chat-dev-api/111';
const BLUE_TD = 'arn:aws:ecs:us-east-1:111122223333:task-definition/chat-dev-api:41';
const GREEN_TD = 'arn:aws:ecs:us-east-1:111122223333:task-definition/chat-dev-api:42';

const config: HookConfig = {
  clusterArn: CLUSTER,
  taskDefinitionArn: 'arn:aws:ecs:us-east-1:111122223333:task-definition/chat-dev-k6-runner:7',
  containerName: 'k6',
  subnetIds: ['subnet-a'],
  securityGroupId: 'sg-runner',
  runnerLogGroup: '/chat-dev/k6-runner',
  loadBalancerFullName: 'app/chat-dev-alb/0123456789abcdef',
  testListenerPort: 8080,
  serviceContainerPort: 3000,
  serviceName: 'chat-dev-api',
  parallelism: 2,
  timeoutMs: 15 * 60_000,
};

const rawEvent = (prod: Record<string, number>, stage = 'POST_TEST_TRAFFIC_SHIFT') => ({
  executionId: '3a0345ba-b029-404b-890d-7da2a4b266aa',
  lifecycleStage: stage,
  executionDetails: {
    serviceArn: 'arn:aws:ecs:us-east-1:111122223333:service/chat-dev/chat-dev-api',
    targetServiceRevisionArn: GREEN,
    testTrafficWeights: {},
    productionTrafficWeights: prod,
  },
  hookDetails: { PROFILE: 'smoke', EXPECTED_VERSION: '2.0.0' },
});

const serviceTask = (ip: string, taskDefinitionArn: string, fields: Partial<Task> = {}): Task => ({
  taskArn: `arn:aws:ecs:us-east-1:111122223333:task/chat-dev/${ip}`,
  taskDefinitionArn,
  lastStatus: 'RUNNING',
  healthStatus: 'HEALTHY',
  attachments: [{ type: 'ElasticNetworkInterface', details: [{ name: 'privateIPv4Address', value: ip }] }],
  ...fields,
});

let logs: Record<string, unknown>[] = [];
const deps = (overrides: Partial<HookConfig> = {}): GateDeps => ({
  ecs: new ECSClient({}),
  ec2: new EC2Client({}),
  cloudwatch: new CloudWatchClient({}),
  config: { ...config, ...overrides },
  now: () => Date.parse('2026-12-02T17:00:00Z'),
  log: (line) => logs.push(line),
});
const envOf = (input: {
  overrides?: { containerOverrides?: { environment?: { name?: string; value?: string }[] }[] };
}) => Object.fromEntries((input.overrides?.containerOverrides?.[0]?.environment ?? []).map((e) => [e.name, e.value]));

beforeEach(() => {
  ecs.reset();
  ec2.reset();
  cloudwatch.reset();
  logs = [];
  cloudwatch.on(PutMetricDataCommand).resolves({});
  ec2.on(DescribeNetworkInterfacesCommand).resolves({
    NetworkInterfaces: [{ PrivateIpAddress: '10.10.0.10', Status: 'in-use' }],
  });
  ecs.on(DescribeServiceRevisionsCommand).resolves({
    serviceRevisions: [
      { serviceRevisionArn: BLUE, taskDefinition: BLUE_TD },
      { serviceRevisionArn: GREEN, taskDefinition: GREEN_TD },
    ],
  });
  ecs.on(ListTasksCommand).resolves({ taskArns: ['t1', 't2', 't3', 't4'] });
  ecs.on(DescribeTasksCommand).resolves({
    tasks: [
      serviceTask('10.10.2.7', BLUE_TD),
      serviceTask('10.10.1.5', BLUE_TD),
      serviceTask('10.10.3.9', GREEN_TD), // the candidate's own task: never the baseline
      serviceTask('10.10.4.1', BLUE_TD, { healthStatus: 'UNHEALTHY' }),
    ],
  });
  ecs
    .on(RunTaskCommand)
    .resolvesOnce({ tasks: [{ taskArn: 'task/a', lastStatus: 'PENDING', createdAt: new Date() }] })
    .resolvesOnce({ tasks: [{ taskArn: 'task/b', lastStatus: 'PENDING', createdAt: new Date() }] });
});

describe('which revision is the baseline', () => {
  test('the other revision with the most production traffic; none on a first deploy', () => {
    expect(servingRevision(parseHookEvent(rawEvent({ [BLUE]: 100 })))).toBe(BLUE);
    expect(servingRevision(parseHookEvent(rawEvent({ [BLUE]: 90, [GREEN]: 10 }, 'PRE_PRODUCTION_TRAFFIC_SHIFT')))).toBe(
      BLUE,
    );
    expect(servingRevision(parseHookEvent(rawEvent({})))).toBeUndefined();
    expect(servingRevision(parseHookEvent(rawEvent({ [GREEN]: 100 })))).toBeUndefined();
  });

  test("a task's private address comes from its ENI attachment", () => {
    expect(taskAddress(serviceTask('10.0.0.1', BLUE_TD))).toBe('10.0.0.1');
    expect(taskAddress({})).toBeUndefined();
  });

  test("the serving revision's running, healthy tasks on the container port, sorted", async () => {
    const found = await findBaseline(parseHookEvent(rawEvent({ [BLUE]: 100 })), {
      ecs: new ECSClient({}),
      clusterArn: CLUSTER,
      containerPort: 3000,
    });
    expect(found).toEqual({
      kind: 'found',
      revisionArn: BLUE,
      taskDefinitionArn: BLUE_TD,
      urls: ['http://10.10.1.5:3000', 'http://10.10.2.7:3000'],
    });
    expect(ecs.commandCalls(ListTasksCommand)[0]?.args[0].input).toMatchObject({
      cluster: CLUSTER,
      serviceName: 'chat-dev-api',
      desiredStatus: 'RUNNING',
    });
  });

  test('a redeploy of the same task definition has no baseline (it would answer as the candidate)', async () => {
    ecs.on(DescribeServiceRevisionsCommand).resolves({
      serviceRevisions: [
        { serviceRevisionArn: BLUE, taskDefinition: GREEN_TD },
        { serviceRevisionArn: GREEN, taskDefinition: GREEN_TD },
      ],
    });
    const found = await findBaseline(parseHookEvent(rawEvent({ [BLUE]: 100 })), {
      ecs: new ECSClient({}),
      clusterArn: CLUSTER,
      containerPort: 3000,
    });
    expect(found).toMatchObject({ kind: 'none', reason: expect.stringMatching(/same task definition/) });
  });
});

describe('the runner tasks get the baseline input', () => {
  test('every runner gets BASELINE_URL, spread over the serving tasks, next to BASE_URL', async () => {
    const res = await handleHookEvent(rawEvent({ [BLUE]: 100 }), deps());
    expect(res.hookStatus).toBe('IN_PROGRESS');
    const envs = ecs.commandCalls(RunTaskCommand).map((c) => envOf(c.args[0].input));
    expect(envs).toEqual([
      expect.objectContaining({
        [GATE_ENV.baseUrl]: 'http://10.10.0.10:8080',
        [GATE_ENV.baselineUrl]: 'http://10.10.1.5:3000',
      }),
      expect.objectContaining({ [GATE_ENV.baselineUrl]: 'http://10.10.2.7:3000' }),
    ]);
    expect(logs.find((l) => l.event === 'k6-gate.started')?.baseline).toMatchObject({ revision: BLUE });
  });

  test('a canary step compares too: the old revision still serving most traffic is the baseline', async () => {
    await handleHookEvent(rawEvent({ [BLUE]: 90, [GREEN]: 10 }, 'PRE_PRODUCTION_TRAFFIC_SHIFT'), deps());
    const envs = ecs.commandCalls(RunTaskCommand).map((c) => envOf(c.args[0].input));
    expect(envs[0]?.[GATE_ENV.baselineUrl]).toBe('http://10.10.1.5:3000');
  });

  test('a first deploy passes no BASELINE_URL and logs why: the gate runs on fixed limits', async () => {
    await handleHookEvent(rawEvent({}), deps());
    const envs = ecs.commandCalls(RunTaskCommand).map((c) => envOf(c.args[0].input));
    expect(envs).toHaveLength(2);
    for (const env of envs) expect(env[GATE_ENV.baselineUrl]).toBeUndefined();
    expect(logs.find((l) => l.event === 'k6-gate.started')?.baseline).toEqual({
      none: expect.stringMatching(/first deploy/),
    });
  });

  test('the container port is read from the hook environment', () => {
    const env = {
      [HOOK_ENV.clusterArn]: CLUSTER,
      [HOOK_ENV.taskDefinitionArn]: config.taskDefinitionArn,
      [HOOK_ENV.containerName]: 'k6',
      [HOOK_ENV.subnetIds]: 'subnet-a',
      [HOOK_ENV.securityGroupId]: 'sg-runner',
      [HOOK_ENV.runnerLogGroup]: '/x',
      [HOOK_ENV.loadBalancerFullName]: 'app/x/1',
      [HOOK_ENV.testListenerPort]: '8080',
      [HOOK_ENV.serviceName]: 'chat-dev-api',
      [HOOK_ENV.parallelism]: '1',
      [HOOK_ENV.timeoutMinutes]: '15',
    };
    expect(readHookConfig({ ...env, [HOOK_ENV.serviceContainerPort]: '3000' }).serviceContainerPort).toBe(3000);
    expect(() => readHookConfig({ ...env, [HOOK_ENV.serviceContainerPort]: '0' })).toThrow(/SERVICE_CONTAINER_PORT/);
  });
});

import * as fs from 'node:fs';
import * as path from 'node:path';
import { Annotations, Match, type Template } from 'aws-cdk-lib/assertions';
import { readHookConfig } from '../../lambda/k6-gate/config';
import { type StageConfig, serviceDimension } from '../../lib/config';
import { API_CONTAINER_PORT } from '../../lib/constructs/chat-api-task-definition';
import { HOOK_TIMEOUT_MARGIN_MINUTES } from '../../lib/constructs/deployment-settings';
import { K6_CONTAINER_NAME } from '../../lib/constructs/k6-runner';
import { repoImage } from '../../lib/constructs/repo-image';
import { formatLlmPrice, GATE_METRICS, HOOK_ENV, ROUTES } from '../../lib/contract';
import { deploymentAlarmNames } from '../../lib/monitoring/alarm-names';
import {
  type Mutable,
  type SynthesizedPlatform,
  synthConfig,
  synthStage,
  TEST_APP_VERSION,
  withOverrides,
} from '../support/cdk';

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation is untyped JSON.
type Json = any;

const prod = synthStage('prod');
const dev = synthStage('dev');
const prodService = prod.template(prod.stacks.service);
const devService = dev.template(dev.stacks.service);

const only = (template: Template, type: string, props?: Json): { id: string; Properties: Json } => {
  const found = template.findResources(type, props ? { Properties: props } : undefined);
  const ids = Object.keys(found);
  expect(ids).toHaveLength(1);
  return { id: ids[0], Properties: found[ids[0]].Properties };
};
const serviceProps = (t: Template) => only(t, 'AWS::ECS::Service').Properties;
const logicalId = (p: SynthesizedPlatform, construct: { node: { defaultChild?: unknown } }) =>
  p.stacks.service.getLogicalId(construct.node.defaultChild as never);

describe('ECS cluster and task definitions', () => {
  test('the cluster has Container Insights with enhanced observability', () => {
    prodService.hasResourceProperties('AWS::ECS::Cluster', {
      ClusterSettings: [{ Name: 'containerInsights', Value: 'enhanced' }],
    });
  });

  test('both task definitions (API and k6 runner) run on ARM64 Fargate', () => {
    const defs = prodService.findResources('AWS::ECS::TaskDefinition');
    expect(Object.keys(defs)).toHaveLength(2);
    for (const def of Object.values(defs)) {
      expect(def.Properties).toMatchObject({
        RequiresCompatibilities: ['FARGATE'],
        NetworkMode: 'awsvpc',
        RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
      });
    }
  });

  test('the API container logs to its own group with the stage retention and stops within the drain budget', () => {
    const api = prod.stacks.service;
    prodService.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/chat/prod/api',
      RetentionInDays: prod.config.logRetentionDays,
    });
    prodService.hasResourceProperties('AWS::ECS::TaskDefinition', {
      Family: 'chat-prod-api',
      Cpu: String(prod.config.service.cpu),
      Memory: String(prod.config.service.memoryMiB),
      ContainerDefinitions: [
        Match.objectLike({
          Name: 'api',
          PortMappings: [{ ContainerPort: API_CONTAINER_PORT, Protocol: 'tcp' }],
          StopTimeout: prod.config.service.stopTimeoutSeconds,
          LogConfiguration: {
            LogDriver: 'awslogs',
            Options: Match.objectLike({
              'awslogs-group': { Ref: api.getLogicalId(api.api.logGroup.node.defaultChild as never) },
            }),
          },
        }),
      ],
    });
    expect(prod.config.service.drainTimeoutMs).toBeLessThan(prod.config.service.stopTimeoutSeconds * 1000);
  });

  test('the API image is built from service/Dockerfile for ARM64, by default', () => {
    const asset = dockerAssets(prod).find((a) => a.file === 'service/Dockerfile');
    expect(asset).toMatchObject({ platform: 'linux/arm64' });
  });

  test('the image context holds only what the image needs (no node_modules, tests, docs or CDK code)', () => {
    for (const asset of dockerAssets(prod)) {
      const files = listFiles(path.join(prod.app.outdir, asset.path));
      expect(files.length).toBeGreaterThan(0);
      const leaks = files.filter(
        (f) => /(^|\/)(node_modules|cdk\.out|test|docs|\.git)\//.test(f) || f.startsWith('lib/stacks/'),
      );
      expect({ asset: asset.file, leaks }).toEqual({ asset: asset.file, leaks: [] });
      expect(files).toContain(asset.file);
      expect(files.some((f) => f.startsWith('lib/contract/'))).toBe(true);
    }
  });

  test('an image whose Dockerfile has no .dockerignore of its own is refused, naming the file to add', () => {
    expect(() => repoImage({ file: 'nowhere/Dockerfile' })).toThrow(
      /nowhere\/Dockerfile\.dockerignore is missing: add it beside nowhere\/Dockerfile/,
    );
  });

  test.each(['dev', 'staging', 'prod'] as const)('the %s synth has no error', (stage) => {
    const errors = Annotations.fromStack(synthStage(stage).stacks.service)
      .findError('*', Match.anyValue())
      .map((e) => String(e.entry.data));
    expect(errors).toEqual([]);
  });

  test('a configured image URI is used as is, and an ECR repository is pulled with permissions on it only', () => {
    const uri = '111122223333.dkr.ecr.us-east-1.amazonaws.com/chat-api:1.4.2';
    const p = synthConfig(withOverrides('dev', (c) => (c.service.image = { kind: 'uri', uri })));
    const t = p.template(p.stacks.service);
    const api = Object.values(t.findResources('AWS::ECS::TaskDefinition'))
      .flatMap((r) => r.Properties.ContainerDefinitions)
      .find((c: Json) => c.Name === 'api');
    expect(api.Image).toEqual({
      'Fn::Join': ['', ['111122223333.dkr.ecr.us-east-1.', { Ref: 'AWS::URLSuffix' }, '/chat-api:1.4.2']],
    });
    expect(dockerAssets(p).map((a) => a.file)).toEqual(['loadtests/Dockerfile']);
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: Match.arrayWith(['ecr:BatchGetImage']),
            Resource: 'arn:aws:ecr:us-east-1:111122223333:repository/chat-api',
          }),
        ]),
      },
    });
  });

  test('the task role may re-read only the database and cache secrets, decrypting through Secrets Manager only', () => {
    const taskRoleId = prod.stacks.service.getLogicalId(
      prod.stacks.service.node
        .findAll()
        .find((c) => c.node.path.endsWith('Api/TaskDefinition/TaskRole/Resource')) as never,
    );
    const policies = Object.values(prodService.findResources('AWS::IAM::Policy')).filter((p) =>
      p.Properties.Roles.some((r: Json) => r.Ref === taskRoleId),
    );
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement);
    const text = JSON.stringify(statements);
    expect(text).toMatch(/AppUserSecret/);
    expect(text).toMatch(/CacheAuthToken/);
    expect(text).not.toMatch(/LlmApiKey/);
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: 'kms:Decrypt',
        Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com' } },
      }),
    );
    for (const s of statements) expect(s.Resource).not.toBe('*');
  });
});

describe('cdk-nag AwsSolutions', () => {
  test.each(['dev', 'staging', 'prod'] as const)('the %s Service stack has no unacknowledged finding', (stage) => {
    const p = synthStage(stage);
    const annotations = Annotations.fromStack(p.stacks.service);
    expect(annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-'))).toEqual([]);
    expect(annotations.findWarning('*', Match.stringLikeRegexp('CdkNagValidationFailure'))).toEqual([]);
  });
});

describe('load balancer', () => {
  test('HTTPS with the configured certificate in prod, and no plain HTTP listener at all', () => {
    const listeners = Object.values(prodService.findResources('AWS::ElasticLoadBalancingV2::Listener'));
    const production = listeners.find((l) => l.Properties.Port === prod.config.ingress.productionPort);
    expect(production?.Properties).toMatchObject({
      Protocol: 'HTTPS',
      Certificates: [{ CertificateArn: prod.config.ingress.certificateArn }],
    });
    expect(listeners.filter((l) => l.Properties.Protocol === 'HTTP').map((l) => l.Properties.Port)).toEqual([
      prod.config.ingress.testPort,
    ]);
  });

  test('HTTP production listener only where the stage allows it (dev, no certificate)', () => {
    devService.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: dev.config.ingress.productionPort,
      Protocol: 'HTTP',
    });
    expect(dev.config.ingress.allowHttp).toBe(true);
  });

  test("listener shape: every action on both listeners is a forward (blue/green guide's limitation, any reading)", () => {
    const listeners = Object.entries(prodService.findResources('AWS::ElasticLoadBalancingV2::Listener'));
    const rules = Object.values(prodService.findResources('AWS::ElasticLoadBalancingV2::ListenerRule'));
    expect(listeners).toHaveLength(2);
    const actions = [
      ...listeners.flatMap(([, l]) => l.Properties.DefaultActions),
      ...rules
        .filter((r) => listeners.some(([id]) => r.Properties.ListenerArn.Ref === id))
        .flatMap((r) => r.Properties.Actions),
    ];
    expect(actions.length).toBeGreaterThanOrEqual(4);
    expect(actions.map((a: Json) => a.Type)).toEqual(actions.map(() => 'forward'));
  });

  test("both listeners' default forwards to the Lambda that answers the contract's 404", () => {
    const [tgId, tg] = Object.entries(prodService.findResources('AWS::ElasticLoadBalancingV2::TargetGroup')).find(
      ([, t]) => t.Properties.TargetType === 'lambda',
    ) as [string, Json];
    expect(tg.Properties.Targets).toHaveLength(1);
    for (const l of Object.values(prodService.findResources('AWS::ElasticLoadBalancingV2::Listener'))) {
      expect(l.Properties.DefaultActions).toEqual([{ Type: 'forward', TargetGroupArn: { Ref: tgId } }]);
    }
  });

  test('the production and test rules are pure forward actions to the blue and green target groups', () => {
    const blue = logicalId(prod, prod.stacks.service.ingress.blueTargetGroup);
    const green = logicalId(prod, prod.stacks.service.ingress.greenTargetGroup);
    const rules = Object.values(prodService.findResources('AWS::ElasticLoadBalancingV2::ListenerRule'));
    expect(rules).toHaveLength(2);
    const listenerIds = rules.map((r) => r.Properties.ListenerArn.Ref).sort();
    expect(listenerIds).toEqual(
      [
        logicalId(prod, prod.stacks.service.ingress.productionListener),
        logicalId(prod, prod.stacks.service.ingress.testListener),
      ].sort(),
    );
    for (const rule of rules) {
      expect(rule.Properties.Actions).toEqual([
        {
          Type: 'forward',
          ForwardConfig: {
            TargetGroups: [
              { TargetGroupArn: { Ref: blue }, Weight: 100 },
              { TargetGroupArn: { Ref: green }, Weight: 0 },
            ],
          },
        },
      ]);
    }
  });

  test('the service is wired to both rules: production and test, blue primary, green alternate', () => {
    const lb = serviceProps(prodService).LoadBalancers;
    expect(lb).toEqual([
      expect.objectContaining({
        ContainerName: 'api',
        ContainerPort: API_CONTAINER_PORT,
        TargetGroupArn: { Ref: logicalId(prod, prod.stacks.service.ingress.blueTargetGroup) },
        AdvancedConfiguration: expect.objectContaining({
          AlternateTargetGroupArn: { Ref: logicalId(prod, prod.stacks.service.ingress.greenTargetGroup) },
          ProductionListenerRule: { Ref: expect.stringMatching(/^IngressProductionRule/) },
          TestListenerRule: { Ref: expect.stringMatching(/^IngressTestRule/) },
        }),
      }),
    ]);
  });

  test('both target groups health-check readiness, and drain before the service does', () => {
    // The service's blue and green groups (the third, a Lambda group, answers unmatched paths).
    const groups = Object.values(
      prodService.findResources('AWS::ElasticLoadBalancingV2::TargetGroup', { Properties: { TargetType: 'ip' } }),
    );
    expect(groups).toHaveLength(2);
    for (const g of groups) {
      expect(g.Properties).toMatchObject({
        TargetType: 'ip',
        Protocol: 'HTTP',
        Port: API_CONTAINER_PORT,
        HealthCheckPath: ROUTES.ready,
        Matcher: { HttpCode: '200' },
      });
      const delay = g.Properties.TargetGroupAttributes.find(
        (a: Json) => a.Key === 'deregistration_delay.timeout_seconds',
      );
      expect(Number(delay.Value)).toBeLessThan(prod.config.service.drainTimeoutMs / 1000);
    }
  });

  test('the test listener admits only the k6 runner security group; production admits the configured CIDRs', () => {
    const lbGroup = logicalId(prod, prod.stacks.service.ingress.loadBalancer.connections.securityGroups[0] as never);
    const runnerGroup = logicalId(prod, prod.stacks.service.runner.securityGroup as never);
    const inline = only(prodService, 'AWS::EC2::SecurityGroup', { GroupDescription: Match.stringLikeRegexp('alb') })
      .Properties.SecurityGroupIngress as Json[];
    const separate = Object.values(prodService.findResources('AWS::EC2::SecurityGroupIngress'))
      .map((r) => r.Properties)
      .filter((p) => p.GroupId?.['Fn::GetAtt']?.[0] === lbGroup);
    const all = [...inline, ...separate];
    const onTestPort = all.filter((r) => r.FromPort === prod.config.ingress.testPort);
    expect(onTestPort).toEqual([
      expect.objectContaining({
        SourceSecurityGroupId: { 'Fn::GetAtt': [runnerGroup, 'GroupId'] },
        ToPort: prod.config.ingress.testPort,
      }),
    ]);
    const onProductionPort = all.filter((r) => r.FromPort === prod.config.ingress.productionPort);
    expect(onProductionPort.map((r) => r.CidrIp).sort()).toEqual([...prod.config.ingress.allowedCidrs].sort());
    expect(
      all.every(
        (r) => r.FromPort === prod.config.ingress.testPort || r.FromPort === prod.config.ingress.productionPort,
      ),
    ).toBe(true);
  });

  test("the service's security group admits the load balancer on the container port", () => {
    const lbGroup = logicalId(prod, prod.stacks.service.ingress.loadBalancer.connections.securityGroups[0] as never);
    prodService.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp',
      FromPort: API_CONTAINER_PORT,
      ToPort: API_CONTAINER_PORT,
      SourceSecurityGroupId: { 'Fn::GetAtt': [lbGroup, 'GroupId'] },
      GroupId: Match.objectLike({ 'Fn::GetStackOutput': Match.objectLike({ StackName: 'chat-prod-network' }) }),
    });
  });

  test('access logs go to an encrypted, SSL-only bucket', () => {
    prodService.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Scheme: 'internet-facing',
      LoadBalancerAttributes: Match.arrayWith([{ Key: 'access_logs.s3.enabled', Value: 'true' }]),
    });
    prodService.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
    });
  });
});

describe('the listener rules never change with a deployment (aws-cdk issue 36649)', () => {
  const rulesOf = (p: SynthesizedPlatform) =>
    p.template(p.stacks.service).findResources('AWS::ElasticLoadBalancingV2::ListenerRule');

  test('a new version, image, strategy, bake time, gate profile or task size leaves both rules byte-identical', () => {
    const changed = synthConfig(
      withOverrides('prod', (c) => {
        c.service.image = { kind: 'uri', uri: '111122223333.dkr.ecr.us-east-1.amazonaws.com/chat-api:2.0.0' };
        c.deployment.strategy = 'LINEAR';
        c.deployment.bakeTimeMinutes = 30;
        c.deployment.gate.profile = 'heavy';
        c.service.cpu = 2048;
        c.service.memoryMiB = 4096;
        c.service.minTaskCount = 4;
      }),
    );
    expect(rulesOf(changed)).toEqual(rulesOf(prod));
  });
});

describe('autoscaling', () => {
  test('scales between the stage limits on CPU and on memory', () => {
    prodService.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      MinCapacity: prod.config.service.minTaskCount,
      MaxCapacity: prod.config.service.maxTaskCount,
      ScalableDimension: 'ecs:service:DesiredCount',
    });
    for (const [metric, target] of [
      ['ECSServiceAverageCPUUtilization', prod.config.service.targetCpuUtilizationPercent],
      ['ECSServiceAverageMemoryUtilization', prod.config.service.targetMemoryUtilizationPercent],
    ] as const) {
      prodService.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
        PolicyType: 'TargetTrackingScaling',
        TargetTrackingScalingPolicyConfiguration: Match.objectLike({
          PredefinedMetricSpecification: { PredefinedMetricType: metric },
          TargetValue: target,
        }),
      });
    }
  });

  test('deployments never reset the running count (no DesiredCount in the template)', () => {
    expect(serviceProps(prodService)).not.toHaveProperty('DesiredCount');
  });
});

describe('deployment configuration', () => {
  const withStrategy = (mutate: (c: Mutable<StageConfig>) => void) => {
    const p = synthConfig(withOverrides('staging', mutate));
    return serviceProps(p.template(p.stacks.service));
  };

  test('BLUE_GREEN by default, with an explicit bake time and a rolling-back circuit breaker', () => {
    expect(serviceProps(prodService).DeploymentConfiguration).toMatchObject({
      Strategy: 'BLUE_GREEN',
      BakeTimeInMinutes: prod.config.deployment.bakeTimeMinutes,
      DeploymentCircuitBreaker: { Enable: true, Rollback: true },
      MinimumHealthyPercent: 100,
      MaximumPercent: 200,
    });
  });

  test.each(['dev', 'staging', 'prod'] as const)('the %s bake time is always explicit', (stage) => {
    const p = synthStage(stage);
    expect(serviceProps(p.template(p.stacks.service)).DeploymentConfiguration.BakeTimeInMinutes).toBe(
      p.config.deployment.bakeTimeMinutes,
    );
  });

  test('CANARY: the canary percentage and its bake time, gated at the test stage and at every production step', () => {
    const props = withStrategy((c) => {
      c.deployment.strategy = 'CANARY';
      c.deployment.canary = { canaryPercent: 12.5, canaryBakeTimeMinutes: 7 };
    });
    expect(props.DeploymentConfiguration).toMatchObject({
      Strategy: 'CANARY',
      CanaryConfiguration: { CanaryPercent: 12.5, CanaryBakeTimeInMinutes: 7 },
      BakeTimeInMinutes: 10,
      DeploymentCircuitBreaker: { Enable: true, Rollback: true },
    });
    expect(props.DeploymentConfiguration).not.toHaveProperty('LinearConfiguration');
    expect(props.DeploymentConfiguration.LifecycleHooks[0].LifecycleStages).toEqual([
      'POST_TEST_TRAFFIC_SHIFT',
      'PRODUCTION_TRAFFIC_SHIFT',
    ]);
  });

  test('LINEAR: the step and its bake time, gated at the test stage and at every production step', () => {
    const props = withStrategy((c) => {
      c.deployment.strategy = 'LINEAR';
      c.deployment.linear = { stepPercent: 20, stepBakeTimeMinutes: 3 };
    });
    expect(props.DeploymentConfiguration).toMatchObject({
      Strategy: 'LINEAR',
      LinearConfiguration: { StepPercent: 20, StepBakeTimeInMinutes: 3 },
      DeploymentCircuitBreaker: { Enable: true, Rollback: true },
    });
    expect(props.DeploymentConfiguration).not.toHaveProperty('CanaryConfiguration');
    expect(props.DeploymentConfiguration.LifecycleHooks[0].LifecycleStages).toEqual([
      'POST_TEST_TRAFFIC_SHIFT',
      'PRODUCTION_TRAFFIC_SHIFT',
    ]);
  });

  test('BLUE_GREEN gates once, after test traffic reaches green', () => {
    expect(serviceProps(prodService).DeploymentConfiguration.LifecycleHooks[0].LifecycleStages).toEqual([
      'POST_TEST_TRAFFIC_SHIFT',
    ]);
  });

  test('deployment alarms roll back, by the fixed names the Monitoring stack creates', () => {
    expect(serviceProps(prodService).DeploymentConfiguration.Alarms).toEqual({
      AlarmNames: deploymentAlarmNames(prod.config),
      Enable: true,
      Rollback: true,
    });
    expect(deploymentAlarmNames(prod.config)).toEqual([
      'chat-prod-service-5xx-rate',
      'chat-prod-service-p95-latency',
      'chat-prod-gate-failed',
    ]);
  });
});

describe('the k6 gate', () => {
  const hooks = () => serviceProps(prodService).DeploymentConfiguration.LifecycleHooks;

  test('one Lambda hook carrying the profile and the version this deploy expects, with an ECS-side backstop timeout', () => {
    const gateId = logicalId(prod, prod.stacks.service.gate.function as never);
    expect(hooks()).toEqual([
      {
        HookTargetArn: { 'Fn::GetAtt': [gateId, 'Arn'] },
        RoleArn: { 'Fn::GetAtt': [expect.stringMatching(/^GateHookInvokeRole/), 'Arn'] },
        LifecycleStages: ['POST_TEST_TRAFFIC_SHIFT'],
        HookDetails: {
          PROFILE: prod.config.deployment.gate.profile,
          EXPECTED_VERSION: TEST_APP_VERSION,
          // The stage's LLM price, for the verdict's cost per 1,000 answers.
          LLM_PRICE_PER_MTOK: formatLlmPrice(prod.config.service.llm.pricePerMTok),
        },
        TimeoutConfiguration: {
          TimeoutInMinutes: prod.config.deployment.gate.timeoutMinutes + HOOK_TIMEOUT_MARGIN_MINUTES,
          Action: 'ROLLBACK',
        },
      },
    ]);
  });

  test('ECS may invoke the gate function and nothing else', () => {
    const role = only(prodService, 'AWS::IAM::Role', {
      AssumeRolePolicyDocument: Match.objectLike({
        Statement: [Match.objectLike({ Principal: { Service: 'ecs.amazonaws.com' } })],
      }),
      Description: Match.stringLikeRegexp('invokes the k6 gate'),
    });
    const policy = only(prodService, 'AWS::IAM::Policy', { Roles: [{ Ref: role.id }] });
    expect(policy.Properties.PolicyDocument.Statement).toEqual([
      {
        Action: 'lambda:InvokeFunction',
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [logicalId(prod, prod.stacks.service.gate.function as never), 'Arn'] },
      },
    ]);
  });

  test('where the gate is disabled (never in prod) the hook is not attached', () => {
    const p = synthConfig(withOverrides('dev', (c) => (c.deployment.gate.enabled = false)));
    expect(serviceProps(p.template(p.stacks.service)).DeploymentConfiguration).not.toHaveProperty('LifecycleHooks');
  });

  test('the hook function environment is exactly what its handler reads, and it parses', () => {
    const fn = only(prodService, 'AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('k6 gate lifecycle hook'),
    });
    expect(fn.Properties).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'] });
    const variables: Record<string, Json> = fn.Properties.Environment.Variables;
    expect(Object.keys(variables).sort()).toEqual(Object.values(HOOK_ENV).sort());
    // The profile and the version reach the hook by the service's hook details alone (above).
    expect(Object.values(variables)).not.toContain(prod.config.deployment.gate.profile);
    expect(Object.values(variables)).not.toContain(TEST_APP_VERSION);
    // Deploy-time references stand in as plausible values; the literals must parse as they are.
    const asDeployed = Object.fromEntries(
      Object.entries(variables).map(([k, v]) => [
        k,
        typeof v === 'string'
          ? v
          : k === HOOK_ENV.clusterArn
            ? 'arn:aws:ecs:us-east-1:111122223333:cluster/chat-prod-cluster'
            : `resolved-${k}`,
      ]),
    );
    expect(readHookConfig(asDeployed)).toMatchObject({
      containerName: K6_CONTAINER_NAME,
      testListenerPort: prod.config.ingress.testPort,
      serviceName: serviceDimension(prod.config),
      parallelism: prod.config.deployment.gate.parallelism,
      timeoutMs: prod.config.deployment.gate.timeoutMinutes * 60_000,
    });
    expect(variables[HOOK_ENV.subnetIds]).toBeDefined();
  });

  test('least privilege: RunTask on the runner only, PassRole for its roles only, tasks of this cluster only', () => {
    const service = prod.stacks.service;
    const cluster = logicalId(prod, service.cluster);
    const runnerTaskDef = logicalId(prod, service.runner.taskDefinition);
    const inCluster = { ArnEquals: { 'ecs:cluster': { 'Fn::GetAtt': [cluster, 'Arn'] } } };
    const roleId = (fn: Json) => fn.Properties.Role['Fn::GetAtt'][0];
    const fn = only(prodService, 'AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('k6 gate lifecycle hook'),
    });
    const policy = only(prodService, 'AWS::IAM::Policy', { Roles: [{ Ref: roleId(fn) }] });
    const statements: Json[] = policy.Properties.PolicyDocument.Statement;
    const bySid = (sid: string) => statements.find((s) => s.Sid === sid);

    expect(bySid('RunTheRunnerOnly')).toEqual(
      expect.objectContaining({ Action: 'ecs:RunTask', Resource: { Ref: runnerTaskDef }, Condition: inCluster }),
    );
    const passRole = bySid('PassTheRunnerRolesOnly');
    expect(passRole.Action).toBe('iam:PassRole');
    expect(passRole.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
    expect(passRole.Resource.map((r: Json) => r['Fn::GetAtt'][0]).sort()).toEqual(
      [
        logicalId(prod, service.runner.taskDefinition.taskRole as never),
        logicalId(prod, service.runner.taskDefinition.executionRole as never),
      ].sort(),
    );
    expect(bySid('WatchAndStopTasksOfThisCluster')).toEqual(
      expect.objectContaining({ Action: ['ecs:DescribeTasks', 'ecs:StopTask'], Condition: inCluster }),
    );
    expect(JSON.stringify(bySid('WatchAndStopTasksOfThisCluster').Resource)).toMatch(/:task\/.*\/\*"/);
    expect(bySid('FindRunnersOfAnExecution')).toEqual(
      expect.objectContaining({ Action: 'ecs:ListTasks', Condition: inCluster }),
    );
    expect(bySid('PublishGateMetrics')).toEqual(
      expect.objectContaining({
        Action: 'cloudwatch:PutMetricData',
        Condition: { StringEquals: { 'cloudwatch:namespace': GATE_METRICS.namespace } },
      }),
    );
    // Nothing else: no ecs:* or iam:* beyond the statements above, and every "*" is conditioned or unavoidable.
    const unconditionedStars = statements.filter((s) => s.Resource === '*' && !s.Condition).map((s) => s.Action);
    expect(unconditionedStars).toEqual(['ec2:DescribeNetworkInterfaces']);
    expect(JSON.stringify(statements)).not.toMatch(/"(ecs|iam):\*"/);
  });

  test('the k6 runner: its own task definition, log group and a security group with no open ingress', () => {
    prodService.hasResourceProperties('AWS::ECS::TaskDefinition', {
      Family: 'chat-prod-k6-runner',
      Cpu: String(prod.config.deployment.gate.runnerCpu),
      Memory: String(prod.config.deployment.gate.runnerMemoryMiB),
      ContainerDefinitions: [Match.objectLike({ Name: K6_CONTAINER_NAME, Essential: true })],
    });
    prodService.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/chat/prod/k6-runner',
      RetentionInDays: prod.config.logRetentionDays,
    });
    const runnerGroup =
      prodService.toJSON().Resources[logicalId(prod, prod.stacks.service.runner.securityGroup as never)];
    expect(runnerGroup.Properties.SecurityGroupIngress).toBeUndefined();
    const asset = dockerAssets(prod).find((a) => a.file === 'loadtests/Dockerfile');
    expect(asset).toMatchObject({ platform: 'linux/arm64' });
  });
});

interface DockerAsset {
  readonly path: string;
  readonly file: string;
  readonly platform?: string;
}

/** The Docker image assets of the Service stack, from the stack's asset manifest in the cloud assembly. */
function dockerAssets(p: SynthesizedPlatform): DockerAsset[] {
  const assembly = p.app.synth();
  const manifest = JSON.parse(
    fs.readFileSync(path.join(assembly.directory, `${p.stacks.service.artifactId}.assets.json`), 'utf8'),
  );
  return Object.values(manifest.dockerImages ?? {}).map((image: Json) => ({
    path: image.source.directory,
    file: image.source.dockerFile,
    platform: image.source.platform,
  }));
}

function listFiles(dir: string, prefix = ''): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    return entry.isDirectory() ? listFiles(path.join(dir, entry.name), rel) : [rel];
  });
}

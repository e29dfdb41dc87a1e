/**
 * A stage with the real Network, Data and Monitoring stacks and a small stand-in for the Service
 * stack (cluster, Fargate service, ALB with blue and green target groups, log groups), so the
 * Monitoring stack can be tested on its own. `synthMonitoredStage` uses the real Service stack
 * whenever `lib/chat-platform.ts` builds a Monitoring stack, and this fixture only otherwise.
 */
import { App, Aspects, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { AwsSolutionsChecks } from 'cdk-nag';
import cdkJson from '../../cdk.json';
import { physicalName, STAGES, type StageConfig, type StageName, validateStageConfig } from '../../lib/config';
import { DataStack } from '../../lib/stacks/data-stack';
import { type MonitoredService, MonitoringStack } from '../../lib/stacks/monitoring-stack';
import { NetworkStack } from '../../lib/stacks/network-stack';
import { synthStage } from '../support/cdk';

/** The Service stack's public surface, built minimally. */
class FixtureServiceStack extends Stack implements MonitoredService {
  readonly cluster: ecs.Cluster;
  readonly service: ecs.FargateService;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly blueTargetGroup: elbv2.ApplicationTargetGroup;
  readonly greenTargetGroup: elbv2.ApplicationTargetGroup;
  readonly logGroup: logs.LogGroup;
  readonly runnerLogGroup: logs.LogGroup;

  constructor(scope: App, id: string, config: StageConfig, network: NetworkStack) {
    super(scope, id, { env: config.env });
    const vpc = network.vpc;
    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc,
      clusterName: physicalName(config, 'cluster'),
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
    this.logGroup = new logs.LogGroup(this, 'Logs', { removalPolicy: RemovalPolicy.DESTROY });
    this.runnerLogGroup = new logs.LogGroup(this, 'RunnerLogs', { removalPolicy: RemovalPolicy.DESTROY });
    const task = new ecs.FargateTaskDefinition(this, 'Task', { cpu: 512, memoryLimitMiB: 1024 });
    task.addContainer('api', {
      image: ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/busybox:1.37'),
      portMappings: [{ containerPort: 8080 }],
      logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: 'api' }),
    });
    this.service = new ecs.FargateService(this, 'Service', {
      cluster: this.cluster,
      taskDefinition: task,
      serviceName: physicalName(config, 'api'),
      desiredCount: config.service.desiredCount,
      minHealthyPercent: 100,
      circuitBreaker: { enable: true, rollback: true },
    });
    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'Alb', { vpc, internetFacing: true });
    const targetGroup = (name: string) =>
      new elbv2.ApplicationTargetGroup(this, name, {
        vpc,
        port: 8080,
        protocol: elbv2.ApplicationProtocol.HTTP,
        targetType: elbv2.TargetType.IP,
        healthCheck: { path: '/health/ready' },
      });
    this.blueTargetGroup = targetGroup('Blue');
    this.greenTargetGroup = targetGroup('Green');
    const listener = (name: string, port: number, tg: elbv2.ApplicationTargetGroup) => {
      const l = this.loadBalancer.addListener(name, {
        port,
        protocol: elbv2.ApplicationProtocol.HTTP,
        defaultAction: elbv2.ListenerAction.fixedResponse(404),
      });
      l.addAction(`${name}Forward`, {
        priority: 1,
        conditions: [elbv2.ListenerCondition.pathPatterns(['/*'])],
        action: elbv2.ListenerAction.forward([tg]),
      });
    };
    listener('Production', 80, this.blueTargetGroup);
    listener('Test', 8080, this.greenTargetGroup);
    this.service.attachToApplicationTargetGroup(this.blueTargetGroup);
  }
}

export interface MonitoredStage {
  readonly app: App;
  readonly config: StageConfig;
  readonly monitoring: MonitoringStack;
  /** Whether the real Service stack is wired in `lib/chat-platform.ts` (else the fixture stands in). */
  readonly realServiceStack: boolean;
  readonly template: Template;
}

function synthWithFixture(config: StageConfig): MonitoredStage {
  const { stage: _stage, ...flags } = cdkJson.context;
  const app = new App({ context: { ...flags, 'aws:cdk:bundling-stacks': [] } });
  validateStageConfig(config);
  const env = { account: config.env.account, region: config.env.region };
  const name = (layer: string) => physicalName(config, layer);
  const network = new NetworkStack(app, name('network'), { env, config });
  const data = new DataStack(app, name('data'), {
    env,
    config,
    vpc: network.vpc,
    serviceSecurityGroup: network.serviceSecurityGroup,
  });
  const service = new FixtureServiceStack(app, name('service'), config, network);
  const monitoring = new MonitoringStack(app, name('monitoring'), {
    env,
    config,
    service,
    database: data.database.instance,
  });
  Aspects.of(monitoring).add(new AwsSolutionsChecks({ logIgnores: true }));
  app.synth();
  return { app, config, monitoring, realServiceStack: false, template: Template.fromStack(monitoring) };
}

const memo = new Map<string, MonitoredStage>();

/** A stage's Monitoring stack, from the real platform when it is wired, else with the fixture. */
export function synthMonitoredStage(stage: StageName, config: StageConfig = STAGES[stage]): MonitoredStage {
  const key = config === STAGES[stage] ? stage : `${stage}:${JSON.stringify(config)}`;
  let result = memo.get(key);
  if (!result) {
    const platform = config === STAGES[stage] ? synthStage(stage) : undefined;
    const real = (platform?.stacks as { monitoring?: MonitoringStack } | undefined)?.monitoring;
    result =
      platform && real
        ? {
            app: platform.app,
            config,
            monitoring: real,
            realServiceStack: true,
            template: platform.template(real),
          }
        : synthWithFixture(config);
    memo.set(key, result);
  }
  return result;
}

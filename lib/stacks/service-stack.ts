import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { AlarmWithAnnotation } from 'cdk-monitoring-constructs';
import type { Construct } from 'constructs';
import { physicalName, type StageConfig, serviceDimension } from '../config';
import { AlarmTopic } from '../constructs/alarm-topic';
import { ApiFirewall } from '../constructs/api-firewall';
import type { CacheCluster } from '../constructs/cache-cluster';
import { ChatApiService } from '../constructs/chat-api-service';
import { API_CONTAINER_NAME, API_CONTAINER_PORT, ChatApiTaskDefinition } from '../constructs/chat-api-task-definition';
import type { ChatDatabase } from '../constructs/chat-database';
import { SUBNET_GROUPS } from '../constructs/chat-vpc';
import {
  deploymentSettings,
  GATE_LIFECYCLE_STAGES,
  HOOK_TIMEOUT_MARGIN_MINUTES,
} from '../constructs/deployment-settings';
import { ExistingSecret } from '../constructs/existing-secret';
import { IdentityProvider } from '../constructs/identity-provider';
import { K6GateHook } from '../constructs/k6-gate-hook';
import { K6Runner } from '../constructs/k6-runner';
import { ServiceDns } from '../constructs/service-dns';
import { ServiceLoadBalancer } from '../constructs/service-load-balancer';
import { HOOK_DETAILS } from '../contract';
import { alarmFacade } from '../monitoring/alarm-facade';
import { AlarmWiring } from '../monitoring/alarm-wiring';
import { AppMetrics } from '../monitoring/app-metrics';
import { monitorDeployment } from '../monitoring/deployment-section';

export interface ServiceStackProps extends StackProps {
  readonly config: StageConfig;
  /** The version deployed: the container's APP_VERSION and the gate's EXPECTED_VERSION. */
  readonly appVersion: string;
  readonly vpc: ec2.IVpc;
  /** The tasks' security group (Network stack): the only application group the data tier admits. */
  readonly serviceSecurityGroup: ec2.ISecurityGroup;
  /** Postgres endpoint and the app user's secret. */
  readonly database: ChatDatabase;
  /** Cache endpoint and its AUTH token secret. */
  readonly cache: CacheCluster;
}

/**
 * Service: the ECS cluster, the chat API on Fargate behind an ALB, staged rollouts (blue/green by
 * default, canary or linear per stage) with automatic rollback, autoscaling, and the k6 gate that
 * proves every new version through the test listener before production traffic moves.
 */
export class ServiceStack extends Stack {
  readonly cluster: ecs.Cluster;
  readonly service: ecs.FargateService;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly blueTargetGroup: elbv2.ApplicationTargetGroup;
  readonly greenTargetGroup: elbv2.ApplicationTargetGroup;
  readonly productionListener: elbv2.ApplicationListener;
  readonly testListener: elbv2.ApplicationListener;
  readonly firewall: ApiFirewall;
  /** The WebACL's name, for the monitoring stack's WAF metrics. */
  readonly webAclName: string;
  /** The chat API container's awslogs group. */
  readonly logGroup: logs.ILogGroup;
  /** The gate's lifecycle-hook function; created on every stage, attached only where the gate is enabled. */
  readonly gateFunction: lambda.IFunction;
  /** The k6 runner tasks' log group (k6 summary and the gate's EMF line). */
  readonly runnerLogGroup: logs.ILogGroup;
  readonly runnerTaskDefinition: ecs.FargateTaskDefinition;
  /** The k6 runner's security group: the only source the test listener admits. */
  readonly runnerSecurityGroup: ec2.ISecurityGroup;
  /**
   * `ServiceUrl`: scheme, host and production port of the production listener. The target of the
   * pipeline's post-deploy gate (`envFromCfnOutputs`) and of `npm run gate -- --target` by hand.
   */
  readonly serviceUrlOutput: CfnOutput;
  /** Who may call the API: the issuer the service trusts, and the gate's machine client. */
  readonly identity: IdentityProvider;
  /** `GateTokenUrl`: where the gate's machine client gets its token (the pipeline's post-deploy gate). */
  readonly gateTokenUrlOutput?: CfnOutput;
  /**
   * The topic every alarm of the stage notifies. It lives here, not in the Monitoring stack, because
   * the deployment alarms below notify it and this stack deploys first.
   */
  readonly alarmTopic: sns.ITopic;
  /**
   * The alarms the service names in its deployment configuration (5xx rate, p95 latency, gate
   * failed). Created in this stack, and the service `DependsOn` them, so they exist before the
   * service on the first deploy whatever the stack order; the Monitoring stack's page includes them.
   */
  readonly deploymentAlarms: readonly AlarmWithAnnotation[];

  constructor(scope: Construct, id: string, props: ServiceStackProps) {
    super(scope, id, props);
    const { config, vpc } = props;
    const appSubnets: ec2.SubnetSelection = { subnetGroupName: SUBNET_GROUPS.app };

    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc,
      clusterName: physicalName(config, 'cluster'),
      containerInsightsV2: ecs.ContainerInsights.ENHANCED,
    });

    // Who may call the API: the stage's Cognito user pool, or the external issuer its config names.
    const identity = new IdentityProvider(this, 'Identity', {
      naming: config,
      auth: config.auth,
      retainUsers: config.stage === 'prod',
      logRetentionDays: config.logRetentionDays as logs.RetentionDays,
    });
    this.identity = identity;

    const runner = new K6Runner(this, 'K6Runner', {
      config,
      vpc,
      subnets: appSubnets,
      ...(identity.gateClient ? { gateClient: identity.gateClient } : {}),
    });
    this.runnerLogGroup = runner.logGroup;
    this.runnerTaskDefinition = runner.taskDefinition;
    this.runnerSecurityGroup = runner.securityGroup;

    const ingress = new ServiceLoadBalancer(this, 'Ingress', {
      config,
      vpc,
      containerPort: API_CONTAINER_PORT,
      testClientSecurityGroup: runner.securityGroup,
      deregistrationDelay: deregistrationDelay(config),
    });
    this.loadBalancer = ingress.loadBalancer;
    this.blueTargetGroup = ingress.blueTargetGroup;
    this.greenTargetGroup = ingress.greenTargetGroup;
    this.productionListener = ingress.productionListener;
    this.testListener = ingress.testListener;

    // Every listener of the load balancer is behind the WebACL; the VPC's own addresses (the k6
    // runner) are exempt, so the gate is never rate-limited or blocked by a managed rule.
    this.webAclName = physicalName(config, 'api-waf');
    this.firewall = new ApiFirewall(this, 'Firewall', {
      name: this.webAclName,
      loadBalancerArn: ingress.loadBalancer.loadBalancerArn,
      requestsPerIpPerFiveMinutes: config.ingress.firewall.requestsPerIpPerFiveMinutes,
      trustedSourceCidrs: [config.network.cidr],
      logRetention: config.logRetentionDays as logs.RetentionDays,
    });

    const llmApiKey = new ExistingSecret(this, 'LlmApiKey', {
      secretName: config.service.llm.apiKeySecretName,
      logRetentionDays: config.logRetentionDays as logs.RetentionDays,
    });
    const api = new ChatApiTaskDefinition(this, 'Api', {
      naming: config,
      service: config.service,
      logRetentionDays: config.logRetentionDays as logs.RetentionDays,
      env: {
        appVersion: props.appVersion,
        dbHost: props.database.instance.dbInstanceEndpointAddress,
        dbPort: props.database.port,
        dbName: props.database.databaseName,
        dbSecretArn: props.database.appUserSecret.secretArn,
        redisHost: props.cache.host,
        redisPort: props.cache.port,
        redisAuthSecretArn: props.cache.authTokenSecret.secretArn,
        authIssuer: identity.issuer,
        authAudiences: identity.audiences,
        authJwksUrl: identity.jwksUrl,
      },
      // The Data stack's secrets, imported by ARN without their key: CDK's key grant would otherwise
      // add this stack's roles to the Data stack's key policy, a dependency cycle. Decrypt is granted
      // on the key's ARN instead, through Secrets Manager only.
      secrets: {
        dbSecret: importSecret(this, 'DbAppUserSecret', props.database.appUserSecret),
        cacheAuthSecret: importSecret(this, 'CacheAuthSecret', props.cache.authTokenSecret),
        llmApiKeySecret: llmApiKey.secret,
      },
      secretsKeyArns: [props.database.appUserSecret, props.cache.authTokenSecret]
        .map((s) => s.encryptionKey?.keyArn)
        .filter((arn): arn is string => arn !== undefined)
        .filter((arn, i, all) => all.indexOf(arn) === i),
    });
    this.logGroup = api.logGroup;

    // The tasks' group belongs to the Network stack (the Data stack's rules name it). Imported
    // immutable here, so CDK does not write the ALB rule into the Network stack (a dependency cycle);
    // the rule is created in this stack instead.
    const serviceSecurityGroup = ec2.SecurityGroup.fromSecurityGroupId(
      this,
      'ServiceSecurityGroup',
      props.serviceSecurityGroup.securityGroupId,
      { mutable: false },
    );
    new ec2.CfnSecurityGroupIngress(this, 'ServiceFromLoadBalancer', {
      groupId: serviceSecurityGroup.securityGroupId,
      sourceSecurityGroupId: ingress.securityGroup.securityGroupId,
      ipProtocol: 'tcp',
      fromPort: API_CONTAINER_PORT,
      toPort: API_CONTAINER_PORT,
      description: 'ALB to the chat API container port (both target groups)',
    });

    // The relative gate's baseline: the runner reaches the serving revision's tasks directly (the
    // production listener would mix both revisions during canary and linear steps). Only the runner.
    new ec2.CfnSecurityGroupIngress(this, 'ServiceFromGateRunner', {
      groupId: serviceSecurityGroup.securityGroupId,
      sourceSecurityGroupId: runner.securityGroup.securityGroupId,
      ipProtocol: 'tcp',
      fromPort: API_CONTAINER_PORT,
      toPort: API_CONTAINER_PORT,
      description: 'k6 gate runner to the serving revision (the relative gate baseline)',
    });
    runner.securityGroup.addEgressRule(
      serviceSecurityGroup,
      ec2.Port.tcp(API_CONTAINER_PORT),
      'the serving revision tasks (the relative gate baseline)',
    );

    this.service = new ChatApiService(this, 'Service', {
      cluster: this.cluster,
      taskDefinition: api.taskDefinition,
      serviceName: physicalName(config, 'api'),
      securityGroup: serviceSecurityGroup,
      subnets: appSubnets,
      containerName: API_CONTAINER_NAME,
      containerPort: API_CONTAINER_PORT,
      targets: ingress,
      deployment: deploymentSettings(config),
      scaling: config.service,
    }).service;

    this.alarmTopic = new AlarmTopic(this, 'AlarmTopic', {
      naming: config,
      alarmEmails: config.monitoring.alarmEmails,
    }).topic;
    this.deploymentAlarms = this.createDeploymentAlarms(config, ingress);

    const gate = new K6GateHook(this, 'Gate', {
      config,
      cluster: this.cluster,
      runner,
      loadBalancer: ingress.loadBalancer,
      testListenerPort: config.ingress.testPort,
      serviceContainerPort: API_CONTAINER_PORT,
      serviceName: physicalName(config, 'api'),
    });
    this.gateFunction = gate.function;
    const hookRole = config.deployment.gate.enabled ? this.attachGate(config, gate, props.appVersion) : undefined;
    this.orderServiceAfterWhatItNames(api.taskDefinition, hookRole);

    new CfnOutput(this, 'ClusterName', { value: this.cluster.clusterName });
    new CfnOutput(this, 'ServiceName', { value: this.service.serviceName });
    new CfnOutput(this, 'LoadBalancerDnsName', { value: ingress.loadBalancer.loadBalancerDnsName });
    new CfnOutput(this, 'AuthIssuer', {
      value: identity.issuer,
      description: 'AUTH_ISSUER: the token issuer the API trusts',
    });
    if (identity.gateClient) {
      this.gateTokenUrlOutput = new CfnOutput(this, 'GateTokenUrl', {
        value: identity.gateClient.tokenUrl,
        description: "The gate machine client's OAuth2 token endpoint (GATE_TOKEN_URL)",
      });
    }
    if (identity.userClient) {
      new CfnOutput(this, 'UserClientId', {
        value: identity.userClient.userPoolClientId,
        description: 'The app client users sign in with (SRP) to get an access token for the API',
      });
    }
    const { domainName, hostedZoneId, hostedZoneName } = config.ingress;
    // Validation accepts the three only together, so a ServiceUrl on the domain always has its record.
    if (domainName && hostedZoneId && hostedZoneName) {
      new ServiceDns(this, 'Dns', { domainName, hostedZoneId, hostedZoneName, loadBalancer: ingress.loadBalancer });
    }
    this.serviceUrlOutput = new CfnOutput(this, 'ServiceUrl', {
      value: serviceUrl(config, ingress.loadBalancer.loadBalancerDnsName),
      description: 'Production URL (scheme, host, production port); the target of npm run gate',
    });
  }

  /** The deployment alarms, named exactly as deploymentSettings() lists them (alarm-names.ts). */
  private createDeploymentAlarms(config: StageConfig, ingress: ServiceLoadBalancer): AlarmWithAnnotation[] {
    const period = Duration.minutes(config.monitoring.periodMinutes);
    const facade = alarmFacade(this, 'DeploymentAlarms', { config, period, topic: this.alarmTopic });
    monitorDeployment(facade, {
      wiring: new AlarmWiring(config),
      period,
      targets: ingress,
      metrics: new AppMetrics(serviceDimension(config), period),
    });
    return facade.createdAlarms();
  }

  /**
   * The ECS service is created only after everything it names exists and is usable: the deployment
   * alarms (named by string, so CloudFormation would not order them by itself), and every policy of
   * every role it hands to ECS (task and execution roles through the task definition, the load
   * balancers' infrastructure role, the hook's invoke role). A role's policy is a resource of its own,
   * and without the order ECS could first call the hook or move a listener rule before IAM allows it.
   */
  private orderServiceAfterWhatItNames(taskDefinition: ecs.TaskDefinition, hookRole?: iam.IRole): void {
    const cfnService = this.service.node.defaultChild as ecs.CfnService;
    for (const alarm of this.deploymentAlarms) cfnService.node.addDependency(alarm.alarm);
    const roles = [
      taskDefinition.taskRole,
      taskDefinition.executionRole,
      // aws-cdk-lib creates the load balancers' infrastructure role inside the service and does not expose it.
      this.service.node.tryFindChild('GreenTargetRole'),
      hookRole,
    ];
    for (const role of roles) if (role) cfnService.node.addDependency(role);
  }

  /**
   * The gate hook, with the service-side hook details (the profile and the version this deploy
   * expects: the gate's only inputs channel) and an ECS-side timeout a little beyond the
   * gate's own limit, so even a hook that stops answering cannot hold a deployment forever.
   * aws-cdk-lib renders neither field, hence the property overrides on the single hook.
   */
  private attachGate(config: StageConfig, gate: K6GateHook, appVersion: string): iam.IRole {
    const gateConfig = config.deployment.gate;
    // ECS invokes the function by its unqualified ARN: no `:*` for versions or aliases.
    const invokeRole = new iam.Role(this, 'GateHookInvokeRole', {
      assumedBy: new iam.ServicePrincipal('ecs.amazonaws.com'),
      description: `${physicalName(config, 'api')}: ECS invokes the k6 gate lifecycle hook`,
    });
    invokeRole.addToPolicy(
      new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [gate.function.functionArn] }),
    );
    this.service.addLifecycleHook(
      new ecs.DeploymentLifecycleLambdaTarget(gate.function, 'GateHook', {
        role: invokeRole,
        lifecycleStages: [...GATE_LIFECYCLE_STAGES[config.deployment.strategy]],
      }),
    );
    const cfnService = this.service.node.defaultChild as ecs.CfnService;
    cfnService.addPropertyOverride('DeploymentConfiguration.LifecycleHooks.0.HookDetails', {
      [HOOK_DETAILS.profile]: gateConfig.profile,
      [HOOK_DETAILS.expectedVersion]: appVersion,
    });
    cfnService.addPropertyOverride('DeploymentConfiguration.LifecycleHooks.0.TimeoutConfiguration', {
      TimeoutInMinutes: gateConfig.timeoutMinutes + HOOK_TIMEOUT_MARGIN_MINUTES,
      Action: 'ROLLBACK',
    });
    return invokeRole;
  }
}

/**
 * How long the ALB keeps a deregistering task's in-flight requests: ECS waits for it before SIGTERM,
 * then the service drains what is left within DRAIN_TIMEOUT_MS. Five seconds below the drain budget.
 */
function deregistrationDelay(config: StageConfig): Duration {
  const seconds = Math.floor(config.service.drainTimeoutMs / 1000) - 5;
  return Duration.seconds(Math.min(300, Math.max(5, seconds)));
}

/**
 * The production listener's URL. With a certificate: https and the configured domain name, because
 * the certificate names that host and not the load balancer's. Without one: http and the load
 * balancer's DNS name. The port is always explicit.
 */
export function serviceUrl(config: StageConfig, loadBalancerDnsName: string): string {
  const { certificateArn, domainName, productionPort } = config.ingress;
  const scheme = certificateArn === undefined ? 'http' : 'https';
  return `${scheme}://${domainName ?? loadBalancerDnsName}:${productionPort}`;
}

function importSecret(scope: Construct, id: string, secret: secretsmanager.ISecret): secretsmanager.ISecret {
  return secretsmanager.Secret.fromSecretAttributes(scope, id, { secretCompleteArn: secret.secretArn });
}

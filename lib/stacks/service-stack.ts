import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
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
import { formatLlmPrice, HOOK_DETAILS } from '../contract';
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

/** The tasks and the k6 runner run in the private app subnets. */
const APP_SUBNETS: ec2.SubnetSelection = { subnetGroupName: SUBNET_GROUPS.app };

/**
 * Service: the ECS cluster, the chat API on Fargate behind an ALB, staged rollouts (blue/green by
 * default, canary or linear per stage) with automatic rollback, autoscaling, and the k6 gate that
 * proves every new version through the test listener before production traffic moves.
 */
export class ServiceStack extends Stack {
  readonly cluster: ecs.Cluster;
  /** Who may call the API: the issuer the service trusts, and the gate's machine client. */
  readonly identity: IdentityProvider;
  /** The k6 runner: its task definition, its security group (the only source the test listener admits), its logs. */
  readonly runner: K6Runner;
  /** The load balancer, the blue and green target groups, the production and test listeners and their rules. */
  readonly ingress: ServiceLoadBalancer;
  /** The WebACL on the load balancer (its name is the WAF metrics' dimension). */
  readonly firewall: ApiFirewall;
  /** The chat API's task definition, container and awslogs group. */
  readonly api: ChatApiTaskDefinition;
  readonly service: ecs.FargateService;
  /** The gate's lifecycle hook; created on every stage, attached only where the gate is enabled. */
  readonly gate: K6GateHook;
  /**
   * `ServiceUrl`: scheme, host and production port of the production listener. The target of the
   * pipeline's post-deploy gate (`envFromCfnOutputs`) and of `npm run gate -- --target` by hand.
   */
  readonly serviceUrlOutput: CfnOutput;
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
    const logRetention = config.logRetentionDays as logs.RetentionDays;

    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc,
      clusterName: physicalName(config, 'cluster'),
      containerInsightsV2: ecs.ContainerInsights.ENHANCED,
    });
    // Who may call the API: the stage's Cognito user pool, or the external issuer its config names.
    this.identity = new IdentityProvider(this, 'Identity', {
      naming: config,
      auth: config.auth,
      retainUsers: config.stage === 'prod',
      logRetentionDays: logRetention,
    });
    this.runner = new K6Runner(this, 'K6Runner', {
      config,
      vpc,
      subnets: APP_SUBNETS,
      ...(this.identity.gateClient ? { gateClient: this.identity.gateClient } : {}),
    });
    this.ingress = new ServiceLoadBalancer(this, 'Ingress', {
      config,
      vpc,
      containerPort: API_CONTAINER_PORT,
      testClientSecurityGroup: this.runner.securityGroup,
      deregistrationDelay: deregistrationDelay(config),
    });
    // Every listener is behind the WebACL; the VPC's own addresses (the k6 runner) are exempt, so the
    // gate is never rate-limited or blocked by a managed rule.
    this.firewall = new ApiFirewall(this, 'Firewall', {
      name: physicalName(config, 'api-waf'),
      loadBalancerArn: this.ingress.loadBalancer.loadBalancerArn,
      requestsPerIpPerFiveMinutes: config.ingress.firewall.requestsPerIpPerFiveMinutes,
      trustedSourceCidrs: [config.network.cidr],
      logRetention,
    });
    this.api = this.createTaskDefinition(props);
    const serviceSecurityGroup = this.admitLoadBalancerAndRunner(props.serviceSecurityGroup);
    this.service = new ChatApiService(this, 'Service', {
      cluster: this.cluster,
      taskDefinition: this.api.taskDefinition,
      serviceName: physicalName(config, 'api'),
      securityGroup: serviceSecurityGroup,
      subnets: APP_SUBNETS,
      containerName: API_CONTAINER_NAME,
      containerPort: API_CONTAINER_PORT,
      targets: this.ingress,
      deployment: deploymentSettings(config),
      scaling: config.service,
    }).service;
    this.alarmTopic = new AlarmTopic(this, 'AlarmTopic', {
      naming: config,
      alarmEmails: config.monitoring.alarmEmails,
    }).topic;
    this.deploymentAlarms = this.createDeploymentAlarms(config);
    this.gate = new K6GateHook(this, 'Gate', {
      config,
      cluster: this.cluster,
      runner: this.runner,
      loadBalancer: this.ingress.loadBalancer,
      testListenerPort: config.ingress.testPort,
      serviceContainerPort: API_CONTAINER_PORT,
      serviceName: physicalName(config, 'api'),
    });
    const hookRole = config.deployment.gate.enabled ? this.attachGate(config, props.appVersion) : undefined;
    this.orderServiceAfterWhatItNames(hookRole);
    this.gateTokenUrlOutput = this.createOutputs(config);
    this.serviceUrlOutput = new CfnOutput(this, 'ServiceUrl', {
      value: serviceUrl(config, this.ingress.loadBalancer.loadBalancerDnsName),
      description: 'Production URL (scheme, host, production port); the target of npm run gate',
    });
  }

  /**
   * The chat API's task definition: its environment from the contract, its secrets from the Data
   * stack's (and the stage's LLM key secret), each passed once.
   */
  private createTaskDefinition(props: ServiceStackProps): ChatApiTaskDefinition {
    const { config } = props;
    const logRetentionDays = config.logRetentionDays as logs.RetentionDays;
    const llmApiKey = new ExistingSecret(this, 'LlmApiKey', {
      secretName: config.service.llm.apiKeySecretName,
      logRetentionDays,
    });
    return new ChatApiTaskDefinition(this, 'Api', {
      naming: config,
      service: config.service,
      logRetentionDays,
      env: {
        appVersion: props.appVersion,
        dbHost: props.database.instance.dbInstanceEndpointAddress,
        dbPort: props.database.port,
        dbName: props.database.databaseName,
        redisHost: props.cache.host,
        redisPort: props.cache.port,
        authIssuer: this.identity.issuer,
        authAudiences: this.identity.audiences,
        authJwksUrl: this.identity.jwksUrl,
        ...(this.identity.gatePrincipal === undefined ? {} : { gatePrincipal: this.identity.gatePrincipal }),
        // The runner and the load balancer call from inside it (the WAF exempts the same range).
        rateLimitExemptCidrs: [props.vpc.vpcCidrBlock],
      },
      secrets: {
        dbSecret: props.database.appUserSecret,
        cacheAuthSecret: props.cache.authTokenSecret,
        llmApiKeySecret: llmApiKey.secret,
      },
    });
  }

  /**
   * The tasks' group belongs to the Network stack (the Data stack's rules name it). It is imported
   * immutable here, so CDK does not write these rules into the Network stack (a dependency cycle):
   * the load balancer reaches both target groups' tasks, and the k6 runner reaches the serving
   * revision's tasks directly, the relative gate's baseline (the production listener would mix both
   * revisions during canary and linear steps).
   */
  private admitLoadBalancerAndRunner(tasks: ec2.ISecurityGroup): ec2.ISecurityGroup {
    const group = ec2.SecurityGroup.fromSecurityGroupId(this, 'ServiceSecurityGroup', tasks.securityGroupId, {
      mutable: false,
    });
    const admit = (id: string, source: ec2.ISecurityGroup, description: string) =>
      new ec2.CfnSecurityGroupIngress(this, id, {
        groupId: group.securityGroupId,
        sourceSecurityGroupId: source.securityGroupId,
        ipProtocol: 'tcp',
        fromPort: API_CONTAINER_PORT,
        toPort: API_CONTAINER_PORT,
        description,
      });
    admit(
      'ServiceFromLoadBalancer',
      this.ingress.securityGroup,
      'ALB to the chat API container port (both target groups)',
    );
    admit(
      'ServiceFromGateRunner',
      this.runner.securityGroup,
      'k6 gate runner to the serving revision (the relative gate baseline)',
    );
    this.runner.securityGroup.addEgressRule(
      group,
      ec2.Port.tcp(API_CONTAINER_PORT),
      'the serving revision tasks (the relative gate baseline)',
    );
    return group;
  }

  /** The stack's outputs and the optional DNS record; returns `GateTokenUrl` when the stage has a gate client. */
  private createOutputs(config: StageConfig): CfnOutput | undefined {
    const { identity } = this;
    new CfnOutput(this, 'ClusterName', { value: this.cluster.clusterName });
    new CfnOutput(this, 'ServiceName', { value: this.service.serviceName });
    new CfnOutput(this, 'LoadBalancerDnsName', { value: this.ingress.loadBalancer.loadBalancerDnsName });
    new CfnOutput(this, 'AuthIssuer', {
      value: identity.issuer,
      description: 'AUTH_ISSUER: the token issuer the API trusts',
    });
    const gateTokenUrl = identity.gateClient
      ? new CfnOutput(this, 'GateTokenUrl', {
          value: identity.gateClient.tokenUrl,
          description: "The gate machine client's OAuth2 token endpoint (GATE_TOKEN_URL)",
        })
      : undefined;
    if (identity.userClient) {
      new CfnOutput(this, 'UserClientId', {
        value: identity.userClient.userPoolClientId,
        description: 'The app client users sign in with (SRP) to get an access token for the API',
      });
    }
    const { domainName, hostedZoneId, hostedZoneName } = config.ingress;
    // Validation accepts the three only together, so a ServiceUrl on the domain always has its record.
    if (domainName && hostedZoneId && hostedZoneName) {
      new ServiceDns(this, 'Dns', {
        domainName,
        hostedZoneId,
        hostedZoneName,
        loadBalancer: this.ingress.loadBalancer,
      });
    }
    return gateTokenUrl;
  }

  /** The deployment alarms, named exactly as deploymentSettings() lists them (alarm-names.ts). */
  private createDeploymentAlarms(config: StageConfig): AlarmWithAnnotation[] {
    const period = Duration.minutes(config.monitoring.periodMinutes);
    const facade = alarmFacade(this, 'DeploymentAlarms', { config, period, topic: this.alarmTopic });
    monitorDeployment(facade, {
      wiring: new AlarmWiring(config),
      period,
      targets: this.ingress,
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
  private orderServiceAfterWhatItNames(hookRole?: iam.IRole): void {
    const { taskDefinition } = this.api;
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
  private attachGate(config: StageConfig, appVersion: string): iam.IRole {
    const { gate } = this;
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
      [HOOK_DETAILS.llmPricePerMTok]: formatLlmPrice(config.service.llm.pricePerMTok),
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

import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as elbv2Targets from 'aws-cdk-lib/aws-elasticloadbalancingv2-targets';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { physicalName, type StageConfig } from '../config';
import { ROUTES } from '../contract';
import { ChatFunction } from './chat-function';
import { SUBNET_GROUPS } from './chat-vpc';

export interface ServiceLoadBalancerProps {
  readonly config: StageConfig;
  readonly vpc: ec2.IVpc;
  /** The port the container listens on; both target groups forward to it. */
  readonly containerPort: number;
  /** The only source the test listener admits (the k6 runner's). */
  readonly testClientSecurityGroup: ec2.ISecurityGroup;
  /**
   * How long the load balancer keeps sending in-flight requests to a deregistering task. Must stay
   * below the service's drain budget, so a task never gets SIGTERM with the ALB still routing to it.
   */
  readonly deregistrationDelay: Duration;
}

/** Priority of the single rule on each listener. Part of the rule's identity: never change it. */
const RULE_PRIORITY = 1;

/**
 * A contract route as an ALB path pattern: a Fastify parameter (`:session_id`) and whatever follows
 * it become `*`, which in a path pattern matches any characters, `/` included
 * (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-condition-types.html#path-conditions).
 */
export function albPathPattern(route: string): string {
  return route.replace(/:[^/]+.*$/, '*');
}

/**
 * What the production rule forwards: the contract's chat routes, the session routes (read and delete
 * a conversation; one pattern covers both) and the health routes. Anything else gets the contract's
 * 404 from the listener's default and never reaches a task. The health routes stay reachable for the
 * pipeline's post-deploy gate; the target groups' own health checks go to the tasks directly and need
 * no rule. The cache-metrics route is an operator's view of one task: it is not on the internet (the
 * test listener, which only the k6 runner reaches, still forwards it).
 *
 * A rule holds at most 5 condition values ("Condition values per rule", a quota that cannot be
 * raised: https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html),
 * and this list is 5: a sixth route needs a second rule or a shared prefix.
 */
export const PRODUCTION_PATHS: readonly string[] = [
  ...new Set(
    [ROUTES.chat, ROUTES.chatStream, ROUTES.sessionMessages, ROUTES.session, ROUTES.health, ROUTES.ready].map(
      albPathPattern,
    ),
  ),
];

/**
 * The ALB for blue/green, linear and canary deployments: a production listener and a test listener
 * whose default action forwards to a Lambda that answers the contract's 404, each with one rule whose only action is a weighted forward to
 * the blue and green target groups (ECS moves the weights during a deployment).
 *
 * Callers are authenticated by the service (bearer JWTs, `service/src/auth`), not by an ALB
 * `authenticate-oidc`/`authenticate-cognito` action: the ECS developer guide's "Application Load
 * Balancer resources for blue/green deployments"
 * (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/alb-resources-for-blue-green.html) has
 * listed as a limitation that a deployment fails when a listener rule mixes forward and non-forward
 * actions (redirect, fixed-response or authenticate). So each rule keeps its single forward action.
 *
 * The rules are deliberately static: no token that changes per deployment reaches them. ECS rewrites
 * their weights at run time and CloudFormation would write the template's weights back on any update
 * of a rule, sending production to whichever target group the template names (aws-cdk issue 36649;
 * docs/deployments.md). A test proves the rules do not change with the version, the image or the
 * deployment strategy.
 */
export class ServiceLoadBalancer extends Construct {
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly securityGroup: ec2.SecurityGroup;
  readonly accessLogBucket: s3.Bucket;
  readonly blueTargetGroup: elbv2.ApplicationTargetGroup;
  readonly greenTargetGroup: elbv2.ApplicationTargetGroup;
  readonly productionListener: elbv2.ApplicationListener;
  readonly testListener: elbv2.ApplicationListener;
  readonly productionRule: elbv2.ApplicationListenerRule;
  readonly testRule: elbv2.ApplicationListenerRule;

  constructor(scope: Construct, id: string, props: ServiceLoadBalancerProps) {
    super(scope, id);
    const { config, vpc } = props;
    const ingress = config.ingress;

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc,
      description: `${physicalName(config, 'alb')}: production port from the allowed CIDRs, test port from the k6 runner only`,
      // Egress is added per target by CDK (the container port to the service's security group).
      allowAllOutbound: false,
    });
    for (const cidr of ingress.allowedCidrs) {
      this.securityGroup.addIngressRule(
        ec2.Peer.ipv4(cidr),
        ec2.Port.tcp(ingress.productionPort),
        'production listener',
      );
    }

    this.accessLogBucket = new s3.Bucket(this, 'AccessLogs', {
      // ALB access logs support SSE-S3 only (not SSE-KMS).
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(config.logRetentionDays) }],
      // Access logs are audit records: they outlive a deleted stack.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    NagSuppressions.addResourceSuppressions(this.accessLogBucket, [
      {
        id: 'AwsSolutions-S1',
        reason:
          'This bucket is itself the ALB access-log destination; logging its own reads would need another bucket that needs one too. Access is limited to the ELB log-delivery principal and SSL.',
      },
    ]);

    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc,
      vpcSubnets: { subnetGroupName: SUBNET_GROUPS.public },
      internetFacing: true,
      loadBalancerName: physicalName(config, 'alb'),
      securityGroup: this.securityGroup,
      dropInvalidHeaderFields: true,
      // Above the worst-case request (a JSON answer sends nothing until it is done), below the
      // service's keep-alive: both relations are checked at synth (lib/config/relations.ts).
      idleTimeout: Duration.seconds(ingress.idleTimeoutSeconds),
      deletionProtection: ingress.deletionProtection,
      // Pinned, not left to the default: the service trusts exactly one hop, the address this load
      // balancer APPENDS to X-Forwarded-For (service/src/app.ts, trustProxy). `preserve` or `remove`
      // would silently change which address the service sees as the client.
      xffHeaderProcessingMode: elbv2.XffHeaderProcessingMode.APPEND,
    });
    this.loadBalancer.logAccessLogs(this.accessLogBucket, 'alb');

    const targetGroup = (name: string) =>
      new elbv2.ApplicationTargetGroup(this, name, {
        vpc,
        targetType: elbv2.TargetType.IP,
        protocol: elbv2.ApplicationProtocol.HTTP,
        port: props.containerPort,
        deregistrationDelay: props.deregistrationDelay,
        healthCheck: {
          // Readiness, not liveness: a task that cannot reach Postgres, the cache or the LLM gets no traffic.
          path: ROUTES.ready,
          healthyHttpCodes: '200',
          interval: Duration.seconds(10),
          timeout: Duration.seconds(5),
          healthyThresholdCount: 2,
          unhealthyThresholdCount: 3,
        },
      });
    this.blueTargetGroup = targetGroup('BlueTargetGroup');
    this.greenTargetGroup = targetGroup('GreenTargetGroup');

    // Each listener's default answers the contract's 404 through a forward to a Lambda target, not
    // a fixed-response action: every action on these listeners is a forward, the shape the ECS
    // blue/green guide accepts under any reading of its "mix of forward and non-forward actions"
    // limitation (lambda/not-found/index.ts; docs/deployments.md, "Listener shape").
    const notFoundFunction = new ChatFunction(this, 'NotFound', {
      functionDir: 'not-found',
      description: `${physicalName(config, 'alb')}: the contract's 404 for paths no listener rule forwards`,
      timeout: Duration.seconds(3),
      memorySize: 128,
      logRetentionDays: config.logRetentionDays as logs.RetentionDays,
    });
    const notFoundTargetGroup = new elbv2.ApplicationTargetGroup(this, 'NotFoundTargetGroup', {
      targetType: elbv2.TargetType.LAMBDA,
      targets: [new elbv2Targets.LambdaTarget(notFoundFunction.function)],
    });
    const notFound = elbv2.ListenerAction.forward([notFoundTargetGroup]);
    const https = ingress.certificateArn !== undefined;
    this.productionListener = this.loadBalancer.addListener('Production', {
      port: ingress.productionPort,
      // HTTP only without a certificate, which the stage validation allows only with allowHttp (never in prod).
      protocol: https ? elbv2.ApplicationProtocol.HTTPS : elbv2.ApplicationProtocol.HTTP,
      certificates: https ? [elbv2.ListenerCertificate.fromArn(ingress.certificateArn as string)] : undefined,
      // Pinned: TLS 1.3 and 1.2 with forward-secret AEAD ciphers only ("Res"), instead of whatever
      // policy the ELB default is when the listener is created.
      sslPolicy: https ? elbv2.SslPolicy.TLS13_RES : undefined,
      open: false,
      defaultAction: notFound,
    });
    // Plain HTTP on purpose: this listener is reachable only from inside the VPC, by the runner's
    // security group, on the load balancer's private addresses (the same trust zone as the ALB-to-task
    // leg, which is HTTP too). A certificate's host name can't be verified against a private address,
    // and the gate never turns TLS verification off (docs/deployments.md).
    this.testListener = this.loadBalancer.addListener('Test', {
      port: ingress.testPort,
      protocol: elbv2.ApplicationProtocol.HTTP,
      open: false,
      defaultAction: notFound,
    });
    this.loadBalancer.connections.allowFrom(
      props.testClientSecurityGroup,
      ec2.Port.tcp(ingress.testPort),
      'test listener: k6 runner only',
    );

    const forward = elbv2.ListenerAction.weightedForward([
      { targetGroup: this.blueTargetGroup, weight: 100 },
      { targetGroup: this.greenTargetGroup, weight: 0 },
    ]);
    const rule = (name: string, listener: elbv2.ApplicationListener, paths: readonly string[]) =>
      new elbv2.ApplicationListenerRule(this, name, {
        listener,
        priority: RULE_PRIORITY,
        conditions: [elbv2.ListenerCondition.pathPatterns([...paths])],
        action: forward,
      });
    this.productionRule = rule('ProductionRule', this.productionListener, PRODUCTION_PATHS);
    // Only the k6 runner reaches the test listener.
    this.testRule = rule('TestRule', this.testListener, ['/*']);

    if (ingress.allowedCidrs.some((c) => c === '0.0.0.0/0')) {
      NagSuppressions.addResourceSuppressions(this.securityGroup, [
        {
          id: 'AwsSolutions-EC23',
          reason: `The production listener (port ${ingress.productionPort}) is the public chat API; ingress.allowedCidrs opens only that port. The test port admits the k6 runner's security group only.`,
        },
      ]);
    }
  }
}

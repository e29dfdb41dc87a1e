import { RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { physicalName, type StageConfig } from '../config';
import { GATE_CLIENT_SECRET_JSON_KEYS, GATE_ENV } from '../contract';
import type { GateClientSource } from './identity-provider';
import { acknowledgeEcrAuthorization, repoImage } from './repo-image';

/** The runner's container name; RunTask overrides its environment by this name. */
export const K6_CONTAINER_NAME = 'k6';

export interface K6RunnerProps {
  readonly config: StageConfig;
  readonly vpc: ec2.IVpc;
  /** Where the runner tasks run: the app subnets, next to the service. */
  readonly subnets: ec2.SubnetSelection;
  /**
   * @default - built from `loadtests/Dockerfile` at deploy time: `grafana/k6` at the version the
   * suites are tested with, plus the bundles. Its ENTRYPOINT is `k6 run <gate script>`, so the hook
   * appends k6 flags as the command.
   */
  readonly image?: ecs.ContainerImage;
  /**
   * The gate's machine client: `setup()` fetches a token from `tokenUrl` with the client credentials,
   * which reach the container through ECS `secrets` (never a plain value).
   * @default - no credentials (only a service with AUTH_MODE=off would accept the gate)
   */
  readonly gateClient?: GateClientSource;
}

/**
 * The k6 runner: a Fargate task definition (ARM64) started by the gate hook with RunTask, its own
 * security group (the only source the test listener admits) and its own log group, where k6's
 * summary and its EMF line (p95, error rate, requests, hit rate) land.
 */
export class K6Runner extends Construct {
  readonly securityGroup: ec2.SecurityGroup;
  readonly logGroup: logs.LogGroup;
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly container: ecs.ContainerDefinition;
  readonly subnets: ec2.SubnetSelection;

  constructor(scope: Construct, id: string, props: K6RunnerProps) {
    super(scope, id);
    const { config } = props;
    const gate = config.deployment.gate;
    this.subnets = props.subnets;

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: `${physicalName(config, 'k6-runner')}: the only source the test listener admits`,
      // Egress is opened per need: HTTPS for ECR, S3 and CloudWatch Logs, the test port to the ALB.
      allowAllOutbound: false,
    });
    this.securityGroup.addEgressRule(
      ec2.Peer.anyIpv4(),
      ec2.Port.tcp(443),
      'HTTPS: image pull (ECR, S3) and CloudWatch Logs',
    );

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/${config.appName}/${config.stage}/k6-runner`,
      retention: config.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'TaskDefinition', {
      family: physicalName(config, 'k6-runner'),
      cpu: gate.runnerCpu,
      memoryLimitMiB: gate.runnerMemoryMiB,
      runtimePlatform: {
        cpuArchitecture: ecs.CpuArchitecture.ARM64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
    });
    this.container = this.taskDefinition.addContainer('K6', {
      containerName: K6_CONTAINER_NAME,
      image: props.image ?? repoImage({ file: 'loadtests/Dockerfile' }),
      essential: true,
      // The hook sets every per-run gate input (GATE_ENV) with RunTask overrides; only how the gate
      // authenticates is fixed here, the client credentials as ECS secrets.
      ...(props.gateClient
        ? {
            environment: {
              [GATE_ENV.tokenUrl]: props.gateClient.tokenUrl,
              ...(props.gateClient.scope ? { [GATE_ENV.tokenScope]: props.gateClient.scope } : {}),
            },
            secrets: {
              [GATE_ENV.clientId]: ecs.Secret.fromSecretsManager(
                props.gateClient.secret,
                GATE_CLIENT_SECRET_JSON_KEYS.clientId,
              ),
              [GATE_ENV.clientSecret]: ecs.Secret.fromSecretsManager(
                props.gateClient.secret,
                GATE_CLIENT_SECRET_JSON_KEYS.clientSecret,
              ),
            },
          }
        : {}),
      logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: 'k6' }),
    });
    acknowledgeEcrAuthorization(this.taskDefinition);
    if (props.gateClient) {
      NagSuppressions.addResourceSuppressions(this.taskDefinition, [
        {
          id: 'AwsSolutions-ECS2',
          reason:
            "The environment holds only the gate's token endpoint URL and OAuth scope; the client id and secret come through ECS secrets from Secrets Manager.",
        },
      ]);
    }
  }
}

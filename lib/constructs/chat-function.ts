import * as path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';

const REPO_ROOT = path.join(__dirname, '..', '..');

export interface ChatFunctionProps {
  /** Folder under `lambda/`, e.g. `k6-gate`; its `index.ts` exports `handler`. */
  readonly functionDir: string;
  readonly description: string;
  /** @default Duration.seconds(30) */
  readonly timeout?: Duration;
  /** @default 256 */
  readonly memorySize?: number;
  /** @default - no variables of its own (Lambda still sets its reserved ones) */
  readonly environment?: Record<string, string>;
  readonly logRetentionDays: logs.RetentionDays;
  /** @default - not in a VPC: the function reaches only public endpoints, and gets no ENI permissions */
  readonly vpc?: ec2.IVpc;
  /** @default - with `vpc`, its private subnets (Lambda's default selection) */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** @default - with `vpc`, a new security group that allows all outbound traffic */
  readonly securityGroups?: ec2.ISecurityGroup[];
  /** @default - only what the role needs to write its own logs (and the ENI actions with `vpc`) */
  readonly initialPolicy?: iam.PolicyStatement[];
}

/**
 * The house Lambda function: one place that fixes runtime (Node.js 24, the newest LTS Lambda
 * offers), ARM64, an explicit log group with retention, JSON logs, a role without AWS managed
 * policies, and local esbuild bundling of everything (the AWS SDK included, so the version we
 * test is the version that runs).
 */
export class ChatFunction extends Construct {
  readonly function: nodejs.NodejsFunction;
  readonly logGroup: logs.LogGroup;
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: ChatFunctionProps) {
    super(scope, id);
    assertLocalEsbuild();

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // An explicit role instead of AWSLambdaBasicExecutionRole / AWSLambdaVPCAccessExecutionRole:
    // logs only to its own group.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: props.description,
    });
    this.logGroup.grantWrite(this.role);
    if (props.vpc) {
      this.role.addToPolicy(
        new iam.PolicyStatement({
          actions: [
            'ec2:CreateNetworkInterface',
            'ec2:DescribeNetworkInterfaces',
            'ec2:DescribeSubnets',
            'ec2:DeleteNetworkInterface',
            'ec2:AssignPrivateIpAddresses',
            'ec2:UnassignPrivateIpAddresses',
          ],
          resources: ['*'],
        }),
      );
      NagSuppressions.addResourceSuppressions(
        this.role,
        [
          {
            id: 'AwsSolutions-IAM5',
            reason:
              'Lambda needs the ENI actions to attach to the VPC; ec2:*NetworkInterface* does not support resource-level permissions at create time (see AWSLambdaVPCAccessExecutionRole).',
            appliesTo: ['Resource::*'],
          },
        ],
        true,
      );
    }

    this.function = new nodejs.NodejsFunction(this, 'Function', {
      role: this.role,
      entry: path.join(REPO_ROOT, 'lambda', props.functionDir, 'index.ts'),
      handler: 'handler',
      description: props.description,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      timeout: props.timeout ?? Duration.seconds(30),
      memorySize: props.memorySize ?? 256,
      environment: props.environment,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: props.securityGroups,
      initialPolicy: props.initialPolicy,
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      bundling: {
        // Never fall back to Docker: there may be no engine, and local esbuild is pinned.
        forceDockerBundling: false,
        target: 'node24',
        format: nodejs.OutputFormat.CJS,
        minify: true,
        sourceMap: true,
        // Bundle everything, the AWS SDK included; pg's optional native binding is never used.
        externalModules: ['pg-native'],
      },
    });
  }
}

function assertLocalEsbuild(): void {
  try {
    require.resolve('esbuild', { paths: [REPO_ROOT] });
  } catch {
    throw new Error(
      'esbuild is not installed: Lambda bundling would fall back to Docker. Run `npm ci` at the repository root.',
    );
  }
}

import { Duration, Stack } from 'aws-cdk-lib';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { physicalName, type StageConfig, serviceDimension } from '../config';
import { GATE_METRICS, HOOK_ENV } from '../contract';
import { ChatFunction } from './chat-function';
import { K6_CONTAINER_NAME, type K6Runner } from './k6-runner';

export interface K6GateHookProps {
  readonly config: StageConfig;
  readonly cluster: ecs.ICluster;
  readonly runner: K6Runner;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly testListenerPort: number;
  /** The service's container port: the relative gate reaches the serving revision's tasks on it. */
  readonly serviceContainerPort: number;
  /** The service the hook serves: it describes that service's revisions to find the baseline. */
  readonly serviceName: string;
}

/**
 * The gate's ECS lifecycle hook (`lambda/k6-gate`): starts the k6 runner tasks against the test
 * listener, polls them, and answers SUCCEEDED or FAILED. Least privilege: RunTask on the runner's
 * task definition only and in this cluster only; PassRole for the runner's two roles only, to ECS
 * tasks only; Describe/Stop only tasks of this cluster; PutMetricData only in the gate namespace.
 */
export class K6GateHook extends Construct {
  readonly function: lambda.IFunction;
  readonly logGroup: logs.ILogGroup;
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: K6GateHookProps) {
    super(scope, id);
    const { config, runner, cluster } = props;
    const gate = config.deployment.gate;
    const stack = Stack.of(this);

    // The contract's HOOK_ENV names, which the handler reads; a test parses this environment with its reader.
    const fn = new ChatFunction(this, 'Function', {
      functionDir: 'k6-gate',
      description: `${physicalName(config, 'api')}: k6 gate lifecycle hook (RunTask the runner, poll, verdict)`,
      timeout: Duration.seconds(60),
      logRetentionDays: config.logRetentionDays as logs.RetentionDays,
      environment: {
        [HOOK_ENV.clusterArn]: cluster.clusterArn,
        [HOOK_ENV.taskDefinitionArn]: runner.taskDefinition.taskDefinitionArn,
        [HOOK_ENV.containerName]: K6_CONTAINER_NAME,
        [HOOK_ENV.subnetIds]: cluster.vpc.selectSubnets(runner.subnets).subnetIds.join(','),
        [HOOK_ENV.securityGroupId]: runner.securityGroup.securityGroupId,
        [HOOK_ENV.runnerLogGroup]: runner.logGroup.logGroupName,
        [HOOK_ENV.loadBalancerFullName]: props.loadBalancer.loadBalancerFullName,
        [HOOK_ENV.testListenerPort]: String(props.testListenerPort),
        [HOOK_ENV.serviceContainerPort]: String(props.serviceContainerPort),
        [HOOK_ENV.serviceName]: serviceDimension(config),
        [HOOK_ENV.parallelism]: String(gate.parallelism),
        [HOOK_ENV.timeoutMinutes]: String(gate.timeoutMinutes),
      },
    });
    this.function = fn.function;
    this.logGroup = fn.logGroup;
    this.role = fn.role;

    const inCluster = { ArnEquals: { 'ecs:cluster': cluster.clusterArn } };
    const statements = [
      new iam.PolicyStatement({
        sid: 'RunTheRunnerOnly',
        actions: ['ecs:RunTask'],
        // The exact revision: the function's environment names the same one, both change together.
        resources: [runner.taskDefinition.taskDefinitionArn],
        conditions: inCluster,
      }),
      new iam.PolicyStatement({
        sid: 'PassTheRunnerRolesOnly',
        actions: ['iam:PassRole'],
        resources: [runner.taskDefinition.taskRole.roleArn, runner.taskDefinition.obtainExecutionRole().roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      }),
      new iam.PolicyStatement({
        sid: 'WatchAndStopTasksOfThisCluster',
        actions: ['ecs:DescribeTasks', 'ecs:StopTask'],
        resources: [stack.formatArn({ service: 'ecs', resource: 'task', resourceName: `${cluster.clusterName}/*` })],
        conditions: inCluster,
      }),
      new iam.PolicyStatement({
        sid: 'FindRunnersOfAnExecution',
        actions: ['ecs:ListTasks'],
        // ListTasks takes no task ARN; the cluster condition scopes it.
        resources: ['*'],
        conditions: inCluster,
      }),
      new iam.PolicyStatement({
        sid: 'FindTheServingRevision',
        // The relative gate's baseline: which task definition each revision of this service runs.
        actions: ['ecs:DescribeServiceRevisions'],
        resources: [
          stack.formatArn({
            service: 'ecs',
            resource: 'service-revision',
            resourceName: `${cluster.clusterName}/${props.serviceName}/*`,
          }),
        ],
      }),
      new iam.PolicyStatement({
        sid: 'FindTheLoadBalancerAddresses',
        actions: ['ec2:DescribeNetworkInterfaces'],
        resources: ['*'],
      }),
      new iam.PolicyStatement({
        sid: 'PublishGateMetrics',
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': GATE_METRICS.namespace } },
      }),
    ];
    for (const statement of statements) this.role.addToPolicy(statement);

    NagSuppressions.addResourceSuppressions(
      this.role,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'Wildcards only where AWS offers no narrower resource: tasks of this cluster (task IDs are unknown until RunTask), revisions of this one service (revision IDs are unknown until ECS creates them), ListTasks (cluster condition), DescribeNetworkInterfaces (no resource-level permissions) and PutMetricData (namespace condition).',
          appliesTo: [
            'Resource::*',
            { regex: '/^Resource::arn:.+:ecs:.+:task\\/.+\\/\\*$/g' },
            { regex: '/^Resource::arn:.+:ecs:.+:service-revision\\/.+\\/.+\\/\\*$/g' },
          ],
        },
      ],
      true,
    );
  }
}

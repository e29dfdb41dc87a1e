import { Duration } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import type { DeploymentSettings } from './deployment-settings';

/** Where the service's tasks register: the two target groups and the two listener rules ECS moves. */
export interface BlueGreenTargets {
  /** The target group production traffic starts on. */
  readonly blueTargetGroup: elbv2.IApplicationTargetGroup;
  /** The target group a new version's tasks register with during a deployment. */
  readonly greenTargetGroup: elbv2.IApplicationTargetGroup;
  /** The production listener's weighted-forward rule. */
  readonly productionRule: elbv2.ApplicationListenerRule;
  /** The test listener's weighted-forward rule (the gate's way to the new version). */
  readonly testRule: elbv2.ApplicationListenerRule;
}

/** Task-count autoscaling: target tracking on CPU and memory between two counts. */
export interface ServiceScaling {
  readonly minTaskCount: number;
  readonly maxTaskCount: number;
  readonly targetCpuUtilizationPercent: number;
  readonly targetMemoryUtilizationPercent: number;
}

export interface ChatApiServiceProps {
  readonly cluster: ecs.ICluster;
  readonly taskDefinition: ecs.FargateTaskDefinition;
  /** The ECS service name (a physical name: the deployment alarms and dashboards find it by it). */
  readonly serviceName: string;
  readonly securityGroup: ec2.ISecurityGroup;
  readonly subnets: ec2.SubnetSelection;
  /** The container and port the target groups forward to. */
  readonly containerName: string;
  readonly containerPort: number;
  readonly targets: BlueGreenTargets;
  /** Strategy, bake time, step configuration, circuit breaker, deployment alarms (deploymentSettings()). */
  readonly deployment: DeploymentSettings;
  readonly scaling: ServiceScaling;
}

/**
 * The chat API's Fargate service: registered with the blue target group, green as the alternate
 * target on the production and test listener rules (ECS moves the rules' weights during a staged
 * rollout), and scaled on CPU and memory.
 *
 * The FargateService is this construct's `Default` child, so its CloudFormation logical IDs (and
 * those of its scaling target, policies and green-target role) are the ones a FargateService with
 * this construct's ID directly in the stack would have: wrapping it replaced nothing.
 */
export class ChatApiService extends Construct {
  readonly service: ecs.FargateService;

  constructor(scope: Construct, id: string, props: ChatApiServiceProps) {
    super(scope, id);
    this.service = this.createService(props);
    this.registerBlueGreenTargets(props);
    this.scaleOnCpuAndMemory(props.scaling);
    this.acknowledgeGreenTargetRole();
  }

  private createService(props: ChatApiServiceProps): ecs.FargateService {
    return new ecs.FargateService(this, 'Default', {
      cluster: props.cluster,
      taskDefinition: props.taskDefinition,
      serviceName: props.serviceName,
      securityGroups: [props.securityGroup],
      vpcSubnets: props.subnets,
      assignPublicIp: false,
      // No desiredCount: CloudFormation then leaves the running count alone on updates, so a deploy
      // never scales a busy service back down (and green starts at the current size). On create ECS
      // starts 1 task and autoscaling raises it to minTaskCount at once.
      healthCheckGracePeriod: Duration.seconds(60),
      ...props.deployment,
    });
  }

  private registerBlueGreenTargets(props: ChatApiServiceProps): void {
    const { targets } = props;
    this.service
      .loadBalancerTarget({
        containerName: props.containerName,
        containerPort: props.containerPort,
        alternateTarget: new ecs.AlternateTarget('GreenTarget', {
          alternateTargetGroup: targets.greenTargetGroup,
          productionListener: ecs.ListenerRuleConfiguration.applicationListenerRule(targets.productionRule),
          testListener: ecs.ListenerRuleConfiguration.applicationListenerRule(targets.testRule),
        }),
      })
      .attachToApplicationTargetGroup(targets.blueTargetGroup);
  }

  private scaleOnCpuAndMemory(scaling: ServiceScaling): void {
    const taskCount = this.service.autoScaleTaskCount({
      minCapacity: scaling.minTaskCount,
      maxCapacity: scaling.maxTaskCount,
    });
    taskCount.scaleOnCpuUtilization('Cpu', {
      targetUtilizationPercent: scaling.targetCpuUtilizationPercent,
      scaleOutCooldown: Duration.seconds(60),
      scaleInCooldown: Duration.minutes(5),
    });
    taskCount.scaleOnMemoryUtilization('Memory', {
      targetUtilizationPercent: scaling.targetMemoryUtilizationPercent,
      scaleOutCooldown: Duration.seconds(60),
      scaleInCooldown: Duration.minutes(5),
    });
  }

  private acknowledgeGreenTargetRole(): void {
    const greenTargetRole = this.service.node.tryFindChild('GreenTargetRole');
    if (!greenTargetRole) return;
    NagSuppressions.addResourceSuppressions(
      greenTargetRole,
      [
        {
          id: 'AwsSolutions-IAM4',
          reason:
            'The ECS infrastructure role for blue/green load balancing uses the AWS-maintained AmazonECSInfrastructureRolePolicyForLoadBalancers, which ECS documents for this role (it edits listener rules and target groups).',
          appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers'],
        },
      ],
      true,
    );
  }
}

import { Duration } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type { DeploymentStrategyName, StageConfig } from '../config';
import { deploymentAlarmNames } from '../monitoring/alarm-names';

/**
 * Where the gate hook runs, per strategy.
 *
 * - POST_TEST_TRAFFIC_SHIFT: green has 100% of the test listener and 0% of production. Every strategy.
 * - PRODUCTION_TRAFFIC_SHIFT: for canary and linear deployments ECS invokes hooks at this stage at
 *   every traffic-shift step (lambda-lifecycle-hooks.html, "Supported lifecycle stages"), so the gate
 *   runs again at each step. ECS also re-invokes it on a rollback, which the hook recognises from
 *   the weights and answers without load.
 *
 * PRE_PRODUCTION_TRAFFIC_SHIFT ("before each traffic shift step") would say it more precisely, but
 * neither aws-cdk-lib 2.276's DeploymentLifecycleStage nor the CloudFormation reference lists it yet.
 */
export const GATE_LIFECYCLE_STAGES: Readonly<Record<DeploymentStrategyName, readonly ecs.DeploymentLifecycleStage[]>> =
  {
    BLUE_GREEN: [ecs.DeploymentLifecycleStage.POST_TEST_TRAFFIC_SHIFT],
    CANARY: [
      ecs.DeploymentLifecycleStage.POST_TEST_TRAFFIC_SHIFT,
      ecs.DeploymentLifecycleStage.PRODUCTION_TRAFFIC_SHIFT,
    ],
    LINEAR: [
      ecs.DeploymentLifecycleStage.POST_TEST_TRAFFIC_SHIFT,
      ecs.DeploymentLifecycleStage.PRODUCTION_TRAFFIC_SHIFT,
    ],
  };

/** Minutes ECS waits for the hook beyond the gate's own limit before rolling back on its own. */
export const HOOK_TIMEOUT_MARGIN_MINUTES = 5;

export type DeploymentSettings = Pick<
  ecs.FargateServiceProps,
  | 'deploymentStrategy'
  | 'bakeTime'
  | 'canaryConfiguration'
  | 'linearConfiguration'
  | 'circuitBreaker'
  | 'deploymentAlarms'
  | 'minHealthyPercent'
  | 'maxHealthyPercent'
>;

/** The FargateService deployment properties for a stage; validation of the values is in lib/config/validate.ts. */
export function deploymentSettings(config: StageConfig): DeploymentSettings {
  const d = config.deployment;
  const strategy = ecs.DeploymentStrategy[d.strategy];
  const base: DeploymentSettings = {
    deploymentStrategy: strategy,
    // Always explicit: without it ECS keeps blue and green running (double capacity) for its default
    // bake time, which is hours. The deployment alarms can still roll back during the bake.
    bakeTime: Duration.minutes(d.bakeTimeMinutes),
    // The alarms are created under these fixed names in the Service stack, which orders the service after them.
    deploymentAlarms: { alarmNames: deploymentAlarmNames(config), behavior: ecs.AlarmBehavior.ROLLBACK_ON_ALARM },
    // Blue keeps serving until green is proven: the service never runs below its desired count.
    minHealthyPercent: 100,
    maxHealthyPercent: 200,
    // Green tasks that never become healthy fail the deployment quickly and roll back, instead of
    // holding it (and the CloudFormation update) for up to 3 hours. ECS documents the circuit breaker
    // for rolling and blue/green deployments
    // (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-failure-detection.html);
    // canary and linear are blue/green with stepped traffic on the same ECS controller, and ECS would
    // refuse the update loudly if it did not take it (docs/deployments.md, "Verify on the first real deploy").
    circuitBreaker: { enable: true, rollback: true },
  };
  switch (d.strategy) {
    case 'BLUE_GREEN':
      return base;
    case 'CANARY': {
      const c = required(d.canary, 'deployment.canary');
      return {
        ...base,
        canaryConfiguration: { stepPercent: c.canaryPercent, stepBakeTime: Duration.minutes(c.canaryBakeTimeMinutes) },
      };
    }
    case 'LINEAR': {
      const l = required(d.linear, 'deployment.linear');
      return {
        ...base,
        linearConfiguration: { stepPercent: l.stepPercent, stepBakeTime: Duration.minutes(l.stepBakeTimeMinutes) },
      };
    }
  }
}

function required<T>(value: T | undefined, name: string): T {
  if (value === undefined) {
    throw new Error(`${name} is required by the deployment strategy; lib/config/validate.ts should have said so.`);
  }
  return value;
}

/**
 * A stage's Monitoring stack (and the Service stack, which holds the alarm topic and the three
 * deployment alarms the ECS service names), synthesized the way `bin/app.ts` builds the stage (every stack,
 * cdk-nag attached), memoised per config within a test file.
 */
import type { App } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import { STAGES, type StageConfig, type StageName } from '../../lib/config';
import type { MonitoringStack } from '../../lib/stacks/monitoring-stack';
import { synthConfig, synthStage } from '../support/cdk';

export interface MonitoredStage {
  readonly app: App;
  readonly config: StageConfig;
  readonly monitoring: MonitoringStack;
  readonly template: Template;
  /** The Service stack's template: the alarm topic and the deployment alarms are there. */
  readonly serviceTemplate: Template;
  readonly serviceStackName: string;
}

const memo = new Map<string, MonitoredStage>();

/** The shipped stage config, or a variant of it (e.g. from `withOverrides`). */
export function synthMonitoredStage(stage: StageName, config: StageConfig = STAGES[stage]): MonitoredStage {
  const key = config === STAGES[stage] ? stage : `${stage}:${JSON.stringify(config)}`;
  let result = memo.get(key);
  if (!result) {
    const platform = config === STAGES[stage] ? synthStage(stage) : synthConfig(config);
    const monitoring = platform.stacks.monitoring;
    result = {
      app: platform.app,
      config,
      monitoring,
      template: platform.template(monitoring),
      serviceTemplate: platform.template(platform.stacks.service),
      serviceStackName: platform.stacks.service.stackName,
    };
    memo.set(key, result);
  }
  return result;
}

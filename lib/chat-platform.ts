import { RemovalPolicies, type Stage } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { appVersionProblem, physicalName, type StageConfig, StageConfigError } from './config';
import { isAppVersion } from './contract';
import { DataStack } from './stacks/data-stack';
import { MonitoringStack } from './stacks/monitoring-stack';
import { NetworkStack } from './stacks/network-stack';
import { ServiceStack } from './stacks/service-stack';

export interface ChatPlatformOptions {
  /** The version deployed; becomes the service's APP_VERSION and the gate's EXPECTED_VERSION. */
  readonly appVersion: string;
}

export interface ChatPlatformStacks {
  readonly network: NetworkStack;
  readonly data: DataStack;
  readonly service: ServiceStack;
  readonly monitoring: MonitoringStack;
}

/**
 * Builds every stack of one stage into `scope` (the App, or a pipeline `Stage`). Stack IDs and
 * stack names are `<app>-<stage>-<layer>` and are a public contract: renaming one replaces its
 * resources. The name is set explicitly so a stage deployed by `cdk deploy` and the same stage
 * deployed by the pipeline are the same CloudFormation stacks (a `Stage` would otherwise prefix
 * them), and the pipeline can take over a hand-deployed stage.
 */
export function buildChatPlatform(
  scope: Construct | Stage,
  config: StageConfig,
  options: ChatPlatformOptions,
): ChatPlatformStacks {
  // The service would refuse this version at start (exit 78) after a deploy had begun: refuse it here.
  if (!isAppVersion(options.appVersion))
    throw new StageConfigError(config.stage, [appVersionProblem(options.appVersion)]);
  const env = { account: config.env.account, region: config.env.region };
  const name = (layer: string) => physicalName(config, layer);

  const network = new NetworkStack(scope, name('network'), {
    env,
    stackName: name('network'),
    terminationProtection: config.terminationProtection,
    config,
    description: `${name('network')}: VPC, flow logs, endpoints`,
  });
  const data = new DataStack(scope, name('data'), {
    env,
    stackName: name('data'),
    config,
    vpc: network.vpc,
    serviceSecurityGroup: network.serviceSecurityGroup,
    description: `${name('data')}: RDS PostgreSQL and ElastiCache (stateful)`,
  });

  const service = new ServiceStack(scope, name('service'), {
    env,
    stackName: name('service'),
    terminationProtection: config.terminationProtection,
    config,
    appVersion: options.appVersion,
    vpc: network.vpc,
    serviceSecurityGroup: network.serviceSecurityGroup,
    database: data.database,
    cache: data.cache,
    description: `${name('service')}: ECS cluster, ALB, staged rollout of the chat API, k6 gate`,
  });

  // Depends on the Service and Data stacks. The alarms the ECS service names (and the alarm topic)
  // are created in the Service stack, so nothing there names a resource of this stack.
  const monitoring = new MonitoringStack(scope, name('monitoring'), {
    env,
    stackName: name('monitoring'),
    config,
    service,
    database: data.database.instance,
    description: `${name('monitoring')}: alarm topic, alarms, the service-degraded page, dashboard`,
  });

  // Every log group of the stage, whichever construct made it (flow logs, tasks, Lambdas, the
  // database's exports, WAF, aws-cdk-lib's own custom-resource functions): one rule here instead of
  // a flag threaded through each construct. Kept in prod; deleted with a throwaway stage.
  for (const stack of [network, data, service, monitoring]) {
    const logGroups = { applyToResourceTypes: ['AWS::Logs::LogGroup'] };
    if (config.retainLogGroups) RemovalPolicies.of(stack).retain(logGroups);
    else RemovalPolicies.of(stack).destroy(logGroups);
  }

  return { network, data, service, monitoring };
}

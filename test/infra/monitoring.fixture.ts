/**
 * A stage's Monitoring stack for the monitoring tests: from `buildChatPlatform` when it builds one
 * (the stage as deployed), otherwise from the real Network, Data, Service and Monitoring stacks
 * assembled here.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { App, Aspects } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import cdkJson from '../../cdk.json';
import { physicalName, STAGES, type StageConfig, type StageName, validateStageConfig } from '../../lib/config';
import { DataStack } from '../../lib/stacks/data-stack';
import { MonitoringStack } from '../../lib/stacks/monitoring-stack';
import { NetworkStack } from '../../lib/stacks/network-stack';
import { ServiceStack } from '../../lib/stacks/service-stack';
import { synthStage, TEST_APP_VERSION } from '../support/cdk';

export interface MonitoredStage {
  readonly app: App;
  readonly config: StageConfig;
  readonly monitoring: MonitoringStack;
  /** Whether the Monitoring stack comes from `lib/chat-platform.ts` (else it is assembled here). */
  readonly fromPlatform: boolean;
  readonly template: Template;
}

/**
 * Until `service/Dockerfile` exists, the Service stack cannot build its image asset; a pinned
 * image URI (the stage config's other image source) lets the real Service stack synthesize.
 */
const STAND_IN_IMAGE = { kind: 'uri', uri: 'public.ecr.aws/docker/library/node:22-alpine' } as const;

function synthStandalone(config: StageConfig): MonitoredStage {
  const { stage: _stage, ...flags } = cdkJson.context;
  const app = new App({ context: { ...flags, 'aws:cdk:bundling-stacks': [] } });
  const withImage = existsSync(join(__dirname, '../../service/Dockerfile'))
    ? config
    : { ...config, service: { ...config.service, image: STAND_IN_IMAGE } };
  validateStageConfig(withImage);
  const env = { account: config.env.account, region: config.env.region };
  const name = (layer: string) => physicalName(config, layer);
  const network = new NetworkStack(app, name('network'), { env, config: withImage });
  const data = new DataStack(app, name('data'), {
    env,
    config: withImage,
    vpc: network.vpc,
    serviceSecurityGroup: network.serviceSecurityGroup,
  });
  const service = new ServiceStack(app, name('service'), {
    env,
    config: withImage,
    appVersion: TEST_APP_VERSION,
    vpc: network.vpc,
    serviceSecurityGroup: network.serviceSecurityGroup,
    database: data.database,
    cache: data.cache,
  });
  const monitoring = new MonitoringStack(app, name('monitoring'), {
    env,
    config: withImage,
    service,
    database: data.database.instance,
  });
  Aspects.of(monitoring).add(new AwsSolutionsChecks({ logIgnores: true }));
  app.synth();
  return { app, config, monitoring, fromPlatform: false, template: Template.fromStack(monitoring) };
}

const memo = new Map<string, MonitoredStage>();

/** A stage's Monitoring stack, from the real platform when it is wired, else with the fixture. */
export function synthMonitoredStage(stage: StageName, config: StageConfig = STAGES[stage]): MonitoredStage {
  const key = config === STAGES[stage] ? stage : `${stage}:${JSON.stringify(config)}`;
  let result = memo.get(key);
  if (!result) {
    const platform = config === STAGES[stage] ? synthStage(stage) : undefined;
    const real = (platform?.stacks as { monitoring?: MonitoringStack } | undefined)?.monitoring;
    result =
      platform && real
        ? {
            app: platform.app,
            config,
            monitoring: real,
            fromPlatform: true,
            template: platform.template(real),
          }
        : synthStandalone(config);
    memo.set(key, result);
  }
  return result;
}

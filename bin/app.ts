#!/usr/bin/env node
/**
 * The CDK app. Wiring only: resolve the stage, build its stacks, attach cdk-nag.
 *   npx cdk synth                       # dev
 *   npx cdk synth -c stage=prod         # or staging
 *   npx cdk deploy --all -c stage=staging -c appVersion=$(git rev-parse --short HEAD)
 *   npx cdk deploy -c pipeline=true    # the release pipeline instead (docs/pipelines.md)
 */
import { App, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildChatPlatform } from '../lib/chat-platform';
import { isPipelineEnabled, resolvePipelineConfig, resolveStageConfig, StageConfigError } from '../lib/config';
import { PipelineStack } from '../lib/pipeline/pipeline-stack';
import { devDependencies, version } from '../package.json';

const app = new App();
const stage = String(app.node.tryGetContext('stage') ?? 'dev');
try {
  const account = process.env.CDK_DEFAULT_ACCOUNT;
  const appVersion = String(app.node.tryGetContext('appVersion') ?? version);
  const nag = new AwsSolutionsChecks({ verbose: true });
  if (isPipelineEnabled(app.node.tryGetContext('pipeline'))) {
    const pipeline = resolvePipelineConfig({ account });
    new PipelineStack(app, pipeline.config.name, {
      env: pipeline.config.env,
      pipeline,
      appVersion,
      cdkCliVersion: devDependencies['aws-cdk'],
      description: `${pipeline.config.name}: release pipeline (test, synth, then each stage behind its k6 gate)`,
      // App aspects stop at a nested Stage: the stages the pipeline deploys are checked too.
      stageAspects: [nag],
    });
  } else {
    buildChatPlatform(app, resolveStageConfig(stage, { account }), { appVersion });
  }
  Aspects.of(app).add(nag);
} catch (err) {
  if (!(err instanceof StageConfigError)) throw err;
  // A config mistake is the user's to fix: say what, without a stack trace.
  console.error(err.message);
  process.exit(1);
}

#!/usr/bin/env node
/**
 * The CDK app. Wiring only: resolve the stage, build its stacks, attach cdk-nag.
 *   npx cdk synth                       # dev
 *   npx cdk synth -c stage=prod         # or staging
 *   npx cdk deploy --all -c stage=staging -c appVersion=$(git rev-parse --short HEAD)
 */
import { App, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildChatPlatform } from '../lib/chat-platform';
import { resolveStageConfig, StageConfigError } from '../lib/config';
import { version } from '../package.json';

const app = new App();
const stage = String(app.node.tryGetContext('stage') ?? 'dev');
try {
  const config = resolveStageConfig(stage, { account: process.env.CDK_DEFAULT_ACCOUNT });
  const appVersion = String(app.node.tryGetContext('appVersion') ?? version);
  buildChatPlatform(app, config, { appVersion });
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
} catch (err) {
  if (!(err instanceof StageConfigError)) throw err;
  // A config mistake is the user's to fix: say what, without a stack trace.
  console.error(err.message);
  process.exit(1);
}

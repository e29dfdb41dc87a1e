/**
 * The release pipeline app the way `bin/app.ts -c pipeline=true` builds it (no account known, the
 * shipped pipeline config, cdk-nag on the app and on every stage), with Lambda bundling skipped.
 * Kept apart from cdk.ts so the stage tests do not load the pipeline.
 */
import { App, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import cdkJson from '../../cdk.json';
import { resolvePipelineConfig } from '../../lib/config';
import { PipelineStack } from '../../lib/pipeline/pipeline-stack';
import { devDependencies } from '../../package.json';
import { TEST_APP_VERSION } from './cdk';

let pipelineDir: string | undefined;

/**
 * Synthesizes the pipeline once per test file; returns the cloud assembly directory (the pipeline
 * stack, and one nested assembly per stage it deploys).
 */
export function synthPipelineAssembly(): string {
  if (!pipelineDir) {
    const { stage: _stage, ...flags } = cdkJson.context;
    const app = new App({ context: { ...flags, 'aws:cdk:bundling-stacks': [] } });
    const pipeline = resolvePipelineConfig({});
    const nag = new AwsSolutionsChecks({ logIgnores: true });
    new PipelineStack(app, pipeline.config.name, {
      env: pipeline.config.env,
      pipeline,
      appVersion: TEST_APP_VERSION,
      cdkCliVersion: devDependencies['aws-cdk'],
      stageAspects: [nag],
    });
    Aspects.of(app).add(nag);
    pipelineDir = app.synth().directory;
  }
  return pipelineDir;
}

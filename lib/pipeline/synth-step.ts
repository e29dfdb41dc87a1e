import { Aws, Duration } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as pipelines from 'aws-cdk-lib/pipelines';
import { PIPELINE_IMAGE_K6_BIN } from './build-image';
import { GATE_STEP_ENV, NPM_CI } from './k6-gate-step';

/**
 * The synth step's commands, in order; CodeBuild stops at the first that fails, and then no cloud
 * assembly exists and nothing deploys. `npm test` is typecheck, lint and every jest test, the
 * integration tests against the PostgreSQL and Redis the build image provides included.
 *
 * The synth deploys `-c appVersion=$APP_VERSION`, and the gate steps expect `$APP_VERSION`: the
 * same CodePipeline variable (the source commit) in both, so the gate checks the version deployed.
 */
export function synthCommands(): string[] {
  return [NPM_CI, 'npm test', `npx cdk synth -c pipeline=true -c appVersion="$${GATE_STEP_ENV.appVersion}"`];
}

export interface SynthStepProps {
  readonly input: pipelines.IFileSetProducer;
  /** The release's version as a CodePipeline variable, e.g. the source action's `CommitId`. */
  readonly appVersion: string;
  readonly buildImage: codebuild.IBuildImage;
  readonly logGroup: logs.ILogGroup;
}

/**
 * The synth may need context lookups that no committed `cdk.context.json` answers: with an account
 * known, the VPC's explicit availability zones are checked against `availability-zones:account=…`.
 * The CDK CLI answers a lookup by assuming the bootstrap's lookup role, which the CodeBuild role
 * may assume only by its `aws-cdk:bootstrap-role = lookup` tag (the form the aws-cdk-lib pipelines
 * README gives under "Context Lookups"). The lookup role is read-only by design.
 */
export const ASSUME_LOOKUP_ROLE = new iam.PolicyStatement({
  sid: 'AssumeCdkLookupRole',
  actions: ['sts:AssumeRole'],
  // Any account: a stage may deploy into its own account, whose lookup role the synth must read.
  resources: [`arn:${Aws.PARTITION}:iam::*:role/*`],
  conditions: { StringEquals: { 'iam:ResourceTag/aws-cdk:bootstrap-role': 'lookup' } },
});

/** `npm ci`, `npm test`, `cdk synth` in the pinned build image; its output is `cdk.out`. */
export class SynthStep extends pipelines.CodeBuildStep {
  constructor(id: string, props: SynthStepProps) {
    super(id, {
      input: props.input,
      commands: synthCommands(),
      env: { [GATE_STEP_ENV.appVersion]: props.appVersion },
      primaryOutputDirectory: 'cdk.out',
      buildEnvironment: {
        buildImage: props.buildImage,
        // The integration tests run PostgreSQL, Redis and the service side by side.
        computeType: codebuild.ComputeType.MEDIUM,
        // The end-to-end gate test runs real k6 instead of reporting itself skipped.
        environmentVariables: { K6_BIN: { value: PIPELINE_IMAGE_K6_BIN } },
      },
      logging: { cloudWatch: { logGroup: props.logGroup } },
      timeout: Duration.minutes(60),
      rolePolicyStatements: [ASSUME_LOOKUP_ROLE],
    });
  }
}

import { Aspects, type IAspect, Stack, type StackProps } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as pipelines from 'aws-cdk-lib/pipelines';
import type { Construct } from 'constructs';
import {
  appVersionProblem,
  PipelineConfigError,
  type ResolvedPipeline,
  type ResolvedPipelineStage,
  type StageName,
} from '../config';
import { PipelineArtifactBucket } from '../constructs/pipeline-artifact-bucket';
import { formatLlmPrice, isAppVersion } from '../contract';
import { pipelineBuildImage } from './build-image';
import { ChatPlatformStage } from './chat-platform-stage';
import { K6GateStep } from './k6-gate-step';
import { acknowledgePipelineFindings } from './nag-acknowledgements';
import { SynthStep } from './synth-step';

export interface PipelineStackProps extends StackProps {
  /** PIPELINE_CONFIG and the stage configs it deploys, resolved and validated (lib/config/validate-pipeline.ts). */
  readonly pipeline: ResolvedPipeline;
  /**
   * The version this synth deploys into every stage. In the pipeline's own synth step it is the
   * source commit (`-c appVersion=$APP_VERSION`); the gate steps expect the same variable.
   */
  readonly appVersion: string;
  /** The CDK CLI that self-mutation and asset publishing install: the version package.json pins. */
  readonly cdkCliVersion: string;
  /**
   * Aspects for every stage the pipeline deploys, e.g. cdk-nag from `bin/`. Aspects of the App do
   * not reach into a nested `Stage`, and CDK Pipelines synthesizes each stage while the pipeline is
   * built, so they are attached here, before that.
   * @default - none
   */
  readonly stageAspects?: readonly IAspect[];
}

/** `Staging`, `Prod`: a stage's ID in the pipeline, and the prefix of its stack names. */
export function pipelineStageId(stage: StageName): string {
  return `${stage.charAt(0).toUpperCase()}${stage.slice(1)}`;
}

/**
 * The optional release pipeline (CDK Pipelines on CodePipeline V2): source from a repository
 * connection, a synth step that tests and synthesizes, then each configured stage in order. A stage
 * deploys its stacks (each ECS rollout gated in AWS by the k6 hook), then a post-deploy k6 gate
 * runs against its production URL with the release's version; a manual approval precedes the
 * stages configured for one. A failed step stops the release before the next stage.
 */
export class PipelineStack extends Stack {
  readonly source: pipelines.CodePipelineSource;
  /** The release's version: the source action's `CommitId` variable, resolved per execution. */
  readonly releaseVersion: string;
  readonly pipeline: pipelines.CodePipeline;
  readonly stages: readonly ChatPlatformStage[];
  readonly gates: readonly K6GateStep[];

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    const { config } = props.pipeline;
    if (!isAppVersion(props.appVersion)) {
      throw new PipelineConfigError([appVersionProblem(props.appVersion)]);
    }

    this.source = pipelines.CodePipelineSource.connection(
      `${config.repository.owner}/${config.repository.name}`,
      config.branch,
      { connectionArn: config.connectionArn },
    );
    this.releaseVersion = this.source.sourceAttribute('CommitId');
    const buildImage = pipelineBuildImage(this, 'BuildImage');
    const logGroup = new logs.LogGroup(this, 'BuildLogs', {
      retention: config.logRetentionDays as logs.RetentionDays,
    });
    const artifacts = new PipelineArtifactBucket(this, 'Artifacts', {
      accessLogRetentionDays: config.logRetentionDays,
    });

    this.pipeline = new pipelines.CodePipeline(this, 'Pipeline', {
      pipelineName: config.name,
      pipelineType: codepipeline.PipelineType.V2,
      synth: new SynthStep('Synth', { input: this.source, appVersion: this.releaseVersion, buildImage, logGroup }),
      // Encrypted with a customer-managed key, which deploying into other accounts requires.
      artifactBucket: artifacts.bucket,
      // The synth and gate steps' build image is an image asset of this stack (published by self-mutation).
      dockerEnabledForSelfMutation: true,
      cliVersion: props.cdkCliVersion,
      codeBuildDefaults: {
        logging: { cloudWatch: { logGroup } },
        buildEnvironment: { computeType: codebuild.ComputeType.SMALL },
      },
    });

    const stages: ChatPlatformStage[] = [];
    const gates: K6GateStep[] = [];
    for (const stage of props.pipeline.stages) {
      const { app, gate } = this.addReleaseStage(config.name, stage, props, buildImage, logGroup);
      stages.push(app);
      gates.push(gate);
    }
    this.stages = stages;
    this.gates = gates;

    // Built now, not at synth, so the generated roles and projects exist for the acknowledgements.
    this.pipeline.buildPipeline();
    acknowledgePipelineFindings({
      pipeline: this.pipeline,
      artifactBucket: artifacts.bucket,
      buildImageProjects: [this.pipeline.synthProject, ...gates.map((g) => g.project)],
    });
  }

  private addReleaseStage(
    pipelineName: string,
    stage: ResolvedPipelineStage,
    props: PipelineStackProps,
    buildImage: codebuild.IBuildImage,
    logGroup: logs.ILogGroup,
  ): { app: ChatPlatformStage; gate: K6GateStep } {
    const id = pipelineStageId(stage.stage);
    const app = new ChatPlatformStage(this, id, { config: stage.config, appVersion: props.appVersion });
    for (const aspect of props.stageAspects ?? []) Aspects.of(app).add(aspect);
    const gate = new K6GateStep(`Gate-${stage.gateProfile}`, {
      input: this.source,
      profile: stage.gateProfile,
      llmPricePerMTok: formatLlmPrice(stage.config.service.llm.pricePerMTok),
      serviceUrl: app.serviceUrl,
      appVersion: this.releaseVersion,
      buildImage,
      projectName: `${pipelineName}-${stage.stage}-gate`,
      metricsServiceName: `${pipelineName}-${stage.stage}`,
      logGroup,
      ...(app.gateAuth ? { auth: app.gateAuth } : {}),
    });
    const pre = stage.manualApproval
      ? [
          new pipelines.ManualApprovalStep(`Approve-${id}`, {
            comment: `Approve to deploy this release to ${stage.stage}; it has passed every step before this one.`,
          }),
        ]
      : [];
    this.pipeline.addStage(app, { pre, post: [gate] });
    return { app, gate };
  }
}

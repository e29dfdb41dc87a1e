import { type CfnOutput, Duration } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as pipelines from 'aws-cdk-lib/pipelines';
import { GATE_CLIENT_SECRET_JSON_KEYS, GATE_ENV, GATE_REPORT_FILES, type GateProfile } from '../contract';
import { PIPELINE_IMAGE_K6_BIN } from './build-image';

/** Where `npm run gate` writes its reports in the step (`--out`), relative to the source root. */
export const GATE_REPORT_DIR = 'reports';

/**
 * The report's name in the buildspec. CodeBuild creates the report group `<project name>-k6-gate`
 * on the first run, and aws-cdk-lib grants the project's role exactly `<project name>-*`.
 */
export const GATE_REPORT_GROUP = 'k6-gate';

/** Environment variables the gate command reads; set by the step, never by hand. */
export const GATE_STEP_ENV = {
  /** The stage's production URL, from the Service stack's `ServiceUrl` output. */
  serviceUrl: 'SERVICE_URL',
  /** The release's version: the CodePipeline variable the synth step also deploys as APP_VERSION. */
  appVersion: 'APP_VERSION',
} as const;

/** The steps' npm install: the lockfile only, nothing else from the network. */
export const NPM_CI = 'npm ci --no-audit --no-fund';

/**
 * The one command a gate step runs. It exits with k6's own code (0 pass, 99 thresholds failed,
 * anything else a gate error), which fails the CodeBuild build and so the pipeline stage: nothing
 * here may turn a non-zero exit into success.
 */
export function gateCommand(profile: GateProfile): string {
  return `npm run gate -- --target "$${GATE_STEP_ENV.serviceUrl}" --profile ${profile} --expected-version "$${GATE_STEP_ENV.appVersion}" --out ${GATE_REPORT_DIR}`;
}

export interface K6GateStepProps {
  /** The repository at the release's commit: `npm run gate` and the suites come from it. */
  readonly input: pipelines.IFileSetProducer;
  readonly profile: GateProfile;
  /** The stage's LLM price (`LLM_PRICE_PER_MTOK`, see `formatLlmPrice`): the verdict prices each answer with it. */
  readonly llmPricePerMTok?: string;
  /** The Service stack's `ServiceUrl` output: scheme, host and production port. */
  readonly serviceUrl: CfnOutput;
  /** The release's version as a CodePipeline variable, resolved when the step runs. */
  readonly appVersion: string;
  /** The pinned build image with k6 (lib/pipeline/build-image.ts). */
  readonly buildImage: codebuild.IBuildImage;
  /**
   * Physical project name; the JUnit report group is `<projectName>-k6-gate`.
   * @example 'chat-pipeline-staging-gate'
   */
  readonly projectName: string;
  /**
   * The `Service` dimension of the gate's EMF line (SERVICE_NAME). Distinct from the stage's own
   * service dimension, so a pipeline gate never feeds the stage's gate alarms.
   * @example 'chat-pipeline-staging'
   */
  readonly metricsServiceName: string;
  readonly logGroup: logs.ILogGroup;
  /** @default 45 minutes: the longest profile (soak) runs 20 minutes, plus npm ci, setup() and the drain. */
  readonly timeout?: Duration;
  /**
   * The stage's gate machine client: its token endpoint (a stage output) and the Secrets Manager
   * secret `{clientId, clientSecret}` by name, which CodeBuild injects as GATE_CLIENT_ID and
   * GATE_CLIENT_SECRET (masked in its logs). The name resolves in the pipeline's account and region.
   * @default - no credentials: the gate fails with exit 77 against a service that requires tokens
   */
  readonly auth?: { readonly tokenUrl: CfnOutput; readonly secretName: string; readonly scope?: string };
}

/**
 * A post-deploy gate: `npm run gate` with the stage's production URL and the release's version, k6
 * from the pinned build image. The JUnit report goes to a CodeBuild test report group (uploaded
 * even when the gate fails); both reports are the step's output artifact when it passes.
 */
export class K6GateStep extends pipelines.CodeBuildStep {
  constructor(id: string, props: K6GateStepProps) {
    super(id, {
      input: props.input,
      projectName: props.projectName,
      installCommands: [NPM_CI],
      commands: [gateCommand(props.profile)],
      env: {
        [GATE_STEP_ENV.appVersion]: props.appVersion,
        ...(props.auth?.scope ? { [GATE_ENV.tokenScope]: props.auth.scope } : {}),
      },
      envFromCfnOutputs: {
        [GATE_STEP_ENV.serviceUrl]: props.serviceUrl,
        ...(props.auth ? { [GATE_ENV.tokenUrl]: props.auth.tokenUrl } : {}),
      },
      primaryOutputDirectory: GATE_REPORT_DIR,
      buildEnvironment: {
        buildImage: props.buildImage,
        computeType: codebuild.ComputeType.SMALL,
        environmentVariables: {
          K6_BIN: { value: PIPELINE_IMAGE_K6_BIN },
          [GATE_ENV.serviceName]: { value: props.metricsServiceName },
          ...(props.llmPricePerMTok ? { [GATE_ENV.llmPricePerMTok]: { value: props.llmPricePerMTok } } : {}),
          ...(props.auth
            ? {
                [GATE_ENV.clientId]: {
                  type: codebuild.BuildEnvironmentVariableType.SECRETS_MANAGER,
                  value: `${props.auth.secretName}:${GATE_CLIENT_SECRET_JSON_KEYS.clientId}`,
                },
                [GATE_ENV.clientSecret]: {
                  type: codebuild.BuildEnvironmentVariableType.SECRETS_MANAGER,
                  value: `${props.auth.secretName}:${GATE_CLIENT_SECRET_JSON_KEYS.clientSecret}`,
                },
              }
            : {}),
        },
      },
      partialBuildSpec: codebuild.BuildSpec.fromObject({
        reports: {
          [GATE_REPORT_GROUP]: {
            files: [GATE_REPORT_FILES.junit],
            'base-directory': GATE_REPORT_DIR,
            'file-format': 'JUNITXML',
          },
        },
      }),
      logging: { cloudWatch: { logGroup: props.logGroup } },
      timeout: props.timeout ?? Duration.minutes(45),
    });
  }
}

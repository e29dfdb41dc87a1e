/**
 * cdk-nag acknowledgements for the roles and projects CDK Pipelines generates. Each is attached to
 * the one role or project it concerns, lists the exact findings (`appliesTo`), and says why the
 * permission is as narrow as the service allows. Nothing here is a blanket suppression.
 */
import { Stack } from 'aws-cdk-lib';
import type * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as pipelines from 'aws-cdk-lib/pipelines';
import { NagSuppressions, type RegexAppliesTo } from 'cdk-nag';
import type { IConstruct } from 'constructs';

type AppliesTo = string | RegexAppliesTo;

/** The object-level and key grants aws-cdk-lib writes for reading or writing pipeline artifacts. */
function artifactFindings(bucket: s3.IBucket): AppliesTo[] {
  const stack = Stack.of(bucket);
  const logicalId = stack.resolve((bucket.node.defaultChild as s3.CfnBucket).logicalId);
  return [
    'Action::s3:Abort*',
    'Action::s3:DeleteObject*',
    'Action::s3:GetBucket*',
    'Action::s3:GetObject*',
    'Action::s3:List*',
    'Action::kms:GenerateDataKey*',
    'Action::kms:ReEncrypt*',
    `Resource::<${logicalId}.Arn>/*`,
  ];
}

const ARTIFACT_REASON =
  "aws-cdk-lib's grant on the pipeline's own artifact bucket and its key: artifacts are objects under per-execution keys, so object actions need <bucket>/*; no other bucket or key is reachable.";

/** A CodeBuild project's default grants: its own log group and report groups named after it (the account is a token, or a literal id once the pipeline's account is known). */
const PROJECT_DEFAULTS: AppliesTo[] = [
  {
    regex:
      '/^Resource::arn:aws:logs:[a-z0-9-]+:(<AWS::AccountId>|\\d{12}):log-group:\\/aws\\/codebuild\\/<[A-Za-z0-9]+>:\\*$/',
  },
  { regex: '/^Resource::arn:aws:codebuild:[a-z0-9-]+:(<AWS::AccountId>|\\d{12}):report-group\\/<[A-Za-z0-9]+>-\\*$/' },
];
const PROJECT_DEFAULTS_REASON =
  "aws-cdk-lib's default grant for a CodeBuild project: log streams of /aws/codebuild/<this project> and report groups named <this project>-*, where CodeBuild creates the k6 JUnit report group.";

const ECR_AUTH: AppliesTo[] = ['Resource::*'];
const ECR_AUTH_REASON =
  'ecr:GetAuthorizationToken to pull the pinned build image supports no resource-level permissions; the image pull itself is limited to the CDK container-asset repository.';

function acknowledgeRole(role: IConstruct | undefined, findings: Array<[AppliesTo[], string]>): void {
  if (!role) return;
  NagSuppressions.addResourceSuppressions(
    role,
    findings.map(([appliesTo, reason]) => ({ id: 'AwsSolutions-IAM5', reason, appliesTo })),
    true,
  );
}

function roleOf(construct: IConstruct | undefined): iam.IRole | undefined {
  if (!construct) return undefined;
  const role = (construct as { role?: iam.IRole }).role;
  return role ?? construct.node.findAll().find((c): c is iam.Role => c instanceof iam.Role);
}

export interface PipelineFindingsScope {
  readonly pipeline: pipelines.CodePipeline;
  readonly artifactBucket: s3.IBucket;
  /** The projects running in the pinned build image (synth and gates). */
  readonly buildImageProjects: readonly codebuild.IProject[];
}

export function acknowledgePipelineFindings({
  pipeline,
  artifactBucket,
  buildImageProjects,
}: PipelineFindingsScope): void {
  const artifacts: [AppliesTo[], string] = [artifactFindings(artifactBucket), ARTIFACT_REASON];
  const projectDefaults: [AppliesTo[], string] = [PROJECT_DEFAULTS, PROJECT_DEFAULTS_REASON];

  // The pipeline's service role and its source action's role move artifacts only.
  acknowledgeRole(pipeline.pipeline.role, [artifacts]);
  const sourceStage = pipeline.pipeline.node.tryFindChild('Source');
  for (const role of sourceStage?.node.findAll().filter((c) => c instanceof iam.Role) ?? []) {
    acknowledgeRole(role, [artifacts]);
  }

  // Synth and gates: artifacts, their project defaults, and pulling the build image.
  for (const project of buildImageProjects) {
    acknowledgeRole(project.role, [artifacts, projectDefaults, [ECR_AUTH, ECR_AUTH_REASON]]);
    NagSuppressions.addResourceSuppressions(project, [
      {
        id: 'AwsSolutions-CB5',
        reason:
          'A custom image on purpose: ci/pipeline-image/Dockerfile adds the pinned k6 release and PostgreSQL 15 and Redis for npm test, which no CodeBuild-managed image ships; it is built from pinned base images.',
      },
    ]);
  }

  // The synth assumes the bootstrap lookup role of any stage's account (synth-step.ts).
  acknowledgeRole(pipeline.synthProject.role, [
    [
      ['Resource::arn:<AWS::Partition>:iam::*:role/*'],
      "The synth step answers context lookups through the CDK bootstrap's read-only lookup role, in whichever account a stage deploys to; IAM can only name it by pattern, and the statement is conditioned on the aws-cdk:bootstrap-role = lookup tag, so no other role is assumable.",
    ],
  ]);

  // Self-mutation runs `cdk deploy` of this stack with the bootstrap roles.
  acknowledgeRole(roleOf(pipeline.selfMutationProject), [
    artifacts,
    projectDefaults,
    [
      ['Resource::arn:*:iam::<AWS::AccountId>:role/*', { regex: '/^Resource::arn:\\*:iam::\\d{12}:role\\/\\*$/' }],
      "CDK Pipelines' self-mutation assumes the CDK bootstrap roles, which it can only name by pattern; the statement is conditioned on the aws-cdk:bootstrap-role tag, so no other role is assumable.",
    ],
    [
      ['Resource::*'],
      'cdk deploy reads the bootstrap stack (cloudformation:DescribeStacks) and lists buckets (s3:ListBucket) before it assumes the deploy role; CDK Pipelines grants those two read actions on * for that lookup.',
    ],
  ]);

  // Asset publishing: one role per asset type, shared by every asset project CDK Pipelines generates.
  const assets = pipeline.node.tryFindChild('Assets');
  for (const id of ['FileRole', 'DockerRole']) {
    acknowledgeRole(assets?.node.tryFindChild(id), [
      artifacts,
      [
        [
          {
            regex:
              '/^Resource::arn:aws:logs:[a-z0-9-]+:(<AWS::AccountId>|\\d{12}):log-group:\\/aws\\/codebuild\\/\\*$/',
          },
          { regex: '/^Resource::arn:aws:codebuild:[a-z0-9-]+:(<AWS::AccountId>|\\d{12}):report-group\\/\\*$/' },
          'Resource::*',
        ],
        "CDK Pipelines' shared asset-publishing role serves one generated CodeBuild project per asset, whose names are not known when the role is written; it only assumes the bootstrap file or image publishing role.",
      ],
    ]);
  }
}

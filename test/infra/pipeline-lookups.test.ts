/**
 * The pipeline's first synth in CodeBuild: with an account known, the stages' explicit
 * availability zones are context lookups that no committed cdk.context.json answers, so the CDK CLI
 * in the synth step must be able to assume the bootstrap's lookup role.
 */
import { App, Aspects } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks } from 'cdk-nag';
import cdkJson from '../../cdk.json';
import { PIPELINE_CONFIG, resolvePipelineConfig } from '../../lib/config';
import { PipelineStack } from '../../lib/pipeline/pipeline-stack';
import { devDependencies } from '../../package.json';

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation is untyped JSON.
type Json = any;

// The shipped connection placeholder names this account. Staging alone: prod's shipped config has
// no domain for its certificate, which validation refuses once an account is known.
const ACCOUNT = '123456789012';

const { stage: _stage, ...flags } = cdkJson.context;
const app = new App({ context: { ...flags, 'aws:cdk:bundling-stacks': [] } });
const pipeline = resolvePipelineConfig(
  { account: ACCOUNT },
  { ...PIPELINE_CONFIG, stages: [PIPELINE_CONFIG.stages[0]] },
);
const nag = new AwsSolutionsChecks({ logIgnores: true });
const stack = new PipelineStack(app, pipeline.config.name, {
  env: pipeline.config.env,
  pipeline,
  appVersion: 'lookup-test-1',
  cdkCliVersion: devDependencies['aws-cdk'],
  stageAspects: [nag],
});
Aspects.of(app).add(nag);
const assembly = app.synth();
const template = Template.fromStack(stack);

const missingContext = (a: CloudAssembly): Json[] => [
  ...(a.manifest.missing ?? []),
  ...a.nestedAssemblies.flatMap((n) => missingContext(n.nestedAssembly)),
];

test('with an account known, the stages need availability-zone lookups that only the lookup role answers', () => {
  const missing = missingContext(assembly);
  expect(missing.length).toBeGreaterThan(0);
  for (const m of missing) {
    expect(m.provider).toBe('availability-zones');
    expect(m.props.lookupRoleArn).toMatch(/:role\/cdk-[a-z0-9]+-lookup-role-/);
  }
});

test("the synth step's role may assume the bootstrap lookup role, and only a role tagged as one", () => {
  const synthProjects = Object.values(template.findResources('AWS::CodeBuild::Project')).filter((p: Json) =>
    JSON.stringify(p.Properties.Source).includes('cdk synth'),
  ) as Json[];
  expect(synthProjects).toHaveLength(1);
  const roleId = synthProjects[0].Properties.ServiceRole['Fn::GetAtt'][0];
  const statements = Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p: Json) => p.Properties.Roles.some((r: Json) => r.Ref === roleId))
    .flatMap((p: Json) => p.Properties.PolicyDocument.Statement);
  const assume = statements.filter((s: Json) => s.Action === 'sts:AssumeRole');
  expect(assume).toEqual([
    expect.objectContaining({
      Effect: 'Allow',
      Condition: { StringEquals: { 'iam:ResourceTag/aws-cdk:bootstrap-role': 'lookup' } },
    }),
  ]);
});

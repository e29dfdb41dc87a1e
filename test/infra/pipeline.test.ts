/**
 * The release pipeline (lib/pipeline/pipeline-stack.ts), synthesized the way `bin/app.ts` does with
 * `-c pipeline=true`: stage order, approvals, the gate steps and their exact commands, the version
 * that flows from the source commit to the deploy and to the gate, the pinned k6, reports, secrets,
 * and cdk-nag on the pipeline and on every stage it deploys.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App, Aspects, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import cdkJson from '../../cdk.json';
import {
  PIPELINE_CONFIG,
  type PipelineConfig,
  type ResolvedPipeline,
  resolvePipelineConfig,
  serviceDimension,
} from '../../lib/config';
import { formatLlmPrice, GATE_ENV, GATE_REPORT_FILES } from '../../lib/contract';
import { PIPELINE_IMAGE_DIR, PIPELINE_IMAGE_K6_BIN } from '../../lib/pipeline/build-image';
import { GATE_REPORT_DIR, GATE_REPORT_GROUP, gateCommand } from '../../lib/pipeline/k6-gate-step';
import { PipelineStack } from '../../lib/pipeline/pipeline-stack';
import { synthCommands } from '../../lib/pipeline/synth-step';
import { devDependencies } from '../../package.json';
import { TESTED_K6_VERSION } from '../../scripts/gate/locate-k6';
import { nagAcknowledgements, unacknowledgedNagFindings } from '../support/nag';
import { scanTemplate } from '../support/secret-scan';

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation resources are untyped JSON.
type Json = any;

const REPO_ROOT = path.join(__dirname, '..', '..');
const RELEASE = 'release-under-test-1';

interface SynthesizedPipeline {
  readonly stack: PipelineStack;
  readonly template: Template;
  readonly json: Json;
  /** CodePipeline stages, in order, as synthesized. */
  readonly stages: Json[];
}

function synthPipeline(options: { config?: PipelineConfig; appVersion?: string } = {}): SynthesizedPipeline {
  const { stage: _stage, ...flags } = cdkJson.context;
  const app = new App({ context: { ...flags, 'aws:cdk:bundling-stacks': [] } });
  const resolved = resolvePipelineConfig({}, options.config ?? PIPELINE_CONFIG);
  const pipeline: ResolvedPipeline = resolved;
  const nag = new AwsSolutionsChecks({ logIgnores: true });
  const stack = new PipelineStack(app, pipeline.config.name, {
    env: pipeline.config.env,
    pipeline,
    appVersion: options.appVersion ?? RELEASE,
    cdkCliVersion: devDependencies['aws-cdk'],
    stageAspects: [nag],
  });
  Aspects.of(app).add(nag);
  app.synth();
  const template = Template.fromStack(stack);
  const json = template.toJSON();
  const [codePipeline] = Object.values(template.findResources('AWS::CodePipeline::Pipeline')) as Json[];
  return { stack, template, json, stages: codePipeline.Properties.Stages };
}

let memo: SynthesizedPipeline | undefined;
const shipped = (): SynthesizedPipeline => {
  memo ??= synthPipeline();
  return memo;
};

const stageNamed = (p: SynthesizedPipeline, name: string): Json => {
  const stage = p.stages.find((s) => s.Name === name);
  if (!stage) throw new Error(`no pipeline stage ${name}; have ${p.stages.map((s) => s.Name).join(', ')}`);
  return stage;
};
const deployActions = (stage: Json): Json[] =>
  stage.Actions.filter((a: Json) => a.ActionTypeId.Provider === 'CloudFormation');
const codeBuildActions = (stage: Json): Json[] =>
  stage.Actions.filter((a: Json) => a.ActionTypeId.Provider === 'CodeBuild');
const actionEnv = (action: Json): Record<string, { type: string; value: string }> =>
  Object.fromEntries(
    JSON.parse(action.Configuration.EnvironmentVariables ?? '[]').map((v: Json) => [
      v.name,
      { type: v.type, value: v.value },
    ]),
  );

/** The CodeBuild project an action runs, with its buildspec parsed. */
function projectOf(p: SynthesizedPipeline, action: Json): { logicalId: string; props: Json; buildSpec: Json } {
  const logicalId = action.Configuration.ProjectName.Ref;
  const props = p.json.Resources[logicalId].Properties;
  return { logicalId, props, buildSpec: JSON.parse(props.Source.BuildSpec) };
}

const gateAction = (p: SynthesizedPipeline, stageName: string): Json => {
  const [gate] = codeBuildActions(stageNamed(p, stageName)).filter((a: Json) => a.Name.startsWith('Gate-'));
  if (!gate) throw new Error(`no gate action in ${stageName}`);
  return gate;
};

const sourceAction = (p: SynthesizedPipeline): Json => stageNamed(p, 'Source').Actions[0];

describe('the release pipeline', () => {
  test('releases the configured stages in order, each after the synth and the self-update', () => {
    const names = shipped().stages.map((s) => s.Name);
    expect(names.slice(0, 3)).toEqual(['Source', 'Build', 'UpdatePipeline']);
    const release = names.filter((n) => ['Staging', 'Prod'].includes(n));
    expect(release).toEqual(['Staging', 'Prod']);
    expect(names.indexOf('Staging')).toBeLessThan(names.indexOf('Prod'));
    expect(PIPELINE_CONFIG.stages.map((s) => s.stage)).toEqual(['staging', 'prod']);
  });

  test('deploys every stack of each stage under the same stack name `cdk deploy -c stage=…` uses', () => {
    for (const stage of shipped().stack.stages) {
      const stageId = stage.node.id;
      const deployed = deployActions(stageNamed(shipped(), stageId)).map((a: Json) => a.Configuration.StackName);
      const stacks = stage.node.children.filter((c): c is Stack => Stack.isStack(c));
      expect(stacks.map((st) => st.node.id)).toEqual(
        expect.arrayContaining(['network', 'data', 'service'].map((layer) => `chat-${stage.config.stage}-${layer}`)),
      );
      // No `<Stage>-` prefix: the pipeline updates the very stacks a hand deploy created.
      for (const st of stacks) expect(deployed).toContain(st.node.id);
      expect(deployed.every((name: string) => /^chat-(staging|prod)-[a-z]+$/.test(name))).toBe(true);
    }
  });

  test('prod waits for a manual approval before any of its stacks is prepared', () => {
    const prod = stageNamed(shipped(), 'Prod');
    const approvals = prod.Actions.filter((a: Json) => a.ActionTypeId.Category === 'Approval');
    expect(approvals).toHaveLength(1);
    const firstDeploy = Math.min(...deployActions(prod).map((a: Json) => a.RunOrder));
    expect(approvals[0].RunOrder).toBeLessThan(firstDeploy);
  });

  test('staging is not held for an approval, as configured', () => {
    const staging = stageNamed(shipped(), 'Staging');
    expect(staging.Actions.filter((a: Json) => a.ActionTypeId.Category === 'Approval')).toEqual([]);
  });

  test('an approval precedes a stage exactly when the config asks for one', () => {
    const noApproval = synthPipeline({
      config: { ...PIPELINE_CONFIG, stages: PIPELINE_CONFIG.stages.map((s) => ({ ...s, manualApproval: false })) },
    });
    for (const stage of noApproval.stages) {
      expect(stage.Actions.filter((a: Json) => a.ActionTypeId.Category === 'Approval')).toEqual([]);
    }
  });

  test.each([
    ['Staging', 'light'],
    ['Prod', 'smoke'],
  ])('%s is gated with the %s profile after every one of its stacks deployed', (stageName, profile) => {
    const stage = stageNamed(shipped(), stageName);
    const gate = gateAction(shipped(), stageName);
    const lastDeploy = Math.max(...deployActions(stage).map((a: Json) => a.RunOrder));
    expect(gate.RunOrder).toBeGreaterThan(lastDeploy);
    const { buildSpec } = projectOf(shipped(), gate);
    expect(buildSpec.phases.install.commands).toEqual(['npm ci --no-audit --no-fund']);
    expect(buildSpec.phases.build.commands).toEqual([
      `npm run gate -- --target "$SERVICE_URL" --profile ${profile} --expected-version "$APP_VERSION" --out reports`,
    ]);
    expect(buildSpec.phases.build.commands).toEqual([gateCommand(profile as 'light' | 'smoke')]);
  });

  test("a gate targets its own stage's ServiceUrl output", () => {
    for (const stageName of ['Staging', 'Prod']) {
      const stage = stageNamed(shipped(), stageName);
      const service = deployActions(stage).find(
        (a: Json) => a.Configuration.StackName === `chat-${stageName.toLowerCase()}-service` && a.Namespace,
      );
      expect(service).toBeDefined();
      expect(actionEnv(gateAction(shipped(), stageName)).SERVICE_URL).toEqual({
        type: 'PLAINTEXT',
        value: `#{${service.Namespace}.ServiceUrl}`,
      });
    }
  });

  test('the Service stack outputs a URL with scheme, host and production port', () => {
    const staging = shipped().stack.stages.find((s) => s.config.stage === 'staging');
    const output = Template.fromStack(staging!.service).findOutputs('ServiceUrl');
    expect(JSON.stringify(output.ServiceUrl.Value)).toMatch(/"http:\/\/",.*LoadBalancer.*DNSName.*":80"/);
  });
});

describe('the version a release deploys is the version its gates expect', () => {
  test('the synth deploys -c appVersion=$APP_VERSION and every gate expects $APP_VERSION, both the source commit', () => {
    const p = shipped();
    const source = sourceAction(p);
    const commit = `#{${source.Namespace}.CommitId}`;
    const synth = codeBuildActions(stageNamed(p, 'Build'))[0];
    expect(actionEnv(synth).APP_VERSION).toEqual({ type: 'PLAINTEXT', value: commit });
    expect(projectOf(p, synth).buildSpec.phases.build.commands).toContain(
      'npx cdk synth -c pipeline=true -c appVersion="$APP_VERSION"',
    );
    for (const stageName of ['Staging', 'Prod']) {
      expect(actionEnv(gateAction(p, stageName)).APP_VERSION).toEqual({ type: 'PLAINTEXT', value: commit });
    }
  });

  test('the stage stacks deploy the version the synth was given, as APP_VERSION and as the in-AWS gate expectation', () => {
    const p = synthPipeline({ appVersion: '0123456789abcdef0123456789abcdef01234567' });
    for (const stage of p.stack.stages) {
      const template = Template.fromStack(stage.service);
      template.hasResourceProperties('AWS::ECS::TaskDefinition', {
        ContainerDefinitions: Match.arrayWith([
          Match.objectLike({
            Environment: Match.arrayWith([{ Name: 'APP_VERSION', Value: '0123456789abcdef0123456789abcdef01234567' }]),
          }),
        ]),
      });
      if (stage.config.deployment.gate.enabled) {
        template.hasResourceProperties('AWS::ECS::Service', {
          DeploymentConfiguration: Match.objectLike({
            LifecycleHooks: [
              Match.objectLike({
                HookDetails: Match.objectLike({ EXPECTED_VERSION: '0123456789abcdef0123456789abcdef01234567' }),
              }),
            ],
          }),
        });
      }
    }
  });

  test('the pipeline itself does not change with the version, so a new commit does not rewrite it', () => {
    const a = synthPipeline({ appVersion: 'aaaaaaa' }).json;
    const b = synthPipeline({ appVersion: 'bbbbbbb' }).json;
    expect(a).toEqual(b);
  });

  test('a version the service would refuse stops the synth with an actionable message', () => {
    expect(() => synthPipeline({ appVersion: '' })).toThrow(/appVersion '' must be 1-128 visible ASCII characters/);
    expect(() => synthPipeline({ appVersion: 'has space' })).toThrow(/-c appVersion=/);
  });
});

describe('a failed step stops the release', () => {
  test('no buildspec command can turn a failure into success', () => {
    const p = shipped();
    for (const project of Object.values(p.template.findResources('AWS::CodeBuild::Project')) as Json[]) {
      const buildSpec = JSON.parse(project.Properties.Source.BuildSpec);
      for (const phase of Object.values(buildSpec.phases ?? {}) as Json[]) {
        expect(phase['on-failure']).toBeUndefined();
        expect(phase.finally).toBeUndefined();
        for (const command of phase.commands ?? []) {
          expect(command).not.toMatch(/\|\|\s*(true|:|exit 0)|set \+e|;\s*true\b|\|\s*tee\b/);
        }
      }
    }
  });

  test('the gate command is the last command of its build, so k6 exit code is the build result', () => {
    for (const stageName of ['Staging', 'Prod']) {
      const { buildSpec } = projectOf(shipped(), gateAction(shipped(), stageName));
      const commands: string[] = buildSpec.phases.build.commands;
      expect(commands[commands.length - 1]).toMatch(/^npm run gate -- /);
      expect(buildSpec.phases.post_build).toBeUndefined();
    }
  });

  test('the synth runs npm ci, npm test and cdk synth in that order, so a failing test leaves nothing to deploy', () => {
    const p = shipped();
    const synth = codeBuildActions(stageNamed(p, 'Build'))[0];
    const { buildSpec } = projectOf(p, synth);
    expect(buildSpec.phases.build.commands).toEqual(synthCommands());
    expect(synthCommands()).toEqual([
      'npm ci --no-audit --no-fund',
      'npm test',
      'npx cdk synth -c pipeline=true -c appVersion="$APP_VERSION"',
    ]);
    expect(buildSpec.artifacts['base-directory']).toBe('cdk.out');
  });
});

describe('the gate steps get k6 from the pinned build image', () => {
  const dockerfile = readFileSync(path.join(PIPELINE_IMAGE_DIR, 'Dockerfile'), 'utf8');

  test('the synth and gate projects run the build image asset, with K6_BIN pointing at its k6', () => {
    const p = shipped();
    const actions = [codeBuildActions(stageNamed(p, 'Build'))[0], gateAction(p, 'Staging'), gateAction(p, 'Prod')];
    for (const action of actions) {
      const { props } = projectOf(p, action);
      expect(JSON.stringify(props.Environment.Image)).toContain('container-assets');
      expect(props.Environment.ImagePullCredentialsType).toBe('SERVICE_ROLE');
      expect(props.Environment.EnvironmentVariables).toEqual(
        expect.arrayContaining([{ Name: 'K6_BIN', Type: 'PLAINTEXT', Value: PIPELINE_IMAGE_K6_BIN }]),
      );
    }
  });

  test("a pipeline gate prices answers at its stage's LLM price (LLM_PRICE_PER_MTOK from the stage config)", () => {
    for (const stage of shipped().stack.stages) {
      const { props } = projectOf(shipped(), gateAction(shipped(), stage.node.id));
      const price = props.Environment.EnvironmentVariables.find((v: Json) => v.Name === GATE_ENV.llmPricePerMTok);
      expect(price.Value).toBe(formatLlmPrice(stage.config.service.llm.pricePerMTok));
    }
  });

  test("a pipeline gate's metrics carry their own Service dimension, never the stage's", () => {
    for (const stage of shipped().stack.stages) {
      const { props } = projectOf(shipped(), gateAction(shipped(), stage.node.id));
      const serviceName = props.Environment.EnvironmentVariables.find((v: Json) => v.Name === 'SERVICE_NAME');
      expect(serviceName.Value).toBe(`chat-pipeline-${stage.config.stage}`);
      expect(serviceName.Value).not.toBe(serviceDimension(stage.config));
    }
  });

  test('the image copies k6 from the grafana/k6 release the suites are tested with, like the in-AWS runner', () => {
    const runner = readFileSync(path.join(REPO_ROOT, 'loadtests', 'Dockerfile'), 'utf8');
    const pinned = (text: string) => /^ARG K6_VERSION=(\S+)$/m.exec(text)?.[1];
    expect(pinned(dockerfile)).toBe(TESTED_K6_VERSION);
    expect(pinned(runner)).toBe(TESTED_K6_VERSION);
    expect(dockerfile).toMatch(/^FROM grafana\/k6:\$\{K6_VERSION\} AS k6$/m);
    expect(dockerfile).toContain(`COPY --from=k6 /usr/bin/k6 ${PIPELINE_IMAGE_K6_BIN}`);
    expect(dockerfile).toContain(`ENV K6_BIN=${PIPELINE_IMAGE_K6_BIN}`);
  });

  test('nothing downloads k6 or another tool at run time', () => {
    expect(dockerfile).not.toMatch(/\b(curl|wget)\b/);
    const p = shipped();
    for (const action of [
      codeBuildActions(stageNamed(p, 'Build'))[0],
      gateAction(p, 'Staging'),
      gateAction(p, 'Prod'),
    ]) {
      const text = JSON.stringify(projectOf(p, action).buildSpec);
      expect(text).not.toMatch(/\b(curl|wget|apt-get|apk|setup-k6|k6 install)\b/);
    }
  });

  test('the build image is the pipeline stack asset whose context is the Dockerfile alone', () => {
    const { stack } = shipped();
    const images = stack.node.findAll().filter((c) => c.node.id === 'BuildImage');
    expect(images).toHaveLength(1);
    expect(existsSync(path.join(PIPELINE_IMAGE_DIR, 'Dockerfile'))).toBe(true);
  });

  test('self-mutation installs the CDK CLI that package.json pins', () => {
    const selfMutation = codeBuildActions(stageNamed(shipped(), 'UpdatePipeline'))[0];
    const { buildSpec } = projectOf(shipped(), selfMutation);
    expect(buildSpec.phases.install.commands).toEqual([`npm install -g aws-cdk@${devDependencies['aws-cdk']}`]);
  });
});

describe('gate reports', () => {
  test.each(['Staging', 'Prod'])('the %s gate publishes its JUnit report to a CodeBuild report group', (stageName) => {
    const { buildSpec, props } = projectOf(shipped(), gateAction(shipped(), stageName));
    expect(buildSpec.reports).toEqual({
      [GATE_REPORT_GROUP]: {
        files: [GATE_REPORT_FILES.junit],
        'base-directory': GATE_REPORT_DIR,
        'file-format': 'JUNITXML',
      },
    });
    expect(buildSpec.phases.build.commands[0]).toContain(`--out ${GATE_REPORT_DIR}`);
    // Both reports are the step's output artifact when it passes.
    expect(buildSpec.artifacts).toEqual({ 'base-directory': GATE_REPORT_DIR, files: ['**/*'] });
    expect(props.Name).toBe(`chat-pipeline-${stageName.toLowerCase()}-gate`);
  });

  test('each gate project may write its own report groups, and only those', () => {
    const p = shipped();
    for (const stageName of ['Staging', 'Prod']) {
      const { logicalId, props } = projectOf(p, gateAction(p, stageName));
      const roleId = props.ServiceRole['Fn::GetAtt'][0];
      const [policy] = Object.values(p.template.findResources('AWS::IAM::Policy')).filter((x: Json) =>
        x.Properties.Roles.some((r: Json) => r.Ref === roleId),
      ) as Json[];
      const reportStatement = policy.Properties.PolicyDocument.Statement.find((s: Json) =>
        [s.Action].flat().includes('codebuild:BatchPutTestCases'),
      );
      const resource = JSON.stringify(reportStatement.Resource);
      expect(resource).toContain(':report-group/"');
      expect(resource).toContain(`{"Ref":"${logicalId}"},"-*"`);
    }
  });
});

describe('no secret reaches a step as plaintext', () => {
  test('the pipeline template is clean', () => {
    expect(scanTemplate(shipped().json)).toEqual([]);
  });

  test('every CodeBuild project and action passes plain, non-secret values only; the gate client comes from Secrets Manager', () => {
    const p = shipped();
    const secretName = /(PASSWORD|TOKEN|SECRET|API_?KEY|CREDENTIAL|PRIVATE_KEY)/i;
    // Where the gate asks for its token, and for which scope: not secrets (see test/support/secret-scan.ts).
    const notSecret: readonly string[] = [GATE_ENV.tokenUrl, GATE_ENV.tokenScope];
    const projects = Object.values(p.template.findResources('AWS::CodeBuild::Project')) as Json[];
    expect(projects.length).toBeGreaterThanOrEqual(4);
    const fromSecretsManager: string[] = [];
    for (const project of projects) {
      for (const variable of project.Properties.Environment.EnvironmentVariables ?? []) {
        if (variable.Type === 'SECRETS_MANAGER') {
          // By secret name and JSON key: the value never passes through the template.
          expect(variable.Value).toMatch(/^chat-(staging|prod)-gate-client:(clientId|clientSecret)$/);
          fromSecretsManager.push(variable.Name);
          continue;
        }
        expect(variable.Type).toBe('PLAINTEXT');
        if (!notSecret.includes(variable.Name)) expect(variable.Name).not.toMatch(secretName);
      }
    }
    expect(fromSecretsManager.sort()).toEqual(
      [GATE_ENV.clientId, GATE_ENV.clientSecret, GATE_ENV.clientId, GATE_ENV.clientSecret].sort(),
    );
    for (const stage of p.stages) {
      for (const action of codeBuildActions(stage)) {
        for (const [name, variable] of Object.entries(actionEnv(action))) {
          expect(variable.type).toBe('PLAINTEXT');
          if (!notSecret.includes(name)) expect(name).not.toMatch(secretName);
          // A literal or a pipeline variable (#{...}), never a resolved secret.
          expect(variable.value).not.toMatch(/\{\{resolve:/);
        }
      }
    }
  });

  test("the gate steps are given exactly the URL, the version and the stage's token endpoint", () => {
    for (const stageName of ['Staging', 'Prod']) {
      expect(Object.keys(actionEnv(gateAction(shipped(), stageName))).sort()).toEqual(
        ['APP_VERSION', GATE_ENV.tokenUrl, 'SERVICE_URL'].sort(),
      );
    }
  });
});

describe('source and artifacts', () => {
  test('the source is the configured connection, repository and branch', () => {
    expect(sourceAction(shipped())).toMatchObject({
      ActionTypeId: { Category: 'Source', Provider: 'CodeStarSourceConnection' },
      Configuration: {
        ConnectionArn: PIPELINE_CONFIG.connectionArn,
        FullRepositoryId: `${PIPELINE_CONFIG.repository.owner}/${PIPELINE_CONFIG.repository.name}`,
        BranchName: PIPELINE_CONFIG.branch,
      },
    });
  });

  test('artifacts are encrypted with a rotated customer-managed key, and their access is logged', () => {
    const { template } = shipped();
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          Match.objectLike({ ServerSideEncryptionByDefault: Match.objectLike({ SSEAlgorithm: 'aws:kms' }) }),
        ],
      },
      LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'artifacts/' }),
    });
  });

  test('build logs are kept for the configured retention', () => {
    shipped().template.hasResourceProperties('AWS::Logs::LogGroup', {
      RetentionInDays: PIPELINE_CONFIG.logRetentionDays,
    });
  });
});

describe('cdk-nag AwsSolutions', () => {
  const stacksUnderTest = (): Stack[] => {
    const { stack } = shipped();
    return [stack, ...stack.stages.flatMap((s) => s.node.children.filter((c): c is Stack => Stack.isStack(c)))];
  };

  test('the pipeline stack and every stack it deploys have no unacknowledged finding and no unchecked rule', () => {
    const stacks = stacksUnderTest();
    expect(stacks.length).toBeGreaterThanOrEqual(1 + 2 * 3);
    for (const stack of stacks) {
      expect(unacknowledgedNagFindings(stack)).toEqual({ stack: stack.stackName, errors: [], failures: [] });
    }
  });

  test('the checks really run on the pipeline: its acknowledged findings are reported as acknowledged', () => {
    const infos = Annotations.fromStack(shipped().stack).findInfo('*', Match.stringLikeRegexp('AwsSolutions-IAM5'));
    expect(infos.length).toBeGreaterThan(0);
  });

  test('every acknowledgement on the pipeline stack carries a specific reason', () => {
    const rules = nagAcknowledgements(shipped().stack);
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) expect(rule.reason.length).toBeGreaterThanOrEqual(40);
  });
});

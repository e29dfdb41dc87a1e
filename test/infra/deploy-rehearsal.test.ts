/**
 * The first deploy, rehearsed offline (scripts/deploy-rehearsal.ts): every stage's assembly and
 * the pipeline's (with its nested stage assemblies) pass every rule, and each rule is shown to fail
 * on a small hand-made template with exactly its defect.
 */
import { STAGE_NAMES, type StageName } from '../../lib/config';
import { deploymentAlarmNames } from '../../lib/monitoring/alarm-names';
import {
  type CfnResource,
  type CfnTemplate,
  externalNames,
  type Finding,
  type RehearsalAssembly,
  type RehearsalStack,
  readAssemblies,
  rehearse,
} from '../../scripts/deploy-rehearsal';
import { synthStage } from '../support/cdk';
import { synthPipelineAssembly } from '../support/pipeline-assembly';

jest.setTimeout(240_000);

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation resources are untyped JSON.
type Json = any;

const stageAssembly = (stage: StageName) => readAssemblies(synthStage(stage).app.synth().directory, stage);

describe('the synthesized assemblies deploy in order, with nothing named before it exists', () => {
  test.each(STAGE_NAMES)('%s: no finding', (stage) => {
    const assemblies = stageAssembly(stage);
    expect(assemblies).toHaveLength(1);
    const report = rehearse(assemblies[0], externalNames());
    expect(report.order).toEqual(['network', 'data', 'service', 'monitoring'].map((l) => `chat-${stage}-${l}`));
    expect(report.findings).toEqual([]);
  });

  test('the pipeline and the stages it deploys: no finding', () => {
    const assemblies = readAssemblies(synthPipelineAssembly(), 'pipeline');
    // The pipeline stack itself, then one nested assembly per stage (staging, prod).
    expect(assemblies.map((a) => a.stacks.length)).toEqual([1, 4, 4]);
    for (const assembly of assemblies) {
      const report = rehearse(assembly, externalNames());
      expect({ assembly: assembly.name, findings: report.findings }).toEqual({ assembly: assembly.name, findings: [] });
    }
  });

  test.each(STAGE_NAMES)(
    '%s: the deployment alarms are created once, beside the service, and it DependsOn them',
    (stage) => {
      const [assembly] = stageAssembly(stage);
      const service = assembly.stacks.find((s) => s.stackName === `chat-${stage}-service`) as RehearsalStack;
      const resources = service.template.Resources ?? {};
      const [[, ecsService]] = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::ECS::Service');
      const alarmIds = deploymentAlarmNames(synthStage(stage).config).map((name) => {
        const found = Object.entries(resources).find(
          ([, r]) => r.Type === 'AWS::CloudWatch::Alarm' && r.Properties?.AlarmName === name,
        );
        expect({ name, inServiceStack: found !== undefined }).toEqual({ name, inServiceStack: true });
        return found?.[0];
      });
      expect(ecsService.DependsOn).toEqual(expect.arrayContaining(alarmIds));
      // Created once: no other stack of the stage creates an alarm of the same name.
      const elsewhere = assembly.stacks
        .filter((s) => s !== service)
        .flatMap((s) => Object.values(s.template.Resources ?? {}))
        .filter((r) => r.Type === 'AWS::CloudWatch::Alarm')
        .map((r) => r.Properties?.AlarmName);
      expect(elsewhere.filter((n) => deploymentAlarmNames(synthStage(stage).config).includes(n as string))).toEqual([]);
    },
  );

  test.each(STAGE_NAMES)(
    '%s: the ECS service depends on every policy of every role it names (hook, load balancers, task, execution)',
    (stage) => {
      const [assembly] = stageAssembly(stage);
      const service = assembly.stacks.find((s) => s.stackName === `chat-${stage}-service`) as RehearsalStack;
      const resources = service.template.Resources ?? {};
      const [[, ecsService]] = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::ECS::Service');
      const roleOf = (value: unknown): string => {
        const ref = value as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
        const id = ref.Ref ?? ref['Fn::GetAtt']?.[0];
        expect(resources[id as string]?.Type).toBe('AWS::IAM::Role');
        return id as string;
      };
      const props = ecsService.Properties as Json;
      const taskDefinition = resources[props.TaskDefinition.Ref].Properties as Record<string, unknown>;
      const roles = [
        roleOf(taskDefinition.TaskRoleArn),
        roleOf(taskDefinition.ExecutionRoleArn),
        roleOf(props.LoadBalancers[0].AdvancedConfiguration.RoleArn),
        ...(props.DeploymentConfiguration.LifecycleHooks ?? []).map((h: { RoleArn: unknown }) => roleOf(h.RoleArn)),
      ];
      const gateOn = synthStage(stage).config.deployment.gate.enabled;
      expect(roles).toHaveLength(gateOn ? 4 : 3);
      const after = dependencyClosure(resources, serviceIdOf(resources));
      const policies = Object.entries(resources).filter(
        ([, r]) =>
          (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') &&
          JSON.stringify(r.Properties?.Roles ?? []).match(new RegExp(`"(${roles.join('|')})"`)),
      );
      // Task, execution and hook roles each have a policy resource; the load balancers' infrastructure
      // role carries only an AWS-managed policy on the role itself, so being ordered after the role is
      // enough for it.
      expect(policies.length).toBeGreaterThanOrEqual(gateOn ? 3 : 2);
      for (const role of roles) expect({ role, ordered: after.has(role) }).toEqual({ role, ordered: true });
      for (const [policyId] of policies)
        expect({ policyId, ordered: after.has(policyId) }).toEqual({ policyId, ordered: true });
    },
  );
});

function serviceIdOf(resources: Record<string, CfnResource>): string {
  return Object.keys(resources).find((id) => resources[id].Type === 'AWS::ECS::Service') as string;
}

/** DependsOn and Ref/GetAtt edges, transitively. */
function dependencyClosure(resources: Record<string, CfnResource>, id: string): Set<string> {
  const out = new Set<string>();
  const todo = [id];
  while (todo.length > 0) {
    const r = resources[todo.pop() as string];
    const deps = [
      ...(r.DependsOn === undefined ? [] : [r.DependsOn].flat()),
      ...[...JSON.stringify(r.Properties ?? {}).matchAll(/"(?:Ref|Fn::GetAtt)":\s*\[?"([^"]+)"/g)].map((m) => m[1]),
    ];
    for (const d of deps) {
      if (resources[d] && !out.has(d)) {
        out.add(d);
        todo.push(d);
      }
    }
  }
  return out;
}

// ---- each rule fails on the defect it is about ----

const stack = (id: string, template: CfnTemplate, dependencies: string[] = []): RehearsalStack => ({
  id,
  stackName: id,
  dependencies,
  template,
});
const run = (...stacks: RehearsalStack[]): readonly Finding[] =>
  rehearse({ name: 'hand-made', stacks } as RehearsalAssembly, externalNames()).findings;
const rules = (findings: readonly Finding[]) => findings.map((f) => f.rule);

const bucket: CfnResource = { Type: 'AWS::S3::Bucket', Properties: {} };

describe('each rule fails on its defect', () => {
  test('a clean two-stack assembly has no finding (the rules are not failing for any template)', () => {
    const a = stack('a', {
      Resources: { Alarm: { Type: 'AWS::CloudWatch::Alarm', Properties: { AlarmName: 'x-alarm' } }, Bucket: bucket },
      Outputs: { Out: { Value: { Ref: 'Bucket' }, Export: { Name: 'a-bucket' } } },
    });
    const b = stack(
      'b',
      {
        Resources: {
          Reader: { Type: 'AWS::SNS::Topic', Properties: { DisplayName: { 'Fn::ImportValue': 'a-bucket' } } },
          Service: {
            Type: 'AWS::ECS::Service',
            Properties: { DeploymentConfiguration: { Alarms: { AlarmNames: ['x-alarm'] } } },
          },
        },
      },
      ['a'],
    );
    expect(run(b, a)).toEqual([]);
  });

  test('a dangling Ref, GetAtt or DependsOn', () => {
    const a = stack('a', {
      Resources: {
        R: { Type: 'AWS::SNS::Topic', Properties: { A: { Ref: 'Gone' }, B: { 'Fn::GetAtt': ['AlsoGone', 'Arn'] } } },
        S: { ...bucket, DependsOn: ['Missing'] },
      },
    });
    expect(rules(run(a))).toEqual(['token', 'token', 'token']);
  });

  test('an import of an export that no earlier stack makes, and an output of a stack not deployed before', () => {
    const a = stack('a', {
      Resources: { Bucket: bucket },
      Outputs: { Out: { Value: 'v', Export: { Name: 'a-out' } } },
    });
    // b does not depend on a: CloudFormation may deploy it first.
    const b = stack('b', {
      Resources: {
        R: {
          Type: 'AWS::SNS::Topic',
          Properties: {
            A: { 'Fn::ImportValue': 'a-out' },
            B: { 'Fn::GetStackOutput': { StackName: 'a', OutputName: 'Out', Region: 'r' } },
          },
        },
      },
    });
    expect(rules(run(a, b))).toEqual(['token', 'token']);
    expect(run(a, { ...b, dependencies: ['a'] })).toEqual([]);
  });

  test('a name created by a stack deployed later (the deployment alarms before this fix)', () => {
    const service = stack('service', {
      Resources: {
        Service: {
          Type: 'AWS::ECS::Service',
          Properties: { DeploymentConfiguration: { Alarms: { AlarmNames: ['chat-dev-service-5xx-rate'] } } },
        },
      },
    });
    const monitoring = stack(
      'monitoring',
      {
        Resources: {
          Alarm: { Type: 'AWS::CloudWatch::Alarm', Properties: { AlarmName: 'chat-dev-service-5xx-rate' } },
        },
      },
      ['service'],
    );
    const findings = run(service, monitoring);
    expect(findings).toEqual([expect.objectContaining({ rule: 'name', stack: 'service', resource: 'Service' })]);
  });

  test('a secret or log group named but created nowhere; the allow-listed LLM key is fine', () => {
    const llmKey = externalNames()[0].name;
    const a = stack('a', {
      Resources: {
        Lookup: {
          Type: 'Custom::ExistingSecretArn',
          Properties: { Create: `{"parameters":{"SecretId":"${llmKey}"}}` },
        },
        Db: {
          Type: 'AWS::RDS::DBInstance',
          Properties: { MasterUserPassword: '{{resolve:secretsmanager:nowhere:SecretString:password}}' },
        },
        Filter: {
          Type: 'AWS::Logs::MetricFilter',
          Properties: { LogGroupName: '/aws/rds/instance/nowhere/postgresql' },
        },
      },
    });
    expect(run(a).map((f) => [f.rule, f.resource])).toEqual([
      ['name', 'Db'],
      ['name', 'Filter'],
    ]);
  });

  test('an alarm on the metrics of a WebACL that no earlier stack creates', () => {
    const alarm = (acl: string): CfnResource => ({
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: 'blocked',
        Metrics: [{ MetricStat: { Metric: { Dimensions: [{ Name: 'WebACL', Value: acl }] } } }],
      },
    });
    const edge = stack('edge', { Resources: { Acl: { Type: 'AWS::WAFv2::WebACL', Properties: { Name: 'acl' } } } });
    const monitoring = (acl: string) => stack('monitoring', { Resources: { Blocked: alarm(acl) } }, ['edge']);
    expect(run(edge, monitoring('acl'))).toEqual([]);
    expect(rules(run(edge, monitoring('other-acl')))).toEqual(['name']);
  });

  test('a composite alarm whose rule names an alarm created nowhere', () => {
    const a = stack('a', {
      Resources: {
        Page: {
          Type: 'AWS::CloudWatch::CompositeAlarm',
          Properties: { AlarmName: 'page', AlarmRule: 'ALARM("x") OR ALARM(y)' },
        },
        X: { Type: 'AWS::CloudWatch::Alarm', Properties: { AlarmName: 'x' } },
      },
    });
    const findings = run(a);
    expect(findings.map((f) => f.rule)).toEqual(['name-order', 'name']);
    expect(findings[1].message).toContain("'y'");
  });

  test('a name created in the same template without a DependsOn path to it', () => {
    const alarm = { Type: 'AWS::CloudWatch::Alarm', Properties: { AlarmName: 'x' } };
    const service = (dependsOn?: string[]): CfnResource => ({
      Type: 'AWS::ECS::Service',
      Properties: { DeploymentConfiguration: { Alarms: { AlarmNames: ['x'] } } },
      ...(dependsOn ? { DependsOn: dependsOn } : {}),
    });
    expect(rules(run(stack('a', { Resources: { Alarm: alarm, Service: service() } })))).toEqual(['name-order']);
    expect(run(stack('a', { Resources: { Alarm: alarm, Service: service(['Alarm']) } }))).toEqual([]);
  });

  test("an ECS service that names a role (here through its task definition) before the role's policy exists", () => {
    const resources = (dependsOn: string[]): Record<string, CfnResource> => ({
      ExecRole: { Type: 'AWS::IAM::Role', Properties: {} },
      ExecPolicy: { Type: 'AWS::IAM::Policy', Properties: { Roles: [{ Ref: 'ExecRole' }] } },
      HookRole: { Type: 'AWS::IAM::Role', Properties: {} },
      HookPolicy: { Type: 'AWS::IAM::Policy', Properties: { Roles: [{ Ref: 'HookRole' }] } },
      TaskDef: {
        Type: 'AWS::ECS::TaskDefinition',
        Properties: { ExecutionRoleArn: { 'Fn::GetAtt': ['ExecRole', 'Arn'] } },
      },
      Service: {
        Type: 'AWS::ECS::Service',
        DependsOn: dependsOn,
        Properties: {
          TaskDefinition: { Ref: 'TaskDef' },
          DeploymentConfiguration: { LifecycleHooks: [{ RoleArn: { 'Fn::GetAtt': ['HookRole', 'Arn'] } }] },
        },
      },
    });
    expect(run(stack('a', { Resources: resources([]) })).map((f) => f.message)).toEqual([
      expect.stringContaining('ExecPolicy'),
      expect.stringContaining('HookPolicy'),
    ]);
    expect(run(stack('a', { Resources: resources(['HookPolicy', 'ExecPolicy']) }))).toEqual([]);
  });

  test('a stack that depends on one deployed after it (a cycle), or on one that is not there', () => {
    const a = stack('a', { Resources: { B: bucket } }, ['b']);
    const b = stack('b', { Resources: { B: bucket } }, ['a']);
    expect(rules(run(a, b))).toContain('stack-order');
    expect(rules(run(stack('c', { Resources: { B: bucket } }, ['missing'])))).toEqual(['stack-order']);
  });
});

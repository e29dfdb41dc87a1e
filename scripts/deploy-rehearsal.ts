/**
 * A rehearsal of the first deploy, offline: walks synthesized cloud assemblies (cdk.out) in
 * CloudFormation's order and reports every reference that a first `cdk deploy` (or the pipeline)
 * would find dangling, or would reach before what it names exists.
 *
 * Rules (each has a unit test on a hand-made template that breaks it):
 * - `stack-order`: every stack dependency is a stack of the same assembly, with no cycle; the
 *   deploy order is the topological order of the manifest's `dependencies`.
 * - `token`: every `Ref`, `Fn::GetAtt`, `Fn::Sub` variable and `DependsOn` names a resource,
 *   parameter or pseudo parameter of the same template; every `Fn::ImportValue` names an export of
 *   a stack deployed before it (a dependency, directly or transitively); every `Fn::GetStackOutput`
 *   names an output of such a stack.
 * - `name`: every alarm, secret, log group and WAF WebACL named by a string (deployment alarms, a
 *   composite's `AlarmRule`, `{{resolve:secretsmanager:NAME}}`, `SecretId`, a metric filter's log
 *   group, an alarm's `WebACL` dimension) is
 *   created in the same template or by a stack deployed before it, or is on the allow-list of
 *   things created outside the app, with the reason.
 * - `name-order`: a resource that names another resource of its own template by string has a
 *   DependsOn/Ref path to it (CloudFormation orders only what it can see).
 * - `role-policy-order`: an ECS service depends on every policy (AWS::IAM::Policy/ManagedPolicy
 *   attached to the role) of every role it names, directly or through its task definition.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { STAGE_NAMES, STAGES } from '../lib/config';

export type CfnTemplate = {
  Resources?: Record<string, CfnResource>;
  Parameters?: Record<string, unknown>;
  Outputs?: Record<string, { Value: unknown; Export?: { Name: unknown } }>;
};
export type CfnResource = { Type: string; Properties?: Record<string, unknown>; DependsOn?: string | string[] };

export interface RehearsalStack {
  /** The manifest's artifact ID. */
  readonly id: string;
  readonly stackName: string;
  /** Artifact IDs of the stacks this one depends on (asset manifests left out). */
  readonly dependencies: readonly string[];
  readonly template: CfnTemplate;
}

export interface RehearsalAssembly {
  /** Where it was read from (for messages). */
  readonly name: string;
  readonly stacks: readonly RehearsalStack[];
}

export interface ExternalName {
  readonly kind: NameKind;
  readonly name: string;
  /** Why it may be named before anything in the app creates it. */
  readonly why: string;
}

export type NameKind = 'alarm' | 'secret' | 'log-group' | 'web-acl';
export type Rule = 'stack-order' | 'token' | 'name' | 'name-order' | 'role-policy-order';

export interface Finding {
  readonly rule: Rule;
  readonly stack: string;
  readonly resource?: string;
  readonly message: string;
}

export interface RehearsalReport {
  readonly order: readonly string[];
  /** One line per thing checked, for the CLI's output. */
  readonly checked: readonly string[];
  readonly findings: readonly Finding[];
}

/**
 * What the app names but never creates, and why that is right. Nothing else may be named before
 * it exists.
 */
export function externalNames(): ExternalName[] {
  const llmKeys = [...new Set(STAGE_NAMES.map((stage) => STAGES[stage].service.llm.apiKeySecretName))];
  return llmKeys.map((name) => ({
    kind: 'secret' as const,
    name,
    why:
      'the LLM provider key: the platform team creates this secret before the first deploy (README, ' +
      'deploy step 2), so the key never passes through CloudFormation or the app',
  }));
}

/** Reads a cloud assembly directory and, recursively, the nested assemblies (a pipeline's stages). */
export function readAssemblies(dir: string, name = dir): RehearsalAssembly[] {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {
    artifacts?: Record<string, { type: string; dependencies?: string[]; properties?: Record<string, unknown> }>;
  };
  const artifacts = manifest.artifacts ?? {};
  const stackIds = new Set(Object.keys(artifacts).filter((id) => artifacts[id].type === 'aws:cloudformation:stack'));
  const stacks: RehearsalStack[] = [];
  const nested: RehearsalAssembly[] = [];
  for (const [id, artifact] of Object.entries(artifacts)) {
    const props = artifact.properties ?? {};
    if (artifact.type === 'aws:cloudformation:stack') {
      const templateFile = join(dir, String(props.templateFile));
      stacks.push({
        id,
        stackName: String(props.stackName ?? id),
        // Asset manifests are dependencies too; only stacks order a deploy.
        dependencies: (artifact.dependencies ?? []).filter((d) => stackIds.has(d) || !artifacts[d]),
        template: JSON.parse(readFileSync(templateFile, 'utf8')) as CfnTemplate,
      });
    } else if (artifact.type === 'cdk:cloud-assembly') {
      const sub = join(dir, String(props.directoryName));
      if (existsSync(join(sub, 'manifest.json'))) nested.push(...readAssemblies(sub, `${name}/${props.directoryName}`));
    }
  }
  return [{ name, stacks }, ...nested];
}

/** Topological order of the stacks (manifest order breaks ties), with findings for unknown deps and cycles. */
export function deployOrder(assembly: RehearsalAssembly): { order: RehearsalStack[]; findings: Finding[] } {
  const byId = new Map(assembly.stacks.map((s) => [s.id, s]));
  const findings: Finding[] = [];
  const order: RehearsalStack[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (s: RehearsalStack, path: string[]): void => {
    const st = state.get(s.id);
    if (st === 'done') return;
    if (st === 'visiting') {
      findings.push({
        rule: 'stack-order',
        stack: s.stackName,
        message: `dependency cycle: ${[...path, s.id].join(' -> ')}; some stack would depend on one deployed after it`,
      });
      return;
    }
    state.set(s.id, 'visiting');
    for (const d of s.dependencies) {
      const dep = byId.get(d);
      if (!dep) {
        findings.push({ rule: 'stack-order', stack: s.stackName, message: `depends on '${d}', not in the assembly` });
        continue;
      }
      visit(dep, [...path, s.id]);
    }
    state.set(s.id, 'done');
    order.push(s);
  };
  for (const s of assembly.stacks) visit(s, []);
  return { order, findings };
}

/** Checks an explicit deploy order: no stack comes before one it depends on. */
export function checkOrder(order: readonly RehearsalStack[]): Finding[] {
  const position = new Map(order.map((s, i) => [s.id, i]));
  return order.flatMap((s, i) =>
    s.dependencies
      .filter((d) => (position.get(d) ?? -1) > i)
      .map((d) => ({
        rule: 'stack-order' as const,
        stack: s.stackName,
        message: `depends on '${d}', which is deployed after it`,
      })),
  );
}

export function rehearse(assembly: RehearsalAssembly, external: readonly ExternalName[] = []): RehearsalReport {
  const { order, findings } = deployOrder(assembly);
  findings.push(...checkOrder(order));
  const checked: string[] = [];
  const ancestors = ancestorMap(assembly);
  for (const stack of order) {
    const before = order.filter((s) => ancestors.get(stack.id)?.has(s.id));
    const counts = checkStack(stack, before, external, findings);
    checked.push(
      `${assembly.name}: ${stack.stackName} (after ${before.map((s) => s.stackName).join(', ') || 'nothing'}): ` +
        `${counts.tokens} token references, ${counts.names} names, ${counts.services} ECS services' role policies`,
    );
  }
  return { order: order.map((s) => s.stackName), checked, findings };
}

function ancestorMap(assembly: RehearsalAssembly): Map<string, Set<string>> {
  const byId = new Map(assembly.stacks.map((s) => [s.id, s]));
  const memo = new Map<string, Set<string>>();
  const of = (id: string, seen: Set<string>): Set<string> => {
    const known = memo.get(id);
    if (known) return known;
    const out = new Set<string>();
    if (seen.has(id)) return out;
    seen.add(id);
    for (const d of byId.get(id)?.dependencies ?? []) {
      out.add(d);
      for (const a of of(d, seen)) out.add(a);
    }
    memo.set(id, out);
    return out;
  };
  for (const s of assembly.stacks) of(s.id, new Set());
  return memo;
}

const CREATED_NAME: Record<string, { kind: NameKind; property: string }> = {
  'AWS::CloudWatch::Alarm': { kind: 'alarm', property: 'AlarmName' },
  'AWS::CloudWatch::CompositeAlarm': { kind: 'alarm', property: 'AlarmName' },
  'AWS::SecretsManager::Secret': { kind: 'secret', property: 'Name' },
  'AWS::Logs::LogGroup': { kind: 'log-group', property: 'LogGroupName' },
  'Custom::LogRetention': { kind: 'log-group', property: 'LogGroupName' },
  'AWS::WAFv2::WebACL': { kind: 'web-acl', property: 'Name' },
};

interface NamedResource {
  readonly kind: NameKind;
  readonly name: string;
  readonly logicalId: string;
}

/** What a template creates under a fixed name (RDS log exports create their groups too). */
export function createdNames(template: CfnTemplate): NamedResource[] {
  const out: NamedResource[] = [];
  for (const [logicalId, r] of Object.entries(template.Resources ?? {})) {
    const spec = CREATED_NAME[r.Type];
    const value = r.Properties?.[spec?.property ?? ''];
    if (spec && typeof value === 'string') out.push({ kind: spec.kind, name: value, logicalId });
    if (r.Type === 'AWS::RDS::DBInstance') {
      const id = r.Properties?.DBInstanceIdentifier;
      const exports = r.Properties?.EnableCloudwatchLogsExports;
      if (typeof id === 'string' && Array.isArray(exports)) {
        for (const log of exports) out.push({ kind: 'log-group', name: `/aws/rds/instance/${id}/${log}`, logicalId });
      }
    }
  }
  return out;
}

/** Names a resource uses by string (not by token): literal strings only, tokens are the `token` rule's. */
export function referencedNames(resource: CfnResource): { kind: NameKind; name: string }[] {
  const out: { kind: NameKind; name: string }[] = [];
  const p = resource.Properties ?? {};
  if (resource.Type === 'AWS::ECS::Service') {
    const names = (p.DeploymentConfiguration as { Alarms?: { AlarmNames?: unknown[] } } | undefined)?.Alarms
      ?.AlarmNames;
    for (const n of names ?? []) if (typeof n === 'string') out.push({ kind: 'alarm', name: n });
  }
  if (resource.Type === 'AWS::CloudWatch::CompositeAlarm') {
    for (const s of literalStrings(p.AlarmRule)) {
      for (const m of s.matchAll(/(?:ALARM|OK|INSUFFICIENT_DATA)\(\s*"?([^")]+)"?\s*\)/g)) {
        // An ARN built from tokens is split across Fn::Join parts; a whole literal ARN names by its tail.
        const ref = m[1];
        if (ref.startsWith('arn:')) out.push({ kind: 'alarm', name: ref.split(':alarm:')[1] ?? ref });
        else if (!ref.startsWith(',') && ref.trim() !== '') out.push({ kind: 'alarm', name: ref });
      }
    }
  }
  if (resource.Type === 'AWS::Logs::MetricFilter' || resource.Type === 'AWS::Logs::SubscriptionFilter') {
    if (typeof p.LogGroupName === 'string') out.push({ kind: 'log-group', name: p.LogGroupName });
  }
  for (const s of literalStrings(p)) {
    for (const m of s.matchAll(/\{\{resolve:secretsmanager:([^:}]+)/g)) {
      if (!m[1].startsWith('arn')) out.push({ kind: 'secret', name: m[1] });
    }
    for (const m of s.matchAll(/"SecretId"\s*:\s*"([^"]+)"/g)) {
      if (!m[1].startsWith('arn:')) out.push({ kind: 'secret', name: m[1] });
    }
  }
  if (typeof p.SecretId === 'string' && !p.SecretId.startsWith('arn:')) out.push({ kind: 'secret', name: p.SecretId });
  if (resource.Type === 'AWS::CloudWatch::Alarm') {
    // An alarm on a WebACL's metrics names the WebACL in a dimension (there is no token for it).
    for (const dims of collect(p, 'Dimensions')) {
      for (const d of Array.isArray(dims) ? dims : []) {
        const { Name, Value } = d as { Name?: unknown; Value?: unknown };
        if (Name === 'WebACL' && typeof Value === 'string') out.push({ kind: 'web-acl', name: Value });
      }
    }
  }
  return out;
}

function literalStrings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(literalStrings);
  if (value && typeof value === 'object') return Object.values(value).flatMap(literalStrings);
  return [];
}

/** Logical IDs a value refers to by token (Ref, GetAtt, Sub variables). */
function tokenRefs(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) {
    for (const v of value) tokenRefs(v, out);
  } else if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o.Ref === 'string') out.push(o.Ref);
    const getAtt = o['Fn::GetAtt'];
    if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') out.push(getAtt[0]);
    if (typeof getAtt === 'string') out.push(getAtt.split('.')[0]);
    const sub = o['Fn::Sub'];
    const subText = typeof sub === 'string' ? sub : Array.isArray(sub) ? sub[0] : undefined;
    const subVars = Array.isArray(sub) && sub[1] && typeof sub[1] === 'object' ? Object.keys(sub[1]) : [];
    if (typeof subText === 'string') {
      for (const m of subText.matchAll(/\$\{([^!}][^}]*)\}/g)) {
        const v = m[1].split('.')[0];
        if (!subVars.includes(v)) out.push(v);
      }
    }
    for (const [k, v] of Object.entries(o)) if (k !== 'Ref' && k !== 'Fn::GetAtt') tokenRefs(v, out);
  }
  return out;
}

function collect(value: unknown, fn: string, out: unknown[] = []): unknown[] {
  if (Array.isArray(value)) for (const v of value) collect(v, fn, out);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === fn) out.push(v);
      else collect(v, fn, out);
    }
  }
  return out;
}

function dependsOn(r: CfnResource): string[] {
  return r.DependsOn === undefined ? [] : Array.isArray(r.DependsOn) ? r.DependsOn : [r.DependsOn];
}

/** Every resource `id` is ordered after: DependsOn and token references, transitively. */
function orderedAfter(resources: Record<string, CfnResource>, id: string): Set<string> {
  const out = new Set<string>();
  const stack = [id];
  while (stack.length > 0) {
    const r = resources[stack.pop() as string];
    if (!r) continue;
    for (const d of [...dependsOn(r), ...tokenRefs(r.Properties)]) {
      if (!out.has(d) && resources[d]) {
        out.add(d);
        stack.push(d);
      }
    }
  }
  return out;
}

function checkStack(
  stack: RehearsalStack,
  before: readonly RehearsalStack[],
  external: readonly ExternalName[],
  findings: Finding[],
): { tokens: number; names: number; services: number } {
  const resources = stack.template.Resources ?? {};
  const known = new Set([...Object.keys(resources), ...Object.keys(stack.template.Parameters ?? {})]);
  const finding = (rule: Rule, resource: string | undefined, message: string) =>
    findings.push({ rule, stack: stack.stackName, resource, message });
  let tokens = 0;
  let names = 0;
  let services = 0;

  const bodies: [string | undefined, unknown][] = [
    ...Object.entries(resources).map(([id, r]) => [id, r] as [string, unknown]),
    ...Object.entries(stack.template.Outputs ?? {}).map(([id, o]) => [`Outputs.${id}`, o] as [string, unknown]),
  ];
  for (const [id, body] of bodies) {
    const r = body as CfnResource;
    for (const ref of [...tokenRefs(r.Properties ?? body), ...(r.Type ? dependsOn(r) : [])]) {
      tokens++;
      if (!known.has(ref) && !ref.startsWith('AWS::')) finding('token', id, `refers to '${ref}', not in the template`);
    }
    for (const name of collect(body, 'Fn::ImportValue')) {
      tokens++;
      if (typeof name !== 'string') continue;
      const exporter = before.find((s) => Object.values(s.template.Outputs ?? {}).some((o) => o.Export?.Name === name));
      if (!exporter) finding('token', id, `imports '${name}', exported by no stack deployed before it`);
    }
    for (const ref of collect(body, 'Fn::GetStackOutput')) {
      tokens++;
      const { StackName, OutputName } = ref as { StackName?: unknown; OutputName?: unknown };
      const source = before.find((s) => s.stackName === StackName);
      if (!source) finding('token', id, `reads an output of '${String(StackName)}', not deployed before it`);
      else if (!source.template.Outputs?.[String(OutputName)]) {
        finding('token', id, `reads output '${String(OutputName)}' that '${String(StackName)}' does not have`);
      }
    }
  }

  const own = createdNames(stack.template);
  const earlier = before.flatMap((s) => createdNames(s.template).map((n) => ({ ...n, stack: s.stackName })));
  for (const [id, r] of Object.entries(resources)) {
    for (const ref of referencedNames(r)) {
      names++;
      const here = own.find((n) => n.kind === ref.kind && n.name === ref.name);
      if (here) {
        if (here.logicalId !== id && !orderedAfter(resources, id).has(here.logicalId)) {
          finding(
            'name-order',
            id,
            `names ${ref.kind} '${ref.name}' (${here.logicalId}) without a DependsOn path to it`,
          );
        }
        continue;
      }
      if (earlier.some((n) => n.kind === ref.kind && n.name === ref.name)) continue;
      if (external.some((e) => e.kind === ref.kind && e.name === ref.name)) continue;
      const later = `${ref.kind} '${ref.name}'`;
      finding('name', id, `names ${later}, created neither here nor by a stack deployed before it`);
    }
  }

  for (const [id, r] of Object.entries(resources)) {
    if (r.Type !== 'AWS::ECS::Service') continue;
    services++;
    const after = orderedAfter(resources, id);
    const roles = new Set<string>();
    for (const ref of tokenRefs(r.Properties)) {
      if (resources[ref]?.Type === 'AWS::IAM::Role') roles.add(ref);
      if (resources[ref]?.Type === 'AWS::ECS::TaskDefinition') {
        for (const inner of tokenRefs(resources[ref].Properties)) {
          if (resources[inner]?.Type === 'AWS::IAM::Role') roles.add(inner);
        }
      }
    }
    for (const role of roles) {
      for (const [pid, p] of Object.entries(resources)) {
        if (p.Type !== 'AWS::IAM::Policy' && p.Type !== 'AWS::IAM::ManagedPolicy') continue;
        if (!tokenRefs(p.Properties?.Roles).includes(role)) continue;
        if (!after.has(pid))
          finding('role-policy-order', id, `names role ${role} but does not depend on its policy ${pid}`);
      }
    }
  }
  return { tokens, names, services };
}

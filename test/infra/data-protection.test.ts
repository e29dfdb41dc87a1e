/**
 * Prod data survives a delete or a replacement on both deploy paths. `cdk deploy` honours the data
 * stack's termination protection; CDK Pipelines' CloudFormation actions ignore it (aws-cdk issue
 * 17871). What holds on both is what the template itself says: DeletionProtection on the database,
 * and deletion / update-replace policies on every stateful resource. So the same assertions run on
 * the stage's own template and on the pipeline's prod assembly.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { synthStage } from '../support/cdk';
import { synthPipelineAssembly } from '../support/pipeline-assembly';

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation is untyped JSON.
type Json = any;

/** Resource type → the policy that must hold for both DeletionPolicy and UpdateReplacePolicy. */
const REQUIRED: Record<string, 'Snapshot' | 'Retain'> = {
  'AWS::RDS::DBInstance': 'Snapshot',
  'AWS::KMS::Key': 'Retain',
  'AWS::SecretsManager::Secret': 'Retain',
  'AWS::ElastiCache::ReplicationGroup': 'Snapshot',
};

function protections(template: Json): Array<{ type: string; id: string; deletion?: string; replace?: string }> {
  return Object.entries(template.Resources as Record<string, Json>)
    .filter(([, r]) => r.Type in REQUIRED)
    .map(([id, r]) => ({ type: r.Type, id, deletion: r.DeletionPolicy, replace: r.UpdateReplacePolicy }));
}

function expectProtected(template: Json): void {
  const found = protections(template);
  expect(new Set(found.map((f) => f.type))).toEqual(new Set(Object.keys(REQUIRED)));
  for (const f of found) {
    expect(f).toEqual({ ...f, deletion: REQUIRED[f.type], replace: REQUIRED[f.type] });
  }
  const [db] = Object.values(template.Resources as Record<string, Json>).filter(
    (r) => r.Type === 'AWS::RDS::DBInstance',
  );
  expect(db.Properties.DeletionProtection).toBe(true);
}

test('cdk deploy path: the prod data template retains or snapshots every stateful resource', () => {
  const prod = synthStage('prod');
  expectProtected(prod.template(prod.stacks.data).toJSON());
  expect(prod.stacks.data.terminationProtection).toBe(true);
});

test('pipeline path: the prod data template the pipeline deploys carries the same policies', () => {
  const dir = synthPipelineAssembly();
  const prodAssembly = readdirSync(dir).find((d) => /^assembly-.*-Prod$/.test(d));
  expect(prodAssembly).toBeDefined();
  const file = readdirSync(join(dir, prodAssembly as string)).find((f) => /proddata.*\.template\.json$/.test(f));
  expect(file).toBeDefined();
  expectProtected(JSON.parse(readFileSync(join(dir, prodAssembly as string, file as string), 'utf8')));
});

test('dev data is disposable: nothing is retained or snapshotted', () => {
  const dev = synthStage('dev');
  const kept = protections(dev.template(dev.stacks.data).toJSON()).filter(
    (f) => f.deletion === 'Retain' || f.deletion === 'Snapshot',
  );
  expect(kept).toEqual([]);
});

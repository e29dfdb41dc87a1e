/**
 * What a prod stage keeps when someone deletes or replaces its stacks, proven on the synthesized
 * templates (the same templates `cdk deploy` and the pipeline deploy).
 */
import type { StageName } from '../../lib/config';
import { synthStage } from '../support/cdk';

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation is untyped JSON.
type Json = any;

const logGroups = (stage: StageName): Array<[string, Json]> => {
  const platform = synthStage(stage);
  return platform.allStacks.flatMap((stack) =>
    Object.entries(platform.template(stack).findResources('AWS::Logs::LogGroup')).map(
      ([id, r]) => [`${stack.stackName}/${id}`, r] as [string, Json],
    ),
  );
};

test('every prod log group is retained when its stack is deleted or the group is replaced', () => {
  const groups = logGroups('prod');
  // Flow logs, tasks, the k6 runner, Lambdas, the database's exports, the cache's logs, WAF.
  expect(groups.length).toBeGreaterThanOrEqual(8);
  const notRetained = groups
    .filter(([, r]) => r.DeletionPolicy !== 'Retain' || r.UpdateReplacePolicy !== 'Retain')
    .map(([id]) => id);
  expect(notRetained).toEqual([]);
});

test('dev log groups are deleted with their stack, so a throwaway stage leaves nothing behind', () => {
  const retained = logGroups('dev')
    .filter(([, r]) => r.DeletionPolicy === 'Retain')
    .map(([id]) => id);
  expect(retained).toEqual([]);
});

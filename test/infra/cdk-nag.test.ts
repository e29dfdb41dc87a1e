import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { STAGE_NAMES } from '../../lib/config';
import { synthStage } from '../support/cdk';

describe('cdk-nag AwsSolutions', () => {
  test.each(STAGE_NAMES)('the %s stage has no unacknowledged finding and no unchecked rule', (stage) => {
    const platform = synthStage(stage);
    for (const stack of platform.allStacks) {
      const annotations = Annotations.fromStack(stack);
      const errors = annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-'));
      const failures = annotations.findWarning('*', Match.stringLikeRegexp('CdkNagValidationFailure'));
      expect({ stack: stack.stackName, errors, failures }).toEqual({
        stack: stack.stackName,
        errors: [],
        failures: [],
      });
    }
  });

  test('every acknowledgement carries a specific reason', () => {
    for (const stage of STAGE_NAMES) {
      for (const stack of synthStage(stage).allStacks) {
        const json = stack.node.findAll().flatMap((c) => {
          const meta = c.node.metadata.filter((m) => m.type === 'cdk_nag');
          const cfn = (c as { cfnOptions?: { metadata?: Record<string, unknown> } }).cfnOptions?.metadata?.cdk_nag as
            | { rules_to_suppress?: Array<{ id: string; reason: string }> }
            | undefined;
          return [...meta.map((m) => m.data), ...(cfn?.rules_to_suppress ?? [])];
        });
        for (const rule of json as Array<{ id: string; reason: string }>) {
          expect(rule.reason.length).toBeGreaterThanOrEqual(40);
        }
      }
    }
  });

  test('the checks really run: acknowledged findings are reported as acknowledged, not absent', () => {
    // The harness attaches AwsSolutionsChecks with logIgnores, so every acknowledgement that
    // matched a real finding leaves an info annotation. Dev's single-AZ database is one.
    const dev = synthStage('dev');
    const infos = Annotations.fromStack(dev.stacks.data).findInfo('*', Match.stringLikeRegexp('AwsSolutions-RDS3'));
    expect(infos.length).toBeGreaterThan(0);
    const prod = synthStage('prod');
    expect(Annotations.fromStack(prod.stacks.data).findInfo('*', Match.stringLikeRegexp('AwsSolutions-RDS3'))).toEqual(
      [],
    );
  });
});

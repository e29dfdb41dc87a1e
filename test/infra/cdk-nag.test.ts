import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { STAGE_NAMES } from '../../lib/config';
import { synthStage } from '../support/cdk';
import { nagAcknowledgements, unacknowledgedNagFindings } from '../support/nag';

describe('cdk-nag AwsSolutions', () => {
  test.each(STAGE_NAMES)('the %s stage has no unacknowledged finding and no unchecked rule', (stage) => {
    for (const stack of synthStage(stage).allStacks) {
      expect(unacknowledgedNagFindings(stack)).toEqual({ stack: stack.stackName, errors: [], failures: [] });
    }
  });

  test('every acknowledgement carries a specific reason', () => {
    for (const stage of STAGE_NAMES) {
      const acknowledgements = synthStage(stage).allStacks.flatMap((stack) => nagAcknowledgements(stack));
      expect(acknowledgements.length).toBeGreaterThan(0);
      for (const rule of acknowledgements) expect(rule.reason.length).toBeGreaterThanOrEqual(40);
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

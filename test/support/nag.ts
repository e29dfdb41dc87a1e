/** What cdk-nag left on synthesized stacks: its unacknowledged findings and its acknowledgements. */
import type { Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';

export interface NagAcknowledgement {
  readonly id: string;
  readonly reason: string;
}

/** Errors (unacknowledged findings) and rules nag could not evaluate, per stack; both must be empty. */
export function unacknowledgedNagFindings(stack: Stack) {
  const annotations = Annotations.fromStack(stack);
  return {
    stack: stack.stackName,
    errors: annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-')),
    failures: annotations.findWarning('*', Match.stringLikeRegexp('CdkNagValidationFailure')),
  };
}

/** Every acknowledgement (`NagSuppressions`) attached anywhere below `scope`. */
export function nagAcknowledgements(scope: IConstruct): NagAcknowledgement[] {
  return scope.node.findAll().flatMap((c) => {
    const cfn = (c as { cfnOptions?: { metadata?: Record<string, unknown> } }).cfnOptions?.metadata?.cdk_nag as
      | { rules_to_suppress?: NagAcknowledgement[] }
      | undefined;
    const stackLevel = c.node.metadata.filter((m) => m.type === 'cdk_nag').map((m) => m.data as NagAcknowledgement);
    return [...stackLevel, ...(cfn?.rules_to_suppress ?? [])];
  });
}

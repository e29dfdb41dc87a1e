import { ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as cr from 'aws-cdk-lib/custom-resources';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';

export interface ExistingSecretProps {
  /** Name of a secret that exists before the first deploy, e.g. `chat-platform/llm-api-key`. */
  readonly secretName: string;
  readonly logRetentionDays: logs.RetentionDays;
}

/**
 * A secret created outside the stack, referenced by its complete ARN.
 *
 * ECS injects a Secrets Manager secret only from "the full ARN of the Secrets Manager secret"
 * (ECS API reference, `Secret.valueFrom`: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Secret.html),
 * and the complete ARN ends in a random suffix that only Secrets Manager knows. `fromSecretNameV2`
 * gives a partial ARN, which aws-cdk-lib itself warns may be refused. So the ARN is looked up at
 * deploy time (DescribeSecret on the name, allowed only on `<name>-??????`), which also makes a
 * deploy fail early and clearly when the secret was never created.
 *
 * The lookup re-runs only when `secretName` changes; if the secret is deleted and re-created (new
 * suffix), change the name or remove and re-add this construct (docs/deployments.md).
 */
export class ExistingSecret extends Construct {
  readonly secret: secretsmanager.ISecret;
  readonly secretArn: string;

  constructor(scope: Construct, id: string, props: ExistingSecretProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const partialArn = stack.formatArn({
      service: 'secretsmanager',
      resource: 'secret',
      resourceName: props.secretName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const describe: cr.AwsSdkCall = {
      service: 'SecretsManager',
      action: 'DescribeSecret',
      parameters: { SecretId: props.secretName },
      physicalResourceId: cr.PhysicalResourceId.fromResponse('ARN'),
      outputPaths: ['ARN'],
    };
    const lookup = new cr.AwsCustomResource(this, 'Lookup', {
      resourceType: 'Custom::ExistingSecretArn',
      onCreate: describe,
      onUpdate: describe,
      // The six-character suffix Secrets Manager appends: the policy names this one secret only.
      policy: cr.AwsCustomResourcePolicy.fromSdkCalls({ resources: [`${partialArn}-??????`] }),
      installLatestAwsSdk: false,
      logGroup: new logs.LogGroup(this, 'LookupLogs', {
        retention: props.logRetentionDays,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });
    this.secretArn = lookup.getResponseField('ARN');
    this.secret = secretsmanager.Secret.fromSecretCompleteArn(this, 'Secret', this.secretArn);

    // The custom resource's shared function is created by aws-cdk-lib at the stack root.
    const provider = stack.node.tryFindChild(cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace(/-/g, ''));
    const providerFunction =
      provider ?? stack.node.tryFindChild(`AWS${cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace(/-/g, '')}`);
    if (providerFunction) {
      NagSuppressions.addResourceSuppressions(
        providerFunction,
        [
          {
            id: 'AwsSolutions-IAM4',
            reason:
              "aws-cdk-lib's AwsCustomResource function (one per stack) uses AWSLambdaBasicExecutionRole for its own logs; its other permissions are the calls its custom resources make: DescribeSecret on the one LLM key secret and, with the Cognito identity provider, DescribeUserPoolClient on this stage's user pool.",
            appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole'],
          },
        ],
        true,
      );
    }
    NagSuppressions.addResourceSuppressions(
      lookup,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'The `-??????` wildcard is the random suffix Secrets Manager appends to the secret name; the statement allows DescribeSecret on this one secret only.',
          appliesTo: [{ regex: '/^Resource::arn:<AWS::Partition>:secretsmanager:.*-\\?\\?\\?\\?\\?\\?$/g' }],
        },
      ],
      true,
    );
  }
}

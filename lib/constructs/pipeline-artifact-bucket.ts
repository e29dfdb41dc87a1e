import { Duration, PhysicalName } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';

export interface PipelineArtifactBucketProps {
  /** How long the access logs of the artifact bucket are kept. */
  readonly accessLogRetentionDays: number;
  /**
   * How long an artifact (source zip, cloud assembly, gate reports) is kept.
   * @default 30 days: a manual approval expires after 7 days, so no execution needs older ones.
   */
  readonly artifactRetentionDays?: number;
}

/**
 * The pipeline's artifact store: a bucket encrypted with a customer-managed key (rotated yearly),
 * which CodePipeline requires for deployments into other accounts, and whose object access is
 * logged to a second bucket. Costs about $1 per month for the key, plus storage.
 */
export class PipelineArtifactBucket extends Construct {
  readonly bucket: s3.Bucket;
  readonly key: kms.Key;
  readonly accessLogs: s3.Bucket;

  constructor(scope: Construct, id: string, props: PipelineArtifactBucketProps) {
    super(scope, id);

    this.accessLogs = new s3.Bucket(this, 'AccessLogs', {
      // S3 server access logging delivers to SSE-S3 buckets only.
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(props.accessLogRetentionDays) }],
    });
    NagSuppressions.addResourceSuppressions(this.accessLogs, [
      {
        id: 'AwsSolutions-S1',
        reason:
          'This bucket is itself the access-log destination of the artifact bucket; logging its own reads would need another bucket that needs one too. It admits the S3 log-delivery principal and SSL only.',
      },
    ]);

    this.key = new kms.Key(this, 'Key', {
      description: 'Encrypts the release pipeline artifacts (source, cloud assembly, gate reports)',
      enableKeyRotation: true,
    });
    this.bucket = new s3.Bucket(this, 'Bucket', {
      // Named when another account's deploy actions must name it, like CodePipeline's own default.
      bucketName: PhysicalName.GENERATE_IF_NEEDED,
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'artifacts/',
      lifecycleRules: [{ expiration: Duration.days(props.artifactRetentionDays ?? 30) }],
    });
  }
}

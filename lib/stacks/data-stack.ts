import { RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { physicalName, type StageConfig } from '../config';
import { CacheCluster } from '../constructs/cache-cluster';
import { ChatDatabase } from '../constructs/chat-database';

export interface DataStackProps extends StackProps {
  readonly config: StageConfig;
  readonly vpc: ec2.IVpc;
  /** The chat service's security group: the only application group Postgres and the cache admit. */
  readonly serviceSecurityGroup: ec2.ISecurityGroup;
}

/**
 * Data: the stateful tier, in its own stack so its lifecycle is separate from the service's.
 * Termination protection follows the database's deletion protection (always on in prod).
 */
export class DataStack extends Stack {
  readonly encryptionKey: kms.Key;
  readonly database: ChatDatabase;
  readonly cache: CacheCluster;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, { ...props, terminationProtection: props.config.database.deletionProtection });
    const { config } = props;

    this.encryptionKey = new kms.Key(this, 'DataKey', {
      alias: `alias/${physicalName(config, 'data')}`,
      description: `${physicalName(config, 'data')}: RDS storage, Performance Insights, ElastiCache at rest, data secrets`,
      enableKeyRotation: true,
      removalPolicy: config.database.deletionProtection ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });

    const logRetentionDays = config.logRetentionDays as logs.RetentionDays;
    this.database = new ChatDatabase(this, 'Database', {
      naming: config,
      database: config.database,
      logRetentionDays,
      vpc: props.vpc,
      serviceSecurityGroup: props.serviceSecurityGroup,
      encryptionKey: this.encryptionKey,
    });

    this.cache = new CacheCluster(this, 'Cache', {
      naming: config,
      cache: config.cache,
      logRetentionDays,
      vpc: props.vpc,
      serviceSecurityGroup: props.serviceSecurityGroup,
      encryptionKey: this.encryptionKey,
    });

    if (config.database.deletionProtection) this.protectData();
  }

  /**
   * What survives a delete or a replacement of the data, on `cdk deploy` AND under CDK Pipelines,
   * whose CloudFormation actions ignore the stack's termination protection (aws-cdk issue 17871):
   * resource policies are part of the template, so they hold on both paths. The database keeps
   * `DeletionProtection` and a final snapshot (chat-database.ts), the key is retained (above); here
   * the credentials the snapshot needs are retained and the cache leaves a final snapshot.
   */
  private protectData(): void {
    // The master secret: the instance's generated DatabaseSecret (its `secret` is the attachment).
    const masterSecret = this.database.instance.node.tryFindChild('Secret') as secretsmanager.Secret | undefined;
    if (!masterSecret) throw new Error('The database instance has no generated master secret to retain.');
    for (const secret of [masterSecret, this.database.appUserSecret, this.cache.authTokenSecret]) {
      secret.applyRemovalPolicy(RemovalPolicy.RETAIN);
    }
    this.cache.replicationGroup.applyRemovalPolicy(RemovalPolicy.SNAPSHOT);
  }
}

import { RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { type CacheConfig, physicalName, type StageNaming } from '../config';
import { SECRET_JSON_KEYS } from '../contract';
import { SUBNET_GROUPS } from './chat-vpc';

export interface CacheClusterProps {
  /** Names the replication group `<app>-<stage>-cache`, its subnet group and its AUTH secret. */
  readonly naming: StageNaming;
  /** Engine, version, node type, replicas, port and snapshots. */
  readonly cache: CacheConfig;
  /** Of the slow and engine log groups. */
  readonly logRetentionDays: logs.RetentionDays;
  readonly vpc: ec2.IVpc;
  /** The only security group the cache admits. */
  readonly serviceSecurityGroup: ec2.ISecurityGroup;
  /** Encryption at rest and of the AUTH token secret. */
  readonly encryptionKey: kms.IKey;
}

/**
 * ElastiCache (Valkey by default, Redis selectable), secure by construction:
 * TLS required; an AUTH token generated in Secrets Manager (64 letters and digits, within
 * ElastiCache's 16–128 printable-character rule) and handed to CloudFormation as a dynamic
 * reference, never as plaintext; KMS at rest; Multi-AZ with automatic failover whenever there is a
 * replica; a non-default port; slow and engine logs in CloudWatch.
 */
export class CacheCluster extends Construct {
  readonly replicationGroup: elasticache.CfnReplicationGroup;
  /** `{"token": "..."}`; the service's REDIS_AUTH_TOKEN. */
  readonly authTokenSecret: secretsmanager.Secret;
  readonly securityGroup: ec2.SecurityGroup;
  /** Primary endpoint host name (TLS certificates are issued for it). */
  readonly host: string;
  readonly port: number;

  constructor(scope: Construct, id: string, props: CacheClusterProps) {
    super(scope, id);
    const { naming, cache, vpc } = props;
    const replicated = cache.replicasPerNodeGroup >= 1;
    this.port = cache.port;

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc,
      description: 'Cache: only the chat service',
      allowAllOutbound: false,
    });
    this.securityGroup.addIngressRule(props.serviceSecurityGroup, ec2.Port.tcp(cache.port), 'chat service tasks');

    this.authTokenSecret = new secretsmanager.Secret(this, 'AuthToken', {
      secretName: physicalName(naming, 'cache-auth'),
      description: `AUTH token of ${physicalName(naming, 'cache')} (letters and digits, 64 characters)`,
      encryptionKey: props.encryptionKey,
      generateSecretString: {
        secretStringTemplate: '{}',
        generateStringKey: SECRET_JSON_KEYS.REDIS_AUTH_TOKEN,
        passwordLength: 64,
        excludePunctuation: true,
        includeSpace: false,
      },
    });

    NagSuppressions.addResourceSuppressions(this.authTokenSecret, [
      {
        id: 'AwsSolutions-SMG4',
        reason:
          'An ElastiCache AUTH token is rotated with ModifyReplicationGroup (AuthTokenUpdateStrategy ROTATE, then SET), not by a Secrets Manager rotation function; docs/runbooks/cache-auth-failures.md has the procedure, and the service re-reads the token on WRONGPASS.',
      },
    ]);

    const subnetGroup = new elasticache.CfnSubnetGroup(this, 'Subnets', {
      description: `${physicalName(naming, 'cache')} data subnets`,
      cacheSubnetGroupName: physicalName(naming, 'cache'),
      subnetIds: vpc.selectSubnets({ subnetGroupName: SUBNET_GROUPS.data }).subnetIds,
    });

    const slowLogs = new logs.LogGroup(this, 'SlowLogs', {
      retention: props.logRetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const engineLogs = new logs.LogGroup(this, 'EngineLogs', {
      retention: props.logRetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const logDelivery = (logType: string, group: logs.LogGroup) => ({
      logType,
      logFormat: 'json',
      destinationType: 'cloudwatch-logs',
      destinationDetails: { cloudWatchLogsDetails: { logGroup: group.logGroupName } },
    });

    this.replicationGroup = new elasticache.CfnReplicationGroup(this, 'ReplicationGroup', {
      replicationGroupId: physicalName(naming, 'cache'),
      replicationGroupDescription: `Response cache of ${physicalName(naming, 'api')}`,
      engine: cache.engine,
      engineVersion: cache.engineVersion,
      cacheNodeType: cache.nodeType,
      numCacheClusters: 1 + cache.replicasPerNodeGroup,
      automaticFailoverEnabled: replicated,
      multiAzEnabled: replicated,
      port: cache.port,
      cacheSubnetGroupName: subnetGroup.ref,
      securityGroupIds: [this.securityGroup.securityGroupId],
      transitEncryptionEnabled: true,
      transitEncryptionMode: 'required',
      // Renders as {{resolve:secretsmanager:<arn>:SecretString:token::}}; CloudFormation resolves it.
      authToken: this.authTokenSecret.secretValueFromJson(SECRET_JSON_KEYS.REDIS_AUTH_TOKEN).unsafeUnwrap(),
      atRestEncryptionEnabled: true,
      kmsKeyId: props.encryptionKey.keyArn,
      snapshotRetentionLimit: cache.snapshotRetentionDays,
      autoMinorVersionUpgrade: true,
      logDeliveryConfigurations: [logDelivery('slow-log', slowLogs), logDelivery('engine-log', engineLogs)],
    });

    if (!replicated) {
      // Only reachable outside prod: validateStageConfig requires a replica in prod.
      NagSuppressions.addResourceSuppressions(this.replicationGroup, [
        {
          id: 'AwsSolutions-AEC4',
          reason: `${naming.stage} runs a single cache node to save cost (the service degrades to BYPASS if it fails); prod is forced to have a replica, Multi-AZ and automatic failover.`,
        },
      ]);
    }

    this.host = this.replicationGroup.attrPrimaryEndPointAddress;
  }
}

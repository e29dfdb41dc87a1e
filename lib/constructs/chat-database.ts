import { CustomResource, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as cr from 'aws-cdk-lib/custom-resources';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { type DatabaseConfig, physicalName, type StageNaming } from '../config';
import { BOOTSTRAP_PROPERTIES } from '../contract';
import { ChatFunction } from './chat-function';
import { SUBNET_GROUPS } from './chat-vpc';

/** Names inside Postgres. Changing one after the first deploy strands the old role or schema. */
export const DATABASE_LAYOUT = {
  databaseName: 'chat',
  schema: 'chat',
  /** NOLOGIN role that owns the schema, so ownership never depends on which rotated user migrated. */
  ownerRole: 'chat_owner',
  /** The least-privileged user the service connects as (rotation alternates it with `chat_app_clone`). */
  appUsername: 'chat_app',
  masterUsername: 'chat_admin',
} as const;

export interface ChatDatabaseProps {
  /** Names the instance `<app>-<stage>-db` and its secrets `<app>-<stage>-db-master`, `-db-app`. */
  readonly naming: StageNaming;
  /** Instance class, port, storage, Multi-AZ, backups, protection, app-user rotation. */
  readonly database: DatabaseConfig;
  /** Of the exported Postgres logs and the bootstrap function's logs. */
  readonly logRetentionDays: logs.RetentionDays;
  readonly vpc: ec2.IVpc;
  /** The only application security group Postgres admits. */
  readonly serviceSecurityGroup: ec2.ISecurityGroup;
  /** Encrypts storage, Performance Insights and the secrets. */
  readonly encryptionKey: kms.IKey;
}

/**
 * RDS PostgreSQL with everything the service needs to connect safely:
 * master credentials generated in Secrets Manager (rotated, single user); a separate application
 * user whose secret is rotated with the alternating-users strategy; the application role and schema
 * created in the database by an idempotent bootstrap custom resource; TLS enforced by the server.
 */
export class ChatDatabase extends Construct {
  readonly instance: rds.DatabaseInstance;
  readonly masterSecret: secretsmanager.ISecret;
  /** `{username, password, host, port, dbname, engine, masterarn}`; the service reads username and password. */
  readonly appUserSecret: rds.DatabaseSecret;
  readonly securityGroup: ec2.SecurityGroup;
  /** Shared by the bootstrap and rotation functions: the only non-service group Postgres admits. */
  readonly adminFunctionsSecurityGroup: ec2.SecurityGroup;
  readonly port: number;
  readonly databaseName = DATABASE_LAYOUT.databaseName;

  constructor(scope: Construct, id: string, props: ChatDatabaseProps) {
    super(scope, id);
    const { naming, vpc } = props;
    const db = props.database;
    this.port = db.port;

    // Security groups: Postgres admits the service and the admin functions, nothing else.
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc,
      description: 'Postgres: only the chat service and the bootstrap/rotation functions',
      allowAllOutbound: false,
    });
    this.adminFunctionsSecurityGroup = new ec2.SecurityGroup(this, 'AdminFunctionsSecurityGroup', {
      vpc,
      description: 'DB bootstrap and secret-rotation functions: reach Postgres and Secrets Manager',
      allowAllOutbound: true,
    });
    this.securityGroup.addIngressRule(props.serviceSecurityGroup, ec2.Port.tcp(db.port), 'chat service tasks');

    const parameterGroup = new rds.ParameterGroup(this, 'Parameters', {
      engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_18 }),
      description: `${physicalName(naming, 'db')}: TLS enforced, slow statements logged`,
      parameters: {
        'rds.force_ssl': '1',
        log_min_duration_statement: '1000',
        // A slow statement is logged with its text, never its bind parameters: the service sends every
        // chat message as a parameter, so this keeps user text out of the log (PostgreSQL 13+ GUC;
        // 0 suppresses parameter values in statement logs, -1 would log them in full).
        log_parameter_max_length: '0',
        log_connections: '1',
        log_disconnections: '1',
      },
    });

    // The exported log groups are created here, with retention, instead of through
    // `cloudwatchLogsRetention` (which adds a LogRetention custom-resource Lambda).
    const instanceIdentifier = physicalName(naming, 'db');
    const logExports = ['postgresql', 'upgrade'];
    const exportedLogGroups = logExports.map(
      (type) =>
        new logs.LogGroup(this, `Logs-${type}`, {
          logGroupName: `/aws/rds/instance/${instanceIdentifier}/${type}`,
          retention: props.logRetentionDays,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
    );

    this.instance = new rds.DatabaseInstance(this, 'Instance', {
      engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_18 }),
      instanceType: new ec2.InstanceType(db.instanceType),
      instanceIdentifier,
      vpc,
      vpcSubnets: { subnetGroupName: SUBNET_GROUPS.data },
      securityGroups: [this.securityGroup],
      port: db.port,
      databaseName: DATABASE_LAYOUT.databaseName,
      credentials: rds.Credentials.fromGeneratedSecret(DATABASE_LAYOUT.masterUsername, {
        secretName: physicalName(naming, 'db-master'),
        encryptionKey: props.encryptionKey,
      }),
      parameterGroup,
      storageEncrypted: true,
      storageEncryptionKey: props.encryptionKey,
      storageType: rds.StorageType.GP3,
      allocatedStorage: db.allocatedStorageGiB,
      maxAllocatedStorage: db.maxAllocatedStorageGiB,
      multiAz: db.multiAz,
      backupRetention: Duration.days(db.backupRetentionDays),
      deleteAutomatedBackups: !db.deletionProtection,
      deletionProtection: db.deletionProtection,
      // Snapshot on delete wherever deletion protection is on (always in prod).
      removalPolicy: db.deletionProtection ? RemovalPolicy.SNAPSHOT : RemovalPolicy.DESTROY,
      cloudwatchLogsExports: logExports,
      enablePerformanceInsights: db.performanceInsights,
      performanceInsightEncryptionKey: db.performanceInsights ? props.encryptionKey : undefined,
      autoMinorVersionUpgrade: true,
      caCertificate: rds.CaCertificate.RDS_CA_RSA2048_G1,
    });
    for (const group of exportedLogGroups) this.instance.node.addDependency(group);
    // Through `connections`, so the rotations' own identical rule (SecretRotation calls
    // allowDefaultPortFrom on this group) is de-duplicated instead of rendered twice.
    this.instance.connections.allowDefaultPortFrom(
      this.adminFunctionsSecurityGroup,
      'bootstrap and rotation functions',
    );
    this.masterSecret = this.instance.secret!;
    if (!db.multiAz || !db.deletionProtection) {
      // Only reachable outside prod: validateStageConfig refuses both in prod.
      NagSuppressions.addResourceSuppressions(this.instance, [
        ...(db.multiAz
          ? []
          : [
              {
                id: 'AwsSolutions-RDS3',
                reason: `${naming.stage} runs single-AZ to save cost; prod is forced Multi-AZ by the stage-config validation.`,
              },
            ]),
        ...(db.deletionProtection
          ? []
          : [
              {
                id: 'AwsSolutions-RDS10',
                reason: `${naming.stage} is disposable; prod is forced to deletion protection by the stage-config validation.`,
              },
            ]),
      ]);
    }

    this.appUserSecret = new rds.DatabaseSecret(this, 'AppUserSecret', {
      username: DATABASE_LAYOUT.appUsername,
      dbname: DATABASE_LAYOUT.databaseName,
      secretName: physicalName(naming, 'db-app'),
      masterSecret: this.masterSecret,
      encryptionKey: props.encryptionKey,
    });
    const attachedAppSecret = this.appUserSecret.attach(this.instance);

    const bootstrap = this.createBootstrap(props, attachedAppSecret);
    this.scheduleRotations(db.appUserRotationDays, attachedAppSecret, bootstrap);
  }

  /** The custom resource that creates the app role and schema; re-runs whenever its properties change. */
  private createBootstrap(props: ChatDatabaseProps, appSecret: secretsmanager.ISecret): CustomResource {
    const fn = new ChatFunction(this, 'BootstrapFunction', {
      functionDir: 'db-bootstrap',
      description: `${physicalName(props.naming, 'db')}: create the least-privileged app role and schema (idempotent)`,
      timeout: Duration.minutes(2),
      logRetentionDays: props.logRetentionDays,
      vpc: props.vpc,
      vpcSubnets: { subnetGroupName: SUBNET_GROUPS.app },
      securityGroups: [this.adminFunctionsSecurityGroup],
      // Node.js 20+ runtimes don't load Amazon's CA bundle by default; RDS's CA is in it.
      environment: { NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem' },
    });
    this.masterSecret.grantRead(fn.function);
    appSecret.grantRead(fn.function);

    const provider = new cr.Provider(this, 'BootstrapProvider', {
      onEventHandler: fn.function,
      logGroup: new logs.LogGroup(this, 'BootstrapProviderLogs', {
        retention: props.logRetentionDays,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });
    NagSuppressions.addResourceSuppressions(
      provider,
      [
        {
          id: 'AwsSolutions-IAM4',
          reason:
            "The CDK Provider framework's own function uses AWSLambdaBasicExecutionRole; its role is created by aws-cdk-lib and only invokes the bootstrap function.",
          appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole'],
        },
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'The Provider framework grants lambda:InvokeFunction on the bootstrap function and its versions (<arn>:*), nothing else.',
          appliesTo: [{ regex: '/^Resource::<.*BootstrapFunction.*\\.Arn>:\\*$/g' }],
        },
      ],
      true,
    );
    const resource = new CustomResource(this, 'Bootstrap', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::ChatDatabaseBootstrap',
      properties: {
        [BOOTSTRAP_PROPERTIES.masterSecretArn]: this.masterSecret.secretArn,
        [BOOTSTRAP_PROPERTIES.appSecretArn]: appSecret.secretArn,
        [BOOTSTRAP_PROPERTIES.host]: this.instance.dbInstanceEndpointAddress,
        [BOOTSTRAP_PROPERTIES.port]: String(this.port),
        [BOOTSTRAP_PROPERTIES.databaseName]: DATABASE_LAYOUT.databaseName,
        [BOOTSTRAP_PROPERTIES.schema]: DATABASE_LAYOUT.schema,
        [BOOTSTRAP_PROPERTIES.ownerRole]: DATABASE_LAYOUT.ownerRole,
        [BOOTSTRAP_PROPERTIES.appUsername]: DATABASE_LAYOUT.appUsername,
      },
    });
    // No explicit dependency on `this.instance`: that construct also holds the rotations, which
    // must come after the bootstrap. The host property already orders the bootstrap after the DB instance.
    return resource;
  }

  /**
   * Both rotations start only after the bootstrap: the first rotation runs immediately, and the
   * alternating-users rotation grants `chat_app` to the clone, so `chat_app` must already exist;
   * a master rotation racing the bootstrap would change the password it is logging in with.
   */
  private scheduleRotations(appRotationDays: number, appSecret: secretsmanager.ISecret, bootstrap: CustomResource) {
    const placement = {
      vpcSubnets: { subnetGroupName: SUBNET_GROUPS.app },
      securityGroup: this.adminFunctionsSecurityGroup,
    };
    const master = this.instance.addRotationSingleUser({ ...placement, automaticallyAfter: Duration.days(30) });
    const app = this.instance.addRotationMultiUser('AppUserRotation', {
      ...placement,
      secret: appSecret,
      automaticallyAfter: Duration.days(appRotationDays),
    });
    master.node.addDependency(bootstrap);
    app.node.addDependency(bootstrap);
  }
}

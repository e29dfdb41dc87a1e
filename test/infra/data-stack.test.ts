import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { parseBootstrapProperties } from '../../lambda/db-bootstrap/properties';
import { CacheCluster } from '../../lib/constructs/cache-cluster';
import { DATABASE_LAYOUT } from '../../lib/constructs/chat-database';
import { SUBNET_GROUPS } from '../../lib/constructs/chat-vpc';
import { synthStage } from '../support/cdk';

const prod = synthStage('prod');
const dev = synthStage('dev');
const prodData = prod.template(prod.stacks.data);
const devData = dev.template(dev.stacks.data);

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation resources are untyped JSON.
type CfnResource = { id: string; Properties: any; DeletionPolicy?: string; DependsOn?: string[] };
const onlyResource = (template: typeof prodData, type: string): CfnResource => {
  const all = template.findResources(type);
  const ids = Object.keys(all);
  expect(ids).toHaveLength(1);
  return { id: ids[0], ...all[ids[0]] } as CfnResource;
};

describe('RDS PostgreSQL', () => {
  test('storage is encrypted with the customer-managed KMS key', () => {
    const key = onlyResource(prodData, 'AWS::KMS::Key');
    expect(key.Properties.EnableKeyRotation).toBe(true);
    prodData.hasResourceProperties('AWS::RDS::DBInstance', {
      StorageEncrypted: true,
      KmsKeyId: { 'Fn::GetAtt': [key.id, 'Arn'] },
    });
  });

  test('runs the latest Postgres major that aws-cdk-lib offers', () => {
    prodData.hasResourceProperties('AWS::RDS::DBInstance', { Engine: 'postgres', EngineVersion: '18' });
  });

  test('the server refuses connections without TLS (rds.force_ssl=1)', () => {
    prodData.hasResourceProperties('AWS::RDS::DBParameterGroup', {
      Parameters: Match.objectLike({ 'rds.force_ssl': '1' }),
    });
  });

  test('slow-statement logs never carry bind parameters, so no chat text reaches the database log', () => {
    prodData.hasResourceProperties('AWS::RDS::DBParameterGroup', {
      Parameters: Match.objectLike({ log_min_duration_statement: '1000', log_parameter_max_length: '0' }),
    });
  });

  test('exports logs and keeps backups', () => {
    prodData.hasResourceProperties('AWS::RDS::DBInstance', {
      EnableCloudwatchLogsExports: ['postgresql', 'upgrade'],
      BackupRetentionPeriod: prod.config.database.backupRetentionDays,
    });
    prodData.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/aws/rds/instance/chat-prod-db/postgresql',
      RetentionInDays: prod.config.logRetentionDays,
    });
  });

  test('prod is Multi-AZ with deletion protection and a snapshot on delete; dev is neither', () => {
    const prodDb = onlyResource(prodData, 'AWS::RDS::DBInstance');
    expect(prodDb.Properties).toMatchObject({ MultiAZ: true, DeletionProtection: true });
    expect(prodDb.DeletionPolicy).toBe('Snapshot');
    const devDb = onlyResource(devData, 'AWS::RDS::DBInstance');
    expect(devDb.Properties).toMatchObject({ MultiAZ: false, DeletionProtection: false });
    expect(devDb.DeletionPolicy).toBe('Delete');
  });

  test('prod data stack has termination protection', () => {
    expect(prod.stacks.data.terminationProtection).toBe(true);
    expect(dev.stacks.data.terminationProtection).toBe(false);
  });

  test('master credentials are generated in Secrets Manager, never written in the template', () => {
    const db = onlyResource(prodData, 'AWS::RDS::DBInstance');
    expect(JSON.stringify(db.Properties.MasterUserPassword)).toMatch(/\{\{resolve:secretsmanager:/);
    prodData.hasResourceProperties('AWS::SecretsManager::Secret', {
      Name: 'chat-prod-db-master',
      GenerateSecretString: Match.objectLike({ GenerateStringKey: 'password' }),
    });
  });

  test('the app user has its own secret, rotated with the alternating-users strategy', () => {
    const appSecret = Object.values(prodData.findResources('AWS::SecretsManager::Secret')).find(
      (r) => r.Properties.Name === 'chat-prod-db-app',
    );
    const template = JSON.stringify(appSecret?.Properties.GenerateSecretString.SecretStringTemplate);
    expect(template).toContain(`\\"username\\":\\"${DATABASE_LAYOUT.appUsername}\\"`);
    // Multi-user rotation needs the master secret's ARN in the app secret.
    expect(template).toContain('masterarn');
    // The multi-user rotation application from the Serverless Application Repository.
    prodData.hasResourceProperties('AWS::Serverless::Application', {
      Location: {
        ApplicationId: Match.anyValue(),
        SemanticVersion: Match.anyValue(),
      },
      Parameters: Match.objectLike({ masterSecretArn: Match.anyValue() }),
    });
    const schedules = prodData.findResources('AWS::SecretsManager::RotationSchedule');
    const apps = prodData.findResources('AWS::Serverless::Application');
    expect(Object.keys(schedules)).toHaveLength(2);
    for (const schedule of Object.values(schedules)) {
      expect(schedule.Properties.RotationRules.ScheduleExpression).toBe('rate(30 days)');
      // Rotations start only after the bootstrap created the roles they rotate: each schedule
      // uses a rotation application that depends on the bootstrap.
      const [appId] = schedule.Properties.RotationLambdaARN['Fn::GetAtt'];
      expect(apps[appId].DependsOn).toEqual(expect.arrayContaining([expect.stringMatching(/^DatabaseBootstrap/)]));
    }
  });

  test('the bootstrap custom resource carries exactly the properties its handler parses', () => {
    const bootstrap = onlyResource(prodData, 'Custom::ChatDatabaseBootstrap');
    const { ServiceToken: _token, ...props } = bootstrap.Properties;
    // Tokens stay tokens here; the handler only needs every property present and the port numeric.
    const parsed = parseBootstrapProperties(
      Object.fromEntries(Object.entries(props).map(([k, v]) => [k, typeof v === 'string' ? v : `token:${k}`])),
    );
    expect(parsed).toMatchObject({
      port: prod.config.database.port,
      databaseName: DATABASE_LAYOUT.databaseName,
      schema: DATABASE_LAYOUT.schema,
      ownerRole: DATABASE_LAYOUT.ownerRole,
      appUsername: DATABASE_LAYOUT.appUsername,
    });
  });

  test('the bootstrap function verifies the RDS certificate with the runtime CA bundle', () => {
    prodData.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('create the least-privileged app role'),
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Environment: { Variables: Match.objectLike({ NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem' }) },
    });
  });
});

describe('ElastiCache', () => {
  test('valkey by default, TLS required, AUTH token from Secrets Manager as a dynamic reference', () => {
    const rg = onlyResource(prodData, 'AWS::ElastiCache::ReplicationGroup');
    expect(rg.Properties).toMatchObject({
      Engine: 'valkey',
      TransitEncryptionEnabled: true,
      TransitEncryptionMode: 'required',
    });
    const token = JSON.stringify(rg.Properties.AuthToken);
    expect(token).toMatch(
      /^\{"Fn::Join":\["",\["\{\{resolve:secretsmanager:",\{"Ref":"CacheAuthToken[0-9A-F]+"\},":SecretString:token::\}\}"\]\]\}$/,
    );
  });

  test('the AUTH token is 64 letters and digits', () => {
    prodData.hasResourceProperties('AWS::SecretsManager::Secret', {
      Name: 'chat-prod-cache-auth',
      GenerateSecretString: {
        SecretStringTemplate: '{}',
        GenerateStringKey: 'token',
        PasswordLength: 64,
        ExcludePunctuation: true,
        IncludeSpace: false,
      },
    });
  });

  test('encrypted at rest with the KMS key', () => {
    const key = onlyResource(prodData, 'AWS::KMS::Key');
    prodData.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      AtRestEncryptionEnabled: true,
      KmsKeyId: { 'Fn::GetAtt': [key.id, 'Arn'] },
    });
  });

  test('Multi-AZ with automatic failover outside dev, single node in dev', () => {
    prodData.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      MultiAZEnabled: true,
      AutomaticFailoverEnabled: true,
      NumCacheClusters: 1 + prod.config.cache.replicasPerNodeGroup,
    });
    const staging = synthStage('staging');
    staging.template(staging.stacks.data).hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      MultiAZEnabled: true,
      AutomaticFailoverEnabled: true,
    });
    devData.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      MultiAZEnabled: false,
      AutomaticFailoverEnabled: false,
      NumCacheClusters: 1,
    });
  });

  test('listens on an explicit non-default port and ships slow and engine logs', () => {
    prodData.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      Port: 6380,
      LogDeliveryConfigurations: [
        Match.objectLike({ LogType: 'slow-log', DestinationType: 'cloudwatch-logs', LogFormat: 'json' }),
        Match.objectLike({ LogType: 'engine-log', DestinationType: 'cloudwatch-logs', LogFormat: 'json' }),
      ],
    });
  });
});

describe('security groups', () => {
  /** Ingress rules of the group whose logical ID starts with `prefix`, from both inline and standalone forms. */
  function ingressOf(prefix: string) {
    const groups = prodData.findResources('AWS::EC2::SecurityGroup');
    const groupId = Object.keys(groups).find((id) => id.startsWith(prefix));
    expect(groupId).toBeDefined();
    const inline = (groups[groupId!].Properties.SecurityGroupIngress ?? []) as object[];
    const standalone = Object.values(prodData.findResources('AWS::EC2::SecurityGroupIngress'))
      .map((r) => r.Properties)
      .filter((p) => JSON.stringify(p.GroupId).includes(groupId!));
    return [...inline, ...standalone] as Array<Record<string, unknown>>;
  }

  test('Postgres admits only the service and the bootstrap/rotation functions, on its port', () => {
    const rules = ingressOf('DatabaseSecurityGroup');
    expect(rules).toHaveLength(2);
    const instancePort = { 'Fn::GetAtt': [expect.stringMatching(/^DatabaseInstance/), 'Endpoint.Port'] };
    for (const rule of rules) {
      expect(rule.IpProtocol).toBe('tcp');
      expect(rule.CidrIp).toBeUndefined();
    }
    const fromService = rules.find((r) => JSON.stringify(r.SourceSecurityGroupId).includes('ServiceSecurityGroup'));
    expect(fromService).toMatchObject({ FromPort: 5433, ToPort: 5433 });
    const fromAdmin = rules.find((r) =>
      JSON.stringify(r.SourceSecurityGroupId).includes('DatabaseAdminFunctionsSecurityGroup'),
    );
    expect(fromAdmin).toMatchObject({ FromPort: instancePort, ToPort: instancePort });
    expect(prod.config.database.port).toBe(5433);
  });

  test('the cache admits only the service, on its port', () => {
    const rules = ingressOf('CacheSecurityGroup');
    expect(rules).toHaveLength(1);
    expect(rules[0]).toMatchObject({ IpProtocol: 'tcp', FromPort: 6380, ToPort: 6380 });
    expect(JSON.stringify(rules[0].SourceSecurityGroupId)).toMatch(/ServiceSecurityGroup/);
  });

  test('the rotation functions run in the admin-functions group, not a group of their own', () => {
    const apps = Object.values(prodData.findResources('AWS::Serverless::Application'));
    expect(apps).toHaveLength(2);
    for (const app of apps) {
      expect(JSON.stringify(app.Properties.Parameters.vpcSecurityGroupIds)).toMatch(
        /DatabaseAdminFunctionsSecurityGroup/,
      );
    }
  });
});

describe('the data constructs take only what they need', () => {
  test('a CacheCluster builds from its own settings, without a stage config', () => {
    const stack = new Stack(new App(), 'Test', { env: { account: '111122223333', region: 'eu-west-1' } });
    const vpc = new ec2.Vpc(stack, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: SUBNET_GROUPS.data, subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
    });
    new CacheCluster(stack, 'Cache', {
      naming: { appName: 'demo', stage: 'staging' },
      cache: {
        engine: 'redis',
        engineVersion: '7.1',
        nodeType: 'cache.t4g.small',
        replicasPerNodeGroup: 1,
        port: 6390,
        snapshotRetentionDays: 0,
      },
      logRetentionDays: logs.RetentionDays.ONE_WEEK,
      vpc,
      serviceSecurityGroup: new ec2.SecurityGroup(stack, 'Service', { vpc }),
      encryptionKey: new kms.Key(stack, 'Key'),
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      ReplicationGroupId: 'demo-staging-cache',
      Engine: 'redis',
      EngineVersion: '7.1',
      Port: 6390,
      NumCacheClusters: 2,
      TransitEncryptionEnabled: true,
      TransitEncryptionMode: 'required',
    });
    template.hasResourceProperties('AWS::SecretsManager::Secret', { Name: 'demo-staging-cache-auth' });
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
  });
});

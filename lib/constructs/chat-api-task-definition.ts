import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import {
  physicalName,
  type ServiceSettings,
  type StageNaming,
  serviceDimension,
  serviceSettingsEnvironment,
} from '../config';
import {
  CONDITIONAL_ENV_NAMES,
  type ConditionalEnvName,
  type DbSslMode,
  PLAIN_ENV_NAMES,
  type PlainEnvName,
  SECRET_ENV_NAMES,
  SECRET_JSON_KEYS,
  SERVICE_ENV,
  type SecretEnvName,
} from '../contract';
import { acknowledgeEcrAuthorization, repoImage, uriImage } from './repo-image';

/** The API container's name (the ECS load-balancer target). */
export const API_CONTAINER_NAME = 'api';

/** The port the container listens on: the contract's PORT default, so PORT and the target groups agree. */
export const API_CONTAINER_PORT = Number(SERVICE_ENV.PORT.default);

/**
 * Where the values of the plain variables come from. Tokens are fine; they resolve at deploy.
 * See `IdentityProvider` (./identity-provider) for the AUTH_* values.
 */
export interface ServiceEnvSources {
  readonly appVersion: string;
  readonly dbHost: string;
  readonly dbPort: number;
  readonly dbName: string;
  readonly redisHost: string;
  readonly redisPort: number;
  /** Who may call the API (an {@link IdentityProvider}'s issuer, audiences and JWKS). */
  readonly authIssuer: string;
  readonly authAudiences: readonly string[];
  readonly authJwksUrl: string;
  /** GATE_PRINCIPAL (an {@link IdentityProvider}'s `gatePrincipal`); left out of the environment when undefined. */
  readonly gatePrincipal?: string;
  /**
   * RATE_LIMIT_EXEMPT_CIDRS: the VPC's CIDR (`vpc.vpcCidrBlock`, a deploy-time reference), so the
   * k6 gate runner inside it is not stopped by the per-address flood guard.
   */
  readonly rateLimitExemptCidrs: readonly string[];
}

/**
 * The Secrets Manager secrets behind the secret variables, each passed once: their ARNs (the
 * re-read variables DB_SECRET_ARN, REDIS_AUTH_SECRET_ARN) and their keys are derived from them.
 */
export interface ServiceSecretSources {
  /** The app user's RDS secret: `{username, password, ...}`. */
  readonly dbSecret: secretsmanager.ISecret;
  /** `{token}`. */
  readonly cacheAuthSecret: secretsmanager.ISecret;
  /** `{apiKey}`. */
  readonly llmApiKeySecret: secretsmanager.ISecret;
}

/** The plain variables with their values: every one, except those the contract sets only in some stages. */
export type PlainServiceEnvironment = Record<Exclude<PlainEnvName, ConditionalEnvName>, string> &
  Partial<Record<ConditionalEnvName, string>>;

/**
 * Every plain contract variable with its value. Typed as the complete record over the contract's
 * plain names: a name added to the contract without a value here (or a value for a name the contract
 * does not have) is a compile error, and {@link assertContractCoverage} repeats the check at synth.
 * A {@link ConditionalEnvName} is left out when its stage has no value for it.
 */
export function plainServiceEnvironment(
  naming: StageNaming,
  service: ServiceSettings,
  s: ServiceEnvSources,
  secrets: Pick<ServiceSecretSources, 'dbSecret' | 'cacheAuthSecret'>,
): PlainServiceEnvironment {
  const dbSsl: DbSslMode = 'verify-full';
  return {
    PORT: String(API_CONTAINER_PORT),
    HOST: SERVICE_ENV.HOST.default,
    APP_VERSION: s.appVersion,
    SERVICE_NAME: serviceDimension(naming),
    DB_HOST: s.dbHost,
    DB_PORT: String(s.dbPort),
    DB_NAME: s.dbName,
    DB_SSL: dbSsl,
    DB_SECRET_ARN: secrets.dbSecret.secretArn,
    REDIS_HOST: s.redisHost,
    REDIS_PORT: String(s.redisPort),
    REDIS_TLS: 'true',
    REDIS_AUTH_SECRET_ARN: secrets.cacheAuthSecret.secretArn,
    LLM_BASE_URL: service.llm.baseUrl,
    LLM_MODEL: service.llm.model,
    PROMPT_VERSION: service.promptVersion,
    // The flood guard keys on the address the ALB appended, which only a caller inside the VPC can
    // have in this range; such callers still need a token and meet their principal's quotas.
    RATE_LIMIT_EXEMPT_CIDRS: s.rateLimitExemptCidrs.join(','),
    LOG_LEVEL: service.logLevel,
    // LLM_TIMEOUT_MS, CACHE_TTL_SECONDS, the limits, DRAIN_TIMEOUT_MS, KEEP_ALIVE_TIMEOUT_SECONDS, ...:
    // each from the stage setting lib/config/env-settings.ts names, the one validated against its range.
    ...serviceSettingsEnvironment(service),
    // Bearer tokens are always required in AWS: AUTH_MODE is local-only and never set here.
    AUTH_ISSUER: s.authIssuer,
    AUTH_AUDIENCE: s.authAudiences.join(','),
    AUTH_JWKS_URL: s.authJwksUrl,
    // Not a secret: every token the gate presents carries it.
    ...(s.gatePrincipal === undefined ? {} : { GATE_PRINCIPAL: s.gatePrincipal }),
  };
}

/** Every secret contract variable, from Secrets Manager with the contract's JSON key; never a plain value. */
export function serviceSecrets(s: ServiceSecretSources): Record<SecretEnvName, ecs.Secret> {
  return {
    DB_USERNAME: ecs.Secret.fromSecretsManager(s.dbSecret, SECRET_JSON_KEYS.DB_USERNAME),
    DB_PASSWORD: ecs.Secret.fromSecretsManager(s.dbSecret, SECRET_JSON_KEYS.DB_PASSWORD),
    REDIS_AUTH_TOKEN: ecs.Secret.fromSecretsManager(s.cacheAuthSecret, SECRET_JSON_KEYS.REDIS_AUTH_TOKEN),
    LLM_API_KEY: ecs.Secret.fromSecretsManager(s.llmApiKeySecret, SECRET_JSON_KEYS.LLM_API_KEY),
  };
}

/** Synth-time twin of the type check: exactly the contract's names, each in the right place. */
export function assertContractCoverage(environment: object, secrets: object): void {
  const problems: string[] = [];
  const compare = (what: string, actual: string[], expected: readonly string[], optional: readonly string[] = []) => {
    const missing = expected.filter((n) => !actual.includes(n) && !optional.includes(n));
    const extra = actual.filter((n) => !expected.includes(n));
    if (missing.length > 0) problems.push(`${what} is missing ${missing.join(', ')}`);
    if (extra.length > 0) problems.push(`${what} has names the contract does not list: ${extra.join(', ')}`);
  };
  compare('the task environment', Object.keys(environment), PLAIN_ENV_NAMES, CONDITIONAL_ENV_NAMES);
  compare('the task secrets', Object.keys(secrets), SECRET_ENV_NAMES);
  if (problems.length > 0) {
    throw new Error(
      `The chat API container does not match the service contract (lib/contract/env.ts): ${problems.join('; ')}. Map every name in lib/constructs/chat-api-task-definition.ts.`,
    );
  }
}

export interface ChatApiTaskDefinitionProps {
  /** Names the task family `<app>-<stage>-api`, its log group and the metrics' `Service` dimension. */
  readonly naming: StageNaming;
  /** Task size, image, stop timeout and the service's plain settings (LLM, cache TTL, limits). */
  readonly service: ServiceSettings;
  /** Of the container's log group. */
  readonly logRetentionDays: logs.RetentionDays;
  readonly env: ServiceEnvSources;
  /**
   * A secret with a customer managed key (the Data stack's) is used by ARN without its key, and
   * decrypt is granted on the key's ARN through Secrets Manager only (kms:ViaService): CDK's own
   * key grant would write this stack's roles into the other stack's key policy, a dependency cycle.
   */
  readonly secrets: ServiceSecretSources;
  /** @default - `service.image`: built from `service/Dockerfile`, or the configured URI */
  readonly image?: ecs.ContainerImage;
}

/**
 * The chat API's Fargate task definition (ARM64): environment and secrets generated from the
 * service contract, awslogs with retention, the configured stop timeout, and a task role that may
 * re-read the database and cache secrets (the rotation poll, and after a rejected login), nothing else.
 */
export class ChatApiTaskDefinition extends Construct {
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly container: ecs.ContainerDefinition;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ChatApiTaskDefinitionProps) {
    super(scope, id);
    const { naming, service } = props;
    const keyArns = distinct(
      Object.values(props.secrets)
        .map((secret) => secret.encryptionKey?.keyArn)
        .filter((arn): arn is string => arn !== undefined),
    );
    const sources: ServiceSecretSources = {
      dbSecret: withoutKey(this, 'DbSecret', props.secrets.dbSecret),
      cacheAuthSecret: withoutKey(this, 'CacheAuthSecret', props.secrets.cacheAuthSecret),
      llmApiKeySecret: withoutKey(this, 'LlmApiKeySecret', props.secrets.llmApiKeySecret),
    };
    const environment = plainServiceEnvironment(naming, service, props.env, sources);
    const secrets = serviceSecrets(sources);
    assertContractCoverage(environment, secrets);

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/${naming.appName}/${naming.stage}/api`,
      retention: props.logRetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'TaskDefinition', {
      family: physicalName(naming, 'api'),
      cpu: service.cpu,
      memoryLimitMiB: service.memoryMiB,
      runtimePlatform: {
        cpuArchitecture: ecs.CpuArchitecture.ARM64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
    });

    const image =
      props.image ??
      (service.image.kind === 'uri'
        ? uriImage(this, 'ImageRepository', service.image.uri)
        : repoImage({ file: 'service/Dockerfile' }));

    this.container = this.taskDefinition.addContainer('Api', {
      containerName: API_CONTAINER_NAME,
      image,
      essential: true,
      environment,
      secrets,
      portMappings: [{ containerPort: API_CONTAINER_PORT, protocol: ecs.Protocol.TCP }],
      logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: API_CONTAINER_NAME }),
      // SIGTERM, the service drains for DRAIN_TIMEOUT_MS (validated to end before this), then SIGKILL.
      stopTimeout: Duration.seconds(service.stopTimeoutSeconds),
      // No container health check: the ALB's readiness check on /health/ready decides, and the image's
      // tooling (shell, curl) is not part of the contract.
    });

    // The service re-reads these every ROTATION_POLL_SECONDS and after a rejected login (DB_SECRET_ARN, REDIS_AUTH_SECRET_ARN).
    sources.dbSecret.grantRead(this.taskDefinition.taskRole);
    sources.cacheAuthSecret.grantRead(this.taskDefinition.taskRole);
    if (keyArns.length > 0) {
      const decrypt = new iam.PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: keyArns,
        conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(this).region}.amazonaws.com` } },
      });
      this.taskDefinition.obtainExecutionRole().addToPrincipalPolicy(decrypt);
      this.taskDefinition.taskRole.addToPrincipalPolicy(decrypt);
    }

    acknowledgeEcrAuthorization(this.taskDefinition);
    NagSuppressions.addResourceSuppressions(this.taskDefinition, [
      {
        id: 'AwsSolutions-ECS2',
        reason:
          'The environment holds only the contract plain values (endpoints, ports, limits, secret ARNs); every credential goes through ECS secrets from Secrets Manager, and a contract test proves it.',
      },
    ]);
  }
}

/** A secret with a customer managed key, as the same secret by ARN without it (see the `secrets` prop). */
function withoutKey(scope: Construct, id: string, secret: secretsmanager.ISecret): secretsmanager.ISecret {
  if (secret.encryptionKey === undefined) return secret;
  return secretsmanager.Secret.fromSecretAttributes(scope, id, { secretCompleteArn: secret.secretArn });
}

function distinct<T>(values: readonly T[]): T[] {
  return values.filter((v, i) => values.indexOf(v) === i);
}

/**
 * The service contract, end to end: the synthesized task definition gives the container exactly
 * the variables the service reads (no more, no less), every credential only through ECS `secrets`
 * from Secrets Manager with the contract's JSON key, and values the service's own parser accepts.
 */
import { Match } from 'aws-cdk-lib/assertions';
import { ENV_SETTINGS, type EnvSetting, serviceDimension, valueAt } from '../../lib/config';
import { API_CONTAINER_NAME, assertContractCoverage } from '../../lib/constructs/chat-api-task-definition';
import {
  CONDITIONAL_ENV_NAMES,
  DB_SSL_MODES,
  INTEGER_ENV_NAMES,
  LOCAL_ONLY_ENV_NAMES,
  PLAIN_ENV_NAMES,
  SECRET_ENV_NAMES,
  SECRET_JSON_KEYS,
  SERVICE_ENV_NAMES,
  type SecretEnvName,
} from '../../lib/contract';
import { parseServiceConfig } from '../../service/src/config';
import { synthStage, TEST_APP_VERSION } from '../support/cdk';

const platform = synthStage('prod');
const template = platform.template(platform.stacks.service);

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation is untyped JSON.
type Json = any;
const apiContainer = (): Json => {
  const defs = Object.values(template.findResources('AWS::ECS::TaskDefinition'))
    .flatMap((r: Json) => r.Properties.ContainerDefinitions)
    .filter((c: Json) => c.Name === API_CONTAINER_NAME);
  expect(defs).toHaveLength(1);
  return defs[0];
};
const container = apiContainer();
const environment: Record<string, Json> = Object.fromEntries(container.Environment.map((e: Json) => [e.Name, e.Value]));
const secrets: Record<string, Json> = Object.fromEntries(container.Secrets.map((s: Json) => [s.Name, s.ValueFrom]));
const sorted = (names: readonly string[]) => [...names].sort();

/** The type of the resource a reference points at, following a cross-stack output to its stack. */
function referencedResourceType(ref: Json): string {
  if (ref['Fn::GetStackOutput']) {
    const { StackName, OutputName } = ref['Fn::GetStackOutput'];
    const producer = platform.allStacks.find((s) => s.stackName === StackName);
    if (!producer) throw new Error(`no stack ${StackName}`);
    const producerTemplate = platform.template(producer).toJSON();
    const logicalId = producerTemplate.Outputs[OutputName].Value.Ref;
    return producerTemplate.Resources[logicalId].Type;
  }
  if (ref['Fn::GetAtt']) return template.toJSON().Resources[ref['Fn::GetAtt'][0]].Type;
  if (ref.Ref) return template.toJSON().Resources[ref.Ref].Type;
  throw new Error(`not a reference: ${JSON.stringify(ref)}`);
}

describe('the task definition and the contract agree name for name', () => {
  test("Environment holds exactly the contract's plain names", () => {
    expect(sorted(Object.keys(environment))).toEqual(sorted(PLAIN_ENV_NAMES));
  });

  test("Secrets holds exactly the contract's secret names", () => {
    expect(sorted(Object.keys(secrets))).toEqual(sorted(SECRET_ENV_NAMES));
  });

  test('no contract secret is ever a plain environment value', () => {
    for (const name of SECRET_ENV_NAMES) expect(environment).not.toHaveProperty(name);
  });

  test('every secret comes from a Secrets Manager ARN with the contract JSON key', () => {
    const source: Record<SecretEnvName, RegExp> = {
      DB_USERNAME: /AppUserSecret/,
      DB_PASSWORD: /AppUserSecret/,
      REDIS_AUTH_TOKEN: /CacheAuthToken/,
      LLM_API_KEY: /LlmApiKeyLookup/,
    };
    for (const name of SECRET_ENV_NAMES) {
      const valueFrom = secrets[name];
      // Fn::Join of the secret's complete ARN (a reference, never a literal) and `:<json key>::`.
      expect(valueFrom).toEqual({ 'Fn::Join': ['', [expect.anything(), `:${SECRET_JSON_KEYS[name]}::`]] });
      const arn = valueFrom['Fn::Join'][1][0];
      expect(JSON.stringify(arn)).toMatch(source[name]);
      expect(referencedResourceType(arn)).toMatch(/^(AWS::SecretsManager::Secret|Custom::ExistingSecretArn)$/);
    }
  });

  test('the LLM key is the complete ARN of the named secret, looked up at deploy (ECS needs the full ARN)', () => {
    template.hasResourceProperties('Custom::ExistingSecretArn', {
      Create: Match.serializedJson(
        Match.objectLike({
          service: 'SecretsManager',
          action: 'DescribeSecret',
          parameters: { SecretId: platform.config.service.llm.apiKeySecretName },
        }),
      ),
    });
    expect(secrets.LLM_API_KEY['Fn::Join'][1][0]).toEqual({
      'Fn::GetAtt': [expect.stringMatching(/^LlmApiKeyLookup/), 'ARN'],
    });
  });

  test('the secret-ARN variables point at the same secrets the credentials come from', () => {
    expect(JSON.stringify(environment.DB_SECRET_ARN)).toMatch(/AppUserSecret/);
    expect(JSON.stringify(environment.REDIS_AUTH_SECRET_ARN)).toMatch(/CacheAuthToken/);
  });

  test('the fixed values are the secure ones and the deployed version', () => {
    expect(environment).toMatchObject({
      DB_SSL: 'verify-full',
      REDIS_TLS: 'true',
      APP_VERSION: TEST_APP_VERSION,
      SERVICE_NAME: serviceDimension(platform.config),
      DB_PORT: String(platform.config.database.port),
      REDIS_PORT: String(platform.config.cache.port),
      DRAIN_TIMEOUT_MS: String(platform.config.service.drainTimeoutMs),
      ROTATION_POLL_SECONDS: String(platform.config.service.rotationPollSeconds),
    });
  });

  test('every integer setting reaches the environment from the stage setting synth validated', () => {
    for (const name of INTEGER_ENV_NAMES) {
      const setting: EnvSetting = ENV_SETTINGS[name];
      if ('service' in setting) {
        expect([name, environment[name]]).toEqual([name, String(valueAt(platform.config.service, setting.service))]);
      }
    }
  });

  test("the load balancer's idle timeout is the stage's, below the keep-alive the service announces", () => {
    const albs = Object.values(template.findResources('AWS::ElasticLoadBalancingV2::LoadBalancer'));
    expect(albs).toHaveLength(1);
    const attributes: Json[] = (albs[0] as Json).Properties.LoadBalancerAttributes;
    const idle = attributes.find((a) => a.Key === 'idle_timeout.timeout_seconds');
    expect(idle?.Value).toBe(String(platform.config.ingress.idleTimeoutSeconds));
    expect(Number(idle?.Value)).toBeLessThan(Number(environment.KEEP_ALIVE_TIMEOUT_SECONDS));
  });

  test("RATE_LIMIT_EXEMPT_CIDRS is the VPC's CIDR: a reference to the VPC's CidrBlock, resolved at deploy, never a literal", () => {
    const value = environment.RATE_LIMIT_EXEMPT_CIDRS;
    expect(typeof value).not.toBe('string');
    // The VPC lives in the Network stack: follow the cross-stack output to what it publishes.
    const { StackName, OutputName } = value['Fn::GetStackOutput'];
    expect(StackName).toBe(platform.stacks.network.stackName);
    const network = platform.template(platform.stacks.network).toJSON();
    const published = network.Outputs[OutputName].Value;
    expect(published).toEqual({ 'Fn::GetAtt': [expect.any(String), 'CidrBlock'] });
    const vpc = network.Resources[published['Fn::GetAtt'][0]];
    expect(vpc.Type).toBe('AWS::EC2::VPC');
    // The same range the WAF exempts (its IP set holds the stage's literal network.cidr).
    expect(vpc.Properties.CidrBlock).toBe(platform.config.network.cidr);
  });

  test('a mapping that misses or invents a contract name fails at synth, naming it', () => {
    const env = Object.fromEntries(PLAIN_ENV_NAMES.filter((n) => n !== 'DB_HOST').map((n) => [n, 'x']));
    const sec = Object.fromEntries([...SECRET_ENV_NAMES, 'EXTRA_TOKEN'].map((n) => [n, 'x']));
    expect(() => assertContractCoverage(env, sec)).toThrow(
      /missing DB_HOST.*names the contract does not list: EXTRA_TOKEN/,
    );
  });

  test('only a name the contract sets in some stages (GATE_PRINCIPAL) may be left out', () => {
    expect(CONDITIONAL_ENV_NAMES).toEqual(['GATE_PRINCIPAL']);
    const secretNames = Object.fromEntries(SECRET_ENV_NAMES.map((n) => [n, 'x']));
    const without = (left: string) =>
      Object.fromEntries(PLAIN_ENV_NAMES.filter((n) => n !== left).map((n) => [n, 'x']));
    expect(() => assertContractCoverage(without('GATE_PRINCIPAL'), secretNames)).not.toThrow();
    expect(() => assertContractCoverage(without('QUOTA_GATE_REQUESTS_PER_MINUTE'), secretNames)).toThrow(
      /missing QUOTA_GATE_REQUESTS_PER_MINUTE/,
    );
  });
});

describe('the service reads exactly those names', () => {
  /** Placeholder values for deploy-time references, as they would resolve in AWS. */
  const resolved = (name: string, value: Json): string => {
    if (typeof value === 'string') return value;
    if (name.endsWith('_SECRET_ARN')) return 'arn:aws:secretsmanager:us-east-1:123456789012:secret:chat-prod-x-AbCdEf';
    if (name.endsWith('_HOST')) return `${name.toLowerCase().replace('_host', '')}.chat-prod.internal`;
    if (name === 'AUTH_ISSUER') return 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123';
    if (name === 'AUTH_JWKS_URL')
      return 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123/.well-known/jwks.json';
    if (name === 'AUTH_AUDIENCE') return '1example23456789userclient,2example23456789gateclient';
    // The gate machine client's id: the `sub` of its client-credentials tokens.
    if (name === 'GATE_PRINCIPAL') return '2example23456789gateclient';
    // The VPC's CIDR block (Fn::GetAtt CidrBlock): the stage's network.cidr.
    if (name === 'RATE_LIMIT_EXEMPT_CIDRS') return platform.config.network.cidr;
    throw new Error(`unexpected token for ${name}`);
  };
  const containerEnv = {
    ...Object.fromEntries(Object.entries(environment).map(([n, v]) => [n, resolved(n, v)])),
    DB_USERNAME: 'chat_app',
    DB_PASSWORD: 'from-secrets-manager',
    REDIS_AUTH_TOKEN: 'from-secrets-manager',
    LLM_API_KEY: 'from-secrets-manager',
  };

  test('the config loader touches exactly the contract names: the ones the task definition sets', () => {
    const read = new Set<string>();
    const recording = new Proxy(containerEnv as Record<string, string | undefined>, {
      get(target, key) {
        if (typeof key === 'string') read.add(key);
        return target[key as string];
      },
      ownKeys() {
        throw new Error('the loader must not enumerate the environment');
      },
    });
    const result = parseServiceConfig(recording);
    expect(sorted([...read])).toEqual(sorted(SERVICE_ENV_NAMES));
    // Local-only names (AUTH_MODE) are read, and never set by the task definition.
    const deployable = [...read].filter((n) => !(LOCAL_ONLY_ENV_NAMES as readonly string[]).includes(n));
    expect(sorted(deployable)).toEqual(sorted([...Object.keys(environment), ...Object.keys(secrets)]));
    expect(result.ok).toBe(true);
  });

  test('every synthesized value passes the service own validation', () => {
    const result = parseServiceConfig(containerEnv);
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    expect(DB_SSL_MODES).toContain(result.config.db.ssl);
    expect(result.config.appVersion).toBe(TEST_APP_VERSION);
    expect(result.config.cache.tls).toBe(true);
  });
});

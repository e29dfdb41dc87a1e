/**
 * Who may call the API, as deployed: every stage trusts its own Cognito user pool by default (or the
 * external issuer its config names), the task definition always requires tokens (AUTH_MODE is never
 * set), the gate's machine client reaches the k6 runner only through ECS secrets, and the production
 * listener forwards only the contract's routes, with forward-only rules (no ALB authenticate action).
 */
import { Match } from 'aws-cdk-lib/assertions';
import { STAGE_NAMES, STAGES, validateStageConfig } from '../../lib/config';
import { API_CONTAINER_NAME } from '../../lib/constructs/chat-api-task-definition';
import { K6_CONTAINER_NAME } from '../../lib/constructs/k6-runner';
import { albPathPattern, PRODUCTION_PATHS } from '../../lib/constructs/service-load-balancer';
import {
  API_OAUTH_SCOPE,
  GATE_CLIENT_SECRET_JSON_KEYS,
  GATE_ENV,
  LOCAL_ONLY_ENV_NAMES,
  ROUTES,
  sessionMessagesPath,
  sessionPath,
} from '../../lib/contract';
import { synthConfig, synthStage, withOverrides } from '../support/cdk';

/** An ALB path pattern against a path: `*` any characters (`/` included), `?` exactly one, case-sensitive. */
const albMatches = (pattern: string, path: string) =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  ).test(path);

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation is untyped JSON.
type Json = any;

function container(platform: ReturnType<typeof synthStage>, name: string): Json {
  const template = platform.template(platform.stacks.service);
  const defs = Object.values(template.findResources('AWS::ECS::TaskDefinition'))
    .flatMap((r: Json) => r.Properties.ContainerDefinitions)
    .filter((c: Json) => c.Name === name);
  expect(defs).toHaveLength(1);
  return defs[0];
}

const envOf = (c: Json): Record<string, Json> =>
  Object.fromEntries((c.Environment ?? []).map((e: Json) => [e.Name, e.Value]));

describe.each(STAGE_NAMES)('stage %s', (stage) => {
  test('the API container requires bearer tokens: AUTH_ISSUER and AUTH_AUDIENCE set, AUTH_MODE never', () => {
    const env = envOf(container(synthStage(stage), API_CONTAINER_NAME));
    for (const name of LOCAL_ONLY_ENV_NAMES) expect(env).not.toHaveProperty(name);
    expect(env).not.toHaveProperty('AUTH_MODE');
    expect(env.AUTH_ISSUER).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^IdentityUserPool/), 'ProviderURL'] });
    expect(JSON.stringify(env.AUTH_AUDIENCE)).toMatch(/IdentityUserPoolUserClient.*IdentityUserPoolGateClient/);
    expect(JSON.stringify(env.AUTH_JWKS_URL)).toContain('/.well-known/jwks.json');
  });

  test("the stage's conversation retention and storage cap reach the API container", () => {
    const env = envOf(container(synthStage(stage), API_CONTAINER_NAME));
    const { service } = STAGES[stage];
    expect(env.MESSAGE_RETENTION_DAYS).toBe(String(service.messageRetentionDays));
    expect(env.QUOTA_STORED_BYTES_PER_DAY).toBe(String(service.quotas.storedBytesPerPrincipalPerDay));
  });

  test("GATE_PRINCIPAL is the Cognito machine client's id (a reference, not a literal), with the gate's allowances", () => {
    const platform = synthStage(stage);
    const env = envOf(container(platform, API_CONTAINER_NAME));
    // Client-credentials tokens carry the app client's id as their `sub`.
    expect(env.GATE_PRINCIPAL).toEqual({ Ref: expect.stringMatching(/^IdentityUserPoolGateClient/) });
    const [logicalId] = Object.keys(
      platform.template(platform.stacks.service).findResources('AWS::Cognito::UserPoolClient', {
        Properties: { ClientName: `chat-${stage}-gate-client` },
      }),
    );
    expect(env.GATE_PRINCIPAL).toEqual({ Ref: logicalId });
    // The same client the gate's secret holds the id of, and one of the accepted audiences.
    expect(JSON.stringify(env.AUTH_AUDIENCE)).toContain(`"Ref":"${logicalId}"`);
    const { quotas } = STAGES[stage].service;
    expect(env.QUOTA_GATE_REQUESTS_PER_MINUTE).toBe(String(quotas.gateRequestsPerMinute));
    expect(env.QUOTA_GATE_STORED_BYTES_PER_DAY).toBe(String(quotas.gateStoredBytesPerDay));
  });
});

describe('the Cognito user pool (prod)', () => {
  const platform = synthStage('prod');
  const template = platform.template(platform.stacks.service);

  test('closed sign-up, MFA required, long passwords, kept and protected in prod', () => {
    template.hasResource('AWS::Cognito::UserPool', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
        MfaConfiguration: 'ON',
        DeletionProtection: 'ACTIVE',
        Policies: { PasswordPolicy: Match.objectLike({ MinimumLength: 14, RequireSymbols: true }) },
      }),
    });
    template.hasResourceProperties('AWS::Cognito::UserPoolResourceServer', {
      Identifier: API_OAUTH_SCOPE.resourceServer,
      Scopes: [Match.objectLike({ ScopeName: API_OAUTH_SCOPE.scope })],
    });
  });

  test('a user client without a secret, and a machine client with client credentials and the API scope', () => {
    template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      ClientName: 'chat-prod-user-client',
      GenerateSecret: false,
      ExplicitAuthFlows: ['ALLOW_USER_SRP_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
      AllowedOAuthFlowsUserPoolClient: false,
    });
    const gate = Object.values(template.findResources('AWS::Cognito::UserPoolClient')).find(
      (r: Json) => r.Properties.ClientName === 'chat-prod-gate-client',
    ) as Json;
    expect(gate.Properties).toMatchObject({ GenerateSecret: true, AllowedOAuthFlows: ['client_credentials'] });
    expect(gate.Properties.AllowedOAuthScopes).toHaveLength(1);
    expect(JSON.stringify(gate.Properties.AllowedOAuthScopes)).toContain(`/${API_OAUTH_SCOPE.scope}`);
  });

  test("the k6 runner gets the machine client's id and secret through ECS secrets, and the token URL in plain", () => {
    const runner = container(platform, K6_CONTAINER_NAME);
    const secrets = Object.fromEntries(runner.Secrets.map((s: Json) => [s.Name, s.ValueFrom]));
    expect(Object.keys(secrets).sort()).toEqual([GATE_ENV.clientId, GATE_ENV.clientSecret].sort());
    expect(secrets[GATE_ENV.clientSecret]).toEqual({
      'Fn::Join': [
        '',
        [
          { Ref: expect.stringMatching(/^IdentityGateClientSecret/) },
          `:${GATE_CLIENT_SECRET_JSON_KEYS.clientSecret}::`,
        ],
      ],
    });
    const env = envOf(runner);
    expect(Object.keys(env).sort()).toEqual([GATE_ENV.tokenScope, GATE_ENV.tokenUrl].sort());
    expect(env[GATE_ENV.tokenScope]).toBe(API_OAUTH_SCOPE.full);
    expect(JSON.stringify(env[GATE_ENV.tokenUrl])).toContain('/oauth2/token');
    // The secret's value is a deploy-time reference to DescribeUserPoolClient, never a literal.
    const gateSecret = Object.values(template.findResources('AWS::SecretsManager::Secret')).find((r: Json) =>
      JSON.stringify(r.Properties.SecretString ?? '').includes('UserPoolClient.ClientSecret'),
    ) as Json;
    expect(gateSecret).toBeDefined();
    expect(JSON.stringify(gateSecret.Properties.SecretString)).toContain('Fn::GetAtt');
  });

  test('the production rule forwards the contract routes but the cache metrics; the listeners answer 404 otherwise', () => {
    expect([...PRODUCTION_PATHS].sort()).toEqual(
      [
        ...new Set(
          Object.values(ROUTES)
            .filter((r) => r !== ROUTES.cacheMetrics)
            .map(albPathPattern),
        ),
      ].sort(),
    );
    // The session routes: one pattern, for both the read and the delete.
    expect(PRODUCTION_PATHS).toContain('/api/v1/sessions/*');
    for (const path of [sessionMessagesPath('3f1c0f9e-0000-4000-8000-000000000000'), sessionPath('abc_DEF-1')]) {
      expect(PRODUCTION_PATHS.some((p) => albMatches(p, path))).toBe(true);
    }
    expect(PRODUCTION_PATHS.some((p) => albMatches(p, ROUTES.cacheMetrics))).toBe(false);
    // ALB: at most 5 condition values per rule (not adjustable).
    expect(PRODUCTION_PATHS.length).toBeLessThanOrEqual(5);
    const rules = Object.values(template.findResources('AWS::ElasticLoadBalancingV2::ListenerRule')) as Json[];
    const paths = rules.map(
      (r) => r.Properties.Conditions[0].PathPatternConfig?.Values ?? r.Properties.Conditions[0].Values,
    );
    expect(paths).toContainEqual([...PRODUCTION_PATHS]);
    for (const rule of rules) {
      // Forward only: a rule that mixes in authenticate-* (or any other) action fails ECS blue/green.
      expect(rule.Properties.Actions.map((a: Json) => a.Type)).toEqual(['forward']);
    }
    // Everything else: the listeners' default forwards to the Lambda that answers the contract's 404.
    const [notFoundId] = Object.entries(template.findResources('AWS::ElasticLoadBalancingV2::TargetGroup')).find(
      ([, t]) => (t as Json).Properties.TargetType === 'lambda',
    ) as [string, Json];
    for (const listener of Object.values(template.findResources('AWS::ElasticLoadBalancingV2::Listener')) as Json[]) {
      expect(listener.Properties.DefaultActions).toEqual([{ Type: 'forward', TargetGroupArn: { Ref: notFoundId } }]);
    }
  });
});

describe('an external OIDC issuer instead of Cognito', () => {
  const external = withOverrides('dev', (c) => {
    c.auth = {
      issuer: 'https://login.example.com/realms/chat',
      audiences: ['chat-api', 'chat-gate'],
      gateClient: {
        tokenUrl: 'https://login.example.com/realms/chat/token',
        secretName: 'chat/gate-client',
        // Keycloak: the client's service-account user id.
        principal: 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6',
      },
      accessTokenValidityMinutes: 60,
    };
  });

  test('is trusted exactly as configured, with no user pool, and the gate secret looked up by name', () => {
    const platform = synthConfig(external);
    const template = platform.template(platform.stacks.service);
    template.resourceCountIs('AWS::Cognito::UserPool', 0);
    const env = envOf(container(platform, API_CONTAINER_NAME));
    expect(env).toMatchObject({
      AUTH_ISSUER: 'https://login.example.com/realms/chat',
      AUTH_AUDIENCE: 'chat-api,chat-gate',
      AUTH_JWKS_URL: 'https://login.example.com/realms/chat/.well-known/jwks.json',
    });
    expect(env).not.toHaveProperty('AUTH_MODE');
    template.hasResourceProperties('Custom::ExistingSecretArn', {
      Create: Match.serializedJson(Match.objectLike({ parameters: { SecretId: 'chat/gate-client' } })),
    });
  });

  test('GATE_PRINCIPAL is auth.gateClient.principal as configured; without it there is none', () => {
    const env = envOf(container(synthConfig(external), API_CONTAINER_NAME));
    expect(env.GATE_PRINCIPAL).toBe('f81d4fae-7dec-11d0-a765-00a0c91e6bf6');
    // Without it the gate would have the ordinary quota, which its runs do not fit
    // (gate-within-request-quota): here the gate is off.
    const unnamed = withOverrides('dev', (c) => {
      const { principal: _principal, ...gateClient } = external.auth.gateClient as NonNullable<
        typeof external.auth.gateClient
      >;
      c.auth = { ...external.auth, gateClient };
      c.deployment.gate.enabled = false;
    });
    expect(envOf(container(synthConfig(unnamed), API_CONTAINER_NAME))).not.toHaveProperty('GATE_PRINCIPAL');
  });

  test('an incomplete external issuer is refused at synth, naming what to set', () => {
    const noAudience = withOverrides('dev', (c) => {
      c.auth = { issuer: 'https://login.example.com', accessTokenValidityMinutes: 60 };
    });
    expect(() => validateStageConfig(noAudience)).toThrow(/auth\.audiences must list at least one/);
    expect(() => validateStageConfig(noAudience)).toThrow(/auth\.gateClient is required/);
    const plainHttp = withOverrides('dev', (c) => {
      c.auth = { issuer: 'http://login.example.com', audiences: ['a'], accessTokenValidityMinutes: 60 };
      c.deployment.gate.enabled = false;
    });
    expect(() => validateStageConfig(plainHttp)).toThrow(
      /auth\.issuer 'http:\/\/login\.example\.com' must be an https URL/,
    );
    const stray = withOverrides('dev', (c) => {
      c.auth = { audiences: ['a'], accessTokenValidityMinutes: 60 };
    });
    expect(() => validateStageConfig(stray)).toThrow(/set auth\.issuer too/);
  });
});

import { Aws, Duration, Fn, RemovalPolicy, SecretValue } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { type AuthConfig, physicalName, type StageNaming } from '../config';
import { API_OAUTH_SCOPE, GATE_CLIENT_SECRET_JSON_KEYS } from '../contract';
import { ExistingSecret } from './existing-secret';

export interface IdentityProviderProps {
  /** Names the user pool and clients `<app>-<stage>-…`, and the gate client's secret. */
  readonly naming: StageNaming;
  /** The stage's `auth` section: Cognito (the default) or an external issuer. */
  readonly auth: AuthConfig;
  /** Keep the user pool on stack deletion, with deletion protection (prod). */
  readonly retainUsers: boolean;
  /** Of the lookup's log group, with an external issuer's gate secret. */
  readonly logRetentionDays: logs.RetentionDays;
}

/** How the k6 gate gets its token: the machine client's credentials, for OAuth2 client credentials. */
export interface GateClientSource {
  readonly tokenUrl: string;
  readonly scope?: string;
  /** `{clientId, clientSecret}` ({@link GATE_CLIENT_SECRET_JSON_KEYS}); the runner gets it through ECS `secrets`. */
  readonly secret: secretsmanager.ISecret;
}

/**
 * The name of the Secrets Manager secret that holds the gate's machine client for a stage: the
 * stage's own (Cognito), or the existing one an external issuer's config names. Fixed, so the
 * pipeline's post-deploy gate can read it by name. Undefined when the stage has no gate client.
 */
export function gateClientSecretName(naming: StageNaming, auth: AuthConfig): string | undefined {
  if (auth.issuer === undefined) return physicalName(naming, 'gate-client');
  return auth.gateClient?.secretName;
}

/**
 * Who may call the chat API, for one stage: what the service trusts (issuer, audiences, JWKS) and
 * how the gate authenticates.
 *
 * By default a Cognito user pool: no self sign-up, TOTP MFA required, a resource server with the
 * API's scope, one app client for users (SRP sign-in, no secret) and one machine client with the
 * client-credentials grant for the gate, whose secret is copied into Secrets Manager for the k6
 * runner. With `auth.issuer` in the stage config the stage trusts that external OIDC issuer instead,
 * and the gate's client secret is an existing Secrets Manager secret.
 *
 * The tokens are verified by the service itself, not by an ALB `authenticate-*` action (see
 * `ServiceLoadBalancer`).
 */
export class IdentityProvider extends Construct {
  /** AUTH_ISSUER: exactly the tokens' `iss`. */
  readonly issuer: string;
  /** AUTH_AUDIENCE: accepted `aud` or Cognito `client_id` values. */
  readonly audiences: readonly string[];
  /** AUTH_JWKS_URL. */
  readonly jwksUrl: string;
  /** Undefined only with an external issuer and the gate disabled. */
  readonly gateClient?: GateClientSource;
  /**
   * GATE_PRINCIPAL: the `sub` of the gate's access tokens, the principal the service gives the
   * gate's quotas. Undefined with an external issuer whose `auth.gateClient.principal` is unset.
   */
  readonly gatePrincipal?: string;
  readonly userPool?: cognito.UserPool;
  readonly userClient?: cognito.UserPoolClient;
  readonly machineClient?: cognito.UserPoolClient;

  constructor(scope: Construct, id: string, props: IdentityProviderProps) {
    super(scope, id);
    const { auth, naming } = props;

    if (auth.issuer !== undefined) {
      this.issuer = auth.issuer;
      this.audiences = auth.audiences ?? [];
      this.jwksUrl = auth.jwksUrl ?? `${auth.issuer.replace(/\/+$/, '')}/.well-known/jwks.json`;
      if (auth.gateClient) {
        const existing = new ExistingSecret(this, 'GateClientSecret', {
          secretName: auth.gateClient.secretName,
          logRetentionDays: props.logRetentionDays,
        });
        // Issuer specific (Keycloak: the service-account user's id; Auth0: `<client_id>@clients`): named in the config.
        if (auth.gateClient.principal !== undefined) this.gatePrincipal = auth.gateClient.principal;
        this.gateClient = {
          tokenUrl: auth.gateClient.tokenUrl,
          ...(auth.gateClient.scope === undefined ? {} : { scope: auth.gateClient.scope }),
          secret: existing.secret,
        };
      }
      return;
    }

    const retain = props.retainUsers;
    const userPool = new cognito.UserPool(this, 'UserPool', {
      userPoolName: physicalName(naming, 'users'),
      // Accounts are created by an administrator: an open API with open sign-up would let anyone spend the LLM key.
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      signInCaseSensitive: false,
      mfa: cognito.Mfa.REQUIRED,
      mfaSecondFactor: { otp: true, sms: false },
      passwordPolicy: {
        minLength: 14,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      deletionProtection: retain,
      // The users are state: kept (in prod), like the database.
      removalPolicy: retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    const apiScope = new cognito.ResourceServerScope({
      scopeName: API_OAUTH_SCOPE.scope,
      scopeDescription: 'Call the chat API',
    });
    const resourceServer = userPool.addResourceServer('ResourceServer', {
      identifier: API_OAUTH_SCOPE.resourceServer,
      userPoolResourceServerName: physicalName(naming, 'api'),
      scopes: [apiScope],
    });
    // The token endpoint for client credentials. The prefix must be unique in the region; the stack's
    // own id makes it so, and stays the same for the stack's lifetime.
    const domain = userPool.addDomain('Domain', {
      cognitoDomain: {
        domainPrefix: Fn.join('-', [naming.appName, naming.stage, Fn.select(2, Fn.split('/', Aws.STACK_ID))]),
      },
    });
    const accessTokenValidity = Duration.minutes(auth.accessTokenValidityMinutes);

    this.userClient = userPool.addClient('UserClient', {
      userPoolClientName: physicalName(naming, 'user-client'),
      generateSecret: false,
      authFlows: { userSrp: true },
      // Hosted-UI (OAuth) flows need the front end's callback URLs; add them when there is one.
      disableOAuth: true,
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
      accessTokenValidity,
      idTokenValidity: accessTokenValidity,
    });
    this.machineClient = userPool.addClient('GateClient', {
      userPoolClientName: physicalName(naming, 'gate-client'),
      generateSecret: true,
      oAuth: {
        flows: { clientCredentials: true },
        scopes: [cognito.OAuthScope.resourceServer(resourceServer, apiScope)],
      },
      accessTokenValidity,
      enableTokenRevocation: true,
    });

    // The runner reads this through ECS `secrets`. The value comes from DescribeUserPoolClient at
    // deploy time (aws-cdk-lib hides the call's data from its logs): the template holds a reference only.
    const gateSecret = new secretsmanager.Secret(this, 'GateClientSecret', {
      secretName: gateClientSecretName(naming, auth),
      description: `${physicalName(naming, 'gate-client')}: the k6 gate's Cognito client credentials`,
      secretObjectValue: {
        [GATE_CLIENT_SECRET_JSON_KEYS.clientId]: SecretValue.unsafePlainText(this.machineClient.userPoolClientId),
        [GATE_CLIENT_SECRET_JSON_KEYS.clientSecret]: this.machineClient.userPoolClientSecret,
      },
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.userPool = userPool;
    this.issuer = userPool.userPoolProviderUrl;
    this.audiences = [this.userClient.userPoolClientId, this.machineClient.userPoolClientId];
    this.jwksUrl = `${userPool.userPoolProviderUrl}/.well-known/jwks.json`;
    this.gateClient = { tokenUrl: `${domain.baseUrl()}/oauth2/token`, scope: API_OAUTH_SCOPE.full, secret: gateSecret };
    // GATE_PRINCIPAL: a client-credentials access token authorizes an app client, not a user, and
    // Cognito writes the client's id into its `sub` as into its `client_id` (the access token's claims:
    // https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html;
    // the M2M flow: https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-define-resource-servers.html).
    // The pages list the claims without saying `sub` = client id in one sentence; issued tokens show
    // it, and a mismatch shows as the gate answered 429 at the ordinary quota, never as more access.
    // A deploy-time reference, like the audiences: the id is not known at synth.
    this.gatePrincipal = this.machineClient.userPoolClientId;

    NagSuppressions.addResourceSuppressions(userPool, [
      {
        id: 'AwsSolutions-COG8',
        reason:
          'The Plus feature plan (threat protection) is billed per monthly active user; here sign-up is closed, MFA is required, passwords are long, WAF rate-limits every address in front of the ALB, and the service verifies every token itself.',
      },
    ]);
    NagSuppressions.addResourceSuppressions(gateSecret, [
      {
        id: 'AwsSolutions-SMG4',
        reason:
          'The value mirrors the Cognito machine client secret, which Secrets Manager cannot rotate; rotate it by replacing the app client (docs/security.md), which rewrites this secret on deploy.',
      },
    ]);
  }
}

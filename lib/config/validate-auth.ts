/**
 * The `auth` section of a stage config: either the stage's own Cognito user pool (nothing to set
 * but the token lifetime) or a complete external OIDC issuer. Each problem says what to change.
 */
import { GATE_PRINCIPAL_PATTERN, GATE_PRINCIPAL_RULE } from '../contract';
import type { Problems } from './problems';
import type { AuthConfig } from './stage-config';

const HTTPS = /^https:\/\/[^\s/?#]+(\/[^\s?#]*)?$/;
const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;

/** `gateEnabled`: the stage runs the k6 gate, which must then be able to get a token. */
export function checkAuth(problems: Problems, auth: AuthConfig, gateEnabled: boolean): void {
  const p = problems.check;
  p(
    Number.isInteger(auth.accessTokenValidityMinutes) &&
      auth.accessTokenValidityMinutes >= 5 &&
      auth.accessTokenValidityMinutes <= 1440,
    `auth.accessTokenValidityMinutes ${auth.accessTokenValidityMinutes} must be a whole number of minutes, 5–1440 (Cognito's limits).`,
  );
  if (auth.issuer === undefined) {
    p(
      auth.audiences === undefined && auth.jwksUrl === undefined && auth.gateClient === undefined,
      'auth.audiences, auth.jwksUrl and auth.gateClient belong to an external issuer: set auth.issuer too, or remove them to use the stage’s Cognito user pool.',
    );
    return;
  }
  p(HTTPS.test(auth.issuer), `auth.issuer '${auth.issuer}' must be an https URL (exactly the tokens' iss).`);
  p(
    auth.audiences !== undefined &&
      auth.audiences.length > 0 &&
      auth.audiences.every((a) => /^[\x21-\x2b\x2d-\x7e]{1,256}$/.test(a)),
    'auth.audiences must list at least one accepted audience or client id (visible ASCII, no commas or spaces) when auth.issuer is set.',
  );
  p(auth.jwksUrl === undefined || HTTPS.test(auth.jwksUrl), `auth.jwksUrl '${auth.jwksUrl}' must be an https URL.`);
  if (gateEnabled) {
    p(
      auth.gateClient !== undefined,
      'auth.gateClient is required with auth.issuer while the gate is enabled: the gate must authenticate (tokenUrl and the name of a secret {clientId, clientSecret}).',
    );
  }
  if (auth.gateClient) {
    p(
      HTTPS.test(auth.gateClient.tokenUrl),
      `auth.gateClient.tokenUrl '${auth.gateClient.tokenUrl}' must be an https URL.`,
    );
    p(
      SECRET_NAME.test(auth.gateClient.secretName),
      `auth.gateClient.secretName '${auth.gateClient.secretName}' is not a Secrets Manager secret name.`,
    );
    const { principal } = auth.gateClient;
    p(
      principal === undefined || GATE_PRINCIPAL_PATTERN.test(principal),
      `auth.gateClient.principal ${JSON.stringify(principal)} must be the \`sub\` of the gate client's tokens, ${GATE_PRINCIPAL_RULE} (GATE_PRINCIPAL).`,
    );
  }
}

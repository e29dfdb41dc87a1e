/**
 * Looks through a synthesized CloudFormation template for anything that could be a plaintext
 * secret. Used on every template of every stage; the scanner itself is tested with planted secrets.
 */
import { GATE_ENV, SECRET_ENV_NAMES, type ServiceEnvName } from '../../lib/contract';

export interface Finding {
  readonly path: string;
  readonly problem: string;
}

/** Keys whose value is a credential when it is a literal. */
const CREDENTIAL_KEY = /(pass(word)?|auth_?token|api_?key|secret_?(string|value)|private_?key|credential)$/i;
/** Keys that name or describe a credential without holding one. */
const SAFE_KEYS = new Set([
  'GenerateSecretString',
  'GenerateStringKey',
  'SecretStringTemplate',
  'ExcludeCharacters',
  'PasswordLength',
]);
/** Environment variable names that would carry a secret (ARNs of secrets are fine). */
const SECRET_ENV_NAME = /(PASSWORD|TOKEN|SECRET|API_?KEY|CREDENTIAL|PRIVATE_KEY)/;
/**
 * Names that match SECRET_ENV_NAME but hold no secret: where the gate asks for a token and for what,
 * and the service's LLM budgets and quotas, which count tokens.
 */
const TOKEN_COUNTS: readonly ServiceEnvName[] = [
  'LLM_MAX_OUTPUT_TOKENS',
  'LLM_CONTEXT_BUDGET_TOKENS',
  'QUOTA_LLM_TOKENS_PER_MINUTE',
];
const NOT_SECRETS: readonly string[] = [GATE_ENV.tokenUrl, GATE_ENV.tokenScope, ...TOKEN_COUNTS];
const LITERAL_SECRET_PATTERNS: Array<[RegExp, string]> = [
  [/AKIA[0-9A-Z]{16}/, 'an AWS access key id'],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'a PEM private key'],
  [/\bsk-[A-Za-z0-9_-]{20,}/, 'an OpenAI-style API key'],
];

const isIntrinsic = (v: unknown): boolean =>
  typeof v === 'object' && v !== null && Object.keys(v).length === 1 && /^(Ref|Fn::)/.test(Object.keys(v)[0]);

/** True when a value is a reference to a secret, not the secret: a dynamic reference or an intrinsic. */
function isSecretReference(value: unknown): boolean {
  const text = JSON.stringify(value);
  return text.includes('{{resolve:secretsmanager:') || text.includes('{{resolve:ssm-secure:') || isIntrinsic(value);
}

export function scanTemplate(template: unknown): Finding[] {
  const findings: Finding[] = [];
  const walk = (node: unknown, path: string): void => {
    if (typeof node === 'string') {
      for (const [pattern, what] of LITERAL_SECRET_PATTERNS) {
        if (pattern.test(node)) findings.push({ path, problem: `looks like ${what}` });
      }
      return;
    }
    if (Array.isArray(node)) {
      for (const [i, child] of node.entries()) walk(child, `${path}[${i}]`);
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    for (const [key, value] of Object.entries(node)) {
      const here = `${path}.${key}`;
      if (CREDENTIAL_KEY.test(key) && !SAFE_KEYS.has(key) && value !== undefined && !isSecretReference(value)) {
        findings.push({ path: here, problem: `'${key}' holds a literal value, not a Secrets Manager reference` });
      }
      if (key === 'Environment' && Array.isArray(value)) checkEcsEnvironment(value, here, findings);
      if (key === 'Environment' && isRecord(value) && isRecord(value.Variables)) {
        checkNames(Object.keys(value.Variables), `${here}.Variables`, findings);
      }
      walk(value, here);
    }
  };
  walk(template, '$');
  // One finding per path (a Lambda variable named LLM_API_KEY matches both checks).
  return findings.filter((f, i) => findings.findIndex((g) => g.path === f.path) === i);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** ECS `ContainerDefinitions[].Environment`: `[{Name, Value}]`. Secrets belong in `Secrets`. */
function checkEcsEnvironment(entries: unknown[], path: string, findings: Finding[]): void {
  const names = entries.filter(isRecord).map((e) => String(e.Name));
  checkNames(names, path, findings);
}

function checkNames(names: string[], path: string, findings: Finding[]): void {
  for (const name of names) {
    const contractSecret = (SECRET_ENV_NAMES as readonly string[]).includes(name);
    if (
      contractSecret ||
      (SECRET_ENV_NAME.test(name) &&
        !name.endsWith('_SECRET_ARN') &&
        name !== 'NODE_EXTRA_CA_CERTS' &&
        !NOT_SECRETS.includes(name))
    ) {
      findings.push({
        path: `${path}.${name}`,
        problem: `secret-looking variable '${name}' is a plain environment value`,
      });
    }
  }
}

/**
 * Re-reads credentials from Secrets Manager (on the rotation poll and after a rejected login), so a
 * rotation (or a fixed secret) is picked up without a restart. ECS injects the same secrets as env vars at task
 * start; this is only the "they changed since" path.
 *
 * The client's region comes from the ARN, so nothing but the contract's variables is needed. The SDK
 * resolves credentials (the task role) and honours the standard `AWS_ENDPOINT_URL_SECRETS_MANAGER`,
 * which is how the tests point it at a local fake.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SECRET_JSON_KEYS } from '../../../lib/contract';

// Loaded on first use: a service without secret ARNs never pays the SDK's memory and start-up cost.
type SecretsManagerSdk = typeof import('@aws-sdk/client-secrets-manager');
let sdk: Promise<SecretsManagerSdk> | undefined;
const loadSdk = (): Promise<SecretsManagerSdk> => {
  sdk ??= import('@aws-sdk/client-secrets-manager');
  return sdk;
};

const READ_TIMEOUT_MS = 5_000;

export interface DbCredentials {
  readonly username: string;
  readonly password: string;
}

/** The region of a Secrets Manager ARN (`arn:aws:secretsmanager:<region>:<account>:secret:<name>`). */
export function regionOfArn(arn: string): string {
  const region = arn.split(':')[3];
  if (!region) throw new Error('not a Secrets Manager ARN');
  return region;
}

export class SecretReader {
  private readonly clients = new Map<string, SecretsManagerClient>();

  constructor(private readonly makeClient?: (region: string) => SecretsManagerClient) {
    // Loaded now, in the background: the first re-read comes after a rotation, while requests wait
    // for it, and loading the SDK then would add its start-up time to their wait.
    loadSdk().catch(() => undefined);
  }

  /** The secret's current (`AWSCURRENT`) JSON value. Errors never include the secret string. */
  async readJson(arn: string): Promise<Record<string, unknown>> {
    const region = regionOfArn(arn);
    const { GetSecretValueCommand, SecretsManagerClient } = await loadSdk();
    let client = this.clients.get(region);
    if (!client) {
      // Two quick attempts: the caller has its own backoff between refreshes.
      client = this.makeClient ? this.makeClient(region) : new SecretsManagerClient({ region, maxAttempts: 2 });
      this.clients.set(region, client);
    }
    // Bounded: a hanging endpoint must not stall the dependency monitor that is waiting for us.
    const out = await client.send(new GetSecretValueCommand({ SecretId: arn }), {
      abortSignal: AbortSignal.timeout(READ_TIMEOUT_MS),
    });
    if (typeof out.SecretString !== 'string') throw new Error('the secret has no SecretString');
    let parsed: unknown;
    try {
      parsed = JSON.parse(out.SecretString);
    } catch {
      throw new Error('the secret is not a JSON object');
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new Error('the secret is not a JSON object');
    }
    return parsed as Record<string, unknown>;
  }

  async readDbCredentials(arn: string): Promise<DbCredentials> {
    const json = await this.readJson(arn);
    const username = json[SECRET_JSON_KEYS.DB_USERNAME];
    const password = json[SECRET_JSON_KEYS.DB_PASSWORD];
    if (typeof username !== 'string' || username === '' || typeof password !== 'string' || password === '') {
      throw new Error(
        `the database secret lacks "${SECRET_JSON_KEYS.DB_USERNAME}" or "${SECRET_JSON_KEYS.DB_PASSWORD}"`,
      );
    }
    return { username, password };
  }

  async readCacheToken(arn: string): Promise<string> {
    const json = await this.readJson(arn);
    const token = json[SECRET_JSON_KEYS.REDIS_AUTH_TOKEN];
    if (typeof token !== 'string' || token === '') {
      throw new Error(`the cache secret lacks "${SECRET_JSON_KEYS.REDIS_AUTH_TOKEN}"`);
    }
    return token;
  }

  close(): void {
    for (const c of this.clients.values()) c.destroy();
    this.clients.clear();
  }
}

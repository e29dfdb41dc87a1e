import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/** A login read from an RDS-style secret: the master user's or the app user's. */
export interface DbLogin {
  readonly username: string;
  readonly password: string;
}

/** Reads an RDS-style JSON secret and returns its `username`/`password`, or says which key is missing. */
export async function readDbLogin(client: SecretsManagerClient, secretId: string): Promise<DbLogin> {
  const out = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
  if (!out.SecretString) throw new Error(`Secret ${secretId} has no SecretString.`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(out.SecretString);
  } catch {
    throw new Error(`Secret ${secretId} is not JSON.`);
  }
  const { username, password } = (parsed ?? {}) as Record<string, unknown>;
  if (typeof username !== 'string' || username === '') throw new Error(`Secret ${secretId} has no 'username'.`);
  if (typeof password !== 'string' || password === '') throw new Error(`Secret ${secretId} has no 'password'.`);
  return { username, password };
}

/**
 * FAKE Secrets Manager: just enough of the AWS JSON protocol (`GetSecretValue`) for the service's
 * credential refresh to be tested against a real HTTP endpoint. The AWS SDK is pointed at it with
 * the standard `AWS_ENDPOINT_URL_SECRETS_MANAGER` variable. It is not an AWS emulator and keeps
 * secrets in memory only.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export const FAKE_SM_REGION = 'us-east-1';
export const FAKE_SM_ACCOUNT = '000000000000';

export interface FakeSecretsManager {
  readonly endpoint: string;
  readonly region: string;
  /**
   * Env for a process whose SDK should talk to this fake: the endpoint, a region and dummy
   * credentials (the fake ignores signatures).
   */
  readonly sdkEnv: Readonly<Record<string, string>>;
  /** Creates or replaces a secret's current value; returns its ARN. */
  putSecret(name: string, value: Record<string, unknown> | string): string;
  /** How many GetSecretValue calls each secret got. */
  reads(name: string): number;
  stop(): Promise<void>;
}

interface StoredSecret {
  arn: string;
  value: string;
  versionId: string;
  reads: number;
}

export async function startFakeSecretsManager(): Promise<FakeSecretsManager> {
  const secrets = new Map<string, StoredSecret>();
  const sockets = new Set<Socket>();

  const find = (id: string): StoredSecret | undefined => {
    for (const [name, s] of secrets) if (id === name || id === s.arn) return s;
    return undefined;
  };

  const reply = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-fake-secrets-manager': 'true' });
    res.end(text);
  };

  const handle = (req: IncomingMessage, res: ServerResponse, raw: string) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    let body: { SecretId?: string } = {};
    try {
      body = JSON.parse(raw || '{}') as { SecretId?: string };
    } catch {
      return reply(res, 400, { __type: 'SerializationException', message: 'body is not JSON' });
    }
    if (target !== 'secretsmanager.GetSecretValue') {
      return reply(res, 400, {
        __type: 'UnknownOperationException',
        message: `fake supports GetSecretValue only, not ${target}`,
      });
    }
    const secret = find(body.SecretId ?? '');
    if (!secret) {
      return reply(res, 400, {
        __type: 'ResourceNotFoundException',
        message: "Secrets Manager can't find the specified secret.",
      });
    }
    secret.reads += 1;
    return reply(res, 200, {
      ARN: secret.arn,
      Name: secret.arn.split(':secret:')[1],
      SecretString: secret.value,
      VersionId: secret.versionId,
      VersionStages: ['AWSCURRENT'],
      CreatedDate: Math.floor(Date.now() / 1000),
    });
  };

  const server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      raw += c;
    });
    req.on('end', () => handle(req, res, raw));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    endpoint,
    region: FAKE_SM_REGION,
    sdkEnv: {
      AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint,
      AWS_REGION: FAKE_SM_REGION,
      AWS_ACCESS_KEY_ID: 'fake-access-key-id',
      AWS_SECRET_ACCESS_KEY: 'fake-secret-access-key',
    },
    putSecret: (name, value) => {
      const existing = secrets.get(name);
      const arn =
        existing?.arn ??
        `arn:aws:secretsmanager:${FAKE_SM_REGION}:${FAKE_SM_ACCOUNT}:secret:${name}-${randomBytes(3).toString('hex')}`;
      secrets.set(name, {
        arn,
        value: typeof value === 'string' ? value : JSON.stringify(value),
        versionId: randomBytes(16).toString('hex'),
        reads: existing?.reads ?? 0,
      });
      return arn;
    },
    reads: (name) => secrets.get(name)?.reads ?? 0,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

/**
 * A local token issuer for `npm run local` and the tests: an RSA key pair generated at run time, a
 * JWKS and an OpenID discovery document over HTTPS on 127.0.0.1 (the harness CA signs its
 * certificate; the service trusts it through NODE_EXTRA_CA_CERTS), and an OAuth2 client-credentials
 * token endpoint for the gate's machine client. The token endpoint is also served over plain HTTP on
 * 127.0.0.1 (`tokenUrl`), so k6 can reach it without trusting the throwaway CA; the gate accepts
 * plain HTTP for a loopback token endpoint only. Tokens look like Cognito access tokens (`client_id`,
 * `token_use`, `scope`, no `aud`), so the service is tested against the shape it meets in AWS.
 *
 * Nothing here is a secret worth keeping: every key and client secret lives as long as the process.
 */
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, randomUUID, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { API_OAUTH_SCOPE } from '../../lib/contract';
import type { TestCertificates } from './certs';
import { randomSecret } from './secrets';

/** The scope the resource server defines and the gate's machine client is granted (as in the CDK pool). */
export const LOCAL_API_SCOPE = API_OAUTH_SCOPE.full;

export interface SigningKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicJwk: Record<string, unknown>;
}

export function createSigningKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicJwk = publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
  const kid = createHash('sha256').update(JSON.stringify(publicJwk)).digest('base64url').slice(0, 16);
  return { kid, privateKey, publicJwk: { ...publicJwk, kid, alg: 'RS256', use: 'sig' } };
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A compact JWS, RS256, signed with `key` (any header fields may be overridden). */
export function signJwt(
  key: SigningKey,
  payload: Record<string, unknown>,
  header: Record<string, unknown> = {},
): string {
  const input = `${b64({ alg: 'RS256', typ: 'JWT', kid: key.kid, ...header })}.${b64(payload)}`;
  return `${input}.${sign('sha256', Buffer.from(input), key.privateKey).toString('base64url')}`;
}

export interface MintOptions {
  /** @default a fresh `user-<random>` */
  readonly sub?: string;
  /** @default the user client's id */
  readonly clientId?: string | null;
  readonly aud?: string | string[];
  /** Seconds from now; negative for an expired token. @default 3600 */
  readonly expiresInSeconds?: number;
  readonly issuer?: string;
  /** Sign with another key (one the JWKS does not publish). */
  readonly key?: SigningKey;
  readonly header?: Record<string, unknown>;
  readonly extraClaims?: Record<string, unknown>;
}

export interface LocalIssuer {
  /** `https://127.0.0.1:<port>`: the `iss` of every token, and AUTH_ISSUER. */
  readonly issuer: string;
  readonly jwksUrl: string;
  /** OAuth2 token endpoint (client credentials), plain HTTP on 127.0.0.1 (see above). */
  readonly tokenUrl: string;
  /** The same endpoint over HTTPS (the harness CA). */
  readonly httpsTokenUrl: string;
  /** The user app client's id: `client_id` of user tokens. */
  readonly userClientId: string;
  /** The gate's machine client. */
  readonly gateClient: { readonly clientId: string; readonly clientSecret: string };
  /** AUTH_AUDIENCE: the user client and the machine client. */
  readonly audiences: readonly string[];
  readonly key: SigningKey;
  /** The service env that trusts this issuer. */
  readonly serviceEnv: { readonly AUTH_ISSUER: string; readonly AUTH_AUDIENCE: string };
  /** A token; `sub` and all claims as in `options`. */
  mint(options?: MintOptions): string;
  /** Requests served (JWKS, token, discovery), by path. */
  readonly served: Readonly<Record<string, number>>;
  /** Off: every connection is reset before an answer, as if the issuer were unreachable. */
  setAvailable(available: boolean): void;
  stop(): Promise<void>;
}

export interface LocalIssuerOptions {
  readonly certs: TestCertificates;
  /** Lifetime of client-credentials tokens. @default 3600 */
  readonly tokenLifetimeSeconds?: number;
}

function readBody(req: IncomingMessage, limit = 16 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
      if (body.length > limit) req.destroy(new Error('body too large'));
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

export async function startLocalIssuer(options: LocalIssuerOptions): Promise<LocalIssuer> {
  const key = createSigningKey();
  const userClientId = `local-user-client-${randomSecret(8).toLowerCase()}`;
  const gateClient = { clientId: `local-gate-client-${randomSecret(8).toLowerCase()}`, clientSecret: randomSecret(48) };
  const lifetime = options.tokenLifetimeSeconds ?? 3600;
  const served: Record<string, number> = {};
  let available = true;
  const sockets = new Set<Socket>();
  let issuer = '';

  const mint = (o: MintOptions = {}): string => {
    const now = Math.floor(Date.now() / 1000);
    const clientId = o.clientId === undefined ? userClientId : o.clientId;
    const sub = o.sub ?? `user-${randomUUID()}`;
    return signJwt(
      o.key ?? key,
      {
        iss: o.issuer ?? issuer,
        sub,
        ...(clientId === null ? {} : { client_id: clientId }),
        ...(o.aud === undefined ? {} : { aud: o.aud }),
        token_use: 'access',
        scope: LOCAL_API_SCOPE,
        iat: now,
        exp: now + (o.expiresInSeconds ?? 3600),
        jti: randomUUID(),
        ...o.extraClaims,
      },
      o.header,
    );
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, tokenOnly: boolean) => {
    {
      if (!available) {
        req.socket.destroy();
        return;
      }
      const path = new URL(req.url ?? '/', issuer).pathname;
      served[path] = (served[path] ?? 0) + 1;
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(JSON.stringify(body));
      };
      if (tokenOnly && path !== '/oauth2/token') return json(404, { error: 'not_found' });
      if (req.method === 'GET' && path === '/.well-known/jwks.json') return json(200, { keys: [key.publicJwk] });
      if (req.method === 'GET' && path === '/.well-known/openid-configuration') {
        return json(200, {
          issuer,
          jwks_uri: `${issuer}/.well-known/jwks.json`,
          token_endpoint: `${issuer}/oauth2/token`,
          grant_types_supported: ['client_credentials'],
          id_token_signing_alg_values_supported: ['RS256'],
        });
      }
      if (req.method === 'POST' && path === '/oauth2/token') {
        const form = new URLSearchParams(await readBody(req));
        let id = form.get('client_id') ?? '';
        let secret = form.get('client_secret') ?? '';
        const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
        if (basic?.[1]) {
          const [u, p] = Buffer.from(basic[1], 'base64').toString('utf8').split(':');
          id = decodeURIComponent(u ?? '');
          secret = decodeURIComponent(p ?? '');
        }
        if (form.get('grant_type') !== 'client_credentials') return json(400, { error: 'unsupported_grant_type' });
        if (id !== gateClient.clientId || secret !== gateClient.clientSecret)
          return json(401, { error: 'invalid_client' });
        return json(200, {
          access_token: mint({ sub: id, clientId: id, expiresInSeconds: lifetime }),
          token_type: 'Bearer',
          expires_in: lifetime,
        });
      }
      return json(404, { error: 'not_found' });
    }
  };
  const server: Server = createServer(
    { key: readFileSync(options.certs.keyPath), cert: readFileSync(options.certs.certPath) },
    (req, res) => void handle(req, res, false),
  );
  const plain = createHttpServer((req, res) => void handle(req, res, true));
  const listen = async (srv: Server | ReturnType<typeof createHttpServer>) => {
    srv.on('connection', (s: Socket) => {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => resolve());
    });
    return (srv.address() as AddressInfo).port;
  };
  issuer = `https://127.0.0.1:${await listen(server)}`;
  const plainPort = await listen(plain);
  const audiences = [userClientId, gateClient.clientId];

  return {
    issuer,
    jwksUrl: `${issuer}/.well-known/jwks.json`,
    tokenUrl: `http://127.0.0.1:${plainPort}/oauth2/token`,
    httpsTokenUrl: `${issuer}/oauth2/token`,
    userClientId,
    gateClient,
    audiences,
    key,
    serviceEnv: { AUTH_ISSUER: issuer, AUTH_AUDIENCE: audiences.join(',') },
    mint,
    served,
    setAvailable: (a) => {
      available = a;
      if (!a) for (const s of sockets) s.destroy();
    },
    stop: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all([
        new Promise<void>((resolve) => server.close(() => resolve())),
        new Promise<void>((resolve) => plain.close(() => resolve())),
      ]);
    },
  };
}

/** A random value that is not a token (e.g. for a tampered signature). */
export const randomTokenPart = () => randomBytes(32).toString('base64url');

/**
 * A real redis-server on 127.0.0.1 and a random port: TLS (harness CA, `--port 0` so there is no
 * plaintext listener) and AUTH (`--requirepass`, a random token) by default, like ElastiCache with
 * transit encryption and an AUTH token.
 */
import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';
import type { TestCertificates } from './certs';
import { freePort, type ManagedChild, makeTempDir, removeTempDir, spawnManaged, waitFor } from './process';
import { randomSecret } from './secrets';

export interface RedisOptionsForHarness {
  /** TLS material; plaintext (REDIS_TLS=false) without it. */
  readonly certs?: TestCertificates;
  /** The AUTH token. Random by default; `null` for no AUTH at all. */
  readonly password?: string | null;
  readonly binary?: string;
}

export interface RedisHandle {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly tls: boolean;
  /** The current AUTH token (changes with `setPassword`). */
  readonly password: string | null;
  /** A new admin client with the current token (the caller quits it). */
  client(): Redis;
  /** Changes the token (CONFIG SET requirepass) and drops every client connection. */
  setPassword(password: string): Promise<void>;
  /**
   * ElastiCache's ROTATE strategy: `next` is accepted too and the old token keeps working; open
   * connections stay. `password` becomes `next` (what new admin clients use).
   */
  addPassword(next: string): Promise<void>;
  /** ElastiCache's SET after a ROTATE: `old` stops working for new logins; open connections stay. */
  retirePassword(old: string): Promise<void>;
  /** Drops every normal client connection (they must reconnect and AUTH again). */
  killClients(): Promise<void>;
  /** Stops the server (SIGTERM by default; SIGKILL for a crash), keeping its port for `bringUp`. */
  takeDown(signal?: NodeJS.Signals): Promise<void>;
  bringUp(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedis(options: RedisOptionsForHarness = {}): Promise<RedisHandle> {
  const binary = options.binary ?? 'redis-server';
  let password = options.password === undefined ? randomSecret(64) : options.password;
  const dir = makeTempDir('redis');
  const port = await freePort();
  const tls = options.certs !== undefined;
  const args = [
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    '--loglevel',
    'warning',
    ...(tls && options.certs
      ? [
          '--port',
          '0',
          '--tls-port',
          String(port),
          '--tls-cert-file',
          options.certs.certPath,
          '--tls-key-file',
          options.certs.keyPath,
          '--tls-ca-cert-file',
          options.certs.caCertPath,
          '--tls-auth-clients',
          'no',
        ]
      : ['--port', String(port)]),
  ];
  const ca = options.certs ? readFileSync(options.certs.caCertPath) : undefined;
  const connection = (): RedisOptions => ({
    host: '127.0.0.1',
    port,
    ...(password === null ? {} : { password }),
    // The harness' own client checks liveness only; it skips the host-name check so that tests
    // can run a server whose certificate names another host (the service still verifies it).
    ...(ca ? { tls: { ca, checkServerIdentity: () => undefined } } : {}),
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });

  let server: ManagedChild | undefined;
  const launch = async () => {
    // The token goes in through the config on stdin, not argv, so `ps` never shows it.
    const withAuth = password === null ? args : ['-', ...args];
    server = spawnManaged('redis-server', binary, withAuth, { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
    if (password !== null) server.child.stdin?.end(`requirepass "${password}"\n`);
    const proc = server;
    await waitFor(
      async () => {
        if (proc.child.exitCode !== null) throw new Error(`redis-server exited: ${proc.output()}`);
        const c = new Redis(connection());
        c.on('error', () => undefined);
        try {
          await c.connect();
          return (await c.ping()) === 'PONG';
        } finally {
          c.disconnect();
        }
      },
      { timeoutMs: 15_000, intervalMs: 100, what: 'redis-server to answer PING' },
    );
  };
  try {
    await launch();
  } catch (err) {
    await server?.stop('SIGKILL');
    removeTempDir(dir);
    throw err;
  }

  const admin = () => {
    const c = new Redis(connection());
    c.on('error', () => undefined);
    return c;
  };
  const withAdmin = async (run: (c: Redis) => Promise<unknown>): Promise<void> => {
    const c = admin();
    try {
      await c.connect();
      await run(c);
    } finally {
      c.disconnect();
    }
  };

  return {
    host: '127.0.0.1',
    port,
    tls,
    get password() {
      return password;
    },
    client: admin,
    setPassword: async (next) => {
      const c = admin();
      await c.connect();
      try {
        await c.config('SET', 'requirepass', next);
        password = next;
        await c.call('CLIENT', 'KILL', 'TYPE', 'normal');
      } catch (err) {
        // CLIENT KILL also drops this connection; that is the expected outcome.
        if (password !== next) throw err;
      } finally {
        c.disconnect();
      }
    },
    addPassword: async (next) => {
      await withAdmin((c) => c.call('ACL', 'SETUSER', 'default', `>${next}`));
      password = next;
    },
    retirePassword: async (old) => {
      await withAdmin((c) => c.call('ACL', 'SETUSER', 'default', `<${old}`));
    },
    killClients: async () => {
      const c = admin();
      await c.connect();
      try {
        await c.call('CLIENT', 'KILL', 'TYPE', 'normal');
      } catch {
        // our own connection was killed too
      } finally {
        c.disconnect();
      }
    },
    takeDown: async (signal = 'SIGTERM') => {
      await server?.stop(signal, 10_000);
    },
    bringUp: async () => {
      await launch();
    },
    stop: async () => {
      await server?.stop('SIGTERM', 10_000);
      removeTempDir(dir);
    },
  };
}

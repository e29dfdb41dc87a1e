/**
 * A real Postgres 15 on 127.0.0.1 and a random port, in a temp dir, for tests, the bench and local
 * runs. SSL with the harness CA and scram-sha-256 over TCP; with `ssl` (the default) plain-TCP
 * connections are rejected, like RDS with `rds.force_ssl=1`. The app role is created by the same
 * `bootstrapDatabase` the AWS custom resource runs, so the role layout matches AWS.
 *
 * initdb and postgres refuse to run as root: when we are root they run as the `postgres` user.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Client, type ClientConfig } from 'pg';
import { bootstrapDatabase } from '../../lambda/db-bootstrap/bootstrap';
import type { TestCertificates } from './certs';
import { freePort, type ManagedChild, makeTempDir, removeTempDir, spawnManaged, waitFor } from './process';
import { randomSecret } from './secrets';

export const PG_BIN_DIRS = ['/usr/lib/postgresql/15/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/17/bin'];

export interface PostgresOptions {
  /** TLS material; SSL is required on TCP when given. Without it, plain TCP (DB_SSL=disable). */
  readonly certs?: TestCertificates;
  /**
   * Durable commits (fsync, synchronous_commit) like a real server. Off by default: tests don't
   * need crash safety and run faster without it.
   */
  readonly durable?: boolean;
  readonly database?: string;
  readonly binDir?: string;
}

export interface AppRole {
  readonly username: string;
  readonly password: string;
}

export interface PostgresHandle {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly database: string;
  readonly ssl: boolean;
  /** Runs SQL as the superuser (over the Unix socket) in `database`. */
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  /** Creates (or updates) the app role with the bootstrap Lambda's code. Random password by default. */
  bootstrapApp(options?: { username?: string; password?: string }): Promise<AppRole>;
  setPassword(role: string, password: string): Promise<void>;
  /** Ends every session of `role` (or every non-superuser session), forcing reconnects. */
  terminateSessions(role?: string): Promise<number>;
  /** Simulated outage: fast shutdown, data kept. */
  takeDown(): Promise<void>;
  /** Starts again on the same port after `takeDown`. */
  bringUp(): Promise<void>;
  /** Stops for good and removes the data directory. */
  stop(): Promise<void>;
}

function findBinDir(explicit?: string): string {
  const dir = explicit ?? PG_BIN_DIRS.find((d) => existsSync(path.join(d, 'postgres')));
  if (!dir) throw new Error(`Postgres binaries not found in ${PG_BIN_DIRS.join(', ')}; install postgresql-15`);
  return dir;
}

/** uid/gid of the `postgres` user when we are root (initdb refuses root), else undefined. */
function dropPrivileges(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const uid = id('-u');
  const gid = id('-g');
  if (!Number.isInteger(uid) || uid <= 0) throw new Error('running as root and there is no postgres user');
  return { uid, gid };
}

export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresHandle> {
  const bin = findBinDir(options.binDir);
  const database = options.database ?? 'chat';
  const owner = dropPrivileges();
  const dir = makeTempDir('pg');
  const dataDir = path.join(dir, 'data');
  const socketDir = path.join(dir, 'sock');
  mkdirSync(socketDir);
  const own = (p: string, mode?: number) => {
    if (owner) chownSync(p, owner.uid, owner.gid);
    if (mode !== undefined) chmodSync(p, mode);
  };
  own(dir, 0o700);
  own(socketDir, 0o700);

  const initdb = spawnManaged(
    'initdb',
    path.join(bin, 'initdb'),
    [
      '-D',
      dataDir,
      '-U',
      'postgres',
      '--auth-local=trust',
      '--auth-host=scram-sha-256',
      '--encoding=UTF8',
      '--no-locale',
      '--no-sync',
      '--no-instructions',
    ],
    { ...(owner ?? {}), cwd: dir },
  );
  const init = await initdb.exited;
  if (init.code !== 0) {
    removeTempDir(dir);
    throw new Error(`initdb failed: ${initdb.output()}`);
  }

  const ssl = options.certs !== undefined;
  if (options.certs) {
    copyFileSync(options.certs.certPath, path.join(dataDir, 'server.crt'));
    copyFileSync(options.certs.keyPath, path.join(dataDir, 'server.key'));
    own(path.join(dataDir, 'server.crt'), 0o644);
    own(path.join(dataDir, 'server.key'), 0o600);
  }
  // Local socket: trust (the harness' superuser). TCP: scram-sha-256, and with certs SSL only.
  const hba = [
    'local all all trust',
    ssl ? 'hostssl all all 127.0.0.1/32 scram-sha-256' : 'host all all 127.0.0.1/32 scram-sha-256',
    ssl ? 'hostnossl all all 0.0.0.0/0 reject' : '',
  ].join('\n');
  writeFileSync(path.join(dataDir, 'pg_hba.conf'), `${hba}\n`);
  own(path.join(dataDir, 'pg_hba.conf'), 0o600);

  const port = await freePort();
  const settings = [
    'listen_addresses=127.0.0.1',
    `port=${port}`,
    `unix_socket_directories=${socketDir}`,
    'password_encryption=scram-sha-256',
    'max_connections=200',
    'log_min_messages=warning',
    ...(ssl ? ['ssl=on', 'ssl_cert_file=server.crt', 'ssl_key_file=server.key'] : []),
    ...(options.durable ? [] : ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off']),
  ];
  let server: ManagedChild | undefined;
  const admin = (db = database): ClientConfig => ({ host: socketDir, port, user: 'postgres', database: db });

  const launch = async () => {
    server = spawnManaged(
      'postgres',
      path.join(bin, 'postgres'),
      ['-D', dataDir, ...settings.flatMap((s) => ['-c', s])],
      {
        ...(owner ?? {}),
        cwd: dir,
      },
    );
    const proc = server;
    await waitFor(
      async () => {
        if (proc.child.exitCode !== null) throw new Error(`postgres exited: ${proc.output()}`);
        const c = new Client(admin('postgres'));
        await c.connect();
        await c.end();
        return true;
      },
      { timeoutMs: 20_000, intervalMs: 100, what: 'postgres to accept connections' },
    ).catch((err: unknown) => {
      throw new Error(`${err instanceof Error ? err.message : String(err)}\n${proc.output()}`);
    });
  };
  try {
    await launch();
    const c = new Client(admin('postgres'));
    await c.connect();
    await c.query(`CREATE DATABASE ${database}`);
    await c.end();
  } catch (err) {
    await server?.stop('SIGKILL');
    removeTempDir(dir);
    throw err;
  }

  const query = async <R>(sql: string, params?: unknown[]): Promise<R[]> => {
    const c = new Client(admin());
    await c.connect();
    try {
      return (await c.query(sql, params)).rows as R[];
    } finally {
      await c.end();
    }
  };

  return {
    host: '127.0.0.1',
    port,
    database,
    ssl,
    query,
    bootstrapApp: async (opts = {}) => {
      const username = opts.username ?? 'chat_app';
      const password = opts.password ?? randomSecret(32);
      const c = new Client(admin());
      await c.connect();
      try {
        await bootstrapDatabase(c, {
          databaseName: database,
          schema: 'chat',
          ownerRole: 'chat_owner',
          appUsername: username.replace(/_clone$/, ''),
          current: { username, password },
        });
      } finally {
        await c.end();
      }
      return { username, password };
    },
    setPassword: async (role, password) => {
      const c = new Client(admin());
      await c.connect();
      try {
        if (!/^[a-z_][a-z0-9_]*$/.test(role)) throw new Error('role must be a plain identifier');
        await c.query(`ALTER ROLE ${role} WITH PASSWORD ${c.escapeLiteral(password)}`);
      } finally {
        await c.end();
      }
    },
    terminateSessions: async (role) => {
      const rows = await query<{ n: string }>(
        `SELECT count(pg_terminate_backend(pid))::text AS n FROM pg_stat_activity
         WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'
           AND ($1::text IS NULL AND usename <> 'postgres' OR usename = $1)`,
        [role ?? null],
      );
      return Number(rows[0]?.n ?? 0);
    },
    takeDown: async () => {
      // SIGINT: fast shutdown, sessions are disconnected like a real outage.
      await server?.stop('SIGINT', 15_000);
    },
    bringUp: async () => {
      await launch();
    },
    stop: async () => {
      await server?.stop('SIGINT', 15_000);
      removeTempDir(dir);
    },
  };
}

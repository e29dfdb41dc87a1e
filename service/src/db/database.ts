/**
 * The Postgres pool, with credentials that can be replaced at run time.
 *
 * Secrets Manager rotates the app user with the alternating-users strategy, so after a rotation
 * both the user name and the password may differ. A refresh therefore builds a new pool with the
 * new credentials and retires the old one once its borrowed clients are back (`pool.end()`).
 */
import { Pool, type PoolClient, type QueryConfig, type QueryResult, type QueryResultRow } from 'pg';
import { DB_POOL, type DbSslMode } from '../../../lib/contract';
import type { DatabaseSettings } from '../config';
import type { DbCredentials } from '../secrets/secret-source';
import { isTlsConfigErrorCode } from '../tls-errors';

export interface DatabasePoolOptions {
  /** @default 10 — per task; with `maxTaskCount` tasks this bounds the app's connections. */
  readonly maxConnections?: number;
  /** Called for errors on idle pooled clients (server restart, terminated backend). */
  readonly onIdleError?: (err: Error) => void;
}

/**
 * `verify-full`: TLS, the server certificate must chain to a trusted CA (Node's store plus
 * `NODE_EXTRA_CA_CERTS`, which holds the RDS bundle in the image) and match the host name.
 * `require`: TLS without certificate verification (libpq's meaning). `disable`: plain TCP (local only).
 */
export function sslOptions(mode: DbSslMode): false | { rejectUnauthorized: boolean } {
  if (mode === 'disable') return false;
  return { rejectUnauthorized: mode === 'verify-full' };
}

/** Per task; the synth-time relations check it against the database's connection limit. */
const DEFAULT_MAX_CONNECTIONS = DB_POOL.maxConnectionsPerTask;

export class Database {
  private pool: Pool;
  private creds: DbCredentials;
  private readonly retired = new Set<Promise<void>>();

  constructor(
    private readonly settings: DatabaseSettings,
    private readonly options: DatabasePoolOptions = {},
  ) {
    this.creds = { username: settings.username, password: settings.password };
    this.pool = this.makePool(this.creds);
  }

  get credentials(): DbCredentials {
    return this.creds;
  }

  /**
   * Runs one statement. When the server ended its session before the statement finished (see
   * `endedBeforeCommit`), it runs again on another connection: that run did not take effect, and
   * the pool drops the ended connection. A rotation that kills every session of the old user ends
   * all pooled connections at once, and each answers its next statement that way once; so it tries
   * at most once per pooled connection, plus once on a fresh connection.
   */
  async query<R extends QueryResultRow = QueryResultRow>(query: QueryConfig): Promise<QueryResult<R>> {
    const attempts = (this.options.maxConnections ?? DEFAULT_MAX_CONNECTIONS) + 1;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.pool.query<R>(query);
      } catch (err) {
        if (!endedBeforeCommit(err) || attempt >= attempts) throw err;
      }
    }
  }

  connect(): Promise<PoolClient> {
    return this.pool.connect();
  }

  /** Installs new credentials; returns false (and keeps the pool) when they are the same. */
  installCredentials(creds: DbCredentials): boolean {
    if (creds.username === this.creds.username && creds.password === this.creds.password) return false;
    const old = this.pool;
    this.creds = creds;
    this.pool = this.makePool(creds);
    this.retire(old);
    return true;
  }

  async close(): Promise<void> {
    const current = this.pool;
    this.retire(current);
    await Promise.all([...this.retired]);
  }

  private retire(pool: Pool): void {
    const done = pool.end().catch(() => undefined);
    this.retired.add(done);
    void done.finally(() => this.retired.delete(done));
  }

  private makePool(creds: DbCredentials): Pool {
    const pool = new Pool({
      host: this.settings.host,
      port: this.settings.port,
      database: this.settings.database,
      user: creds.username,
      password: creds.password,
      ssl: sslOptions(this.settings.ssl),
      max: this.options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      idleTimeoutMillis: DB_POOL.idleTimeoutMs,
      connectionTimeoutMillis: DB_POOL.connectionTimeoutMs,
      // Bounded waits: a stuck database turns into a 503, never a hung request.
      query_timeout: DB_POOL.statementTimeoutMs,
      statement_timeout: DB_POOL.statementTimeoutMs,
      keepAlive: true,
      application_name: 'chat-api',
    });
    pool.on('error', (err) => this.options.onIdleError?.(err));
    return pool;
  }
}

/**
 * The server ended the session instead of answering the statement: SQLSTATE 57P01 admin_shutdown
 * (`pg_terminate_backend`, a fast shutdown) or 57P02 crash_shutdown, sent as the statement's
 * reply. Postgres only acts on the termination at an interrupt check, which it holds off while
 * committing, and a session that ends rolls its open transaction back: an autocommit statement
 * answered this way did not take effect. (A connection that drops without that reply is another
 * case: the statement may have committed, so it is never run again.)
 */
export function endedBeforeCommit(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === '57P01' || code === '57P02';
}

/**
 * The operation did not run, so a request may run it again once the database is usable: a rejected
 * login (it never started) or a session the server ended before the statement took effect.
 */
export function dbOperationNotRun(err: unknown): boolean {
  return classifyDbError(err) === 'auth_failed' || endedBeforeCommit(err);
}

/** Postgres SQLSTATEs and Node error codes, sorted into what readiness does about them. */
export type DbFailureKind = 'down' | 'auth_failed' | 'misconfigured' | 'other';

export function classifyDbError(err: unknown): DbFailureKind {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : '';
  // 28P01 invalid_password, 28000 invalid_authorization_specification (no pg_hba entry, no LOGIN).
  if (code === '28P01' || code === '28000') return 'auth_failed';
  if (isTlsConfigErrorCode(code)) return 'misconfigured';
  // 3D000 database does not exist, 42501 insufficient privilege, 3F000 schema missing.
  if (code === '3D000' || code === '42501' || code === '3F000') return 'misconfigured';
  if (message.includes('does not support SSL')) return 'misconfigured';
  // Connection exceptions (08xxx), admin/crash shutdown (57P0x), too many connections (53300),
  // socket and timeout errors.
  if (/^(08|57P0|53)/.test(code)) return 'down';
  if (/^E[A-Z]+$/.test(code)) return 'down';
  if (/timeout|terminated|Connection|ended/i.test(message)) return 'down';
  return 'other';
}

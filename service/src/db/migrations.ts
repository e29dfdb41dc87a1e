/**
 * Schema migrations, applied at start by whichever task gets the advisory lock first.
 *
 * Tables live in schema `chat`, which the bootstrap custom resource creates and gives to a NOLOGIN
 * owner role. Migrations run under `SET LOCAL ROLE <that owner>`, so every table is owned by the
 * owner role and not by whichever of the alternating rotation users happened to connect.
 */
import type { PoolClient, QueryConfig } from 'pg';

export const SCHEMA = 'chat';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'sessions and messages',
    sql: `
      CREATE TABLE ${SCHEMA}.sessions (
        id          text PRIMARY KEY,
        user_id     text,
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE ${SCHEMA}.messages (
        id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        session_id  text NOT NULL REFERENCES ${SCHEMA}.sessions (id) ON DELETE CASCADE,
        role        text NOT NULL CHECK (role IN ('user', 'assistant')),
        content     text NOT NULL,
        request_id  text NOT NULL,
        cached      boolean NOT NULL DEFAULT false,
        created_at  timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX messages_session_recent ON ${SCHEMA}.messages (session_id, id DESC);
    `,
  },
  {
    version: 2,
    name: 'sessions are owned by the principal that started them',
    // Sessions from before this migration have no owner, so no caller can reach them: their ids were
    // chosen by clients and their user_id was whatever the body said.
    sql: `
      ALTER TABLE ${SCHEMA}.sessions ADD COLUMN owner_sub text;
      COMMENT ON COLUMN ${SCHEMA}.sessions.owner_sub IS 'sub of the bearer token that started the session; only it may read or extend the session';
      COMMENT ON COLUMN ${SCHEMA}.sessions.user_id IS 'the token sub (equal to owner_sub) since migration 2; before it, an unverified client value';
    `,
  },
  {
    version: 3,
    name: 'conversations have a lifecycle: per-session message numbers, retention and history indexes',
    // Idempotent, and compatible with the version still serving during a deployment: its inserts
    // name no `seq`, and the trigger numbers them too. The trigger's max() runs after the insert's
    // statement locked the session row (every turn UPDATEs or INSERTs it first), so two turns of one
    // session are numbered one after the other; the unique index would refuse a duplicate anyway.
    // `seq` rather than the global `id` is what clients see: an id would tell a caller how many
    // messages everyone else stored between two of its own.
    sql: `
      ALTER TABLE ${SCHEMA}.messages ADD COLUMN IF NOT EXISTS seq integer;
      CREATE OR REPLACE FUNCTION ${SCHEMA}.number_message() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        IF NEW.seq IS NULL THEN
          SELECT coalesce(max(seq), 0) + 1 INTO NEW.seq FROM ${SCHEMA}.messages WHERE session_id = NEW.session_id;
        END IF;
        RETURN NEW;
      END
      $fn$;
      DROP TRIGGER IF EXISTS messages_number ON ${SCHEMA}.messages;
      CREATE TRIGGER messages_number BEFORE INSERT ON ${SCHEMA}.messages
        FOR EACH ROW EXECUTE FUNCTION ${SCHEMA}.number_message();
      UPDATE ${SCHEMA}.messages m SET seq = n.seq
        FROM (SELECT id, row_number() OVER (PARTITION BY session_id ORDER BY id) AS seq FROM ${SCHEMA}.messages) n
        WHERE m.id = n.id AND m.seq IS NULL;
      ALTER TABLE ${SCHEMA}.messages ALTER COLUMN seq SET NOT NULL;
      COMMENT ON COLUMN ${SCHEMA}.messages.seq IS 'position in its session from 1 (trigger messages_number); the history cursor';
      -- Paginated reads: a page is an index range of one session.
      CREATE UNIQUE INDEX IF NOT EXISTS messages_session_seq ON ${SCHEMA}.messages (session_id, seq);
      -- Retention: the oldest messages first, then sessions without a turn since the cut-off.
      CREATE INDEX IF NOT EXISTS messages_created_at ON ${SCHEMA}.messages (created_at);
      CREATE INDEX IF NOT EXISTS sessions_updated_at ON ${SCHEMA}.sessions (updated_at);
    `,
  },
];

/** Any stable 64-bit number works; this one is "chat-mig" in ASCII. */
const MIGRATION_LOCK_KEY = '7163837495076620135';

export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationError';
  }
}

/**
 * Migrations (and waiting for another task's) may take longer than the pool's 5 s statement
 * budget for requests; they get their own, still bounded.
 */
export const MIGRATION_TIMEOUT_MS = 300_000;

/** Applies pending migrations in one transaction. Returns the versions it applied. */
export async function migrate(client: PoolClient, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  // `query_timeout` per query is supported by pg (client.js), not declared by @types/pg.
  const q = (text: string, values?: unknown[]) => {
    const config: QueryConfig & { query_timeout: number } = {
      text,
      ...(values ? { values } : {}),
      query_timeout: MIGRATION_TIMEOUT_MS,
    };
    return client.query(config);
  };
  await q('BEGIN');
  try {
    await q(`SET LOCAL statement_timeout = ${MIGRATION_TIMEOUT_MS}`);
    // Transaction-scoped: released by COMMIT/ROLLBACK even if this task dies mid-way.
    await q('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    const owner = await client.query<{ owner: string }>({
      text: 'SELECT nspowner::regrole::text AS owner FROM pg_namespace WHERE nspname = $1',
      values: [SCHEMA],
    });
    const ownerRole = owner.rows[0]?.owner;
    if (!ownerRole) {
      throw new MigrationError(`schema "${SCHEMA}" does not exist: the database bootstrap has not run`);
    }
    // regrole::text is already a quoted identifier; refuse anything else rather than interpolate it.
    if (!/^([a-z_][a-z0-9_$]*|"([^"]|"")+")$/.test(ownerRole)) {
      throw new MigrationError('the owner of schema chat has an unexpected name');
    }
    await q(`SET LOCAL ROLE ${ownerRole}`);
    await q(`
      CREATE TABLE IF NOT EXISTS ${SCHEMA}.schema_migrations (
        version     integer PRIMARY KEY,
        name        text NOT NULL,
        applied_at  timestamptz NOT NULL DEFAULT now()
      )`);
    const done = await client.query<{ version: number }>(`SELECT version FROM ${SCHEMA}.schema_migrations`);
    const applied = new Set(done.rows.map((r) => r.version));
    const ran: number[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (applied.has(m.version)) continue;
      await q(m.sql);
      await q(`INSERT INTO ${SCHEMA}.schema_migrations (version, name) VALUES ($1, $2)`, [m.version, m.name]);
      ran.push(m.version);
    }
    await q('COMMIT');
    return ran;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * Migrations against a real Postgres with the bootstrap's role layout: concurrent starts are
 * serialised by the advisory lock, every table ends up owned by the schema's NOLOGIN owner (not by
 * the rotation user that connected), and a missing schema is a configuration error.
 */
import { createTestCertificates, type PostgresHandle, startPostgres } from '../../scripts/harness';
import { Database } from '../../service/src/db/database';
import { MIGRATIONS, MigrationError, migrate } from '../../service/src/db/migrations';

jest.setTimeout(60_000);

let pg: PostgresHandle;
beforeAll(async () => {
  pg = await startPostgres({ certs: createTestCertificates() });
});
afterAll(() => pg?.stop());

// In-process, the throwaway CA is not in Node's store (NODE_EXTRA_CA_CERTS is read at start), so
// these connections use `require` (TLS without verification); verify-full is covered by the
// integration suites that run the service as a process.
const database = (username: string, password: string) =>
  new Database({ host: '127.0.0.1', port: pg.port, database: pg.database, ssl: 'require', username, password });

test('concurrent starts apply each migration once; tables belong to the schema owner, not the connecting user', async () => {
  const app = await pg.bootstrapApp();
  // The rotation clone (alternating users) migrates at the same time as the base user.
  const clone = await pg.bootstrapApp({ username: 'chat_app_clone' });
  const dbs = [database(app.username, app.password), database(clone.username, clone.password)];
  try {
    const results = await Promise.all(
      dbs.map(async (db) => {
        const client = await db.connect();
        try {
          return await migrate(client);
        } finally {
          client.release();
        }
      }),
    );
    expect(results.flat().sort()).toEqual(MIGRATIONS.map((m) => m.version));
    const owners = await pg.query<{ tableowner: string }>("SELECT tableowner FROM pg_tables WHERE schemaname = 'chat'");
    expect(new Set(owners.map((o) => o.tableowner))).toEqual(new Set(['chat_owner']));
    const applied = await pg.query<{ version: number }>('SELECT version FROM chat.schema_migrations');
    expect(applied.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
  } finally {
    await Promise.all(dbs.map((db) => db.close()));
  }
});

test('without the bootstrap (no schema chat) migrations refuse with a configuration error', async () => {
  await pg.query('CREATE DATABASE nobootstrap');
  await pg.query("CREATE ROLE lonely LOGIN PASSWORD 'lonely-password-123'");
  const db = new Database({
    host: '127.0.0.1',
    port: pg.port,
    database: 'nobootstrap',
    ssl: 'require',
    username: 'lonely',
    password: 'lonely-password-123',
  });
  try {
    const client = await db.connect();
    try {
      await expect(migrate(client)).rejects.toBeInstanceOf(MigrationError);
    } finally {
      client.release();
    }
  } finally {
    await db.close();
  }
});

test('migration 3 is idempotent, and numbers the inserts of the version still serving (which name no seq)', async () => {
  const app = await pg.bootstrapApp({ username: 'chat_app_m3' });
  const db = database(app.username, app.password);
  try {
    const client = await db.connect();
    try {
      await migrate(client);
      // Run again by hand, as the owner: every statement is safe to repeat.
      const third = MIGRATIONS.find((m) => m.version === 3);
      expect(third).toBeDefined();
      await client.query('BEGIN');
      await client.query('SET LOCAL ROLE chat_owner');
      await client.query(third?.sql ?? '');
      await client.query('COMMIT');
      // The insert migration 1's code made: no seq. Two turns, one after the other.
      await client.query("INSERT INTO chat.sessions (id, user_id, owner_sub) VALUES ('m3', 'u', 'u')");
      for (const [role, content] of [
        ['user', 'q1'],
        ['assistant', 'a1'],
        ['user', 'q2'],
      ]) {
        await client.query(
          "INSERT INTO chat.messages (session_id, role, content, request_id) VALUES ('m3', $1, $2, 'r')",
          [role, content],
        );
      }
      const rows = await client.query<{ seq: number; content: string }>(
        "SELECT seq, content FROM chat.messages WHERE session_id = 'm3' ORDER BY id",
      );
      expect(rows.rows).toEqual([
        { seq: 1, content: 'q1' },
        { seq: 2, content: 'a1' },
        { seq: 3, content: 'q2' },
      ]);
      const indexes = await client.query<{ indexname: string }>(
        "SELECT indexname FROM pg_indexes WHERE schemaname = 'chat' ORDER BY indexname",
      );
      expect(indexes.rows.map((r) => r.indexname)).toEqual(
        expect.arrayContaining(['messages_created_at', 'messages_session_seq', 'sessions_updated_at']),
      );
    } finally {
      client.release();
    }
  } finally {
    await db.close();
  }
});

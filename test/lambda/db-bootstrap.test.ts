/**
 * The bootstrap custom resource's logic against a real Postgres, run the way RDS runs it: as a
 * master user that is NOT a superuser (CREATEROLE, owner of the database), over TCP with SSL.
 * Local Postgres is 15; RDS runs 18, where CREATEROLE no longer implies SET on created roles —
 * bootstrap.ts grants the owner role to CURRENT_USER for exactly that reason.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceDeleteEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { Client } from 'pg';
import { type BootstrapInput, bootstrapDatabase } from '../../lambda/db-bootstrap/bootstrap';
import { handler } from '../../lambda/db-bootstrap/index';
import { parseBootstrapProperties } from '../../lambda/db-bootstrap/properties';
import { scramSha256Verifier } from '../../lambda/db-bootstrap/scram';
import { readDbLogin } from '../../lambda/db-bootstrap/secrets';
import {
  createTestCertificates,
  type PostgresHandle,
  randomSecret,
  startPostgres,
  type TestCertificates,
} from '../../scripts/harness';

const DB = 'chat';
let pg: PostgresHandle;
let certs: TestCertificates;
const master = { username: 'chat_admin', password: randomSecret(32) };

beforeAll(async () => {
  certs = createTestCertificates();
  pg = await startPostgres({ certs, database: DB });
  // An RDS-like master: not a superuser, may create roles, owns the application database.
  await pg.query(`CREATE ROLE ${master.username} LOGIN CREATEROLE CREATEDB PASSWORD '${master.password}'`);
  await pg.query(`ALTER DATABASE ${DB} OWNER TO ${master.username}`);
  await pg.query(`ALTER SCHEMA public OWNER TO ${master.username}`);
}, 60_000);

afterAll(async () => {
  await pg?.stop();
});

const connect = async (user: string, password: string) => {
  const c = new Client({
    host: pg.host,
    port: pg.port,
    database: DB,
    user,
    password,
    ssl: { ca: certs.caPem, rejectUnauthorized: true },
  });
  await c.connect();
  return c;
};

const asMaster = async <T>(fn: (c: Client) => Promise<T>) => {
  const c = await connect(master.username, master.password);
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
};

const input = (current: BootstrapInput['current']): BootstrapInput => ({
  databaseName: DB,
  schema: 'chat',
  ownerRole: 'chat_owner',
  appUsername: 'chat_app',
  current,
});

describe('database bootstrap (real Postgres, non-superuser master)', () => {
  const app = { username: 'chat_app', password: randomSecret(32) };

  test('creates the schema owner and the app role, and the app user can log in with the secret', async () => {
    const result = await asMaster((c) => bootstrapDatabase(c, input(app)));
    expect(result.createdRoles).toEqual(['chat_owner', 'chat_app']);
    expect(result.passwordSetFor).toBe('chat_app');
    const c = await connect(app.username, app.password);
    const [row] = (await c.query('SELECT current_user AS u')).rows;
    expect(row.u).toBe('chat_app');
    await c.end();
  });

  test('the app role is least-privileged: no superuser, CREATEDB or CREATEROLE; member of the schema owner only', async () => {
    const [role] = await pg.query<Record<string, boolean>>(
      "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = 'chat_app'",
    );
    expect(role).toEqual({
      rolsuper: false,
      rolcreatedb: false,
      rolcreaterole: false,
      rolreplication: false,
      rolbypassrls: false,
      rolcanlogin: true,
    });
    const memberships = await pg.query<{ role: string }>(
      "SELECT r.rolname AS role FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = 'chat_app'",
    );
    expect(memberships.map((m) => m.role)).toEqual(['chat_owner']);
    const [owner] = await pg.query<{ rolcanlogin: boolean }>(
      "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'chat_owner'",
    );
    expect(owner.rolcanlogin).toBe(false);
  });

  test('the app migrates its schema as the owner role, and cannot create objects elsewhere', async () => {
    const c = await connect(app.username, app.password);
    try {
      await c.query('BEGIN');
      await c.query('SET LOCAL ROLE chat_owner');
      await c.query('CREATE TABLE chat.probe (id int)');
      await c.query('COMMIT');
      const [t] = (await c.query("SELECT tableowner FROM pg_tables WHERE schemaname = 'chat' AND tablename = 'probe'"))
        .rows;
      expect(t.tableowner).toBe('chat_owner');
      await expect(c.query('CREATE TABLE public.nope (id int)')).rejects.toThrow(/permission denied/);
      await expect(c.query('CREATE DATABASE nope')).rejects.toThrow(/permission denied/);
    } finally {
      await c.end();
    }
  });

  test('PUBLIC can no longer connect to the database', async () => {
    const stranger = { username: 'stranger', password: randomSecret(32) };
    await pg.query(`CREATE ROLE ${stranger.username} LOGIN PASSWORD '${stranger.password}'`);
    await expect(connect(stranger.username, stranger.password)).rejects.toThrow(/permission denied for database/);
  });

  test('is idempotent: a second run creates nothing and makes the password match the secret again', async () => {
    const rotated = { username: 'chat_app', password: randomSecret(32) };
    const result = await asMaster((c) => bootstrapDatabase(c, input(rotated)));
    expect(result.createdRoles).toEqual([]);
    await expect(connect(app.username, app.password)).rejects.toThrow(/password authentication failed/);
    const c = await connect(rotated.username, rotated.password);
    await c.end();
    app.password = rotated.password;
  });

  test('a rotation clone (as Secrets Manager creates it) inherits exactly the app rights', async () => {
    // What the alternating-users rotation function does with the master secret.
    const clone = { username: 'chat_app_clone', password: randomSecret(32) };
    await asMaster(async (c) => {
      await c.query(`CREATE ROLE chat_app_clone WITH LOGIN PASSWORD ${c.escapeLiteral(clone.password)}`);
      await c.query('GRANT chat_app TO chat_app_clone');
    });
    const c = await connect(clone.username, clone.password);
    try {
      await c.query('BEGIN');
      await c.query('SET LOCAL ROLE chat_owner');
      await c.query('CREATE TABLE chat.from_clone (id int)');
      await c.query('COMMIT');
      const rows = (await c.query("SELECT tableowner FROM pg_tables WHERE schemaname = 'chat' ORDER BY tablename"))
        .rows;
      expect(rows.map((r) => r.tableowner)).toEqual(['chat_owner', 'chat_owner']);
      await c.query('INSERT INTO chat.probe VALUES (1)');
    } finally {
      await c.end();
    }
    // And the base user reads what the clone wrote: ownership did not split.
    const base = await connect(app.username, app.password);
    expect((await base.query('SELECT count(*)::int AS n FROM chat.from_clone')).rows[0].n).toBe(0);
    await base.end();
  });

  test('when the secret already names the clone, the clone gets the secret password', async () => {
    const current = { username: 'chat_app_clone', password: randomSecret(32) };
    const result = await asMaster((c) => bootstrapDatabase(c, input(current)));
    expect(result).toMatchObject({ createdRoles: [], passwordSetFor: 'chat_app_clone' });
    const c = await connect(current.username, current.password);
    await c.end();
  });

  test('concurrent runs serialise instead of failing', async () => {
    const current = { username: 'chat_app', password: app.password };
    const results = await Promise.all([1, 2, 3].map(() => asMaster((c) => bootstrapDatabase(c, input(current)))));
    expect(results.map((r) => r.createdRoles)).toEqual([[], [], []]);
  });

  test('refuses a username that is neither the app user nor its clone, and an unsafe identifier', async () => {
    await expect(
      asMaster((c) => bootstrapDatabase(c, input({ username: 'postgres', password: randomSecret(32) }))),
    ).rejects.toThrow(/neither 'chat_app' nor its rotation clone/);
    await expect(
      asMaster((c) => bootstrapDatabase(c, { ...input(app), schema: 'chat; DROP TABLE x' })),
    ).rejects.toThrow(/schema 'chat; DROP TABLE x' is not a plain lower-case SQL identifier/);
    await expect(
      asMaster((c) => bootstrapDatabase(c, input({ username: 'chat_app', password: 'short' }))),
    ).rejects.toThrow(/shorter than 16 characters/);
  });
});

describe('the bootstrap never sends a password in SQL (SCRAM-SHA-256 verifier computed by the client)', () => {
  test('the verifier matches the one Postgres computes itself for the same password, salt and iterations', async () => {
    const password = randomSecret(32);
    await pg.query("SET password_encryption = 'scram-sha-256'");
    await pg.query(`CREATE ROLE regress_scram_kat LOGIN PASSWORD '${password}'`);
    const [row] = await pg.query<{ rolpassword: string }>(
      "SELECT rolpassword FROM pg_authid WHERE rolname = 'regress_scram_kat'",
    );
    const match = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(row?.rolpassword ?? '');
    expect(match).not.toBeNull();
    const [, iterations, salt] = match as RegExpExecArray;
    expect(scramSha256Verifier(password, { salt: Buffer.from(salt, 'base64'), iterations: Number(iterations) })).toBe(
      row?.rolpassword,
    );
    await pg.query('DROP ROLE regress_scram_kat');
  });

  test('no statement or parameter carries the password, Postgres stores the verifier as sent, and the login works', async () => {
    const app = { username: 'chat_app', password: randomSecret(32) };
    const sent: string[] = [];
    await asMaster(async (c) => {
      const original = c.query.bind(c) as (...args: unknown[]) => Promise<unknown>;
      (c as unknown as { query: (...args: unknown[]) => Promise<unknown> }).query = (...args: unknown[]) => {
        sent.push(JSON.stringify(args));
        return original(...args);
      };
      await bootstrapDatabase(c, input(app));
    });
    expect(sent.some((s) => s.includes('ALTER ROLE chat_app WITH PASSWORD') && s.includes('SCRAM-SHA-256$4096:'))).toBe(
      true,
    );
    expect(sent.filter((s) => s.includes(app.password))).toEqual([]);
    const [stored] = await pg.query<{ rolpassword: string }>(
      "SELECT rolpassword FROM pg_authid WHERE rolname = 'chat_app'",
    );
    expect(stored?.rolpassword).toMatch(/^SCRAM-SHA-256\$4096:/);
    const c = await connect(app.username, app.password);
    await c.end();
  });

  test('refuses a password outside printable ASCII instead of storing a verifier that might never match', () => {
    expect(() => scramSha256Verifier('pässwörd-with-umlauts-1234')).toThrow(/printable ASCII/);
  });
});

describe('bootstrap handler', () => {
  const sm = mockClient(SecretsManagerClient);
  afterEach(() => sm.reset());

  const props = {
    ServiceToken: 'arn:aws:lambda:us-east-1:111122223333:function:provider',
    MasterSecretArn: 'arn:master',
    AppSecretArn: 'arn:app',
    Host: 'db.example.internal',
    Port: '5433',
    DatabaseName: 'chat',
    Schema: 'chat',
    OwnerRole: 'chat_owner',
    AppUsername: 'chat_app',
  };

  test('a Delete never touches the database (roles live and die with it)', async () => {
    const event = {
      RequestType: 'Delete',
      PhysicalResourceId: 'db.example.internal:5433/chat/chat_app',
      ResourceProperties: props,
    } as unknown as CloudFormationCustomResourceDeleteEvent;
    await expect(handler(event)).resolves.toEqual({ PhysicalResourceId: 'db.example.internal:5433/chat/chat_app' });
    expect(sm.calls()).toHaveLength(0);
  });

  test('missing properties are named', () => {
    const { Host: _h, Port: _p, ...rest } = props;
    expect(() => parseBootstrapProperties(rest)).toThrow('db-bootstrap: missing resource properties: Host, Port.');
  });

  test('a secret without a password is reported by key, never by value', async () => {
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ username: 'chat_app', pass: 'x-secret-x' }),
    });
    const error = await readDbLogin(new SecretsManagerClient({}), 'arn:app').catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe("Secret arn:app has no 'password'.");
    expect((error as Error).message).not.toContain('x-secret-x');
  });
});

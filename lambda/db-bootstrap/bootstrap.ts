/**
 * Creates the application's database role, idempotently. Run as the RDS master user by the
 * bootstrap custom resource, and by the local harness and tests against a real Postgres, so the
 * role layout is the same everywhere.
 *
 * Layout:
 * - `<owner>` (NOLOGIN) owns schema `<schema>`; it exists so that table ownership never depends on
 *   which of the alternating users ran a migration.
 * - `<app>` (LOGIN) is a member of `<owner>`: it can use and migrate the schema, nothing else. No
 *   CREATEDB, no CREATEROLE, no other schema. PUBLIC loses its default CONNECT/TEMP on the database.
 * - Secrets Manager's alternating-users rotation creates `<app>_clone` and grants it `<app>`, so the
 *   clone inherits exactly the same rights.
 * - The service runs its migrations under `SET LOCAL ROLE <owner>`, so every table is owned by
 *   `<owner>` whichever user connected.
 *
 * Passwords: the secret is the source of truth. The role named by the secret's current `username`
 * gets the secret's `password`, sent as a SCRAM-SHA-256 verifier computed here (scram.ts): no SQL
 * statement carries the password, so no server log of a failed or slow statement can hold it.
 * Nothing is ever logged or returned that contains a password.
 */
import type { ClientBase } from 'pg';
import { scramSha256Verifier } from './scram';

export interface BootstrapInput {
  readonly databaseName: string;
  /** Schema the app owns, e.g. `chat`. */
  readonly schema: string;
  /** NOLOGIN role that owns the schema, e.g. `chat_owner`. */
  readonly ownerRole: string;
  /** The base application user, e.g. `chat_app`. */
  readonly appUsername: string;
  /** The app secret's current values (the username may already be `<app>_clone` after rotations). */
  readonly current: { readonly username: string; readonly password: string };
}

export interface BootstrapResult {
  readonly createdRoles: string[];
  readonly passwordSetFor: string;
  readonly schema: string;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Identifiers are validated, then quoted; the password verifier goes through `escapeLiteral`. */
export function assertIdentifier(kind: string, value: string): void {
  if (!IDENTIFIER.test(value)) {
    throw new Error(`${kind} '${value}' is not a plain lower-case SQL identifier ([a-z_][a-z0-9_]{0,62}).`);
  }
}

export async function bootstrapDatabase(client: ClientBase, input: BootstrapInput): Promise<BootstrapResult> {
  const { databaseName, schema, ownerRole, appUsername, current } = input;
  assertIdentifier('databaseName', databaseName);
  assertIdentifier('schema', schema);
  assertIdentifier('ownerRole', ownerRole);
  assertIdentifier('appUsername', appUsername);
  assertIdentifier('secret username', current.username);
  if (current.username !== appUsername && current.username !== `${appUsername}_clone`) {
    throw new Error(
      `The app secret's username '${current.username}' is neither '${appUsername}' nor its rotation clone '${appUsername}_clone'.`,
    );
  }
  if (current.password.length < 16) {
    throw new Error("The app secret's password is shorter than 16 characters; refusing to use it.");
  }

  const createdRoles: string[] = [];
  const roleExists = async (role: string) =>
    (await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount === 1;
  const verifier = client.escapeLiteral(scramSha256Verifier(current.password));

  await client.query('BEGIN');
  try {
    // Serialise concurrent bootstraps (CloudFormation retries, local harness runs).
    await client.query("SELECT pg_advisory_xact_lock(hashtext('chat-platform-db-bootstrap'))");

    if (!(await roleExists(ownerRole))) {
      await client.query(`CREATE ROLE ${ownerRole} NOLOGIN`);
      createdRoles.push(ownerRole);
    }
    // The master needs to be able to SET ROLE to the owner to create a schema for it (PG 16+ no
    // longer grants that implicitly to the role's creator).
    await client.query(`GRANT ${ownerRole} TO CURRENT_USER`);

    if (!(await roleExists(appUsername))) {
      await client.query(`CREATE ROLE ${appUsername} LOGIN`);
      createdRoles.push(appUsername);
    }
    if (current.username !== appUsername && !(await roleExists(current.username))) {
      // The secret already names the clone but the role is missing (e.g. a restored snapshot).
      await client.query(`CREATE ROLE ${current.username} LOGIN`);
      await client.query(`GRANT ${appUsername} TO ${current.username}`);
      createdRoles.push(current.username);
    }
    // SUPERUSER, REPLICATION and BYPASSRLS can only be changed by a superuser (RDS's master is
    // not one); roles created here never have them, and a pre-existing role that does is refused.
    for (const role of new Set([appUsername, current.username])) {
      await client.query(`ALTER ROLE ${role} WITH LOGIN NOCREATEDB NOCREATEROLE INHERIT`);
      const attrs = await client.query<{ rolsuper: boolean; rolreplication: boolean; rolbypassrls: boolean }>(
        'SELECT rolsuper, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = $1',
        [role],
      );
      const a = attrs.rows[0];
      if (a && (a.rolsuper || a.rolreplication || a.rolbypassrls)) {
        throw new Error(
          `Role '${role}' has SUPERUSER, REPLICATION or BYPASSRLS; the app user must not. Fix it by hand.`,
        );
      }
    }
    await client.query(`ALTER ROLE ${current.username} WITH PASSWORD ${verifier}`);

    await client.query(`GRANT ${ownerRole} TO ${appUsername}`);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema} AUTHORIZATION ${ownerRole}`);
    await client.query(`ALTER SCHEMA ${schema} OWNER TO ${ownerRole}`);
    await client.query(`REVOKE ALL ON DATABASE ${databaseName} FROM PUBLIC`);
    await client.query(`GRANT CONNECT, TEMPORARY ON DATABASE ${databaseName} TO ${appUsername}`);
    await client.query(`REVOKE CREATE ON SCHEMA public FROM PUBLIC`);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  return { createdRoles, passwordSetFor: current.username, schema };
}

/**
 * A PostgreSQL SCRAM-SHA-256 password verifier, computed on the client, so that the bootstrap's
 * `ALTER ROLE … PASSWORD` statement carries a verifier and never the password: a failed or slow
 * statement that Postgres logs (with `log_min_error_statement` or `log_min_duration_statement`)
 * cannot leak it. Postgres stores a value already in this form as is (RFC 7677 and the
 * PostgreSQL manual, "Password Authentication": "If the password is already encrypted in
 * SCRAM-SHA-256 format, it is stored as is").
 *
 * Format: `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` (base64 fields), with
 *   SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, iterations)
 *   StoredKey      = SHA-256(HMAC(SaltedPassword, "Client Key"))
 *   ServerKey      = HMAC(SaltedPassword, "Server Key")
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

/** Postgres's own default (`scram_iterations`, 4096 since PostgreSQL 10). */
export const SCRAM_ITERATIONS = 4096;
const SALT_BYTES = 16;

const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;

export interface ScramOptions {
  /** @default 16 random bytes */
  readonly salt?: Buffer;
  /** @default SCRAM_ITERATIONS (4096, Postgres's default) */
  readonly iterations?: number;
}

export function scramSha256Verifier(password: string, options: ScramOptions = {}): string {
  // Postgres runs the password through SASLprep before hashing; for printable ASCII that is the
  // identity. Generated secrets are printable ASCII; anything else is refused rather than hashed
  // in a way the server might normalise differently (a login that would never work).
  if (!PRINTABLE_ASCII.test(password)) {
    throw new Error('The password contains characters outside printable ASCII; refusing to compute its verifier.');
  }
  const salt = options.salt ?? randomBytes(SALT_BYTES);
  const iterations = options.iterations ?? SCRAM_ITERATIONS;
  const salted = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** Random secrets for local runs and tests: generated at run time, never written to the repo. */
import { randomBytes } from 'node:crypto';

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Letters and digits only (like the ElastiCache AUTH token the stack generates). */
export function randomSecret(length = 64): string {
  const bytes = randomBytes(length * 2);
  let out = '';
  for (const b of bytes) {
    // 248 = 4 * 62: rejection sampling keeps the distribution uniform.
    if (b < 248) out += ALPHANUMERIC[b % 62];
    if (out.length === length) break;
  }
  if (out.length < length) return out + randomSecret(length - out.length);
  return out;
}

/** What gets printed instead of a secret: its length only. */
export function mask(value: string): string {
  return `****(${value.length} chars)`;
}

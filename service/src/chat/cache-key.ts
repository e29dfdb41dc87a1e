/**
 * The response cache key, and who asked for it.
 *
 * The key hashes everything that decides the answer: the message (see {@link normalizeMessage}),
 * `PROMPT_VERSION` and the system prompt text (so a prompt change never serves answers written for
 * the old prompt), the model, and the conversation context (the earlier turns sent to the model;
 * empty on a session's first turn). A follow-up such as "and in French?" therefore never hits an
 * answer from another conversation.
 *
 * Whether an entry may be served to another principal is not the key's business: see
 * `CACHE_SHARE_AFTER_PRINCIPALS` and `RedisCache.lookup`. The key only lets the cache tell askers
 * apart without their `sub` ({@link askerTag}).
 */
import { type BinaryToTextEncoding, hash } from 'node:crypto';

export interface ContextTurn {
  readonly role: 'user' | 'assistant';
  readonly content: string;
}

export interface CacheKeyInput {
  readonly message: string;
  readonly promptVersion: string;
  /** The system prompt text: a prompt edit changes keys even if PROMPT_VERSION was not bumped. */
  readonly systemPrompt: string;
  readonly model: string;
  readonly context: readonly ContextTurn[];
}

/**
 * Bumped when the key derivation itself changes, so old entries are simply never read again.
 * v2: case and compatibility characters are kept (v1 folded them, and answered "CO" with "Co").
 */
export const CACHE_KEY_SCHEME = 'chat:v2:';

/**
 * Only what never changes a question's meaning: canonical equivalence (NFC: "é" precomposed or as
 * "e" + combining accent is one text) and whitespace at the ends. Case ("CO" is not "Co"),
 * compatibility characters ("2³" is not "23") and inner whitespace (indentation in code) are kept.
 */
export function normalizeMessage(message: string): string {
  return message.normalize('NFC').trim();
}

/** JSON framing makes the encoding unambiguous: no message can imitate another prompt version, model or context. */
function keyMaterial(input: CacheKeyInput): string {
  return JSON.stringify([
    input.promptVersion,
    input.systemPrompt,
    input.model,
    normalizeMessage(input.message),
    input.context.map((t) => [t.role, t.content]),
  ]);
}

export function cacheKey(input: CacheKeyInput): string {
  return keyFromMaterial(keyMaterial(input));
}

const keyFromMaterial = (material: string) => CACHE_KEY_SCHEME + hash('sha256', material, 'base64url');

/**
 * Who asked for this key, as the cache may store it: HMAC-SHA-256 of the `sub`, keyed by a hash of
 * the key's material (the question and its context, which the cache never holds in clear), cut to
 * 128 bits. So the cache holds no `sub`; one principal's tags for two questions cannot be linked;
 * and the tag is the same on every task and survives every credential rotation (nothing it derives
 * from rotates: a tag that changed would count one principal twice). docs/security.md says what
 * someone who can read the cache can still learn.
 */
export function askerTag(input: CacheKeyInput, sub: string): string {
  return tagFromMaterial(keyMaterial(input), sub);
}

const tagFromMaterial = (material: string, sub: string) =>
  hmacSha256(hash('sha256', `asker-tag\0${material}`, 'binary'), sub, 'base64url').slice(0, 22);

/**
 * `cacheKey(input)` and `askerTag(input, sub)` from one serialization of the key's material: the
 * same two strings, for a turn that needs both (every turn that reaches the cache).
 */
export function cacheKeyAndAsker(input: CacheKeyInput, sub: string): { readonly key: string; readonly asker: string } {
  const material = keyMaterial(input);
  return { key: keyFromMaterial(material), asker: tagFromMaterial(material, sub) };
}

const SHA256_BLOCK_BYTES = 64;
const SHA256_DIGEST_BYTES = 32;

/**
 * hmacSha256's working space, (K ⊕ pad) ‖ data, shared by every call (each runs synchronously to its
 * end) and grown for a longer message: a fresh Buffer per call, like a digest returned as a Buffer,
 * costs an ArrayBuffer, about a microsecond each on a cache hit.
 */
let hmacScratch = Buffer.allocUnsafeSlow(SHA256_BLOCK_BYTES + 256);

/**
 * HMAC-SHA-256 (RFC 2104) of `message` under a key of at most one block, from two one-shot hashes:
 * H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m)). The same bytes as `createHmac('sha256', key)`, without making a
 * KeyObject for every request's fresh key, which profiled as most of a cache hit's lookup
 * (test/service/cache-key.test.ts compares the two). The key is a binary string (one character per
 * byte, as `hash(..., 'binary')` returns a digest) and the result comes in `encoding`: no Buffer is
 * made for either.
 */
export function hmacSha256(key: string, message: string, encoding: BinaryToTextEncoding): string {
  if (key.length > SHA256_BLOCK_BYTES) throw new Error('hmacSha256: a key longer than one block must be hashed first');
  const messageBytes = Buffer.byteLength(message, 'utf8');
  const needed = SHA256_BLOCK_BYTES + Math.max(messageBytes, SHA256_DIGEST_BYTES);
  if (hmacScratch.length < needed) hmacScratch = Buffer.allocUnsafeSlow(needed);
  const buf = hmacScratch;
  // (K ⊕ ipad) ‖ m; then its first block and the inner hash become (K ⊕ opad) ‖ H(...).
  buf.fill(0x36, 0, SHA256_BLOCK_BYTES);
  for (let i = 0; i < key.length; i++) buf[i] = key.charCodeAt(i) ^ 0x36;
  buf.write(message, SHA256_BLOCK_BYTES, 'utf8');
  const innerHash = hash('sha256', buf.subarray(0, SHA256_BLOCK_BYTES + messageBytes), 'binary');
  buf.fill(0x5c, 0, SHA256_BLOCK_BYTES);
  for (let i = 0; i < key.length; i++) buf[i] = key.charCodeAt(i) ^ 0x5c;
  buf.write(innerHash, SHA256_BLOCK_BYTES, 'latin1');
  return hash('sha256', buf.subarray(0, SHA256_BLOCK_BYTES + SHA256_DIGEST_BYTES), encoding);
}

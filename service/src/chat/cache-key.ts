/**
 * The response cache key.
 *
 * It hashes everything that decides the answer: the normalised message, `PROMPT_VERSION` and the
 * system prompt text (so a prompt change never serves answers written for the old prompt), the
 * model, and the conversation
 * context (the earlier turns sent to the model; empty on a session's first turn). A follow-up such
 * as "and in French?" therefore never hits an answer from another conversation, while the same
 * first question from any user shares one entry.
 */
import { hash } from 'node:crypto';

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

/** Bumped when the key derivation itself changes, so old entries are simply never read again. */
export const CACHE_KEY_SCHEME = 'chat:v1:';

/**
 * Case, Unicode form and whitespace runs do not change a question's meaning, so they do not change
 * its key: NFKC, trim, collapse whitespace, lower case.
 */
export function normalizeMessage(message: string): string {
  return message.normalize('NFKC').trim().replace(/\s+/g, ' ').toLowerCase();
}

export function cacheKey(input: CacheKeyInput): string {
  // JSON framing makes the encoding unambiguous: no choice of message can imitate another
  // combination of prompt version, model and context.
  const material = JSON.stringify([
    input.promptVersion,
    input.systemPrompt,
    input.model,
    normalizeMessage(input.message),
    input.context.map((t) => [t.role, t.content]),
  ]);
  return CACHE_KEY_SCHEME + hash('sha256', material, 'base64url');
}

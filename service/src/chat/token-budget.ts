/**
 * The input side of the LLM budget: a token estimate, and the context trimmed to fit
 * LLM_CONTEXT_BUDGET_TOKENS.
 *
 * The estimate is one token per 3 UTF-8 bytes, plus 4 tokens per message for the chat framing
 * (role and separators). No tokenizer is bundled: the model is configurable, and a tokenizer for
 * the wrong model is no more exact. Against real BPE tokenizers (cl100k/o200k) the error is:
 * - English and other Latin-script text (about 4 bytes per token): overestimated by about a third,
 *   so less context is sent than would fit, never more;
 * - CJK text (3 bytes per character, about one token per character): close to exact;
 * - rare symbols and random bytes (down to one token per byte): underestimated up to 3 times.
 * The quota is settled from the provider's `usage`, so an estimate error moves how much context a
 * call carries, never what the quota counts. Worst cases: docs/cost.md.
 */
import type { ContextTurn } from './cache-key';

/** Tokens a chat message costs on top of its text (role, separators), as OpenAI documents it. */
export const MESSAGE_OVERHEAD_TOKENS = 4;

/** Bytes of UTF-8 per estimated token. */
export const BYTES_PER_TOKEN = 3;

export function estimateTextTokens(text: string): number {
  return Math.ceil(Buffer.byteLength(text, 'utf8') / BYTES_PER_TOKEN);
}

export function estimateMessageTokens(content: string): number {
  return estimateTextTokens(content) + MESSAGE_OVERHEAD_TOKENS;
}

export interface TrimmedContext {
  readonly context: ContextTurn[];
  /** Estimated input tokens of the whole call: system prompt, the kept turns, the message. */
  readonly estimatedTokens: number;
  /** Earlier turns left out to fit the budget. */
  readonly dropped: number;
}

/**
 * Keeps the newest turns whose estimate fits `budgetTokens` next to the system prompt and the
 * message. The system prompt and the message are always sent: the message is bounded by
 * LIMITS.maxMessageChars, so one call's input is at most max(budget, system + longest message).
 * A kept context starts with a user turn, so the model never sees an answer without its question.
 */
export function trimContextToBudget(
  systemPrompt: string,
  context: readonly ContextTurn[],
  message: string,
  budgetTokens: number,
): TrimmedContext {
  let total = estimateMessageTokens(systemPrompt) + estimateMessageTokens(message);
  let start = context.length;
  for (let i = context.length - 1; i >= 0; i--) {
    const turn = context[i] as ContextTurn;
    const cost = estimateMessageTokens(turn.content);
    if (total + cost > budgetTokens) break;
    total += cost;
    start = i;
  }
  while (start < context.length && (context[start] as ContextTurn).role !== 'user') {
    total -= estimateMessageTokens((context[start] as ContextTurn).content);
    start += 1;
  }
  return { context: context.slice(start), estimatedTokens: total, dropped: start };
}

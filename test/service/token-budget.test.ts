import fc from 'fast-check';
import { LIMITS } from '../../lib/contract';
import type { ContextTurn } from '../../service/src/chat/cache-key';
import { SYSTEM_PROMPT } from '../../service/src/chat/prompt';
import {
  estimateMessageTokens,
  estimateTextTokens,
  MESSAGE_OVERHEAD_TOKENS,
  trimContextToBudget,
} from '../../service/src/chat/token-budget';

const turn = (role: ContextTurn['role'], content: string): ContextTurn => ({ role, content });

describe('the context budget in tokens', () => {
  test('the estimate is one token per 3 UTF-8 bytes, plus the per-message framing', () => {
    expect(estimateTextTokens('')).toBe(0);
    expect(estimateTextTokens('abc')).toBe(1);
    expect(estimateTextTokens('abcd')).toBe(2);
    // Three bytes per CJK character: one token each.
    expect(estimateTextTokens('日本語')).toBe(3);
    expect(estimateMessageTokens('abc')).toBe(1 + MESSAGE_OVERHEAD_TOKENS);
  });

  test('the newest turns that fit are kept, the oldest left out, and the kept context starts with a question', () => {
    const context = [
      turn('user', 'q1 '.repeat(100)),
      turn('assistant', 'a1 '.repeat(100)),
      turn('user', 'q2 '.repeat(100)),
      turn('assistant', 'a2 '.repeat(100)),
    ];
    const base = estimateMessageTokens(SYSTEM_PROMPT) + estimateMessageTokens('now?');
    const each = estimateMessageTokens('q1 '.repeat(100));
    // Room for three turns: the third from the end is an answer, so it goes too.
    const trimmed = trimContextToBudget(SYSTEM_PROMPT, context, 'now?', base + 3 * each);
    expect(trimmed.context).toEqual(context.slice(2));
    expect(trimmed.dropped).toBe(2);
    expect(trimmed.estimatedTokens).toBe(base + 2 * each);
    // Room for everything: nothing is dropped.
    expect(trimContextToBudget(SYSTEM_PROMPT, context, 'now?', base + 4 * each).context).toEqual(context);
  });

  test('whatever the turns and the budget: within the budget, newest kept, a question first, the message always sent', () => {
    const turns = fc.array(
      fc.record({
        role: fc.constantFrom<ContextTurn['role']>('user', 'assistant'),
        content: fc.string({ maxLength: 300 }),
      }),
      { maxLength: 2 * LIMITS.contextTurns },
    );
    fc.assert(
      fc.property(
        turns,
        fc.string({ maxLength: 200 }),
        fc.integer({ min: 100, max: 3_000 }),
        (context, message, budget) => {
          const {
            context: kept,
            estimatedTokens,
            dropped,
          } = trimContextToBudget(SYSTEM_PROMPT, context, message, budget);
          const floor = estimateMessageTokens(SYSTEM_PROMPT) + estimateMessageTokens(message);
          expect(estimatedTokens).toBeLessThanOrEqual(Math.max(budget, floor));
          expect(kept).toEqual(context.slice(dropped));
          if (kept.length > 0) expect(kept[0]?.role).toBe('user');
          expect(estimatedTokens).toBe(floor + kept.reduce((sum, t) => sum + estimateMessageTokens(t.content), 0));
        },
      ),
      { seed: 20261202, numRuns: 300 },
    );
  });
});

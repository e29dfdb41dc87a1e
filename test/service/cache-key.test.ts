import fc from 'fast-check';
import { CACHE_KEY_SCHEME, type CacheKeyInput, cacheKey, normalizeMessage } from '../../service/src/chat/cache-key';

const base: CacheKeyInput = {
  message: 'What is the capital of France?',
  promptVersion: 'v1',
  systemPrompt: 'be brief',
  model: 'gpt-4o-mini',
  context: [],
};

describe('response cache key', () => {
  test('case, Unicode form and whitespace runs do not change the key', () => {
    const k = cacheKey(base);
    expect(cacheKey({ ...base, message: '  what IS the   capital of\tFrance?\n' })).toBe(k);
    // U+FF37 FULLWIDTH W normalises (NFKC) to W.
    expect(cacheKey({ ...base, message: '\uFF37hat is the capital of France?' })).toBe(k);
  });

  test('PROMPT_VERSION, the system prompt and the model are part of the key', () => {
    const k = cacheKey(base);
    expect(cacheKey({ ...base, promptVersion: 'v2' })).not.toBe(k);
    expect(cacheKey({ ...base, systemPrompt: 'be verbose' })).not.toBe(k);
    expect(cacheKey({ ...base, model: 'gpt-4o' })).not.toBe(k);
  });

  test('a follow-up is keyed by its conversation: same question, different context, different key', () => {
    const followUp = { ...base, message: 'and in French?' };
    const convA = cacheKey({ ...followUp, context: [{ role: 'user', content: 'Say hello' }] });
    const convB = cacheKey({ ...followUp, context: [{ role: 'user', content: 'Say goodbye' }] });
    const firstTurn = cacheKey(followUp);
    expect(new Set([convA, convB, firstTurn]).size).toBe(3);
  });

  test('a first turn (empty context) has the same key in every session', () => {
    expect(cacheKey({ ...base, context: [] })).toBe(cacheKey(base));
  });

  test('keys are deterministic, prefixed and fixed-length', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), (message, promptVersion, model) => {
        const input = { ...base, message, promptVersion, model };
        const k = cacheKey(input);
        return k === cacheKey(input) && k.startsWith(CACHE_KEY_SCHEME) && k.length === CACHE_KEY_SCHEME.length + 43;
      }),
    );
  });

  test('different (normalised message, prompt version, model, context) never share a key', () => {
    const turn = fc.record({ role: fc.constantFrom('user' as const, 'assistant' as const), content: fc.string() });
    const input = fc.record({
      message: fc.string(),
      promptVersion: fc.string(),
      systemPrompt: fc.constant('p'),
      model: fc.string(),
      context: fc.array(turn, { maxLength: 3 }),
    });
    fc.assert(
      fc.property(input, input, (a, b) => {
        const same =
          normalizeMessage(a.message) === normalizeMessage(b.message) &&
          a.promptVersion === b.promptVersion &&
          a.model === b.model &&
          JSON.stringify(a.context) === JSON.stringify(b.context);
        return same === (cacheKey(a) === cacheKey(b));
      }),
      { numRuns: 500 },
    );
  });

  test('a message cannot imitate another prompt version or model (unambiguous framing)', () => {
    const a = cacheKey({ ...base, promptVersion: 'v1', message: 'x' });
    const b = cacheKey({ ...base, promptVersion: 'v1","x', message: '' });
    expect(a).not.toBe(b);
  });
});

import { createHash, createHmac, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import {
  askerTag,
  CACHE_KEY_SCHEME,
  type CacheKeyInput,
  cacheKey,
  cacheKeyAndAsker,
  hmacSha256,
  normalizeMessage,
} from '../../service/src/chat/cache-key';

const base: CacheKeyInput = {
  message: 'What is the capital of France?',
  promptVersion: 'v1',
  systemPrompt: 'be brief',
  model: 'gpt-4o-mini',
  context: [],
};

describe('response cache key', () => {
  test('only canonical equivalence (NFC) and whitespace at the ends leave the key unchanged', () => {
    const k = cacheKey(base);
    expect(cacheKey({ ...base, message: '  What is the capital of France?\n' })).toBe(k);
    // "é" precomposed (U+00E9) and as "e" + U+0301 COMBINING ACUTE ACCENT are one text.
    const cafe = cacheKey({ ...base, message: 'Caf\u00e9 opening hours?' });
    expect(cacheKey({ ...base, message: 'Cafe\u0301 opening hours?' })).toBe(cafe);
  });

  test('every difference that can change meaning changes the key: case, compatibility characters, inner whitespace', () => {
    const key = (message: string) => cacheKey({ ...base, message });
    // Carbon monoxide is not cobalt.
    expect(key('What is the lethal dose of CO?')).not.toBe(key('What is the lethal dose of Co?'));
    // NFKC would fold the superscript: 2³ + 1 is 9, 23 + 1 is 24.
    expect(key('What is 2\u00b3 + 1?')).not.toBe(key('What is 23 + 1?'));
    // U+FF37 FULLWIDTH W is a different character.
    expect(key('\uFF37hat is the capital of France?')).not.toBe(key('What is the capital of France?'));
    // Indentation is meaning in Python.
    const code = (indent: string) => `Why does this fail?\nif x:\n${indent}print(x)\nprint(y)`;
    expect(key(code('    '))).not.toBe(key(code('')));
    expect(key('a  b')).not.toBe(key('a b'));
    expect(key('a\tb')).not.toBe(key('a b'));
  });

  test('the asker tag tells principals apart per key, without the sub, and is stable', () => {
    const tag = askerTag(base, 'alice');
    expect(askerTag(base, 'alice')).toBe(tag);
    expect(askerTag(base, 'bob')).not.toBe(tag);
    // One principal's tags for two questions cannot be linked.
    expect(askerTag({ ...base, message: 'Another question?' }, 'alice')).not.toBe(tag);
    expect(tag).not.toContain('alice');
    expect(tag).toMatch(/^[A-Za-z0-9_-]{22}$/);
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

describe('hmacSha256', () => {
  test('is byte for byte the HMAC-SHA-256 of node:crypto, for keys up to one block and any message', () => {
    for (const keyLength of [0, 1, 31, 32, 63, 64]) {
      for (const message of ['', 'user-123', 'üñíçødé sub ✓', 'x'.repeat(300)]) {
        const key = randomBytes(keyLength);
        expect(hmacSha256(key.toString('latin1'), message, 'hex')).toBe(
          createHmac('sha256', key).update(message).digest('hex'),
        );
      }
    }
  });

  test('refuses a key longer than one block (RFC 2104 would hash it first)', () => {
    expect(() => hmacSha256('x'.repeat(65), 'm', 'hex')).toThrow(/longer than one block/);
  });
});

test('askerTag is the HMAC-SHA-256 of the sub under a hash of the key material, cut to 128 bits', () => {
  const material = JSON.stringify([base.promptVersion, base.systemPrompt, base.model, base.message.trim(), []]);
  const tagKey = createHash('sha256').update('asker-tag\0').update(material).digest();
  const expected = createHmac('sha256', tagKey).update('alice').digest('base64url').slice(0, 22);
  expect(askerTag(base, 'alice')).toBe(expected);
});

test('cacheKeyAndAsker (one serialization of the material) gives exactly cacheKey and askerTag', () => {
  const turn = fc.record({ role: fc.constantFrom('user' as const, 'assistant' as const), content: fc.string() });
  const input = fc.record({
    message: fc.string(),
    promptVersion: fc.string(),
    systemPrompt: fc.string(),
    model: fc.string(),
    context: fc.array(turn, { maxLength: 3 }),
  });
  fc.assert(
    fc.property(input, fc.string(), (i, sub) => {
      const both = cacheKeyAndAsker(i, sub);
      return both.key === cacheKey(i) && both.asker === askerTag(i, sub);
    }),
    { numRuns: 300 },
  );
});

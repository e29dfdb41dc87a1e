/**
 * What the cache's privacy rules cost in hit rate, measured on the gate's own traffic:
 *
 * 1. The key (issue 22, finding 1): the corpus's questions keyed as before (NFKC, case folded,
 *    whitespace runs collapsed) and as now (NFC, ends trimmed). A question that shared a key with
 *    another only through that folding is a hit lost.
 * 2. The share threshold (CACHE_SHARE_AFTER_PRINCIPALS): the smoke profile's mix (the same
 *    `planChatRequest` the k6 suite runs, after `setup()`'s priming) through the service's own
 *    RedisCache against a real redis-server with AUTH, once as the gate runs it (one machine
 *    principal) and once with each VU as its own principal (five users), at thresholds 1 and 3.
 *
 * Usage: npx tsx scripts/cache-hit-cost.ts
 * Prints a table; docs/service.md and docs/loadtests.md quote it. Deterministic for a given corpus
 * (the mix is seeded by the run id, fixed here).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GATE_PROFILE_SPECS } from '../lib/contract/gate-profiles';
import {
  type Corpus,
  nextSession,
  type PlannedRequest,
  planChatRequest,
  primedQuestions,
  type SessionState,
} from '../loadtests/src/lib/corpus';
import { RedisCache } from '../service/src/cache/redis-cache';
import {
  askerTag,
  type CacheKeyInput,
  type ContextTurn,
  cacheKey,
  normalizeMessage,
} from '../service/src/chat/cache-key';
import { startRedis } from './harness';

const corpus = JSON.parse(
  readFileSync(join(__dirname, '..', 'loadtests', 'corpus', 'questions.json'), 'utf8'),
) as Corpus;

/** The key's message normalisation before issue 22; kept here only as this measurement's baseline. */
const foldedBefore = (message: string) => message.normalize('NFKC').trim().replace(/\s+/g, ' ').toLowerCase();

/** Weighted hit rate of a stream in which each popular question is asked `weight` times, per normaliser. */
function popularHitRate(normalize: (m: string) => string): { keys: number; hitRate: number } {
  const seen = new Set<string>();
  let asks = 0;
  let hits = 0;
  for (const q of corpus.popular) {
    for (let i = 0; i < q.weight; i++) {
      const key = normalize(q.text);
      asks += 1;
      if (seen.has(key)) hits += 1;
      seen.add(key);
    }
  }
  return { keys: new Set(corpus.popular.map((q) => normalize(q.text))).size, hitRate: hits / asks };
}

/** Texts of the whole corpus that shared a key with another text only through the old folding. */
function foldedCollisions(): string[] {
  const texts = [...corpus.popular.map((q) => q.text), ...corpus.longTail, ...corpus.followUps, ...corpus.freshTopics];
  const byFolded = new Map<string, Set<string>>();
  for (const t of texts) {
    const group = byFolded.get(foldedBefore(t)) ?? new Set<string>();
    group.add(normalizeMessage(t));
    byFolded.set(foldedBefore(t), group);
  }
  return [...byFolded.values()].filter((g) => g.size > 1).flatMap((g) => [...g]);
}

interface MixResult {
  readonly popularHitRate: number;
  readonly mainHitRate: number;
  readonly popular: number;
  readonly main: number;
}

const RUN_ID = 'rcachecost1';

/** The smoke mix through the real cache: priming by the gate, then the main scenario, in order. */
async function smokeMix(cache: RedisCache, shareAfterPrincipals: number, principalOf: (vu: number) => string) {
  const spec = GATE_PROFILE_SPECS.smoke;
  if (spec.main.executor !== 'shared-iterations')
    throw new Error('the smoke profile changed shape; update this script');
  const { vus, iterations } = spec.main;
  const policy = { shareAfterPrincipals, ttlSeconds: 600 };
  // The same mix for every case (seeded by the run id); keys of their own (the prompt version).
  const runId = RUN_ID;
  const promptVersion = `cost-${shareAfterPrincipals}-${principalOf(1)}`;
  const input = (message: string, context: readonly ContextTurn[]): CacheKeyInput => ({
    message,
    promptVersion,
    systemPrompt: 'measure',
    model: 'm',
    context,
  });
  /** One turn: lookup, and on a miss the deterministic "answer" stored (as the fake LLM answers). */
  const turn = async (sub: string, message: string, context: readonly ContextTurn[]) => {
    const keyInput = input(message, context);
    const key = cacheKey(keyInput);
    const asker = askerTag(keyInput, sub);
    const hit = await cache.lookup(key, asker, policy);
    const reply = hit ?? `answer to ${message} after ${context.length} turns`;
    if (hit === null) await cache.remember(key, asker, reply, policy);
    return { hit: hit !== null, reply };
  };

  // setup(): the gate's principal primes every popular question once.
  for (const q of primedQuestions(corpus, runId)) await turn('gate-machine-client', q, []);

  // shared-iterations: VUs take iterations in turn; each VU keeps its session (context) between them.
  const sessions = new Map<number, { state: SessionState; context: ContextTurn[] }>();
  let popular = 0;
  let popularHits = 0;
  let hits = 0;
  for (let i = 0; i < iterations; i++) {
    const vuId = (i % vus) + 1;
    const vuIteration = Math.floor(i / vus);
    const held = sessions.get(vuId);
    const request: PlannedRequest = planChatRequest({
      corpus,
      runId,
      vuId,
      vuIteration,
      ...(held ? { session: held.state } : {}),
    });
    const context = request.kind === 'followup' && held ? held.context : [];
    const { hit, reply } = await turn(principalOf(vuId), request.message, context);
    if (hit) hits += 1;
    if (request.kind === 'popular') {
      popular += 1;
      if (hit) popularHits += 1;
    }
    const sessionId = request.kind === 'followup' && held ? held.state.id : `s-${vuId}-${vuIteration}`;
    const state = nextSession(held?.state, request, sessionId);
    if (state) {
      const turns: ContextTurn[] = [
        ...context,
        { role: 'user', content: request.message },
        { role: 'assistant', content: reply },
      ];
      sessions.set(vuId, { state, context: turns });
    } else sessions.delete(vuId);
  }
  return { popularHitRate: popularHits / popular, mainHitRate: hits / iterations, popular, main: iterations };
}

const pct = (r: number) => `${(r * 100).toFixed(1)}%`;

async function main(): Promise<void> {
  const before = popularHitRate(foldedBefore);
  const now = popularHitRate(normalizeMessage);
  const collisions = foldedCollisions();
  console.log('1. The key, on the corpus (loadtests/corpus/questions.json)');
  console.log(
    `   popular questions asked by weight: keys ${before.keys} -> ${now.keys}, hit rate ${pct(before.hitRate)} -> ${pct(now.hitRate)} (cost ${((before.hitRate - now.hitRate) * 100).toFixed(1)} points)`,
  );
  console.log(
    `   corpus texts that shared a key only through case/NFKC/whitespace folding: ${collisions.length}${collisions.length ? ` (${collisions.join(' | ')})` : ''}`,
  );

  const redis = await startRedis({});
  const cache = new RedisCache({ host: redis.host, port: redis.port, tls: false, authToken: redis.password as string });
  try {
    await cache.ping();
    console.log('2. The share threshold, on the smoke mix (after setup() primed the popular questions as the gate)');
    console.log('   principals                 threshold  popular hits     all main requests');
    for (const [label, principalOf] of [
      ['the gate (one principal)', () => 'gate-machine-client'],
      ['five users (one per VU)', (vu: number) => `user-${vu}`],
    ] as const) {
      for (const threshold of [1, 3]) {
        const r: MixResult = await smokeMix(cache, threshold, principalOf);
        console.log(
          `   ${label.padEnd(26)} ${String(threshold).padStart(9)}  ${pct(r.popularHitRate).padStart(6)} of ${r.popular}     ${pct(r.mainHitRate).padStart(6)} of ${r.main}`,
        );
      }
    }
  } finally {
    await cache.close();
    await redis.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

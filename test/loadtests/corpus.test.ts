import { RUN_ID_PATTERN } from '../../lib/contract/gate';
import { GATE_MAX_PRIMED_QUESTIONS } from '../../lib/contract/gate-profiles';
import { LIMITS } from '../../lib/contract/http';
import corpusJson from '../../loadtests/corpus/questions.json';
import {
  type Corpus,
  freshPrompt,
  freshRoute,
  generateRunId,
  MAX_SESSION_TURNS,
  nextSession,
  type PlannedRequest,
  planChatRequest,
  primedQuestion,
  primedQuestions,
  type SessionState,
} from '../../loadtests/src/lib/corpus';

const corpus: Corpus = corpusJson;
const RUN = 'run-abc123';

/** Simulates one VU of the main scenario: k iterations, each answered with a session id. */
function simulateVu(vuId: number, iterations: number, runId = RUN): PlannedRequest[] {
  const plans: PlannedRequest[] = [];
  let session: SessionState | undefined;
  for (let i = 0; i < iterations; i++) {
    const plan = planChatRequest({ corpus, runId, vuId, vuIteration: i, ...(session ? { session } : {}) });
    plans.push(plan);
    // The service answers in the requested session, or opens a new one.
    session = nextSession(session, plan, plan.sessionId ?? `s-${vuId}-${i}`);
  }
  return plans;
}

describe('the question corpus', () => {
  test('has a popular head, a long tail at least five times larger, follow-ups and fresh topics', () => {
    expect(corpus.popular.length).toBeGreaterThanOrEqual(5);
    // The request bound the synth-time quota relation counts on (gateChatRequestsPerTarget).
    expect(corpus.popular.length).toBeLessThanOrEqual(GATE_MAX_PRIMED_QUESTIONS);
    expect(corpus.longTail.length).toBeGreaterThanOrEqual(5 * corpus.popular.length);
    expect(corpus.followUps.length).toBeGreaterThanOrEqual(5);
    expect(corpus.freshTopics.length).toBeGreaterThanOrEqual(5);
  });

  test('every question is distinct, non-empty and well inside the service message limit', () => {
    const all = [...corpus.popular.map((q) => q.text), ...corpus.longTail, ...corpus.followUps, ...corpus.freshTopics];
    expect(new Set(all.map((q) => q.trim().toLowerCase())).size).toBe(all.length);
    for (const q of all) {
      expect(q.trim()).not.toBe('');
      expect(q.length).toBeLessThan(LIMITS.maxMessageChars / 10);
    }
  });

  test('popular weights are positive and skewed: the top question outweighs the last several times', () => {
    const weights = corpus.popular.map((q) => q.weight);
    expect(weights.every((w) => w > 0)).toBe(true);
    expect(weights[0]).toBeGreaterThanOrEqual(5 * (weights[weights.length - 1] as number));
  });
});

describe('the chat mix', () => {
  test('every VU asks a primed popular question on every other iteration, whatever its id', () => {
    for (let vuId = 1; vuId <= 30; vuId++) {
      for (const iterations of [1, 2, 3, 4, 5, 17]) {
        const popular = simulateVu(vuId, iterations).filter((p) => p.kind === 'popular').length;
        expect(popular).toBeGreaterThanOrEqual(Math.floor(iterations / 2));
      }
    }
  });

  test('over many iterations: half popular, about 30% long tail, 20% follow-ups, 20% streamed', () => {
    const plans = Array.from({ length: 50 }, (_, v) => simulateVu(v + 1, 20)).flat();
    const share = (pred: (p: PlannedRequest) => boolean) => plans.filter(pred).length / plans.length;
    expect(share((p) => p.kind === 'popular')).toBeCloseTo(0.5, 2);
    expect(share((p) => p.kind === 'followup')).toBeGreaterThan(0.15);
    expect(share((p) => p.kind === 'tail')).toBeGreaterThan(0.25);
    expect(share((p) => p.route === 'stream')).toBeCloseTo(0.2, 2);
  });

  test('popular questions follow their weights (sampled 20 000 times)', () => {
    const counts = new Map<string, number>();
    let n = 0;
    for (let vuId = 1; vuId <= 400; vuId++) {
      for (const p of simulateVu(vuId, 100, `dist-${vuId % 7}`)) {
        if (p.kind !== 'popular') continue;
        counts.set(p.message, (counts.get(p.message) ?? 0) + 1);
        n++;
      }
    }
    const total = corpus.popular.reduce((s, q) => s + q.weight, 0);
    for (const q of corpus.popular) {
      const observed = [...counts.entries()].filter(([m]) => m.startsWith(q.text)).reduce((s, [, c]) => s + c, 0);
      // Within 20% of the expected share (a few standard deviations at these sample sizes).
      expect(Math.abs(observed / n - q.weight / total)).toBeLessThan(0.2 * (q.weight / total) + 0.005);
    }
  });

  test('the long tail is spread out: no single tail question takes more than 5% of tail requests', () => {
    const tail = Array.from({ length: 200 }, (_, v) => simulateVu(v + 1, 20))
      .flat()
      .filter((p) => p.kind === 'tail');
    const counts = new Map<string, number>();
    for (const p of tail) counts.set(p.message, (counts.get(p.message) ?? 0) + 1);
    expect(counts.size).toBeGreaterThan(corpus.longTail.length * 0.9);
    expect(Math.max(...counts.values()) / tail.length).toBeLessThan(0.05);
  });

  test('popular questions are asked as this run primed them, with no session (an empty cache context)', () => {
    const primed = new Set(primedQuestions(corpus, RUN));
    for (const p of simulateVu(3, 40).filter((p) => p.kind === 'popular')) {
      expect(primed.has(p.message)).toBe(true);
      expect(p.sessionId).toBeUndefined();
    }
  });

  test('primed questions differ between runs, so no earlier run or other version can have cached them', () => {
    const a = primedQuestions(corpus, 'run-a');
    const b = primedQuestions(corpus, 'run-b');
    expect(a.filter((q) => b.includes(q))).toEqual([]);
    expect(primedQuestion('run-a', 'Hi?')).toContain('run-a');
  });

  test('multi-turn: follow-ups continue the previous answer session, for at most MAX_SESSION_TURNS turns', () => {
    for (let vuId = 1; vuId <= 20; vuId++) {
      let session: SessionState | undefined;
      for (let i = 0; i < 40; i++) {
        const plan = planChatRequest({ corpus, runId: RUN, vuId, vuIteration: i, ...(session ? { session } : {}) });
        if (plan.kind === 'followup') {
          expect(session).toBeDefined();
          expect(plan.sessionId).toBe(session?.id);
          expect(corpus.followUps).toContain(plan.message);
          expect(session?.turns).toBeLessThan(MAX_SESSION_TURNS);
        } else {
          expect(plan.sessionId).toBeUndefined();
        }
        session = nextSession(session, plan, plan.sessionId ?? `s-${vuId}-${i}`);
      }
    }
    const withFollowUps = simulateVu(2, 10).filter((p) => p.kind === 'followup');
    expect(withFollowUps.length).toBeGreaterThan(0);
  });

  test('a follow-up slot with no session to continue opens one with a long-tail question', () => {
    const first = Array.from({ length: 10 }, (_, v) =>
      planChatRequest({ corpus, runId: RUN, vuId: v + 1, vuIteration: 0 }),
    );
    expect(first.some((p) => p.kind === 'followup')).toBe(false);
  });

  test('the mix is deterministic for a run, so a failed gate can be replayed', () => {
    expect(simulateVu(7, 12, 'replay')).toEqual(simulateVu(7, 12, 'replay'));
    expect(simulateVu(7, 12, 'replay')).not.toEqual(simulateVu(7, 12, 'other'));
  });
});

describe('run-unique prompts', () => {
  test('are unique per request and per run, and never a corpus or primed question', () => {
    const seen = new Set<string>();
    const known = new Set([
      ...primedQuestions(corpus, RUN),
      ...corpus.longTail,
      ...corpus.followUps,
      ...corpus.popular.map((q) => q.text),
    ]);
    for (const runId of [RUN, 'run-abc1234', 'other']) {
      for (let i = 0; i < 500; i++) {
        const prompt = freshPrompt(corpus, runId, i);
        expect(seen.has(prompt)).toBe(false);
        expect(known.has(prompt)).toBe(false);
        seen.add(prompt);
      }
    }
  });

  test('alternate between the JSON and the streaming route', () => {
    const routes = Array.from({ length: 10 }, (_, i) => freshRoute(i));
    expect(routes.filter((r) => r === 'stream')).toHaveLength(5);
  });

  test('generated run ids fit the contract id pattern and differ', () => {
    const ids = Array.from({ length: 100 }, (_, i) => generateRunId(1_800_000_000_000 + i, Math.random));
    for (const id of ids) expect(id).toMatch(RUN_ID_PATTERN);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

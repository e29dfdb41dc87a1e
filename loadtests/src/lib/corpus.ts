/**
 * The chat mix: which question each iteration asks, on which route, in which session.
 *
 * The choice is deterministic for a run (seeded by RUN_ID, VU and iteration), so a failing gate can
 * be replayed, and the shares the thresholds rely on are guaranteed, not just likely: every other
 * iteration of a VU asks a primed popular question, which is what makes the hit-rate guard's
 * minimum count certain (see `plan.ts`).
 */
import type { RequestKind, RouteKind } from './metrics';

export interface Corpus {
  readonly popular: ReadonlyArray<{ readonly text: string; readonly weight: number }>;
  readonly longTail: readonly string[];
  readonly followUps: readonly string[];
  readonly freshTopics: readonly string[];
}

/** One slot per iteration of a VU's cycle: popular on even slots (50%), streaming on 2 of 10 (20%). */
export const MIX_CYCLE: ReadonlyArray<{ readonly kind: 'popular' | 'tail' | 'followup'; readonly route: RouteKind }> = [
  { kind: 'popular', route: 'chat' },
  { kind: 'tail', route: 'chat' },
  { kind: 'popular', route: 'chat' },
  { kind: 'followup', route: 'chat' },
  { kind: 'popular', route: 'stream' },
  { kind: 'tail', route: 'chat' },
  { kind: 'popular', route: 'chat' },
  { kind: 'followup', route: 'chat' },
  { kind: 'popular', route: 'chat' },
  { kind: 'tail', route: 'stream' },
];

/** A session is continued for at most this many turns, then the VU starts a new one. */
export const MAX_SESSION_TURNS = 4;

/** A VU's conversation so far (k6 keeps module state per VU across iterations). */
export interface SessionState {
  readonly id: string;
  readonly turns: number;
}

export interface PlannedRequest {
  readonly kind: RequestKind;
  readonly route: RouteKind;
  readonly message: string;
  /** Present for follow-ups: the session to continue. */
  readonly sessionId?: string;
}

export interface MixInput {
  readonly corpus: Corpus;
  readonly runId: string;
  /** `exec.vu.idInTest` (1-based). */
  readonly vuId: number;
  /** `exec.vu.iterationInScenario` (0-based). */
  readonly vuIteration: number;
  readonly session?: SessionState;
}

/** The next request of a VU in the main scenario. */
export function planChatRequest(input: MixInput): PlannedRequest {
  const { corpus, runId, vuId, vuIteration, session } = input;
  // VUs start at different points of the cycle, so a run with 2 iterations per VU still mixes kinds.
  // The cycle length is even, so any offset keeps "popular on every other iteration".
  const slot = MIX_CYCLE[(vuIteration + vuId * 3) % MIX_CYCLE.length] as (typeof MIX_CYCLE)[number];
  const rng = seededRandom(`${runId}:${vuId}:${vuIteration}`);
  if (slot.kind === 'popular') {
    return { kind: 'popular', route: slot.route, message: primedQuestion(runId, pickWeighted(corpus.popular, rng)) };
  }
  if (slot.kind === 'followup' && session && session.turns < MAX_SESSION_TURNS) {
    return { kind: 'followup', route: slot.route, message: pick(corpus.followUps, rng), sessionId: session.id };
  }
  // A follow-up slot with no session to continue opens one with a long-tail question instead.
  return { kind: 'tail', route: slot.route, message: pick(corpus.longTail, rng) };
}

/** The session a VU holds after an answer: follow-ups continue it, any other question starts a new one. */
export function nextSession(
  previous: SessionState | undefined,
  request: PlannedRequest,
  answeredSessionId: string | undefined,
): SessionState | undefined {
  if (!answeredSessionId) return request.kind === 'followup' ? previous : undefined;
  if (request.kind === 'followup' && previous && previous.id === answeredSessionId) {
    return { id: previous.id, turns: previous.turns + 1 };
  }
  return { id: answeredSessionId, turns: 1 };
}

/**
 * The popular questions as this run asks them: scoped by RUN_ID so `setup()` primes keys no earlier
 * run or other version can have cached. A HIT on them later proves this version's cache writes and
 * reads, not a leftover entry.
 */
export function primedQuestion(runId: string, text: string): string {
  return `${text} [gate run ${runId}]`;
}

export function primedQuestions(corpus: Corpus, runId: string): string[] {
  return corpus.popular.map((q) => primedQuestion(runId, q.text));
}

/** A prompt unique to the run and the request: `sequence` is k6's `exec.scenario.iterationInTest`. */
export function freshPrompt(corpus: Corpus, runId: string, sequence: number): string {
  const topic = corpus.freshTopics[sequence % corpus.freshTopics.length] as string;
  return `${topic} (gate run ${runId}, probe ${sequence})`;
}

/** Fresh prompts alternate between the JSON and the streaming route: both LLM paths are proven. */
export function freshRoute(sequence: number): RouteKind {
  return sequence % 2 === 0 ? 'chat' : 'stream';
}

/** A run id when RUN_ID is absent: time plus randomness, within the contract's id pattern. */
export function generateRunId(nowMs: number, random: () => number): string {
  const suffix = Math.floor(random() * 36 ** 6)
    .toString(36)
    .padStart(6, '0');
  return `r${nowMs.toString(36)}${suffix}`;
}

function pick<T>(items: readonly T[], rng: () => number): T {
  return items[Math.floor(rng() * items.length) % items.length] as T;
}

function pickWeighted(items: Corpus['popular'], rng: () => number): string {
  const total = items.reduce((sum, q) => sum + q.weight, 0);
  let r = rng() * total;
  for (const q of items) {
    r -= q.weight;
    if (r < 0) return q.text;
  }
  return (items[items.length - 1] as Corpus['popular'][number]).text;
}

/** mulberry32 seeded with FNV-1a of the key: small, fast, and identical under Node and k6. */
export function seededRandom(key: string): () => number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  let state = h >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

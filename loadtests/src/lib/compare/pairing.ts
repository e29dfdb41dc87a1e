/**
 * How one planned request becomes a pair: the same question for the baseline and the candidate,
 * scoped to its target where the shared cache could otherwise bias the comparison, and sent in an
 * order drawn per pair.
 *
 * Blue and green share one cache in AWS. If both targets asked the very same primed question, the
 * first one's write would serve the other, and a candidate that never writes would pass; if both
 * asked the same run-unique prompt, whichever came second would get a HIT. So every question that
 * must HIT (primed) or must MISS (the long tail, fresh prompts) carries the target's letter: each
 * target primes and reads its own keys, and the two prompts of a pair differ by one character, which
 * costs the LLM the same.
 */
import { seededRandom } from '../corpus';
import type { RequestKind } from '../metrics';

export type PairTarget = 'baseline' | 'candidate';

const LETTER: Readonly<Record<PairTarget, string>> = { baseline: 'b', candidate: 'c' };

/** The question as `target` is asked it. Follow-ups are already distinct: each target has its own session. */
export function scopeMessage(kind: RequestKind, message: string, runId: string, target: PairTarget): string {
  if (kind === 'followup') return message;
  const scoped = kind === 'tail' ? `${message} [gate run ${runId}]` : message;
  return `${scoped} (${LETTER[target]})`;
}

/** The order of one pair (both are sent at once; the first one in the batch goes out first). */
export function pairOrder(runId: string, sequence: string | number): readonly [PairTarget, PairTarget] {
  return seededRandom(`${runId}:order:${sequence}`)() < 0.5 ? ['baseline', 'candidate'] : ['candidate', 'baseline'];
}

/**
 * Collects one turn's time per dependency for the `Server-Timing` header (see
 * `lib/contract/server-timing.ts`). A plain accumulator: the chat service wraps each dependency call
 * in `time()`, the route writes the header.
 */
import { performance } from 'node:perf_hooks';
import { formatServerTiming, SERVER_TIMING_METRICS } from '../../../lib/contract';

export type TimedPart = 'llm' | 'db' | 'cache';

export class ServerTiming {
  private readonly spentMs: Partial<Record<TimedPart, number>> = {};
  /** The turn starts when the route's handler does (the body has been read and validated). */
  private readonly startedAt = performance.now();

  add(part: TimedPart, ms: number): void {
    this.spentMs[part] = (this.spentMs[part] ?? 0) + ms;
  }

  /**
   * Runs `operation` and adds its duration to `part`, whether it succeeds or throws (synchronously
   * or not). Not an `async` function: on the hot path that saved an extra promise and await per call.
   */
  time<T>(part: TimedPart, operation: () => Promise<T>): Promise<T> {
    const started = performance.now();
    const done = () => this.add(part, performance.now() - started);
    let pending: Promise<T>;
    try {
      pending = operation();
    } catch (err) {
      done();
      return Promise.reject(err);
    }
    return pending.then(
      (value) => {
        done();
        return value;
      },
      (err: unknown) => {
        done();
        throw err;
      },
    );
  }

  /** The header value; `total` is left out when the header goes out before the turn ends (streams). */
  header(options: { readonly total: boolean }): string {
    const m = SERVER_TIMING_METRICS;
    return formatServerTiming({
      [m.cache]: this.spentMs.cache,
      [m.db]: this.spentMs.db,
      [m.llm]: this.spentMs.llm,
      ...(options.total ? { [m.total]: performance.now() - this.startedAt } : {}),
    });
  }
}

/**
 * `Server-Timing` (W3C Server Timing, RFC 8941-style `name;dur=12.3`) on every chat answer: how the
 * turn's time split between the LLM, the database and the cache, and the total the service spent.
 * The gate uses it to judge the service's own time on a miss (`total − llm`) apart from the
 * provider's, whose latency varies far more than the service does.
 *
 *   Server-Timing: cache;dur=0.41, db;dur=2.87, llm;dur=512.3, total;dur=517.9
 *
 * Durations are milliseconds. `llm`, `db` and `cache` are each the sum of that dependency's calls in
 * the turn (the insert and the cache write run in parallel, so the parts may add up to more than
 * `total`). `total` runs from the start of the route's handler (body read and validated) to the moment the
 * headers are written.
 */

/** The metric names the service sends. */
export const SERVER_TIMING_METRICS = {
  /** LLM calls, retries and their back-off included. Absent on a cache hit. */
  llm: 'llm',
  /** Postgres: the session's context read and the turn's insert. */
  db: 'db',
  /** The cache lookup and, on a miss, the cache write. */
  cache: 'cache',
  /**
   * The whole turn as the service saw it. On the JSON route it is present; on the stream route the
   * header is written before the first token, so it carries only what the lookup took (no `llm`,
   * no `total`).
   */
  total: 'total',
} as const;

export type ServerTimingMetric = (typeof SERVER_TIMING_METRICS)[keyof typeof SERVER_TIMING_METRICS];

/** `name;dur=ms` entries, comma separated, milliseconds rounded to 0.01. */
export function formatServerTiming(entries: Readonly<Partial<Record<string, number>>>): string {
  // Built in one pass: it runs on every chat answer.
  let out = '';
  for (const name in entries) {
    const ms = entries[name];
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) continue;
    out += `${out === '' ? '' : ', '}${name};dur=${Math.round(ms * 100) / 100}`;
  }
  return out;
}

/**
 * Reads `dur` per metric name from a `Server-Timing` value (several headers joined by commas are
 * fine). Unknown parameters (`desc`) and entries without `dur` are ignored; the first entry of a
 * name wins, as the specification says.
 */
export function parseServerTiming(value: string | undefined | null): Record<string, number> {
  const out: Record<string, number> = {};
  if (!value) return out;
  for (const entry of value.split(',')) {
    const [rawName, ...params] = entry.split(';');
    const name = rawName?.trim();
    if (!name || name in out) continue;
    for (const param of params) {
      const eq = param.indexOf('=');
      if (eq === -1 || param.slice(0, eq).trim().toLowerCase() !== 'dur') continue;
      const dur = Number(
        param
          .slice(eq + 1)
          .trim()
          .replace(/^"|"$/g, ''),
      );
      if (Number.isFinite(dur) && dur >= 0) out[name] = dur;
      break;
    }
  }
  return out;
}

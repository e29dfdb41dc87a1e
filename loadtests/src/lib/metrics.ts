/**
 * The k6 metrics the gate records, and the tags it puts on them. The thresholds, the k6 glue and the
 * report builders all use these names, so a renamed metric cannot leave a threshold watching nothing
 * (k6 would pass a Rate threshold that never receives a sample).
 */

export const GATE_K6_METRICS = {
  /** Counter: every chat request sent during the load (tags: scenario, kind, route). The no-data guard. */
  requests: 'chat_requests',
  /** Rate: answered 200 with a well-formed reply (JSON, or an SSE stream that ended with `done`). */
  success: 'chat_success',
  /** Trend (ms): duration of successful chat requests, full body received (tags: scenario, kind, cache). */
  latency: 'chat_latency',
  /** Rate: a request for a question primed in `setup()` was answered from the cache. */
  cacheHit: 'chat_cache_hit',
  /** Rate: a prompt unique to this run was NOT answered from the cache (it cannot be in there). */
  freshUncached: 'chat_fresh_uncached',
  /** Rate: the response carried `x-app-version` equal to `EXPECTED_VERSION`. */
  versionMatch: 'chat_version_match',
  /**
   * Trend (ms): time to first token of successful streamed answers, as the client sees it: k6's time
   * to first byte, which the service makes the first token (the contract's SSE_EVENTS).
   */
  ttft: 'chat_ttft',
  /** Trend: LLM tokens (input + output) each successful answer reports in `usage` (0 for a hit). */
  llmTokens: 'chat_llm_tokens',
  /**
   * Trend (ms): the service's database time per successful answer (`Server-Timing` `db`: a JSON
   * answer's header, a stream's `done` event), when it reports one.
   */
  db: 'chat_db',
  /**
   * Trend: token events per second of a successful stream after its first token (its events after
   * the first, over the time from the first byte to the last): the seeds' event throughput.
   */
  streamEventsPerSecond: 'chat_stream_events_per_s',
  /** Counter: responses whose version was checked, the guard of {@link GATE_K6_METRICS.versionMatch}. */
  versionChecked: 'chat_version_checked',
} as const;

/** k6's built-in rate of passed `check()` assertions. */
export const K6_CHECKS_METRIC = 'checks';

/**
 * What a request is for. `popular`: a popular question primed in `setup()` (must be a cache HIT);
 * `tail`: a long-tail question (whatever the cache holds); `followup`: a later turn of a session
 * (its context makes it a different cache key); `fresh`: a prompt unique to this run (must MISS).
 */
export const REQUEST_KINDS = ['popular', 'tail', 'followup', 'fresh'] as const;
export type RequestKind = (typeof REQUEST_KINDS)[number];

/** `chat` is the JSON route, `stream` the server-sent-events route. */
export type RouteKind = 'chat' | 'stream';

/** The `scenario` name of the run-unique prompt traffic in every profile. */
export const FRESH_SCENARIO = 'fresh';

/** The `scenario` name of the concurrent streams of the profiles that have them (`ProfileSpec.streams`). */
export const STREAMS_SCENARIO = 'streams';

/** Trend columns in the summary; p(95) feeds the report and the EMF line. */
export const SUMMARY_TREND_STATS = ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)', 'count'];

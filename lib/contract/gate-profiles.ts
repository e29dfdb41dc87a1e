/**
 * Gate profiles: the traffic shape of each gate and the targets its thresholds enforce, side by side.
 *
 * Every profile has two k6 scenarios: the main one (named after the profile) sends the chat mix
 * (popular questions primed in `setup()`, a long tail, follow-up turns, a share of streaming), and
 * `fresh` sends prompts unique to the run, which no cache can hold. Blue and green share the cache,
 * so without `fresh` a green with a broken LLM path could pass on answers blue cached.
 *
 * The seeds' five scenarios (docs/loadtests.md, "The seeds' success criteria") keep their users,
 * request counts and targets exactly: success rate, average latency, cache hit rate. The seeds
 * counted "requests" per concurrent user ("5 concurrent users, 4 requests each"), hence
 * `per-vu-iterations`.
 */
import type { GateProfile } from './gate';

/** A k6 executor with its parameters; durations in seconds, rates per minute (k6 `timeUnit: '1m'`). */
export type TrafficShape =
  | {
      readonly executor: 'per-vu-iterations';
      readonly vus: number;
      /** Iterations (= chat requests) per VU. */
      readonly iterations: number;
      readonly maxDurationSeconds: number;
    }
  | {
      readonly executor: 'shared-iterations';
      readonly vus: number;
      /** Iterations (= chat requests) shared by all VUs. */
      readonly iterations: number;
      readonly maxDurationSeconds: number;
    }
  | {
      readonly executor: 'constant-arrival-rate';
      readonly ratePerMinute: number;
      readonly durationSeconds: number;
      readonly preAllocatedVUs: number;
      readonly maxVUs: number;
    }
  | {
      readonly executor: 'ramping-arrival-rate';
      readonly startRatePerMinute: number;
      readonly stages: ReadonlyArray<{ readonly durationSeconds: number; readonly targetRatePerMinute: number }>;
      readonly preAllocatedVUs: number;
      readonly maxVUs: number;
    };

/** What a profile demands of the version under test. Rates are fractions (0..1), latencies in ms. */
export interface ProfileTargets {
  /** Main-scenario requests answered 200 with a well-formed reply: the observed rate must be greater. */
  readonly minSuccessRate: number;
  /** Average latency of successful main-scenario requests must be below. @default no limit */
  readonly maxAvgLatencyMs?: number;
  /** p95 latency of successful main-scenario requests must be below. @default no limit */
  readonly maxP95LatencyMs?: number;
  /** p95 latency of cache HITs must be below: a cached answer costs no LLM call. @default no limit */
  readonly maxCacheHitP95LatencyMs?: number;
  /** Requests for primed popular questions answered from the cache: the observed rate must be greater. */
  readonly minCacheHitRate: number;
  /**
   * p95 of the time to first token of the run-unique streamed prompts (client-side first byte, which
   * the service makes its first token): what a person waits for before text moves. Must be below.
   */
  readonly maxTtftP95Ms: number;
  /**
   * The most LLM tokens (input + output, from `usage`) any run-unique prompt may cost: a first turn
   * is the system prompt and a short question plus an answer of at most LLM_MAX_OUTPUT_TOKENS
   * (1024 by default). Must be at most. Judges the bill when there is no baseline to compare with.
   */
  readonly maxTokensPerAnswer: number;
  /**
   * Median of the service's database time per answer (`Server-Timing` `db`, main scenario): the
   * seeds' "database queries under 50 ms" ({@link MAX_DB_MEDIAN_MS}). Must be below.
   */
  readonly maxDbMedianMs: number;
  /**
   * Share of the planned main requests that must have been sent and answered. 1 for fixed request
   * counts; arrival-rate executors may drop an iteration when every VU is busy.
   */
  readonly minRequestShare: number;
  /**
   * Stop a long run early (k6 `abortOnFail`, exit 99) when the success rate collapses below this
   * after the given delay; the full verdict would be FAIL anyway. @default runs to the end
   */
  readonly abortWhenSuccessBelow?: { readonly rate: number; readonly afterSeconds: number };
}

export interface ProfileSpec {
  readonly name: GateProfile;
  /** One line for the docs and the verdict. */
  readonly summary: string;
  /** Where the targets come from: the seeds' success criteria, or this gate's own design. */
  readonly origin: 'seeds' | 'gate';
  readonly main: TrafficShape;
  readonly fresh: TrafficShape;
  readonly targets: ProfileTargets;
  /** Why these targets, in one sentence; it lands in the docs, the JUnit report and the verdict. */
  readonly rationale: string;
  /** k6 `gracefulStop` for both scenarios: an iteration still running after the shape ends gets this long. */
  readonly gracefulStopSeconds: number;
  /**
   * The seeds' streaming criteria (seeds 004: "more than 10 concurrent connections", "more than 20
   * events per second"), in the profiles whose load already has more than 10 users at once: a
   * `streams` scenario opens this many streams of run-unique prompts at the same moment (one per
   * VU), and they must be answered, each delivering its events faster than the rate below.
   */
  readonly streams?: ConcurrentStreams;
}

export interface ConcurrentStreams {
  /** Streams opened at once (one VU each, started together). More than 10. */
  readonly concurrent: number;
  /**
   * Token events per second of each stream after its first token (its events over the time from the
   * first byte to the last), at the median of the streams: more than this. The seeds' "> 20 events/s"
   * was for the whole system; 11 streams each above it deliver more than 200 a second together.
   */
  readonly minEventsPerSecond: number;
}

/** The seeds' criteria as one scenario: 11 streams at once, each faster than 20 events a second. */
export const SEEDS_CONCURRENT_STREAMS: ConcurrentStreams = { concurrent: 11, minEventsPerSecond: 20 };

/**
 * Tokens one run-unique first turn may cost: the system prompt and a short question (under 200
 * tokens) plus an answer of at most LLM_MAX_OUTPUT_TOKENS' default 1024, with room to spare; a
 * system prompt that grew by over a thousand tokens, or a raised answer cap, crosses it.
 */
const MAX_TOKENS_PER_FIRST_TURN = 1500;

/**
 * The seeds' go-live list (seeds 004): database queries under 50 ms. Judged on the `db` entry of
 * each answer's `Server-Timing` (the service's time in Postgres for that request, all its queries),
 * at the median: the typical request's database time. Not at p95: smoke has about 32 JSON answers,
 * so its p95 is the second slowest, and on a busy machine (measured on this project's shared
 * 2-core one, an identical candidate: 53 and 56 ms in 2 of 3 runs, medians 9 and 15 ms) that is
 * the scheduler's noise, not the database. A slow or distant database, a missing index or a lock
 * held across requests moves the median; a rare slow query is the tail comparison's to judge.
 */
export const MAX_DB_MEDIAN_MS = 50;

/** The seeds' scenarios share their shape: N users, k requests each, and a handful of fresh prompts. */
function seedsScenario<P extends GateProfile>(
  name: P,
  users: number,
  requestsPerUser: number,
  freshRequests: number,
  maxDurationSeconds: number,
  targets: Pick<ProfileTargets, 'minSuccessRate' | 'minCacheHitRate'> & { readonly maxAvgLatencyMs: number },
  seedsRow: string,
): ProfileSpec & { readonly name: P } {
  return {
    name,
    summary: `${users} concurrent user${users === 1 ? '' : 's'}, ${requestsPerUser} requests each (${users * requestsPerUser} total), as in the seeds' "${seedsRow}" scenario`,
    origin: 'seeds',
    main: { executor: 'per-vu-iterations', vus: users, iterations: requestsPerUser, maxDurationSeconds },
    fresh: freshPrompts(freshRequests, maxDurationSeconds),
    // Every planned request must be answered: the seeds' counts are small and fixed. The first token
    // of an LLM answer must come before the seeds' average for a whole answer.
    targets: {
      ...targets,
      minRequestShare: 1,
      maxTtftP95Ms: targets.maxAvgLatencyMs,
      maxTokensPerAnswer: MAX_TOKENS_PER_FIRST_TURN,
      maxDbMedianMs: MAX_DB_MEDIAN_MS,
    },
    rationale: `the seeds' success criteria for "${seedsRow}": success > ${pct(targets.minSuccessRate)}, average < ${targets.maxAvgLatencyMs} ms, cache hit rate > ${pct(targets.minCacheHitRate)}`,
    gracefulStopSeconds: 30,
  };
}

/**
 * Run-unique prompts with one VU each, all at the start: k6 splits VUs and iterations alike across
 * `--execution-segment`s, so every runner of a split run gets its share (one VU would go to one
 * runner only, leaving the others no proof of the LLM path).
 */
function freshPrompts(count: number, maxDurationSeconds: number): TrafficShape {
  return { executor: 'shared-iterations', vus: count, iterations: count, maxDurationSeconds };
}

function pct(rate: number): string {
  return `${Math.round(rate * 1000) / 10}%`;
}

export const GATE_PROFILE_SPECS: { readonly [P in GateProfile]: ProfileSpec & { readonly name: P } } = {
  smoke: {
    name: 'smoke',
    summary: 'the default gate: 5 VUs share 40 requests, plus 5 fresh prompts, in at most 45 s of load',
    origin: 'gate',
    // Small enough to finish well inside a minute against a healthy target, large enough for a
    // p95 that means something (40 samples) and for every kind of request in the mix.
    main: { executor: 'shared-iterations', vus: 5, iterations: 40, maxDurationSeconds: 45 },
    fresh: freshPrompts(5, 45),
    targets: {
      // At most one failed request in 40: a healthy version does not fail under 5 users.
      minSuccessRate: 0.95,
      // The seeds' "EXCELLENT" grade and the single-user target: the mix is half cache hits.
      maxAvgLatencyMs: 3000,
      // The slowest answers are LLM calls (LLM_TIMEOUT_MS defaults to 30 s); 8 s at p95 means the
      // LLM path answers in time, not that it sometimes times out and retries.
      maxP95LatencyMs: 8000,
      // A HIT is a cache GET and a JSON body; 500 ms at p95 leaves room for the ALB and TLS, and
      // catches a cache that answers but slowly (overloaded node, wrong AZ, no connection reuse).
      maxCacheHitP95LatencyMs: 500,
      // Every popular question was primed in setup(); a working cache serves nearly all of them.
      minCacheHitRate: 0.9,
      // A streamed answer's first token: a model starts within a second or two; 3 s at p95 is a
      // user staring at an empty box (the "3× later" on a 1 s first token crosses it).
      maxTtftP95Ms: 3000,
      maxTokensPerAnswer: MAX_TOKENS_PER_FIRST_TURN,
      maxDbMedianMs: MAX_DB_MEDIAN_MS,
      minRequestShare: 1,
      // A target failing half its requests after 10 s will not recover in 35 more: stop and say so.
      abortWhenSuccessBelow: { rate: 0.5, afterSeconds: 10 },
    },
    rationale:
      'a short gate that must be clean: near-perfect success, LLM answers in time, and a cache that serves what setup() primed, fast',
    gracefulStopSeconds: 5,
  },
  baseline: seedsScenario(
    'baseline',
    1,
    5,
    2,
    120,
    { minSuccessRate: 0.95, maxAvgLatencyMs: 3000, minCacheHitRate: 0.5 },
    'Single User',
  ),
  light: seedsScenario(
    'light',
    5,
    4,
    3,
    120,
    { minSuccessRate: 0.95, maxAvgLatencyMs: 4000, minCacheHitRate: 0.7 },
    '5 Concurrent',
  ),
  medium: seedsScenario(
    'medium',
    10,
    3,
    3,
    180,
    { minSuccessRate: 0.95, maxAvgLatencyMs: 5000, minCacheHitRate: 0.75 },
    '10 Concurrent',
  ),
  heavy: {
    ...seedsScenario(
      'heavy',
      20,
      3,
      4,
      300,
      { minSuccessRate: 0.9, maxAvgLatencyMs: 10000, minCacheHitRate: 0.8 },
      '20 Concurrent',
    ),
    streams: SEEDS_CONCURRENT_STREAMS,
  },
  stress: {
    ...seedsScenario(
      'stress',
      50,
      2,
      5,
      300,
      { minSuccessRate: 0.8, maxAvgLatencyMs: 30000, minCacheHitRate: 0.85 },
      '50 Concurrent',
    ),
    streams: SEEDS_CONCURRENT_STREAMS,
  },
  soak: {
    name: 'soak',
    summary: '90 requests a minute for 20 minutes (1800 planned), plus 6 fresh prompts a minute',
    origin: 'gate',
    // Open model: the arrival rate does not slow down when the service does, so leaks, pool
    // exhaustion and cache eviction show up as latency and errors instead of as fewer requests.
    // 96 requests a minute in total stays under the service's default per-client rate limit (120).
    main: {
      executor: 'constant-arrival-rate',
      ratePerMinute: 90,
      durationSeconds: 1200,
      preAllocatedVUs: 10,
      maxVUs: 40,
    },
    fresh: {
      executor: 'constant-arrival-rate',
      ratePerMinute: 6,
      durationSeconds: 1200,
      preAllocatedVUs: 2,
      maxVUs: 10,
    },
    targets: {
      // A modest steady rate: anything above 1% errors over 20 minutes is a defect, not load.
      minSuccessRate: 0.99,
      maxAvgLatencyMs: 3000,
      maxP95LatencyMs: 8000,
      maxCacheHitP95LatencyMs: 500,
      // The primed set is re-requested for 20 minutes, well inside CACHE_TTL_SECONDS (30 min).
      minCacheHitRate: 0.9,
      maxTtftP95Ms: 3000,
      maxTokensPerAnswer: MAX_TOKENS_PER_FIRST_TURN,
      maxDbMedianMs: MAX_DB_MEDIAN_MS,
      // Up to 5% of arrivals may be dropped when all 40 VUs are busy; more means the service stalled.
      minRequestShare: 0.95,
      // Failing a fifth of requests after 2 minutes: the remaining 18 minutes would only cost money.
      abortWhenSuccessBelow: { rate: 0.8, afterSeconds: 120 },
    },
    rationale:
      'a long steady run: errors, latency or hit rate that drift over 20 minutes point at leaks and exhaustion',
    gracefulStopSeconds: 30,
  },
  spike: {
    name: 'spike',
    streams: SEEDS_CONCURRENT_STREAMS,
    summary: '1 request/s, a 10 s jump to 10 requests/s held for 30 s, and back (470 planned), plus fresh prompts',
    origin: 'gate',
    // A sudden tenfold burst and the recovery after it: queueing, connection pools, autoscaling lag.
    main: {
      executor: 'ramping-arrival-rate',
      startRatePerMinute: 60,
      stages: [
        { durationSeconds: 30, targetRatePerMinute: 60 },
        { durationSeconds: 10, targetRatePerMinute: 600 },
        { durationSeconds: 30, targetRatePerMinute: 600 },
        { durationSeconds: 10, targetRatePerMinute: 60 },
        { durationSeconds: 30, targetRatePerMinute: 60 },
      ],
      preAllocatedVUs: 20,
      maxVUs: 100,
    },
    fresh: {
      executor: 'constant-arrival-rate',
      ratePerMinute: 12,
      durationSeconds: 110,
      preAllocatedVUs: 2,
      maxVUs: 10,
    },
    targets: {
      // Some 429/503 with Retry-After are acceptable in the burst; more than 5% is not.
      minSuccessRate: 0.95,
      // Misses queue behind the LLM during the burst: allow twice the steady-state p95.
      maxP95LatencyMs: 10000,
      // Cache hits must stay fast even in the burst: they are what keeps users served.
      maxCacheHitP95LatencyMs: 1000,
      minCacheHitRate: 0.85,
      // First tokens queue behind the LLM in the burst like whole answers do: the burst's p95 allowance.
      maxTtftP95Ms: 10000,
      maxTokensPerAnswer: MAX_TOKENS_PER_FIRST_TURN,
      maxDbMedianMs: MAX_DB_MEDIAN_MS,
      // Up to 10% of arrivals may be dropped at the peak (100 VUs all busy); more means a stall.
      minRequestShare: 0.9,
    },
    rationale:
      'a tenfold burst: the service may shed a little load with Retry-After, but must keep answering and keep hits fast',
    gracefulStopSeconds: 30,
  },
};

/** The number of iterations (chat requests) a shape plans, unsplit. */
export function plannedIterations(shape: TrafficShape): number {
  switch (shape.executor) {
    case 'per-vu-iterations':
      return shape.vus * shape.iterations;
    case 'shared-iterations':
      return shape.iterations;
    case 'constant-arrival-rate':
      return Math.floor((shape.ratePerMinute * shape.durationSeconds) / 60);
    case 'ramping-arrival-rate': {
      // Linear ramps: the area under the rate curve, one trapezoid per stage.
      let from = shape.startRatePerMinute;
      let total = 0;
      for (const stage of shape.stages) {
        total += (((from + stage.targetRatePerMinute) / 2) * stage.durationSeconds) / 60;
        from = stage.targetRatePerMinute;
      }
      return Math.floor(total);
    }
  }
}

/** The most VUs a shape can run at once. */
export function maxVUs(shape: TrafficShape): number {
  return shape.executor === 'per-vu-iterations' || shape.executor === 'shared-iterations' ? shape.vus : shape.maxVUs;
}

/** How long the shape runs at most, in seconds, without graceful stop. */
export function maxDurationSeconds(shape: TrafficShape): number {
  switch (shape.executor) {
    case 'per-vu-iterations':
    case 'shared-iterations':
      return shape.maxDurationSeconds;
    case 'constant-arrival-rate':
      return shape.durationSeconds;
    case 'ramping-arrival-rate':
      return shape.stages.reduce((sum, s) => sum + s.durationSeconds, 0);
  }
}

/**
 * What a relative run (with a baseline) adds to every profile, to each target: the `ttft`
 * scenario's run-unique streamed prompts (LLM calls) and the `hit_pairs` scenario's primed
 * questions sent one pair at a time (cache hits: no LLM call, but requests and stored turns).
 * The reasons and the statistics are in `loadtests/src/lib/compare/comparisons.ts`.
 */
export const RELATIVE_GATE_PAIRS = { ttft: 48, hits: 400 } as const;

/**
 * The most popular questions a run primes (each target primes its own copies, once plus one retry).
 * `test/loadtests/corpus.test.ts` holds the corpus to it.
 */
export const GATE_MAX_PRIMED_QUESTIONS = 10;

/**
 * The most chat requests one run of `spec` sends to ONE target, unsplit: priming (twice at most),
 * the main scenario, the fresh prompts, the concurrent streams and, with a baseline,
 * {@link RELATIVE_GATE_PAIRS}. With a
 * baseline the other target gets as many. Readiness and the auth probe are not chat requests.
 */
export function gateChatRequestsPerTarget(spec: ProfileSpec, relative: boolean): number {
  const pairs = relative ? RELATIVE_GATE_PAIRS.ttft + RELATIVE_GATE_PAIRS.hits : 0;
  const streams = spec.streams?.concurrent ?? 0;
  return 2 * GATE_MAX_PRIMED_QUESTIONS + plannedIterations(spec.main) + plannedIterations(spec.fresh) + streams + pairs;
}

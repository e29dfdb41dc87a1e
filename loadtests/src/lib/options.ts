/**
 * k6 `options` for a plan: the two scenarios of the profile and the thresholds, next to each other.
 * The return type mirrors the parts of k6's `Options` the gate uses, so the k6 glue assigns it to
 * `Options` and the type checker proves the fit without this module importing k6.
 */

import type { TrafficShape } from '../../../lib/contract/gate-profiles';
import { FRESH_SCENARIO, STREAMS_SCENARIO, SUMMARY_TREND_STATS } from './metrics';
import type { GatePlan } from './plan';
import { type K6Threshold, type ThresholdSpec, toK6Thresholds } from './thresholds';

export type K6Scenario =
  | {
      executor: 'per-vu-iterations' | 'shared-iterations';
      vus: number;
      iterations: number;
      maxDuration: string;
      gracefulStop: string;
      exec: string;
      tags: Record<string, string>;
    }
  | {
      executor: 'constant-arrival-rate';
      rate: number;
      timeUnit: string;
      duration: string;
      preAllocatedVUs: number;
      maxVUs: number;
      gracefulStop: string;
      exec: string;
      tags: Record<string, string>;
    }
  | {
      executor: 'ramping-arrival-rate';
      startRate: number;
      timeUnit: string;
      stages: Array<{ duration: string; target: number }>;
      preAllocatedVUs: number;
      maxVUs: number;
      gracefulStop: string;
      exec: string;
      tags: Record<string, string>;
    };

export interface K6Options {
  scenarios: Record<string, K6Scenario>;
  thresholds: Record<string, K6Threshold[]>;
  summaryTrendStats: string[];
  setupTimeout: string;
  teardownTimeout: string;
  userAgent: string;
  tags: Record<string, string>;
}

/** The exported functions the scenarios run (see `src/gate.ts`). */
export const SCENARIO_EXEC = { main: 'chat', fresh: 'fresh', streams: 'streams' } as const;

/** The concurrent streams' time limit: a stream is one LLM answer (30 s per attempt at most). */
export const STREAMS_MAX_DURATION_SECONDS = 90;

/**
 * setup() checks readiness and primes the popular questions (in parallel, one retry): two LLM
 * round trips at most, each bounded by the request timeout.
 */
export const SETUP_TIMEOUT_SECONDS = 150;
/** Per chat request. The service's own LLM budget is 30 s per call, 3 attempts at most. */
export const CHAT_REQUEST_TIMEOUT_SECONDS = 60;

export function toK6Scenario(shape: TrafficShape, exec: string, gracefulStopSeconds: number): K6Scenario {
  const common = { gracefulStop: `${gracefulStopSeconds}s`, exec, tags: {} };
  switch (shape.executor) {
    case 'per-vu-iterations':
    case 'shared-iterations':
      return {
        executor: shape.executor,
        vus: shape.vus,
        iterations: shape.iterations,
        maxDuration: `${shape.maxDurationSeconds}s`,
        ...common,
      };
    case 'constant-arrival-rate':
      return {
        executor: shape.executor,
        rate: shape.ratePerMinute,
        timeUnit: '1m',
        duration: `${shape.durationSeconds}s`,
        preAllocatedVUs: shape.preAllocatedVUs,
        maxVUs: shape.maxVUs,
        ...common,
      };
    case 'ramping-arrival-rate':
      return {
        executor: shape.executor,
        startRate: shape.startRatePerMinute,
        timeUnit: '1m',
        stages: shape.stages.map((s) => ({ duration: `${s.durationSeconds}s`, target: s.targetRatePerMinute })),
        preAllocatedVUs: shape.preAllocatedVUs,
        maxVUs: shape.maxVUs,
        ...common,
      };
  }
}

export function buildK6Options(plan: GatePlan, thresholds: readonly ThresholdSpec[]): K6Options {
  const { profile } = plan;
  return {
    scenarios: {
      [profile.name]: toK6Scenario(profile.main, SCENARIO_EXEC.main, profile.gracefulStopSeconds),
      [FRESH_SCENARIO]: toK6Scenario(profile.fresh, SCENARIO_EXEC.fresh, profile.gracefulStopSeconds),
      // One stream per VU, all VUs started together (k6 starts a per-vu-iterations scenario's VUs at once).
      ...(profile.streams
        ? {
            [STREAMS_SCENARIO]: toK6Scenario(
              {
                executor: 'per-vu-iterations',
                vus: profile.streams.concurrent,
                iterations: 1,
                maxDurationSeconds: STREAMS_MAX_DURATION_SECONDS,
              },
              SCENARIO_EXEC.streams,
              profile.gracefulStopSeconds,
            ),
          }
        : {}),
    },
    thresholds: toK6Thresholds(thresholds),
    summaryTrendStats: [...SUMMARY_TREND_STATS],
    setupTimeout: `${SETUP_TIMEOUT_SECONDS}s`,
    teardownTimeout: '10s',
    userAgent: 'chat-platform-gate (k6)',
    tags: { profile: profile.name },
  };
}

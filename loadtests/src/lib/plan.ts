/**
 * A profile plus the run's inputs become a plan: the effective targets (overrides applied, and
 * rejected when they would loosen the gate) and the minimum sample counts of the no-data guards
 * (scaled down when k6 splits the run across runners).
 */
import { GATE_ENV } from '../../../lib/contract/gate';
import {
  type ProfileSpec,
  type ProfileTargets,
  plannedIterations,
  type TrafficShape,
} from '../../../lib/contract/gate-profiles';
import { type GateConfig, GateConfigError, readGateConfig, segmentFraction } from './config';
import { segmentMaxVUs, segmentPlannedIterations } from './segments';

export interface GatePlan {
  readonly profile: ProfileSpec;
  /** The profile's targets with the overrides applied. */
  readonly targets: ProfileTargets;
  /** Share of the whole run this runner executes (1 when not split). */
  readonly segmentFraction: number;
  /** Main-scenario requests this runner must send and have answered. */
  readonly minMainRequests: number;
  /** Requests for primed popular questions this runner is certain to send (the hit rate's sample). */
  readonly minPopularRequests: number;
  /** Run-unique prompts this runner must send. */
  readonly minFreshRequests: number;
  /** Answers whose version is checked; present only when `EXPECTED_VERSION` is given. */
  readonly minVersionChecked?: number;
  /** One line per override applied, for the verdict. */
  readonly overridesApplied: readonly string[];
}

export function resolvePlan(profile: ProfileSpec, config: GateConfig): GatePlan {
  const problems: string[] = [];
  const base = profile.targets;
  const o = config.overrides;
  const targets: { -readonly [K in keyof ProfileTargets]: ProfileTargets[K] } = { ...base };
  const applied: string[] = [];

  const tightenMin = (name: string, value: number | undefined, current: number, set: (v: number) => void) => {
    if (value === undefined) return;
    if (value < current) {
      problems.push(
        `${name}=${value} would loosen the ${profile.name} gate (its minimum is ${current}); overrides may only tighten a threshold`,
      );
      return;
    }
    set(value);
    applied.push(`${name}=${value} (profile: ${current})`);
  };
  const tightenMax = (
    name: string,
    value: number | undefined,
    current: number | undefined,
    set: (v: number) => void,
  ) => {
    if (value === undefined) return;
    if (current !== undefined && value > current) {
      problems.push(
        `${name}=${value} would loosen the ${profile.name} gate (its maximum is ${current}); overrides may only tighten a threshold`,
      );
      return;
    }
    set(value);
    applied.push(`${name}=${value} (profile: ${current ?? 'no limit'})`);
  };

  tightenMin(GATE_ENV.minSuccessRate, o.minSuccessRate, base.minSuccessRate, (v) => {
    targets.minSuccessRate = v;
  });
  tightenMin(GATE_ENV.minCacheHitRate, o.minCacheHitRate, base.minCacheHitRate, (v) => {
    targets.minCacheHitRate = v;
  });
  tightenMax(GATE_ENV.maxAvgMs, o.maxAvgLatencyMs, base.maxAvgLatencyMs, (v) => {
    targets.maxAvgLatencyMs = v;
  });
  tightenMax(GATE_ENV.maxP95Ms, o.maxP95LatencyMs, base.maxP95LatencyMs, (v) => {
    targets.maxP95LatencyMs = v;
  });

  const planned = plannedIterations(profile.main);
  let minMainUnsplit = Math.ceil(planned * base.minRequestShare);
  if (o.minRequests !== undefined) {
    if (o.minRequests > planned) {
      problems.push(
        `${GATE_ENV.minRequests}=${o.minRequests} can never be met: the ${profile.name} profile plans ${planned} requests`,
      );
    } else {
      tightenMin(GATE_ENV.minRequests, o.minRequests, minMainUnsplit, (v) => {
        minMainUnsplit = v;
      });
    }
  }

  const fraction = segmentFraction(config.executionSegment);
  const segmentPlanned = segmentPlannedIterations(profile.main, fraction);
  const minMainRequests = Math.floor((minMainUnsplit * segmentPlanned) / planned);
  const minPopularRequests = popularLowerBound(profile.main, minMainRequests, fraction);
  const minFreshRequests = Math.ceil(segmentPlannedIterations(profile.fresh, fraction) * base.minRequestShare);

  if (config.executionSegment && (minMainRequests < 1 || minPopularRequests < 1 || minFreshRequests < 1)) {
    problems.push(
      `${GATE_ENV.executionSegment}=${config.executionSegment.text} leaves this runner too little of the ${profile.name} profile to judge (${minMainRequests} requests, ${minFreshRequests} fresh); run it unsplit or use fewer segments`,
    );
  }
  if (problems.length > 0) throw new GateConfigError(problems);

  return {
    profile,
    targets,
    segmentFraction: fraction,
    minMainRequests,
    minPopularRequests,
    minFreshRequests,
    ...(config.expectedVersion
      ? { minVersionChecked: Math.max(1, Math.floor(minMainRequests * targets.minSuccessRate)) }
      : {}),
    overridesApplied: applied,
  };
}

/**
 * The request mix puts a primed popular question on every other iteration of a VU (see
 * `corpus.ts`), so a VU that runs k iterations sends at least floor(k / 2) of them; summed over VUs
 * that is at least (requests - VUs) / 2, and exactly VUs * floor(k / 2) for per-VU iterations.
 */
function popularLowerBound(shape: TrafficShape, minRequests: number, fraction: number): number {
  if (shape.executor === 'per-vu-iterations') {
    return Math.floor(shape.vus * fraction) * Math.floor(shape.iterations / 2);
  }
  return Math.max(0, Math.floor((minRequests - segmentMaxVUs(shape, fraction)) / 2));
}

/**
 * The plan of `spec` with no overrides, unsplit, with a baseline (`relative`) or without: what the
 * docs, the calibration's tables and their tests describe. The URLs only have to be valid.
 */
export function defaultPlan(spec: ProfileSpec, relative: boolean): GatePlan {
  const config = readGateConfig({
    BASE_URL: 'http://127.0.0.1:1',
    ...(relative ? { BASELINE_URL: 'http://127.0.0.1:2' } : {}),
    PROFILE: spec.name,
  });
  return resolvePlan(spec, config);
}

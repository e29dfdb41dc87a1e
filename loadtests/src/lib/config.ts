/**
 * The gate's inputs, read once from k6's `__ENV` (or from the CLI's environment) and validated.
 * Every name comes from the contract's `GATE_ENV`; a bad value is an error that names the variable
 * and the fix, and the k6 script refuses to start (a gate error, never a pass).
 */

import { SERVICE_ENV } from '../../../lib/contract/env';
import {
  DEFAULT_GATE_PROFILE,
  GATE_ENV,
  GATE_PROFILES,
  type GateProfile,
  isGateProfile,
  LLM_PRICE_RULE,
  type LlmPrice,
  parseLlmPrice,
  RUN_ID_PATTERN,
  RUN_ID_RULE,
} from '../../../lib/contract/gate';

export type GateEnv = Readonly<Record<string, string | undefined>>;

/**
 * Optional threshold overrides. Policy: an override may only make a gate stricter (a higher minimum,
 * a lower maximum), or add a limit the profile does not have. A looser value is rejected, so nobody
 * can make a failing gate pass from a pipeline variable; change the profile in code (reviewed) instead.
 */
export interface ThresholdOverrides {
  readonly maxP95LatencyMs?: number;
  readonly maxAvgLatencyMs?: number;
  readonly minSuccessRate?: number;
  readonly minCacheHitRate?: number;
  readonly minRequests?: number;
}

export interface ExecutionSegment {
  /** As given, e.g. `1/2:1`. */
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

export interface GateConfig {
  /** Without a trailing slash. */
  readonly baseUrl: string;
  /** The serving version to compare with (without a trailing slash); absent: fixed limits only. */
  readonly baselineUrl?: string;
  readonly profile: GateProfile;
  readonly expectedVersion?: string;
  readonly runId?: string;
  readonly outDir: string;
  readonly serviceName: string;
  readonly executionSegment?: ExecutionSegment;
  readonly overrides: ThresholdOverrides;
  /** The stage's LLM price (`LLM_PRICE_PER_MTOK`), for the verdict's cost per 1,000 answers. */
  readonly llmPrice?: LlmPrice;
}

export class GateConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid gate input:\n  - ${problems.join('\n  - ')}`);
    this.name = 'GateConfigError';
    this.problems = problems;
  }
}

/** Reads and validates every gate input. Throws {@link GateConfigError} listing all problems at once. */
export function readGateConfig(env: GateEnv): GateConfig {
  const problems: string[] = [];

  const rawUrl = env[GATE_ENV.baseUrl]?.trim();
  let baseUrl = '';
  if (!rawUrl) {
    problems.push(`${GATE_ENV.baseUrl} is required: the URL of the version under test, e.g. http://127.0.0.1:8080`);
  } else if (!/^https?:\/\/[^/\s]+(\/\S*)?$/.test(rawUrl)) {
    problems.push(`${GATE_ENV.baseUrl}=${rawUrl} is not an http(s) URL`);
  } else {
    baseUrl = rawUrl.replace(/\/+$/, '');
  }

  const rawBaseline = env[GATE_ENV.baselineUrl]?.trim();
  let baselineUrl: string | undefined;
  if (rawBaseline) {
    if (!/^https?:\/\/[^/\s]+(\/\S*)?$/.test(rawBaseline)) {
      problems.push(`${GATE_ENV.baselineUrl}=${rawBaseline} is not an http(s) URL`);
    } else {
      baselineUrl = rawBaseline.replace(/\/+$/, '');
      if (baselineUrl === baseUrl) {
        problems.push(
          `${GATE_ENV.baselineUrl} equals ${GATE_ENV.baseUrl} (${baselineUrl}): a version compared with itself proves nothing; give the serving version's URL`,
        );
      }
    }
  }

  const rawProfile = env[GATE_ENV.profile]?.trim() || DEFAULT_GATE_PROFILE;
  let profile: GateProfile = DEFAULT_GATE_PROFILE;
  if (isGateProfile(rawProfile)) profile = rawProfile;
  else problems.push(`${GATE_ENV.profile}=${rawProfile} is not a profile; use one of ${GATE_PROFILES.join(', ')}`);

  const rawVersion = env[GATE_ENV.expectedVersion];
  let expectedVersion: string | undefined;
  if (rawVersion !== undefined) {
    expectedVersion = rawVersion.trim();
    // An empty value usually means an unset pipeline variable; silently skipping the version check
    // would let the old version's answers pass.
    if (!expectedVersion) problems.push(`${GATE_ENV.expectedVersion} is set but empty; unset it or give the version`);
  }

  const runId = env[GATE_ENV.runId]?.trim() || undefined;
  if (runId !== undefined && !RUN_ID_PATTERN.test(runId)) {
    problems.push(`${GATE_ENV.runId}=${runId} must be ${RUN_ID_RULE}`);
  }

  const serviceName = env[GATE_ENV.serviceName]?.trim() || SERVICE_ENV.SERVICE_NAME.default;
  const outDir = (env[GATE_ENV.outDir]?.trim() || '.').replace(/\/+$/, '') || '/';

  let executionSegment: ExecutionSegment | undefined;
  const rawSegment = env[GATE_ENV.executionSegment]?.trim();
  if (rawSegment) {
    executionSegment = parseExecutionSegment(rawSegment) ?? undefined;
    if (!executionSegment) {
      problems.push(
        `${GATE_ENV.executionSegment}=${rawSegment} is not a k6 execution segment such as 0:1/2, 1/2:1 or 0:50%`,
      );
    }
  }

  const overrides = readThresholdOverrides(env, problems);

  const price = parseLlmPrice(env[GATE_ENV.llmPricePerMTok]);
  if (price === 'invalid') problems.push(`${LLM_PRICE_RULE}, got ${env[GATE_ENV.llmPricePerMTok]}`);

  if (problems.length > 0) throw new GateConfigError(problems);
  return {
    baseUrl,
    ...(baselineUrl ? { baselineUrl } : {}),
    profile,
    ...(expectedVersion ? { expectedVersion } : {}),
    ...(runId ? { runId } : {}),
    outDir,
    serviceName,
    ...(executionSegment ? { executionSegment } : {}),
    overrides,
    ...(price && price !== 'invalid' ? { llmPrice: price } : {}),
  };
}

function readThresholdOverrides(env: GateEnv, problems: string[]): ThresholdOverrides {
  const ms = (name: string): number | undefined => {
    const value = readNumber(env, name, problems);
    if (value !== undefined && !(value > 0))
      problems.push(`${name}=${value} must be a positive number of milliseconds`);
    return value;
  };
  const rate = (name: string): number | undefined => {
    const value = readNumber(env, name, problems);
    // The thresholds are `rate>x`: x >= 1 could never pass, x < 0 could never fail.
    if (value !== undefined && !(value >= 0 && value < 1)) {
      problems.push(`${name}=${value} must be a fraction in [0, 1), e.g. 0.97 (the threshold is rate>${value})`);
    }
    return value;
  };
  const count = (name: string): number | undefined => {
    const value = readNumber(env, name, problems);
    if (value !== undefined && !(Number.isInteger(value) && value >= 1)) {
      problems.push(`${name}=${value} must be a whole number of requests, at least 1`);
    }
    return value;
  };
  const result: { -readonly [K in keyof ThresholdOverrides]: ThresholdOverrides[K] } = {};
  const maxP95LatencyMs = ms(GATE_ENV.maxP95Ms);
  const maxAvgLatencyMs = ms(GATE_ENV.maxAvgMs);
  const minSuccessRate = rate(GATE_ENV.minSuccessRate);
  const minCacheHitRate = rate(GATE_ENV.minCacheHitRate);
  const minRequests = count(GATE_ENV.minRequests);
  if (maxP95LatencyMs !== undefined) result.maxP95LatencyMs = maxP95LatencyMs;
  if (maxAvgLatencyMs !== undefined) result.maxAvgLatencyMs = maxAvgLatencyMs;
  if (minSuccessRate !== undefined) result.minSuccessRate = minSuccessRate;
  if (minCacheHitRate !== undefined) result.minCacheHitRate = minCacheHitRate;
  if (minRequests !== undefined) result.minRequests = minRequests;
  return result;
}

function readNumber(env: GateEnv, name: string, problems: string[]): number | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value)) {
    problems.push(`${name}=${raw} is not a number`);
    return undefined;
  }
  return value;
}

/**
 * Parses k6's `--execution-segment` syntax: `from:to` or `to` (from 0), each a fraction (`1/3`), a
 * decimal (`0.5`) or a percentage (`50%`), with 0 <= from < to <= 1. Returns null when invalid.
 */
export function parseExecutionSegment(text: string): ExecutionSegment | null {
  const parts = text.split(':');
  if (parts.length > 2) return null;
  const [a, b] = parts.length === 2 ? parts : ['0', parts[0]];
  const start = parseSegmentValue(a ?? '');
  const end = parseSegmentValue(b ?? '');
  if (start === null || end === null || !(start >= 0 && start < end && end <= 1)) return null;
  return { text, start, end };
}

function parseSegmentValue(raw: string): number | null {
  const s = raw.trim();
  let value: number;
  if (/^\d+(\.\d+)?%$/.test(s)) value = Number(s.slice(0, -1)) / 100;
  else if (/^\d+\/\d+$/.test(s)) {
    const [n, d] = s.split('/').map(Number) as [number, number];
    if (d === 0) return null;
    value = n / d;
  } else if (/^\d+(\.\d+)?$/.test(s)) value = Number(s);
  else return null;
  return Number.isFinite(value) ? value : null;
}

/** The share of the whole run one segment executes (1 when not split). */
export function segmentFraction(segment: ExecutionSegment | undefined): number {
  return segment ? segment.end - segment.start : 1;
}

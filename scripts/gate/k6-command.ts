/**
 * The k6 command line for a gate run, and what a k6 exit code means. Pure: the tests check both
 * without running anything.
 */
import { GATE_ENV, GATE_EXIT_CODES } from '../../lib/contract/gate';
import { GATE_PROFILE_SPECS } from '../../lib/contract/gate-profiles';
import { type GateEnv, readGateConfig } from '../../loadtests/src/lib/config';
import { resolvePlan } from '../../loadtests/src/lib/plan';
import type { GateCliOptions } from './args';

export interface K6Invocation {
  readonly args: string[];
  /** The `-e` values, in order, for printing and tests. */
  readonly gateEnv: Readonly<Record<string, string>>;
}

/** GATE_ENV values the wrapper forwards from its own environment when set (the CLI sets the rest). */
const FORWARDED_FROM_ENV = [
  GATE_ENV.maxP95Ms,
  GATE_ENV.maxAvgMs,
  GATE_ENV.minSuccessRate,
  GATE_ENV.minCacheHitRate,
  GATE_ENV.minRequests,
  GATE_ENV.serviceName,
  GATE_ENV.llmPricePerMTok,
] as const;

/**
 * Environment settings that would let a gate pass without judging anything, or split it in a way
 * only the in-AWS runner does. k6 reads `K6_*` variables as options, so they are checked here.
 */
export function refusedEnvironment(env: GateEnv): string[] {
  const problems: string[] = [];
  const truthy = (v: string | undefined) => v !== undefined && v.trim() !== '' && v.trim().toLowerCase() !== 'false';
  if (truthy(env.K6_NO_THRESHOLDS)) {
    problems.push('K6_NO_THRESHOLDS is set: a gate without thresholds cannot fail; unset it');
  }
  if (truthy(env.K6_NO_SUMMARY)) {
    problems.push('K6_NO_SUMMARY is set: the gate would write no verdict and no reports; unset it');
  }
  if (env[GATE_ENV.executionSegment]?.trim()) {
    problems.push(
      `${GATE_ENV.executionSegment} is set: npm run gate runs the whole profile; split runs belong to the in-AWS runner`,
    );
  }
  return problems;
}

export function buildK6Invocation(
  options: GateCliOptions & { readonly runId: string; readonly outDirAbsolute: string },
  scriptPath: string,
  env: GateEnv,
): K6Invocation {
  const gateEnv: Record<string, string> = {
    [GATE_ENV.baseUrl]: options.target,
    ...(options.baseline !== undefined ? { [GATE_ENV.baselineUrl]: options.baseline } : {}),
    [GATE_ENV.profile]: options.profile,
    ...(options.expectedVersion !== undefined ? { [GATE_ENV.expectedVersion]: options.expectedVersion } : {}),
    [GATE_ENV.runId]: options.runId,
    [GATE_ENV.outDir]: options.outDirAbsolute,
  };
  for (const name of FORWARDED_FROM_ENV) {
    const value = env[name];
    if (value !== undefined && value.trim() !== '') gateEnv[name] = value.trim();
  }
  const args = ['run'];
  for (const [name, value] of Object.entries(gateEnv)) args.push('-e', `${name}=${value}`);
  args.push(scriptPath);
  return { args, gateEnv };
}

/**
 * Runs the same validation the k6 script runs at init, so a bad override or profile is a usage
 * error (64) before k6 starts rather than a k6 script error (107) after. Returns the problems.
 */
export function validateGateInputs(gateEnv: GateEnv): string[] {
  try {
    const config = readGateConfig(gateEnv);
    resolvePlan(GATE_PROFILE_SPECS[config.profile], config);
    return [];
  } catch (error) {
    const problems = (error as { problems?: readonly string[] }).problems;
    return problems ? [...problems] : [error instanceof Error ? error.message : String(error)];
  }
}

/** A shell-safe rendering of the command, for the log line that says what runs. */
export function formatCommand(command: string, args: readonly string[]): string {
  const quote = (s: string) => (/^[A-Za-z0-9_./:=@%+,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  return [command, ...args].map(quote).join(' ');
}

/** k6's exit codes (go.k6.io/k6/errext/exitcodes, v1.8.1) and what they mean for a gate. */
export const K6_EXIT_MEANINGS: Readonly<Record<number, string>> = {
  97: 'cloud test run failed',
  98: 'could not get progress from the cloud',
  99: 'thresholds failed',
  100: 'setup() timed out',
  101: 'teardown() timed out',
  102: 'generic timeout',
  103: 'stopped through the REST API',
  104: 'invalid k6 configuration',
  105: 'interrupted by a signal (SIGINT/SIGTERM)',
  106: 'could not start the REST API',
  107: 'script error or invalid gate input (see the k6 log above)',
  108: 'the script aborted the run: setup() found the target not ready or misconfigured (see the k6 log above)',
  109: 'k6 crashed (Go panic)',
  110: 'the test was marked as failed',
};

/** The one line the wrapper prints after k6 exits. */
export function describeK6Exit(code: number, signal?: string | null): string {
  if (signal) {
    return `gate ERROR: k6 was killed by ${signal} (exit ${code}); this is a gate error, no verdict on the version`;
  }
  if (code === GATE_EXIT_CODES.pass) return 'gate PASS: k6 exited 0, every threshold held';
  if (code === GATE_EXIT_CODES.thresholdsFailed) {
    return 'gate FAIL: k6 exited 99, thresholds breached: the version under test did not meet the gate';
  }
  const meaning = K6_EXIT_MEANINGS[code] ?? 'unknown k6 exit code';
  return `gate ERROR: k6 exited ${code} (${meaning}); this is a gate error, no verdict on the version`;
}

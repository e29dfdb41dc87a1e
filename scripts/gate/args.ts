/**
 * `npm run gate` arguments. Parsing is strict: an unknown flag or a stray value is a usage error,
 * because a silently ignored `--expected-version` typo would turn off the version check.
 */
import { parseArgs } from 'node:util';
import {
  DEFAULT_GATE_PROFILE,
  GATE_PROFILES,
  type GateProfile,
  isGateProfile,
  RUN_ID_PATTERN,
  RUN_ID_RULE,
} from '../../lib/contract/gate';

export interface GateCliOptions {
  readonly target: string;
  /** The version serving now, compared with the target in the same window; absent: fixed limits only. */
  readonly baseline?: string;
  readonly profile: GateProfile;
  readonly expectedVersion?: string;
  /** Where k6 writes k6-summary.json and k6-junit.xml. */
  readonly outDir: string;
  readonly runId?: string;
}

export type ParsedArgs =
  | { readonly kind: 'run'; readonly options: GateCliOptions }
  | { readonly kind: 'help' }
  | { readonly kind: 'error'; readonly message: string };

export const DEFAULT_OUT_DIR = 'reports/gate';

export const USAGE = `usage: npm run gate -- --target URL [--baseline URL] [--profile NAME] [--expected-version V] [--out DIR] [--run-id ID]

Runs the bundled k6 gate (loadtests/dist/gate.js) with k6 from K6_BIN or PATH.

  --target URL            base URL of the version under test, e.g. http://127.0.0.1:8080 (required)
  --baseline URL          the version serving now: every question goes to both, in the same window,
                          and the target must not be slower or fail more than it (paired tests)
  --profile NAME          ${GATE_PROFILES.join(' | ')} (default ${DEFAULT_GATE_PROFILE})
  --expected-version V    fail unless every answer carries x-app-version V
  --out DIR               where k6-summary.json and k6-junit.xml go (default ${DEFAULT_OUT_DIR})
  --run-id ID             tags this run's prompts and request ids (default: generated)

Threshold overrides are read from the environment (MAX_P95_MS, MAX_AVG_MS, MIN_SUCCESS_RATE,
MIN_CACHE_HIT_RATE, MIN_REQUESTS) and may only make a gate stricter.

Exit code: k6's own, unchanged: 0 every threshold held, 99 a threshold failed; any other k6 code is a
gate error (no verdict). Before k6 runs: 64 bad arguments (and --help), 127 k6 not found, 70 the
bundle failed to build. The wrapper exits 0 only when k6 ran and exited 0.`;

export function parseGateArgs(argv: readonly string[]): ParsedArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        target: { type: 'string' },
        baseline: { type: 'string' },
        profile: { type: 'string' },
        'expected-version': { type: 'string' },
        out: { type: 'string' },
        'run-id': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    return { kind: 'error', message: error instanceof Error ? error.message : String(error) };
  }
  if (values.help) return { kind: 'help' };

  const target = typeof values.target === 'string' ? values.target.trim() : '';
  if (!target) return { kind: 'error', message: '--target URL is required' };
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return { kind: 'error', message: `--target ${target} is not a URL` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { kind: 'error', message: `--target ${target} must be an http:// or https:// URL` };
  }

  let baseline: string | undefined;
  if (typeof values.baseline === 'string') {
    baseline = values.baseline.trim().replace(/\/+$/, '');
    let baselineUrl: URL | undefined;
    try {
      baselineUrl = new URL(baseline);
    } catch {
      return { kind: 'error', message: `--baseline ${values.baseline} is not a URL` };
    }
    if (baselineUrl.protocol !== 'http:' && baselineUrl.protocol !== 'https:') {
      return { kind: 'error', message: `--baseline ${baseline} must be an http:// or https:// URL` };
    }
    if (baseline === target.replace(/\/+$/, '')) {
      return {
        kind: 'error',
        message: '--baseline is the same URL as --target: a version compared with itself proves nothing',
      };
    }
  }

  const profile = typeof values.profile === 'string' ? values.profile.trim() : DEFAULT_GATE_PROFILE;
  if (!isGateProfile(profile)) {
    return { kind: 'error', message: `--profile ${profile} is not a profile; use one of ${GATE_PROFILES.join(', ')}` };
  }

  const expectedVersion = values['expected-version'];
  if (typeof expectedVersion === 'string' && expectedVersion.trim() === '') {
    return {
      kind: 'error',
      message: '--expected-version is empty (an unset pipeline variable?); give the version or drop the flag',
    };
  }
  const runId = values['run-id'];
  if (typeof runId === 'string' && !RUN_ID_PATTERN.test(runId)) {
    return { kind: 'error', message: `--run-id ${runId} must be ${RUN_ID_RULE}` };
  }
  const out = typeof values.out === 'string' && values.out.trim() !== '' ? values.out.trim() : DEFAULT_OUT_DIR;

  return {
    kind: 'run',
    options: {
      target: target.replace(/\/+$/, ''),
      ...(baseline ? { baseline } : {}),
      profile,
      ...(typeof expectedVersion === 'string' ? { expectedVersion: expectedVersion.trim() } : {}),
      outDir: out,
      ...(typeof runId === 'string' ? { runId } : {}),
    },
  };
}

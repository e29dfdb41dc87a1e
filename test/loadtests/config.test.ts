import { GATE_ENV } from '../../lib/contract/gate';
import { GATE_PROFILE_SPECS } from '../../lib/contract/gate-profiles';
import { GateConfigError, parseExecutionSegment, readGateConfig } from '../../loadtests/src/lib/config';
import { resolvePlan } from '../../loadtests/src/lib/plan';

const BASE = { [GATE_ENV.baseUrl]: 'http://127.0.0.1:8080/' };

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof GateConfigError) return error.problems;
    throw error;
  }
  return [];
}

const plan = (env: Record<string, string>) => {
  const config = readGateConfig({ ...BASE, ...env });
  return resolvePlan(GATE_PROFILE_SPECS[config.profile], config);
};

describe('gate inputs from __ENV', () => {
  test('reads every input by its contract name and normalises the URL', () => {
    const config = readGateConfig({
      ...BASE,
      [GATE_ENV.profile]: 'heavy',
      [GATE_ENV.expectedVersion]: ' 1.2.3 ',
      [GATE_ENV.runId]: 'ci-42',
      [GATE_ENV.outDir]: '/tmp/reports/',
      [GATE_ENV.serviceName]: 'chat-api-staging',
    });
    expect(config).toMatchObject({
      baseUrl: 'http://127.0.0.1:8080',
      profile: 'heavy',
      expectedVersion: '1.2.3',
      runId: 'ci-42',
      outDir: '/tmp/reports',
      serviceName: 'chat-api-staging',
    });
  });

  test('defaults: smoke, OUT_DIR ".", the service default SERVICE_NAME, no version check', () => {
    const config = readGateConfig(BASE);
    expect(config.profile).toBe('smoke');
    expect(config.outDir).toBe('.');
    expect(config.serviceName).toBe('chat-api');
    expect(config.expectedVersion).toBeUndefined();
  });

  test('every bad input is reported at once, each naming its variable', () => {
    const problems = problemsOf(() =>
      readGateConfig({
        [GATE_ENV.profile]: 'nightly',
        [GATE_ENV.expectedVersion]: '',
        [GATE_ENV.runId]: 'has spaces',
        [GATE_ENV.maxP95Ms]: 'fast',
        [GATE_ENV.minSuccessRate]: '1',
        [GATE_ENV.minRequests]: '2.5',
        [GATE_ENV.executionSegment]: '1:0',
      }),
    );
    for (const name of [
      GATE_ENV.baseUrl,
      GATE_ENV.profile,
      GATE_ENV.expectedVersion,
      GATE_ENV.runId,
      GATE_ENV.maxP95Ms,
      GATE_ENV.minSuccessRate,
      GATE_ENV.minRequests,
      GATE_ENV.executionSegment,
    ]) {
      expect(problems.some((p) => p.startsWith(name))).toBe(true);
    }
  });

  test('an empty EXPECTED_VERSION is an error, not a silently skipped version check', () => {
    expect(problemsOf(() => readGateConfig({ ...BASE, [GATE_ENV.expectedVersion]: '  ' }))).toEqual([
      expect.stringContaining('empty'),
    ]);
  });

  test.each([
    ['0:1/2', 0, 0.5],
    ['1/2:1', 0.5, 1],
    ['1/3', 0, 1 / 3],
    ['25%:75%', 0.25, 0.75],
    ['0.5:1', 0.5, 1],
  ])('parses the k6 execution segment %s', (text, start, end) => {
    expect(parseExecutionSegment(text)).toEqual({ text, start, end });
  });

  test.each(['1/2:1/4', '0:1.5', 'half', '1/0', '0:1:2', ''])('rejects the execution segment "%s"', (text) => {
    expect(parseExecutionSegment(text)).toBeNull();
  });
});

describe('threshold overrides may only tighten a gate', () => {
  test('stricter overrides are applied and reported', () => {
    const p = plan({
      [GATE_ENV.profile]: 'light',
      [GATE_ENV.minSuccessRate]: '0.99',
      [GATE_ENV.minCacheHitRate]: '0.8',
      [GATE_ENV.maxAvgMs]: '1500',
      [GATE_ENV.maxP95Ms]: '4000', // light has no p95 limit: adding one is stricter
    });
    expect(p.targets).toMatchObject({
      minSuccessRate: 0.99,
      minCacheHitRate: 0.8,
      maxAvgLatencyMs: 1500,
      maxP95LatencyMs: 4000,
    });
    expect(p.overridesApplied).toHaveLength(4);
  });

  test.each([
    [GATE_ENV.minSuccessRate, '0.5'],
    [GATE_ENV.minCacheHitRate, '0.1'],
    [GATE_ENV.maxAvgMs, '60000'],
    [GATE_ENV.maxP95Ms, '20000'],
    [GATE_ENV.minRequests, '10'],
  ])('%s=%s would loosen smoke and is rejected', (name, value) => {
    const problems = problemsOf(() => plan({ [name]: value }));
    expect(problems).toEqual([expect.stringMatching(new RegExp(`^${name}=${value} would loosen`))]);
  });

  test('MIN_REQUESTS above the planned count is rejected: the gate could never pass', () => {
    expect(problemsOf(() => plan({ [GATE_ENV.minRequests]: '41' }))).toEqual([
      expect.stringContaining('can never be met'),
    ]);
  });

  test('an override equal to the profile value is allowed', () => {
    expect(plan({ [GATE_ENV.minSuccessRate]: '0.95', [GATE_ENV.maxP95Ms]: '8000' }).targets.minSuccessRate).toBe(0.95);
  });
});

describe('the no-data guards of a plan', () => {
  test('smoke: all 40 requests, at least (40 - 5 VUs) / 2 primed questions, all 5 fresh prompts', () => {
    const p = plan({});
    expect(p.minMainRequests).toBe(40);
    expect(p.minPopularRequests).toBe(17);
    expect(p.minFreshRequests).toBe(5);
    expect(p.minVersionChecked).toBeUndefined();
  });

  test('with EXPECTED_VERSION, the version check needs as many answers as the success rate demands', () => {
    expect(plan({ [GATE_ENV.expectedVersion]: '2.0.0' }).minVersionChecked).toBe(Math.floor(40 * 0.95));
  });

  test('per-VU profiles: each VU asks a primed question on every other iteration', () => {
    expect(plan({ [GATE_ENV.profile]: 'light' }).minPopularRequests).toBe(5 * 2);
    expect(plan({ [GATE_ENV.profile]: 'stress' }).minPopularRequests).toBe(50 * 1);
  });

  test('a split soak scales the guards to this runner share', () => {
    const whole = plan({ [GATE_ENV.profile]: 'soak' });
    const half = plan({ [GATE_ENV.profile]: 'soak', [GATE_ENV.executionSegment]: '1/2:1' });
    expect(whole.minMainRequests).toBe(1710);
    expect(half.minMainRequests).toBe(855);
    expect(half.minFreshRequests).toBe(Math.ceil(60 * 0.95));
    expect(half.segmentFraction).toBe(0.5);
  });

  test('splitting a profile too small to judge per runner is refused', () => {
    expect(problemsOf(() => plan({ [GATE_ENV.profile]: 'baseline', [GATE_ENV.executionSegment]: '0:1/2' }))).toEqual([
      expect.stringContaining('too little'),
    ]);
  });
});

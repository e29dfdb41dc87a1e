import { GATE_PROFILES } from '../../lib/contract/gate';
import { GATE_PROFILE_SPECS } from '../../lib/contract/gate-profiles';
import { readGateConfig } from '../../loadtests/src/lib/config';
import { GATE_K6_METRICS, K6_CHECKS_METRIC } from '../../loadtests/src/lib/metrics';
import { resolvePlan } from '../../loadtests/src/lib/plan';
import {
  buildThresholds,
  evaluateThreshold,
  type ParsedThreshold,
  parseThreshold,
  type ThresholdSpec,
  thresholdId,
  toK6Thresholds,
} from '../../loadtests/src/lib/thresholds';

const RATE_METRICS: string[] = [
  GATE_K6_METRICS.success,
  GATE_K6_METRICS.cacheHit,
  GATE_K6_METRICS.freshUncached,
  GATE_K6_METRICS.versionMatch,
  K6_CHECKS_METRIC,
];
const TREND_METRICS: string[] = [
  GATE_K6_METRICS.latency,
  GATE_K6_METRICS.ttft,
  GATE_K6_METRICS.llmTokens,
  GATE_K6_METRICS.db,
  GATE_K6_METRICS.streamEventsPerSecond,
];
const COUNTER_METRICS: string[] = [GATE_K6_METRICS.requests, GATE_K6_METRICS.versionChecked];

const baseName = (key: string) => key.replace(/\{.*\}$/, '');

/**
 * Values each kind of aggregation can take in a real run: a rate in [0, 1], a count of whole
 * requests, a latency of zero or more milliseconds. A threshold with no failing value in its
 * domain can never fail, which the gate must not have.
 */
function domain(aggregation: string): { min: number; max: number; integer: boolean } {
  if (aggregation === 'rate') return { min: 0, max: 1, integer: false };
  if (aggregation === 'count') return { min: 0, max: 1e9, integer: true };
  return { min: 0, max: 3_600_000, integer: false };
}

/** Candidate observed values around the threshold's bound and at the edges of the domain. */
function candidates(parsed: ParsedThreshold): number[] {
  const d = domain(parsed.aggregation);
  const step = d.integer ? 1 : 1e-6;
  return [d.min, d.max, parsed.value - step, parsed.value, parsed.value + step].filter(
    (v) => v >= d.min && v <= d.max && (!d.integer || Number.isInteger(v)),
  );
}

const cases = GATE_PROFILES.flatMap((profile) =>
  [undefined, '9.9.9'].map((expectedVersion) => {
    const config = readGateConfig({
      BASE_URL: 'http://127.0.0.1:8080',
      PROFILE: profile,
      ...(expectedVersion ? { EXPECTED_VERSION: expectedVersion } : {}),
    });
    const plan = resolvePlan(GATE_PROFILE_SPECS[profile], config);
    return { name: `${profile}${expectedVersion ? ' with EXPECTED_VERSION' : ''}`, specs: buildThresholds(plan) };
  }),
);

describe.each(cases)('thresholds of $name', ({ specs }) => {
  test('every expression parses with the k6 grammar', () => {
    for (const spec of specs)
      expect({ id: thresholdId(spec), parsed: parseThreshold(spec.expression) }).toEqual({
        id: thresholdId(spec),
        parsed: expect.objectContaining({ aggregation: expect.any(String) }),
      });
  });

  test('every threshold can both pass and fail on values a real run can produce', () => {
    for (const spec of specs) {
      const parsed = parseThreshold(spec.expression) as ParsedThreshold;
      const outcomes = candidates(parsed).map((v) => evaluateThreshold(parsed, v));
      expect({ id: thresholdId(spec), canPass: outcomes.includes(true), canFail: outcomes.includes(false) }).toEqual({
        id: thresholdId(spec),
        canPass: true,
        canFail: true,
      });
    }
  });

  test('every threshold says why it exists', () => {
    for (const spec of specs) expect(spec.why.length).toBeGreaterThan(40);
  });

  test('each aggregation fits its metric type (rate on Rates, count on Counters, times on Trends)', () => {
    for (const spec of specs) {
      const { aggregation } = parseThreshold(spec.expression) as ParsedThreshold;
      const metric = baseName(spec.metric);
      if (aggregation === 'rate') expect(RATE_METRICS).toContain(metric);
      else if (aggregation === 'count') expect(COUNTER_METRICS).toContain(metric);
      else expect(TREND_METRICS).toContain(metric);
    }
  });

  test('no Rate or Trend threshold can pass on zero samples: each is guarded by a Counter threshold', () => {
    const byId = new Map(specs.map((s) => [thresholdId(s), s]));
    // Follow guardedBy to a count threshold with a positive minimum (k6 fails count>=N at zero).
    const reachesCountGuard = (spec: ThresholdSpec, seen = new Set<string>()): boolean => {
      const parsed = parseThreshold(spec.expression) as ParsedThreshold;
      if (parsed.aggregation === 'count') return parsed.operator === '>=' && parsed.value >= 1;
      return (spec.guardedBy ?? []).some((id) => {
        const guard = byId.get(id);
        if (!guard || seen.has(id)) return false;
        seen.add(id);
        return reachesCountGuard(guard, seen);
      });
    };
    for (const spec of specs)
      expect({ id: thresholdId(spec), guarded: reachesCountGuard(spec) }).toEqual({
        id: thresholdId(spec),
        guarded: true,
      });
  });

  test('threshold ids are unique and survive the conversion to k6 options', () => {
    const ids = specs.map(thresholdId);
    expect(new Set(ids).size).toBe(ids.length);
    const k6 = toK6Thresholds(specs);
    const roundTrip = Object.entries(k6).flatMap(([metric, list]) =>
      list.map((t) => `${metric} ${typeof t === 'string' ? t : t.threshold}`),
    );
    expect(roundTrip.sort()).toEqual([...ids].sort());
  });
});

describe('threshold details', () => {
  const smokePlan = () => {
    const config = readGateConfig({ BASE_URL: 'http://127.0.0.1:8080', EXPECTED_VERSION: '1.0.0' });
    return resolvePlan(GATE_PROFILE_SPECS.smoke, config);
  };

  test('the version threshold exists only when EXPECTED_VERSION is given, and demands every answer', () => {
    const ids = buildThresholds(smokePlan()).map(thresholdId);
    expect(ids).toContain('chat_version_match rate==1');
    const config = readGateConfig({ BASE_URL: 'http://127.0.0.1:8080' });
    expect(buildThresholds(resolvePlan(GATE_PROFILE_SPECS.smoke, config)).map((t) => t.metric)).not.toContain(
      GATE_K6_METRICS.versionMatch,
    );
  });

  test('run-unique prompts must never be answered from the cache', () => {
    expect(buildThresholds(smokePlan()).map(thresholdId)).toContain('chat_fresh_uncached rate==1');
  });

  test('the early-abort threshold becomes an abortOnFail object with a delay', () => {
    const k6 = toK6Thresholds(buildThresholds(smokePlan()));
    expect(k6['chat_success{scenario:smoke}']).toEqual([
      'rate>0.95',
      { threshold: 'rate>0.5', abortOnFail: true, delayAbortEval: '10s' },
    ]);
  });

  test('the evaluator follows k6 semantics for every operator', () => {
    const cases: Array<[string, number, boolean]> = [
      ['rate>0.95', 0.95, false],
      ['rate>0.95', 0.951, true],
      ['count>=40', 40, true],
      ['count>=40', 39, false],
      ['p(95)<500', 500, false],
      ['p(99.9)<=500', 500, true],
      ['rate==1', 1, true],
      ['rate===1', 0.99, false],
      ['avg!=0', 0, false],
    ];
    for (const [expression, observed, expected] of cases) {
      expect([
        expression,
        observed,
        evaluateThreshold(parseThreshold(expression) as ParsedThreshold, observed),
      ]).toEqual([expression, observed, expected]);
    }
  });

  test.each(['rate > ', 'p(101)<5', 'median<5', 'rate>>1', 'count>=x'])('"%s" does not parse', (expression) => {
    expect(parseThreshold(expression)).toBeNull();
  });
});

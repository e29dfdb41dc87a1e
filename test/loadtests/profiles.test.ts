import { readFileSync } from 'node:fs';
import path from 'node:path';
import { GATE_PROFILES } from '../../lib/contract/gate';
import { GATE_PROFILE_SPECS, maxDurationSeconds, plannedIterations } from '../../lib/contract/gate-profiles';
import { readGateConfig } from '../../loadtests/src/lib/config';
import { FRESH_SCENARIO, STREAMS_SCENARIO } from '../../loadtests/src/lib/metrics';
import { buildK6Options, SCENARIO_EXEC } from '../../loadtests/src/lib/options';
import { resolvePlan } from '../../loadtests/src/lib/plan';
import { segmentPlannedIterations } from '../../loadtests/src/lib/segments';
import { buildThresholds } from '../../loadtests/src/lib/thresholds';

/** The seeds' success criteria (docs/loadtests.md, "The seeds' success criteria"), restated independently. */
const SEEDS = [
  { profile: 'baseline', users: 1, requests: 5, success: 0.95, avgMs: 3000, hit: 0.5 },
  { profile: 'light', users: 5, requests: 20, success: 0.95, avgMs: 4000, hit: 0.7 },
  { profile: 'medium', users: 10, requests: 30, success: 0.95, avgMs: 5000, hit: 0.75 },
  { profile: 'heavy', users: 20, requests: 60, success: 0.9, avgMs: 10000, hit: 0.8 },
  { profile: 'stress', users: 50, requests: 100, success: 0.8, avgMs: 30000, hit: 0.85 },
] as const;

const planFor = (profile: string, extra: Record<string, string> = {}) => {
  const config = readGateConfig({ BASE_URL: 'http://127.0.0.1:8080', PROFILE: profile, ...extra });
  return resolvePlan(GATE_PROFILE_SPECS[config.profile], config);
};

describe('gate profiles', () => {
  test('every profile in the contract has a spec, and every spec is in the contract', () => {
    expect(Object.keys(GATE_PROFILE_SPECS).sort()).toEqual([...GATE_PROFILES].sort());
    for (const name of GATE_PROFILES) expect(GATE_PROFILE_SPECS[name].name).toBe(name);
  });

  test("the seeds' success-criteria table in docs/loadtests.md states the same scenarios", () => {
    const docs = readFileSync(path.resolve(__dirname, '..', '..', 'docs', 'loadtests.md'), 'utf8');
    const section = docs.split("### The seeds' success criteria")[1]?.split('\n#')[0] ?? '';
    const rows = [
      ...section.matchAll(/^\| [^|]+ \| (\d+) × (\d+) \((\d+)\) \| > (\d+)% \| < (\d+) s \| > (\d+)% \| `(\w+)` \|$/gm),
    ];
    expect(
      rows.map(([, users, each, total, success, avgS, hit, profile]) => ({
        profile,
        users: Number(users),
        requests: Number(total),
        perUser: Number(total) / Number(users) === Number(each),
        success: Number(success) / 100,
        avgMs: Number(avgS) * 1000,
        hit: Number(hit) / 100,
      })),
    ).toEqual(SEEDS.map((seed) => ({ ...seed, perUser: true })));
  });

  describe.each(SEEDS)("the seeds' $profile scenario", (seed) => {
    const spec = GATE_PROFILE_SPECS[seed.profile];

    test(`runs ${seed.users} concurrent users sending ${seed.requests} requests in total`, () => {
      expect(spec.main.executor).toBe('per-vu-iterations');
      if (spec.main.executor !== 'per-vu-iterations') return;
      expect(spec.main.vus).toBe(seed.users);
      expect(plannedIterations(spec.main)).toBe(seed.requests);
    });

    test('carries the seeds success rate, average latency and cache hit rate as k6 thresholds', () => {
      const thresholds = buildK6Options(planFor(seed.profile), buildThresholds(planFor(seed.profile))).thresholds;
      expect(thresholds[`chat_success{scenario:${seed.profile}}`]).toContain(`rate>${seed.success}`);
      expect(thresholds[`chat_latency{scenario:${seed.profile}}`]).toContain(`avg<${seed.avgMs}`);
      expect(thresholds[`chat_cache_hit{scenario:${seed.profile}}`]).toContain(`rate>${seed.hit}`);
    });

    test('must answer every one of its requests (the no-data guard is the full count)', () => {
      const thresholds = buildK6Options(planFor(seed.profile), buildThresholds(planFor(seed.profile))).thresholds;
      expect(thresholds[`chat_requests{scenario:${seed.profile}}`]).toContain(`count>=${seed.requests}`);
    });
  });

  test('smoke is the default and has at most 60 s of load, graceful stop included', () => {
    expect(readGateConfig({ BASE_URL: 'http://127.0.0.1:1' }).profile).toBe('smoke');
    const smoke = GATE_PROFILE_SPECS.smoke;
    expect(
      Math.max(maxDurationSeconds(smoke.main), maxDurationSeconds(smoke.fresh)) + smoke.gracefulStopSeconds,
    ).toBeLessThanOrEqual(60);
    expect(smoke.targets.maxP95LatencyMs).toBeDefined();
  });

  test('soak runs for at least 15 minutes and spike bursts to at least five times its base rate', () => {
    expect(maxDurationSeconds(GATE_PROFILE_SPECS.soak.main)).toBeGreaterThanOrEqual(900);
    const spike = GATE_PROFILE_SPECS.spike.main;
    expect(spike.executor).toBe('ramping-arrival-rate');
    if (spike.executor !== 'ramping-arrival-rate') return;
    const peak = Math.max(...spike.stages.map((s) => s.targetRatePerMinute));
    expect(peak).toBeGreaterThanOrEqual(5 * spike.startRatePerMinute);
  });

  test('ramping arrival rates plan the area under the rate curve', () => {
    // 30 s at 1/s, 10 s ramp to 10/s, 30 s at 10/s, 10 s ramp down, 30 s at 1/s.
    expect(plannedIterations(GATE_PROFILE_SPECS.spike.main)).toBe(30 + 55 + 300 + 55 + 30);
    expect(plannedIterations(GATE_PROFILE_SPECS.soak.main)).toBe(90 * 20);
  });

  test.each(GATE_PROFILES)(
    '%s runs the chat mix and the run-unique prompts, and its concurrent streams if any',
    (name) => {
      const plan = planFor(name);
      const options = buildK6Options(plan, buildThresholds(plan));
      const streams = GATE_PROFILE_SPECS[name].streams;
      expect(Object.keys(options.scenarios).sort()).toEqual(
        [FRESH_SCENARIO, name, ...(streams ? [STREAMS_SCENARIO] : [])].sort(),
      );
      expect(options.scenarios[name]?.exec).toBe(SCENARIO_EXEC.main);
      expect(options.scenarios[FRESH_SCENARIO]?.exec).toBe(SCENARIO_EXEC.fresh);
      if (streams) {
        // The seeds' "more than 10 concurrent connections": one stream per VU, every VU at once.
        expect(streams.concurrent).toBeGreaterThan(10);
        expect(options.scenarios[STREAMS_SCENARIO]).toMatchObject({
          executor: 'per-vu-iterations',
          vus: streams.concurrent,
          iterations: 1,
          exec: SCENARIO_EXEC.streams,
        });
        const t = buildThresholds(plan).map((x) => `${x.metric} ${x.expression}`);
        expect(t).toContain(`chat_requests{scenario:streams} count>=${streams.concurrent}`);
        expect(t).toContain('chat_stream_events_per_s{scenario:streams} med>20');
      }
      expect(options.summaryTrendStats).toEqual(expect.arrayContaining(['avg', 'p(95)', 'count']));
    },
  );

  test('a split run guarantees each runner at least the floor of its share', () => {
    const light = GATE_PROFILE_SPECS.light.main; // 5 VUs x 4: halves get 2 or 3 VUs
    expect(segmentPlannedIterations(light, 0.5)).toBe(8);
    // Shared iterations follow the VU split: 5 VUs halve into 3 and 2, so 40 iterations into 24 and 16.
    expect(segmentPlannedIterations(GATE_PROFILE_SPECS.smoke.main, 0.5)).toBe(16);
    expect(segmentPlannedIterations(GATE_PROFILE_SPECS.smoke.fresh, 0.5)).toBe(2);
    expect(segmentPlannedIterations(GATE_PROFILE_SPECS.soak.main, 1 / 3)).toBe(600);
    expect(
      segmentPlannedIterations({ executor: 'shared-iterations', vus: 1, iterations: 9, maxDurationSeconds: 9 }, 0.5),
    ).toBe(0);
  });

  // The hook splits a run into n equal segments (lambda/k6-gate/runner-plan.ts); prod runs smoke on 2.
  test.each(['smoke', 'soak', 'spike'] as const)(
    '%s can be split across 2, 3 or 4 runners, each judged on data',
    (profile) => {
      for (const n of [2, 3, 4]) {
        for (let i = 0; i < n; i++) {
          const segment = `${i === 0 ? '0' : `${i}/${n}`}:${i + 1 === n ? '1' : `${i + 1}/${n}`}`;
          const plan = planFor(profile, { EXECUTION_SEGMENT: segment });
          expect({
            segment,
            main: plan.minMainRequests >= 1,
            popular: plan.minPopularRequests >= 1,
            fresh: plan.minFreshRequests >= 1,
          }).toEqual({
            segment,
            main: true,
            popular: true,
            fresh: true,
          });
        }
      }
    },
  );
});

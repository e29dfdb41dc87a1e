import { GATE_PROFILE_SPECS } from '../../lib/contract/gate-profiles';
import { GATE_METRICS } from '../../lib/contract/metrics';
import { readGateConfig } from '../../loadtests/src/lib/config';
import { buildEmfLine } from '../../loadtests/src/lib/emf';
import { buildJUnit, escapeXml } from '../../loadtests/src/lib/junit';
import type { K6SummaryData } from '../../loadtests/src/lib/k6-summary';
import { resolvePlan } from '../../loadtests/src/lib/plan';
import { buildGateReport } from '../../loadtests/src/lib/report';
import { buildThresholds } from '../../loadtests/src/lib/thresholds';
import { renderVerdict } from '../../loadtests/src/lib/verdict';
import { abortedRun, SUMMARY_AT_MS, smokeRunWithColdCache } from './fixtures/k6-summary';

const config = readGateConfig({
  BASE_URL: 'http://green.internal:8080',
  PROFILE: 'smoke',
  EXPECTED_VERSION: '2.0.0',
  RUN_ID: 'ci-1234',
  SERVICE_NAME: 'chat-api-staging',
});
const plan = resolvePlan(GATE_PROFILE_SPECS.smoke, config);
const thresholds = buildThresholds(plan);
const report = (data: K6SummaryData) => buildGateReport(data, { config, plan, thresholds, nowMs: SUMMARY_AT_MS });

/** Minimal XML well-formedness: every tag closes in order, attributes are quoted, no raw & or <. */
function assertWellFormedXml(xml: string): void {
  expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n')).toBe(true);
  const stack: string[] = [];
  const body = xml.replace(/^<\?xml[^>]*\?>/, '');
  const tag = /<(\/?)([A-Za-z][\w-]*)((?:\s+[\w-]+="[^"<]*")*)\s*(\/?)>/g;
  let last = 0;
  for (let m = tag.exec(body); m !== null; m = tag.exec(body)) {
    const text = body.slice(last, m.index);
    expect(text).not.toMatch(/[<>]|&(?!(amp|lt|gt|quot|apos);)/);
    last = m.index + m[0].length;
    const [, closing, name, , selfClosing] = m;
    if (selfClosing) continue;
    if (closing) expect(stack.pop()).toBe(name);
    else stack.push(name as string);
  }
  expect(body.slice(last).trim()).toBe('');
  expect(stack).toEqual([]);
}

describe('the gate report of a smoke run whose cache stopped serving most hits', () => {
  const r = report(smokeRunWithColdCache());

  test('the verdict is FAIL, and only the breached threshold is failed', () => {
    expect(r.verdict).toBe('FAIL');
    expect(r.thresholds.filter((t) => !t.ok).map((t) => `${t.metric} ${t.expression}`)).toEqual([
      'chat_cache_hit{scenario:smoke} rate>0.9',
    ]);
    expect(r.thresholds).toHaveLength(thresholds.length);
  });

  test('headline numbers come from the summary: requests, error rate, p95, hit rate, version match', () => {
    expect(r.requests).toEqual({ total: 45, main: 40, fresh: 5, popular: 20 });
    expect(r.errorRatePercent).toBe(0);
    expect(r.latencyMs).toEqual({ avg: 1323, p95: 4210 });
    expect(r.cacheHitRatePercent).toBe(40);
    expect(r.versionMatchPercent).toBe(100);
    expect(r.failedChecks).toEqual([
      { name: 'cached agrees with x-cache', path: '::cached agrees with x-cache', passes: 44, fails: 1 },
    ]);
  });

  test('time to verdict runs from the start of setup() to the summary', () => {
    expect(r.durationSeconds).toBe(41.7);
    expect(r.loadSeconds).toBe(38.2);
  });

  test('the human verdict names the profile, the numbers and PASS/FAIL per threshold', () => {
    const text = renderVerdict(r);
    expect(text).toContain('k6 gate "smoke" against http://green.internal:8080 (run ci-1234, expecting version 2.0.0)');
    expect(text).toMatch(/requests: +45 /);
    expect(text).toContain('error rate 0%');
    expect(text).toContain('p95 4210 ms');
    expect(text).toContain('cache hit: 40% of primed questions');
    expect(text).toContain('version match: 100%');
    expect(text).toMatch(/FAIL {2}chat_cache_hit\{scenario:smoke\} rate>0\.9 +observed 0\.4/);
    expect(text.match(/^ {4}PASS /gm)).toHaveLength(thresholds.length - 1);
    expect(text).toContain('check failed: "cached agrees with x-cache" 1x');
    expect(text.split('\n').at(-1)).toBe(
      `verdict: FAIL: 1 of ${thresholds.length} thresholds breached (time to verdict 41.7 s)`,
    );
  });

  test('JUnit: one test case per threshold, one failure with the observed value and the reason', () => {
    const xml = buildJUnit(r, '2027-01-15T08:00:41.700Z');
    assertWellFormedXml(xml);
    expect(xml.match(/<testcase /g)).toHaveLength(thresholds.length);
    expect(xml).toContain(
      `<testsuites name="k6 gate" tests="${thresholds.length}" failures="1" errors="0" time="41.7">`,
    );
    const failure =
      /<testcase classname="gate.smoke" name="chat_cache_hit\{scenario:smoke\} rate&gt;0.9" time="0">\n\s+<failure message="([^"]*)" type="threshold">([^<]*)<\/failure>/.exec(
        xml,
      );
    expect(failure?.[1]).toBe('observed 0.4; required rate&gt;0.9');
    expect(failure?.[2]).toContain('cache');
    expect(xml.match(/<failure /g)).toHaveLength(1);
  });

  test('EMF: one JSON line CloudWatch can parse, in the gate namespace, with the Service dimension', () => {
    const line = buildEmfLine(r, SUMMARY_AT_MS);
    expect(line).not.toContain('\n');
    const emf = JSON.parse(line);
    const directive = emf._aws.CloudWatchMetrics[0];
    expect(emf._aws.Timestamp).toBe(SUMMARY_AT_MS);
    expect(directive.Namespace).toBe(GATE_METRICS.namespace);
    expect(directive.Dimensions).toEqual([[GATE_METRICS.dimension]]);
    expect(emf[GATE_METRICS.dimension]).toBe('chat-api-staging');
    // Every declared metric has a numeric value at the root, as the EMF specification requires.
    for (const m of directive.Metrics) expect(typeof emf[m.Name]).toBe('number');
    const n = GATE_METRICS.names;
    expect(emf).toMatchObject({
      [n.failed]: 1,
      [n.error]: 0,
      [n.requests]: 45,
      [n.p95LatencyMs]: 4210,
      [n.errorRatePercent]: 0,
      [n.cacheHitRatePercent]: 40,
      [n.durationSeconds]: 41.7,
      Profile: 'smoke',
    });
  });
});

describe('a run whose setup() aborted', () => {
  const r = report(abortedRun());

  test('is a gate ERROR, not a PASS, even where k6 reports a threshold as ok', () => {
    expect(r.verdict).toBe('ERROR');
    expect(r.error).toContain('setup() did not complete');
  });

  test('reports no latency rather than 0 ms, and planned thresholds k6 did not report count as failed', () => {
    expect(r.latencyMs).toEqual({ avg: null, p95: null });
    const missing = r.thresholds.find((t) => t.metric === 'chat_version_match');
    expect(missing).toMatchObject({ ok: false, observed: null });
    expect(missing?.why).toContain('counted as failed');
  });

  test('the EMF line flags an error and leaves out the metrics it has no value for', () => {
    const emf = JSON.parse(buildEmfLine(r, SUMMARY_AT_MS));
    expect(emf[GATE_METRICS.names.failed]).toBe(1);
    expect(emf[GATE_METRICS.names.error]).toBe(1);
    expect(emf).not.toHaveProperty(GATE_METRICS.names.p95LatencyMs);
    expect(emf._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name)).not.toContain(
      GATE_METRICS.names.p95LatencyMs,
    );
  });

  test('JUnit carries an error test case so CI shows the gate did not judge', () => {
    const xml = buildJUnit(r, '2027-01-15T08:00:02.000Z');
    assertWellFormedXml(xml);
    expect(xml).toMatch(/errors="1"/);
    expect(xml).toContain('<error message="setup() did not complete');
  });

  test('the verdict says ERROR', () => {
    expect(renderVerdict(r).split('\n').at(-1)).toMatch(/^verdict: ERROR: setup\(\) did not complete/);
  });
});

describe('a clean run', () => {
  test('is PASS only when k6 reports every planned threshold ok', () => {
    const data = smokeRunWithColdCache();
    const metrics = { ...data.metrics };
    metrics['chat_cache_hit{scenario:smoke}'] = {
      type: 'rate',
      values: { rate: 1, passes: 20, fails: 0 },
      thresholds: { 'rate>0.9': { ok: true } },
    };
    const r = report({ ...data, metrics });
    expect(r.verdict).toBe('PASS');
    expect(JSON.parse(buildEmfLine(r, SUMMARY_AT_MS))[GATE_METRICS.names.failed]).toBe(0);
    expect(buildJUnit(r, 'now')).toContain('failures="0" errors="0"');
  });

  test('an extra threshold k6 reports but the plan does not know still decides the verdict', () => {
    const data = smokeRunWithColdCache();
    const metrics = {
      ...data.metrics,
      'chat_cache_hit{scenario:smoke}': {
        type: 'rate' as const,
        values: { rate: 1, passes: 20, fails: 0 },
        thresholds: { 'rate>0.9': { ok: true } },
      },
      http_req_failed: {
        type: 'rate' as const,
        values: { rate: 0.5, passes: 1, fails: 1 },
        thresholds: { 'rate<0.01': { ok: false } },
      },
    };
    const r = report({ ...data, metrics });
    expect(r.verdict).toBe('FAIL');
    expect(r.thresholds.at(-1)).toMatchObject({ metric: 'http_req_failed', role: 'unplanned', ok: false });
  });
});

test('XML escaping covers markup, quotes and control characters', () => {
  expect(escapeXml(`a<b>&"c"'\u0001`)).toBe('a&lt;b&gt;&amp;&quot;c&quot;&apos;');
});

describe('cost and time to first token in every report', () => {
  const priced = readGateConfig({
    BASE_URL: 'http://green.internal:8080',
    PROFILE: 'smoke',
    LLM_PRICE_PER_MTOK: '3/15',
  });
  const p = resolvePlan(GATE_PROFILE_SPECS.smoke, priced);
  const r = buildGateReport(smokeRunWithColdCache(), {
    config: priced,
    plan: p,
    thresholds: buildThresholds(p),
    nowMs: SUMMARY_AT_MS,
    llmCallBound: 55,
  });

  test('tokens per call and cost per 1,000 answers at the stage price, from the usage counters', () => {
    // 1004 input + 398 output tokens over 20 LLM calls; 45 answers (hits cost 0).
    expect(r.cost.candidate).toEqual({
      answers: 45,
      llmCalls: 20,
      inputTokens: 1004,
      outputTokens: 398,
      tokensPerCall: 70.1,
      costPer1000Answers: Math.round(((1004 * 3 + 398 * 15) / 1e6 / 45) * 1000 * 10_000) / 10_000,
    });
    expect(r.cost.baseline).toBeNull();
    const text = renderVerdict(r);
    expect(text).toContain('cost:      candidate 70.1 tokens/call (20 LLM calls for 45 answers), $0.2');
    expect(text).toContain('at $3/$15 per million input/output tokens; at most 55 LLM calls per target in this run');
    expect(text).toContain('ttft:      p95 1211 ms');
  });

  test('EMF carries a tokens-per-call metric and a TTFT p95 metric', () => {
    const emf = JSON.parse(buildEmfLine(r, SUMMARY_AT_MS));
    expect(emf[GATE_METRICS.names.tokensPerCall]).toBe(70.1);
    expect(emf[GATE_METRICS.names.ttftP95Ms]).toBe(1211);
    const names = emf._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name);
    expect(names).toEqual(expect.arrayContaining([GATE_METRICS.names.tokensPerCall, GATE_METRICS.names.ttftP95Ms]));
  });

  test('a malformed price is refused before any load', () => {
    expect(() => readGateConfig({ BASE_URL: 'http://a.test', LLM_PRICE_PER_MTOK: '3 dollars' })).toThrow(
      /LLM_PRICE_PER_MTOK must be <input>\/<output>/,
    );
  });
});

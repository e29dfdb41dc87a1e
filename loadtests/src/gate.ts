/**
 * The k6 gate: one script, every profile (`PROFILE`). Thin glue around the pure modules in `lib/`:
 * it reads `__ENV`, sends requests, records metrics, and hands k6's summary to the report builders.
 *
 *   k6 run -e BASE_URL=http://127.0.0.1:8080 -e PROFILE=smoke loadtests/dist/gate.js
 *
 * Exit codes are k6's own: 0 every threshold held, 99 a threshold failed, 108 setup() aborted
 * (target not ready, or the gate could not authenticate), 107 a bad input or script error.
 *
 * Credentials (GATE_AUTH_TOKEN, or GATE_TOKEN_URL + GATE_CLIENT_ID + GATE_CLIENT_SECRET) come from the
 * process environment, never from `-e`, and the token never reaches a log or a report.
 */
import { check, sleep } from 'k6';
import exec from 'k6/execution';
import http, { type RefinedResponse, type ResponseType } from 'k6/http';
import { Counter, Rate, Trend } from 'k6/metrics';
import type { Options } from 'k6/options';
import { AUTH_PROBE, GATE_ENV, GATE_REPORT_FILES } from '../../lib/contract/gate';
import { GATE_PROFILE_SPECS } from '../../lib/contract/gate-profiles';
import { HEADERS, ROUTES } from '../../lib/contract/http';
import corpusJson from '../corpus/questions.json';
import {
  assessChatResponse,
  assessReadiness,
  type ChatAssessment,
  type HttpResult,
  type MetricRecord,
  metricRecords,
  type ReadinessAssessment,
} from './lib/assess';
import {
  clientCredentialsRequest,
  describeRejection,
  type GateCredentials,
  parseTokenResponse,
  readGateCredentials,
} from './lib/auth';
import {
  comparisonMetrics,
  comparisonThresholds,
  designComparisons,
  HIT_PAIRS_SCENARIO,
  hitPairsFor,
  PAIR_ROUTES,
  type PairSide,
  PERCENTILE_GRID,
  pairRecords,
  routeDiffMetric,
  TTFT_PAIRS,
  TTFT_SCENARIO,
  ttftPairsFor,
} from './lib/compare/comparisons';
import { type PairTarget, pairOrder, scopeMessage } from './lib/compare/pairing';
import { parseExecutionSegment, readGateConfig, segmentFraction } from './lib/config';
import {
  type Corpus,
  freshPrompt,
  freshRoute,
  generateRunId,
  nextSession,
  type PlannedRequest,
  planChatRequest,
  primedQuestion,
  primedQuestions,
  type SessionState,
} from './lib/corpus';
import { type CostTarget, costMetrics, costRecords, llmCallBound } from './lib/cost';
import { buildEmfLine } from './lib/emf';
import { buildJUnit } from './lib/junit';
import type { K6SummaryData } from './lib/k6-summary';
import { GATE_K6_METRICS } from './lib/metrics';
import { buildK6Options, CHAT_REQUEST_TIMEOUT_SECONDS } from './lib/options';
import { resolvePlan } from './lib/plan';
import { buildGateReport, type SetupData, withoutCredentials } from './lib/report';
import { buildThresholds } from './lib/thresholds';
import { renderVerdict } from './lib/verdict';

// --- init: inputs, plan, options (a bad input throws here: k6 exits 107, never a pass) ----------
const config = readGateConfig(__ENV);
// From the process environment (ECS secrets in AWS); incomplete credentials throw here (107).
const credentials: GateCredentials = readGateCredentials(__ENV);
const plan = resolvePlan(GATE_PROFILE_SPECS[config.profile], config);
// With a baseline, the comparisons' thresholds join the profile's (which still apply to the candidate).
const designs = config.baselineUrl ? designComparisons(plan) : undefined;
const thresholds = [...buildThresholds(plan), ...(designs ? comparisonThresholds(designs) : [])];
const corpus: Corpus = corpusJson;

const k6Options = buildK6Options(plan, thresholds);
const ttftPairs = designs ? ttftPairsFor(plan) : 0;
export const options: Options = designs
  ? {
      ...k6Options,
      // Run-unique streamed prompts to both targets: the TTFT comparison's pairs (see comparisons.ts).
      scenarios: {
        ...k6Options.scenarios,
        [TTFT_SCENARIO]: {
          executor: 'shared-iterations',
          vus: 4,
          // The whole run's count: k6 gives each execution segment its share, as for the other scenarios.
          iterations: TTFT_PAIRS,
          maxDuration: '45s',
          gracefulStop: `${plan.profile.gracefulStopSeconds}s`,
          exec: 'ttft',
          tags: {},
        },
        // Primed questions, one pair at a time: the tail's pairs (see comparisons.ts). One VU per
        // runner (k6 gives each execution segment its share of the VUs), each sending its share.
        [HIT_PAIRS_SCENARIO]: {
          executor: 'per-vu-iterations',
          vus: Math.max(1, Math.round(1 / plan.segmentFraction)),
          iterations: hitPairsFor(plan),
          maxDuration: '40s',
          gracefulStop: `${plan.profile.gracefulStopSeconds}s`,
          exec: 'hitPairs',
          tags: {},
        },
      },
      // Order statistics for the intervals of the paired differences come from a dense percentile grid.
      summaryTrendStats: [...new Set([...(k6Options.summaryTrendStats ?? []), ...PERCENTILE_GRID])],
    }
  : k6Options;

const metrics: Record<string, Counter | Rate | Trend> = {
  [GATE_K6_METRICS.requests]: new Counter(GATE_K6_METRICS.requests),
  [GATE_K6_METRICS.success]: new Rate(GATE_K6_METRICS.success),
  [GATE_K6_METRICS.latency]: new Trend(GATE_K6_METRICS.latency, true),
  [GATE_K6_METRICS.cacheHit]: new Rate(GATE_K6_METRICS.cacheHit),
  [GATE_K6_METRICS.freshUncached]: new Rate(GATE_K6_METRICS.freshUncached),
  [GATE_K6_METRICS.versionMatch]: new Rate(GATE_K6_METRICS.versionMatch),
  [GATE_K6_METRICS.versionChecked]: new Counter(GATE_K6_METRICS.versionChecked),
  [GATE_K6_METRICS.ttft]: new Trend(GATE_K6_METRICS.ttft, true),
  [GATE_K6_METRICS.llmTokens]: new Trend(GATE_K6_METRICS.llmTokens),
  [GATE_K6_METRICS.db]: new Trend(GATE_K6_METRICS.db, true),
  [GATE_K6_METRICS.streamEventsPerSecond]: new Trend(GATE_K6_METRICS.streamEventsPerSecond),
};
for (const target of (config.baselineUrl ? ['candidate', 'baseline'] : ['candidate']) as CostTarget[]) {
  for (const name of Object.values(costMetrics(target))) metrics[name] = new Counter(name);
}
for (const d of designs ?? []) {
  const m = comparisonMetrics(d.spec.id);
  metrics[m.worse] = new Rate(m.worse);
  metrics[m.pairs] = new Counter(m.pairs);
  if (d.spec.kind === 'latency') {
    metrics[m.diff] = new Trend(m.diff);
    for (const route of PAIR_ROUTES)
      metrics[routeDiffMetric(d.spec.id, route)] = new Trend(routeDiffMetric(d.spec.id, route));
    const isTime = d.spec.valueUnit === 'ms';
    metrics[m.baseline] = new Trend(m.baseline, isTime);
    metrics[m.candidate] = new Trend(m.candidate, isTime);
  } else {
    metrics[m.baseline] = new Counter(m.baseline);
    metrics[m.candidate] = new Counter(m.candidate);
  }
}

function record(records: readonly MetricRecord[]): void {
  for (const r of records) {
    const metric = metrics[r.metric];
    if (!metric) throw new Error(`no k6 metric named ${r.metric}`);
    metric.add(typeof r.value === 'boolean' ? (r.value ? 1 : 0) : r.value, r.tags);
  }
}

function toResult(res: RefinedResponse<ResponseType | undefined>): HttpResult {
  return {
    status: res.status,
    headers: res.headers,
    body: typeof res.body === 'string' ? res.body : null,
    durationMs: res.timings.duration,
    waitingMs: res.timings.waiting,
    ...(res.error ? { error: res.error } : {}),
  };
}

function chatParams(request: { route: string; kind: string }, requestId: string, authorization: string | undefined) {
  return {
    headers: {
      'content-type': 'application/json',
      accept: request.route === 'stream' ? 'text/event-stream' : 'application/json',
      [HEADERS.requestId]: requestId,
      ...(authorization ? { [HEADERS.authorization]: authorization } : {}),
    },
    tags: { name: request.route, kind: request.kind },
    timeout: `${CHAT_REQUEST_TIMEOUT_SECONDS}s`,
  };
}

function chatUrl(route: string, base: string = config.baseUrl): string {
  return `${base}${route === 'stream' ? ROUTES.chatStream : ROUTES.chat}`;
}

function targetUrl(target: PairTarget): string {
  return target === 'baseline' ? (config.baselineUrl as string) : config.baseUrl;
}

/** Stops the run before any load: a gate that cannot authenticate has judged nothing (k6 exits 108). */
function abort(reason: string): never {
  console.error(`gate: ${reason}`);
  exec.test.abort(reason);
  throw new Error(reason); // not reached: abort() stops the run
}

/** `Bearer …` from GATE_AUTH_TOKEN, or from the token endpoint; a failure aborts as a gate error. */
function obtainAuthorization(): string | undefined {
  if (credentials.kind === 'none') return undefined;
  if (credentials.kind === 'token') return `Bearer ${credentials.token}`;
  const request = clientCredentialsRequest(credentials);
  const res = http.post(request.url, request.body, {
    headers: request.headers,
    timeout: '10s',
    tags: { name: 'token' },
    responseType: 'text',
  });
  const parsed = parseTokenResponse(res.status, typeof res.body === 'string' ? res.body : null);
  if (!parsed.ok) return abort(`gate auth error: ${parsed.problem} (${credentials.tokenUrl})`);
  return `Bearer ${parsed.token}`;
}

/** One cheap authenticated call (no LLM): a 401 now means every request of the run would fail. */
function verifyAuthorization(authorization: string | undefined): void {
  const res = http.request(AUTH_PROBE.method, `${config.baseUrl}${AUTH_PROBE.path}`, AUTH_PROBE.body, {
    headers: {
      'content-type': 'application/json',
      ...(authorization ? { [HEADERS.authorization]: authorization } : {}),
    },
    timeout: '10s',
    tags: { name: 'auth-check' },
  });
  if (res.status !== 401) return;
  let reason: string | undefined;
  try {
    const body = JSON.parse(String(res.body)) as { error?: { reason?: unknown } };
    reason = typeof body.error?.reason === 'string' ? body.error.reason : undefined;
  } catch {
    reason = undefined;
  }
  abort(`gate auth error: ${describeRejection(credentials, reason)}`);
}

// --- setup: the target must be ready, the popular questions primed ------------------------------
export function setup(): SetupData {
  const startedAtMs = Date.now();
  const readiness = waitForReadiness(config.baseUrl);
  if (!readiness.ready) {
    const reason = `target not ready at ${config.baseUrl}${ROUTES.ready}: ${readiness.detail}`;
    console.error(`gate: ${reason}`);
    exec.test.abort(reason);
    throw new Error(reason); // not reached: abort() stops the run
  }
  if (config.expectedVersion && readiness.version !== undefined && readiness.version !== config.expectedVersion) {
    console.warn(
      `gate: ${ROUTES.ready} reports version ${readiness.version}, expected ${config.expectedVersion}; the version threshold will fail`,
    );
  }
  verifyExecutionSegment();
  const authorization = obtainAuthorization();
  verifyAuthorization(authorization);
  const baselineReadiness = config.baselineUrl ? checkBaseline(readiness) : undefined;

  const runId = config.runId ?? generateRunId(startedAtMs, Math.random);
  const summary = (r: ReadinessAssessment) => ({
    status: r.status,
    detail: r.detail,
    ...(r.version !== undefined ? { version: r.version } : {}),
  });
  const bearer = authorization ? { bearerHeader: authorization } : {};
  if (!baselineReadiness) {
    return { runId, ...bearer, readiness: summary(readiness), primed: prime(runId, authorization), startedAtMs };
  }

  // Each target primes its own copies of the popular questions (see pairing.ts), before any pair.
  const primed = prime(runId, authorization, 'candidate');
  const baselinePrimed = prime(runId, authorization, 'baseline');
  // The boundary's pseudo-trials: zeros in each comparison's Rate, once per run (see stats.ts).
  for (const d of designs ?? []) {
    const worse = metrics[comparisonMetrics(d.spec.id).worse] as Rate;
    for (let i = 0; i < d.boundary.pseudoTrials; i++) worse.add(0, { pseudo: 'true' });
  }
  return {
    runId,
    ...bearer,
    readiness: summary(readiness),
    primed,
    startedAtMs,
    baseline: { readiness: summary(baselineReadiness), primed: baselinePrimed },
  };
}

/**
 * The baseline must be ready and must be another version: one that answers with the candidate's
 * version means the URLs were swapped or both point at the same tasks, and the comparison would
 * prove nothing. That is a gate error (the run aborts, exit 108), never a pass.
 */
function checkBaseline(candidate: ReadinessAssessment): ReadinessAssessment {
  const baseline = waitForReadiness(config.baselineUrl as string);
  let reason: string | undefined;
  if (!baseline.ready) reason = `baseline not ready at ${config.baselineUrl}${ROUTES.ready}: ${baseline.detail}`;
  else if (config.expectedVersion !== undefined && baseline.version === config.expectedVersion) {
    reason = `the baseline ${config.baselineUrl} answers with the candidate's version ${config.expectedVersion}: the URLs are swapped or point at the same target`;
  } else if (
    config.expectedVersion === undefined &&
    baseline.version !== undefined &&
    baseline.version === candidate.version
  ) {
    reason = `the baseline ${config.baselineUrl} and the candidate ${config.baseUrl} both answer as version ${baseline.version}: they are the same target, or pass ${GATE_ENV.expectedVersion}`;
  }
  if (reason) {
    console.error(`gate: ${reason}`);
    exec.test.abort(reason);
    throw new Error(reason); // not reached
  }
  return baseline;
}

/** Three looks, a second apart: fail fast, but not on one dropped packet. */
function waitForReadiness(base: string): ReadinessAssessment {
  let last: ReadinessAssessment | undefined;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const res = http.get(`${base}${ROUTES.ready}`, { timeout: '5s', tags: { name: 'ready' } });
    last = assessReadiness(toResult(res));
    if (last.ready) return last;
    if (attempt < 3) sleep(1);
  }
  return last as ReadinessAssessment;
}

/**
 * k6 hides `--execution-segment` from the init context, where the guards are computed from
 * EXECUTION_SEGMENT. If the two disagree, the guards would be wrong: refuse to judge.
 */
function verifyExecutionSegment(): void {
  const actualText = exec.test.options.executionSegment ?? undefined;
  const actual = actualText ? parseExecutionSegment(String(actualText)) : null;
  const actualFraction = actual ? segmentFraction(actual) : 1;
  if (Math.abs(actualFraction - plan.segmentFraction) > 1e-9) {
    const reason = `k6 runs execution segment ${actualText ?? 'none'} but ${GATE_ENV.executionSegment} is ${config.executionSegment?.text ?? 'unset'}; pass the same value to both so the no-data guards scale correctly`;
    console.error(`gate: ${reason}`);
    exec.test.abort(reason);
  }
}

/** Ask every popular question of this run once (in parallel, one retry), so the load can hit them. */
function prime(runId: string, authorization: string | undefined, target?: PairTarget): SetupData['primed'] {
  let pending = primedQuestions(corpus, runId).map((q) => (target ? scopeMessage('popular', q, runId, target) : q));
  const base = target ? targetUrl(target) : config.baseUrl;
  const failures: string[] = [];
  for (let round = 1; round <= 2 && pending.length > 0; round++) {
    const responses = http.batch(
      pending.map((message, i) => ({
        method: 'POST',
        url: chatUrl('chat', base),
        body: JSON.stringify({ message }),
        params: chatParams({ route: 'chat', kind: 'prime' }, `gate-${runId}-prime-${round}-${i}`, authorization),
      })),
    );
    const next: string[] = [];
    responses.forEach((res, i) => {
      const message = pending[i] as string;
      const assessed = assessChatResponse(toResult(res), {
        route: 'chat',
        requestId: `gate-${runId}-prime-${round}-${i}`,
      });
      if (!assessed.success) {
        next.push(message);
        if (round === 2) failures.push(`${assessed.failure ?? 'failed'}: ${message}`);
      }
    });
    pending = next;
  }
  const questions = corpus.popular.length;
  if (failures.length > 0)
    console.warn(`gate: ${failures.length} of ${questions} popular questions could not be primed`);
  return { questions, answered: questions - failures.length, failures };
}

// --- load ---------------------------------------------------------------------------------------
let session: SessionState | undefined; // per VU: k6 keeps module state for the VU's lifetime

function send(request: PlannedRequest, data: SetupData, requestId: string): void {
  // The caller is the gate's principal (its token's sub); every session it starts is its own.
  const payload: Record<string, string> = { message: request.message };
  if (request.sessionId) payload.session_id = request.sessionId;
  const res = http.post(
    chatUrl(request.route),
    JSON.stringify(payload),
    chatParams(request, requestId, data.bearerHeader),
  );
  const result = toResult(res);
  const assessed = assessChatResponse(result, {
    route: request.route,
    requestId,
    ...(request.sessionId ? { sessionId: request.sessionId } : {}),
  });
  const names = Object.keys(assessed.checks);
  if (names.length > 0) {
    check(result, Object.fromEntries(names.map((name) => [name, () => assessed.checks[name] === true])), {
      kind: request.kind,
      route: request.route,
    });
  }
  record(metricRecords(request, result, assessed, config.expectedVersion));
  record(costRecords('candidate', assessed));
  if (request.kind !== 'fresh') session = nextSession(session, request, assessed.sessionId);
}

// --- paired load: the same question to both targets, at once, in an order drawn per pair --------
let baselineSession: SessionState | undefined; // per VU, like `session`

function toPairSide(result: HttpResult, assessed: ChatAssessment, route: PairSide['route']): PairSide {
  return {
    success: assessed.success,
    cacheStatus: assessed.cacheStatus,
    durationMs: result.durationMs,
    route,
    ...(assessed.serverTiming !== undefined ? { serverTiming: assessed.serverTiming } : {}),
    ...(result.waitingMs !== undefined ? { ttfbMs: result.waitingMs } : {}),
    ...(assessed.usage ? { usage: assessed.usage } : {}),
  };
}

/**
 * `sequential`: a `hit_pairs` pair. It feeds the comparisons only: the profile's fixed thresholds,
 * checks and cost line judge the mix, which 400 extra hits would dilute.
 */
function sendPair(
  request: PlannedRequest,
  data: SetupData,
  requestId: string,
  sequence: string,
  sequential = false,
): void {
  const order = pairOrder(data.runId, sequence);
  const planned: Record<PairTarget, PlannedRequest> = {
    candidate: { ...request, message: scopeMessage(request.kind, request.message, data.runId, 'candidate') },
    baseline: {
      ...request,
      message: scopeMessage(request.kind, request.message, data.runId, 'baseline'),
      ...(request.sessionId ? { sessionId: baselineSession?.id ?? request.sessionId } : {}),
    },
  };
  if (request.kind === 'followup' && !baselineSession) {
    // The baseline has no conversation to continue: it opens one, like the candidate's first turn did.
    planned.baseline = {
      ...planned.baseline,
      kind: 'tail',
      message: scopeMessage('tail', request.message, data.runId, 'baseline'),
    };
    delete (planned.baseline as { sessionId?: string }).sessionId;
  }
  const responses = http.batch(
    order.map((target) => {
      const r = planned[target];
      const payload: Record<string, string> = {
        message: r.message,
        user_id: `gate-${data.runId}-vu${exec.vu.idInTest}`,
      };
      if (r.sessionId) payload.session_id = r.sessionId;
      return {
        method: 'POST',
        url: chatUrl(r.route, targetUrl(target)),
        body: JSON.stringify(payload),
        params: {
          ...chatParams(r, `${requestId}-${target === 'baseline' ? 'b' : 'c'}`, data.bearerHeader),
          tags: { name: r.route, kind: r.kind, target },
        },
      };
    }),
  );
  const sides = {} as Record<PairTarget, PairSide>;
  order.forEach((target, i) => {
    const result = toResult(responses[i] as RefinedResponse<ResponseType | undefined>);
    const r = planned[target];
    const id = `${requestId}-${target === 'baseline' ? 'b' : 'c'}`;
    const assessed = assessChatResponse(result, {
      route: r.route,
      requestId: id,
      ...(r.sessionId ? { sessionId: r.sessionId } : {}),
    });
    if (sequential) {
      // Comparisons only (above): no fixed metric, check or session.
    } else if (target === 'candidate') {
      // The profile's fixed thresholds and checks judge the candidate alone, as without a baseline.
      const names = Object.keys(assessed.checks);
      if (names.length > 0) {
        check(result, Object.fromEntries(names.map((name) => [name, () => assessed.checks[name] === true])), {
          kind: r.kind,
          route: r.route,
        });
      }
      record(metricRecords(r, result, assessed, config.expectedVersion));
      if (r.kind !== 'fresh') session = nextSession(session, r, assessed.sessionId);
    } else if (r.kind !== 'fresh') {
      baselineSession = nextSession(baselineSession, r, assessed.sessionId);
    }
    if (!sequential) record(costRecords(target, assessed));
    sides[target] = toPairSide(result, assessed, r.route);
  });
  record(pairRecords({ kind: request.kind, sequential, baseline: sides.baseline, candidate: sides.candidate }));
}

/** The main scenario: the chat mix. */
export function chat(data: SetupData): void {
  const request = planChatRequest({
    corpus,
    runId: data.runId,
    vuId: exec.vu.idInTest,
    vuIteration: exec.vu.iterationInScenario,
    ...(session ? { session } : {}),
  });
  const requestId = `gate-${data.runId}-${exec.scenario.name}-${exec.scenario.iterationInTest}`;
  if (config.baselineUrl) sendPair(request, data, requestId, `${exec.scenario.name}-${exec.scenario.iterationInTest}`);
  else send(request, data, requestId);
}

/** The `fresh` scenario: prompts unique to this run, which no cache can hold. */
export function fresh(data: SetupData): void {
  const sequence = exec.scenario.iterationInTest;
  const request: PlannedRequest = {
    kind: 'fresh',
    route: freshRoute(sequence),
    message: freshPrompt(corpus, data.runId, sequence),
  };
  if (config.baselineUrl) sendPair(request, data, `gate-${data.runId}-fresh-${sequence}`, `fresh-${sequence}`);
  else send(request, data, `gate-${data.runId}-fresh-${sequence}`);
}

/**
 * The `ttft` scenario (with a baseline only): run-unique prompts, streamed to both targets. They
 * must miss, so both LLMs answer and the first byte of each stream is its first token.
 */
export function ttft(data: SetupData): void {
  const sequence = exec.scenario.iterationInTest;
  const request: PlannedRequest = {
    kind: 'fresh',
    route: 'stream',
    // Numbered after any fresh prompt of the run, so no ttft prompt repeats a fresh one.
    message: freshPrompt(corpus, data.runId, 100_000 + sequence),
  };
  sendPair(request, data, `gate-${data.runId}-ttft-${sequence}`, `ttft-${sequence}`);
}

/**
 * The `streams` scenario (profiles with `streams`): one run-unique streamed prompt per VU, all VUs at
 * once, to the candidate only: the seeds' concurrent streams and their event rate (fixed thresholds).
 */
export function streams(data: SetupData): void {
  const sequence = exec.scenario.iterationInTest;
  const request: PlannedRequest = {
    kind: 'fresh',
    route: 'stream',
    // Numbered after any fresh and ttft prompt of the run, so none repeats another.
    message: freshPrompt(corpus, data.runId, 200_000 + sequence),
  };
  send(request, data, `gate-${data.runId}-streams-${sequence}`);
}

/**
 * The `hit_pairs` scenario (with a baseline only): the primed questions in turn, one pair at a time,
 * so a stall of either side slows one pair, not many (the tail comparison's pairs).
 */
export function hitPairs(data: SetupData): void {
  const sequence = exec.scenario.iterationInTest;
  const popular = corpus.popular[sequence % corpus.popular.length] as Corpus['popular'][number];
  const request: PlannedRequest = { kind: 'popular', route: 'chat', message: primedQuestion(data.runId, popular.text) };
  sendPair(request, data, `gate-${data.runId}-hits-${sequence}`, `hits-${sequence}`, true);
}

export default chat;

// --- the end: reports and verdict ---------------------------------------------------------------
export function handleSummary(summary: K6SummaryData): Record<string, string> {
  const data = withoutCredentials(summary);
  const now = Date.now();
  const report = buildGateReport(data, {
    config,
    plan,
    thresholds,
    nowMs: now,
    llmCallBound: llmCallBound(plan, corpus.popular.length, ttftPairs),
    ...(designs ? { designs } : {}),
  });
  const dir = config.outDir === '/' ? '' : config.outDir;
  return {
    [`${dir}/${GATE_REPORT_FILES.json}`]: `${JSON.stringify({ gate: report, k6: data }, null, 2)}\n`,
    [`${dir}/${GATE_REPORT_FILES.junit}`]: buildJUnit(report, new Date(now).toISOString()),
    stdout: `\n${renderVerdict(report)}\n${buildEmfLine(report, now)}\n`,
  };
}

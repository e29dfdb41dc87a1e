/**
 * Judging one answer: did it succeed, was it served from the cache, which version sent it, and does
 * it keep the HTTP contract. Pure functions over status, headers and body, so jest tests them
 * without k6; the k6 glue only sends the request and records what these return.
 */
import {
  CACHE_STATUSES,
  type CacheStatus,
  type ChatResponse,
  HEADERS,
  LIMITS,
  READINESS_STATUSES,
  type ReadinessResponse,
  SSE_EVENTS,
} from '../../../lib/contract/http';
import { parseServerTiming, SERVER_TIMING_METRICS } from '../../../lib/contract/server-timing';
import { GATE_K6_METRICS as M, type RequestKind, type RouteKind } from './metrics';

/** What the k6 glue hands over from a response. `status` is 0 when no response arrived. */
export interface HttpResult {
  readonly status: number;
  /** As k6 reports them (canonical case, e.g. `X-Cache`); looked up case-insensitively. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | null;
  readonly durationMs: number;
  /** Time to first byte (k6 `timings.waiting`): for a stream, its first token (the contract's SSE_EVENTS). */
  readonly waitingMs?: number;
  /** k6's `res.error` when the request failed below HTTP (refused, DNS, TLS, timeout). */
  readonly error?: string;
}

export interface ChatAssessment {
  /** 200 with a well-formed reply. */
  readonly success: boolean;
  /** `x-cache` when valid, else derived from `cached`; `none` when neither is known. */
  readonly cacheStatus: CacheStatus | 'none';
  /** `x-cache: HIT` or `cached: true`. */
  readonly servedFromCache: boolean;
  /** `x-app-version`; undefined when absent (e.g. the ALB answered, not the service). */
  readonly version?: string;
  readonly sessionId?: string;
  /** Contract assertions for k6 `check()`: name → passed. Empty when the service did not answer. */
  readonly checks: Readonly<Record<string, boolean>>;
  /** The LLM tokens the answer reports (`usage`); absent when it reports none. */
  readonly usage?: { readonly inputTokens: number; readonly outputTokens: number };
  /** A stream's `token` events (absent for the JSON route). */
  readonly tokenEvents?: number;
  /**
   * The turn's whole `Server-Timing`: the JSON route's header, or a stream's `done` event's
   * `server_timing` (a stream's header leaves with the first token and has the lookup's only).
   */
  readonly serverTiming?: string;
  /** Why it failed, short, for logs. */
  readonly failure?: string;
}

export interface ChatRequestContext {
  readonly route: RouteKind;
  /** The `x-request-id` the gate sent; the contract says the service echoes a safe one. */
  readonly requestId: string;
  /** For follow-ups: the session the answer must stay in. */
  readonly sessionId?: string;
}

const ID_PATTERN = new RegExp(LIMITS.idPattern);

export function headerValue(headers: Readonly<Record<string, string>>, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}

export interface SseEvent {
  readonly event: string;
  readonly data: string;
}

/** Parses a complete `text/event-stream` body (events separated by a blank line). */
export function parseSse(body: string): SseEvent[] {
  const events: SseEvent[] = [];
  for (const block of body.replace(/\r\n?/g, '\n').split('\n\n')) {
    let event = 'message';
    const data: string[] = [];
    let any = false;
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') {
        event = value;
        any = true;
      } else if (field === 'data') {
        data.push(value);
        any = true;
      }
    }
    if (any) events.push({ event, data: data.join('\n') });
  }
  return events;
}

function parseJson(text: string | null | undefined): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isChatResponse(value: unknown): value is ChatResponse {
  return (
    isObject(value) &&
    typeof value.reply === 'string' &&
    value.reply.trim() !== '' &&
    typeof value.session_id === 'string' &&
    typeof value.cached === 'boolean' &&
    typeof value.request_id === 'string'
  );
}

/** The answer's `usage` (`ChatUsage`), when it is well formed: two non-negative integers. */
function usageOf(answer: ChatResponse): { inputTokens: number; outputTokens: number } | undefined {
  const u = (answer as { usage?: unknown }).usage;
  if (!isObject(u)) return undefined;
  const { input_tokens: i, output_tokens: o } = u;
  if (!Number.isInteger(i) || !Number.isInteger(o) || (i as number) < 0 || (o as number) < 0) return undefined;
  return { inputTokens: i as number, outputTokens: o as number };
}

function isCacheStatus(value: string | undefined): value is CacheStatus {
  return value !== undefined && (CACHE_STATUSES as readonly string[]).includes(value);
}

export function assessChatResponse(result: HttpResult, ctx: ChatRequestContext): ChatAssessment {
  const version = headerValue(result.headers, HEADERS.appVersion);
  const xCache = headerValue(result.headers, HEADERS.cache)?.toUpperCase();
  const echoedId = headerValue(result.headers, HEADERS.requestId);
  const fromService = version !== undefined;
  const base = { ...(version !== undefined ? { version } : {}) };

  if (result.status !== 200) {
    const checks: Record<string, boolean> = {};
    // Only answers the service itself sent are held to its error contract; an ALB 502 is not.
    if (fromService) {
      const body = parseJson(result.body);
      checks['error body is {error:{code, message, request_id}}'] =
        isObject(body) &&
        isObject(body.error) &&
        typeof body.error.code === 'string' &&
        typeof body.error.message === 'string' &&
        typeof body.error.request_id === 'string';
      if (result.status === 429 || result.status === 503) {
        checks['429 and 503 carry Retry-After'] = /^\d+$/.test(headerValue(result.headers, HEADERS.retryAfter) ?? '');
      }
    }
    return {
      ...base,
      success: false,
      cacheStatus: isCacheStatus(xCache) ? xCache : 'none',
      servedFromCache: xCache === 'HIT',
      checks,
      failure:
        result.status === 0 ? `no response: ${result.error || 'timeout or connection error'}` : `HTTP ${result.status}`,
    };
  }

  let parsed: unknown;
  const checks: Record<string, boolean> = {};
  let failure: string | undefined;
  let tokenEvents: number | undefined;
  if (ctx.route === 'stream') {
    const events = parseSse(result.body ?? '');
    tokenEvents = events.filter((e) => e.event === SSE_EVENTS.token).length;
    const terminal = events.filter((e) => e.event === SSE_EVENTS.done || e.event === SSE_EVENTS.error);
    const last = events[events.length - 1];
    checks['stream ends with exactly one done or error event'] =
      terminal.length === 1 && last !== undefined && terminal[0] === last;
    const done = events.find((e) => e.event === SSE_EVENTS.done);
    if (done) {
      parsed = parseJson(done.data);
      const deltas = events
        .filter((e) => e.event === SSE_EVENTS.token)
        .map((e) => parseJson(e.data))
        .map((d) => (isObject(d) && typeof d.delta === 'string' ? d.delta : null));
      if (deltas.length > 0 && isChatResponse(parsed)) {
        const reply = parsed.reply;
        checks['stream tokens add up to the final reply'] =
          deltas.every((d) => d !== null) && deltas.join('') === reply;
      }
    } else {
      failure = events.some((e) => e.event === SSE_EVENTS.error)
        ? 'stream ended with an error event'
        : 'stream ended without done';
    }
  } else {
    parsed = parseJson(result.body);
  }

  const answer = parsed;
  const wellFormed = isChatResponse(answer);
  if (!wellFormed && !failure) failure = '200 without a well-formed reply';
  checks['answer is {reply, session_id, cached, request_id}'] = wellFormed;
  checks[`${HEADERS.appVersion} is present`] = fromService;
  checks[`${HEADERS.cache} is ${CACHE_STATUSES.join(', ')}`] = isCacheStatus(xCache);
  checks[`${HEADERS.requestId} echoes the caller`] = echoedId === ctx.requestId;
  if (wellFormed) {
    checks[`cached agrees with ${HEADERS.cache}`] = answer.cached === (xCache === 'HIT');
    checks[`request_id matches ${HEADERS.requestId}`] = answer.request_id === echoedId;
    checks['session_id is a valid id'] = ID_PATTERN.test(answer.session_id);
    if (ctx.sessionId !== undefined) checks['a follow-up stays in its session'] = answer.session_id === ctx.sessionId;
    const reported = usageOf(answer);
    checks['answer reports usage {input_tokens, output_tokens}, 0 for a hit'] =
      reported !== undefined && (xCache !== 'HIT' || (reported.inputTokens === 0 && reported.outputTokens === 0));
  }
  const usage = wellFormed ? usageOf(answer) : undefined;
  const serverTiming =
    ctx.route === 'stream'
      ? isObject(answer) && typeof answer.server_timing === 'string'
        ? answer.server_timing
        : undefined
      : headerValue(result.headers, HEADERS.serverTiming);
  const cachedFlag = wellFormed ? answer.cached : undefined;
  const cacheStatus: CacheStatus | 'none' = isCacheStatus(xCache)
    ? xCache
    : cachedFlag === undefined
      ? 'none'
      : cachedFlag
        ? 'HIT'
        : 'MISS';
  return {
    ...base,
    success: wellFormed,
    cacheStatus,
    servedFromCache: xCache === 'HIT' || cachedFlag === true,
    ...(wellFormed ? { sessionId: answer.session_id } : {}),
    ...(usage ? { usage } : {}),
    ...(tokenEvents !== undefined ? { tokenEvents } : {}),
    ...(serverTiming !== undefined ? { serverTiming } : {}),
    checks,
    ...(failure ? { failure } : {}),
  };
}

/**
 * Token events per second a stream delivered after its first token: its events after the first,
 * over the time from its first byte (k6 `waiting` ends there) to its last. Undefined when there is
 * nothing to time: a JSON answer, a stream of one event, or a body that arrived all at once.
 */
export function streamEventsPerSecond(result: HttpResult, assessment: ChatAssessment): number | undefined {
  const events = assessment.tokenEvents;
  if (events === undefined || events < 2 || result.waitingMs === undefined) return undefined;
  const afterFirstMs = result.durationMs - result.waitingMs;
  if (!(afterFirstMs >= 1)) return undefined;
  return ((events - 1) * 1000) / afterFirstMs;
}

export interface MetricRecord {
  readonly metric: string;
  readonly value: number | boolean;
  readonly tags: Readonly<Record<string, string>>;
}

/**
 * The samples one chat request contributes. k6 adds the `scenario` tag itself; `kind` and `route`
 * let thresholds and reports pick requests apart.
 */
export function metricRecords(
  request: { readonly kind: RequestKind; readonly route: RouteKind },
  result: HttpResult,
  assessment: ChatAssessment,
  expectedVersion: string | undefined,
): MetricRecord[] {
  const tags = { kind: request.kind, route: request.route };
  const records: MetricRecord[] = [
    { metric: M.requests, value: 1, tags },
    { metric: M.success, value: assessment.success, tags },
  ];
  if (assessment.success) {
    records.push({ metric: M.latency, value: result.durationMs, tags: { ...tags, cache: assessment.cacheStatus } });
    if (assessment.usage) {
      const tokens = assessment.usage.inputTokens + assessment.usage.outputTokens;
      records.push({ metric: M.llmTokens, value: tokens, tags });
    }
    const db = parseServerTiming(assessment.serverTiming)[SERVER_TIMING_METRICS.db];
    if (db !== undefined) records.push({ metric: M.db, value: db, tags });
    const eventsPerSecond = streamEventsPerSecond(result, assessment);
    if (eventsPerSecond !== undefined) records.push({ metric: M.streamEventsPerSecond, value: eventsPerSecond, tags });
    if (request.route === 'stream' && result.waitingMs !== undefined) {
      records.push({ metric: M.ttft, value: result.waitingMs, tags: { ...tags, cache: assessment.cacheStatus } });
    }
  }
  // Every request for a primed question counts, failed ones too: a cache must serve them all.
  if (request.kind === 'popular') records.push({ metric: M.cacheHit, value: assessment.servedFromCache, tags });
  if (request.kind === 'fresh') records.push({ metric: M.freshUncached, value: !assessment.servedFromCache, tags });
  // Judge the version of every answer that came from a service: a 200 must carry it, an error
  // that carries it is the service's too. Answers without it that are not 200 (ALB errors,
  // timeouts) are failures already, counted by chat_success.
  if (expectedVersion !== undefined && (result.status === 200 || assessment.version !== undefined)) {
    records.push({ metric: M.versionMatch, value: assessment.version === expectedVersion, tags });
    records.push({ metric: M.versionChecked, value: 1, tags });
  }
  return records;
}

export interface ReadinessAssessment {
  readonly ready: boolean;
  /** `ready`, `degraded`, `not_ready`, or what was seen instead. */
  readonly status: string;
  readonly version?: string;
  readonly checks?: ReadinessResponse['checks'];
  /** One line: why not ready, or a note (degraded). */
  readonly detail: string;
}

/** `/health/ready`: 200 with ready or degraded lets the gate run; anything else aborts it. */
export function assessReadiness(result: HttpResult): ReadinessAssessment {
  const body = parseJson(result.body);
  const status =
    isObject(body) && typeof body.status === 'string' && (READINESS_STATUSES as readonly string[]).includes(body.status)
      ? body.status
      : undefined;
  const version = isObject(body) && typeof body.version === 'string' ? body.version : undefined;
  const checks = isObject(body) && isObject(body.checks) ? (body.checks as ReadinessResponse['checks']) : undefined;
  const extra = { ...(version !== undefined ? { version } : {}), ...(checks ? { checks } : {}) };
  const checkList = checks
    ? Object.entries(checks)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')
    : 'no checks in the body';
  if (result.status === 0) {
    return {
      ready: false,
      status: 'unreachable',
      detail: `unreachable: ${result.error || 'no response (connection refused, DNS, TLS or timeout)'}`,
    };
  }
  if (result.status === 200 && (status === 'ready' || status === 'degraded')) {
    return {
      ready: true,
      status,
      ...extra,
      detail: status === 'degraded' ? `degraded (${checkList}): the cache thresholds will likely fail` : 'ready',
    };
  }
  return {
    ready: false,
    status: status ?? `HTTP ${result.status}`,
    ...extra,
    detail: `HTTP ${result.status}, status ${status ?? 'unknown'} (${checkList})`,
  };
}

/**
 * Runs the real service under each fault an application alarm exists for, and once healthy, and
 * keeps the EMF documents it prints. Real Postgres (SSL), real Redis (TLS + AUTH), the fake LLM,
 * the service built from source as a child process (the harness), AUTH_MODE=off (every request is
 * one principal, as in the fault suites), traffic only to 127.0.0.1, every loop bounded.
 *
 * Time is compressed: the service's 60 s EMF flush runs every `flushMs` (compress-emf-clock.cjs),
 * so each document is one "minute" of the service's own counting; the proof replays the documents
 * on a clock stretched by 60 000 / flushMs (see replay.ts).
 */
import * as path from 'node:path';
import { SERVICE_METRICS } from '../../lib/contract';
import {
  type LocalStack,
  randomSecret,
  type ServiceProcess,
  serviceEnvFor,
  startLocalStack,
  startServiceProcess,
} from '../harness';
import { emfFromText } from '../harness/emf';
import { UNBOUNDED_QUOTAS } from '../harness/quotas';
import { startRedisWriteLossProxy } from '../harness/redis-write-loss-proxy';

export const FAULTS = {
  healthy: 'healthy: the smoke mix (8 popular questions to 1 fresh prompt) at a steady rate',
  cacheUnavailable: 'Redis is stopped (SIGTERM) under load',
  cacheHitRate: 'every cache write is lost (a proxy rewrites each SET) under load',
  llmThrottled: 'the LLM answers every call with 429 (a storm)',
  llmErrorRate: 'the LLM answers 30% of calls with 500',
  dbErrors: 'Postgres is stopped under load',
  authFailures: 'the service starts with a wrong Postgres password',
  tokensOverBudget: 'a load that needs many tokens: 3,900-character messages in long sessions',
  quotaRejections: 'one principal floods past its request quota (QUOTA_REQUESTS_PER_MINUTE=20 in this run)',
} as const;
export type FaultId = keyof typeof FAULTS;

export interface EmfDocument {
  readonly [key: string]: unknown;
}

export interface Capture {
  readonly fault: FaultId;
  readonly description: string;
  /** Wall-clock ms of the service's start (the replay's origin). */
  readonly startedMs: number;
  readonly flushMs: number;
  readonly documents: readonly EmfDocument[];
  readonly requestsSent: number;
  /** The request quota per principal per (real) minute the service ran with. */
  readonly quotaRequestsPerMinute: number;
}

export interface CaptureOptions {
  /** The `Service` dimension the service publishes with (`serviceDimension(config)`). */
  readonly serviceName: string;
  /** @default 500 */
  readonly flushMs?: number;
  /** Compressed "minutes" of fault per run. @default 11 (staging's 2 of 2 five-minute periods, and one more) */
  readonly faultFlushes?: number;
  /** For the saturation alarms (hit rate, token budget). @default 16 (3 of 3 five-minute periods, and one more) */
  readonly saturationFlushes?: number;
  readonly only?: readonly FaultId[];
  readonly log?: (line: string) => void;
}

const PRELOAD = path.join(__dirname, 'compress-emf-clock.cjs');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * An open-loop load at a fixed rate, bounded by a deadline and by `maxInFlight` (requests beyond it
 * are not sent, so a stalled service cannot pile up sockets). Returns the number sent.
 */
async function steadyLoad(options: {
  url: string;
  perSecond: number;
  durationMs: number;
  body: (seq: number) => Record<string, unknown>;
  maxInFlight?: number;
}): Promise<number> {
  const { url, perSecond, durationMs } = options;
  const maxInFlight = options.maxInFlight ?? 64;
  const started = performance.now();
  const pending = new Set<Promise<void>>();
  let seq = 0;
  while (performance.now() - started < durationMs) {
    const due = Math.floor(((performance.now() - started) / 1000) * perSecond);
    while (seq < due && pending.size < maxInFlight) {
      const p: Promise<void> = fetch(`${url}/api/chatbot`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(options.body(seq)),
        signal: AbortSignal.timeout(10_000),
      })
        .then((res) => res.arrayBuffer())
        .then(
          () => undefined,
          () => undefined,
        )
        .finally(() => pending.delete(p));
      pending.add(p);
      seq++;
    }
    await sleep(5);
  }
  await Promise.all(pending);
  return seq;
}

const POPULAR = [
  'What are your opening hours?',
  'How do I reset my password?',
  'Where is my order?',
  'How do I cancel my subscription?',
  'Do you ship internationally?',
];
/** The smoke mix: mostly the popular questions (primed, then served from the cache), some fresh prompts. */
const smokeMix = (run: string) => (seq: number) => ({
  message:
    seq % 9 === 8 ? `Write a one-sentence tip about ${run} item ${seq}` : `${POPULAR[seq % POPULAR.length]} (${run})`,
});
const fresh = (run: string) => (seq: number) => ({ message: `alarms-prove ${run} question ${seq}` });

export async function captureFaults(options: CaptureOptions): Promise<Capture[]> {
  const flushMs = options.flushMs ?? 500;
  const faultMs = (options.faultFlushes ?? 11) * flushMs;
  const saturationMs = (options.saturationFlushes ?? 16) * flushMs;
  const log = options.log ?? (() => undefined);
  const wanted = (f: FaultId) => !options.only || options.only.includes(f);
  const stack: LocalStack = await startLocalStack({ auth: 'off', startService: false, llm: { latencyMs: 5 } });
  const captures: Capture[] = [];
  try {
    const baseEnv = (overrides: Record<string, string> = {}) =>
      serviceEnvFor(stack, {
        AUTH_MODE: 'off',
        SERVICE_NAME: options.serviceName,
        LLM_TIMEOUT_MS: '2000',
        ...UNBOUNDED_QUOTAS,
        NODE_OPTIONS: `--require ${PRELOAD}`,
        ALARMS_PROVE_FLUSH_MS: String(flushMs),
        // The per-IP limit stands for the load balancer's many client addresses; here every request is 127.0.0.1.
        RATE_LIMIT_PER_MINUTE: '1000000',
        ...overrides,
      });

    const run = async (
      fault: FaultId,
      body: (service: ServiceProcess) => Promise<number>,
      overrides: Record<string, string> = {},
      waitFor: 'ready' | 'listening' = 'ready',
      runFlushMs = flushMs,
    ) => {
      if (!wanted(fault)) return;
      const out: string[] = [];
      const startedMs = Date.now();
      const env = baseEnv({ ...overrides, ALARMS_PROVE_FLUSH_MS: String(runFlushMs) });
      const service = await startServiceProcess({ env, waitFor, onOutput: (c) => out.push(c) });
      let sent = 0;
      try {
        sent = await body(service);
      } finally {
        await service.stop(15_000);
      }
      const documents = emfFromText(out.join(''));
      captures.push({
        fault,
        description: FAULTS[fault],
        startedMs,
        flushMs: runFlushMs,
        documents,
        requestsSent: sent,
        quotaRequestsPerMinute: Number(env.QUOTA_REQUESTS_PER_MINUTE),
      });
      log(`captured ${fault}: ${sent} requests, ${documents.length} EMF documents`);
    };

    await run('healthy', async (s) => {
      // Prime the popular questions, as the gate's setup() does, then the steady mix.
      await steadyLoad({ url: s.url, perSecond: 50, durationMs: 200, body: smokeMix('healthy') });
      return steadyLoad({ url: s.url, perSecond: 130, durationMs: faultMs, body: smokeMix('healthy') });
    });

    await run('llmThrottled', async (s) => {
      stack.llm.configure({ rate429: 1, retryAfterSeconds: null });
      try {
        return await steadyLoad({ url: s.url, perSecond: 30, durationMs: faultMs, body: fresh('throttled') });
      } finally {
        stack.llm.configure({ rate429: 0 });
      }
    });

    await run('llmErrorRate', async (s) => {
      // Not every call: after a run of consecutive failures the LLM circuit breaker stops calling for
      // seconds of real time, which the stretched clock would turn into minutes without calls.
      stack.llm.configure({ rate500: 0.3 });
      try {
        return await steadyLoad({ url: s.url, perSecond: 30, durationMs: faultMs, body: fresh('errors') });
      } finally {
        stack.llm.configure({ rate500: 0 });
      }
    });

    if (wanted('cacheHitRate')) {
      const proxy = await startRedisWriteLossProxy({ certs: stack.certs, upstreamPort: stack.redis.port });
      proxy.setLossRate(1);
      try {
        await run(
          'cacheHitRate',
          // A saturation alarm: prod needs 10 of 15 one-minute periods.
          (s) => steadyLoad({ url: s.url, perSecond: 130, durationMs: saturationMs, body: smokeMix('write-loss') }),
          { REDIS_PORT: String(proxy.port) },
        );
      } finally {
        await proxy.close();
      }
    }

    await run(
      'tokensOverBudget',
      async (s) => {
        // Each session's history grows to the context budget (LLM_CONTEXT_BUDGET_TOKENS, ~6,000 tokens).
        const words = 'budget '.repeat(557).trim();
        const sessions = await Promise.all(
          Array.from({ length: 16 }, async (_, i) => {
            const res = await fetch(`${s.url}/api/chatbot`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ message: `${i} ${words}`.slice(0, 3900) }),
              signal: AbortSignal.timeout(10_000),
            });
            return ((await res.json()) as { session_id: string }).session_id;
          }),
        );
        return steadyLoad({
          url: s.url,
          perSecond: 34,
          durationMs: saturationMs * 2,
          body: (seq) => ({ message: `${seq} ${words}`.slice(0, 3900), session_id: sessions[seq % sessions.length] }),
        });
      },
      {},
      'ready',
      // What this machine serves of these calls (~35 a second, ~4,100 tokens each) fills a
      // "minute" with more than 100,000 tokens at 1 s per flush, not at 0.5 s.
      flushMs * 2,
    );

    await run(
      'quotaRejections',
      (s) => steadyLoad({ url: s.url, perSecond: 180, durationMs: faultMs, body: smokeMix('flood') }),
      { QUOTA_REQUESTS_PER_MINUTE: '20' },
    );

    await run(
      'authFailures',
      async (s) => {
        await sleep(faultMs / 2);
        return steadyLoad({ url: s.url, perSecond: 10, durationMs: faultMs / 2, body: fresh('auth') });
      },
      { DB_PASSWORD: `wrong-${randomSecret(16)}` },
      'listening',
    );

    await run('cacheUnavailable', async (s) => {
      await stack.redis.takeDown();
      try {
        return await steadyLoad({ url: s.url, perSecond: 30, durationMs: faultMs, body: fresh('redis-down') });
      } finally {
        await stack.redis.bringUp();
      }
    });

    await run('dbErrors', async (s) => {
      await stack.postgres.takeDown();
      try {
        return await steadyLoad({ url: s.url, perSecond: 30, durationMs: faultMs, body: fresh('pg-down') });
      } finally {
        await stack.postgres.bringUp();
      }
    });
  } finally {
    await stack.stop();
  }
  return captures;
}

/** The metric names of the captured documents, for the report. */
export const SERVICE_NAMESPACE = SERVICE_METRICS.namespace;

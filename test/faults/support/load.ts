/**
 * A bounded load loop in Node: a fixed number of workers, each on its own keep-alive connection,
 * sending chat requests until the request budget or the deadline runs out, whichever comes first.
 * Every outcome is recorded (status, latency, the headers the fault tests judge, or the socket
 * error), so a test can ask "how many 5xx while Redis was down" after the fact.
 */
import { Agent, request as httpRequest } from 'node:http';
import { HEADERS, ROUTES } from '../../../lib/contract';

export interface LoadResult {
  /** Sequence number in the run (0-based, in the order requests were started). */
  readonly seq: number;
  readonly worker: number;
  readonly message: string;
  /** ms since the run started, when the request was sent / when it ended. */
  readonly startedMs: number;
  readonly endedMs: number;
  readonly latencyMs: number;
  /** HTTP status; 0 when the request failed at the socket level (see `error`). */
  readonly status: number;
  readonly cache?: string;
  readonly retryAfter?: string;
  readonly connection?: string;
  readonly errorCode?: string;
  /** Socket-level failure (ECONNREFUSED, ECONNRESET, timeout...). */
  readonly error?: string;
  readonly body: string;
}

export interface LoadOptions {
  readonly baseUrl: string;
  readonly workers: number;
  /** Hard cap on requests sent: the loop is bounded even if the deadline is generous. */
  readonly budget: number;
  /** Hard cap on wall-clock time for sending new requests. */
  readonly deadlineMs: number;
  /** The message for request `seq` (make it unique for a cache miss, repeat it for a hit). */
  readonly message: (seq: number) => string;
  readonly route?: 'chat' | 'stream';
  /** Pause between one worker's requests, so the load is sustained rather than a burst. @default 10 */
  readonly pauseMs?: number;
  /** Per-request client timeout. @default 15000 */
  readonly timeoutMs?: number;
  /** A worker stops after a connection is refused (the service is gone or draining). @default false */
  readonly stopOnRefused?: boolean;
}

export interface LoadRun {
  /** Resolves when every worker has stopped (budget, deadline, `stop()`). */
  readonly done: Promise<LoadResult[]>;
  /** Results so far. */
  results(): readonly LoadResult[];
  /** Requests sent but not answered yet. */
  inFlight(): number;
  /** ms since the run started. */
  elapsedMs(): number;
  /** Stops sending new requests; requests in flight still finish. */
  stop(): void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function startLoad(options: LoadOptions): LoadRun {
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  const results: LoadResult[] = [];
  const route = options.route === 'stream' ? ROUTES.chatStream : ROUTES.chat;
  const pauseMs = options.pauseMs ?? 10;
  let next = 0;
  let inFlight = 0;
  let stopped = false;

  const worker = async (id: number): Promise<void> => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      while (!stopped && next < options.budget && elapsed() < options.deadlineMs) {
        const seq = next++;
        const message = options.message(seq);
        inFlight += 1;
        const result = await send(agent, `${options.baseUrl}${route}`, message, options.timeoutMs ?? 15_000);
        inFlight -= 1;
        const endedMs = elapsed();
        results.push({ seq, worker: id, message, endedMs, startedMs: endedMs - result.latencyMs, ...result });
        if (options.stopOnRefused && result.error === 'ECONNREFUSED') return;
        if (pauseMs > 0) await sleep(pauseMs);
      }
    } finally {
      agent.destroy();
    }
  };

  const done = Promise.all(Array.from({ length: options.workers }, (_, i) => worker(i))).then(() =>
    [...results].sort((a, b) => a.seq - b.seq),
  );
  return {
    done,
    results: () => results,
    inFlight: () => inFlight,
    elapsedMs: elapsed,
    stop: () => {
      stopped = true;
    },
  };
}

type SendOutcome = Omit<LoadResult, 'seq' | 'worker' | 'message' | 'startedMs' | 'endedMs'>;

function send(agent: Agent, url: string, message: string, timeoutMs: number): Promise<SendOutcome> {
  const body = JSON.stringify({ message });
  const t0 = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: Omit<SendOutcome, 'latencyMs'>) => {
      if (settled) return;
      settled = true;
      resolve({ ...outcome, latencyMs: performance.now() - t0 });
    };
    const req = httpRequest(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => {
          const header = (name: string) => {
            const v = res.headers[name];
            return typeof v === 'string' ? v : undefined;
          };
          let errorCode: string | undefined;
          if ((res.statusCode ?? 0) >= 400) {
            try {
              errorCode = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
            } catch {
              errorCode = 'unparseable';
            }
          }
          finish({
            status: res.statusCode ?? 0,
            body: text.length > 2000 ? text.slice(0, 2000) : text,
            ...optional('cache', header(HEADERS.cache)),
            ...optional('retryAfter', header(HEADERS.retryAfter)),
            ...optional('connection', header('connection')),
            ...optional('errorCode', errorCode),
          });
        });
        res.on('error', (err: NodeJS.ErrnoException) =>
          finish({ status: 0, body: '', error: err.code ?? err.message }),
        );
      },
    );
    req.setTimeout(timeoutMs, () =>
      req.destroy(Object.assign(new Error('client timeout'), { code: 'CLIENT_TIMEOUT' })),
    );
    req.on('error', (err: NodeJS.ErrnoException) => finish({ status: 0, body: '', error: err.code ?? err.message }));
    req.end(body);
  });
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, string>);
}

/** A compact summary for logs and docs: counts by status (and socket error), and latency figures. */
export function summarize(results: readonly LoadResult[]): {
  total: number;
  byStatus: Record<string, number>;
  byCache: Record<string, number>;
  maxLatencyMs: number;
  p50LatencyMs: number;
  p99LatencyMs: number;
} {
  const byStatus: Record<string, number> = {};
  const byCache: Record<string, number> = {};
  for (const r of results) {
    const key = r.status === 0 ? `error:${r.error}` : String(r.status);
    byStatus[key] = (byStatus[key] ?? 0) + 1;
    if (r.cache) byCache[r.cache] = (byCache[r.cache] ?? 0) + 1;
  }
  const latencies = results.map((r) => r.latencyMs).sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0);
  return {
    total: results.length,
    byStatus,
    byCache,
    maxLatencyMs: Math.round(latencies.at(-1) ?? 0),
    p50LatencyMs: at(0.5),
    p99LatencyMs: at(0.99),
  };
}

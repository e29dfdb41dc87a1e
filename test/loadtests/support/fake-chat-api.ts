/**
 * A FAKE chat API for testing the k6 gate itself: it speaks the HTTP contract (lib/contract/http.ts)
 * with an in-memory cache and sessions, and can be told to misbehave the ways the gate must catch:
 * not ready, a failing LLM path, a cache that stopped caching, the wrong version.
 *
 * It is not the reference service (service/) and proves nothing about it; the end-to-end gate test
 * against the real local stack does that.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type CacheStatus,
  type ChatResponse,
  ERROR_CODES,
  type ErrorResponse,
  HEADERS,
  LIMITS,
  ROUTES,
  SSE_EVENTS,
} from '../../../lib/contract/http';

export interface FakeChatApiOptions {
  /** `x-app-version` on every response. @default '1.0.0' */
  readonly version?: string;
  /** `/health/ready`. @default 'ready' */
  readonly readiness?: 'ready' | 'degraded' | 'not_ready';
  /** When false, nothing is ever stored (every answer a MISS). @default true */
  readonly cacheEnabled?: boolean;
  /** Fail this share of LLM calls with a 503 (deterministically: calls are counted). @default 0 */
  readonly llmFailureRate?: number;
  /** Delay of every LLM call. @default 5 */
  readonly llmDelayMs?: number;
  /** Answer HITs for every message after its first sight, even across contexts (a broken cache key). */
  readonly ignoreContextInCacheKey?: boolean;
}

export interface FakeChatApi {
  readonly url: string;
  readonly stats: { chat: number; stream: number; llmCalls: number; llmFailures: number; hits: number; ready: number };
  close(): Promise<void>;
}

const SAFE_ID = new RegExp(LIMITS.idPattern);

export async function startFakeChatApi(options: FakeChatApiOptions = {}): Promise<FakeChatApi> {
  const version = options.version ?? '1.0.0';
  const cacheEnabled = options.cacheEnabled ?? true;
  const failureRate = options.llmFailureRate ?? 0;
  const delayMs = options.llmDelayMs ?? 5;
  const cache = new Map<string, string>();
  const sessions = new Map<string, string[]>();
  const stats = { chat: 0, stream: 0, llmCalls: 0, llmFailures: 0, hits: 0, ready: 0 };

  const llm = async (message: string): Promise<string | null> => {
    // Deterministic failure share: the n-th call fails when floor(n*rate) advanced. n is taken
    // before the delay, so concurrent calls do not all read the same (later) count.
    const n = ++stats.llmCalls;
    await new Promise((r) => setTimeout(r, delayMs));
    if (Math.floor(n * failureRate) > Math.floor((n - 1) * failureRate)) {
      stats.llmFailures++;
      return null;
    }
    return `A helpful answer about: ${message.slice(0, 60)}`;
  };

  const server = http.createServer((req, res) => {
    const requestId =
      typeof req.headers[HEADERS.requestId] === 'string' && SAFE_ID.test(req.headers[HEADERS.requestId] as string)
        ? (req.headers[HEADERS.requestId] as string)
        : randomUUID();
    res.setHeader(HEADERS.appVersion, version);
    res.setHeader(HEADERS.requestId, requestId);
    const sendJson = (status: number, body: unknown, extra: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...extra });
      res.end(JSON.stringify(body));
    };
    const sendError = (status: number, code: ErrorResponse['error']['code'], message: string) => {
      const extra: Record<string, string> = status === 429 || status === 503 ? { [HEADERS.retryAfter]: '1' } : {};
      sendJson(status, { error: { code, message, request_id: requestId } } satisfies ErrorResponse, extra);
    };

    if (req.method === 'GET' && req.url === ROUTES.health) return sendJson(200, { status: 'ok', version });
    if (req.method === 'GET' && req.url === ROUTES.ready) {
      stats.ready++;
      const status = options.readiness ?? 'ready';
      const checks = {
        database: status === 'not_ready' ? 'down' : 'ok',
        cache: status === 'degraded' ? 'down' : 'ok',
        llm: 'ok',
      };
      return sendJson(status === 'not_ready' ? 503 : 200, { status, version, checks });
    }
    const stream = req.url === ROUTES.chatStream;
    if (req.method !== 'POST' || (req.url !== ROUTES.chat && !stream)) {
      return sendError(404, ERROR_CODES.notFound, 'no such route');
    }

    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        let body: { message?: unknown; session_id?: unknown };
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          return sendError(400, ERROR_CODES.badRequest, 'bad JSON');
        }
        if (typeof body.message !== 'string' || body.message.trim() === '') {
          return sendError(400, ERROR_CODES.badRequest, 'message is required');
        }
        if (stream) stats.stream++;
        else stats.chat++;
        const sessionId =
          typeof body.session_id === 'string' && sessions.has(body.session_id) ? body.session_id : randomUUID();
        const history = sessions.get(sessionId) ?? [];
        const normalised = body.message.trim().toLowerCase().replace(/\s+/g, ' ');
        const key = options.ignoreContextInCacheKey ? normalised : `${history.join('|')}#${normalised}`;
        let reply = cacheEnabled && options.readiness !== 'degraded' ? cache.get(key) : undefined;
        const cacheStatus: CacheStatus = options.readiness === 'degraded' ? 'BYPASS' : reply ? 'HIT' : 'MISS';
        if (reply) stats.hits++;
        if (!reply) {
          const answered = await llm(body.message);
          if (answered === null) return sendError(503, ERROR_CODES.llmUnavailable, 'the LLM is unavailable');
          reply = answered;
          if (cacheEnabled && cacheStatus !== 'BYPASS') cache.set(key, reply);
        }
        sessions.set(sessionId, [...history, normalised, reply].slice(-2 * LIMITS.contextTurns));
        const answer: ChatResponse = {
          reply,
          session_id: sessionId,
          cached: cacheStatus === 'HIT',
          request_id: requestId,
          // Like the service: a hit cost nothing; a miss about 4 bytes per input token, a token per word.
          usage:
            cacheStatus === 'HIT'
              ? { input_tokens: 0, output_tokens: 0 }
              : {
                  input_tokens: 20 + Math.ceil(Buffer.byteLength(body.message) / 4),
                  output_tokens: (reply.match(/\S+\s*/g) ?? []).length,
                },
        };
        if (!stream) return sendJson(200, answer, { [HEADERS.cache]: cacheStatus });
        res.writeHead(200, { 'content-type': 'text/event-stream', [HEADERS.cache]: cacheStatus });
        for (const word of reply.match(/\S+\s*/g) ?? []) {
          res.write(`event: ${SSE_EVENTS.token}\ndata: ${JSON.stringify({ delta: word })}\n\n`);
        }
        res.end(`event: ${SSE_EVENTS.done}\ndata: ${JSON.stringify(answer)}\n\n`);
      })();
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

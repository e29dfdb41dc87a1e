/**
 * FAKE LLM: an OpenAI-compatible chat-completions server for tests, local runs and the bench.
 * It is clearly a fake: its model is `fake-llm-echo`, every reply starts with `[fake-llm]`, and every
 * response carries `x-fake-llm: true`. It never calls a real model.
 *
 * - `POST /v1/chat/completions` (JSON, or SSE with `stream: true`) and `GET /v1/models`;
 * - configurable latency; injectable 429 / 500 / timeouts by rate (0..1) or as "the next N calls";
 * - control endpoints: `GET /__fake/state`, `POST /__fake/config` (a partial FakeLlmConfig),
 *   `POST /__fake/reset` (zeroes the counters); the same from code via the returned handle;
 * - counts every call, so tests can count retries, and records each call's `max_tokens`;
 * - answers with `usage` (a deterministic count: about 4 bytes per prompt token, one token per word
 *   of the reply), also as the last chunk of a stream that asks for it (`stream_options.include_usage`),
 *   and cuts the reply at `max_tokens` words (`finish_reason: "length"`).
 *
 * CLI: `tsx scripts/fake-llm/server.ts [--port 0] [--latency-ms 50] [--rate-429 0.1] ...`
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export const FAKE_LLM_MODEL = 'fake-llm-echo';
export const FAKE_LLM_MARKER = '[fake-llm]';
export const FAKE_LLM_HEADER = 'x-fake-llm';

/** `empty`: a 200 whose answer has no content (a prompt the model answered with nothing). */
export type FaultKind = 'throttle' | 'error' | 'timeout' | 'empty';

export interface FakeLlmConfig {
  /** Delay before answering (first chunk, when streaming). */
  latencyMs: number;
  /** Uniform extra delay in [0, jitterMs]. */
  jitterMs: number;
  /**
   * When streaming, the time between two content chunks, as a real model generates its answer
   * token by token (0: every chunk at once after `latencyMs`). The time to first token is `latencyMs`.
   */
  tokenIntervalMs: number;
  /** Probability per call of a 429 / 500 / hang. Checked in that order. */
  rate429: number;
  rate500: number;
  rateTimeout: number;
  /** The next `count` calls fail with `kind`, before any rate applies. */
  failNext: { kind: FaultKind; count: number } | null;
  /** Retry-After (seconds) sent with each 429; null sends none. */
  retryAfterSeconds: number | null;
  /** A "timeout" holds the request this long, then drops the connection. */
  hangMs: number;
  /** When set, requests must carry `Authorization: Bearer <apiKey>` or get a 401. */
  apiKey: string | null;
}

export interface FakeLlmStats {
  /** Every chat-completions call, whatever its outcome. */
  calls: number;
  streams: number;
  ok: number;
  throttled: number;
  errors: number;
  timeouts: number;
  unauthorized: number;
  models: number;
}

export interface FakeLlm {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** `<url>/v1`, what `LLM_BASE_URL` should be. */
  readonly baseUrl: string;
  readonly port: number;
  readonly model: string;
  configure(patch: Partial<FakeLlmConfig>): FakeLlmConfig;
  config(): FakeLlmConfig;
  stats(): FakeLlmStats;
  /**
   * How many chat-completions calls carried `prompt` as their last user message (whatever their
   * outcome), so a test can count the retries behind one request even under concurrent load.
   * Counted since start or the last `resetStats()`; the newest 50,000 prompts are kept.
   */
  callsFor(prompt: string): number;
  /** What each of those calls asked for, oldest first. */
  recordedFor(prompt: string): readonly RecordedCall[];
  resetStats(): void;
  close(): Promise<void>;
}

export const DEFAULT_FAKE_LLM_CONFIG: FakeLlmConfig = {
  latencyMs: 0,
  jitterMs: 0,
  tokenIntervalMs: 0,
  rate429: 0,
  rate500: 0,
  rateTimeout: 0,
  failNext: null,
  retryAfterSeconds: 1,
  hangMs: 60_000,
  apiKey: null,
};

const zeroStats = (): FakeLlmStats => ({
  calls: 0,
  streams: 0,
  ok: 0,
  throttled: 0,
  errors: 0,
  timeouts: 0,
  unauthorized: 0,
  models: 0,
});

interface ChatBody {
  model?: unknown;
  stream?: unknown;
  stream_options?: { include_usage?: unknown };
  max_tokens?: unknown;
  max_completion_tokens?: unknown;
  messages?: Array<{ role?: unknown; content?: unknown }>;
}

/** One chat-completions call as the fake received it. */
export interface RecordedCall {
  /** `max_tokens` (or `max_completion_tokens`), null when the call sent neither. */
  readonly maxTokens: number | null;
  readonly stream: boolean;
  /** Messages in the call, system prompt and context included. */
  readonly messages: number;
  /** The `usage` the fake answered with; null while unanswered, or when it answered with a fault. */
  readonly usage: { readonly promptTokens: number; readonly completionTokens: number } | null;
}

/** The fake's token count for a prompt: 4 bytes of message text per token, plus 4 per message. */
export function fakePromptTokens(body: ChatBody): number {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  return messages.reduce(
    (sum, m) => sum + 4 + Math.ceil(Buffer.byteLength(typeof m.content === 'string' ? m.content : '', 'utf8') / 4),
    0,
  );
}

/** The reply's tokens, as the fake streams them: one per word (with its trailing space). */
export function fakeReplyTokens(reply: string): string[] {
  return reply.match(/\S+\s*/g) ?? [reply];
}

function requestedMaxTokens(body: ChatBody): number | null {
  const value = body.max_tokens ?? body.max_completion_tokens;
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : null;
}

/** The last user message of a chat-completions body ('' when there is none). */
export function lastUserMessage(body: ChatBody): string {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const last = [...messages].reverse().find((m) => m.role === 'user');
  return typeof last?.content === 'string' ? last.content : '';
}

/** The deterministic reply: the same conversation always gets the same answer. */
export function fakeReply(body: ChatBody): string {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const text = lastUserMessage(body);
  const earlier = messages.filter((m) => m.role === 'user' || m.role === 'assistant').length - 1;
  const quoted = text.length > 120 ? `${text.slice(0, 120)}…` : text;
  return `${FAKE_LLM_MARKER} You said: "${quoted}". (${Math.max(0, earlier)} earlier messages in this conversation.)`;
}

function readBody(req: IncomingMessage, limit = 1_048_576): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    [FAKE_LLM_HEADER]: 'true',
    ...headers,
  });
  res.end(text);
}

function clamp01(n: unknown, name: string): number {
  if (typeof n !== 'number' || !(n >= 0 && n <= 1)) throw new Error(`${name} must be a number in [0, 1]`);
  return n;
}

function validatePatch(patch: Partial<FakeLlmConfig>): Partial<FakeLlmConfig> {
  const out: Partial<FakeLlmConfig> = { ...patch };
  for (const k of ['rate429', 'rate500', 'rateTimeout'] as const) {
    if (patch[k] !== undefined) out[k] = clamp01(patch[k], k);
  }
  for (const k of ['latencyMs', 'jitterMs', 'hangMs', 'tokenIntervalMs'] as const) {
    const v = patch[k];
    if (v !== undefined && (typeof v !== 'number' || v < 0 || v > 600_000)) throw new Error(`${k} must be 0..600000`);
  }
  if (patch.failNext) {
    const { kind, count } = patch.failNext;
    if (!['throttle', 'error', 'timeout', 'empty'].includes(kind) || !Number.isInteger(count) || count < 0) {
      throw new Error('failNext must be {kind: throttle|error|timeout|empty, count: integer >= 0}');
    }
  }
  return out;
}

export async function startFakeLlmServer(
  initial: Partial<FakeLlmConfig> = {},
  options: { port?: number; host?: string; random?: () => number } = {},
): Promise<FakeLlm> {
  let config: FakeLlmConfig = { ...DEFAULT_FAKE_LLM_CONFIG, ...validatePatch(initial) };
  let stats = zeroStats();
  const promptCalls = new Map<string, RecordedCall[]>();
  const MAX_PROMPTS = 50_000;
  const random = options.random ?? Math.random;
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const later = (ms: number, fn: () => void) => {
    if (ms <= 0) {
      fn();
      return;
    }
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  const pickFault = (): FaultKind | null => {
    if (config.failNext && config.failNext.count > 0) {
      const kind = config.failNext.kind;
      config.failNext = config.failNext.count > 1 ? { kind, count: config.failNext.count - 1 } : null;
      return kind;
    }
    if (config.rate429 > 0 && random() < config.rate429) return 'throttle';
    if (config.rate500 > 0 && random() < config.rate500) return 'error';
    if (config.rateTimeout > 0 && random() < config.rateTimeout) return 'timeout';
    return null;
  };

  const completions = async (req: IncomingMessage, res: ServerResponse) => {
    stats.calls += 1;
    const text = await readBody(req);
    if (config.apiKey !== null && req.headers.authorization !== `Bearer ${config.apiKey}`) {
      stats.unauthorized += 1;
      sendJson(res, 401, { error: { message: 'fake-llm: invalid API key', type: 'invalid_request_error' } });
      return;
    }
    let body: ChatBody;
    try {
      body = JSON.parse(text) as ChatBody;
    } catch {
      sendJson(res, 400, { error: { message: 'fake-llm: body is not JSON', type: 'invalid_request_error' } });
      return;
    }
    const prompt = lastUserMessage(body);
    const stream = body.stream === true;
    const maxTokens = requestedMaxTokens(body);
    const recorded = promptCalls.get(prompt) ?? [];
    const call: { -readonly [K in keyof RecordedCall]: RecordedCall[K] } = {
      maxTokens,
      stream,
      messages: Array.isArray(body.messages) ? body.messages.length : 0,
      usage: null,
    };
    recorded.push(call);
    promptCalls.set(prompt, recorded);
    if (promptCalls.size > MAX_PROMPTS) promptCalls.delete(promptCalls.keys().next().value as string);
    if (stream) stats.streams += 1;
    const fault = pickFault();
    const delay = config.latencyMs + (config.jitterMs > 0 ? Math.floor(random() * config.jitterMs) : 0);

    if (fault === 'timeout') {
      stats.timeouts += 1;
      // Say nothing; drop the connection later (the client's own timeout normally fires first).
      later(config.hangMs, () => res.socket?.destroy());
      return;
    }
    later(delay, () => {
      if (res.destroyed) return;
      if (fault === 'throttle') {
        stats.throttled += 1;
        const headers: Record<string, string> =
          config.retryAfterSeconds === null ? {} : { 'retry-after': String(config.retryAfterSeconds) };
        sendJson(
          res,
          429,
          { error: { message: 'fake-llm: rate limited', type: 'rate_limit_error', code: 'rate_limit_exceeded' } },
          headers,
        );
        return;
      }
      if (fault === 'error') {
        stats.errors += 1;
        sendJson(res, 500, { error: { message: 'fake-llm: injected server error', type: 'server_error' } });
        return;
      }
      stats.ok += 1;
      const allTokens = fault === 'empty' ? [] : fakeReplyTokens(fakeReply(body));
      const truncated = maxTokens !== null && allTokens.length > maxTokens;
      const tokens = truncated ? allTokens.slice(0, maxTokens ?? 0) : allTokens;
      const reply = tokens.join('');
      const finishReason = truncated ? 'length' : 'stop';
      const promptTokens = fakePromptTokens(body);
      const usage = {
        prompt_tokens: promptTokens,
        completion_tokens: tokens.length,
        total_tokens: promptTokens + tokens.length,
      };
      call.usage = { promptTokens, completionTokens: tokens.length };
      const id = `chatcmpl-fake-${randomUUID()}`;
      const created = Math.floor(Date.now() / 1000);
      const model = typeof body.model === 'string' ? body.model : FAKE_LLM_MODEL;
      if (!stream) {
        sendJson(res, 200, {
          id,
          object: 'chat.completion',
          created,
          model,
          choices: [{ index: 0, message: { role: 'assistant', content: reply }, finish_reason: finishReason }],
          usage,
        });
        return;
      }
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        [FAKE_LLM_HEADER]: 'true',
      });
      const chunk = (delta: Record<string, string>, finish: string | null) =>
        `data: ${JSON.stringify({
          id,
          object: 'chat.completion.chunk',
          created,
          model,
          choices: [{ index: 0, delta, finish_reason: finish }],
        })}\n\n`;
      const finish = () => {
        if (res.destroyed) return;
        res.write(chunk({}, finishReason));
        if (body.stream_options?.include_usage === true) {
          res.write(
            `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [], usage })}\n\n`,
          );
        }
        res.end('data: [DONE]\n\n');
      };
      res.write(chunk({ role: 'assistant' }, null));
      const interval = config.tokenIntervalMs;
      if (interval <= 0) {
        for (const token of tokens) res.write(chunk({ content: token }, null));
        finish();
        return;
      }
      // Paced: the first token at once, then one every `interval` ms.
      let next = 0;
      const emit = () => {
        if (res.destroyed) return;
        const token = tokens[next++];
        if (token === undefined) return finish();
        res.write(chunk({ content: token }, null));
        later(interval, emit);
      };
      emit();
    });
  };

  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const url = (req.url ?? '/').split('?')[0];
    try {
      if (req.method === 'POST' && url === '/v1/chat/completions') return await completions(req, res);
      if (req.method === 'GET' && url === '/v1/models') {
        stats.models += 1;
        // Like a real provider, the model list needs the key (the service's start-up probe relies on it).
        if (config.apiKey !== null && req.headers.authorization !== `Bearer ${config.apiKey}`) {
          stats.unauthorized += 1;
          return sendJson(res, 401, { error: { message: 'fake-llm: invalid API key', type: 'invalid_request_error' } });
        }
        return sendJson(res, 200, {
          object: 'list',
          data: [{ id: FAKE_LLM_MODEL, object: 'model', created: 0, owned_by: 'fake-llm (not a real model)' }],
        });
      }
      if (req.method === 'GET' && url === '/__fake/state') return sendJson(res, 200, { config, stats });
      if (req.method === 'POST' && url === '/__fake/config') {
        const patch = JSON.parse((await readBody(req)) || '{}') as Partial<FakeLlmConfig>;
        config = { ...config, ...validatePatch(patch) };
        return sendJson(res, 200, { config });
      }
      if (req.method === 'POST' && url === '/__fake/reset') {
        stats = zeroStats();
        promptCalls.clear();
        return sendJson(res, 200, { stats });
      }
      return sendJson(res, 404, { error: { message: `fake-llm: no route ${req.method} ${url}` } });
    } catch (err) {
      if (!res.headersSent) {
        sendJson(res, 400, { error: { message: `fake-llm: ${err instanceof Error ? err.message : String(err)}` } });
      }
    }
  };

  const server: Server = createServer((req, res) => void handler(req, res));
  server.keepAliveTimeout = 65_000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    baseUrl: `${url}/v1`,
    port,
    model: FAKE_LLM_MODEL,
    configure: (patch) => {
      config = { ...config, ...validatePatch(patch) };
      return { ...config };
    },
    config: () => ({ ...config }),
    stats: () => ({ ...stats }),
    callsFor: (prompt) => promptCalls.get(prompt)?.length ?? 0,
    recordedFor: (prompt) => (promptCalls.get(prompt) ?? []).map((c) => ({ ...c })),
    resetStats: () => {
      stats = zeroStats();
      promptCalls.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

function parseCli(argv: readonly string[]): { port: number; config: Partial<FakeLlmConfig> } {
  const config: Partial<FakeLlmConfig> = {};
  let port = 0;
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i];
    const value = Number(argv[i + 1]);
    if (Number.isNaN(value)) throw new Error(`${flag} needs a number`);
    switch (flag) {
      case '--port':
        port = value;
        break;
      case '--latency-ms':
        config.latencyMs = value;
        break;
      case '--jitter-ms':
        config.jitterMs = value;
        break;
      case '--rate-429':
        config.rate429 = value;
        break;
      case '--rate-500':
        config.rate500 = value;
        break;
      case '--rate-timeout':
        config.rateTimeout = value;
        break;
      default:
        throw new Error(`unknown flag ${flag}`);
    }
  }
  return { port, config };
}

if (require.main === module) {
  const { port, config } = parseCli(process.argv.slice(2));
  startFakeLlmServer(config, { port }).then(
    (fake) => {
      console.log(JSON.stringify({ fake: 'fake-llm', url: fake.url, baseUrl: fake.baseUrl, model: fake.model }));
      const stop = () => void fake.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}

/**
 * `Server-Timing` on chat answers: the contract's syntax (W3C Server Timing), and the real
 * ChatService's split of a turn into `llm`, `db`, `cache` and `total`, over fake dependencies that
 * take known times. The gate reads `total − llm` as the service's own time on a miss.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { formatServerTiming, HEADERS, parseServerTiming, ROUTES, SERVER_TIMING_METRICS } from '../../lib/contract';
import { allowEveryone } from '../../service/src/auth';
import type { ResponseCache } from '../../service/src/cache/redis-cache';
import { ChatService } from '../../service/src/chat/chat-service';
import type { ChatStore } from '../../service/src/db/chat-store';
import { RequestTracker } from '../../service/src/drain';
import { buildHttpApp, fastifyOptions } from '../../service/src/http-app';
import type { LlmGateway } from '../../service/src/llm/llm-client';
import { createLogger } from '../../service/src/observability/logger';
import { EmfMetrics } from '../../service/src/observability/metrics';
import { ServerTiming } from '../../service/src/observability/server-timing';
import { http } from './support';

const LLM_MS = 60;
const DB_MS = 15;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Server-Timing syntax (lib/contract/server-timing.ts)', () => {
  test('parses the specification examples: dur per name, desc ignored, first entry of a name wins', () => {
    // From the W3C Server Timing specification's examples.
    expect(parseServerTiming('miss, db;dur=53, app;dur=47.2')).toEqual({ db: 53, app: 47.2 });
    expect(parseServerTiming('cache;desc="Cache Read";dur=23.2')).toEqual({ cache: 23.2 });
    expect(parseServerTiming('total;dur=123.4, total;dur=1')).toEqual({ total: 123.4 });
    expect(parseServerTiming(undefined)).toEqual({});
    expect(parseServerTiming('llm;dur=abc')).toEqual({});
  });

  test('formats name;dur=ms, rounded to 0.01 ms, and leaves out missing values', () => {
    expect(formatServerTiming({ cache: 0.4149, db: 2, llm: undefined, total: 17.555 })).toBe(
      'cache;dur=0.41, db;dur=2, total;dur=17.56',
    );
    expect(parseServerTiming(formatServerTiming({ llm: 512.3, total: 517.9 }))).toEqual({ llm: 512.3, total: 517.9 });
  });
});

describe('chat answers carry Server-Timing', () => {
  let app: FastifyInstance;
  let url: string;
  const cached = new Map<string, string>();

  beforeAll(async () => {
    const store = {
      ownedContext: async () => {
        await sleep(DB_MS);
        return [];
      },
      saveTurn: async () => {
        await sleep(DB_MS);
        return true;
      },
    } as unknown as ChatStore;
    const cache: ResponseCache = {
      lookup: async (key) => cached.get(key) ?? null,
      remember: async (key, _asker, value) => {
        cached.set(key, value);
        return [key];
      },
    };
    const llm: LlmGateway = {
      complete: async () => {
        await sleep(LLM_MS);
        return 'an answer';
      },
      stream: async (_messages, options) => {
        await sleep(LLM_MS);
        options.onDelta('an answer');
        return 'an answer';
      },
      status: () => 'ok',
    };
    const metrics = new EmfMetrics({ serviceName: 't', write: () => undefined });
    const healthy = { usable: true, reportFailure: () => undefined };
    const chat = new ChatService({
      store,
      cache,
      llm,
      databaseHealth: { ...healthy, waitUsable: async () => true, recoverFrom: async () => false },
      cacheHealth: healthy,
      metrics,
      settings: {
        promptVersion: 'v1',
        model: 'm',
        cacheTtlSeconds: 60,
        cacheShareAfterPrincipals: 1,
        contextBudgetTokens: 4_000,
        maxOutputTokens: 256,
      },
    });
    app = await buildHttpApp(
      {
        version: '1.0.0',
        rateLimitPerMinute: 1000,
        logger: createLogger({ level: 'error', write: () => undefined }),
        metrics,
        chat,
        authenticate: allowEveryone,
        readiness: () => ({ status: 'ready', version: '1.0.0', checks: { database: 'ok', cache: 'ok', llm: 'ok' } }),
        isDraining: () => false,
        tracker: new RequestTracker(),
      },
      fastifyOptions(),
    );
    await app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  afterAll(() => app.close());

  const ask = (route: string, message: string) =>
    http(`${url}${route}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message }),
    });
  const timing = (headers: Record<string, string | string[] | undefined>) => {
    const raw = headers[HEADERS.serverTiming];
    return parseServerTiming(Array.isArray(raw) ? raw.join(',') : raw);
  };
  const m = SERVER_TIMING_METRICS;

  test('a miss reports llm, db, cache and a total that holds them, so total − llm is the service own time', async () => {
    const res = await ask(ROUTES.chat, 'what is a miss');
    expect(res.status).toBe(200);
    expect(res.headers[HEADERS.cache]).toBe('MISS');
    const t = timing(res.headers);
    expect(Object.keys(t).sort()).toEqual([m.cache, m.db, m.llm, m.total].sort());
    expect(t[m.llm]).toBeGreaterThanOrEqual(LLM_MS - 2);
    expect(t[m.db]).toBeGreaterThanOrEqual(DB_MS - 2); // the insert (no session: no context read)
    expect(t[m.total]).toBeGreaterThanOrEqual((t[m.llm] as number) + (t[m.db] as number) - 1);
  });

  test('a hit reports no llm time', async () => {
    await ask(ROUTES.chat, 'what is a hit');
    const res = await ask(ROUTES.chat, 'what is a hit');
    expect(res.headers[HEADERS.cache]).toBe('HIT');
    const t = timing(res.headers);
    expect(t[m.llm]).toBeUndefined();
    expect(t[m.cache]).toBeGreaterThanOrEqual(0);
    expect(t[m.total]).toBeGreaterThanOrEqual(t[m.db] as number);
  });

  test('a stream carries the lookup time only: its headers leave before the LLM answers', async () => {
    const res = await ask(ROUTES.chatStream, 'what is a stream');
    expect(res.status).toBe(200);
    const t = timing(res.headers);
    expect(t[m.cache]).toBeGreaterThanOrEqual(0);
    expect(t[m.llm]).toBeUndefined();
    expect(t[m.total]).toBeUndefined();
  });
});

describe('ServerTiming.time', () => {
  test('adds the duration to its part whether the operation resolves, rejects or throws at once', async () => {
    const timing = new ServerTiming();
    await expect(timing.time('cache', () => sleep(5).then(() => 'v'))).resolves.toBe('v');
    await expect(timing.time('db', () => sleep(5).then(() => Promise.reject(new Error('db down'))))).rejects.toThrow(
      'db down',
    );
    await expect(
      timing.time('llm', () => {
        throw new Error('thrown before any promise');
      }),
    ).rejects.toThrow('thrown before any promise');
    const parsed = parseServerTiming(timing.header({ total: false }));
    expect(parsed.cache).toBeGreaterThanOrEqual(4);
    expect(parsed.db).toBeGreaterThanOrEqual(4);
    expect(parsed.llm).toBeGreaterThanOrEqual(0);
    expect(Object.keys(parsed).sort()).toEqual(['cache', 'db', 'llm']);
  });
});

/**
 * The bench's service process: the production bundle (`startChatApi` from dist/server.js) plus the
 * floor route, in one process, sharing the same Redis (TLS + AUTH) client and Postgres pool.
 *
 * `npm run bench` compiles this file with esbuild and runs it with plain `node` (no TypeScript
 * loader in the measured process), with the same environment the service would get. It talks to
 * the bench over IPC: `ready` with the URLs, `rss` and `cpu` (its CPU time so far) on request, `verify-cost` (the time of one token
 * verification, with and without the verified-token cache, timed in this process on this bundle's
 * code), `stop` to drain and exit.
 */
import { Agent, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import type { ChatApiConfig } from '../../service/src/config';
import { QUOTA_WINDOW_MS } from '../../service/src/quota/quota-cache';
import type * as ServiceBundle from '../../service/src/server';

export const FLOOR_PATH = '/__bench/floor';
/**
 * A miss's I/O without the service: the request-quota count, the storage-cap reservation, the cache
 * lookup, the token-quota reservation, one plain keep-alive POST to the LLM (then the settlement),
 * the cache write and the insert (then the storage settlement).
 */
export const MISS_FLOOR_PATH = '/__bench/miss-floor';
export const BENCH_HIT_MESSAGE = 'What is the boiling point of water at sea level?';

export type BenchTargetMessage =
  | { type: 'ready'; serviceUrl: string; floorUrl: string }
  | { type: 'rss'; maxRssKiB: number; rssBytes: number }
  | { type: 'verify-cost'; uncachedUs: number; cachedUs: number }
  /** `process.cpuUsage()`: microseconds of CPU since the process started. */
  | { type: 'cpu'; user: number; system: number };

/** What the bench asks the target for over IPC. */
export type BenchTargetRequest =
  | { type: 'rss' }
  | { type: 'cpu' }
  | { type: 'stop' }
  | { type: 'verify-cost'; authorization: string };

/** The floor's principal: its request-quota counter is not the bench user's. */
const FLOOR_PRINCIPAL = 'bench-floor';

/** Microseconds per call of `call`, the median over `batches` runs of `n` calls one after another. */
async function microsPerCall(call: () => Promise<unknown>, n: number, batches: number): Promise<number> {
  const perCall: number[] = [];
  for (let b = 0; b < batches; b++) {
    const started = performance.now();
    for (let i = 0; i < n; i++) await call();
    perCall.push(((performance.now() - started) * 1000) / n);
  }
  perCall.sort((a, b) => a - b);
  return perCall[Math.floor(batches / 2)] as number;
}

async function waitUntil(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`bench target: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function main(): Promise<void> {
  const bundle = process.env.BENCH_BUNDLE;
  if (!bundle) throw new Error('BENCH_BUNDLE is not set');
  const service = require(bundle) as typeof ServiceBundle;
  const parsed = service.parseServiceConfig(process.env);
  if (!parsed.ok) throw new Error(`bench target: invalid config ${JSON.stringify(parsed.problems)}`);
  const running = await service.startChatApi({ config: parsed.config });
  const { cache, store, cacheMonitor, databaseMonitor } = running.internals;
  await waitUntil(() => cacheMonitor.usable && databaseMonitor.usable, 30_000, 'the cache and the database');

  // The floor counts the request on the quota, reserves the turn's bytes on the storage cap, reads a
  // value the size of a real reply with the cache's own lookup (one script call, as a hit makes),
  // writes the same two-message insert and settles the storage: the I/O a hit must do, in the order
  // the service does it.
  const floorKey = `bench:floor:${process.pid}`;
  const asker = 'bench-floor';
  const policy = {
    shareAfterPrincipals: parsed.config.cacheShareAfterPrincipals,
    ttlSeconds: parsed.config.cacheTtlSeconds,
  };
  await cache.remember(
    floorKey,
    asker,
    `[fake-llm] You said: "${BENCH_HIT_MESSAGE}". (0 earlier messages in this conversation.)`,
    policy,
  );

  // The quota round trip of every API request: the request quota's own store (the same Lua script
  // on the same connection), on the floor's own counter.
  const quotaLimit = parsed.config.quotas.requestsPerMinute;
  const countRequest = () =>
    new Promise<number>((resolve, reject) =>
      service
        .requestQuotaStoreFor(cache.raw)
        .incr(
          FLOOR_PRINCIPAL,
          (err, result) => (err || !result ? reject(err ?? new Error('no quota result')) : resolve(result.current)),
          QUOTA_WINDOW_MS,
          quotaLimit,
        ),
    );

  // The storage cap's round trip of every stored turn (QUOTA_STORED_BYTES_PER_DAY): the turn reserves
  // its bytes before it runs and settles to what was stored, as the service's capStorage does.
  const quotaCache = {
    current: () => cache.raw,
    reportFailure: (err: unknown) => {
      throw err;
    },
  };
  const storageQuota = new service.StorageQuota({
    storedBytesPerDay: parsed.config.quotas.storedBytesPerDay,
    cache: quotaCache,
    onFallback: () => undefined,
    onRejected: () => undefined,
  });
  const expectedReplyBytes = parsed.config.llm.maxOutputTokens * 4;

  const floor = Fastify({ logger: false });
  let n = 0;
  floor.post(FLOOR_PATH, async (request, reply) => {
    if ((await countRequest()) > quotaLimit) return reply.code(429).send({ error: 'quota' });
    const message = (request.body as { message: string }).message;
    const stored = await storageQuota.reserve(FLOOR_PRINCIPAL, Buffer.byteLength(message) + expectedReplyBytes);
    const answer = (await cache.lookup(floorKey, asker, policy)) ?? '';
    n += 1;
    await store.saveTurn({
      sessionId: `floor-${process.pid}-${n}`,
      owner: FLOOR_PRINCIPAL,
      newSession: true,
      requestId: `floor-${n}`,
      userMessage: (request.body as { message: string }).message,
      reply: answer,
      cached: true,
    });
    stored.settle(Buffer.byteLength(message) + Buffer.byteLength(answer));
    return { reply: answer };
  });
  // The miss floor: what a miss must wait for (three hops to other processes) with none of the
  // service's own work, so the difference to a real miss is the service's cost even on a busy machine.
  const llm = parsed.config.llm;
  const llmAgent = new Agent({ keepAlive: true });
  const callLlm = (message: string) =>
    new Promise<string>((resolve, reject) => {
      const req = request(
        `${llm.baseUrl}/chat/completions`,
        {
          method: 'POST',
          agent: llmAgent,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${llm.apiKey}` },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(Buffer.concat(chunks).toString()));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ model: llm.model, messages: [{ role: 'user', content: message }] }));
    });
  // A miss also reserves its worst case on the token quota before the LLM call and settles it after.
  const tokenQuota = new service.TokenQuota({
    llmTokensPerMinute: parsed.config.quotas.llmTokensPerMinute,
    cache: quotaCache,
    onFallback: () => undefined,
    onRejected: () => undefined,
  });
  floor.post(MISS_FLOOR_PATH, async (request, res) => {
    const message = (request.body as { message: string }).message;
    if ((await countRequest()) > quotaLimit) return res.code(429).send({ error: 'quota' });
    const stored = await storageQuota.reserve(FLOOR_PRINCIPAL, Buffer.byteLength(message) + expectedReplyBytes);
    const key = `bench:miss-floor:${message}`;
    await cache.lookup(key, asker, policy);
    const reservation = await tokenQuota.reserve(FLOOR_PRINCIPAL, parsed.config.llm.maxOutputTokens + 100);
    const reply = await callLlm(message);
    reservation.settle(100);
    n += 1;
    await Promise.all([
      cache.remember(key, asker, reply, policy),
      store.saveTurn({
        sessionId: `floor-${process.pid}-${n}`,
        owner: FLOOR_PRINCIPAL,
        newSession: true,
        requestId: `floor-${n}`,
        userMessage: message,
        reply,
        cached: false,
      }),
    ]);
    stored.settle(Buffer.byteLength(message) + Buffer.byteLength(reply));
    return { reply };
  });
  await floor.listen({ port: 0, host: '127.0.0.1' });
  const floorUrl = `http://127.0.0.1:${(floor.server.address() as AddressInfo).port}`;

  const send = (m: BenchTargetMessage) => process.send?.(m);
  send({ type: 'ready', serviceUrl: running.url, floorUrl });
  process.on('message', (m: BenchTargetRequest) => {
    if (m?.type === 'verify-cost') {
      void verifyCost(service, parsed.config, m.authorization).then(send, (err: unknown) => {
        console.error(err);
        process.exit(1);
      });
    } else if (m?.type === 'cpu') {
      send({ type: 'cpu', ...process.cpuUsage() });
    } else if (m?.type === 'rss') {
      send({ type: 'rss', maxRssKiB: process.resourceUsage().maxRSS, rssBytes: process.memoryUsage().rss });
    } else if (m?.type === 'stop') {
      void floor
        .close()
        .then(() => running.shutdown())
        .then(() => process.exit(0));
    }
  });
}

/**
 * One verification as the service does it (the Bearer header parsed, the token verified against the
 * issuer's JWKS, already loaded): without the verified-token cache, and served from it.
 */
async function verifyCost(
  service: typeof ServiceBundle,
  config: ChatApiConfig,
  authorization: string,
): Promise<BenchTargetMessage> {
  if (config.auth.mode === 'off') throw new Error('bench target: the service runs without authentication');
  const verifier = service.createTokenVerifier(config.auth);
  const loaded = await verifier.warmUp();
  if (!loaded.ok) throw new Error(`bench target: JWKS not loaded: ${loaded.error}`);
  const uncached = service.bearerAuthenticator(verifier);
  const cached = service.bearerAuthenticator(service.cacheVerifiedTokens(verifier));
  await uncached(authorization);
  await cached(authorization);
  return {
    type: 'verify-cost',
    uncachedUs: await microsPerCall(() => uncached(authorization), 300, 5),
    cachedUs: await microsPerCall(() => cached(authorization), 3000, 5),
  };
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}

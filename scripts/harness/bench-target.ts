/**
 * The bench's service process: the production bundle (`startChatApi` from dist/server.js) plus the
 * floor route, in one process, sharing the same Redis (TLS + AUTH) client and Postgres pool.
 *
 * `npm run bench` compiles this file with esbuild and runs it with plain `node` (no TypeScript
 * loader in the measured process), with the same environment the service would get. It talks to
 * the bench over IPC: `ready` with the URLs, `rss` on request, `stop` to drain and exit.
 */
import { Agent, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import type * as ServiceBundle from '../../service/src/server';

export const FLOOR_PATH = '/__bench/floor';
/** A miss's I/O without the service: cache lookup, one plain keep-alive POST to the LLM, cache write and the insert. */
export const MISS_FLOOR_PATH = '/__bench/miss-floor';
export const BENCH_HIT_MESSAGE = 'What is the boiling point of water at sea level?';

export type BenchTargetMessage =
  | { type: 'ready'; serviceUrl: string; floorUrl: string }
  | { type: 'rss'; maxRssKiB: number; rssBytes: number };

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

  // The floor reads a value the size of a real reply with the cache's own lookup (one script call,
  // as a hit makes), and writes the same two-message insert.
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

  const floor = Fastify({ logger: false });
  let n = 0;
  floor.post(FLOOR_PATH, async (request) => {
    const reply = (await cache.lookup(floorKey, asker, policy)) ?? '';
    n += 1;
    await store.saveTurn({
      sessionId: `floor-${process.pid}-${n}`,
      owner: 'bench-floor',
      newSession: true,
      requestId: `floor-${n}`,
      userMessage: (request.body as { message: string }).message,
      reply,
      cached: true,
    });
    return { reply };
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
  floor.post(MISS_FLOOR_PATH, async (request) => {
    const message = (request.body as { message: string }).message;
    const key = `bench:miss-floor:${message}`;
    await cache.lookup(key, asker, policy);
    const reply = await callLlm(message);
    n += 1;
    await Promise.all([
      cache.remember(key, asker, reply, policy),
      store.saveTurn({
        sessionId: `floor-${process.pid}-${n}`,
        owner: 'bench-floor',
        newSession: true,
        requestId: `floor-${n}`,
        userMessage: message,
        reply,
        cached: false,
      }),
    ]);
    return { reply };
  });
  await floor.listen({ port: 0, host: '127.0.0.1' });
  const floorUrl = `http://127.0.0.1:${(floor.server.address() as AddressInfo).port}`;

  const send = (m: BenchTargetMessage) => process.send?.(m);
  send({ type: 'ready', serviceUrl: running.url, floorUrl });
  process.on('message', (m: { type?: string }) => {
    if (m?.type === 'rss') {
      send({ type: 'rss', maxRssKiB: process.resourceUsage().maxRSS, rssBytes: process.memoryUsage().rss });
    } else if (m?.type === 'stop') {
      void floor
        .close()
        .then(() => running.shutdown())
        .then(() => process.exit(0));
    }
  });
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}

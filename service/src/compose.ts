/**
 * The composition root: turns a parsed config into a listening chat API. `server.ts` (the process
 * entry) calls `startChatApi`; `http-app.ts` is the HTTP app it serves; `wiring.ts` builds each
 * dependency.
 *
 * Order matters: the HTTP server listens first (so `/health` answers and `/health/ready` says
 * `not_ready` from the first second), then the dependency monitors prove Postgres (and apply
 * migrations), the cache and the LLM endpoint in the background. The ALB routes to the task only
 * once all three are proven.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { LIMITS } from '../../lib/contract';
import { createServiceAuth } from './auth';
import type { RedisCache } from './cache/redis-cache';
import { redisSessionIndex } from './cache/session-index';
import { ChatService } from './chat/chat-service';
import { Conversations } from './chat/conversations';
import type { ChatApiConfig } from './config';
import type { ChatStore } from './db/chat-store';
import type { Database } from './db/database';
import { MessageRetention, type RetentionOptions } from './db/retention';
import { type DrainResult, drainHttp, RequestTracker } from './drain';
import type { DependencyMonitor } from './health/dependency-monitor';
import { readinessSnapshot } from './health/readiness';
import { buildHttpApp, fastifyOptions } from './http-app';
import type { LineDestination, Logger } from './observability/logger';
import type { EmfMetrics } from './observability/metrics';
import { wireQuotas } from './quota';
import { capStorage } from './quota/storage-quota';
import type { SecretReader } from './secrets/secret-source';
import {
  type MonitorCadence,
  type Observability,
  wireCache,
  wireDatabase,
  wireLlm,
  wireObservability,
  wireSecrets,
} from './wiring';

export interface ChatApiOptions {
  readonly config: ChatApiConfig;
  /** Where logs and EMF lines go. @default pino's asynchronous stdout destination */
  readonly write?: LineDestination | ((line: string) => void);
  /** Injected for tests; built from the SDK's defaults otherwise. */
  readonly secrets?: SecretReader;
  /** Probe cadence overrides (tests). */
  readonly monitor?: MonitorCadence;
  readonly metricsFlushIntervalMs?: number;
  /** Retention cadence and batch overrides (tests); MESSAGE_RETENTION_DAYS comes from the config. */
  readonly retention?: Omit<RetentionOptions, 'days'>;
}

/** What the bench's floor route and the tests reach into. Not part of the HTTP contract. */
export interface ChatApiInternals {
  readonly config: ChatApiConfig;
  readonly logger: Logger;
  readonly metrics: EmfMetrics;
  readonly db: Database;
  readonly store: ChatStore;
  readonly cache: RedisCache;
  readonly databaseMonitor: DependencyMonitor;
  readonly cacheMonitor: DependencyMonitor;
}

export interface RunningChatApi {
  readonly app: FastifyInstance;
  readonly port: number;
  readonly url: string;
  readonly internals: ChatApiInternals;
  /** Drains HTTP, stops probes, closes pools, flushes metrics. Idempotent. */
  shutdown(): Promise<DrainResult>;
}

export async function startChatApi(options: ChatApiOptions): Promise<RunningChatApi> {
  const { config } = options;
  const observability = wireObservability(config, options);
  const { logger, metrics } = observability;
  const secrets = wireSecrets(config, { observability, ...(options.secrets ? { reader: options.secrets } : {}) });
  const deps = { observability, secrets, ...(options.monitor ? { cadence: options.monitor } : {}) };
  const database = wireDatabase(config, deps);
  const cache = wireCache(config, deps);
  const llm = wireLlm(config, deps);
  const secretWatch = secrets.watch([database.watched, cache.watched]);
  const auth = createServiceAuth(config.auth, logger);
  const quotas = wireQuotas(config, { cache: cache.cache, cacheHealth: cache.monitor, metrics });

  const sessionIndex = redisSessionIndex(() => cache.cache.raw);
  const chatService = new ChatService({
    store: database.store,
    cache: cache.cache,
    sessionIndex,
    llm: llm.llm,
    databaseHealth: database.monitor,
    cacheHealth: cache.monitor,
    metrics,
    tokenQuota: quotas.tokenQuota,
    settings: {
      promptVersion: config.promptVersion,
      model: config.llm.model,
      cacheTtlSeconds: config.cacheTtlSeconds,
      cacheShareAfterPrincipals: config.cacheShareAfterPrincipals,
      contextBudgetTokens: config.llm.contextBudgetTokens,
      maxOutputTokens: config.llm.maxOutputTokens,
    },
  });
  const chat = capStorage(chatService, quotas.storageQuota, config.llm.maxOutputTokens);
  const conversations = new Conversations({
    store: database.store,
    sessionIndex,
    databaseHealth: database.monitor,
    cacheHealth: cache.monitor,
  });
  const retention = new MessageRetention(
    database.db,
    { days: config.messageRetentionDays, ...options.retention },
    { logger, metrics, databaseHealth: database.monitor },
  );

  let draining = false;
  const tracker = new RequestTracker();
  const app = await buildHttpApp(
    {
      version: config.appVersion,
      rateLimitPerMinute: config.rateLimitPerMinute,
      ...(config.rateLimitExempt.cidrs.length > 0 ? { rateLimitExempt: config.rateLimitExempt.covers } : {}),
      requestQuota: quotas.requestQuota,
      logger,
      metrics,
      chat,
      conversations,
      authenticate: auth.authenticate,
      tracker,
      isDraining: () => draining,
      readiness: () =>
        readinessSnapshot({
          version: config.appVersion,
          database: database.monitor,
          cache: cache.monitor,
          llmProbe: llm.monitor,
          llm: llm.llm,
          isDraining: () => draining,
        }),
    },
    fastifyOptions({ keepAliveTimeoutMs: config.keepAliveTimeoutMs }),
  );
  const { port, url } = await listen(app, config, logger);

  metrics.start();
  auth.start();
  database.monitor.start();
  cache.monitor.start();
  llm.monitor.start();
  secretWatch.start();
  retention.start();

  let shutdownPromise: Promise<DrainResult> | undefined;
  const shutdown = (): Promise<DrainResult> => {
    shutdownPromise ??= drainAndClose({
      config,
      app,
      tracker,
      observability,
      startDraining: () => {
        draining = true;
      },
      stopBackground: [retention, secretWatch, auth, database.monitor, cache.monitor, llm.monitor],
      closeClients: async () => {
        await Promise.allSettled([database.db.close(), cache.cache.close()]);
        llm.llm.close();
        secrets.close();
      },
    });
    return shutdownPromise;
  };

  return {
    app,
    port,
    url,
    internals: {
      config,
      logger,
      metrics,
      db: database.db,
      store: database.store,
      cache: cache.cache,
      databaseMonitor: database.monitor,
      cacheMonitor: cache.monitor,
    },
    shutdown,
  };
}

/**
 * SIGTERM: answer what is in flight (new requests on open connections get `Connection: close`),
 * then stop the probes and the secret poll, close the pools, and write the last metrics.
 */
async function drainAndClose(parts: {
  readonly config: ChatApiConfig;
  readonly app: FastifyInstance;
  readonly tracker: RequestTracker;
  readonly observability: Observability;
  readonly startDraining: () => void;
  readonly stopBackground: readonly { stop(): void }[];
  readonly closeClients: () => Promise<void>;
}): Promise<DrainResult> {
  const { config, app, tracker } = parts;
  const { logger, metrics } = parts.observability;
  parts.startDraining();
  logger.info('draining', { event: 'drain_started', in_flight: tracker.active, timeout_ms: config.drainTimeoutMs });
  const result = await drainHttp(tracker, { server: app.server, timeoutMs: config.drainTimeoutMs, logger });
  for (const background of parts.stopBackground) background.stop();
  await parts.closeClients();
  logger.info('drained', {
    event: 'drain_finished',
    forced: result.forced,
    elapsed_ms: result.elapsedMs,
    answered_during_drain: result.answeredDuringDrain,
  });
  metrics.stop();
  return result;
}

/** Listens, and logs where (with which TLS and secret settings, never a value). */
async function listen(
  app: FastifyInstance,
  config: ChatApiConfig,
  logger: Logger,
): Promise<{ port: number; url: string }> {
  // headersTimeout stays at requestTimeout (see fastifyOptions): Node applies it to requests under
  // way only, never to idle keep-alive connections, and swaps the two when it is the larger.
  app.server.headersTimeout = LIMITS.requestTimeoutMs;
  await app.listen({ port: config.port, host: config.host });
  const port = (app.server.address() as AddressInfo).port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  logger.info('listening', {
    event: 'listening',
    port,
    host: config.host,
    version: config.appVersion,
    db_ssl: config.db.ssl,
    cache_tls: config.cache.tls,
    db_secret_refresh: config.db.secretArn !== undefined,
    cache_secret_refresh: config.cache.authSecretArn !== undefined,
    // Address ranges, not secrets: whom the per-address flood guard does not count.
    rate_limit_exempt: config.rateLimitExempt.cidrs,
  });
  return { port, url };
}

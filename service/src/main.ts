/**
 * The composition root: turns a parsed config into a listening service.
 *
 * Order matters: the HTTP server listens first (so `/health` answers and `/health/ready` says
 * `not_ready` from the first second), then the dependency monitors prove Postgres (and apply
 * migrations), the cache and the LLM endpoint in the background. The ALB routes to the task only
 * once all three are proven.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildApp, KEEP_ALIVE_TIMEOUT_MS } from './app';
import { classifyCacheError, RedisCache } from './cache/redis-cache';
import { ChatService } from './chat/chat-service';
import { type ServiceConfig, secretValues } from './config';
import { type ChatStore, PgChatStore } from './db/chat-store';
import { classifyDbError, Database, dbOperationNotRun } from './db/database';
import { MigrationError, migrate } from './db/migrations';
import { type DrainResult, drainHttp, RequestTracker } from './drain';
import { DependencyMonitor, type FailureKind } from './health/dependency-monitor';
import { readinessSnapshot } from './health/readiness';
import { classifyLlmProbeError, OpenAiGateway } from './llm/llm-client';
import { createLineWriter } from './observability/line-writer';
import { createLogger, type Logger } from './observability/logger';
import { EmfMetrics } from './observability/metrics';
import { SecretReader } from './secrets/secret-source';
import { SecretWatch, type WatchedSecret } from './secrets/secret-watch';

export interface StartOptions {
  readonly config: ServiceConfig;
  /** Where logs and EMF lines go. @default process.stdout */
  readonly write?: (line: string) => void;
  /** Injected for tests; built from the SDK's defaults otherwise. */
  readonly secrets?: SecretReader;
  /** Probe cadence overrides (tests). */
  readonly monitor?: { readonly okIntervalMs?: number; readonly downIntervalMs?: number };
  readonly metricsFlushIntervalMs?: number;
}

/** What the bench's floor route and the tests reach into. Not part of the HTTP contract. */
export interface ServiceInternals {
  readonly config: ServiceConfig;
  readonly logger: Logger;
  readonly metrics: EmfMetrics;
  readonly db: Database;
  readonly store: ChatStore;
  readonly cache: RedisCache;
  readonly databaseMonitor: DependencyMonitor;
  readonly cacheMonitor: DependencyMonitor;
}

export interface RunningService {
  readonly app: FastifyInstance;
  readonly port: number;
  readonly url: string;
  readonly internals: ServiceInternals;
  /** Drains HTTP, stops probes, closes pools, flushes metrics. Idempotent. */
  shutdown(): Promise<DrainResult>;
}

export async function startService(options: StartOptions): Promise<RunningService> {
  const { config } = options;
  const write = options.write ?? createLineWriter();

  let currentSecrets = secretValues(config);
  const logger = createLogger({ level: config.logLevel, write, secrets: () => currentSecrets });
  const metrics = new EmfMetrics({
    serviceName: config.serviceName,
    write,
    ...(options.metricsFlushIntervalMs === undefined ? {} : { flushIntervalMs: options.metricsFlushIntervalMs }),
  });
  const secretsNeeded = config.db.secretArn !== undefined || config.cache.authSecretArn !== undefined;
  const secrets = options.secrets ?? (secretsNeeded ? new SecretReader() : undefined);

  // Rejected credentials are counted once per episode, and only when re-reading the secret did not
  // heal them: a routine rotation (the alternating users' old password changed) is not a page.
  const monitorMetrics = (dependency: 'database' | 'cache') => ({
    onFailure: (kind: FailureKind): void => {
      if (kind === 'auth_failed') return;
      if (dependency === 'database') metrics.increment('dbErrors');
      else metrics.flagCacheUnavailable();
    },
    onAuthFailure: () => metrics.increment('authFailures'),
    onCredentialsRefreshed: () => metrics.increment('credentialRefreshes'),
  });

  /** A credential re-read whose new secret value joins the values the logger redacts. */
  const redacting = (install: () => Promise<boolean>, current: () => string) => async (): Promise<boolean> => {
    const changed = await install();
    if (changed) currentSecrets = [...currentSecrets, current()];
    return changed;
  };

  // --- Postgres: pool, migrations on first proof, credentials refreshable from the secret.
  let databaseMonitor: DependencyMonitor | undefined;
  // An idle pooled connection that the server closed says little by itself (an admin ended it, a
  // proxy timed it out): probe now, and let the probe or a failing request decide it is down.
  const db = new Database(config.db, { onIdleError: () => databaseMonitor?.probeSoon() });
  const dbSecretArn = config.db.secretArn;
  const refreshDb =
    dbSecretArn !== undefined && secrets
      ? redacting(
          async () => db.installCredentials(await secrets.readDbCredentials(dbSecretArn)),
          () => db.credentials.password,
        )
      : undefined;
  let migrated = false;
  databaseMonitor = new DependencyMonitor(
    {
      name: 'database',
      authHint:
        config.db.secretArn === undefined
          ? 'DB_USERNAME/DB_PASSWORD'
          : 'DB_USERNAME/DB_PASSWORD and the secret DB_SECRET_ARN names',
      probe: async () => {
        await db.query({ text: 'SELECT 1' });
        if (migrated) return;
        const client = await db.connect();
        try {
          const applied = await migrate(client);
          logger.info('database migrations applied', { event: 'migrations', applied });
        } finally {
          client.release();
        }
        migrated = true;
      },
      classify: (err) => (err instanceof MigrationError ? 'misconfigured' : classifyDbError(err)),
      notRun: dbOperationNotRun,
      ...(refreshDb ? { refreshCredentials: refreshDb } : {}),
    },
    { logger, ...options.monitor, ...monitorMetrics('database') },
  );

  // --- Cache: TLS + AUTH, token refreshable from the secret.
  let cacheMonitor: DependencyMonitor | undefined;
  const cache = new RedisCache(config.cache, {
    onConnectionError: (err) => cacheMonitor?.reportFailure(err),
    onConfigError: (err) => cacheMonitor?.reportFailure(err),
  });
  const cacheSecretArn = config.cache.authSecretArn;
  const refreshCache =
    cacheSecretArn !== undefined && secrets
      ? redacting(
          async () => cache.installToken(await secrets.readCacheToken(cacheSecretArn)),
          () => cache.currentToken,
        )
      : undefined;
  cacheMonitor = new DependencyMonitor(
    {
      name: 'cache',
      authHint:
        config.cache.authSecretArn === undefined
          ? 'REDIS_AUTH_TOKEN'
          : 'REDIS_AUTH_TOKEN and the secret REDIS_AUTH_SECRET_ARN names',
      probe: () => cache.ping(),
      classify: classifyCacheError,
      ...(refreshCache ? { refreshCredentials: refreshCache } : {}),
    },
    { logger, ...options.monitor, ...monitorMetrics('cache') },
  );

  // Rotated secrets are re-read proactively too, so a rotation never has to be healed by a
  // rejected login (see secret-watch.ts); a task that gave up on rejected credentials heals when
  // the secret is corrected.
  const watched: WatchedSecret[] = [
    ...(refreshDb
      ? [{ name: 'database', refresh: refreshDb, onChanged: () => databaseMonitor?.credentialsReplaced() }]
      : []),
    ...(refreshCache
      ? [{ name: 'cache', refresh: refreshCache, onChanged: () => cacheMonitor?.credentialsReplaced() }]
      : []),
  ];
  const secretWatch = new SecretWatch(watched, { logger, intervalMs: config.rotationPollMs });

  // --- LLM: proven once at start (the endpoint answers and takes the key); the breaker judges it after.
  const llm = new OpenAiGateway({ settings: config.llm, logger, metrics });
  const llmMonitor = new DependencyMonitor(
    {
      name: 'llm',
      authHint: 'LLM_API_KEY (the secret it comes from)',
      probe: () => llm.probe(),
      classify: classifyLlmProbeError,
      untilProven: true,
    },
    { logger, ...options.monitor },
  );
  const store = new PgChatStore(db);
  const chat = new ChatService({
    store,
    cache,
    llm,
    databaseHealth: databaseMonitor,
    cacheHealth: cacheMonitor,
    metrics,
    settings: { promptVersion: config.promptVersion, model: config.llm.model, cacheTtlSeconds: config.cacheTtlSeconds },
  });

  let draining = false;
  const tracker = new RequestTracker();
  const dbMon = databaseMonitor;
  const cacheMon = cacheMonitor;
  const app = await buildApp({
    version: config.appVersion,
    rateLimitPerMinute: config.rateLimitPerMinute,
    logger,
    metrics,
    chat,
    tracker,
    isDraining: () => draining,
    readiness: () =>
      readinessSnapshot({
        version: config.appVersion,
        database: dbMon,
        cache: cacheMon,
        llmProbe: llmMonitor,
        llm,
        isDraining: () => draining,
      }),
  });
  // Node requires headersTimeout > keepAliveTimeout, or idle keep-alive sockets get cut early.
  app.server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1_000;

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
  });

  metrics.start();
  dbMon.start();
  cacheMon.start();
  llmMonitor.start();
  secretWatch.start();

  let shutdownPromise: Promise<DrainResult> | undefined;
  const shutdown = (): Promise<DrainResult> => {
    shutdownPromise ??= (async () => {
      draining = true;
      logger.info('draining', { event: 'drain_started', in_flight: tracker.active, timeout_ms: config.drainTimeoutMs });
      const result = await drainHttp(tracker, { server: app.server, timeoutMs: config.drainTimeoutMs, logger });
      secretWatch.stop();
      dbMon.stop();
      cacheMon.stop();
      llmMonitor.stop();
      await Promise.allSettled([db.close(), cache.close()]);
      llm.close();
      secrets?.close();
      logger.info('drained', {
        event: 'drain_finished',
        forced: result.forced,
        elapsed_ms: result.elapsedMs,
        answered_during_drain: result.answeredDuringDrain,
      });
      metrics.stop();
      return result;
    })();
    return shutdownPromise;
  };

  return {
    app,
    port,
    url,
    internals: { config, logger, metrics, db, store, cache, databaseMonitor: dbMon, cacheMonitor: cacheMon },
    shutdown,
  };
}

/**
 * The service's dependencies, one wiring function each: what it builds, how it is proven
 * (a `DependencyMonitor`), and how its credentials are re-read. `compose.ts` calls them in order and
 * joins what they return.
 */
import { classifyCacheError, RedisCache } from './cache/redis-cache';
import { defineSessionIndexCommands } from './cache/session-index';
import type { ChatApiConfig } from './config';
import { secretValues } from './config';
import { type ChatStore, type ConversationStore, PgChatStore } from './db/chat-store';
import { classifyDbError, Database, dbOperationNotRun } from './db/database';
import { MigrationError, migrate } from './db/migrations';
import { DependencyMonitor, type FailureKind } from './health/dependency-monitor';
import { classifyLlmProbeError, OpenAiGateway } from './llm/llm-client';
import { createLogger, type LineDestination, type Logger, stdoutDestination } from './observability/logger';
import { EmfMetrics } from './observability/metrics';
import { requestQuotaStoreFor } from './quota/request-quota';
import { defineTokenQuotaCommands } from './quota/token-quota';
import { SecretReader } from './secrets/secret-source';
import { SecretWatch, type WatchedSecret } from './secrets/secret-watch';

/** Probe cadence overrides (tests). */
export interface MonitorCadence {
  readonly okIntervalMs?: number;
  readonly downIntervalMs?: number;
}

export interface Observability {
  readonly logger: Logger;
  readonly metrics: EmfMetrics;
  /** Adds a value the logger must redact from now on (a secret installed by a rotation). */
  redactAlso(value: string): void;
}

/** Logs and EMF metrics share one stdout destination, so their lines stay in order. */
export function wireObservability(
  config: ChatApiConfig,
  options: { readonly write?: LineDestination | ((line: string) => void); readonly metricsFlushIntervalMs?: number },
): Observability {
  const out = options.write ?? stdoutDestination();
  const write = typeof out === 'function' ? out : (line: string) => void out.write(line);
  let secrets: readonly string[] = secretValues(config);
  const logger = createLogger({ level: config.logLevel, write: out, secrets: () => secrets });
  const metrics = new EmfMetrics({
    serviceName: config.serviceName,
    write,
    ...(options.metricsFlushIntervalMs === undefined ? {} : { flushIntervalMs: options.metricsFlushIntervalMs }),
  });
  return {
    logger,
    metrics,
    redactAlso: (value) => {
      secrets = [...secrets, value];
    },
  };
}

export interface SecretsWiring {
  /** A credential re-read from `arn`, or undefined when no ARN is configured. */
  refresher(
    arn: string | undefined,
    install: (reader: SecretReader, arn: string) => Promise<boolean>,
    current: () => string,
  ): (() => Promise<boolean>) | undefined;
  /** The proactive poll of the rotated secrets. */
  watch(watched: readonly (WatchedSecret | undefined)[]): SecretWatch;
  close(): void;
}

/**
 * Secrets Manager, only when an ARN asks for it (the SDK is loaded only then). A re-read value joins
 * the values the logger redacts.
 */
export function wireSecrets(
  config: ChatApiConfig,
  deps: { readonly observability: Observability; readonly reader?: SecretReader },
): SecretsWiring {
  const needed = config.db.secretArn !== undefined || config.cache.authSecretArn !== undefined;
  const reader = deps.reader ?? (needed ? new SecretReader() : undefined);
  const { logger } = deps.observability;
  return {
    refresher: (arn, install, current) => {
      if (arn === undefined || !reader) return undefined;
      return async () => {
        const changed = await install(reader, arn);
        if (changed) deps.observability.redactAlso(current());
        return changed;
      };
    },
    // Rotated secrets are re-read proactively too, so a rotation never has to be healed by a
    // rejected login (see secret-watch.ts); a task that gave up on rejected credentials heals when
    // the secret is corrected.
    watch: (watched) =>
      new SecretWatch(
        watched.filter((w): w is WatchedSecret => w !== undefined),
        { logger, intervalMs: config.rotationPollMs },
      ),
    close: () => reader?.close(),
  };
}

interface WiringDeps {
  readonly observability: Observability;
  readonly secrets: SecretsWiring;
  readonly cadence?: MonitorCadence;
}

/**
 * Rejected credentials are counted once per episode, and only when re-reading the secret did not
 * heal them: a routine rotation (the alternating users' old password changed) is not a page.
 */
function monitorMetrics(metrics: EmfMetrics, dependency: 'database' | 'cache') {
  return {
    onFailure: (kind: FailureKind): void => {
      if (kind === 'auth_failed') return;
      if (dependency === 'database') metrics.increment('dbErrors');
      else metrics.flagCacheUnavailable();
    },
    onAuthFailure: () => metrics.increment('authFailures'),
    onCredentialsRefreshed: () => metrics.increment('credentialRefreshes'),
  };
}

export interface DatabaseWiring {
  readonly db: Database;
  readonly store: ChatStore & ConversationStore;
  readonly monitor: DependencyMonitor;
  /** The secret poll's entry, when the credentials come from a secret. */
  readonly watched: WatchedSecret | undefined;
}

/** Postgres: the pool, migrations on the first proof, credentials refreshable from the secret. */
export function wireDatabase(config: ChatApiConfig, deps: WiringDeps): DatabaseWiring {
  const { logger, metrics } = deps.observability;
  let monitor: DependencyMonitor | undefined;
  // An idle pooled connection that the server closed says little by itself (an admin ended it, a
  // proxy timed it out): probe now, and let the probe or a failing request decide it is down.
  const db = new Database(config.db, { onIdleError: () => monitor?.probeSoon() });
  const refresh = deps.secrets.refresher(
    config.db.secretArn,
    async (reader, arn) => db.installCredentials(await reader.readDbCredentials(arn)),
    () => db.credentials.password,
  );
  let migrated = false;
  monitor = new DependencyMonitor(
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
      ...(refresh ? { refreshCredentials: refresh } : {}),
    },
    { logger, ...deps.cadence, ...monitorMetrics(metrics, 'database') },
  );
  const proven = monitor;
  return {
    db,
    store: new PgChatStore(db),
    monitor: proven,
    watched: refresh ? { name: 'database', refresh, onChanged: () => proven.credentialsReplaced() } : undefined,
  };
}

export interface CacheWiring {
  readonly cache: RedisCache;
  readonly monitor: DependencyMonitor;
  readonly watched: WatchedSecret | undefined;
}

/** The cache: TLS + AUTH, the token refreshable from the secret. */
export function wireCache(config: ChatApiConfig, deps: WiringDeps): CacheWiring {
  const { logger, metrics } = deps.observability;
  let monitor: DependencyMonitor | undefined;
  const cache = new RedisCache(config.cache, {
    onConnectionError: (err) => monitor?.reportFailure(err),
    onConfigError: (err) => monitor?.reportFailure(err),
    // The quotas' Lua commands exist on each client from its creation (see RedisCacheHooks.prepare).
    prepare: (client) => {
      defineTokenQuotaCommands(client);
      requestQuotaStoreFor(client);
      defineSessionIndexCommands(client);
    },
  });
  const refresh = deps.secrets.refresher(
    config.cache.authSecretArn,
    async (reader, arn) => cache.installToken(await reader.readCacheToken(arn)),
    () => cache.currentToken,
  );
  monitor = new DependencyMonitor(
    {
      name: 'cache',
      authHint:
        config.cache.authSecretArn === undefined
          ? 'REDIS_AUTH_TOKEN'
          : 'REDIS_AUTH_TOKEN and the secret REDIS_AUTH_SECRET_ARN names',
      probe: () => cache.ping(),
      classify: classifyCacheError,
      ...(refresh ? { refreshCredentials: refresh } : {}),
    },
    { logger, ...deps.cadence, ...monitorMetrics(metrics, 'cache') },
  );
  const proven = monitor;
  return {
    cache,
    monitor: proven,
    watched: refresh ? { name: 'cache', refresh, onChanged: () => proven.credentialsReplaced() } : undefined,
  };
}

export interface LlmWiring {
  readonly llm: OpenAiGateway;
  /** The start-up proof (the endpoint answers and takes the key); the circuit breaker judges it after. */
  readonly monitor: DependencyMonitor;
}

export function wireLlm(config: ChatApiConfig, deps: Omit<WiringDeps, 'secrets'>): LlmWiring {
  const { logger, metrics } = deps.observability;
  const llm = new OpenAiGateway({ settings: config.llm, logger, metrics });
  const monitor = new DependencyMonitor(
    {
      name: 'llm',
      authHint: 'LLM_API_KEY (the secret it comes from)',
      probe: () => llm.probe(),
      classify: classifyLlmProbeError,
      untilProven: true,
    },
    { logger, ...deps.cadence },
  );
  return { llm, monitor };
}

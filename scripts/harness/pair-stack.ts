/**
 * Two versions side by side, as during a blue/green deployment: one Postgres and one Redis (TLS +
 * AUTH) shared by a "baseline" and a "candidate" service process, each with its own fake LLM and
 * its own delaying proxies in front of Redis and Postgres and a proxy that can lose its cache writes,
 * an HTTP proxy in front of the service (the target's URL; it can buffer whole responses) and one in
 * front of its fake LLM (it can enlarge the prompts). Regressions are injected into the candidate at
 * run time (proxy delays and holds, lost cache writes, buffered responses, larger prompts, its fake
 * LLM's latency and error rate), never through flags inside the service. Both services go through
 * the same proxies, so an idle proxy costs both the same.
 *
 * Used by the relative gate's end-to-end test and by `npm run gate:calibrate`.
 */
import { DEFAULT_FAKE_LLM_CONFIG, type FakeLlm, type FakeLlmConfig, startFakeLlmServer } from '../fake-llm/server';
import { createTestCertificates } from './certs';
import { type HttpInjectProxy, startHttpInjectProxy } from './http-inject-proxy';
import { type PostgresHandle, startPostgres } from './postgres';
import { UNBOUNDED_QUOTAS } from './quotas';
import { type RedisHandle, startRedis } from './redis';
import { type RedisWriteLossProxy, startRedisWriteLossProxy } from './redis-write-loss-proxy';
import { randomSecret } from './secrets';
import { type ServiceProcess, startServiceProcess } from './service';
import { serviceEnvFor } from './stack';
import { startTcpProxy, type TcpProxy } from './tcp-proxy';

export interface PairTargetHandle {
  readonly url: string;
  readonly version: string;
  readonly service: ServiceProcess;
  /** This target's own fake LLM: its latency and error rate are this target's "provider". */
  readonly llm: FakeLlm;
  /** Every Redis round trip of this target goes through it. */
  readonly redisProxy: TcpProxy;
  /** In front of `redisProxy`: loses a share of this target's cache writes when asked to. */
  readonly cacheWrites: RedisWriteLossProxy;
  /** Every Postgres round trip of this target goes through it. */
  readonly postgresProxy: TcpProxy;
  /** In front of the service: `url` is its address. Can hold each response until it is complete. */
  readonly front: HttpInjectProxy;
  /** Between the service and its fake LLM: can enlarge every prompt. */
  readonly llmProxy: HttpInjectProxy;
}

export interface PairStack {
  readonly baseline: PairTargetHandle;
  readonly candidate: PairTargetHandle;
  readonly postgres: PostgresHandle;
  readonly redis: RedisHandle;
  /** The fake LLM configuration both targets start from (and `resetCandidate` returns to). */
  readonly llmConfig: Partial<FakeLlmConfig>;
  /** Removes every injected regression from the candidate. */
  resetCandidate(): void;
  stop(): Promise<void>;
}

export interface PairStackOptions {
  readonly baselineVersion?: string;
  readonly candidateVersion?: string;
  /** Both fake LLMs start with this (e.g. a realistic latency and jitter). */
  readonly llm?: Partial<FakeLlmConfig>;
  readonly serviceEnv?: Record<string, string>;
  readonly bundle?: string;
}

export async function startPairStack(options: PairStackOptions = {}): Promise<PairStack> {
  const stoppers: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const s of stoppers.reverse()) await s().catch(() => undefined);
    stoppers.length = 0;
  };
  try {
    const certs = createTestCertificates();
    const [postgres, redis] = await Promise.all([startPostgres({ certs }), startRedis({ certs })]);
    stoppers.push(
      () => postgres.stop(),
      () => redis.stop(),
    );
    const appRole = await postgres.bootstrapApp();
    const llmApiKey = `fake-llm-key-${randomSecret(24)}`;
    const llmConfig = { ...(options.llm ?? {}) };

    const startTarget = async (version: string): Promise<PairTargetHandle> => {
      const llm = await startFakeLlmServer({ ...llmConfig, apiKey: llmApiKey });
      stoppers.push(() => llm.close());
      const redisProxy = await startTcpProxy({ upstreamPort: redis.port });
      const postgresProxy = await startTcpProxy({ upstreamPort: postgres.port });
      const cacheWrites = await startRedisWriteLossProxy({ certs, upstreamPort: redisProxy.port });
      const llmProxy = await startHttpInjectProxy({ upstreamPort: llm.port });
      stoppers.push(
        () => cacheWrites.close(),
        () => redisProxy.close(),
        () => postgresProxy.close(),
        () => llmProxy.close(),
      );
      const env = serviceEnvFor(
        { certs, postgres, appRole, redis, llm, llmApiKey },
        {
          APP_VERSION: version,
          PORT: '0',
          REDIS_PORT: String(cacheWrites.port),
          DB_PORT: String(postgresProxy.port),
          LLM_BASE_URL: `${llmProxy.url}/v1`,
          // Calibration sends hundreds of gate runs from one address and one principal: measure the
          // service, not its limiter or its quotas (both still run on every request).
          RATE_LIMIT_PER_MINUTE: '100000',
          ...UNBOUNDED_QUOTAS,
          // The comparison is about versions, not callers: no issuer in this stack.
          AUTH_MODE: 'off',
          ...options.serviceEnv,
        },
      );
      const service = await startServiceProcess({
        env,
        waitFor: 'ready',
        ...(options.bundle ? { bundle: options.bundle } : {}),
      });
      stoppers.push(async () => {
        await service.stop();
      });
      const front = await startHttpInjectProxy({ upstreamPort: Number(new URL(service.url).port) });
      stoppers.push(() => front.close());
      return { url: front.url, version, service, llm, redisProxy, cacheWrites, postgresProxy, front, llmProxy };
    };
    const baseline = await startTarget(options.baselineVersion ?? 'baseline-1.0.0');
    const candidate = await startTarget(options.candidateVersion ?? 'candidate-1.0.1');
    return {
      baseline,
      candidate,
      postgres,
      redis,
      llmConfig,
      resetCandidate() {
        candidate.redisProxy.setDelay(0);
        candidate.postgresProxy.setDelay(0);
        candidate.redisProxy.setHold({ share: 0, ms: 0 });
        candidate.postgresProxy.setHold({ share: 0, ms: 0 });
        candidate.front.setBuffering(false);
        candidate.front.setFailShare(0);
        candidate.llmProxy.setPromptPadding(0);
        candidate.cacheWrites.setLossRate(0);
        candidate.cacheWrites.setReadLossRate(0);
        candidate.llm.configure({ ...DEFAULT_FAKE_LLM_CONFIG, ...llmConfig });
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

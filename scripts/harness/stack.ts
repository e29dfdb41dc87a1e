/**
 * The whole local system: Postgres (SSL, scram) with the app role from the bootstrap code, Redis
 * with TLS + AUTH, the fake LLM, the local token issuer (JWKS over HTTPS), optionally a fake Secrets
 * Manager, and the service built from source and started from env vars only. Used by `npm run local`,
 * the integration tests, the bench, and the k6 end-to-end and fault tests.
 */
import { SECRET_ENV_NAMES, type ServiceEnvName } from '../../lib/contract';
import { type FakeLlm, type FakeLlmConfig, startFakeLlmServer } from '../fake-llm/server';
import { createTestCertificates, type TestCertificates } from './certs';
import { type FakeSecretsManager, startFakeSecretsManager } from './fake-secrets-manager';
import { type LocalIssuer, startLocalIssuer } from './issuer';
import { type AppRole, type PostgresHandle, startPostgres } from './postgres';
import { type RedisHandle, startRedis } from './redis';
import { mask, randomSecret } from './secrets';
import { type ServiceProcess, startServiceProcess } from './service';

export type ServiceEnv = Partial<Record<ServiceEnvName, string>> & Record<string, string>;

export interface ServiceEnvParts {
  readonly certs: TestCertificates;
  readonly postgres: PostgresHandle;
  readonly appRole: AppRole;
  readonly redis: RedisHandle;
  readonly llm: FakeLlm;
  readonly llmApiKey: string;
  readonly secretsManager?: FakeSecretsManager;
  readonly secretArns?: { readonly db?: string; readonly cache?: string };
  /** The token issuer the service trusts (AUTH_ISSUER, AUTH_AUDIENCE). Without one, pass AUTH_MODE=off explicitly. */
  readonly issuer?: LocalIssuer;
}

/**
 * The service env for these parts: verify-full TLS to Postgres and TLS + AUTH to Redis, trusting
 * the harness CA through NODE_EXTRA_CA_CERTS, exactly as in AWS with the RDS bundle.
 */
export function serviceEnvFor(parts: ServiceEnvParts, overrides: Record<string, string> = {}): ServiceEnv {
  const { certs, postgres, appRole, redis, llm } = parts;
  return {
    HOST: '127.0.0.1',
    APP_VERSION: 'local',
    SERVICE_NAME: 'chat-local',
    DB_HOST: postgres.host,
    DB_PORT: String(postgres.port),
    DB_NAME: postgres.database,
    DB_SSL: postgres.ssl ? 'verify-full' : 'disable',
    DB_USERNAME: appRole.username,
    DB_PASSWORD: appRole.password,
    REDIS_HOST: redis.host,
    REDIS_PORT: String(redis.port),
    REDIS_TLS: redis.tls ? 'true' : 'false',
    REDIS_AUTH_TOKEN: redis.password ?? '',
    LLM_BASE_URL: llm.baseUrl,
    LLM_MODEL: llm.model,
    LLM_API_KEY: parts.llmApiKey,
    LLM_TIMEOUT_MS: '5000',
    LOG_LEVEL: 'info',
    NODE_EXTRA_CA_CERTS: certs.caCertPath,
    ...(parts.secretArns?.db ? { DB_SECRET_ARN: parts.secretArns.db } : {}),
    ...(parts.secretArns?.cache ? { REDIS_AUTH_SECRET_ARN: parts.secretArns.cache } : {}),
    ...(parts.secretsManager && (parts.secretArns?.db || parts.secretArns?.cache) ? parts.secretsManager.sdkEnv : {}),
    ...(parts.issuer ? parts.issuer.serviceEnv : {}),
    ...overrides,
  };
}

const MASKED: ReadonlySet<string> = new Set([...SECRET_ENV_NAMES, 'AWS_SECRET_ACCESS_KEY']);

/** The env with every secret replaced by its length. */
export function maskEnv(env: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, MASKED.has(k) ? mask(v) : v]));
}

export interface LocalStackOptions {
  readonly appVersion?: string;
  readonly llm?: Partial<FakeLlmConfig>;
  /** Also serve the DB and cache credentials from a fake Secrets Manager (sets the *_SECRET_ARN vars). */
  readonly secretsManager?: boolean;
  /** Extra or overriding service env. */
  readonly serviceEnv?: Record<string, string>;
  /** Service port; 0 (a free one) by default. */
  readonly port?: number;
  /** Start the service too. @default true */
  readonly startService?: boolean;
  /** Durable Postgres commits (fsync on), e.g. for the bench. @default false */
  readonly durablePostgres?: boolean;
  /** Bundle to run (see `ensureServiceBuilt`). */
  readonly bundle?: string;
  /** Receives everything the service prints, unbounded (see `StartServiceProcessOptions.onOutput`). */
  readonly onServiceOutput?: (chunk: string) => void;
  /**
   * `issuer` (the default): start the local token issuer and require its tokens. `off`: no issuer,
   * and the service runs with AUTH_MODE=off (only for runs that are not about who calls).
   */
  readonly auth?: 'issuer' | 'off';
}

export interface LocalStack extends ServiceEnvParts {
  /** The service's URL (when started). */
  readonly url: string | undefined;
  readonly env: ServiceEnv;
  readonly service: ServiceProcess | undefined;
  /** `Authorization` header value of a valid user token (a fresh `sub` unless given); `{}` with auth off. */
  authHeaders(sub?: string): Record<string, string>;
  maskedEnv(): Record<string, string>;
  stop(): Promise<void>;
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const stoppers: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const s of stoppers.reverse()) await s().catch(() => undefined);
    stoppers.length = 0;
  };
  try {
    const certs = createTestCertificates();
    const [postgres, redis, llm] = await Promise.all([
      startPostgres({ certs, ...(options.durablePostgres ? { durable: true } : {}) }),
      startRedis({ certs }),
      startFakeLlmServer(options.llm ?? {}),
    ]);
    stoppers.push(
      () => postgres.stop(),
      () => redis.stop(),
      () => llm.close(),
    );
    let issuer: LocalIssuer | undefined;
    if ((options.auth ?? 'issuer') === 'issuer') {
      const started = await startLocalIssuer({ certs });
      issuer = started;
      stoppers.push(() => started.stop());
    }
    const appRole = await postgres.bootstrapApp();
    const llmApiKey = `fake-llm-key-${randomSecret(24)}`;
    llm.configure({ apiKey: llmApiKey });

    let secretsManager: FakeSecretsManager | undefined;
    let secretArns: { db: string; cache: string } | undefined;
    if (options.secretsManager) {
      secretsManager = await startFakeSecretsManager();
      const sm = secretsManager;
      stoppers.push(() => sm.stop());
      secretArns = {
        db: sm.putSecret('chat/db-app-user', { username: appRole.username, password: appRole.password }),
        cache: sm.putSecret('chat/cache-auth-token', { token: redis.password }),
      };
    }
    const parts: ServiceEnvParts = {
      certs,
      postgres,
      appRole,
      redis,
      llm,
      llmApiKey,
      ...(secretsManager ? { secretsManager } : {}),
      ...(secretArns ? { secretArns } : {}),
      ...(issuer ? { issuer } : {}),
    };
    const env = serviceEnvFor(parts, {
      APP_VERSION: options.appVersion ?? 'local',
      PORT: String(options.port ?? 0),
      // As in every stage: the gate's machine client is a named principal with its own quotas.
      ...(issuer ? { GATE_PRINCIPAL: issuer.gateClient.clientId } : { AUTH_MODE: 'off' }),
      ...options.serviceEnv,
    });

    let service: ServiceProcess | undefined;
    if (options.startService ?? true) {
      service = await startServiceProcess({
        env,
        waitFor: 'ready',
        ...(options.bundle ? { bundle: options.bundle } : {}),
        ...(options.onServiceOutput ? { onOutput: options.onServiceOutput } : {}),
      });
      const svc = service;
      stoppers.push(async () => {
        await svc.stop();
      });
    }
    const authHeaders = (sub?: string): Record<string, string> =>
      issuer ? { authorization: `Bearer ${issuer.mint(sub === undefined ? {} : { sub })}` } : {};
    return { ...parts, url: service?.url, env, service, authHeaders, maskedEnv: () => maskEnv(env), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * The reusable process harness: real Postgres, real Redis (TLS + AUTH), the fake LLM, a fake
 * Secrets Manager and the service itself, each on 127.0.0.1 and a random port, each with a
 * bounded start-up wait and a `stop()`, and all killed when this process exits.
 */

export {
  FAKE_LLM_MARKER,
  FAKE_LLM_MODEL,
  type FakeLlm,
  type FakeLlmConfig,
  startFakeLlmServer as startFakeLlm,
} from '../fake-llm/server';
export { createTestCertificates, type TestCertificates } from './certs';
export { type EmfTotals, emfDocuments, emfFromText, emfTotals } from './emf';
export { type FakeSecretsManager, startFakeSecretsManager } from './fake-secrets-manager';
export {
  createSigningKey,
  LOCAL_API_SCOPE,
  type LocalIssuer,
  type MintOptions,
  type SigningKey,
  signJwt,
  startLocalIssuer,
} from './issuer';
export { type AppRole, type PostgresHandle, startPostgres } from './postgres';
export { freePort, makeTempDir, waitFor } from './process';
export { UNBOUNDED_QUOTAS } from './quotas';
export { type RedisHandle, startRedis } from './redis';
export { mask, randomSecret } from './secrets';
export { ensureServiceBuilt, type LogLine, type ServiceProcess, startServiceProcess } from './service';
export { type LocalStack, type LocalStackOptions, maskEnv, serviceEnvFor, startLocalStack } from './stack';

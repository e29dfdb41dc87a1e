/**
 * The fault suites' stack: the harness' local stack (Postgres with SSL, Redis with TLS + AUTH, the
 * fake LLM, optionally the fake Secrets Manager, the service from its bundle), with every byte the
 * services print captured and every secret generated for the run registered, so each file can end
 * with "no secret appeared in any log".
 */
import {
  type LocalStack,
  type LocalStackOptions,
  type ServiceProcess,
  serviceEnvFor,
  startLocalStack,
  startServiceProcess,
  UNBOUNDED_QUOTAS,
} from '../../../scripts/harness';
import { findSecrets, OutputCapture, SecretBook } from './logs';

export interface FaultStack {
  readonly stack: LocalStack;
  readonly capture: OutputCapture;
  readonly secrets: SecretBook;
  /** Services started with `serviceWith`, stopped by `stop()`. */
  readonly extra: ServiceProcess[];
  /** Another service against the same dependencies with some env changed (or removed). */
  serviceWith(overrides: Record<string, string>, drop?: readonly string[]): Promise<ServiceProcess>;
  /**
   * Stops every service (so the last lines, e.g. the shutdown EMF flush, are captured) and returns
   * the leaks found in everything they printed.
   */
  stopServicesAndScan(): Promise<ReturnType<typeof findSecrets>>;
  stop(): Promise<void>;
}

/**
 * The fault suites are about dependencies, load and hostile input, not about who calls: they run the
 * service with AUTH_MODE=off, so every request (and every byte of the bad-input fuzzing) reaches the
 * code under test instead of stopping at the 401. Authentication has its own suite
 * (test/service/auth.integration.test.ts) against the local token issuer.
 */
const AUTH_OFF = { AUTH_MODE: 'off' } as const;

export async function startFaultStack(options: LocalStackOptions = {}): Promise<FaultStack> {
  const capture = new OutputCapture();
  const stack = await startLocalStack({
    auth: 'off',
    ...options,
    serviceEnv: { ...UNBOUNDED_QUOTAS, ...options.serviceEnv },
    onServiceOutput: capture.sink,
  });
  const secrets = new SecretBook();
  secrets.add('DB_PASSWORD', stack.appRole.password);
  secrets.add('REDIS_AUTH_TOKEN', stack.redis.password);
  secrets.add('LLM_API_KEY', stack.llmApiKey);
  const extra: ServiceProcess[] = [];

  const stopServices = async () => {
    await Promise.all([stack.service, ...extra].map((s) => s?.stop(15_000).catch(() => undefined)));
  };
  return {
    stack,
    capture,
    secrets,
    extra,
    serviceWith: async (overrides, drop = []) => {
      const env: Record<string, string> = {
        ...serviceEnvFor(stack, { ...AUTH_OFF, ...UNBOUNDED_QUOTAS, ...overrides }),
      };
      for (const name of drop) delete env[name];
      const svc = await startServiceProcess({ env, onOutput: capture.sink });
      extra.push(svc);
      return svc;
    },
    stopServicesAndScan: async () => {
      await stopServices();
      return findSecrets(capture.text(), secrets.entries);
    },
    stop: async () => {
      await stopServices();
      await stack.stop();
    },
  };
}

/** Stack traces, source positions and file-system paths: none may reach a client. */
export const INTERNALS = /\bat [\w.<>$[\] ]+ \(|node_modules|\.[cm]?[jt]s:\d+|\/(work|home|tmp|usr|opt|root|app)\//;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `process.kill(pid, 0)`: the process exists (and is not a zombie we already reaped). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

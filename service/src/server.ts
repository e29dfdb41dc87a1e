/**
 * The process entry: `node dist/server.js`.
 *
 * Reads the contract's environment variables (and nothing else), refuses to start with one log
 * line naming every bad variable, starts the chat API (`compose.ts`, the composition root), and
 * drains on SIGTERM/SIGINT before exiting 0. `startChatApi` and `parseServiceConfig` are exported so
 * the bench can run this exact bundle in-process with its floor route next to it; the floor counts
 * on the request quota's own store, and the bench times the token verification of this bundle.
 */
import { type RunningChatApi, startChatApi } from './compose';
import { describeProblems, parseServiceConfig } from './config';

export { bearerAuthenticator } from './auth';
export { createTokenVerifier } from './auth/token-verifier';
export { cacheVerifiedTokens } from './auth/verified-token-cache';
export { startChatApi } from './compose';
export { parseServiceConfig } from './config';
export { requestQuotaStoreFor } from './quota/request-quota';
export { StorageQuota } from './quota/storage-quota';
export { TokenQuota } from './quota/token-quota';

/** EX_CONFIG from sysexits.h: the configuration is wrong, restarting won't help. */
export const EXIT_CONFIG = 78;

function fatalLine(msg: string, fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg, ...fields })}\n`);
}

export async function main(): Promise<void> {
  const parsed = parseServiceConfig(process.env);
  if (!parsed.ok) {
    fatalLine(describeProblems(parsed.problems), {
      event: 'config_invalid',
      invalid: parsed.problems.map((p) => p.name),
    });
    process.exitCode = EXIT_CONFIG;
    return;
  }

  let running: RunningChatApi | undefined;
  const stop = (signal: string) => {
    if (!running) process.exit(0);
    running.internals.logger.info('signal received', { event: 'signal', signal });
    running.shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        running?.internals.logger.error('shutdown failed', { error: err });
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  process.on('unhandledRejection', (err) => {
    running?.internals.logger.error('unhandled promise rejection', { error: err });
  });

  try {
    running = await startChatApi({ config: parsed.config });
  } catch (err) {
    fatalLine('service failed to start', {
      event: 'start_failed',
      error: err instanceof Error ? err.message : 'unknown',
    });
    process.exit(1);
  }
}

if (require.main === module) {
  void main();
}

/**
 * Re-reads rotated secrets on a timer, so a task moves to the new credentials long before the old
 * ones are retired.
 *
 * With Secrets Manager's alternating-users rotation, rotation N moves the secret to the other user
 * and leaves the previous user's password valid until rotation N+1 changes it. A client that only
 * re-reads after a rejected login (the DependencyMonitor does that too) would see rejected logins
 * at every second rotation, and the database's own "password authentication failed" alarm would
 * page for a routine rotation. Re-reading every few minutes means the rejected login never happens:
 * new connections use the new user, existing ones keep working.
 */
import type { Logger } from '../observability/logger';

export interface WatchedSecret {
  /** `database` or `cache`, for the log line. */
  readonly name: string;
  /** Re-reads and installs the credentials; resolves true when they changed. */
  readonly refresh: () => Promise<boolean>;
  /** Called after a change was installed (the dependency's monitor re-proves a failed state). */
  readonly onChanged?: () => void;
}

export interface SecretWatchOptions {
  readonly logger: Logger;
  /** @default 300000 (5 minutes): a few GetSecretValue calls an hour per task */
  readonly intervalMs?: number;
  /** Spread of each wait, so a fleet of tasks doesn't read in step. @default 0.2 (±20%) */
  readonly jitter?: number;
  readonly random?: () => number;
  /**
   * How long one round may take. The read has its own timeout, but a round that never settled would
   * stop this secret's poll for good, and the old credentials would then be retired under a task
   * still using them: the round is abandoned (a warning) and the next one is scheduled.
   * @default 15000
   */
  readonly roundTimeoutMs?: number;
}

export const DEFAULT_SECRET_WATCH_INTERVAL_MS = 5 * 60_000;
const DEFAULT_ROUND_TIMEOUT_MS = 15_000;

export class SecretWatch {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopped = true;
  private readonly intervalMs: number;
  private readonly jitter: number;
  private readonly random: () => number;

  constructor(
    private readonly secrets: readonly WatchedSecret[],
    private readonly options: SecretWatchOptions,
  ) {
    this.intervalMs = options.intervalMs ?? DEFAULT_SECRET_WATCH_INTERVAL_MS;
    this.jitter = options.jitter ?? 0.2;
    this.random = options.random ?? Math.random;
  }

  start(): void {
    this.stopped = false;
    for (const secret of this.secrets) this.schedule(secret);
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  /** One round for every secret now (tests; also what each timer does). */
  async checkNow(): Promise<void> {
    await Promise.all(this.secrets.map((s) => this.check(s)));
  }

  private schedule(secret: WatchedSecret): void {
    if (this.stopped) return;
    const spread = 1 + this.jitter * (2 * this.random() - 1);
    const timer = setTimeout(
      () => {
        void this.check(secret).finally(() => this.schedule(secret));
      },
      Math.max(1, Math.round(this.intervalMs * spread)),
    );
    timer.unref();
    this.timers.set(secret.name, timer);
  }

  private async check(secret: WatchedSecret): Promise<void> {
    const timeoutMs = this.options.roundTimeoutMs ?? DEFAULT_ROUND_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const abandoned = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the re-read did not finish within ${timeoutMs} ms`)), timeoutMs);
      timer.unref();
    });
    try {
      if (await Promise.race([secret.refresh(), abandoned])) {
        this.options.logger.info(`${secret.name} credentials rotated in Secrets Manager; new connections use them`, {
          event: 'credentials_rotated',
          dependency: secret.name,
        });
        secret.onChanged?.();
      }
    } catch (err) {
      // Not an outage: the current credentials keep working; the next round tries again.
      this.options.logger.warn(`could not re-read ${secret.name} credentials from Secrets Manager`, {
        event: 'secret_watch_failed',
        dependency: secret.name,
        error: err instanceof Error ? err.message : String(err),
      });
    } finally {
      clearTimeout(timer);
    }
  }
}

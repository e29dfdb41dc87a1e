/**
 * Keeps one dependency's check status honest: `pending` until proven once, then `ok`, `down`,
 * `auth_failed` or `misconfigured`.
 *
 * - An outage (`down`) is probed again every second or so, forever: outages end by themselves.
 * - A configuration error (`auth_failed`, `misconfigured`) is logged once, loudly, naming the
 *   dependency and what to check (never a value). It is retried on a bounded backoff schedule,
 *   re-reading credentials from Secrets Manager first when an ARN is configured, so a rotation
 *   heals without a restart; when the schedule is exhausted the monitor gives up (one more line)
 *   and the task stays not ready until it is replaced or `credentialsReplaced()` (the secret poll saw a
 *   changed secret) starts one more bounded round. It is never retried forever.
 * - Rotation: when credentials are rejected and a secret can be re-read, the re-read happens at
 *   once (not after the first backoff step), requests wait for it (`waitUsable`, bounded) instead
 *   of failing, and the loud line is only written if the re-read credentials are rejected too: a
 *   routine rotation is an info line, not an incident.
 */
import type { CheckStatus } from '../../../lib/contract';
import type { Logger } from '../observability/logger';

export type FailureKind = 'down' | 'auth_failed' | 'misconfigured' | 'other';
export type DependencyName = 'database' | 'cache' | 'llm';

export interface ProbeTarget {
  readonly name: DependencyName;
  /** Proves the dependency once with the current credentials (and finishes set-up, e.g. migrations). */
  probe(): Promise<void>;
  classify(err: unknown): FailureKind;
  /**
   * Re-reads credentials from their secret and installs them. Returns true when they changed.
   * Absent when no secret ARN is configured.
   */
  refreshCredentials?: () => Promise<boolean>;
  /** What an operator should check on an auth failure, e.g. "DB_USERNAME/DB_PASSWORD". */
  readonly authHint: string;
  /**
   * Probe only until the first success (a start-up proof); afterwards something else (e.g. the LLM
   * circuit breaker) judges the dependency. @default false: probed for the life of the process
   */
  readonly untilProven?: boolean;
}

export interface MonitorOptions {
  readonly logger: Logger;
  /** @default 5000 */
  readonly okIntervalMs?: number;
  /** @default 1000 */
  readonly downIntervalMs?: number;
  /** Waits between retries of a configuration error; its length bounds the retries. ~4 min by default. */
  readonly configRetryDelaysMs?: readonly number[];
  /** Every failed probe or reported failure (for metrics). */
  readonly onFailure?: (kind: FailureKind, err: unknown) => void;
  /**
   * Credentials were rejected and re-reading them did not help (or there was nothing to re-read):
   * once per episode, together with the loud log line. What the auth-failure alarm counts.
   */
  readonly onAuthFailure?: () => void;
  /** Credentials were rejected, re-read from Secrets Manager, and the new ones work (a rotation). */
  readonly onCredentialsRefreshed?: () => void;
  readonly onStatus?: (status: CheckStatus) => void;
}

export const DEFAULT_CONFIG_RETRY_DELAYS_MS: readonly number[] = [
  1_000, 2_000, 4_000, 8_000, 15_000, 30_000, 30_000, 30_000, 60_000, 60_000,
];

function describe(err: unknown): Record<string, unknown> {
  const e = err as { message?: unknown; code?: unknown };
  return {
    error: typeof e?.message === 'string' ? e.message : String(err),
    ...(typeof e?.code === 'string' ? { code: e.code } : {}),
  };
}

export class DependencyMonitor {
  private current: CheckStatus = 'pending';
  private proven = false;
  private configAttempts = 0;
  private gaveUp = false;
  private stopped = true;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  /** A credential re-read was started in the current auth-failure episode. */
  private episodeRefreshed = false;
  /** The re-read (and the probe with its result) is running now. */
  private refreshing = false;
  /** The loud auth line is held back until the first re-read has been tried. */
  private authLineOwed: unknown;
  private readonly refreshWaiters = new Set<() => void>();
  private readonly okIntervalMs: number;
  private readonly downIntervalMs: number;
  private readonly configRetryDelaysMs: readonly number[];
  private readonly logger: Logger;

  constructor(
    private readonly target: ProbeTarget,
    private readonly options: MonitorOptions,
  ) {
    this.okIntervalMs = options.okIntervalMs ?? 5_000;
    this.downIntervalMs = options.downIntervalMs ?? 1_000;
    this.configRetryDelaysMs = options.configRetryDelaysMs ?? DEFAULT_CONFIG_RETRY_DELAYS_MS;
    this.logger = options.logger.child({ dependency: target.name });
  }

  get status(): CheckStatus {
    return this.current;
  }

  /** True once the dependency has been proven at least once since start. */
  get provenOnce(): boolean {
    return this.proven;
  }

  get usable(): boolean {
    return this.current === 'ok';
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.releaseWaiters();
  }

  /**
   * True when usable now, or once a credential re-read that is under way (or about to start) has
   * made it usable, waiting at most `maxWaitMs`. False at once in every other state: an outage
   * or a configuration error is answered fast, never waited out.
   */
  async waitUsable(maxWaitMs: number): Promise<boolean> {
    if (this.current === 'ok') return true;
    if (!this.awaitingRefresh()) return false;
    await new Promise<void>((resolve) => {
      const release = () => {
        clearTimeout(timer);
        this.refreshWaiters.delete(release);
        resolve();
      };
      const timer = setTimeout(release, maxWaitMs);
      this.refreshWaiters.add(release);
    });
    return this.usable;
  }

  /**
   * A request's operation failed with `err`: reports it, and when it was a rejected login that a
   * credential re-read heals within `maxWaitMs`, resolves true. A rejected login never ran the
   * operation, so the caller may retry it once.
   */
  async recoverFrom(err: unknown, maxWaitMs: number): Promise<boolean> {
    this.reportFailure(err);
    if (this.target.classify(err) !== 'auth_failed') return false;
    return this.waitUsable(maxWaitMs);
  }

  /**
   * New credentials were installed from outside the probe loop (the secret poll saw a new value).
   * In an auth-failure state, even after giving up, they are proven now: a corrected secret heals
   * the task without replacing it. In any other state new connections simply use them.
   */
  credentialsReplaced(): void {
    if (this.stopped || this.current !== 'auth_failed') return;
    this.gaveUp = false;
    this.configAttempts = 0;
    if (!this.running) this.schedule(0);
  }

  /** Something looked wrong without a verdict (e.g. an idle pooled connection was closed): probe now. */
  probeSoon(): void {
    if (this.stopped || this.gaveUp || this.running) return;
    if (this.current === 'ok') this.schedule(0);
  }

  private awaitingRefresh(): boolean {
    if (this.current !== 'auth_failed' || !this.target.refreshCredentials || this.gaveUp || this.stopped) return false;
    return !this.episodeRefreshed || this.refreshing;
  }

  private releaseWaiters(): void {
    const waiters = [...this.refreshWaiters];
    this.refreshWaiters.clear();
    for (const w of waiters) w();
  }

  /** Runs one probe now and resolves when it is done (start-up, tests). */
  async probeNow(): Promise<CheckStatus> {
    await this.cycle();
    return this.current;
  }

  /**
   * The request path saw an error from this dependency. Connection and auth errors change the
   * status at once (and wake the probe); other errors only wake the probe.
   */
  reportFailure(err: unknown): void {
    const kind = this.target.classify(err);
    this.options.onFailure?.(kind, err);
    if (this.gaveUp || this.stopped) return;
    if (kind === 'other') {
      if (this.current === 'ok' && !this.running) this.schedule(0);
      return;
    }
    // Already known: the schedule for that state handles it (this is what keeps retries bounded).
    if (kind === this.current) return;
    // A later outage report must not hide a configuration error that is being worked on.
    if (kind === 'down' && (this.current === 'auth_failed' || this.current === 'misconfigured')) return;
    this.transition(kind, err);
    if (!this.running) this.schedule(kind === 'down' ? 0 : this.nextDelay());
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.loop();
    }, delayMs);
    this.timer.unref();
  }

  private async loop(): Promise<void> {
    await this.cycle();
    if (this.stopped || this.gaveUp) return;
    if (this.target.untilProven && this.proven) return;
    const delay = this.nextDelay();
    if (!this.gaveUp) this.schedule(delay);
  }

  private nextDelay(): number {
    if (this.current === 'ok') return this.okIntervalMs;
    // Rejected credentials with a secret to re-read: re-read now, outside the backoff schedule.
    if (this.current === 'auth_failed' && this.target.refreshCredentials && !this.episodeRefreshed) return 0;
    if (this.current === 'auth_failed' || this.current === 'misconfigured') {
      const delay = this.configRetryDelaysMs[this.configAttempts];
      this.configAttempts += 1;
      if (delay === undefined) {
        this.gaveUp = true;
        this.logger.error(
          `giving up on ${this.target.name}: still ${this.current} after ${this.configRetryDelaysMs.length} retries; ` +
            'the task stays not ready until it is replaced',
          { event: 'dependency_gave_up', status: this.current },
        );
        return 0;
      }
      return delay;
    }
    return this.downIntervalMs;
  }

  private async cycle(): Promise<void> {
    if (this.running) return;
    this.running = true;
    let refreshed = false;
    try {
      if (this.current === 'auth_failed' && this.target.refreshCredentials) {
        refreshed = true;
        this.episodeRefreshed = true;
        this.refreshing = true;
        try {
          if (await this.target.refreshCredentials()) {
            this.logger.info(`re-read ${this.target.name} credentials from Secrets Manager; trying them`, {
              event: 'credentials_refreshed',
            });
          }
        } catch (err) {
          this.logger.warn(`could not re-read ${this.target.name} credentials from Secrets Manager`, describe(err));
        }
      }
      try {
        await this.target.probe();
        this.transition('ok');
      } catch (err) {
        const kind = this.target.classify(err);
        this.options.onFailure?.(kind, err);
        this.transition(kind === 'other' ? 'down' : kind, err);
      }
    } finally {
      this.running = false;
      if (refreshed) {
        this.refreshing = false;
        if (this.current === 'ok') this.options.onCredentialsRefreshed?.();
        // The re-read did not help: now it is a configuration problem someone must look at.
        if (this.current === 'auth_failed' && this.authLineOwed !== undefined) this.logAuthFailure(this.authLineOwed);
        this.authLineOwed = undefined;
        this.releaseWaiters();
      }
    }
  }

  private logAuthFailure(err: unknown, fields: Record<string, unknown> = {}): void {
    this.options.onAuthFailure?.();
    // The one loud line for this episode. It names the dependency and what to check, never a value.
    this.logger.error(
      `${this.target.name} authentication failed: the credentials were rejected; check ${this.target.authHint}. ` +
        'Readiness is not_ready until credentials work.',
      { event: 'dependency_auth_failed', ...fields, ...describe(err) },
    );
  }

  private transition(next: Exclude<FailureKind, 'other'> | 'ok', err?: unknown): void {
    const previous = this.current;
    if (next === previous) {
      if (next !== 'ok') this.logger.debug(`${this.target.name} still ${next}`, describe(err));
      return;
    }
    this.current = next;
    this.options.onStatus?.(next);
    if (next === 'ok') {
      this.configAttempts = 0;
      this.episodeRefreshed = false;
      this.authLineOwed = undefined;
      this.releaseWaiters();
      const first = !this.proven;
      this.proven = true;
      this.logger.info(first ? `${this.target.name} ready` : `${this.target.name} recovered`, {
        event: first ? 'dependency_ready' : 'dependency_recovered',
        previous,
      });
      return;
    }
    if (next === 'down') {
      this.logger.warn(`${this.target.name} unavailable`, { event: 'dependency_down', previous, ...describe(err) });
      return;
    }
    if (next === 'auth_failed') {
      if (this.target.refreshCredentials && !this.episodeRefreshed) {
        // Most likely a rotation: re-read the secret first, and only then decide how loud to be.
        this.authLineOwed = err ?? new Error('credentials rejected');
        this.logger.info(`${this.target.name} credentials rejected; re-reading them from Secrets Manager`, {
          event: 'credentials_rejected',
          previous,
          ...describe(err),
        });
        return;
      }
      this.logAuthFailure(err, { previous });
      return;
    }
    this.logger.error(`${this.target.name} is misconfigured; readiness is not_ready until it is fixed`, {
      event: 'dependency_misconfigured',
      previous,
      ...describe(err),
    });
  }
}

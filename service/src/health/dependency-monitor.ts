/**
 * Keeps one dependency's check status honest: `pending` until proven once, then `ok`, `down`,
 * `auth_failed` or `misconfigured`. Every decision is the pure `next()` in `monitor-transitions.ts`
 * (read it for the rules); this class only runs the timer, the probe and the credential re-read,
 * and carries out the effects `next()` returns.
 */
import type { CheckStatus } from '../../../lib/contract';
import type { Logger } from '../observability/logger';
import {
  awaitsVerdict,
  type DependencyName,
  type FailureKind,
  INITIAL_STATE,
  isUsable,
  type MonitorEffect,
  type MonitorEvent,
  type MonitorPolicy,
  type MonitorState,
  next,
} from './monitor-transitions';

export type { DependencyName, FailureKind } from './monitor-transitions';

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
  /**
   * The failed operation never ran (or the server rolled it back), so running it again is safe,
   * e.g. a rejected login. @default only `auth_failed` errors
   */
  notRun?: (err: unknown) => boolean;
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

export class DependencyMonitor {
  private state: MonitorState = INITIAL_STATE;
  private timer: NodeJS.Timeout | undefined;
  /** Requests waiting for a verdict (`waitUsable`). */
  private readonly waiters = new Set<() => void>();
  /** Callers of `probeNow` waiting for the end of the running cycle. */
  private cycleWaiters: Array<() => void> = [];
  private readonly policy: MonitorPolicy;
  private readonly logger: Logger;

  constructor(
    private readonly target: ProbeTarget,
    private readonly options: MonitorOptions,
  ) {
    this.policy = {
      name: target.name,
      authHint: target.authHint,
      canRefresh: target.refreshCredentials !== undefined,
      untilProven: target.untilProven ?? false,
      okIntervalMs: options.okIntervalMs ?? 5_000,
      downIntervalMs: options.downIntervalMs ?? 1_000,
      configRetryDelaysMs: options.configRetryDelaysMs ?? DEFAULT_CONFIG_RETRY_DELAYS_MS,
    };
    this.logger = options.logger.child({ dependency: target.name });
  }

  get status(): CheckStatus {
    return this.state.status;
  }

  /** True once the dependency has been proven at least once since start. */
  get provenOnce(): boolean {
    return this.state.proven;
  }

  get usable(): boolean {
    return isUsable(this.state);
  }

  start(): void {
    this.dispatch({ type: 'start' });
  }

  stop(): void {
    this.dispatch({ type: 'stop' });
    // Nothing will decide for them any more.
    this.release();
  }

  /**
   * True when usable now, or once a verdict under way (the probe after a lost connection, the
   * re-read of rejected credentials) has made it usable, waiting at most `maxWaitMs`. False at once
   * in every other state: a known outage or a configuration error is answered fast, never waited out.
   */
  async waitUsable(maxWaitMs: number): Promise<boolean> {
    if (this.usable) return true;
    if (!awaitsVerdict(this.state, this.policy)) return false;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, maxWaitMs);
      this.waiters.add(done);
    });
    return this.usable;
  }

  /**
   * A request's operation failed with `err`: reports it, and when the operation never ran (a
   * rejected login) and the verdict under way makes the dependency usable within `maxWaitMs`,
   * resolves true: the caller may run it once more.
   */
  async recoverFrom(err: unknown, maxWaitMs: number): Promise<boolean> {
    this.reportFailure(err);
    const notRun = this.target.notRun ?? ((e: unknown) => this.target.classify(e) === 'auth_failed');
    if (!notRun(err)) return false;
    return this.waitUsable(maxWaitMs);
  }

  /**
   * New credentials were installed from outside the probe loop (the secret poll saw a new value).
   * In an auth-failure state, even after giving up, they are proven now: a corrected secret heals
   * the task without replacing it. In any other state new connections simply use them.
   */
  credentialsReplaced(): void {
    this.dispatch({ type: 'credentialsReplaced' });
  }

  /** Something looked wrong without a verdict (e.g. an idle pooled connection was closed): probe now. */
  probeSoon(): void {
    this.dispatch({ type: 'idleConnectionLost' });
  }

  /** Runs one probe now (or waits for the one running) and resolves when it is done (start-up, tests). */
  async probeNow(): Promise<CheckStatus> {
    const done = new Promise<void>((resolve) => this.cycleWaiters.push(resolve));
    this.dispatch({ type: 'due' });
    await done;
    return this.status;
  }

  /**
   * The request path saw an error from this dependency. An auth or configuration error changes the
   * status at once; a lost connection or another error makes the probe decide, now.
   */
  reportFailure(err: unknown): void {
    this.dispatch({ type: 'reported', kind: this.target.classify(err), err });
  }

  private dispatch(event: MonitorEvent): void {
    const step = next(this.state, event, this.policy);
    this.state = step.state;
    for (const effect of step.effects) this.run(effect);
  }

  private run(effect: MonitorEffect): void {
    switch (effect.type) {
      case 'arm':
        this.disarm();
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.dispatch({ type: 'due' });
        }, effect.delayMs);
        this.timer.unref();
        return;
      case 'disarm':
        this.disarm();
        return;
      case 'reread': {
        const reread = this.target.refreshCredentials;
        if (!reread) {
          this.dispatch({ type: 'rereadFailed', err: new Error('no secret to re-read') });
          return;
        }
        reread().then(
          (changed) => this.dispatch({ type: 'reread', changed }),
          (err: unknown) => this.dispatch({ type: 'rereadFailed', err }),
        );
        return;
      }
      case 'probe':
        this.target.probe().then(
          () => this.cycleEnded({ type: 'probeOk' }),
          (err: unknown) => this.cycleEnded({ type: 'probeFailed', kind: this.target.classify(err), err }),
        );
        return;
      case 'status':
        this.options.onStatus?.(effect.status);
        return;
      case 'log':
        this.logger[effect.level](effect.msg, effect.fields);
        return;
      case 'failure':
        this.options.onFailure?.(effect.kind, effect.err);
        return;
      case 'authFailure':
        this.options.onAuthFailure?.();
        return;
      case 'credentialsRefreshed':
        this.options.onCredentialsRefreshed?.();
        return;
      case 'release':
        this.release();
        return;
    }
  }

  private cycleEnded(event: MonitorEvent): void {
    this.dispatch(event);
    const waiting = this.cycleWaiters;
    this.cycleWaiters = [];
    for (const resolve of waiting) resolve();
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private release(): void {
    const waiting = [...this.waiters];
    this.waiters.clear();
    for (const resolve of waiting) resolve();
  }
}

/**
 * What a dependency monitor does, as one pure function: `next(state, event, policy)` returns the
 * new state and the effects to run (arm the timer, run a probe, re-read a secret, log, count, wake
 * waiting requests). `DependencyMonitor` only runs timers and carries out the effects; every
 * decision is here, and `test/service/monitor-transitions.test.ts` states them as a table.
 *
 * - An outage (`down`) is probed again every second or so, forever: outages end by themselves.
 *   A request that loses its connection is not proof of an outage (one session may have been
 *   ended): requests wait for the probe's verdict instead of being refused on a guess.
 * - A configuration error (`auth_failed`, `misconfigured`) is logged once, loudly, naming the
 *   dependency and what to check (never a value), and retried on a bounded backoff schedule,
 *   re-reading the credentials from their secret first when one is configured. When the schedule
 *   is exhausted the monitor gives up (one more line). With a secret to re-read, the secret poll
 *   seeing a changed secret (`credentialsReplaced`) starts one more bounded round, so a corrected
 *   secret heals the task; without one (or when misconfigured) only a new task can.
 * - Rotation: when credentials are rejected and a secret can be re-read, the re-read happens at
 *   once (not after the first backoff step), requests wait for it instead of failing, and the loud
 *   line is only written if the re-read credentials are rejected too: a routine rotation is an info
 *   line, not an incident.
 */
import type { CheckStatus } from '../../../lib/contract';

export type FailureKind = 'down' | 'auth_failed' | 'misconfigured' | 'other';
export type DependencyName = 'database' | 'cache' | 'llm';

/** What does not change while a monitor runs. */
export interface MonitorPolicy {
  readonly name: DependencyName;
  /** What an operator should check on an auth failure, e.g. "DB_USERNAME/DB_PASSWORD". */
  readonly authHint: string;
  /** The credentials can be re-read from a secret (a secret ARN is configured). */
  readonly canRefresh: boolean;
  /** Probe only until the first success. */
  readonly untilProven: boolean;
  readonly okIntervalMs: number;
  readonly downIntervalMs: number;
  /** Waits between retries of a configuration error; its length bounds the retries. */
  readonly configRetryDelaysMs: readonly number[];
}

/**
 * - `none`: nothing scheduled (stopped, gave up, or proven once with `untilProven`);
 * - `armed`: the timer for the next probe is set;
 * - `probing`: a probe is running;
 * - `rereading`: the credentials are being re-read, then probed (one cycle).
 */
export type Cycle = 'none' | 'armed' | 'probing' | 'rereading';

export interface MonitorState {
  readonly status: CheckStatus;
  /** Proven at least once since start. */
  readonly proven: boolean;
  readonly stopped: boolean;
  readonly cycle: Cycle;
  /** A request lost its connection while `ok`: not usable until the next probe's verdict. */
  readonly verifying: boolean;
  /** The immediate re-read of this auth-failure episode has been started. */
  readonly episodeReread: boolean;
  /** Retries of a configuration error used so far (an index into `configRetryDelaysMs`). */
  readonly configAttempts: number;
  readonly gaveUp: boolean;
  /** The loud auth line, held back until the immediate re-read has been tried: the rejection it reports. */
  readonly authLineOwed: { readonly err: unknown } | undefined;
}

export type MonitorEvent =
  | { readonly type: 'start' }
  | { readonly type: 'stop' }
  /** The armed timer fired (or a probe was asked for now). */
  | { readonly type: 'due' }
  | { readonly type: 'reread'; readonly changed: boolean }
  | { readonly type: 'rereadFailed'; readonly err: unknown }
  | { readonly type: 'probeOk' }
  | { readonly type: 'probeFailed'; readonly kind: FailureKind; readonly err: unknown }
  /** A request's operation failed with an error of this kind. */
  | { readonly type: 'reported'; readonly kind: FailureKind; readonly err: unknown }
  /** An idle pooled connection was closed by the other side: worth a probe, not a verdict. */
  | { readonly type: 'idleConnectionLost' }
  /** The secret poll installed changed credentials. */
  | { readonly type: 'credentialsReplaced' };

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type MonitorEffect =
  | { readonly type: 'arm'; readonly delayMs: number }
  | { readonly type: 'disarm' }
  | { readonly type: 'reread' }
  | { readonly type: 'probe' }
  | { readonly type: 'status'; readonly status: CheckStatus }
  | { readonly type: 'log'; readonly level: LogLevel; readonly msg: string; readonly fields: Record<string, unknown> }
  /** Every failed probe or reported failure (metrics). */
  | { readonly type: 'failure'; readonly kind: FailureKind; readonly err: unknown }
  /** Rejected credentials that a re-read did not heal: once per episode, with the loud line. */
  | { readonly type: 'authFailure' }
  /** Rejected credentials healed by re-reading the secret (a rotation). */
  | { readonly type: 'credentialsRefreshed' }
  /** Requests waiting for a verdict may look again. */
  | { readonly type: 'release' };

export interface Step {
  readonly state: MonitorState;
  readonly effects: readonly MonitorEffect[];
}

export const INITIAL_STATE: MonitorState = {
  status: 'pending',
  proven: false,
  stopped: true,
  cycle: 'none',
  verifying: false,
  episodeReread: false,
  configAttempts: 0,
  gaveUp: false,
  authLineOwed: undefined,
};

/** Requests may use the dependency now. */
export function isUsable(state: MonitorState): boolean {
  return state.status === 'ok' && !state.verifying;
}

/**
 * A verdict that may make the dependency usable is on its way: a probe after a lost connection,
 * or the re-read of rejected credentials. Requests wait for it (bounded) instead of failing.
 */
export function awaitsVerdict(state: MonitorState, policy: MonitorPolicy): boolean {
  if (state.stopped || state.gaveUp) return false;
  if (state.verifying) return true;
  return state.status === 'auth_failed' && policy.canRefresh && (!state.episodeReread || state.cycle === 'rereading');
}

export function describeError(err: unknown): Record<string, unknown> {
  const e = err as { message?: unknown; code?: unknown };
  return {
    error: typeof e?.message === 'string' ? e.message : String(err),
    ...(typeof e?.code === 'string' ? { code: e.code } : {}),
  };
}

export function next(state: MonitorState, event: MonitorEvent, policy: MonitorPolicy): Step {
  const step = decide(state, event, policy);
  // Whatever the event, waiting requests are woken when the verdict they wait for has arrived.
  if (awaitsVerdict(state, policy) && !awaitsVerdict(step.state, policy)) {
    return { state: step.state, effects: [...step.effects, { type: 'release' }] };
  }
  return step;
}

const isRunning = (s: MonitorState): boolean => s.cycle === 'probing' || s.cycle === 'rereading';

function decide(s: MonitorState, event: MonitorEvent, p: MonitorPolicy): Step {
  switch (event.type) {
    case 'start':
      if (!s.stopped) return { state: s, effects: [] };
      return { state: { ...s, stopped: false, cycle: 'armed' }, effects: [{ type: 'arm', delayMs: 0 }] };

    case 'stop':
      // A running cycle finishes; its verdict still updates the status, but arms nothing.
      return {
        state: { ...s, stopped: true, cycle: isRunning(s) ? s.cycle : 'none' },
        effects: [{ type: 'disarm' }],
      };

    case 'due': {
      if (isRunning(s)) return { state: s, effects: [] };
      // Rejected credentials with a secret: every attempt re-reads it first.
      if (s.status === 'auth_failed' && p.canRefresh) {
        return {
          state: { ...s, cycle: 'rereading', episodeReread: true },
          effects: [{ type: 'disarm' }, { type: 'reread' }],
        };
      }
      return { state: { ...s, cycle: 'probing' }, effects: [{ type: 'disarm' }, { type: 'probe' }] };
    }

    case 'reread':
      return {
        state: s,
        effects: [
          ...(event.changed
            ? [log('info', `re-read ${p.name} credentials from Secrets Manager; trying them`, 'credentials_refreshed')]
            : []),
          { type: 'probe' },
        ],
      };

    case 'rereadFailed':
      return {
        state: s,
        effects: [
          log(
            'warn',
            `could not re-read ${p.name} credentials from Secrets Manager`,
            undefined,
            describeError(event.err),
          ),
          { type: 'probe' },
        ],
      };

    case 'probeOk':
      return finishCycle(s, settle(s, 'ok', undefined, p), p);

    case 'probeFailed': {
      const settled = settle(s, event.kind === 'other' ? 'down' : event.kind, event.err, p);
      const finished = finishCycle(s, settled, p);
      return {
        state: finished.state,
        effects: [{ type: 'failure', kind: event.kind, err: event.err }, ...finished.effects],
      };
    }

    case 'reported':
      return reported(s, event.kind, event.err, p);

    case 'idleConnectionLost':
      if (s.stopped || s.gaveUp || isRunning(s) || s.status !== 'ok') return { state: s, effects: [] };
      return { state: { ...s, cycle: 'armed' }, effects: [{ type: 'arm', delayMs: 0 }] };

    case 'credentialsReplaced': {
      if (s.stopped || s.status !== 'auth_failed') return { state: s, effects: [] };
      const reset = { ...s, gaveUp: false, configAttempts: 0 };
      if (isRunning(s)) return { state: reset, effects: [] };
      return { state: { ...reset, cycle: 'armed' }, effects: [{ type: 'arm', delayMs: 0 }] };
    }
  }
}

function reported(s: MonitorState, kind: FailureKind, err: unknown, p: MonitorPolicy): Step {
  const counted: MonitorEffect = { type: 'failure', kind, err };
  if (s.gaveUp || s.stopped) return { state: s, effects: [counted] };
  const wake = (state: MonitorState, delayMs: number): Step =>
    isRunning(state)
      ? { state, effects: [counted] }
      : { state: { ...state, cycle: 'armed' }, effects: [counted, { type: 'arm', delayMs }] };

  if (kind === 'other') {
    // No verdict from an unclassified error: only a probe can say whether something is wrong.
    return s.status === 'ok' ? wake(s, 0) : { state: s, effects: [counted] };
  }
  // A lost connection while everything worked: one session ended, or the server is gone. The probe
  // (at once) decides; requests wait for it rather than being refused on a guess.
  if (kind === 'down' && s.status === 'ok') return wake({ ...s, verifying: true }, 0);
  // Already known: the schedule for that state handles it (this is what keeps retries bounded).
  if (kind === s.status) return { state: s, effects: [counted] };
  // A later outage report must not hide a configuration error that is being worked on.
  if (kind === 'down' && (s.status === 'auth_failed' || s.status === 'misconfigured')) {
    return { state: s, effects: [counted] };
  }
  const settled = settle(s, kind, err, p);
  if (isRunning(settled.state)) return { state: settled.state, effects: [counted, ...settled.effects] };
  const delay = kind === 'down' ? { state: settled.state, effects: [], delayMs: 0 } : nextDelay(settled.state, p);
  const effects: MonitorEffect[] = [counted, ...settled.effects, ...delay.effects];
  if (delay.delayMs === undefined) return { state: { ...delay.state, cycle: 'none' }, effects };
  return { state: { ...delay.state, cycle: 'armed' }, effects: [...effects, { type: 'arm', delayMs: delay.delayMs }] };
}

/** A probe's verdict arrived: close the cycle, finish a re-read's business, schedule the next one. */
function finishCycle(before: MonitorState, settled: Step, p: MonitorPolicy): Step {
  const wasReread = before.cycle === 'rereading';
  let state: MonitorState = { ...settled.state, cycle: 'none', verifying: false };
  const effects: MonitorEffect[] = [...settled.effects];
  if (wasReread) {
    if (state.status === 'ok') effects.push({ type: 'credentialsRefreshed' });
    // The re-read did not help: now it is a configuration problem someone must look at.
    if (state.status === 'auth_failed' && state.authLineOwed) effects.push(...authLine(state.authLineOwed.err, p));
    state = { ...state, authLineOwed: undefined };
  }
  if (state.stopped || (p.untilProven && state.proven)) return { state, effects };
  const delay = nextDelay(state, p);
  if (delay.delayMs === undefined) return { state: delay.state, effects: [...effects, ...delay.effects] };
  return {
    state: { ...delay.state, cycle: 'armed' },
    effects: [...effects, ...delay.effects, { type: 'arm', delayMs: delay.delayMs }],
  };
}

/** How long until the next probe; `undefined` when the configuration-error retries are used up. */
function nextDelay(
  s: MonitorState,
  p: MonitorPolicy,
): { state: MonitorState; effects: MonitorEffect[]; delayMs: number | undefined } {
  if (s.status === 'ok') return { state: s, effects: [], delayMs: p.okIntervalMs };
  // Rejected credentials with a secret to re-read: re-read now, outside the backoff schedule.
  if (s.status === 'auth_failed' && p.canRefresh && !s.episodeReread) return { state: s, effects: [], delayMs: 0 };
  if (s.status === 'auth_failed' || s.status === 'misconfigured') {
    const delay = p.configRetryDelaysMs[s.configAttempts];
    if (delay !== undefined)
      return { state: { ...s, configAttempts: s.configAttempts + 1 }, effects: [], delayMs: delay };
    const until =
      s.status === 'auth_failed' && p.canRefresh
        ? 'the secret poll sees a changed secret (it is then proven at once) or the task is replaced'
        : 'the task is replaced';
    return {
      state: { ...s, gaveUp: true, cycle: 'none' },
      effects: [
        log(
          'error',
          `giving up on ${p.name}: still ${s.status} after ${p.configRetryDelaysMs.length} retries; ` +
            `the task stays not ready until ${until}`,
          'dependency_gave_up',
          { status: s.status },
        ),
      ],
      delayMs: undefined,
    };
  }
  return { state: s, effects: [], delayMs: p.downIntervalMs };
}

/** The status becomes `to`: the one line (and counter) each change deserves. */
function settle(s: MonitorState, to: Exclude<FailureKind, 'other'> | 'ok', err: unknown, p: MonitorPolicy): Step {
  const previous = s.status;
  if (to === previous) {
    return {
      state: s,
      effects: to === 'ok' ? [] : [log('debug', `${p.name} still ${to}`, undefined, describeError(err))],
    };
  }
  const changed: MonitorState = { ...s, status: to };
  const status: MonitorEffect = { type: 'status', status: to };
  switch (to) {
    case 'ok': {
      const first = !s.proven;
      return {
        state: { ...changed, proven: true, configAttempts: 0, episodeReread: false, authLineOwed: undefined },
        effects: [
          status,
          log(
            'info',
            first ? `${p.name} ready` : `${p.name} recovered`,
            first ? 'dependency_ready' : 'dependency_recovered',
            {
              previous,
            },
          ),
        ],
      };
    }
    case 'down':
      return {
        state: changed,
        effects: [status, log('warn', `${p.name} unavailable`, 'dependency_down', { previous, ...describeError(err) })],
      };
    case 'auth_failed': {
      if (p.canRefresh && !s.episodeReread) {
        // Most likely a rotation: re-read the secret first, and only then decide how loud to be.
        return {
          state: { ...changed, authLineOwed: { err: err ?? new Error('credentials rejected') } },
          effects: [
            status,
            log(
              'info',
              `${p.name} credentials rejected; re-reading them from Secrets Manager`,
              'credentials_rejected',
              {
                previous,
                ...describeError(err),
              },
            ),
          ],
        };
      }
      return { state: changed, effects: [status, ...authLine(err, p, { previous })] };
    }
    case 'misconfigured':
      return {
        state: changed,
        effects: [
          status,
          log(
            'error',
            `${p.name} is misconfigured; readiness is not_ready until it is fixed`,
            'dependency_misconfigured',
            {
              previous,
              ...describeError(err),
            },
          ),
        ],
      };
  }
}

/** The one loud line of an auth-failure episode, and its count. It names what to check, never a value. */
function authLine(err: unknown, p: MonitorPolicy, fields: Record<string, unknown> = {}): MonitorEffect[] {
  return [
    { type: 'authFailure' },
    log(
      'error',
      `${p.name} authentication failed: the credentials were rejected; check ${p.authHint}. ` +
        'Readiness is not_ready until credentials work.',
      'dependency_auth_failed',
      { ...fields, ...describeError(err) },
    ),
  ];
}

function log(
  level: LogLevel,
  msg: string,
  event: string | undefined,
  fields: Record<string, unknown> = {},
): MonitorEffect {
  return { type: 'log', level, msg, fields: event === undefined ? fields : { event, ...fields } };
}

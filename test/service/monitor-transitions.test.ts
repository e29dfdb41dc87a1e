/**
 * The dependency monitor's decisions, as a table: (state, event) → (state, effects). Each row gives
 * the state before (changes from a running, healthy monitor), the event, the fields of the state
 * that change (every other field must stay as it was) and the effects, in order. Effects are
 * written short: `log <level> <event>` for a log line, `<type> <argument>` otherwise.
 */
import { DependencyMonitor } from '../../service/src/health/dependency-monitor';
import {
  awaitsVerdict,
  isUsable,
  type MonitorEffect,
  type MonitorEvent,
  type MonitorPolicy,
  type MonitorState,
  next,
} from '../../service/src/health/monitor-transitions';
import { createLogger } from '../../service/src/observability/logger';
import { LineSink } from './support';

const WITH_SECRET: MonitorPolicy = {
  name: 'database',
  authHint: 'DB_USERNAME/DB_PASSWORD',
  canRefresh: true,
  untilProven: false,
  okIntervalMs: 5_000,
  downIntervalMs: 1_000,
  configRetryDelaysMs: [1_000, 2_000],
};
const NO_SECRET: MonitorPolicy = { ...WITH_SECRET, canRefresh: false };
const UNTIL_PROVEN: MonitorPolicy = { ...WITH_SECRET, name: 'llm', canRefresh: false, untilProven: true };

/** Running, proven, healthy, the next probe armed. */
const OK: MonitorState = {
  status: 'ok',
  proven: true,
  stopped: false,
  cycle: 'armed',
  verifying: false,
  episodeReread: false,
  configAttempts: 0,
  gaveUp: false,
  authLineOwed: undefined,
};

const rejected = Object.assign(new Error('password authentication failed for user "chat_app"'), { code: '28P01' });
const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
const terminated = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
const noSsl = new Error('The server does not support SSL connections');
const odd = new Error('something unclassified');
const owed = { err: rejected };

function short(effect: MonitorEffect): string {
  switch (effect.type) {
    case 'log':
      return `log ${effect.level} ${String(effect.fields.event ?? effect.msg)}`;
    case 'arm':
      return `arm ${effect.delayMs}`;
    case 'status':
      return `status ${effect.status}`;
    case 'failure':
      return `failure ${effect.kind}`;
    default:
      return effect.type;
  }
}

type Row = [
  what: string,
  before: Partial<MonitorState>,
  event: MonitorEvent,
  changes: Partial<MonitorState>,
  effects: string[],
  policy?: MonitorPolicy,
];

const rows: Row[] = [
  // Start and stop.
  [
    'start: probe at once',
    { status: 'pending', proven: false, stopped: true, cycle: 'none' },
    { type: 'start' },
    { stopped: false, cycle: 'armed' },
    ['arm 0'],
  ],
  ['start while running: nothing', {}, { type: 'start' }, {}, []],
  [
    'stop: disarm; the running re-read finishes',
    { status: 'auth_failed', cycle: 'rereading', episodeReread: true, authLineOwed: owed },
    { type: 'stop' },
    { stopped: true },
    ['disarm', 'release'],
  ],
  ['stop while armed', {}, { type: 'stop' }, { stopped: true, cycle: 'none' }, ['disarm']],

  // The timer fires.
  ['due while ok: probe', {}, { type: 'due' }, { cycle: 'probing' }, ['disarm', 'probe']],
  [
    'due with rejected credentials and a secret: re-read first',
    { status: 'auth_failed', authLineOwed: owed },
    { type: 'due' },
    { cycle: 'rereading', episodeReread: true },
    ['disarm', 'reread'],
  ],
  [
    'due with rejected credentials and no secret: probe',
    { status: 'auth_failed', configAttempts: 1 },
    { type: 'due' },
    { cycle: 'probing' },
    ['disarm', 'probe'],
    NO_SECRET,
  ],
  ['due while a probe runs: nothing', { cycle: 'probing' }, { type: 'due' }, {}, []],

  // The re-read's result: then the probe, in the same cycle.
  [
    're-read found new credentials',
    { status: 'auth_failed', cycle: 'rereading', episodeReread: true },
    { type: 'reread', changed: true },
    {},
    ['log info credentials_refreshed', 'probe'],
  ],
  [
    're-read found the same credentials',
    { status: 'auth_failed', cycle: 'rereading', episodeReread: true },
    { type: 'reread', changed: false },
    {},
    ['probe'],
  ],
  [
    're-read failed: probe anyway',
    { status: 'auth_failed', cycle: 'rereading', episodeReread: true },
    { type: 'rereadFailed', err: refused },
    {},
    ['log warn could not re-read database credentials from Secrets Manager', 'probe'],
  ],

  // The probe's verdict.
  [
    'first proof',
    { status: 'pending', proven: false, cycle: 'probing' },
    { type: 'probeOk' },
    { status: 'ok', proven: true, cycle: 'armed' },
    ['status ok', 'log info dependency_ready', 'arm 5000'],
  ],
  ['still ok', { cycle: 'probing' }, { type: 'probeOk' }, { cycle: 'armed' }, ['arm 5000']],
  [
    'outage over',
    { status: 'down', cycle: 'probing' },
    { type: 'probeOk' },
    { status: 'ok', cycle: 'armed' },
    ['status ok', 'log info dependency_recovered', 'arm 5000'],
  ],
  [
    'outage',
    { cycle: 'probing' },
    { type: 'probeFailed', kind: 'down', err: refused },
    { status: 'down', cycle: 'armed' },
    ['failure down', 'status down', 'log warn dependency_down', 'arm 1000'],
  ],
  [
    'an unclassified probe failure is an outage',
    { cycle: 'probing' },
    { type: 'probeFailed', kind: 'other', err: odd },
    { status: 'down', cycle: 'armed' },
    ['failure other', 'status down', 'log warn dependency_down', 'arm 1000'],
  ],
  [
    'still down',
    { status: 'down', cycle: 'probing' },
    { type: 'probeFailed', kind: 'down', err: refused },
    { cycle: 'armed' },
    ['failure down', 'log debug database still down', 'arm 1000'],
  ],
  [
    'rejected, with a secret: quiet, re-read at once',
    { cycle: 'probing' },
    { type: 'probeFailed', kind: 'auth_failed', err: rejected },
    { status: 'auth_failed', cycle: 'armed', authLineOwed: owed },
    ['failure auth_failed', 'status auth_failed', 'log info credentials_rejected', 'arm 0'],
  ],
  [
    'rejected, no secret: loud at once, backoff',
    { cycle: 'probing' },
    { type: 'probeFailed', kind: 'auth_failed', err: rejected },
    { status: 'auth_failed', cycle: 'armed', configAttempts: 1 },
    ['failure auth_failed', 'status auth_failed', 'authFailure', 'log error dependency_auth_failed', 'arm 1000'],
    NO_SECRET,
  ],
  [
    'misconfigured: loud, backoff',
    { status: 'pending', proven: false, cycle: 'probing' },
    { type: 'probeFailed', kind: 'misconfigured', err: noSsl },
    { status: 'misconfigured', cycle: 'armed', configAttempts: 1 },
    ['failure misconfigured', 'status misconfigured', 'log error dependency_misconfigured', 'arm 1000'],
  ],
  [
    'still misconfigured: the next backoff step',
    { status: 'misconfigured', cycle: 'probing', configAttempts: 1 },
    { type: 'probeFailed', kind: 'misconfigured', err: noSsl },
    { cycle: 'armed', configAttempts: 2 },
    ['failure misconfigured', 'log debug database still misconfigured', 'arm 2000'],
  ],
  [
    'the re-read healed it: a rotation, counted as a refresh',
    { status: 'auth_failed', cycle: 'rereading', episodeReread: true, authLineOwed: owed },
    { type: 'probeOk' },
    { status: 'ok', cycle: 'armed', episodeReread: false, authLineOwed: undefined },
    ['status ok', 'log info dependency_recovered', 'credentialsRefreshed', 'arm 5000', 'release'],
  ],
  [
    'the re-read did not heal it: now the loud line, once',
    { status: 'auth_failed', cycle: 'rereading', episodeReread: true, authLineOwed: owed },
    { type: 'probeFailed', kind: 'auth_failed', err: rejected },
    { cycle: 'armed', authLineOwed: undefined, configAttempts: 1 },
    [
      'failure auth_failed',
      'log debug database still auth_failed',
      'authFailure',
      'log error dependency_auth_failed',
      'arm 1000',
      'release',
    ],
  ],
  [
    'a later re-read did not heal it either: no second loud line',
    { status: 'auth_failed', cycle: 'rereading', episodeReread: true, configAttempts: 1 },
    { type: 'probeFailed', kind: 'auth_failed', err: rejected },
    { cycle: 'armed', configAttempts: 2 },
    ['failure auth_failed', 'log debug database still auth_failed', 'arm 2000', 'release'],
  ],
  [
    'retries used up, with a secret: give up until the poll sees a corrected secret',
    { status: 'auth_failed', cycle: 'rereading', episodeReread: true, configAttempts: 2 },
    { type: 'probeFailed', kind: 'auth_failed', err: rejected },
    { cycle: 'none', gaveUp: true },
    ['failure auth_failed', 'log debug database still auth_failed', 'log error dependency_gave_up', 'release'],
  ],
  [
    'retries used up, misconfigured: give up until replaced',
    { status: 'misconfigured', cycle: 'probing', configAttempts: 2 },
    { type: 'probeFailed', kind: 'misconfigured', err: noSsl },
    { cycle: 'none', gaveUp: true },
    ['failure misconfigured', 'log debug database still misconfigured', 'log error dependency_gave_up'],
  ],
  [
    'proven once, until-proven: no more probes',
    { status: 'pending', proven: false, cycle: 'probing' },
    { type: 'probeOk' },
    { status: 'ok', proven: true, cycle: 'none' },
    ['status ok', 'log info dependency_ready'],
    UNTIL_PROVEN,
  ],
  [
    'a verdict after stop arms nothing',
    { stopped: true, cycle: 'probing' },
    { type: 'probeFailed', kind: 'down', err: refused },
    { status: 'down', cycle: 'none' },
    ['failure down', 'status down', 'log warn dependency_down'],
  ],

  // Failures seen by requests.
  [
    'a request lost its connection: not an outage yet; requests wait for the probe, now',
    {},
    { type: 'reported', kind: 'down', err: terminated },
    { verifying: true },
    ['failure down', 'arm 0'],
  ],
  [
    '… while a probe runs: its verdict decides',
    { cycle: 'probing' },
    { type: 'reported', kind: 'down', err: terminated },
    { verifying: true },
    ['failure down'],
  ],
  [
    'the verdict: down; waiting requests are answered',
    { cycle: 'probing', verifying: true },
    { type: 'probeFailed', kind: 'down', err: refused },
    { status: 'down', cycle: 'armed', verifying: false },
    ['failure down', 'status down', 'log warn dependency_down', 'arm 1000', 'release'],
  ],
  [
    'the verdict: ok; waiting requests go on',
    { cycle: 'probing', verifying: true },
    { type: 'probeOk' },
    { cycle: 'armed', verifying: false },
    ['arm 5000', 'release'],
  ],
  [
    'the verdict: rejected (a rotation); requests keep waiting for the re-read',
    { cycle: 'probing', verifying: true },
    { type: 'probeFailed', kind: 'auth_failed', err: rejected },
    { status: 'auth_failed', cycle: 'armed', verifying: false, authLineOwed: owed },
    ['failure auth_failed', 'status auth_failed', 'log info credentials_rejected', 'arm 0'],
  ],
  [
    'a rejected login on a request: re-read at once',
    {},
    { type: 'reported', kind: 'auth_failed', err: rejected },
    { status: 'auth_failed', authLineOwed: owed },
    ['failure auth_failed', 'status auth_failed', 'log info credentials_rejected', 'arm 0'],
  ],
  [
    'a rejected login while a probe runs: its end schedules the re-read',
    { cycle: 'probing' },
    { type: 'reported', kind: 'auth_failed', err: rejected },
    { status: 'auth_failed', authLineOwed: owed },
    ['failure auth_failed', 'status auth_failed', 'log info credentials_rejected'],
  ],
  [
    'an outage report does not hide a configuration error',
    { status: 'auth_failed', configAttempts: 1 },
    { type: 'reported', kind: 'down', err: refused },
    {},
    ['failure down'],
  ],
  [
    'already known: the schedule handles it',
    { status: 'down' },
    { type: 'reported', kind: 'down', err: refused },
    {},
    ['failure down'],
  ],
  [
    'a known outage turns out to be rejected credentials',
    { status: 'down' },
    { type: 'reported', kind: 'auth_failed', err: rejected },
    { status: 'auth_failed', authLineOwed: owed },
    ['failure auth_failed', 'status auth_failed', 'log info credentials_rejected', 'arm 0'],
  ],
  [
    'an unclassified error while ok: probe now, no verdict',
    {},
    { type: 'reported', kind: 'other', err: odd },
    {},
    ['failure other', 'arm 0'],
  ],
  [
    'an unclassified error while down: counted only',
    { status: 'down' },
    { type: 'reported', kind: 'other', err: odd },
    {},
    ['failure other'],
  ],
  [
    'after giving up, reports are counted and start nothing',
    { status: 'auth_failed', cycle: 'none', gaveUp: true, configAttempts: 2, episodeReread: true },
    { type: 'reported', kind: 'auth_failed', err: rejected },
    {},
    ['failure auth_failed'],
  ],

  // Hints from outside.
  ['an idle connection was closed: probe now, requests go on', {}, { type: 'idleConnectionLost' }, {}, ['arm 0']],
  ['… while a probe runs: nothing', { cycle: 'probing' }, { type: 'idleConnectionLost' }, {}, []],
  ['… while down: the schedule handles it', { status: 'down' }, { type: 'idleConnectionLost' }, {}, []],
  [
    'a corrected secret after giving up: one more bounded round, now',
    { status: 'auth_failed', cycle: 'none', gaveUp: true, configAttempts: 2, episodeReread: true },
    { type: 'credentialsReplaced' },
    { gaveUp: false, configAttempts: 0, cycle: 'armed' },
    ['arm 0'],
  ],
  ['new credentials while ok: new connections use them', {}, { type: 'credentialsReplaced' }, {}, []],
];

describe('next(state, event): the dependency monitor as a table', () => {
  test.each(rows)('%s', (_what, before, event, changes, effects, policy = WITH_SECRET) => {
    const state = { ...OK, ...before };
    const step = next(state, event, policy);
    expect(step.state).toEqual({ ...state, ...changes });
    expect(step.effects.map(short)).toEqual(effects);
  });

  test('the give-up line says what heals the task, which depends on whether there is a secret to re-read', () => {
    const giveUp = (policy: MonitorPolicy, status: MonitorState['status']) => {
      const state = { ...OK, status, cycle: 'probing' as const, configAttempts: 2, episodeReread: true };
      const kind = status === 'auth_failed' ? 'auth_failed' : 'misconfigured';
      const line = next(state, { type: 'probeFailed', kind, err: rejected }, policy).effects.find(
        (e) => e.type === 'log' && e.fields.event === 'dependency_gave_up',
      );
      return line?.type === 'log' ? line.msg : undefined;
    };
    expect(giveUp(WITH_SECRET, 'auth_failed')).toBe(
      'giving up on database: still auth_failed after 2 retries; the task stays not ready until the secret poll ' +
        'sees a changed secret (it is then proven at once) or the task is replaced',
    );
    expect(giveUp(NO_SECRET, 'auth_failed')).toMatch(/stays not ready until the task is replaced$/);
    expect(giveUp(WITH_SECRET, 'misconfigured')).toMatch(/stays not ready until the task is replaced$/);
  });

  test.each<[string, boolean, boolean, Partial<MonitorState>]>([
    ['ok', true, false, {}],
    ['ok, a lost connection being verified', false, true, { verifying: true }],
    ['down', false, false, { status: 'down' }],
    ['rejected, re-read not started yet', false, true, { status: 'auth_failed' }],
    ['rejected, re-read running', false, true, { status: 'auth_failed', cycle: 'rereading', episodeReread: true }],
    ['rejected, re-read done and did not heal', false, false, { status: 'auth_failed', episodeReread: true }],
    ['rejected, gave up', false, false, { status: 'auth_failed', gaveUp: true }],
    ['stopped while verifying', false, false, { verifying: true, stopped: true }],
  ])('%s: usable %s, requests wait for a verdict %s', (_what, usable, waits, state) => {
    expect(isUsable({ ...OK, ...state })).toBe(usable);
    expect(awaitsVerdict({ ...OK, ...state }, WITH_SECRET)).toBe(waits);
  });
});

describe('DependencyMonitor runs the table', () => {
  const quiet = () => createLogger({ level: 'error', write: () => undefined });

  test('a request that lost its connection waits for the probe: a working database lets it through', async () => {
    let probes = 0;
    let releaseProbe: () => void = () => undefined;
    const monitor = new DependencyMonitor(
      {
        name: 'database',
        authHint: '-',
        probe: () => {
          probes += 1;
          // The first probe (start-up) passes at once; the next one when the test says so.
          return probes === 1 ? Promise.resolve() : new Promise<void>((resolve) => (releaseProbe = resolve));
        },
        classify: () => 'down',
      },
      { logger: quiet(), okIntervalMs: 60_000 },
    );
    await monitor.probeNow();
    monitor.start();
    await new Promise((r) => setTimeout(r, 20));
    expect(monitor.usable).toBe(true);

    monitor.reportFailure(terminated);
    expect(monitor.usable).toBe(false);
    expect(monitor.status).toBe('ok'); // readiness is not flipped on a guess
    const waiting = monitor.waitUsable(2_000);
    await new Promise((r) => setTimeout(r, 20));
    releaseProbe();
    await expect(waiting).resolves.toBe(true);
    monitor.stop();
  });

  test('… and a database that is really down answers the waiting request false, without using the whole wait', async () => {
    let up = true;
    const monitor = new DependencyMonitor(
      {
        name: 'database',
        authHint: '-',
        probe: async () => {
          if (!up) throw refused;
        },
        classify: () => 'down',
      },
      { logger: quiet(), okIntervalMs: 60_000, downIntervalMs: 60_000 },
    );
    monitor.start();
    await new Promise((r) => setTimeout(r, 20));
    up = false;
    const started = Date.now();
    monitor.reportFailure(terminated);
    await expect(monitor.waitUsable(2_000)).resolves.toBe(false);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(monitor.status).toBe('down');
    // Known down: answered at once from now on.
    await expect(monitor.waitUsable(2_000)).resolves.toBe(false);
    monitor.stop();
  });

  test('its lines are the table effects, with the dependency named', async () => {
    const sink = new LineSink();
    const monitor = new DependencyMonitor(
      { name: 'cache', authHint: 'REDIS_AUTH_TOKEN', probe: async () => undefined, classify: () => 'down' },
      { logger: createLogger({ level: 'info', write: sink.write }) },
    );
    await monitor.probeNow();
    expect(sink.parsed().map((l) => [l.level, l.event, l.dependency])).toEqual([['info', 'dependency_ready', 'cache']]);
  });
});

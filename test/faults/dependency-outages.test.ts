/**
 * Dependencies failing under load, against real processes: Redis killed (SIGKILL) and restarted,
 * Postgres restarted. One stack per file (Postgres, Redis, fake LLM); one service process per
 * scenario, stopped at its end so its last EMF flush (written on shutdown) can be read. Every load
 * loop is bounded by a request budget and a deadline.
 *
 * The assertions are the requirements (no 5xx, nothing dropped, every answer marked, recovery
 * without a restart), never how much work fitted into a window: where an assertion needs a sample
 * (so many answers during the outage, so many hits after it), the scenario keeps its load running
 * until it has that sample, bounded in time (`sample`), so a busy machine makes it slower, not red.
 */
import { ROUTES, SERVICE_METRICS } from '../../lib/contract';
import { emfDocuments, emfTotals, randomSecret, type ServiceProcess, waitFor } from '../../scripts/harness';
import { postJson } from '../service/support';
import { type LoadResult, type LoadRun, startLoad, summarize } from './support/load';
import { type FaultStack, sleep, startFaultStack } from './support/stack';

jest.setTimeout(150_000);

let faults: FaultStack;
/** This scenario's service: stopped after the test even when an assertion failed, so it never holds sessions into the next one. */
let current: ServiceProcess | undefined;
/** Background loops a scenario started (readiness watchers): stopped after the test even when it failed. */
const stopAfterTest: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  await Promise.all(stopAfterTest.splice(0).map((stop) => stop()));
  await current?.stop();
  current = undefined;
});

beforeAll(async () => {
  // With the fake Secrets Manager: every scenario's service has DB_SECRET_ARN and
  // REDIS_AUTH_SECRET_ARN, as in AWS.
  faults = await startFaultStack({ startService: false, secretsManager: true, llm: { latencyMs: 20 } });
}, 120_000);

afterAll(async () => {
  await faults?.stop();
});

/** A service for one scenario: limits raised (one client sends everything), LLM timeouts short. */
/** When the current scenario's service was started (ms since the epoch; Postgres shares the clock). */
let serviceStartedAt = 0;

const scenarioService = async (extra: Record<string, string> = {}) => {
  serviceStartedAt = Date.now() - 1;
  current = await faults.serviceWith({
    RATE_LIMIT_PER_MINUTE: '1000000',
    DRAIN_TIMEOUT_MS: '10000',
    LLM_TIMEOUT_MS: '3000',
    ...extra,
  });
  return current;
};

/** Keeps the scenario going until `done()` holds (the sample an assertion needs), at most `timeoutMs`. */
const sample = (what: string, done: () => boolean | Promise<boolean>, timeoutMs = 20_000) =>
  waitFor(done, { what, timeoutMs, intervalMs: 50 });

/** A load loop that runs until the scenario stops it: its bounds are far beyond any sample's. */
const LONG = { budget: 30_000, deadlineMs: 90_000 } as const;

async function ready(svc: ServiceProcess): Promise<void> {
  await svc.waitForReadiness('ready', 20_000);
}

/** Polls readiness every 100 ms until `until()` says stop; returns what it saw, with timestamps. */
/**
 * Polls readiness every 100 ms until stopped, or for at most `deadlineMs` (a scenario that failed
 * half-way never leaves it running: the test's cleanup stops it too).
 */
function watchReadiness(svc: ServiceProcess, clock: () => number, deadlineMs = 120_000) {
  const seen: Array<{ atMs: number; status: string; cache: string; database: string }> = [];
  let stop = false;
  const until = performance.now() + deadlineMs;
  const done = (async () => {
    while (!stop && performance.now() < until) {
      try {
        const r = await svc.readiness();
        seen.push({
          atMs: clock(),
          status: r.body.status,
          cache: r.body.checks.cache,
          database: r.body.checks.database,
        });
      } catch {
        seen.push({ atMs: clock(), status: 'unreachable', cache: '?', database: '?' });
      }
      await sleep(100);
    }
  })();
  const stopWatching = async () => {
    stop = true;
    await done;
  };
  stopAfterTest.push(stopWatching);
  return { seen, stop: stopWatching };
}

const HOT = [
  'What are your opening hours?',
  'How do I reset my password?',
  'Do you ship abroad?',
  'Where is my order?',
];

describe('cache outage under load: Redis killed, then restarted', () => {
  test('zero 5xx, answers BYPASS, readiness degraded, CacheUnavailable emitted; hits resume without a restart', async () => {
    const svc = await scenarioService();
    await ready(svc);
    const pid = svc.pid;
    for (const q of HOT) await postJson(`${svc.url}${ROUTES.chat}`, { message: q });

    // Half hot questions (hits while the cache is up), half unique ones (misses).
    const run = startLoad({
      baseUrl: svc.url,
      workers: 4,
      ...LONG,
      message: (i) => (i % 2 === 0 ? (HOT[(i / 2) % HOT.length] as string) : `cache outage unique ${i} ${Date.now()}`),
    });
    const readiness = watchReadiness(svc, run.elapsedMs);
    await sample('10 cache hits before the kill', () => run.results().filter((r) => r.cache === 'HIT').length >= 10);

    const killedAt = run.elapsedMs();
    await faults.stack.redis.takeDown('SIGKILL');
    const degraded = await svc.waitForReadiness('degraded', 10_000);
    const degradedAt = run.elapsedMs();
    await sample(
      '20 answers while Redis is down',
      () => run.results().filter((r) => r.startedMs >= degradedAt).length >= 20,
    );

    const restartedAt = run.elapsedMs();
    await faults.stack.redis.bringUp();
    // Hits resume: the hot questions were cached before the kill, but the restarted Redis is empty
    // (no persistence), so the first answer after the restart is a MISS that re-caches, then HITs.
    const hitsAfterRestart = () => run.results().filter((r) => r.startedMs > restartedAt && r.cache === 'HIT');
    await sample('10 cache hits after the restart', () => hitsAfterRestart().length >= 10, 30_000);
    run.stop();
    const results = await run.done;
    await readiness.stop();
    const backToReady = await svc.waitForReadiness('ready', 10_000);

    const summary = summarize(results);
    const outage = results.filter((r) => r.startedMs >= degradedAt && r.endedMs <= restartedAt);
    const hitsAfter = results.filter((r) => r.startedMs > restartedAt && r.cache === 'HIT').length;
    const firstHitAfterRestart: LoadResult | undefined = results.find(
      (r) => r.startedMs > restartedAt && r.cache === 'HIT',
    );
    console.log(
      `cache outage: ${JSON.stringify(summary)}; killed at ${Math.round(killedAt)} ms, degraded seen at ` +
        `${Math.round(degradedAt)} ms, restarted at ${Math.round(restartedAt)} ms, first HIT after restart at ` +
        `${Math.round(firstHitAfterRestart?.startedMs ?? -1)} ms (${Math.round((firstHitAfterRestart?.startedMs ?? 0) - restartedAt)} ms later), ${hitsAfter} hits after`,
    );

    // Zero 5xx, zero dropped: every request was answered 200.
    expect(summary.byStatus).toEqual({ 200: results.length });
    // While Redis was dead the answers went on without it, each one marked BYPASS.
    expect(outage.length).toBeGreaterThanOrEqual(20);
    expect(outage.filter((r) => r.cache !== 'BYPASS')).toEqual([]);
    expect(degraded.checks).toEqual({ database: 'ok', cache: 'down', llm: 'ok' });
    expect(readiness.seen.filter((s) => s.status === 'not_ready' || s.status === 'unreachable')).toEqual([]);
    // Back without a restart of the service.
    expect(firstHitAfterRestart).toBeDefined();
    expect(hitsAfter).toBeGreaterThanOrEqual(10);
    expect(backToReady.checks.cache).toBe('ok');
    expect(svc.pid).toBe(pid);

    // The metrics the cache alarm reads, from the EMF lines (the last one is flushed on shutdown).
    await svc.stop();
    const totals = emfTotals(emfDocuments(svc.logs()));
    const names = SERVICE_METRICS.names;
    console.log(`cache outage EMF: ${JSON.stringify(totals)}`);
    expect(totals[names.cacheUnavailable]).toBe(1);
    expect(totals[names.cacheBypassed]).toBe(summary.byCache.BYPASS);
    expect(totals[names.serverErrors]).toBe(0);
  });
});

describe('Postgres restart under load', () => {
  test('requests during the outage fail fast with 503 + Retry-After; the service recovers by itself', async () => {
    const svc = await scenarioService();
    await ready(svc);
    for (const q of HOT) await postJson(`${svc.url}${ROUTES.chat}`, { message: q });

    const run = startLoad({
      baseUrl: svc.url,
      workers: 4,
      ...LONG,
      message: (i) => (i % 2 === 0 ? (HOT[(i / 2) % HOT.length] as string) : `pg restart unique ${i} ${Date.now()}`),
    });
    await sample('20 answers before the outage', () => run.results().length >= 20);
    const downAt = run.elapsedMs();
    await faults.stack.postgres.takeDown();
    const notReady = await svc.waitForReadiness('not_ready', 10_000);
    await sample(
      '20 answers during the outage',
      () => run.results().filter((r) => r.startedMs > downAt + 200).length >= 20,
    );
    const upAt = run.elapsedMs();
    await faults.stack.postgres.bringUp();
    const back = await svc.waitForReadiness('ready', 20_000);
    const readyAt = run.elapsedMs();
    const answeredAfterReady = () => run.results().filter((r) => r.startedMs > readyAt + 100);
    await sample(
      '10 answers after recovery, one of them a cache hit',
      () => answeredAfterReady().length >= 10 && answeredAfterReady().some((r) => r.cache === 'HIT'),
    );
    run.stop();
    const results = await run.done;

    const summary = summarize(results);
    const during = results.filter((r) => r.startedMs > downAt + 200 && r.endedMs < upAt);
    const failed = results.filter((r) => r.status !== 200);
    const slowest = Math.max(...results.map((r) => r.latencyMs));
    const slowestFailure = Math.max(0, ...failed.map((r) => r.latencyMs));
    const afterReady = results.filter((r) => r.startedMs > readyAt + 100);
    console.log(
      `postgres restart: ${JSON.stringify(summary)}; down at ${Math.round(downAt)} ms, up at ${Math.round(upAt)} ms, ` +
        `ready again at ${Math.round(readyAt)} ms (${Math.round(readyAt - upAt)} ms after start); slowest response ` +
        `${Math.round(slowest)} ms, slowest failure ${Math.round(slowestFailure)} ms; during the outage ` +
        `${JSON.stringify(summarize(during).byStatus)}`,
    );

    expect(notReady.checks.database).toBe('down');
    // Only two outcomes: an answer, or a fast 503 that says when to come back. No 500, no hang,
    // no connection dropped.
    expect(Object.keys(summary.byStatus).sort()).toEqual(['200', '503']);
    for (const r of failed) {
      expect({ status: r.status, code: r.errorCode, retryAfter: Number(r.retryAfter) > 0 }).toEqual({
        status: 503,
        code: 'dependency_unavailable',
        retryAfter: true,
      });
    }
    expect(during.length).toBeGreaterThanOrEqual(20);
    expect(during.filter((r) => r.status !== 503)).toEqual([]);
    // The pool's bounds (connectionTimeoutMillis 3 s, query_timeout 5 s) cap any wait; with the
    // database known to be down requests are refused before touching it. 5 s + 1 s margin.
    expect(slowest).toBeLessThan(6_000);
    // Recovered by itself: the same process answers again.
    expect(back.checks.database).toBe('ok');
    expect(afterReady.length).toBeGreaterThanOrEqual(10);
    expect(afterReady.filter((r) => r.status !== 200)).toEqual([]);
    expect(afterReady.some((r) => r.cache === 'HIT')).toBe(true);

    await svc.stop();
    const totals = emfTotals(emfDocuments(svc.logs()));
    console.log(`postgres restart EMF: ${JSON.stringify(totals)}`);
    expect(totals[SERVICE_METRICS.names.dbErrors]).toBeGreaterThan(0);
    expect(totals[SERVICE_METRICS.names.serverErrors]).toBe(summary.byStatus['503']);
    expect(results.every((r) => r.status === 200 || r.retryAfter !== undefined)).toBe(true);
    expect(results.filter((r) => r.status === 200 && !r.cache)).toEqual([]);
  });
});

describe('database credential rotation under load (alternating users, DB_SECRET_ARN set)', () => {
  const appUser = () => faults.stack.appRole.username;
  const cloneUser = () => `${faults.stack.appRole.username}_clone`;

  /**
   * The user the database secret names now. The tests write the secret, so they know it; once a
   * scenario's service is ready it is connected as this user (it started with it, or its first login
   * was rejected and it re-read the secret).
   */
  let secretUser: string | undefined;
  const secretNames = () => secretUser ?? appUser();

  /**
   * Which users the current scenario's service is connected as right now. Sessions that began before
   * that service started belong to an earlier scenario's process and may linger in
   * `pg_stat_activity` for a moment after it exited, so they are not counted.
   */
  const serviceSessionsBy = async () =>
    (
      await faults.stack.postgres.query<{ usename: string }>(
        `SELECT usename FROM pg_stat_activity
          WHERE application_name = 'chat-api' AND backend_type = 'client backend'
            AND backend_start >= to_timestamp($1::double precision / 1000)`,
        [serviceStartedAt],
      )
    ).map((r) => r.usename);

  /**
   * The service's sessions once only `user`'s are left. A retired pool closes its connections as
   * their requests finish, and a closed session leaves `pg_stat_activity` a moment later, so this
   * waits (bounded) for that instead of sampling one instant.
   */
  const sessionsOnlyOf = async (user: string): Promise<string[]> => {
    let last: string[] = [];
    try {
      await sample(
        `the service's sessions all logged in as ${user}`,
        async () => {
          last = await serviceSessionsBy();
          return last.length > 0 && last.every((u) => u === user);
        },
        10_000,
      );
    } catch {
      // Fall through: the assertion below shows what was there.
    }
    return last;
  };

  /** Every answer of these runs so far. */
  const answered = (...runs: LoadRun[]) => runs.reduce((n, r) => n + r.results().length, 0);

  /**
   * Rotates to `to` with a new password: the role gets it, the secret names it (AWSCURRENT), and
   * the user the service is connected as gets a new password too, so its next login fails.
   */
  async function rotate(from: string, to: string): Promise<void> {
    await moveSecretTo(to);
    await retire(from);
  }

  /** One alternating-users rotation: `to` gets a new password and the secret names it. */
  async function moveSecretTo(to: string): Promise<void> {
    const password = faults.secrets.add(`rotated password of ${to}`, randomSecret(32));
    await faults.stack.postgres.bootstrapApp({ username: to, password });
    faults.stack.secretsManager?.putSecret('chat/db-app-user', { username: to, password });
    secretUser = to;
  }

  /** The next rotation changes the password of the user the secret no longer names. */
  async function retire(user: string): Promise<void> {
    await faults.stack.postgres.setPassword(user, faults.secrets.add(`retired password of ${user}`, randomSecret(32)));
  }

  test('the secret moves to the clone user and the old password stops working: re-read, zero failed requests', async () => {
    const svc = await scenarioService();
    await ready(svc);
    const before = await serviceSessionsBy();
    // Steady load on a few pooled connections, then a burst that makes the pool open new ones
    // after the rotation: those logins are what fails, exactly as after a real rotation.
    const unique = (tag: string) => (i: number) => `rotation ${tag} ${i} ${Date.now()}`;
    const steady = startLoad({ baseUrl: svc.url, workers: 2, ...LONG, message: unique('steady') });
    await sample('20 answers before the rotation', () => answered(steady) >= 20);
    const rotatedAt = steady.elapsedMs();
    await rotate(appUser(), cloneUser());
    const burst = startLoad({ baseUrl: svc.url, workers: 8, ...LONG, message: unique('burst') });
    const refreshed = await svc.waitForLog((l) => l.event === 'credentials_refreshed', 15_000);
    const atRefresh = answered(steady, burst);
    await sample('100 answers after the re-read', () => answered(steady, burst) >= atRefresh + 100);
    steady.stop();
    burst.stop();
    const results = [...(await steady.done), ...(await burst.done)];
    const after = await sessionsOnlyOf(cloneUser());

    const failed = results.filter((r) => r.status !== 200);
    console.log(
      `rotation to the clone user: ${results.length} requests, ${failed.length} failed ` +
        `${JSON.stringify(summarize(failed).byStatus)}; rotated at ${Math.round(rotatedAt)} ms; sessions before ` +
        `${JSON.stringify(countBy(before))}, after ${JSON.stringify(countBy(after))}; max latency ` +
        `${summarize(results).maxLatencyMs} ms`,
    );
    expect(refreshed.dependency).toBe('database');
    expect(failed).toEqual([]);
    // The pool now logs in as the clone; the old user is gone from it.
    expect(after.length).toBeGreaterThan(0);
    expect(new Set(after)).toEqual(new Set([cloneUser()]));
    // A routine rotation is not an incident: no error line, and still the same process.
    expect(svc.logs().filter((l) => l.level === 'error')).toEqual([]);
    expect((await svc.readiness()).body.status).toBe('ready');
    await svc.stop();
    // A rotation the service healed by itself is not an authentication failure for the alarm: the
    // rejected logins are logged (warn) and counted as CredentialRefreshes, never as AuthFailures.
    const totals = emfTotals(emfDocuments(svc.logs()));
    const { authFailures, credentialRefreshes, dbErrors, serverErrors } = SERVICE_METRICS.names;
    console.log(
      `rotation EMF: AuthFailures ${totals[authFailures]}, CredentialRefreshes ${totals[credentialRefreshes]}, DbErrors ${totals[dbErrors]}, ServerErrors ${totals[serverErrors]}`,
    );
    expect(svc.logs().some((l) => l.event === 'credentials_rejected')).toBe(true);
    expect(totals[authFailures]).toBe(0);
    expect(totals[credentialRefreshes]).toBeGreaterThanOrEqual(1);
    expect(totals[serverErrors]).toBe(0);
  });

  test('harsher: back to the first user, and every session of the clone is killed mid-run: zero failed requests', async () => {
    const svc = await scenarioService();
    await ready(svc);
    const run = startLoad({
      baseUrl: svc.url,
      workers: 6,
      ...LONG,
      message: (i) => `rotation harsh ${i} ${Date.now()}`,
    });
    await sample('20 answers before the rotation', () => answered(run) >= 20);
    // This service started with the stack's first user in its env, which the previous test retired:
    // its first login failed and it re-read the secret (the clone). Rotate away from the user the
    // secret names, which is the one it is connected as now.
    const from = secretNames();
    const to = from === cloneUser() ? appUser() : cloneUser();
    await rotate(from, to);
    // This service may already have re-read the secret at start; judge the re-read after the kill.
    const mark = svc.logs().length;
    const killedAtMs = run.elapsedMs();
    const killed = await faults.stack.postgres.terminateSessions(from);
    await sample('the re-read after the kill', () =>
      svc
        .logs()
        .slice(mark)
        .some((l) => l.event === 'credentials_refreshed'),
    );
    const atRefresh = answered(run);
    await sample('100 answers after the re-read', () => answered(run) >= atRefresh + 100);
    run.stop();
    const results = await run.done;
    const failed = results.filter((r) => r.status !== 200);
    const afterKill = results.filter((r) => r.endedMs > killedAtMs);
    const sessions = await sessionsOnlyOf(to);
    console.log(
      `rotation with ${killed} sessions killed: ${results.length} requests (${afterKill.length} answered after the kill), ` +
        `${failed.length} failed ${JSON.stringify(summarize(failed).byStatus)}; max latency ${summarize(results).maxLatencyMs} ms; ` +
        `sessions after ${JSON.stringify(countBy(sessions))}`,
    );
    // Every session the service had is gone and its password too. A statement the kill interrupted
    // was rolled back by the server and runs again on a new connection; the new login is rejected,
    // so the credentials are re-read once, and every request that arrives meanwhile waits for that
    // re-read (bounded) instead of being refused: nobody notices the rotation.
    expect(killed).toBeGreaterThan(0);
    expect(failed).toEqual([]);
    expect(new Set(sessions)).toEqual(new Set([to]));
    expect(svc.logs().filter((l) => l.level === 'error')).toEqual([]);
    await svc.stop();
  });

  test('proactive (ROTATION_POLL_SECONDS=1): both secrets rotate, the old credentials are retired later, no login is ever rejected', async () => {
    const svc = await scenarioService({ ROTATION_POLL_SECONDS: '1' });
    await ready(svc);
    // Startup may have healed a login rejected by an earlier scenario's retirement; judge from here.
    const mark = svc.logs().length;
    for (const q of HOT) await postJson(`${svc.url}${ROUTES.chat}`, { message: q });
    const from = secretNames();
    const to = from === cloneUser() ? appUser() : cloneUser();
    const before = await sessionsOnlyOf(from);
    const redis = faults.stack.redis;
    const oldToken = redis.password as string;
    const run = startLoad({
      baseUrl: svc.url,
      workers: 6,
      ...LONG,
      // Half hot questions (cache hits), half unique ones (database and cache writes).
      message: (i) => (i % 2 === 0 ? (HOT[(i / 2) % HOT.length] as string) : `proactive ${i} ${Date.now()}`),
    });
    const readiness = watchReadiness(svc, run.elapsedMs);
    await sample('20 answers before the rotation', () => answered(run) >= 20);

    // Rotation N: the database secret names the other user, and the cache accepts a second token
    // (ElastiCache's ROTATE strategy) that the secret now holds. The old credentials still work.
    await moveSecretTo(to);
    const newToken = faults.secrets.add('rotated cache token', randomSecret(64));
    await redis.addPassword(newToken);
    faults.stack.secretsManager?.putSecret('chat/cache-auth-token', { token: newToken });
    const rotatedAtMs = run.elapsedMs();
    // What a timeout below says: the run's answers, the service's events, whether it still runs,
    // and anything it printed that is not a log line (a crash's stack).
    const whatHappened = async () => {
      const after = run.results().filter((r) => r.startedMs > rotatedAtMs);
      const events = svc
        .logs()
        .slice(mark)
        .filter((l) => l.event !== undefined && l.event !== 'request')
        .slice(-20)
        .map((l) => [l.level, l.event, l.dependency, l.msg, l.error]);
      const exit = await Promise.race([svc.exited, sleep(100).then(() => 'still running')]);
      const notJson = svc
        .output()
        .split('\n')
        .filter((line) => line.trim() !== '' && !line.startsWith('{"'))
        .slice(-30);
      return (
        `rotated ${from} -> ${to} (sessions before ${JSON.stringify(countBy(before))}); since the rotation ` +
        `${JSON.stringify(summarize(after).byStatus)} ${JSON.stringify(summarize(after).byCache)}, first failure ` +
        `${JSON.stringify(after.find((r) => r.status !== 200))}; events ${JSON.stringify(events)}; process ` +
        `${JSON.stringify(exit)}; printed besides the log:\n${notJson.join('\n')}`
      );
    };
    // The poll runs every second (jittered); 20 s bounds it on a saturated machine too.
    const pickedUp = (dependency: string) =>
      svc
        .waitForLog((l) => l.event === 'credentials_rotated' && l.dependency === dependency, 20_000)
        .catch(async (err: Error) => {
          throw new Error(`${err.message}\n${await whatHappened()}`);
        });
    await pickedUp('database');
    await pickedUp('cache');
    const pickedUpMs = run.elapsedMs() - rotatedAtMs;

    // Rotation N+1 retires the old credentials. Anything still logging in with them would fail now.
    await retire(from);
    await redis.retirePassword(oldToken);
    const retiredAtMs = run.elapsedMs();
    const afterRetirement = () => run.results().filter((r) => r.startedMs > retiredAtMs);
    // Bounded at 45 s, inside the load's own 90 s deadline: a saturated machine answers slower.
    await sample(
      '100 answers after the old credentials were retired, 20 of them cache hits',
      () => afterRetirement().length >= 100 && afterRetirement().filter((r) => r.cache === 'HIT').length >= 20,
      45_000,
    ).catch(async (err: Error) => {
      const after = afterRetirement();
      throw new Error(
        `${err.message} (had ${after.length} answers, ${after.filter((r) => r.cache === 'HIT').length} hits)\n${await whatHappened()}`,
      );
    });
    run.stop();
    const results = await run.done;
    await readiness.stop();
    const seen = readiness.seen;
    const sessions = await sessionsOnlyOf(to);
    // Every cache connection must log in again: the service's has to use the new token.
    await redis.killClients();
    await sleep(300);
    await svc.waitForReadiness('ready', 10_000);
    const afterKill = await postJson(`${svc.url}${ROUTES.chat}`, { message: HOT[0] as string });
    await svc.stop();

    const summary = summarize(results);
    const events = svc
      .logs()
      .slice(mark)
      .map((l) => l.event);
    const totals = emfTotals(emfDocuments(svc.logs()));
    console.log(
      `proactive rotation: ${JSON.stringify(summary)}; both secrets picked up ${Math.round(pickedUpMs)} ms after the rotation; ` +
        `readiness ${JSON.stringify(countBy(seen.map((r) => r.status)))}; sessions after ${JSON.stringify(countBy(sessions))}; ` +
        `AuthFailures ${totals[SERVICE_METRICS.names.authFailures]}, CacheUnavailable ${totals[SERVICE_METRICS.names.cacheUnavailable]}`,
    );
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    expect(summary.byCache.BYPASS ?? 0).toBe(0);
    expect(results.filter((r) => r.startedMs > retiredAtMs && r.cache === 'HIT').length).toBeGreaterThanOrEqual(20);
    expect(new Set(seen.map((r) => r.status))).toEqual(new Set(['ready']));
    // Picked up by the timer (1 s ± 20%), not by a rejected login.
    expect(pickedUpMs).toBeLessThan(3_000);
    expect(events).not.toContain('credentials_rejected');
    expect(events).not.toContain('dependency_auth_failed');
    // The premise: before the rotation the service was connected as the user the secret named.
    expect(new Set(before)).toEqual(new Set([from]));
    expect(new Set(sessions)).toEqual(new Set([to]));
    expect(afterKill.status).toBe(200);
    expect(totals[SERVICE_METRICS.names.authFailures]).toBe(0);
  });
});

describe('afterwards', () => {
  test('secrets hygiene: no generated secret (first, rotated or retired) appears in anything the services printed', async () => {
    const leaks = await faults.stopServicesAndScan();
    expect(faults.secrets.entries.size).toBeGreaterThanOrEqual(7);
    expect(faults.capture.size).toBeGreaterThan(100_000);
    expect(leaks).toEqual([]);
  });
});

function countBy(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { DependencyMonitor, type ProbeTarget } from '../../service/src/health/dependency-monitor';
import { createLogger } from '../../service/src/observability/logger';
import { regionOfArn, SecretReader } from '../../service/src/secrets/secret-source';
import { SecretWatch } from '../../service/src/secrets/secret-watch';
import { LineSink } from './support';

const ARN = 'arn:aws:secretsmanager:eu-central-1:123456789012:secret:chat/db-AbCdEf';
const sm = mockClient(SecretsManagerClient);

afterEach(() => sm.reset());

describe('SecretReader', () => {
  test('reads the database credentials from the JSON keys the contract names, in the ARN region', async () => {
    sm.on(GetSecretValueCommand, { SecretId: ARN }).resolves({
      SecretString: JSON.stringify({ username: 'chat_app_clone', password: 'p4ss', host: 'ignored' }),
    });
    const regions: string[] = [];
    const reader = new SecretReader((region) => {
      regions.push(region);
      return new SecretsManagerClient({ region });
    });
    await expect(reader.readDbCredentials(ARN)).resolves.toEqual({ username: 'chat_app_clone', password: 'p4ss' });
    expect(regions).toEqual(['eu-central-1']);
    expect(regionOfArn(ARN)).toBe('eu-central-1');
  });

  test('reads the cache token from {"token": ...}', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ token: 'tok123' }) });
    await expect(new SecretReader().readCacheToken(ARN)).resolves.toBe('tok123');
  });

  test('a malformed secret is an error that does not repeat the secret string', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: 'not-json-but-secret-material' });
    const err = (await new SecretReader().readDbCredentials(ARN).catch((e: unknown) => e)) as Error;
    expect(err.message).toBe('the secret is not a JSON object');
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ user: 'x', pass: 'secret-material' }) });
    const err2 = (await new SecretReader().readDbCredentials(ARN).catch((e: unknown) => e)) as Error;
    expect(err2.message).not.toContain('secret-material');
  });
});

/** A dependency whose "server" accepts one password, and whose credentials come from a mocked secret. */
function fakeDependency(reader: SecretReader) {
  const state = { serverPassword: 'old', clientPassword: 'old', probes: 0, refreshes: 0 };
  const authError = Object.assign(new Error('password authentication failed for user "chat_app"'), { code: '28P01' });
  const target: ProbeTarget = {
    name: 'database',
    authHint: 'DB_USERNAME/DB_PASSWORD',
    probe: async () => {
      state.probes += 1;
      if (state.clientPassword !== state.serverPassword) throw authError;
    },
    classify: (err) => ((err as { code?: string }).code === '28P01' ? 'auth_failed' : 'down'),
    refreshCredentials: async () => {
      state.refreshes += 1;
      const creds = await reader.readDbCredentials(ARN);
      const changed = creds.password !== state.clientPassword;
      state.clientPassword = creds.password;
      return changed;
    },
  };
  return { state, target };
}

const waitUntil = async (cond: () => boolean, ms = 3_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('credential refresh after an authentication failure', () => {
  test('a rotated password is re-read from Secrets Manager and the dependency recovers without a restart', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ username: 'chat_app', password: 'old' }) });
    const sink = new LineSink();
    const logger = createLogger({ level: 'debug', write: sink.write });
    const { state, target } = fakeDependency(new SecretReader());
    const counted = { authFailures: 0, refreshes: 0 };
    const monitor = new DependencyMonitor(target, {
      logger,
      okIntervalMs: 5,
      downIntervalMs: 5,
      configRetryDelaysMs: [5, 5, 5, 5, 5, 5],
      onAuthFailure: () => counted.authFailures++,
      onCredentialsRefreshed: () => counted.refreshes++,
    });
    monitor.start();
    await waitUntil(() => monitor.status === 'ok');

    // Rotation: the server's password changes; the secret follows only after the immediate re-read
    // (which still finds the old value), so this is a real auth failure for a while: one loud line.
    state.serverPassword = 'new';
    await waitUntil(() => sink.parsed().some((l) => l.event === 'dependency_auth_failed'));
    expect(monitor.status).toBe('auth_failed');
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ username: 'chat_app', password: 'new' }) });
    await waitUntil(() => monitor.status === 'ok');
    monitor.stop();

    expect(state.refreshes).toBeGreaterThanOrEqual(1);
    const lines = sink.parsed();
    expect(lines.filter((l) => l.event === 'dependency_auth_failed')).toHaveLength(1);
    expect(lines.some((l) => l.event === 'credentials_refreshed')).toBe(true);
    expect(lines.some((l) => l.event === 'dependency_recovered')).toBe(true);
    expect(sink.lines.join('\n')).not.toMatch(/"(old|new)"/);
    // The episode the re-read could not heal is counted once (what the auth-failure alarm reads).
    expect(counted.authFailures).toBe(1);
  });

  test('a rotation whose secret is already current heals on the immediate re-read: waiters get through, no loud line', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ username: 'chat_app', password: 'old' }) });
    const sink = new LineSink();
    const logger = createLogger({ level: 'info', write: sink.write });
    const { state, target } = fakeDependency(new SecretReader());
    // The backoff schedule is long on purpose: only the immediate re-read can heal it in time.
    const counted = { authFailures: 0, refreshes: 0 };
    const monitor = new DependencyMonitor(target, {
      logger,
      okIntervalMs: 60_000,
      configRetryDelaysMs: [60_000],
      onAuthFailure: () => counted.authFailures++,
      onCredentialsRefreshed: () => counted.refreshes++,
    });
    monitor.start();
    await waitUntil(() => monitor.status === 'ok');

    // Alternating users: the secret already names the new password when the old one stops working.
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ username: 'chat_app', password: 'new' }) });
    state.serverPassword = 'new';
    const rejected = Object.assign(new Error('password authentication failed'), { code: '28P01' });
    const started = Date.now();
    const [healed, waited] = await Promise.all([monitor.recoverFrom(rejected, 3_000), monitor.waitUsable(3_000)]);
    monitor.stop();

    expect([healed, waited, monitor.status]).toEqual([true, true, 'ok']);
    expect(Date.now() - started).toBeLessThan(1_000);
    const events = sink.parsed().map((l) => l.event);
    expect(events).toEqual(
      expect.arrayContaining(['credentials_rejected', 'credentials_refreshed', 'dependency_recovered']),
    );
    expect(sink.parsed().filter((l) => l.level === 'error')).toEqual([]);
    // A healed rotation is not an authentication failure for the alarm; it is counted as a refresh.
    expect(counted).toEqual({ authFailures: 0, refreshes: 1 });
  });

  test('an outage is not waited out: waitUsable and recoverFrom answer false at once', async () => {
    const monitor = new DependencyMonitor(
      {
        name: 'database',
        authHint: '-',
        probe: async () => {
          throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
        },
        classify: () => 'down',
        refreshCredentials: async () => false,
      },
      { logger: createLogger({ level: 'error', write: () => undefined }), downIntervalMs: 60_000 },
    );
    monitor.start();
    await waitUntil(() => monitor.status === 'down');
    const started = Date.now();
    expect(await monitor.waitUsable(5_000)).toBe(false);
    expect(await monitor.recoverFrom(new Error('connect ECONNREFUSED'), 5_000)).toBe(false);
    expect(Date.now() - started).toBeLessThan(100);
    monitor.stop();
  });

  test('without new credentials the retries are bounded: one loud line, then one give-up line, then silence', async () => {
    const sink = new LineSink();
    const logger = createLogger({ level: 'info', write: sink.write });
    let probes = 0;
    const target: ProbeTarget = {
      name: 'cache',
      authHint: 'REDIS_AUTH_TOKEN',
      probe: async () => {
        probes += 1;
        throw new Error('WRONGPASS invalid username-password pair or user is disabled.');
      },
      classify: () => 'auth_failed',
    };
    const monitor = new DependencyMonitor(target, { logger, configRetryDelaysMs: [5, 5, 5] });
    monitor.start();
    await waitUntil(() => sink.parsed().some((l) => l.event === 'dependency_gave_up'));
    const probesAtGiveUp = probes;
    await new Promise((r) => setTimeout(r, 100));
    monitor.stop();

    expect(probesAtGiveUp).toBe(4); // the first probe plus 3 scheduled retries
    expect(probes).toBe(probesAtGiveUp);
    expect(monitor.status).toBe('auth_failed');
    const errors = sink.parsed().filter((l) => l.level === 'error');
    expect(errors.map((l) => l.event)).toEqual(['dependency_auth_failed', 'dependency_gave_up']);
    expect(errors[0]?.msg).toMatch(/cache authentication failed.*REDIS_AUTH_TOKEN/);
    // Request-path reports after giving up start nothing.
    monitor.reportFailure(new Error('NOAUTH Authentication required.'));
    await new Promise((r) => setTimeout(r, 30));
    expect(probes).toBe(probesAtGiveUp);
  });

  test('an outage is probed until it ends and never counts as a configuration error', async () => {
    const sink = new LineSink();
    let up = false;
    const monitor = new DependencyMonitor(
      {
        name: 'database',
        authHint: '-',
        probe: async () => {
          if (!up) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
        },
        classify: () => 'down',
      },
      { logger: createLogger({ level: 'info', write: sink.write }), downIntervalMs: 5, configRetryDelaysMs: [] },
    );
    monitor.start();
    await waitUntil(() => monitor.status === 'down');
    await new Promise((r) => setTimeout(r, 50));
    expect(monitor.provenOnce).toBe(false);
    up = true;
    await waitUntil(() => monitor.status === 'ok');
    monitor.stop();
    expect(sink.parsed().filter((l) => l.event === 'dependency_down')).toHaveLength(1);
  });
});

describe('SecretWatch: rotated secrets are re-read before the old credentials are retired', () => {
  afterEach(() => jest.useRealTimers());

  test('a changed secret is installed and logged once, naming the dependency and never a value', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ username: 'chat_app', password: 'old' }) });
    const reader = new SecretReader();
    let installed = 'old';
    const sink = new LineSink();
    const watch = new SecretWatch(
      [
        {
          name: 'database',
          refresh: async () => {
            const { password } = await reader.readDbCredentials(ARN);
            const changed = password !== installed;
            installed = password;
            return changed;
          },
        },
      ],
      { logger: createLogger({ level: 'debug', write: sink.write }) },
    );
    await watch.checkNow();
    expect(sink.parsed()).toEqual([]);
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ username: 'chat_app_clone', password: 'rotated-pw' }),
    });
    await watch.checkNow();
    await watch.checkNow();
    expect(installed).toBe('rotated-pw');
    const rotated = sink.parsed().filter((l) => l.event === 'credentials_rotated');
    expect(rotated).toHaveLength(1);
    expect(rotated[0]).toMatchObject({ level: 'info', dependency: 'database' });
    expect(sink.lines.join('\n')).not.toContain('rotated-pw');
  });

  test('a failed read is a warning, keeps the current credentials, and the next round tries again', async () => {
    sm.on(GetSecretValueCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }))
      .resolves({ SecretString: JSON.stringify({ token: 'tok-new' }) });
    const reader = new SecretReader();
    let token = 'tok-old';
    const sink = new LineSink();
    const watch = new SecretWatch(
      [
        {
          name: 'cache',
          refresh: async () => {
            const next = await reader.readCacheToken(ARN);
            const changed = next !== token;
            token = next;
            return changed;
          },
        },
      ],
      { logger: createLogger({ level: 'debug', write: sink.write }) },
    );
    await watch.checkNow();
    expect(token).toBe('tok-old');
    expect(sink.parsed().map((l) => [l.level, l.event, l.dependency])).toEqual([
      ['warn', 'secret_watch_failed', 'cache'],
    ]);
    await watch.checkNow();
    expect(token).toBe('tok-new');
    expect(sink.lines.join('\n')).not.toMatch(/tok-(old|new)/);
  });

  test('a round that never settles is abandoned with a warning, and the poll goes on', async () => {
    const sink = new LineSink();
    let calls = 0;
    const watch = new SecretWatch(
      [
        {
          name: 'database',
          // The first read hangs for ever; the next one finds a change.
          refresh: () => (++calls === 1 ? new Promise<boolean>(() => undefined) : Promise.resolve(true)),
        },
      ],
      { logger: createLogger({ level: 'debug', write: sink.write }), roundTimeoutMs: 50 },
    );
    await watch.checkNow();
    await watch.checkNow();
    expect(sink.parsed().map((l) => [l.level, l.event, l.dependency])).toEqual([
      ['warn', 'secret_watch_failed', 'database'],
      ['info', 'credentials_rotated', 'database'],
    ]);
    expect(String(sink.parsed()[0]?.error)).toMatch(/did not finish within 50 ms/);
  });

  test('a task that gave up on rejected credentials heals when the poll sees the corrected secret', async () => {
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ username: 'chat_app', password: 'wrong' }),
    });
    const sink = new LineSink();
    const logger = createLogger({ level: 'info', write: sink.write });
    const reader = new SecretReader();
    const { state, target } = fakeDependency(reader);
    state.clientPassword = 'wrong';
    const monitor = new DependencyMonitor(target, { logger, configRetryDelaysMs: [5, 5] });
    monitor.start();
    await waitUntil(() => sink.parsed().some((l) => l.event === 'dependency_gave_up'));
    const probesAtGiveUp = state.probes;

    // Someone corrects the secret; the poll installs it and tells the monitor.
    const watch = new SecretWatch(
      [
        {
          name: 'database',
          refresh: target.refreshCredentials as () => Promise<boolean>,
          onChanged: () => monitor.credentialsReplaced(),
        },
      ],
      { logger },
    );
    await watch.checkNow();
    expect(monitor.status).toBe('auth_failed'); // still wrong: nothing changed, nothing re-proven
    expect(state.probes).toBe(probesAtGiveUp);
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ username: 'chat_app', password: 'old' }) });
    await watch.checkNow();
    await waitUntil(() => monitor.status === 'ok');
    monitor.stop();
    expect(sink.parsed().map((l) => l.event)).toEqual(
      expect.arrayContaining(['dependency_gave_up', 'credentials_rotated', 'dependency_ready']),
    );
  });

  test('the secret is re-read after a wait within ±20% of the interval, again and again, until stopped', async () => {
    jest.useFakeTimers();
    const reads: number[] = [];
    const draws = [0, 1]; // the lowest draw, then the highest
    const watch = new SecretWatch(
      [
        {
          name: 'database',
          refresh: async () => {
            reads.push(Date.now());
            return false;
          },
        },
      ],
      {
        logger: createLogger({ level: 'error', write: () => undefined }),
        intervalMs: 1_000,
        random: () => draws.shift() ?? 0.5,
      },
    );
    const t0 = Date.now();
    watch.start();
    await jest.advanceTimersByTimeAsync(799);
    expect(reads).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(reads.map((t) => t - t0)).toEqual([800]);
    await jest.advanceTimersByTimeAsync(1_200);
    expect(reads.map((t) => t - t0)).toEqual([800, 2_000]);
    await jest.advanceTimersByTimeAsync(1_000);
    expect(reads.map((t) => t - t0)).toEqual([800, 2_000, 3_000]);
    watch.stop();
    await jest.advanceTimersByTimeAsync(10_000);
    expect(reads).toHaveLength(3);
  });
});

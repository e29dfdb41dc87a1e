import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { DependencyMonitor, type ProbeTarget } from '../../service/src/health/dependency-monitor';
import { createLogger } from '../../service/src/observability/logger';
import { regionOfArn, SecretReader } from '../../service/src/secrets/secret-source';
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
    const monitor = new DependencyMonitor(target, {
      logger,
      okIntervalMs: 5,
      downIntervalMs: 5,
      configRetryDelaysMs: [5, 5, 5, 5, 5, 5],
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
  });

  test('a rotation whose secret is already current heals on the immediate re-read: waiters get through, no loud line', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ username: 'chat_app', password: 'old' }) });
    const sink = new LineSink();
    const logger = createLogger({ level: 'info', write: sink.write });
    const { state, target } = fakeDependency(new SecretReader());
    // The backoff schedule is long on purpose: only the immediate re-read can heal it in time.
    const monitor = new DependencyMonitor(target, { logger, okIntervalMs: 60_000, configRetryDelaysMs: [60_000] });
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

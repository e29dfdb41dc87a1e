/**
 * Readiness in every state DESIGN.md names, against real dependencies: ready; cache down →
 * degraded and BYPASS; database down → not_ready and 503; a wrong database password or cache token
 * → not_ready with one loud log line (never the secret); certificates that don't verify →
 * not_ready; and credential rotation picked up from Secrets Manager without a restart.
 */
import { ERROR_CODES, type ErrorResponse, HEADERS, ROUTES } from '../../lib/contract';
import {
  createTestCertificates,
  type LocalStack,
  type LogLine,
  randomSecret,
  type ServiceProcess,
  serviceEnvFor,
  startLocalStack,
  startRedis,
  startServiceProcess,
} from '../../scripts/harness';
import { postJson, uniqueText } from './support';

jest.setTimeout(90_000);

let stack: LocalStack;
/** One principal for the file: its repeated questions hit its own cache entries (CACHE_SHARE_AFTER_PRINCIPALS). */
const USER = 'readiness-it-user';
const extra: ServiceProcess[] = [];

beforeAll(async () => {
  // The stack's own service reads its credentials through the fake Secrets Manager.
  stack = await startLocalStack({ secretsManager: true });
});

afterAll(async () => {
  for (const s of extra) await s.stop(5_000).catch(() => undefined);
  await stack?.stop();
});

/** A second service against the same dependencies, with some env changed. */
async function serviceWith(overrides: Record<string, string>, drop: string[] = []): Promise<ServiceProcess> {
  const env: Record<string, string> = { ...serviceEnvFor(stack, overrides) };
  for (const name of drop) delete env[name];
  const svc = await startServiceProcess({ env });
  extra.push(svc);
  return svc;
}

const authLines = (svc: ServiceProcess, dependency: string): LogLine[] =>
  svc.logs().filter((l) => l.event === 'dependency_auth_failed' && l.dependency === dependency);

describe('readiness states', () => {
  test('ready: Postgres queried with the app credentials, the cache PINGed over TLS with AUTH', async () => {
    const r = await stack.service?.readiness();
    expect(r).toEqual({
      status: 200,
      body: { status: 'ready', version: 'local', checks: { database: 'ok', cache: 'ok', llm: 'ok' } },
    });
    const listening = stack.service?.logs().find((l) => l.event === 'listening');
    expect(listening).toMatchObject({ db_ssl: 'verify-full', cache_tls: true });
  });

  test('cache outage: degraded (still 200), answers BYPASS; recovers when the cache is back', async () => {
    const svc = stack.service as ServiceProcess;
    await stack.redis.takeDown();
    try {
      const degraded = await svc.waitForReadiness('degraded');
      expect(degraded.checks).toEqual({ database: 'ok', cache: 'down', llm: 'ok' });
      const res = await postJson(
        `${svc.url}${ROUTES.chat}`,
        { message: uniqueText('during cache outage') },
        { headers: stack.authHeaders(USER) },
      );
      expect(res.status).toBe(200);
      expect(res.headers[HEADERS.cache]).toBe('BYPASS');
      expect(res.json().cached).toBe(false);
    } finally {
      await stack.redis.bringUp();
    }
    await svc.waitForReadiness('ready', 20_000);
    const q = uniqueText('after cache outage');
    await postJson(`${svc.url}${ROUTES.chat}`, { message: q }, { headers: stack.authHeaders(USER) });
    const hit = await postJson(`${svc.url}${ROUTES.chat}`, { message: q }, { headers: stack.authHeaders(USER) });
    expect(hit.headers[HEADERS.cache]).toBe('HIT');
  });

  test('database outage: not_ready (503), chat answers 503 with Retry-After; recovers when it is back', async () => {
    const svc = stack.service as ServiceProcess;
    await stack.postgres.takeDown();
    try {
      const notReady = await svc.waitForReadiness('not_ready');
      expect(notReady.checks.database).toBe('down');
      expect((await svc.readiness()).status).toBe(503);
      const res = await postJson(
        `${svc.url}${ROUTES.chat}`,
        { message: uniqueText('during db outage') },
        { headers: stack.authHeaders(USER) },
      );
      expect(res.status).toBe(503);
      expect(Number(res.headers[HEADERS.retryAfter])).toBeGreaterThan(0);
      expect(res.json<ErrorResponse>().error.code).toBe(ERROR_CODES.dependencyUnavailable);
    } finally {
      await stack.postgres.bringUp();
    }
    await svc.waitForReadiness('ready', 20_000);
    expect(
      (
        await postJson(
          `${svc.url}${ROUTES.chat}`,
          { message: uniqueText('after db outage') },
          { headers: stack.authHeaders(USER) },
        )
      ).status,
    ).toBe(200);
  });

  test('wrong database password: not_ready, one loud line naming the database and what to check, never the password', async () => {
    const wrong = `wrong-${randomSecret(20)}`;
    const svc = await serviceWith({ DB_PASSWORD: wrong }, ['DB_SECRET_ARN']);
    await svc.waitForLog((l) => l.event === 'dependency_auth_failed');
    const r = (await svc.readiness()).body;
    expect(r.status).toBe('not_ready');
    expect(r.checks.database).toBe('auth_failed');
    // Let the bounded retries run (1 s, 2 s): still exactly one loud line.
    await new Promise((res) => setTimeout(res, 3_500));
    const lines = authLines(svc, 'database');
    expect(lines).toHaveLength(1);
    expect(lines[0]?.level).toBe('error');
    expect(lines[0]?.msg).toMatch(/database authentication failed.*DB_USERNAME\/DB_PASSWORD/);
    expect(svc.output()).not.toContain(wrong);
    expect((await svc.readiness()).status).toBe(503);
    const chat = await postJson(`${svc.url}${ROUTES.chat}`, { message: 'hello' }, { headers: stack.authHeaders(USER) });
    expect(chat.status).toBe(503);
    await svc.stop();
  });

  test('wrong cache token: not_ready, one loud line naming the cache, never the token', async () => {
    const wrong = randomSecret(64);
    const svc = await serviceWith({ REDIS_AUTH_TOKEN: wrong }, ['REDIS_AUTH_SECRET_ARN']);
    await svc.waitForLog((l) => l.event === 'dependency_auth_failed');
    await svc.waitForLog((l) => l.event === 'dependency_ready' && l.dependency === 'database');
    const r = (await svc.readiness()).body;
    expect(r.status).toBe('not_ready');
    expect(r.checks).toEqual({ database: 'ok', cache: 'auth_failed', llm: 'ok' });
    await new Promise((res) => setTimeout(res, 3_500));
    const lines = authLines(svc, 'cache');
    expect(lines).toHaveLength(1);
    expect(lines[0]?.msg).toMatch(/cache authentication failed.*REDIS_AUTH_TOKEN/);
    expect(String(lines[0]?.error)).toMatch(/WRONGPASS/);
    expect(svc.output()).not.toContain(wrong);
    await svc.stop();
  });

  test('DB_SSL=verify-full refuses a server certificate it cannot verify (no CA bundle): not_ready', async () => {
    const svc = await serviceWith({}, ['NODE_EXTRA_CA_CERTS', 'DB_SECRET_ARN', 'REDIS_AUTH_SECRET_ARN']);
    const line = await svc.waitForLog((l) => l.event === 'dependency_misconfigured' && l.dependency === 'database');
    const r = (await svc.readiness()).body;
    expect(r.status).toBe('not_ready');
    expect(r.checks.database).toBe('misconfigured');
    expect(String(line.error)).toMatch(/self.signed|unable to verify|certificate/i);
    await svc.stop();
  });

  test('the cache certificate must match the host name (verified, not just encrypted)', async () => {
    // Same CA, but the server certificate names another host.
    const certs = createTestCertificates({ altNames: ['DNS:cache.example.invalid'] });
    const redis = await startRedis({ certs });
    try {
      const svc = await serviceWith(
        {
          REDIS_PORT: String(redis.port),
          REDIS_AUTH_TOKEN: redis.password as string,
          NODE_EXTRA_CA_CERTS: certs.caCertPath,
          DB_SSL: 'require',
        },
        ['DB_SECRET_ARN', 'REDIS_AUTH_SECRET_ARN'],
      );
      const line = await svc.waitForLog((l) => l.event === 'dependency_misconfigured' && l.dependency === 'cache');
      const r = (await svc.readiness()).body;
      expect(r.status).toBe('not_ready');
      expect(r.checks.cache).toBe('misconfigured');
      expect(line.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
      await svc.stop();
    } finally {
      await redis.stop();
    }
  });
});

describe('credential rotation without a restart (Secrets Manager re-read after an auth failure)', () => {
  test('database: the app password changes in Postgres and in the secret; the same process recovers', async () => {
    const svc = stack.service as ServiceProcess;
    const pid = svc.pid;
    expect(
      (
        await postJson(
          `${svc.url}${ROUTES.chat}`,
          { message: uniqueText('before db rotation') },
          { headers: stack.authHeaders(USER) },
        )
      ).status,
    ).toBe(200);

    const next = randomSecret(32);
    await stack.postgres.setPassword(stack.appRole.username, next);
    stack.secretsManager?.putSecret('chat/db-app-user', { username: stack.appRole.username, password: next });
    // Pooled sessions stay authenticated; end them so the service must log in again.
    expect(await stack.postgres.terminateSessions(stack.appRole.username)).toBeGreaterThan(0);

    await svc.waitForLog((l) => l.event === 'credentials_refreshed' && l.dependency === 'database', 20_000);
    await svc.waitForReadiness('ready', 20_000);
    const res = await postJson(
      `${svc.url}${ROUTES.chat}`,
      { message: uniqueText('after db rotation') },
      { headers: stack.authHeaders(USER) },
    );
    expect(res.status).toBe(200);
    expect(svc.pid).toBe(pid);
    expect(stack.secretsManager?.reads('chat/db-app-user')).toBeGreaterThan(0);
    expect(svc.output()).not.toContain(next);
  });

  test('cache: the AUTH token changes in Redis and in the secret; the same process recovers', async () => {
    const svc = stack.service as ServiceProcess;
    const next = randomSecret(64);
    stack.secretsManager?.putSecret('chat/cache-auth-token', { token: next });
    await stack.redis.setPassword(next);

    await svc.waitForLog((l) => l.event === 'credentials_refreshed' && l.dependency === 'cache', 20_000);
    await svc.waitForReadiness('ready', 20_000);
    const q = uniqueText('after cache rotation');
    await postJson(`${svc.url}${ROUTES.chat}`, { message: q }, { headers: stack.authHeaders(USER) });
    const hit = await postJson(`${svc.url}${ROUTES.chat}`, { message: q }, { headers: stack.authHeaders(USER) });
    expect(hit.headers[HEADERS.cache]).toBe('HIT');
    expect(svc.output()).not.toContain(next);
  });
});

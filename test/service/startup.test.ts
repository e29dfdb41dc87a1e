/**
 * `node dist/server.js` from env vars only: a missing or invalid variable stops the process at
 * start with one line that names every bad variable and never prints a value.
 */
import { spawnSync } from 'node:child_process';
import { ensureServiceBuilt } from '../../scripts/harness';

jest.setTimeout(30_000);

let bundle: string;
beforeAll(async () => {
  bundle = await ensureServiceBuilt();
});

function run(env: Record<string, string>) {
  const r = spawnSync(process.execPath, [bundle], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 10_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('with no environment at all it exits non-zero with one line naming every required variable', () => {
  const { code, stdout, stderr } = run({});
  expect(code).not.toBe(0);
  const lines = stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(stderr).toBe('');
  const line = JSON.parse(lines[0] as string) as { level: string; event: string; invalid: string[]; msg: string };
  expect(line.level).toBe('error');
  expect(line.event).toBe('config_invalid');
  expect(line.invalid.sort()).toEqual(
    [
      'APP_VERSION',
      'DB_HOST',
      'DB_NAME',
      'DB_USERNAME',
      'DB_PASSWORD',
      'REDIS_HOST',
      'REDIS_AUTH_TOKEN',
      'LLM_BASE_URL',
      'LLM_MODEL',
      'LLM_API_KEY',
      // Required unless AUTH_MODE=off: without them the API would answer everybody.
      'AUTH_ISSUER',
      'AUTH_AUDIENCE',
    ].sort(),
  );
  for (const name of line.invalid) expect(line.msg).toContain(name);
});

test('invalid values are named, never printed', () => {
  const secretish = {
    APP_VERSION: '1.0.0',
    DB_HOST: 'db',
    DB_NAME: 'chat',
    DB_USERNAME: 'chat_app',
    DB_PASSWORD: 'Sup3rSecretPassw0rd',
    REDIS_HOST: 'cache',
    REDIS_AUTH_TOKEN: 'T0kenT0kenT0ken',
    LLM_BASE_URL: 'not a url with Sup3rSecret inside',
    LLM_MODEL: 'm',
    LLM_API_KEY: 'sk-live-abcdef',
    DB_SSL: 'verify-maybe',
    PORT: '99999',
    REDIS_TLS: 'on',
    AUTH_ISSUER: 'https://issuer.example.com',
    AUTH_AUDIENCE: 'chat-api',
  };
  const { code, stdout } = run(secretish);
  expect(code).toBe(78);
  expect(stdout.trim().split('\n')).toHaveLength(1);
  const line = JSON.parse(stdout) as { invalid: string[] };
  expect(line.invalid.sort()).toEqual(['DB_SSL', 'LLM_BASE_URL', 'PORT', 'REDIS_TLS']);
  for (const value of ['Sup3rSecret', 'T0ken', 'sk-live', 'verify-maybe', '99999', '"on"']) {
    expect(stdout).not.toContain(value);
  }
});

test('an LLM_BASE_URL over plain http to a non-loopback host stops the start with exit 78 and one line', () => {
  const { code, stdout } = run({
    APP_VERSION: '1.0.0',
    DB_HOST: 'db',
    DB_NAME: 'chat',
    DB_USERNAME: 'chat_app',
    DB_PASSWORD: 'Sup3rSecretPassw0rd',
    REDIS_HOST: 'cache',
    REDIS_AUTH_TOKEN: 'T0kenT0kenT0ken',
    LLM_BASE_URL: 'http://llm.example.com/v1',
    LLM_MODEL: 'm',
    LLM_API_KEY: 'sk-live-abcdef',
    AUTH_MODE: 'off',
  });
  expect(code).toBe(78);
  expect(stdout.trim().split('\n')).toHaveLength(1);
  const line = JSON.parse(stdout) as { invalid: string[]; msg: string; event: string };
  expect(line.event).toBe('config_invalid');
  expect(line.invalid).toEqual(['LLM_BASE_URL']);
  expect(line.msg).toContain('https');
  expect(stdout).not.toContain('llm.example.com');
});

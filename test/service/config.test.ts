import fc from 'fast-check';
import { SECRET_ENV_NAMES, SERVICE_ENV, SERVICE_ENV_NAMES } from '../../lib/contract';
import { describeProblems, parseServiceConfig, readContractEnv } from '../../service/src/config';

const VALID: Record<string, string> = {
  APP_VERSION: '1.2.3',
  DB_HOST: 'db.internal',
  DB_NAME: 'chat',
  DB_USERNAME: 'chat_app',
  DB_PASSWORD: 'db-password-value-123',
  REDIS_HOST: 'cache.internal',
  REDIS_AUTH_TOKEN: 'redis-token-value-456',
  LLM_BASE_URL: 'https://llm.example.com/v1/',
  LLM_MODEL: 'gpt-4o-mini',
  LLM_API_KEY: 'llm-key-value-789',
  AUTH_ISSUER: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123',
  AUTH_AUDIENCE: 'user-client-id, gate-client-id',
};

describe('service config', () => {
  test('reads exactly the contract variable names, each once, and touches nothing else', () => {
    const touched: string[] = [];
    const env = new Proxy({ ...VALID, UNRELATED: 'x', PATH: '/bin' } as Record<string, string>, {
      get(target, key) {
        touched.push(String(key));
        return target[String(key)];
      },
      has(_target, key) {
        touched.push(`has:${String(key)}`);
        return false;
      },
      ownKeys() {
        touched.push('ownKeys');
        return [];
      },
      getOwnPropertyDescriptor(_t, key) {
        touched.push(`descriptor:${String(key)}`);
        return undefined;
      },
    });
    const result = parseServiceConfig(env);
    expect(result.ok).toBe(true);
    expect(touched).toEqual([...SERVICE_ENV_NAMES]);
  });

  test('a complete environment parses into typed settings, with the contract defaults', () => {
    const result = parseServiceConfig(VALID);
    if (!result.ok) throw new Error(describeProblems(result.problems));
    const c = result.config;
    expect(c.port).toBe(Number(SERVICE_ENV.PORT.default));
    expect(c.host).toBe(SERVICE_ENV.HOST.default);
    expect(c.db).toEqual({
      host: 'db.internal',
      port: 5432,
      database: 'chat',
      ssl: 'verify-full',
      username: 'chat_app',
      password: 'db-password-value-123',
    });
    expect(c.cache).toEqual({ host: 'cache.internal', port: 6379, tls: true, authToken: 'redis-token-value-456' });
    expect(c.llm).toEqual({
      baseUrl: 'https://llm.example.com/v1',
      model: 'gpt-4o-mini',
      apiKey: 'llm-key-value-789',
      timeoutMs: 30_000,
      maxOutputTokens: Number(SERVICE_ENV.LLM_MAX_OUTPUT_TOKENS.default),
      contextBudgetTokens: Number(SERVICE_ENV.LLM_CONTEXT_BUDGET_TOKENS.default),
    });
    expect(c.quotas).toEqual({
      requestsPerMinute: Number(SERVICE_ENV.QUOTA_REQUESTS_PER_MINUTE.default),
      llmTokensPerMinute: Number(SERVICE_ENV.QUOTA_LLM_TOKENS_PER_MINUTE.default),
      storedBytesPerDay: Number(SERVICE_ENV.QUOTA_STORED_BYTES_PER_DAY.default),
    });
    expect(c.messageRetentionDays).toBe(30);
    expect(c.cacheTtlSeconds).toBe(1800);
    expect(c.cacheShareAfterPrincipals).toBe(3);
    expect(c.promptVersion).toBe('v1');
    expect(c.drainTimeoutMs).toBe(20_000);
    expect(c.logLevel).toBe('info');
  });

  test('secret ARNs are optional and validated', () => {
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:chat/db-AbC123';
    const ok = parseServiceConfig({ ...VALID, DB_SECRET_ARN: arn, REDIS_AUTH_SECRET_ARN: arn });
    expect(ok.ok && ok.config.db.secretArn).toBe(arn);
    expect(ok.ok && ok.config.cache.authSecretArn).toBe(arn);
    const bad = parseServiceConfig({ ...VALID, DB_SECRET_ARN: 'chat/db' });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.problems.map((p) => p.name)).toEqual(['DB_SECRET_ARN']);
  });

  test('CACHE_SHARE_AFTER_PRINCIPALS is a whole number 1-1000, as synth checks it', () => {
    for (const [raw, ok] of [
      ['1', true],
      ['1000', true],
      ['0', false],
      ['1001', false],
      ['2.5', false],
    ] as const) {
      const result = parseServiceConfig({ ...VALID, CACHE_SHARE_AFTER_PRINCIPALS: raw });
      expect(result.ok).toBe(ok);
      if (!result.ok) expect(result.problems.map((p) => p.name)).toEqual(['CACHE_SHARE_AFTER_PRINCIPALS']);
    }
  });

  test('every missing and invalid variable is reported in one message that contains no value', () => {
    const env = {
      ...VALID,
      DB_HOST: undefined,
      REDIS_AUTH_TOKEN: '',
      PORT: 'port-secretish-1',
      DB_SSL: 'verify-fool',
      REDIS_TLS: 'yes-please',
      LLM_BASE_URL: 'ftp://user:pw-secretish@example.com',
      LOG_LEVEL: 'chatty',
    };
    const result = parseServiceConfig(env);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.map((p) => p.name).sort()).toEqual(
      ['DB_HOST', 'REDIS_AUTH_TOKEN', 'PORT', 'DB_SSL', 'REDIS_TLS', 'LLM_BASE_URL', 'LOG_LEVEL'].sort(),
    );
    const text = describeProblems(result.problems);
    for (const value of ['port-secretish-1', 'verify-fool', 'yes-please', 'pw-secretish', 'chatty']) {
      expect(text).not.toContain(value);
    }
    expect(text).toMatch(/DB_HOST missing/);
    expect(text).toMatch(/DB_SSL must be one of verify-full, require, disable/);
  });

  test('no value of any variable ever appears in the problems (property)', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom(...SERVICE_ENV_NAMES), fc.string({ minLength: 1, maxLength: 40 })),
        (overrides) => {
          // A marker makes every value unique text, so "contains the value" is unambiguous.
          const env: Record<string, string> = {};
          for (const [k, v] of Object.entries(overrides)) env[k] = `zq9${v}`;
          const result = parseServiceConfig(env);
          const text = result.ok ? '' : describeProblems(result.problems);
          return !text.includes('zq9');
        },
      ),
      { numRuns: 300 },
    );
  });

  test('empty strings count as unset, so a blank secret is "missing", not accepted', () => {
    const result = parseServiceConfig({ ...VALID, DB_PASSWORD: '' });
    expect(!result.ok && result.problems).toEqual([{ name: 'DB_PASSWORD', problem: 'missing' }]);
  });

  test('readContractEnv returns one entry per contract name', () => {
    expect(Object.keys(readContractEnv(VALID))).toEqual([...SERVICE_ENV_NAMES]);
  });

  test('bearer tokens are required by default: issuer kept byte for byte, audiences split, JWKS URL derived', () => {
    const result = parseServiceConfig(VALID);
    expect(result.ok && result.config.auth).toEqual({
      mode: 'on',
      issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123',
      audiences: ['user-client-id', 'gate-client-id'],
      jwksUrl: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123/.well-known/jwks.json',
    });
    const explicit = parseServiceConfig({ ...VALID, AUTH_JWKS_URL: 'https://keys.example.com/jwks' });
    expect(explicit.ok && explicit.config.auth.mode === 'on' && explicit.config.auth.jwksUrl).toBe(
      'https://keys.example.com/jwks',
    );
  });

  test('without AUTH_ISSUER (or AUTH_AUDIENCE) the service refuses to start, unless AUTH_MODE=off says so', () => {
    const missing = parseServiceConfig({ ...VALID, AUTH_ISSUER: undefined, AUTH_AUDIENCE: '' });
    expect(!missing.ok && missing.problems.map((p) => p.name)).toEqual(['AUTH_ISSUER', 'AUTH_AUDIENCE']);
    expect(!missing.ok && describeProblems(missing.problems)).toMatch(/AUTH_ISSUER missing \(or set AUTH_MODE=off/);
    const off = parseServiceConfig({ ...VALID, AUTH_ISSUER: undefined, AUTH_AUDIENCE: undefined, AUTH_MODE: 'off' });
    expect(off.ok && off.config.auth).toEqual({ mode: 'off' });
    const typo = parseServiceConfig({ ...VALID, AUTH_MODE: 'false' });
    expect(!typo.ok && typo.problems.map((p) => p.name)).toEqual(['AUTH_MODE']);
  });

  test('the issuer and its keys are trusted over https only', () => {
    for (const AUTH_ISSUER of ['http://issuer.example.com', 'https://u:p@issuer.example.com', 'issuer']) {
      const r = parseServiceConfig({ ...VALID, AUTH_ISSUER });
      expect(!r.ok && r.problems.map((p) => p.name)).toEqual(['AUTH_ISSUER']);
    }
    const jwks = parseServiceConfig({ ...VALID, AUTH_JWKS_URL: 'http://keys.example.com/jwks' });
    expect(!jwks.ok && jwks.problems.map((p) => p.name)).toEqual(['AUTH_JWKS_URL']);
    const aud = parseServiceConfig({ ...VALID, AUTH_AUDIENCE: 'a,,b' });
    expect(!aud.ok && aud.problems.map((p) => p.name)).toEqual(['AUTH_AUDIENCE']);
  });

  test('the LLM key travels over https, except to a loopback host (the fake LLM in tests and local runs)', () => {
    for (const LLM_BASE_URL of [
      'http://llm.example.com/v1',
      'http://10.0.0.5:8080/v1',
      'http://127.0.0.1.nip.io/v1',
      'http://localhost.example.com/v1',
      'ftp://127.0.0.1/v1',
    ]) {
      const r = parseServiceConfig({ ...VALID, LLM_BASE_URL });
      expect(!r.ok && r.problems.map((p) => p.name)).toEqual(['LLM_BASE_URL']);
      expect(!r.ok && describeProblems(r.problems)).toContain('https');
    }
    for (const LLM_BASE_URL of [
      'https://llm.example.com/v1',
      'http://127.0.0.1:4000/v1',
      'http://127.8.9.10/v1',
      'http://localhost:4000/v1',
      'http://[::1]:4000/v1',
    ]) {
      expect(parseServiceConfig({ ...VALID, LLM_BASE_URL }).ok).toBe(true);
    }
  });

  test('quota and budget limits are positive integers', () => {
    for (const name of [
      'QUOTA_REQUESTS_PER_MINUTE',
      'QUOTA_LLM_TOKENS_PER_MINUTE',
      'QUOTA_STORED_BYTES_PER_DAY',
      'QUOTA_GATE_REQUESTS_PER_MINUTE',
      'QUOTA_GATE_STORED_BYTES_PER_DAY',
      'MESSAGE_RETENTION_DAYS',
      'LLM_MAX_OUTPUT_TOKENS',
      'LLM_CONTEXT_BUDGET_TOKENS',
    ]) {
      for (const value of ['0', '-1', '1.5', 'many']) {
        const r = parseServiceConfig({ ...VALID, [name]: value });
        expect(!r.ok && r.problems.map((p) => p.name)).toEqual([name]);
      }
    }
  });

  test('GATE_PRINCIPAL gives that principal the gate allowances; unset, there is no gate principal', () => {
    const without = parseServiceConfig(VALID);
    expect(without.ok && without.config.quotas.gate).toBeUndefined();
    for (const sub of ['5t6f0example1clientid2abc', 'b1c2d3e4-0000-4000-8000-000000000000', 'abcDEF123@clients']) {
      const r = parseServiceConfig({
        ...VALID,
        GATE_PRINCIPAL: sub,
        QUOTA_GATE_REQUESTS_PER_MINUTE: '1500',
        QUOTA_GATE_STORED_BYTES_PER_DAY: '250000000',
      });
      if (!r.ok) throw new Error(describeProblems(r.problems));
      expect(r.config.quotas.gate).toEqual({ principal: sub, requestsPerMinute: 1500, storedBytesPerDay: 250_000_000 });
      // The ordinary quotas are untouched.
      expect(r.config.quotas.requestsPerMinute).toBe(Number(SERVICE_ENV.QUOTA_REQUESTS_PER_MINUTE.default));
    }
    const defaults = parseServiceConfig({ ...VALID, GATE_PRINCIPAL: 'gate' });
    expect(defaults.ok && defaults.config.quotas.gate).toEqual({
      principal: 'gate',
      requestsPerMinute: Number(SERVICE_ENV.QUOTA_GATE_REQUESTS_PER_MINUTE.default),
      storedBytesPerDay: Number(SERVICE_ENV.QUOTA_GATE_STORED_BYTES_PER_DAY.default),
    });
  });

  test('GATE_PRINCIPAL is refused with whitespace, control characters or over 256 characters, naming the rule', () => {
    for (const bad of [
      'gate client',
      ' gate',
      'gate\t',
      'gate\u00a0id',
      'gate\u2028id',
      'gate\u0000id',
      'gate\u007fid',
      'gate\u0085id',
      'x'.repeat(257),
    ]) {
      const r = parseServiceConfig({ ...VALID, GATE_PRINCIPAL: bad });
      expect(!r.ok && r.problems).toEqual([
        { name: 'GATE_PRINCIPAL', problem: 'must be 1-256 characters without whitespace or control characters' },
      ]);
    }
    expect(parseServiceConfig({ ...VALID, GATE_PRINCIPAL: 'x'.repeat(256) }).ok).toBe(true);
  });

  test('every secret variable is required (no default could be a safe secret)', () => {
    for (const name of SECRET_ENV_NAMES) expect(SERVICE_ENV[name].required).toBe(true);
  });
});

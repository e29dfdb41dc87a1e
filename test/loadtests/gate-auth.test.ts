/**
 * The gate authenticates: credentials from the environment (a ready token, or a machine client's
 * OAuth2 client credentials), a token endpoint that fails or a target that answers 401 is a gate
 * error with its own exit code before any load, and no token or client secret reaches a log, a
 * command line or a report.
 *
 * The wrapper runs for real against the real service and the local token issuer. k6 is a recording
 * stand-in there (it proves what k6 would receive); the last suite runs real k6 when K6_BIN or PATH
 * has it, and is skipped loudly otherwise.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GATE_ENV, GATE_EXIT_CODES, GATE_REPORT_FILES } from '../../lib/contract/gate';
import {
  clientCredentialsRequest,
  GateAuthError,
  parseTokenResponse,
  readGateCredentials,
} from '../../loadtests/src/lib/auth';
import { withoutCredentials } from '../../loadtests/src/lib/report';
import { locateK6 } from '../../scripts/gate/locate-k6';
import { ensureServiceBuilt, type LocalIssuer, type LocalStack, startLocalStack } from '../../scripts/harness';

const REPO = path.resolve(__dirname, '..', '..');
const GATE_CLI = path.join(REPO, 'scripts', 'gate.ts');

describe('gate credentials (pure)', () => {
  test('a ready token, or all three client-credential settings, or nothing; never a mix or a part', () => {
    expect(readGateCredentials({})).toEqual({ kind: 'none' });
    expect(readGateCredentials({ [GATE_ENV.authToken]: 'a.b.c' })).toEqual({ kind: 'token', token: 'a.b.c' });
    expect(
      readGateCredentials({
        [GATE_ENV.tokenUrl]: 'https://auth.example.com/oauth2/token',
        [GATE_ENV.clientId]: 'id',
        [GATE_ENV.clientSecret]: 's3cret',
        [GATE_ENV.tokenScope]: 'chat-api/chat',
      }),
    ).toEqual({
      kind: 'clientCredentials',
      tokenUrl: 'https://auth.example.com/oauth2/token',
      clientId: 'id',
      clientSecret: 's3cret',
      scope: 'chat-api/chat',
    });
    expect(() => readGateCredentials({ [GATE_ENV.clientId]: 'id' })).toThrow(
      /incomplete: GATE_TOKEN_URL, GATE_CLIENT_SECRET not set/,
    );
    expect(() =>
      readGateCredentials({
        [GATE_ENV.authToken]: 'a.b.c',
        [GATE_ENV.tokenUrl]: 'https://x/t',
        [GATE_ENV.clientId]: 'i',
        [GATE_ENV.clientSecret]: 's',
      }),
    ).toThrow(GateAuthError);
  });

  test('the client secret travels over TLS, except to a token endpoint on this machine', () => {
    const creds = (url: string) => ({
      [GATE_ENV.tokenUrl]: url,
      [GATE_ENV.clientId]: 'i',
      [GATE_ENV.clientSecret]: 'never-printed',
    });
    expect(() => readGateCredentials(creds('http://auth.example.com/oauth2/token'))).toThrow(/must be an https URL/);
    expect(readGateCredentials(creds('http://127.0.0.1:4000/oauth2/token')).kind).toBe('clientCredentials');
    try {
      readGateCredentials(creds('http://auth.example.com/t'));
    } catch (error) {
      expect(String(error)).not.toContain('never-printed');
    }
  });

  test('the token request is RFC 6749 client credentials with HTTP Basic client authentication', () => {
    const request = clientCredentialsRequest({
      kind: 'clientCredentials',
      tokenUrl: 'https://auth.example.com/oauth2/token',
      clientId: 'client id/ü',
      clientSecret: 'p@ss:word',
      scope: 'chat-api/chat',
    });
    expect(request.body).toBe('grant_type=client_credentials&scope=chat-api%2Fchat');
    const basic = Buffer.from(
      `${encodeURIComponent('client id/ü')}:${encodeURIComponent('p@ss:word')}`,
      'utf8',
    ).toString('base64');
    expect(request.headers.authorization).toBe(`Basic ${basic}`);
    expect(request.headers['content-type']).toBe('application/x-www-form-urlencoded');
  });

  test("a token endpoint's failure is described by status and OAuth error code only, never its body", () => {
    expect(parseTokenResponse(200, '{"access_token":"a.b.c","token_type":"Bearer"}')).toEqual({
      ok: true,
      token: 'a.b.c',
    });
    expect(parseTokenResponse(401, '{"error":"invalid_client","detail":"secret xyz"}')).toEqual({
      ok: false,
      problem: 'the token endpoint answered 401 (invalid_client)',
    });
    expect(parseTokenResponse(0, null)).toEqual({ ok: false, problem: 'the token endpoint did not answer' });
    expect(parseTokenResponse(200, '<html>')).toMatchObject({ ok: false });
  });

  test('the summary loses the token before any report is built', () => {
    const data = { metrics: {}, setup_data: { runId: 'r', bearerHeader: 'Bearer secret-token' } };
    expect(JSON.stringify(withoutCredentials(data))).not.toContain('secret-token');
    expect(withoutCredentials(data).setup_data).toEqual({ runId: 'r' });
  });
});

interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

describe('npm run gate against the real service and the local token issuer', () => {
  let stack: LocalStack;
  let issuer: LocalIssuer;
  let dir: string;
  let fakeK6: string;
  let record: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'gate-auth-'));
    record = path.join(dir, 'k6-saw.txt');
    fakeK6 = path.join(dir, 'k6');
    // Records its command line and its environment, then exits 0, like a passing k6.
    writeFileSync(
      fakeK6,
      ['#!/bin/sh', 'printf "%s\\n" "$@" > "$K6_RECORD"', 'env >> "$K6_RECORD"', 'exit 0', ''].join('\n'),
    );
    chmodSync(fakeK6, 0o755);
    stack = await startLocalStack({ bundle: await ensureServiceBuilt() });
    issuer = stack.issuer as LocalIssuer;
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => rmSync(record, { force: true }));

  function runCli(env: Record<string, string>): Promise<CliRun> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', GATE_CLI, '--target', stack.url as string, '--out', path.join(dir, 'reports')],
        {
          cwd: REPO,
          env: { PATH: process.env.PATH ?? '', HOME: dir, K6_BIN: fakeK6, K6_RECORD: record, ...env },
          timeout: 60_000,
        },
        (error, stdout, stderr) => {
          resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
        },
      );
    });
  }

  const clientCredentials = (secret = issuer.gateClient.clientSecret) => ({
    [GATE_ENV.tokenUrl]: issuer.tokenUrl,
    [GATE_ENV.clientId]: issuer.gateClient.clientId,
    [GATE_ENV.clientSecret]: secret,
  });

  test('without credentials: a gate error with its own exit code, and no load was sent', async () => {
    const llmCalls = stack.llm.stats().ok;
    const run = await runCli({});
    expect(run.code).toBe(GATE_EXIT_CODES.authFailed);
    expect(run.stderr).toMatch(
      /authentication failed, no load was sent: the target requires a bearer token \(reason: missing\)/,
    );
    expect(existsSync(record)).toBe(false);
    expect(stack.llm.stats().ok).toBe(llmCalls);
  });

  test('with a wrong client secret, or an expired token: the same exit code, and no secret printed', async () => {
    const wrongSecret = 'wrong-secret-aaaaaaaaaaaaaaaa';
    const wrong = await runCli(clientCredentials(wrongSecret));
    expect(wrong.code).toBe(GATE_EXIT_CODES.authFailed);
    expect(wrong.stderr).toContain('the token endpoint answered 401 (invalid_client)');
    expect(`${wrong.stdout}${wrong.stderr}`).not.toContain(wrongSecret);

    const expired = issuer.mint({ sub: issuer.gateClient.clientId, expiresInSeconds: -300 });
    const late = await runCli({ [GATE_ENV.authToken]: expired });
    expect(late.code).toBe(GATE_EXIT_CODES.authFailed);
    expect(late.stderr).toContain("the target rejected the gate's token (reason: expired)");
    expect(`${late.stdout}${late.stderr}`).not.toContain(expired);
    expect(existsSync(record)).toBe(false);
  });

  test('with client credentials: k6 runs, gets them from its environment, never on its command line', async () => {
    const run = await runCli(clientCredentials());
    expect(run.code).toBe(GATE_EXIT_CODES.pass);
    expect(run.stdout).toContain(`gate: authenticating with a client-credentials token from ${issuer.tokenUrl}`);
    const saw = readFileSync(record, 'utf8');
    const [commandLine] = saw.split(/\n(?=[A-Z_]+=)/);
    expect(commandLine).not.toContain(issuer.gateClient.clientSecret);
    expect(saw).toContain(`${GATE_ENV.clientSecret}=${issuer.gateClient.clientSecret}`);
    expect(`${run.stdout}${run.stderr}`).not.toContain(issuer.gateClient.clientSecret);
  });
});

const k6 = locateK6(process.env);
if (!k6.found) console.warn(`SKIPPED: the gate-authentication runs with real k6 did not run: ${k6.message}`);
const describeWithK6 = k6.found ? describe : describe.skip;

describeWithK6(
  k6.found
    ? 'real k6 fetches its token in setup() (as the in-AWS runner does)'
    : 'SKIPPED (no k6 on K6_BIN or PATH): real k6 fetches its token in setup() (as the in-AWS runner does)',
  () => {
    let stack: LocalStack;
    let issuer: LocalIssuer;
    let dir: string;

    beforeAll(async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'gate-auth-k6-'));
      stack = await startLocalStack({
        bundle: await ensureServiceBuilt(),
        llm: { latencyMs: 60, jitterMs: 20 },
        serviceEnv: { RATE_LIMIT_PER_MINUTE: '1000' },
      });
      issuer = stack.issuer as LocalIssuer;
    }, 180_000);

    afterAll(async () => {
      await stack?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    function runGate(env: Record<string, string>, outDir: string): Promise<CliRun> {
      return new Promise((resolve) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', GATE_CLI, '--target', stack.url as string, '--profile', 'smoke', '--out', outDir],
          {
            cwd: REPO,
            env: { PATH: process.env.PATH ?? '', HOME: dir, K6_BIN: k6.found ? k6.path : '', ...env },
            timeout: 150_000,
            maxBuffer: 32 * 1024 * 1024,
          },
          (error, stdout, stderr) =>
            resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
        );
      });
    }

    test('with the machine client the smoke gate passes, and neither the secret nor a token is in any report', async () => {
      const outDir = mkdtempSync(path.join(dir, 'out-'));
      const run = await runGate(
        {
          [GATE_ENV.tokenUrl]: issuer.tokenUrl,
          [GATE_ENV.clientId]: issuer.gateClient.clientId,
          [GATE_ENV.clientSecret]: issuer.gateClient.clientSecret,
        },
        outDir,
      );
      expect({ code: run.code, tail: run.stdout.slice(-1500) }).toEqual({ code: 0, tail: expect.any(String) });
      const written = readdirSync(outDir).map((f) => readFileSync(path.join(outDir, f), 'utf8'));
      expect(written.length).toBeGreaterThanOrEqual(2);
      expect(readdirSync(outDir)).toEqual(expect.arrayContaining([GATE_REPORT_FILES.json, GATE_REPORT_FILES.junit]));
      for (const text of [...written, run.stdout, run.stderr]) {
        expect(text).not.toContain(issuer.gateClient.clientSecret);
        expect(text).not.toMatch(/Bearer [A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\./);
      }
    });
  },
);

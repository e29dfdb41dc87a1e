import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { classifyGateExit, GATE_ENV, GATE_EXIT_CODES } from '../../lib/contract/gate';
import { parseGateArgs } from '../../scripts/gate/args';
import {
  buildK6Invocation,
  describeK6Exit,
  formatCommand,
  refusedEnvironment,
  validateGateInputs,
} from '../../scripts/gate/k6-command';
import { locateK6 } from '../../scripts/gate/locate-k6';

const REPO = path.resolve(__dirname, '..', '..');
const GATE_CLI = path.join(REPO, 'scripts', 'gate.ts');

describe('gate CLI arguments', () => {
  test('reads target, profile, expected version, out dir and run id', () => {
    expect(
      parseGateArgs([
        '--target',
        'http://127.0.0.1:8080/',
        '--profile',
        'heavy',
        '--expected-version=1.2.3',
        '--out',
        'out/gate',
        '--run-id',
        'ci-9',
      ]),
    ).toEqual({
      kind: 'run',
      options: {
        target: 'http://127.0.0.1:8080',
        profile: 'heavy',
        expectedVersion: '1.2.3',
        outDir: 'out/gate',
        runId: 'ci-9',
      },
    });
  });

  test('defaults to the smoke profile, no version check and reports/gate', () => {
    expect(parseGateArgs(['--target', 'https://gate.example.com'])).toEqual({
      kind: 'run',
      options: { target: 'https://gate.example.com', profile: 'smoke', outDir: 'reports/gate' },
    });
  });

  test.each([
    [[], '--target URL is required'],
    [['--target', 'not a url'], 'is not a URL'],
    [['--target', 'ftp://x'], 'http:// or https://'],
    [['--target', 'http://x', '--profile', 'nightly'], 'is not a profile'],
    [['--target', 'http://x', '--expected-version', ''], 'empty'],
    [['--target', 'http://x', '--expect-version', '1'], "Unknown option '--expect-version'"],
    [['--target', 'http://x', 'extra'], 'positional'],
    [['--target', 'http://x', '--run-id', 'a b'], '--run-id'],
  ])('%j is a usage error (%s)', (argv, message) => {
    const parsed = parseGateArgs(argv);
    expect(parsed.kind).toBe('error');
    if (parsed.kind === 'error') expect(parsed.message).toContain(message);
  });

  test('the k6 command passes every gate input by its contract name, script last', () => {
    const invocation = buildK6Invocation(
      {
        target: 'http://127.0.0.1:8080',
        profile: 'light',
        expectedVersion: '1.2.3',
        outDir: 'r',
        runId: 'ci-9',
        outDirAbsolute: '/abs/r',
      },
      '/repo/loadtests/dist/gate.js',
      { [GATE_ENV.maxP95Ms]: '900', [GATE_ENV.serviceName]: 'chat-api-dev', UNRELATED: 'x' },
    );
    expect(invocation.args).toEqual([
      'run',
      '-e',
      `${GATE_ENV.baseUrl}=http://127.0.0.1:8080`,
      '-e',
      `${GATE_ENV.profile}=light`,
      '-e',
      `${GATE_ENV.expectedVersion}=1.2.3`,
      '-e',
      `${GATE_ENV.runId}=ci-9`,
      '-e',
      `${GATE_ENV.outDir}=/abs/r`,
      '-e',
      `${GATE_ENV.maxP95Ms}=900`,
      '-e',
      `${GATE_ENV.serviceName}=chat-api-dev`,
      '/repo/loadtests/dist/gate.js',
    ]);
  });

  test('inputs are validated with the k6 script own rules before k6 starts', () => {
    const base = { [GATE_ENV.baseUrl]: 'http://127.0.0.1:8080', [GATE_ENV.profile]: 'smoke' };
    expect(validateGateInputs(base)).toEqual([]);
    expect(validateGateInputs({ ...base, [GATE_ENV.minCacheHitRate]: '0.2' })).toEqual([
      expect.stringContaining('would loosen'),
    ]);
  });

  test('refuses an environment that would switch thresholds or reports off, or split the run', () => {
    expect(
      refusedEnvironment({ K6_NO_THRESHOLDS: 'true', K6_NO_SUMMARY: '1', [GATE_ENV.executionSegment]: '0:1/2' }),
    ).toHaveLength(3);
    expect(refusedEnvironment({ K6_NO_THRESHOLDS: 'false' })).toEqual([]);
  });

  test('the printed command is copy-pasteable', () => {
    expect(formatCommand('/usr/bin/k6', ['run', '-e', 'EXPECTED_VERSION=1.0 beta', 'x.js'])).toBe(
      "/usr/bin/k6 run -e 'EXPECTED_VERSION=1.0 beta' x.js",
    );
  });
});

describe('exit codes', () => {
  test('0 is a pass, 99 a fail, everything else a gate error, and the wrapper says which in one line', () => {
    expect(describeK6Exit(0)).toMatch(/^gate PASS/);
    expect(describeK6Exit(99)).toMatch(/^gate FAIL/);
    for (const code of [1, 97, 104, 105, 107, 108, 109, 110, 200]) {
      expect(describeK6Exit(code)).toMatch(new RegExp(`^gate ERROR: k6 exited ${code} \\(.+\\); this is a gate error`));
      expect(describeK6Exit(code).split('\n')).toHaveLength(1);
      expect(classifyGateExit(code)).toBe('error');
    }
    expect(describeK6Exit(108)).toContain('not ready');
    expect(describeK6Exit(143, 'SIGTERM')).toContain('killed by SIGTERM');
  });

  test('the wrapper own codes are distinct from k6 codes and from 0', () => {
    const wrapperCodes = [GATE_EXIT_CODES.usage, GATE_EXIT_CODES.k6NotFound, GATE_EXIT_CODES.wrapperError];
    expect(new Set(wrapperCodes).size).toBe(3);
    for (const code of wrapperCodes) {
      expect(code).not.toBe(0);
      expect(code < 97 || code > 110).toBe(true);
    }
  });
});

describe('the gate CLI as a process, with a fake k6', () => {
  let dir: string;
  let fakeK6: string;
  let argsFile: string;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'gate-cli-'));
    argsFile = path.join(dir, 'args.txt');
    fakeK6 = path.join(dir, 'k6');
    // Records its arguments, prints a progress line, then exits as told (or kills itself).
    writeFileSync(
      fakeK6,
      [
        '#!/bin/sh',
        'printf "%s\\n" "$@" > "$FAKE_K6_ARGS"',
        'echo "fake k6: running (00m01.0s), 5/5 VUs"',
        'if [ -n "$FAKE_K6_SIGNAL" ]; then kill -s "$FAKE_K6_SIGNAL" $$; fi',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not JavaScript
        'exit "${FAKE_K6_EXIT:-0}"',
        '',
      ].join('\n'),
    );
    chmodSync(fakeK6, 0o755);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function runCli(
    argv: string[],
    env: Record<string, string | undefined>,
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const childEnv: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? dir };
      for (const [k, v] of Object.entries(env)) if (v !== undefined) childEnv[k] = v;
      execFile(
        process.execPath,
        ['--import', 'tsx', GATE_CLI, ...argv],
        { cwd: REPO, env: childEnv, timeout: 30_000 },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }

  const target = ['--target', 'http://127.0.0.1:9', '--out', 'OUT'];
  const withOut = (argv: string[]) => argv.map((a) => (a === 'OUT' ? path.join(dir, 'reports') : a));

  test.each([
    [0, /^gate PASS/m],
    [99, /^gate FAIL: k6 exited 99/m],
    [107, /^gate ERROR: k6 exited 107 \(script error/m],
    [108, /^gate ERROR: k6 exited 108/m],
  ])('k6 exiting %i makes the wrapper exit with exactly that code', async (k6Code, line) => {
    const result = await runCli(withOut([...target, '--profile', 'light', '--expected-version', '2.0.0']), {
      K6_BIN: fakeK6,
      FAKE_K6_ARGS: argsFile,
      FAKE_K6_EXIT: String(k6Code),
    });
    expect(result.code).toBe(k6Code);
    expect(result.stdout).toMatch(line);
    expect(result.stdout).toContain('fake k6: running'); // k6 output is streamed through
    expect(result.stdout).toMatch(/^gate: running .*\/k6 run -e BASE_URL=http:\/\/127\.0\.0\.1:9 /m);
    expect(result.stdout).toMatch(/^gate: time to verdict \d+\.\d s/m);
    const args = readFileSync(argsFile, 'utf8').trim().split('\n');
    expect(args).toEqual(
      expect.arrayContaining([
        'run',
        'PROFILE=light',
        'EXPECTED_VERSION=2.0.0',
        `OUT_DIR=${path.join(dir, 'reports')}`,
      ]),
    );
    expect(args.at(-1)).toBe(path.join(REPO, 'loadtests', 'dist', 'gate.js'));
  });

  test('k6 killed by a signal is a gate error with 128 + the signal number, never 0', async () => {
    const result = await runCli(withOut(target), { K6_BIN: fakeK6, FAKE_K6_ARGS: argsFile, FAKE_K6_SIGNAL: 'TERM' });
    expect(result.code).toBe(128 + 15);
    expect(result.stdout).toContain('gate ERROR: k6 was killed by SIGTERM');
  });

  test('K6_BIN pointing at nothing: a clear message and the k6-not-found code', async () => {
    const result = await runCli(withOut(target), { K6_BIN: path.join(dir, 'no-such-k6') });
    expect(result.code).toBe(GATE_EXIT_CODES.k6NotFound);
    expect(result.stderr).toContain('k6 not found: K6_BIN=');
  });

  test('no K6_BIN and no k6 on PATH: a clear message and the k6-not-found code', async () => {
    const result = await runCli(withOut(target), { PATH: dir.replace(/$/, '/empty') });
    expect(result.code).toBe(GATE_EXIT_CODES.k6NotFound);
    expect(result.stderr).toContain('k6 not found: set K6_BIN');
  });

  test('k6 on PATH is found when K6_BIN is not set', async () => {
    const result = await runCli(withOut(target), {
      PATH: `${dir}${path.delimiter}${process.env.PATH}`,
      FAKE_K6_ARGS: argsFile,
      FAKE_K6_EXIT: '99',
    });
    expect(result.code).toBe(99);
  });

  test.each([
    [['--profile', 'smoke'], {}, '--target URL is required'],
    [['--target', 'http://127.0.0.1:9', '--bogus'], {}, 'Unknown option'],
    [['--target', 'http://127.0.0.1:9'], { MIN_SUCCESS_RATE: '0.5' }, 'would loosen'],
    [['--target', 'http://127.0.0.1:9'], { K6_NO_THRESHOLDS: 'true' }, 'cannot fail'],
    [['--help'], {}, 'usage: npm run gate'],
  ])('%j with %j exits with the usage code before k6 runs', async (argv, env, message) => {
    const result = await runCli(argv, { K6_BIN: fakeK6, FAKE_K6_ARGS: path.join(dir, 'never.txt'), ...env });
    expect(result.code).toBe(GATE_EXIT_CODES.usage);
    expect(result.stderr).toContain(message);
    expect(() => readFileSync(path.join(dir, 'never.txt'))).toThrow();
  });
});

describe('locating k6', () => {
  test('an explicit K6_BIN that is not executable is an error, not a fallback to PATH', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gate-k6-'));
    try {
      const file = path.join(dir, 'k6');
      writeFileSync(file, '#!/bin/sh\n');
      chmodSync(file, 0o644);
      expect(locateK6({ K6_BIN: file, PATH: process.env.PATH })).toMatchObject({ found: false });
      chmodSync(file, 0o755);
      expect(locateK6({ K6_BIN: file })).toEqual({ found: true, path: file, source: 'K6_BIN' });
      expect(locateK6({ PATH: `/nonexistent${path.delimiter}${dir}` })).toEqual({
        found: true,
        path: file,
        source: 'PATH',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  createLogger,
  isoTimestamp,
  LOG_WRITE_SPACING_MS,
  stdoutDestination,
} from '../../service/src/observability/logger';

afterEach(() => jest.restoreAllMocks());

test('a burst of log lines never writes on the event loop: one write in flight, the rest joined into the next, in order', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'log-dest-'));
  const file = path.join(dir, 'out.log');
  const fd = fs.openSync(file, 'w');
  // The module object sonic-boom calls (`import * as fs` is a copy of its exports under the test transform).
  const nodeFs = require('node:fs') as typeof fs;
  const writes = jest.spyOn(nodeFs, 'write');
  const syncWrites = jest.spyOn(nodeFs, 'writeSync');
  const logger = createLogger({ level: 'info', write: stdoutDestination(fd) });

  for (let i = 0; i < 200; i++) logger.info('line', { i });
  // Within the turn: no synchronous write, and only the first line's write was handed to the OS.
  expect(syncWrites).not.toHaveBeenCalled();
  expect(writes.mock.calls.length).toBe(1);

  const written = () => fs.readFileSync(file, 'utf8').split('\n').length - 1;
  for (let waited = 0; written() < 200 && waited < 5_000; waited += 10) await new Promise((r) => setTimeout(r, 10));
  // The other 199 lines went out together once that write completed.
  expect(writes.mock.calls.length).toBeLessThanOrEqual(2);
  expect(syncWrites).not.toHaveBeenCalled();
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  expect(lines.map((l) => (JSON.parse(l) as { i: number }).i)).toEqual([...Array(200).keys()]);
  fs.closeSync(fd);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a steady stream of lines is written at most once per LOG_WRITE_SPACING_MS, in order; a line after a quiet spell at once', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'log-spacing-'));
  const file = path.join(dir, 'out.log');
  const fd = fs.openSync(file, 'w');
  const writeStarts: number[] = [];
  // The module object sonic-boom calls (`import * as fs` is a copy of its exports under the test transform).
  const nodeFs = require('node:fs') as typeof fs;
  const realWrite = nodeFs.write;
  jest.spyOn(nodeFs, 'write').mockImplementation(((...args: Parameters<typeof fs.write>) => {
    writeStarts.push(performance.now());
    return (realWrite as (...a: unknown[]) => void)(...args);
  }) as typeof fs.write);
  const logger = createLogger({ level: 'info', write: stdoutDestination(fd) });
  const written = () => fs.readFileSync(file, 'utf8').split('\n').length - 1;

  // One line every millisecond or so for 200 ms (fewer on a busy machine: the property is the same).
  let n = 0;
  for (const until = performance.now() + 200; performance.now() < until; n++) {
    logger.info('line', { i: n });
    await new Promise((r) => setTimeout(r, 1));
  }
  for (let waited = 0; written() < n && waited < 5_000; waited += 10) await new Promise((r) => setTimeout(r, 10));
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  expect(lines.map((l) => (JSON.parse(l) as { i: number }).i)).toEqual([...Array(n).keys()]);
  // Each write started at least the spacing after the one before it (timers may fire up to 1 ms early).
  for (let i = 1; i < writeStarts.length; i++) {
    expect((writeStarts[i] as number) - (writeStarts[i - 1] as number)).toBeGreaterThanOrEqual(
      LOG_WRITE_SPACING_MS - 1,
    );
  }
  expect(writeStarts.length).toBeLessThan(n);

  // After a quiet spell, a line goes to the OS within the call.
  await new Promise((r) => setTimeout(r, 5 * LOG_WRITE_SPACING_MS));
  const before = writeStarts.length;
  logger.info('after a pause');
  expect(writeStarts.length).toBe(before + 1);
  for (let waited = 0; written() < n + 1 && waited < 5_000; waited += 10) await new Promise((r) => setTimeout(r, 10));
  expect(written()).toBe(n + 1);
  fs.closeSync(fd);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a secret installed after start (a rotation) is redacted too, raw or JSON-escaped; no pid or hostname', () => {
  const lines: string[] = [];
  let secrets: readonly string[] = ['first-secret'];
  const logger = createLogger({ level: 'info', write: (l) => lines.push(l), secrets: () => secrets });
  logger.info('connect', { detail: 'password=first-secret' });
  secrets = [...secrets, 'rotated"secret'];
  logger.child({ request_id: 'r1' }).warn('retry', { error: new Error('auth rotated"secret failed') });
  expect(lines.join('')).not.toContain('first-secret');
  expect(lines.join('')).not.toContain('rotated');
  const [first, second = {}] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(first).toEqual({ level: 'info', time: expect.any(String), msg: 'connect', detail: 'password=[REDACTED]' });
  expect(second).toMatchObject({ level: 'warn', request_id: 'r1', msg: 'retry', error: { name: 'Error' } });
  expect((second.error as { message: string }).message).toContain('[REDACTED]');
});

test("the time field is pino's isoTime, to the millisecond, across seconds, days and years", () => {
  let now = 0;
  const time = isoTimestamp(() => now);
  // What pino.stdTimeFunctions.isoTime writes at `ms`.
  const expected = (ms: number) => `,"time":"${new Date(ms).toISOString()}"`;
  const start = Date.UTC(2026, 11, 31, 23, 59, 58, 990);
  for (const ms of [0, 1, 9, 10, 99, 100, 999, 1000, 1_767_225_600_000, Date.now()]) {
    now = ms;
    expect(time()).toBe(expected(ms));
  }
  for (let ms = start; ms < start + 2_100; ms += 7) {
    now = ms;
    expect(time()).toBe(expected(ms));
  }
});

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createLogger, stdoutDestination } from '../../service/src/observability/logger';

afterEach(() => jest.restoreAllMocks());

test('a burst of log lines never writes on the event loop: one write in flight, the rest joined into the next, in order', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'log-dest-'));
  const file = path.join(dir, 'out.log');
  const fd = fs.openSync(file, 'w');
  const writes = jest.spyOn(fs, 'write');
  const syncWrites = jest.spyOn(fs, 'writeSync');
  const destination = stdoutDestination(fd);
  const logger = createLogger({ level: 'info', write: destination });

  for (let i = 0; i < 200; i++) logger.info('line', { i });
  // Within the turn: no synchronous write, and only the first line's write was handed to the OS.
  expect(syncWrites).not.toHaveBeenCalled();
  expect(writes.mock.calls.length).toBeLessThanOrEqual(1);

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

/**
 * Structured JSON logs, one object per line on stdout (CloudWatch Logs via the awslogs driver),
 * written by pino (Fastify's own logger) to its asynchronous stdout destination.
 *
 * Rules the callers follow, and this module enforces where it can:
 * - every request-scoped line carries `request_id` (use `child({ request_id })`);
 * - a user message is never logged, only its length;
 * - a secret is never logged: the logger knows the current secret values (read on every line, so
 *   values installed by a rotation count) and replaces any occurrence in a line with `[REDACTED]`
 *   as a last line of defence.
 *
 * The `Logger` interface keeps the message first (`info(msg, fields)`), as every caller writes it;
 * pino's own order is `info(fields, msg)`.
 */
import pino, { type DestinationStream } from 'pino';
import type { LogLevel } from '../../../lib/contract';

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  isLevelEnabled(level: LogLevel): boolean;
  child(bindings: LogFields): Logger;
}

/** Where log and EMF lines go: anything with `write(line)`, e.g. `stdoutDestination()`. */
export type LineDestination = DestinationStream;

export interface LoggerOptions {
  readonly level: LogLevel;
  /** Where lines go: `stdoutDestination()` by default; tests pass a function that collects lines. */
  readonly write?: LineDestination | ((line: string) => void);
  /** Values that must never appear in a line (read on every write, so refreshed secrets count). */
  readonly secrets?: () => readonly string[];
  readonly base?: LogFields;
}

/**
 * After a write completes, the next one waits this long; the lines that arrive meanwhile are joined
 * into it. A line after a quiet spell is written at once.
 */
export const LOG_WRITE_SPACING_MS = 10;

/**
 * stdout (or another file descriptor) through sonic-boom without `sync`: the write syscall runs off
 * the event loop (a pipe to the container's log driver that falls behind never blocks a request),
 * at most one write is in flight, and the lines that arrive meanwhile are joined into the next one.
 * Whatever is still queued is written synchronously on process exit (pino registers that for its
 * destinations).
 *
 * Writes are spaced by {@link LOG_WRITE_SPACING_MS}: sonic-boom starts the next write as soon as one
 * completes, which under load is one write (a thread-pool hand-off and a wake-up) per request; the
 * bench's profile of the hit path showed that as its largest cost above the floor. Spaced, a busy
 * task writes at most 100 times a second, and a line waits at most that long.
 *
 * The lines that wait are kept in an array and joined once, when the next write starts: handed to
 * sonic-boom one by one, each would be appended to one growing string whose UTF-8 length sonic-boom
 * measures again on every line (a copy and a scan of the whole batch per line, a few µs per request
 * at the bench's rate).
 */
export function stdoutDestination(fd = 1): LineDestination & { flush(cb?: (err?: Error) => void): void } {
  const destination = pino.destination({ dest: fd, sync: false });
  // sonic-boom's completion callback (given to fs.write as `this.release`, read at each write) and
  // its flag for a write in flight (which stays set while the next write is spaced).
  const boom = destination as typeof destination & {
    release?: (err: Error | null, n: number) => void;
    _writing?: boolean;
  };
  const release = boom.release;
  if (typeof release !== 'function' || typeof boom._writing !== 'boolean') return destination;
  const write = boom.write.bind(boom);
  const flush = boom.flush.bind(boom);
  const flushSync = boom.flushSync.bind(boom);
  let waiting: string[] = [];
  const handOver = () => {
    if (waiting.length === 0) return;
    const lines = waiting.length === 1 ? (waiting[0] as string) : waiting.join('');
    waiting = [];
    write(lines);
  };
  boom.write = (line: string) => {
    waiting.push(line);
    // Idle: the line is written at once. Busy: it waits for the next write, after the spacing.
    if (!boom._writing) handOver();
    return true;
  };
  boom.release = (err, n) => {
    // Errors (EAGAIN retries included) are handled at once, as sonic-boom does.
    if (err) release(err, n);
    else
      setTimeout(() => {
        handOver();
        release(err, n);
      }, LOG_WRITE_SPACING_MS).unref();
  };
  // The exit hook pino registered (flushSync) and an explicit flush write the waiting lines too.
  boom.flushSync = () => {
    handOver();
    flushSync();
  };
  boom.flush = (cb) => {
    handOver();
    flush(cb);
  };
  return destination;
}

/**
 * pino's `stdTimeFunctions.isoTime` (`,"time":"2026-01-01T12:00:00.000Z"`), the same text, with the
 * part up to the second made once a second: `toISOString` on every line cost about 0.7 µs of the
 * access line. (`now` is for tests.)
 */
export function isoTimestamp(now: () => number = Date.now): () => string {
  let second = Number.NaN;
  let head = '';
  return () => {
    const ms = now();
    const s = Math.floor(ms / 1000);
    if (s !== second) {
      second = s;
      // "2026-01-01T12:00:00.000Z" without "000Z".
      head = `,"time":"${new Date(s * 1000).toISOString().slice(0, -4)}`;
    }
    const milli = ms - s * 1000;
    return `${head}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z"`;
  };
}

/** Errors become `{name, message, code}`; a stack only at debug level (it can be long, never secret). */
function serializeError(err: Error, withStack: boolean): LogFields {
  const e = err as Error & { code?: unknown };
  return {
    name: e.name,
    message: e.message,
    ...(e.code === undefined ? {} : { code: e.code }),
    ...(withStack && e.stack ? { stack: e.stack } : {}),
  };
}

/** A secret with quotes or backslashes appears JSON-escaped in a line. */
function redactionForms(current: readonly string[]): string[] {
  return [...new Set(current.filter((s) => s.length >= 4).flatMap((s) => [s, JSON.stringify(s).slice(1, -1)]))];
}

/** Replaces every current secret value in a serialized line; the forms are recomputed only when the list changes. */
function redactor(secrets: () => readonly string[]): (line: string) => string {
  let cachedFor: readonly string[] | undefined;
  let forms: string[] = [];
  return (line) => {
    const current = secrets();
    if (current !== cachedFor) {
      cachedFor = current;
      forms = redactionForms(current);
    }
    let out = line;
    for (const form of forms) {
      if (out.includes(form)) out = out.split(form).join('[REDACTED]');
    }
    return out;
  };
}

/** Adapts pino to the message-first interface. Methods on the prototype: a per-request child is one small object. */
class PinoLogger implements Logger {
  constructor(private readonly p: pino.Logger) {}

  debug(msg: string, fields?: LogFields): void {
    if (fields) this.p.debug(fields, msg);
    else this.p.debug(msg);
  }
  info(msg: string, fields?: LogFields): void {
    if (fields) this.p.info(fields, msg);
    else this.p.info(msg);
  }
  warn(msg: string, fields?: LogFields): void {
    if (fields) this.p.warn(fields, msg);
    else this.p.warn(msg);
  }
  error(msg: string, fields?: LogFields): void {
    if (fields) this.p.error(fields, msg);
    else this.p.error(msg);
  }
  isLevelEnabled(level: LogLevel): boolean {
    return this.p.isLevelEnabled(level);
  }
  child(bindings: LogFields): Logger {
    return new PinoLogger(this.p.child(bindings));
  }
}

export function createLogger(options: LoggerOptions): Logger {
  const withStack = options.level === 'debug';
  const write = options.write ?? stdoutDestination();
  const destination: LineDestination = typeof write === 'function' ? { write } : write;
  const p = pino(
    {
      level: options.level,
      // No pid/hostname: the log stream already names the task.
      base: options.base ?? null,
      timestamp: isoTimestamp(),
      messageKey: 'msg',
      formatters: {
        level: (label) => ({ level: label }),
        log: (fields) => {
          let out: LogFields | undefined;
          for (const key in fields) {
            const value = fields[key];
            if (value instanceof Error) {
              out ??= { ...fields };
              out[key] = serializeError(value, withStack);
            }
          }
          return out ?? fields;
        },
      },
      ...(options.secrets ? { hooks: { streamWrite: redactor(options.secrets) } } : {}),
    },
    destination,
  );
  return new PinoLogger(p);
}

/** A logger that drops everything (unit tests that don't look at logs). */
export const silentLogger: Logger = createLogger({ level: 'error', write: () => undefined });

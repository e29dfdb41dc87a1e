/**
 * Structured JSON logs, one object per line on stdout (CloudWatch Logs via the awslogs driver).
 *
 * Rules the callers follow, and this module enforces where it can:
 * - every request-scoped line carries `request_id` (use `child({ request_id })`);
 * - a user message is never logged, only its length;
 * - a secret is never logged: the logger knows the current secret values and replaces any
 *   occurrence in a line with `[REDACTED]` as a last line of defence.
 */
import { LOG_LEVELS, type LogLevel } from '../../../lib/contract';

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  isLevelEnabled(level: LogLevel): boolean;
  child(bindings: LogFields): Logger;
}

export interface LoggerOptions {
  readonly level: LogLevel;
  /** Where lines go; `process.stdout.write` by default. */
  readonly write?: (line: string) => void;
  /** Values that must never appear in a line (read on every write, so refreshed secrets count). */
  readonly secrets?: () => readonly string[];
  readonly base?: LogFields;
}

const RANK: Record<LogLevel, number> = Object.fromEntries(LOG_LEVELS.map((l, i) => [l, i])) as Record<LogLevel, number>;

/** Errors become `{name, message, code}`; a stack only at debug level (it can be long, never secret). */
function serializeError(err: unknown, withStack: boolean): unknown {
  if (!(err instanceof Error)) return err;
  const e = err as Error & { code?: unknown };
  return {
    name: e.name,
    message: e.message,
    ...(e.code === undefined ? {} : { code: e.code }),
    ...(withStack && e.stack ? { stack: e.stack } : {}),
  };
}

export function createLogger(options: LoggerOptions): Logger {
  const write = options.write ?? ((line: string) => process.stdout.write(line));
  const secrets = options.secrets ?? (() => []);
  const threshold = RANK[options.level];
  const withStack = options.level === 'debug';

  const make = (bindings: LogFields): Logger => {
    const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
      if (RANK[level] < threshold) return;
      const record: LogFields = { time: new Date().toISOString(), level, msg, ...bindings };
      if (fields) {
        for (const key of Object.keys(fields)) {
          const value = fields[key];
          record[key] = value instanceof Error ? serializeError(value, withStack) : value;
        }
      }
      let line = JSON.stringify(record);
      for (const secret of secrets()) {
        if (secret.length < 4) continue;
        // A secret with quotes or backslashes appears JSON-escaped in the line.
        for (const form of [secret, JSON.stringify(secret).slice(1, -1)]) {
          if (line.includes(form)) line = line.split(form).join('[REDACTED]');
        }
      }
      write(`${line}\n`);
    };
    return {
      debug: (msg, fields) => emit('debug', msg, fields),
      info: (msg, fields) => emit('info', msg, fields),
      warn: (msg, fields) => emit('warn', msg, fields),
      error: (msg, fields) => emit('error', msg, fields),
      isLevelEnabled: (level) => RANK[level] >= threshold,
      child: (more) => make({ ...bindings, ...more }),
    };
  };
  return make(options.base ?? {});
}

/** A logger that drops everything (unit tests that don't look at logs). */
export const silentLogger: Logger = createLogger({ level: 'error', write: () => undefined });

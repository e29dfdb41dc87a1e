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

interface Shared {
  readonly write: (line: string) => void;
  readonly secrets: () => readonly string[];
  readonly threshold: number;
  readonly withStack: boolean;
  /** The redaction forms of the current secrets, recomputed only when the list changes. */
  cachedFor: readonly string[] | undefined;
  forms: string[];
}

function redactionForms(shared: Shared): string[] {
  const current = shared.secrets();
  if (current !== shared.cachedFor) {
    shared.cachedFor = current;
    // A secret with quotes or backslashes appears JSON-escaped in a line.
    shared.forms = [
      ...new Set(current.filter((s) => s.length >= 4).flatMap((s) => [s, JSON.stringify(s).slice(1, -1)])),
    ];
  }
  return shared.forms;
}

/** Methods live on the prototype: a per-request child costs one small object, no closures. */
class JsonLogger implements Logger {
  constructor(
    private readonly shared: Shared,
    private readonly bindings: LogFields,
  ) {}

  debug(msg: string, fields?: LogFields): void {
    this.emit('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.emit('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.emit('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.emit('error', msg, fields);
  }
  isLevelEnabled(level: LogLevel): boolean {
    return RANK[level] >= this.shared.threshold;
  }
  child(bindings: LogFields): Logger {
    return new JsonLogger(this.shared, { ...this.bindings, ...bindings });
  }

  private emit(level: LogLevel, msg: string, fields?: LogFields): void {
    const shared = this.shared;
    if (RANK[level] < shared.threshold) return;
    const record: LogFields = { time: new Date().toISOString(), level, msg, ...this.bindings };
    if (fields) {
      for (const key in fields) {
        const value = fields[key];
        record[key] = value instanceof Error ? serializeError(value, shared.withStack) : value;
      }
    }
    let line = JSON.stringify(record);
    for (const form of redactionForms(shared)) {
      if (line.includes(form)) line = line.split(form).join('[REDACTED]');
    }
    shared.write(`${line}\n`);
  }
}

const NONE: readonly string[] = [];
const noSecrets = () => NONE;

export function createLogger(options: LoggerOptions): Logger {
  const shared: Shared = {
    write: options.write ?? ((line: string) => process.stdout.write(line)),
    secrets: options.secrets ?? noSecrets,
    threshold: RANK[options.level],
    withStack: options.level === 'debug',
    cachedFor: undefined,
    forms: [],
  };
  return new JsonLogger(shared, options.base ?? {});
}

/** A logger that drops everything (unit tests that don't look at logs). */
export const silentLogger: Logger = createLogger({ level: 'error', write: () => undefined });

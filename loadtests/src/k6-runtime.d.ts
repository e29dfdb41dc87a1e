/**
 * k6's JS runtime provides `console` (log, info, warn, error, debug), which @types/k6 does not
 * declare and which the ES lib alone does not have. Node's typings are deliberately not loaded here.
 */
declare const console: {
  log(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
  debug(...args: unknown[]): void;
};

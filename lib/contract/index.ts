/**
 * The service contract: environment, HTTP, metrics and gate inputs. One source of truth, imported
 * by the CDK app (`lib/`), the reference service (`service/`), the Lambda handlers (`lambda/`) and
 * the k6 suites (`loadtests/`). Plain TypeScript that imports nothing outside this folder, so every
 * one of those can bundle it.
 *
 * `gate-profiles.ts` (the gate profiles' traffic shapes and targets) is imported by its own path:
 * only the suites, the gate CLI and the config validation need it, and bundles that never run a
 * profile need not carry it.
 */
export * from './db-bootstrap';
export * from './env';
export * from './gate';
export * from './gate-hook';
export * from './http';
export * from './metrics';
export * from './server-timing';
export * from './time-budgets';
export * from './version';

/**
 * The service contract: environment, HTTP, metrics and gate inputs. One source of truth, imported
 * by the CDK app (`lib/`), the reference service (`service/`) and the k6 suites (`loadtests/`).
 * Plain TypeScript with no imports, so every one of those can bundle it.
 */
export * from './env';
export * from './gate';
export * from './http';
export * from './metrics';
export * from './server-timing';

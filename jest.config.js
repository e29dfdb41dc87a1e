/**
 * One jest run for everything: CDK assertions, lambda tests, contract tests, and the integration
 * tests that start their own Postgres, Redis (TLS + AUTH) and fake LLM on random ports.
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.tsx?$': ['@swc/jest'],
  },
  setupFilesAfterEnv: ['aws-cdk-lib/testhelpers/jest-autoclean'],
  // Two cores on CI; integration suites each start their own servers.
  maxWorkers: 2,
  testTimeout: 60_000,
};

/**
 * A version the service would refuse at start (exit 78, after a deploy had begun) is refused
 * wherever the app resolves one: `cdk synth` of a stage, the pipeline, and the service itself, all
 * by the one rule in lib/contract/version.ts.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { buildChatPlatform } from '../../lib/chat-platform';
import { STAGES, StageConfigError } from '../../lib/config';
import { APP_VERSION_RULE, isAppVersion } from '../../lib/contract';
import { parseServiceConfig } from '../../service/src/config';

const ROOT = join(__dirname, '../..');
const BAD = '1.0 rc';

test('the rule: visible ASCII without spaces, 1-128 characters', () => {
  for (const ok of ['1.2.3', 'abc1234', '2026-12-02T17:00Z', 'v1+build.7', 'x'.repeat(128)]) {
    expect({ ok, valid: isAppVersion(ok) }).toEqual({ ok, valid: true });
  }
  for (const bad of ['', BAD, 'tab\there', 'é', 'x'.repeat(129)]) {
    expect({ bad, valid: isAppVersion(bad) }).toEqual({ bad, valid: false });
  }
});

test('building a stage with a bad appVersion fails at synth, naming the rule', () => {
  const build = () => buildChatPlatform(new App(), STAGES.dev, { appVersion: BAD });
  expect(build).toThrow(StageConfigError);
  expect(build).toThrow(`appVersion '${BAD}' must be ${APP_VERSION_RULE}`);
});

test('`cdk synth -c appVersion="1.0 rc"` exits 1 with the rule and no stack trace', () => {
  const run = spawnSync(join(ROOT, 'node_modules/.bin/tsx'), ['bin/app.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      CDK_CONTEXT_JSON: JSON.stringify({ stage: 'dev', appVersion: BAD }),
      CDK_OUTDIR: mkdtempSync(join(tmpdir(), 'app-version-')),
    },
    encoding: 'utf8',
    timeout: 120_000,
  });
  expect(run.status).toBe(1);
  expect(run.stderr).toContain(APP_VERSION_RULE);
  expect(run.stderr).not.toMatch(/\n\s+at /);
});

test('the service refuses the same value with the same rule', () => {
  const result = parseServiceConfig({ APP_VERSION: BAD });
  expect(result.ok).toBe(false);
  if (result.ok) return;
  expect(result.problems).toContainEqual({ name: 'APP_VERSION', problem: expect.stringContaining(APP_VERSION_RULE) });
});

test('the pattern is written once: no other source file carries it', () => {
  const files = spawnSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.ts'], {
    cwd: ROOT,
    encoding: 'utf8',
  })
    .stdout.split('\n')
    .filter(Boolean);
  const copies = files.filter((f) => readFileSync(join(ROOT, f), 'utf8').includes('^[\\x21-\\x7e]{1,128}$'));
  expect(copies).toEqual(['lib/contract/version.ts']);
});

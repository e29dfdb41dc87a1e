/**
 * The Node.js runtime is one decision: `.node-version` names the release CI runs the suite on and
 * every image is built from; `engines` states the supported lines (>= 22: Node 20 reached end of
 * life on 2026-04-30 and the AWS CDK dropped it on 2026-10-30).
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import rootPackage from '../package.json';
import servicePackage from '../service/package.json';
import { NODE_VERSION } from './support/node-version';

const ROOT = path.join(__dirname, '..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

describe('the Node.js runtime', () => {
  test('.node-version is a full release of an LTS line that is supported today (24)', () => {
    expect(NODE_VERSION).toMatch(/^24\.\d+\.\d+$/);
  });

  test('engines state Node >= 22 for the CDK app and the service', () => {
    expect(rootPackage.engines.node).toBe('>=22.0.0');
    expect(servicePackage.engines.node).toBe('>=22.0.0');
  });

  test.each(['service/Dockerfile', 'loadtests/Dockerfile', 'ci/pipeline-image/Dockerfile'])(
    '%s builds from the .node-version release',
    (file) => {
      const tags = [...read(file).matchAll(/node:(\d+\.\d+\.\d+)-bookworm-slim/g)].map((m) => m[1]);
      expect(tags.length).toBeGreaterThan(0);
      for (const tag of tags) expect(tag).toBe(NODE_VERSION);
    },
  );

  test('.ci/run runs the suite on the .node-version release, installing it when the machine has another', () => {
    const ci = read('.ci/run');
    expect(ci).toContain('want="$(tr -d \'[:space:]\' < .node-version)"');
    expect(ci).toContain('npm install --prefix "$prefix" --no-audit --no-fund --no-save "node@$want"');
    // It prints which Node ran, before the tests run.
    expect(ci.indexOf('the suite runs on node $(node --version)')).toBeLessThan(ci.lastIndexOf('\nnpm test'));
  });

  test('the README quick start states Node.js >= 22', () => {
    expect(read('README.md')).toContain('With Node.js ≥ 22');
    expect(read('README.md')).not.toMatch(/Node\.js ≥ 20/);
  });
});

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { bundleEntries } from '../../loadtests/bundle';
import { TESTED_K6_VERSION } from '../../scripts/gate/locate-k6';
import { NODE_VERSION } from '../support/node-version';

const REPO = path.resolve(__dirname, '..', '..');
const dockerfile = readFileSync(path.join(REPO, 'loadtests', 'Dockerfile'), 'utf8');
const dockerignore = readFileSync(path.join(REPO, 'loadtests', 'Dockerfile.dockerignore'), 'utf8');

describe('the k6 runner image (loadtests/Dockerfile)', () => {
  test('runs the k6 release the suites are tested with, from the official image', () => {
    expect(dockerfile).toContain(`ARG K6_VERSION=${TESTED_K6_VERSION}`);
    expect(dockerfile).toMatch(/^FROM grafana\/k6:\$\{K6_VERSION\}$/m);
  });

  test('bundles with the Node release of .node-version (a full version, not a moving tag)', () => {
    expect(dockerfile).toContain(`FROM --platform=$BUILDPLATFORM node:${NODE_VERSION}-bookworm-slim AS bundle`);
  });

  test('runs as the image non-root user and its entrypoint is `k6 run` on the bundled gate', () => {
    const stages = dockerfile.split(/^FROM /m);
    const final = stages[stages.length - 1] as string;
    expect(final).toMatch(/^USER 12345$/m);
    const entry = /^ENTRYPOINT (\[.*\])$/m.exec(final)?.[1];
    const argv = JSON.parse(entry ?? '[]') as string[];
    expect(argv.slice(0, 2)).toEqual(['k6', 'run']);
    const bundled = bundleEntries().map((e) => `/opt/gate/${path.basename(e, '.ts')}.js`);
    expect(bundled).toContain(argv[2]);
  });

  test('every path the bundle stage copies exists and is let through the dockerignore', () => {
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) =>
      (m[1] as string).split(/\s+/),
    );
    expect(sources.length).toBeGreaterThan(4);
    for (const source of sources) {
      expect({ source, exists: existsSync(path.join(REPO, source)) }).toEqual({ source, exists: true });
      expect(dockerignore).toMatch(new RegExp(`^!${source.replace(/[.]/g, '\\.')}(/\\*\\*)?$`, 'm'));
    }
  });
});

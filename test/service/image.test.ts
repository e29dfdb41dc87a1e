/**
 * What can be checked about the image without a Docker engine: the Dockerfile's shape, and that the
 * bundle it runs needs nothing but Node built-ins and the service's own production dependencies
 * (the only packages the runtime stage installs).
 */
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import * as path from 'node:path';
import { ensureServiceBuilt } from '../../scripts/harness';
import { SERVICE_DIR, SERVICE_NODE_OPTIONS } from '../../service/build';
import { NODE_VERSION } from '../support/node-version';

const dockerfile = readFileSync(path.join(SERVICE_DIR, 'Dockerfile'), 'utf8');
const lines = dockerfile.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
const stages = dockerfile.split(/^FROM /m).slice(1);
const runtime = stages.at(-1) ?? '';

describe('service/Dockerfile', () => {
  test('is multi-stage on the Node release of .node-version (the one CI runs), pinned by full version tag', () => {
    expect(stages.length).toBeGreaterThanOrEqual(3);
    const image = /^ARG NODE_IMAGE=(\S+)$/m.exec(dockerfile)?.[1];
    expect(image).toBe(`node:${NODE_VERSION}-bookworm-slim`);
    for (const from of lines.filter((l) => l.startsWith('FROM ')))
      expect(from).toMatch(/^FROM \$\{NODE_IMAGE\} AS \w+$/);
  });

  test('the runtime stage runs the bundle as the unprivileged node user', () => {
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime.indexOf('USER node')).toBeLessThan(runtime.indexOf('CMD '));
    expect(runtime).toMatch(/^CMD \["node", "dist\/server\.js"\]$/m);
    expect(runtime).toMatch(/^WORKDIR \/app\/service$/m);
    // No build tooling and no sources in the final image: only prod deps and the bundle.
    expect(runtime).not.toMatch(/npm (ci|install)/);
    expect(runtime).not.toMatch(/COPY .*service\/src/);
    expect(dockerfile).toMatch(/RUN npm ci --omit=dev -w service/);
  });

  test('carries the RDS CA bundle for DB_SSL=verify-full via NODE_EXTRA_CA_CERTS', () => {
    const add = /^ADD .*https:\/\/truststore\.pki\.rds\.amazonaws\.com\/global\/global-bundle\.pem (\S+)$/m.exec(
      runtime,
    );
    expect(add).not.toBeNull();
    expect(runtime).toContain(`ENV NODE_EXTRA_CA_CERTS=${add?.[1]}`);
  });

  test('runs with the same Node options the bench measures', () => {
    expect(runtime).toContain(`ENV NODE_OPTIONS="${SERVICE_NODE_OPTIONS}"`);
  });

  test('is built from the repository root, because the service imports lib/contract', () => {
    expect(dockerfile).toMatch(/^COPY lib\/contract lib\/contract$/m);
    expect(dockerfile).toContain('docker build -f service/Dockerfile');
  });
});

describe('service/Dockerfile.dockerignore', () => {
  const rules = readFileSync(path.join(SERVICE_DIR, 'Dockerfile.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const admitted = rules.filter((r) => r.startsWith('!')).map((r) => r.slice(1));

  test('starts from nothing and admits every path the Dockerfile COPYs from the context, and nothing else', () => {
    expect(rules[0]).toBe('*');
    const sources = lines
      .filter((l) => l.startsWith('COPY ') && !l.includes('--from='))
      .flatMap((l) => l.replace(/--\S+/g, '').trim().split(/\s+/).slice(1, -1));
    expect(sources.length).toBeGreaterThan(5);
    for (const source of sources) {
      expect({ source, admitted: admitted.some((a) => source === a || source.startsWith(`${a}/`)) }).toEqual({
        source,
        admitted: true,
      });
    }
    for (const a of admitted) {
      expect({ a, copied: sources.some((s) => s === a || s.startsWith(`${a}/`)) }).toEqual({ a, copied: true });
    }
  });
});

describe('the bundle', () => {
  test('requires only Node built-ins and the service workspace production dependencies', async () => {
    const bundle = readFileSync(await ensureServiceBuilt(), 'utf8');
    const deps = Object.keys(
      (
        JSON.parse(readFileSync(path.join(SERVICE_DIR, 'package.json'), 'utf8')) as {
          dependencies: Record<string, string>;
        }
      ).dependencies,
    );
    const specifiers = new Set(
      [...bundle.matchAll(/\b(?:require|import)\("([^"./][^"]*)"\)/g)].map((m) => m[1] as string),
    );
    expect(specifiers.size).toBeGreaterThan(5);
    const packageOf = (s: string) =>
      s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : (s.split('/')[0] as string);
    const builtins = new Set(builtinModules);
    const outside = [...specifiers].filter(
      (s) => !s.startsWith('node:') && !builtins.has(s) && !deps.includes(packageOf(s)),
    );
    expect(outside).toEqual([]);
    // The contract is inlined, never required at run time.
    expect(bundle).not.toMatch(/require\("[^"]*lib\/contract/);
  });
});

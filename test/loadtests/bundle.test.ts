import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GATE_ENV, GATE_PROFILES } from '../../lib/contract/gate';
import { HEADERS, ROUTES } from '../../lib/contract/http';
import { bundleEntries, bundleLoadtests, LOADTESTS_SRC } from '../../loadtests/bundle';

const REPO = path.resolve(__dirname, '..', '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

describe('the k6 bundle', () => {
  let outDir: string;
  let gateJs: string;
  let outputs: string[];

  beforeAll(async () => {
    outDir = mkdtempSync(path.join(tmpdir(), 'k6-bundle-'));
    outputs = (await bundleLoadtests({ outDir })).outputs;
    gateJs = readFileSync(path.join(outDir, 'gate.js'), 'utf8');
  });
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  test('one bundle per top-level entry in loadtests/src; lib/ modules are inlined, not entries', () => {
    expect(bundleEntries().map((e) => path.relative(LOADTESTS_SRC, e))).toEqual(['gate.ts']);
    expect(outputs.map((o) => path.basename(o))).toEqual(['gate.js']);
  });

  test('k6 modules stay imports for k6 to resolve; nothing else is imported', () => {
    const imports = [...gateJs.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1]);
    expect(imports.sort()).toEqual(['k6', 'k6/execution', 'k6/http', 'k6/metrics']);
    expect(gateJs).not.toMatch(/\brequire\(/);
    expect(gateJs).not.toMatch(/from "\.{1,2}\//);
  });

  test('no k6 or third-party code is inlined: every bundled source is ours', () => {
    // esbuild marks each inlined module with a `// path` comment in unminified output.
    const modules = [...gateJs.matchAll(/^\/\/ (\S+\.(?:ts|json))$/gm)].map((m) => m[1] as string);
    expect(modules.length).toBeGreaterThan(5);
    for (const m of modules) expect(m).toMatch(/^(loadtests\/src\/|loadtests\/corpus\/|lib\/contract\/)/);
  });

  test('the contract and the corpus are inlined', () => {
    expect(gateJs).toContain(JSON.stringify(ROUTES.chat));
    expect(gateJs).toContain(JSON.stringify(HEADERS.appVersion));
    expect(gateJs).toContain(JSON.stringify(GATE_ENV.expectedVersion));
    expect(gateJs).toContain('longTail');
  });

  test('every profile is in the bundle', () => {
    for (const profile of GATE_PROFILES) expect(gateJs).toMatch(new RegExp(`\\b${profile}: (\\{|seedsScenario)`));
  });

  test('exports what k6 needs: options, setup, the scenario functions, default and handleSummary', () => {
    const exported = /^export \{([^}]*)\};$/m.exec(gateJs)?.[1] ?? '';
    for (const name of ['options', 'setup', 'chat', 'fresh', 'handleSummary', 'as default'])
      expect(exported).toContain(name);
  });

  test('the k6 sources copy no route, header or gate input string: they import the contract', () => {
    const contractStrings = [...Object.values(ROUTES), ...Object.values(HEADERS), ...Object.values(GATE_ENV)];
    for (const file of sourceFiles(path.join(REPO, 'loadtests', 'src'))) {
      const code = readFileSync(file, 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/^\s*\/\/.*$/gm, '');
      for (const s of contractStrings) {
        expect({
          file: path.relative(REPO, file),
          literal: code.match(new RegExp(`['"\`]${s.replace(/[/]/g, '\\/')}['"\`]`))?.[0],
        }).toEqual({
          file: path.relative(REPO, file),
          literal: undefined,
        });
      }
    }
  });
});

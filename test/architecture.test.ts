/**
 * The house's layers, and the rule that keeps them: an import runs only from a layer to one that it
 * uses, and no files import each other in a loop. Read from the code's own import statements
 * (`import`, `export … from`, `import()`, `require()`, type-only ones included), so a new file or an
 * import that breaks the order fails here, naming the file, what it imports and both layers.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

const ROOT = path.join(__dirname, '..');

interface Layer {
  readonly name: string;
  /** Folders (ending in `/`) or files, from the repository root. A file belongs to the longest match. */
  readonly paths: readonly string[];
  /** The layers it may import (besides itself); each comes earlier in {@link LAYERS}. */
  readonly uses: readonly string[];
}

/**
 * From the ground up. The contract is imported by everything that runs (CDK app, service, Lambdas,
 * k6 suites); the runtime components know nothing of the CDK app, and the CDK app nothing of them
 * but their paths. Within the CDK app: config < monitoring < constructs < stacks < the platform
 * (one stage's stacks) < the pipeline (which deploys the platform) < bin. Scripts drive the runtime
 * components; tests may reach anything.
 */
const LAYERS: readonly Layer[] = [
  { name: 'contract', paths: ['lib/contract/'], uses: [] },
  { name: 'config', paths: ['lib/config/'], uses: ['contract'] },
  { name: 'monitoring', paths: ['lib/monitoring/'], uses: ['config', 'contract'] },
  { name: 'constructs', paths: ['lib/constructs/'], uses: ['monitoring', 'config', 'contract'] },
  { name: 'stacks', paths: ['lib/stacks/'], uses: ['constructs', 'monitoring', 'config', 'contract'] },
  { name: 'platform', paths: ['lib/chat-platform.ts'], uses: ['stacks', 'config', 'contract'] },
  { name: 'pipeline', paths: ['lib/pipeline/'], uses: ['platform', 'stacks', 'constructs', 'config', 'contract'] },
  { name: 'app', paths: ['bin/'], uses: ['pipeline', 'platform', 'config'] },
  { name: 'service', paths: ['service/'], uses: ['contract'] },
  { name: 'lambda', paths: ['lambda/'], uses: ['contract'] },
  { name: 'loadtests', paths: ['loadtests/'], uses: ['contract'] },
  {
    name: 'scripts',
    paths: ['scripts/'],
    uses: [
      'loadtests',
      'lambda',
      'service',
      'pipeline',
      'platform',
      'stacks',
      'constructs',
      'monitoring',
      'config',
      'contract',
    ],
  },
  {
    name: 'test',
    paths: ['test/'],
    uses: [
      'scripts',
      'loadtests',
      'lambda',
      'service',
      'app',
      'pipeline',
      'platform',
      'stacks',
      'constructs',
      'monitoring',
      'config',
      'contract',
    ],
  },
];

const SOURCE_ROOTS = ['bin', 'lib', 'lambda', 'loadtests', 'service', 'scripts', 'test'];
const SKIPPED_DIRS = new Set(['node_modules', 'dist', 'cdk.out', 'coverage']);

/** Repository-relative paths (with `/`) of every TypeScript file under the source roots. */
function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = `${dir}/${entry.name}`;
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRS.has(entry.name)) walk(rel);
      } else if (entry.name.endsWith('.ts')) out.push(rel);
    }
  };
  for (const root of SOURCE_ROOTS) walk(root);
  return out.sort();
}

function isFile(rel: string): boolean {
  try {
    return statSync(path.join(ROOT, rel)).isFile();
  } catch {
    return false;
  }
}

/** The TypeScript file a relative specifier names, or undefined (a package, JSON or other asset). */
function resolveImport(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier));
  return [`${base}.ts`, `${base}/index.ts`, base].find((c) => c.endsWith('.ts') && isFile(c));
}

type ImportGraph = ReadonlyMap<string, readonly string[]>;

function importGraph(files: readonly string[]): ImportGraph {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(path.join(ROOT, file), 'utf8'), true, true);
    const targets = importedFiles
      .map((i) => resolveImport(file, i.fileName))
      .filter((t): t is string => t !== undefined);
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

function layerOf(file: string, layers: readonly Layer[] = LAYERS): Layer | undefined {
  let best: { layer: Layer; length: number } | undefined;
  for (const layer of layers) {
    for (const p of layer.paths) {
      const matches = p.endsWith('/') ? file.startsWith(p) : file === p;
      if (matches && (!best || p.length > best.length)) best = { layer, length: p.length };
    }
  }
  return best?.layer;
}

/** Every import from a layer to one it does not use, as `from -> to (layer -> layer)`. */
function layerViolations(graph: ImportGraph, layers: readonly Layer[] = LAYERS): string[] {
  const out: string[] = [];
  for (const [from, targets] of graph) {
    const a = layerOf(from, layers);
    for (const to of targets) {
      const b = layerOf(to, layers);
      if (!a || !b || a === b || a.uses.includes(b.name)) continue;
      out.push(`${from} -> ${to} (${a.name} -> ${b.name})`);
    }
  }
  return out;
}

/** The import cycles: each strongly connected set of files larger than one (or a file importing itself). */
function importCycles(graph: ImportGraph): string[][] {
  // Tarjan's algorithm (recursive: the import chains are a few dozen files deep at most).
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

describe('the layers', () => {
  const files = sourceFiles();
  const graph = importGraph(files);

  test('the layer table is an order: each layer uses only layers below it', () => {
    const seen = new Set<string>();
    const wrong: string[] = [];
    for (const layer of LAYERS) {
      for (const used of layer.uses) if (!seen.has(used)) wrong.push(`${layer.name} uses ${used}, not below it`);
      seen.add(layer.name);
    }
    expect(wrong).toEqual([]);
  });

  test('every source file belongs to a layer', () => {
    expect(files.length).toBeGreaterThan(100);
    expect(files.filter((f) => !layerOf(f))).toEqual([]);
  });

  test('no import runs from a layer to one it does not use (no upward import)', () => {
    expect(layerViolations(graph)).toEqual([]);
  });

  test('no files import each other in a loop', () => {
    expect(importCycles(graph)).toEqual([]);
  });

  test('the checks catch what they are for: a loop, a self-import and an upward import', () => {
    const bad: ImportGraph = new Map([
      ['lib/pipeline/a.ts', ['lib/stacks/b.ts']],
      ['lib/stacks/b.ts', ['lib/pipeline/a.ts']],
      ['lib/config/c.ts', ['lib/config/c.ts']],
      ['lib/contract/d.ts', []],
    ]);
    expect(importCycles(bad)).toEqual([['lib/pipeline/a.ts', 'lib/stacks/b.ts'], ['lib/config/c.ts']]);
    expect(layerViolations(bad)).toEqual(['lib/stacks/b.ts -> lib/pipeline/a.ts (stacks -> pipeline)']);
  });
});

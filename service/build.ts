/**
 * Bundles the service into one file, `dist/server.js`, that `node dist/server.js` runs.
 *
 * `packages: 'external'` keeps every npm dependency as a `require()` resolved from `node_modules`
 * at run time (the image installs the production dependencies only), while our own code and the
 * contract in `../lib/contract` are inlined, so the image never needs `lib/`.
 *
 * Used by `npm run build -w service`, by the Dockerfile's builder stage and by the test harness
 * (which builds into its own directory so parallel test files never read a half-written bundle).
 */
import * as path from 'node:path';
import { type BuildOptions, build } from 'esbuild';
import { SERVICE_HEAP_LIMIT_MIB } from '../lib/contract/time-budgets';

/**
 * Node flags the image runs the service with (`ENV NODE_OPTIONS` in the Dockerfile; a test keeps
 * the two equal, and the bench runs its service process with them too).
 *
 * - `--max-semi-space-size=4` (MiB): V8's young generation otherwise grows to 3 x 16 MiB under
 *   load. Request garbage dies young, so small semi-spaces cost no measurable throughput and keep
 *   peak RSS about 35 MiB lower (see docs/service.md, bench).
 * - `--max-old-space-size=512` (MiB): the heap's limit, the same wherever the image runs. Without
 *   it Node sizes the heap from the memory it sees: the task's limit in ECS, the host's RAM
 *   anywhere else (4 GiB of heap on the 24 GiB bench machine). Under a large limit V8 lets the old
 *   generation fill with promoted request garbage long before a full GC: in the bench it reached
 *   130 MiB with 33 MiB live, and the process peaked at 237-265 MiB RSS; with 512 MiB, at 150-180
 *   MiB. 512 MiB is half the smallest task's memory (1,024 MiB) and 15 times the live heap.
 * - `--enable-source-maps`: stack traces in the logs point at the TypeScript sources.
 */
export const SERVICE_NODE_OPTIONS = `--max-semi-space-size=4 --max-old-space-size=${SERVICE_HEAP_LIMIT_MIB} --enable-source-maps`;

export const SERVICE_DIR = __dirname;
export const SERVICE_ENTRY = path.join(SERVICE_DIR, 'src', 'server.ts');
export const SERVICE_DIST = path.join(SERVICE_DIR, 'dist', 'server.js');

export function serviceBuildOptions(outfile: string = SERVICE_DIST): BuildOptions {
  return {
    entryPoints: [SERVICE_ENTRY],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    sourcemap: true,
    packages: 'external',
    logLevel: 'warning',
    legalComments: 'none',
  };
}

/** Builds the bundle; returns the path of the written `server.js`. */
export async function buildService(outfile: string = SERVICE_DIST): Promise<string> {
  const result = await build(serviceBuildOptions(outfile));
  if (result.errors.length > 0) {
    throw new Error(`esbuild reported ${result.errors.length} error(s) building the service`);
  }
  return outfile;
}

if (require.main === module) {
  buildService().then(
    (out) => console.log(`built ${path.relative(process.cwd(), out)}`),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}

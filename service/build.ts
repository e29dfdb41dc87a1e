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

/**
 * Node flags the image runs the service with (`ENV NODE_OPTIONS` in the Dockerfile; a test keeps
 * the two equal, and the bench runs its service process with them too).
 *
 * - `--max-semi-space-size=4` (MiB): V8's young generation otherwise grows to 3 x 16 MiB under
 *   load. Request garbage dies young, so small semi-spaces cost no measurable throughput and keep
 *   peak RSS about 35 MiB lower (see docs/service.md, bench).
 * - `--enable-source-maps`: stack traces in the logs point at the TypeScript sources.
 */
export const SERVICE_NODE_OPTIONS = '--max-semi-space-size=4 --enable-source-maps';

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

/** `npm run loadtest:bundle`: builds loadtests/dist/*.js for k6 (see scripts/gate/bundle.ts). */
import path from 'node:path';
import { bundleLoadtests } from '../scripts/gate/bundle';

bundleLoadtests()
  .then((result) => {
    for (const out of result.outputs) console.log(`bundled ${path.relative(process.cwd(), out)}`);
    console.log(`k6 bundles ready in ${result.durationMs} ms`);
  })
  .catch((error: unknown) => {
    console.error(`k6 bundle failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });

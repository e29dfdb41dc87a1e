/**
 * The "close to the limit" table from saved gate reports: `npx tsx scripts/calibrate/limits-cli.ts
 * FILE...`, each FILE a `k6-summary.json` of an identical-candidate smoke run with a baseline (what
 * `npm run gate:calibrate` runs; it prints the same table at its end from its own identical runs,
 * and `--keep DIR` keeps them as DIR/cal-identical-<…>/k6-summary.json).
 */
import { readFileSync } from 'node:fs';
import { GATE_PROFILE_SPECS } from '../../lib/contract/gate-profiles';
import type { K6MetricSummary } from '../../loadtests/src/lib/k6-summary';
import { limitRows, renderLimitTable } from './limits';

type Saved = { gate: { runId?: string }; k6: { metrics: Record<string, K6MetricSummary> } };

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: npx tsx scripts/calibrate/limits-cli.ts k6-summary.json...');
  process.exit(64);
}
const runs = files.map((f) => (JSON.parse(readFileSync(f, 'utf8')) as Saved).k6.metrics);
console.log(renderLimitTable(limitRows(GATE_PROFILE_SPECS.smoke, runs)));

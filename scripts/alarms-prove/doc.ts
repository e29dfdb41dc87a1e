/**
 * The generated block of docs/monitoring.md that shows `npm run alarms:prove` and its table. A
 * proof needs a capture of the real service (about a minute and a half), so, like the bench, the
 * run is saved (`npm run alarms:prove -- --save` writes docs/alarms-proof.json) and `npm run docs`
 * renders the block from the saved run. test/monitoring/alarms-prove.test.ts fails when a fresh
 * run's alarms, faults or states differ from the saved one (the datapoint counts vary run to run).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { type ProofResult, renderProofTable } from './prove';

export const PROOF_JSON = path.join(__dirname, '..', '..', 'docs', 'alarms-proof.json');

export interface SavedProof extends ProofResult {
  /** When the run was made (ISO 8601). */
  readonly date: string;
}

export function saveProof(result: ProofResult, file = PROOF_JSON): void {
  const saved: SavedProof = { ...result, date: new Date().toISOString() };
  writeFileSync(file, `${JSON.stringify(saved, null, 2)}\n`);
}

export function readSavedProof(file = PROOF_JSON): SavedProof {
  return JSON.parse(readFileSync(file, 'utf8')) as SavedProof;
}

/** The block's text: the command, how time was compressed, and the table of the saved run. */
export function renderProofDoc(result: SavedProof): string {
  return [
    `\`npm run alarms:prove -- --stage ${result.stage}\`, run of ${result.date.slice(0, 10)} (saved in [alarms-proof.json](alarms-proof.json) by \`--save\`; rendered by \`npm run docs\`). Time: ${result.compression}. Rows marked SYNTHETIC are evaluated over made-up series shaped like the failure and like a healthy day, because AWS publishes those metrics and this machine cannot observe them.`,
    '',
    renderProofTable(result),
  ].join('\n');
}

/** Alarm, run, fault and state of each row of a rendered table: what must not drift (counts vary run to run). */
export function stableRows(table: string): string[] {
  return table
    .split('\n')
    .filter((l) => l.startsWith('| `'))
    .map((l) => {
      const cells = l.split(' | ');
      return [cells[0], cells[2], cells[3], cells[5], cells[6]].join(' | ');
    });
}

/**
 * The README's summary of the saved proof: the command, and for each alarm the fault it was proven
 * on, what it evaluated and the state it reached (the healthy runs and the full table are in
 * docs/monitoring.md).
 */
export function renderProofSummary(result: SavedProof): string {
  const faults = result.rows.filter((r) => r.run === 'fault');
  const healthy = result.rows.filter((r) => r.run === 'healthy');
  const quiet = healthy.filter((r) => r.ok).length;
  const cell = (text: string) => text.replaceAll('|', '\\|');
  return [
    `\`npm run alarms:prove -- --stage ${result.stage}\` (run of ${result.date.slice(0, 10)}, rendered by \`npm run docs\`): ${faults.filter((r) => r.ok).length} of ${faults.length} alarms reached ALARM under their fault, and ${quiet} of ${healthy.length} stayed quiet on a healthy run. Real service telemetry where the row says \`service EMF\`; SYNTHETIC series where AWS publishes the metric. Healthy runs, compression and the method: [docs/monitoring.md](docs/monitoring.md#proving-the-alarms).`,
    '',
    '| alarm | telemetry | fault | datapoints | state reached |',
    '|---|---|---|---|---|',
    ...faults.map(
      (r) =>
        `| \`${r.alarm}\` | ${r.source} | ${cell(r.fault)} | ${cell(r.datapoints)} | ${r.ok ? r.state : `${r.state} (FAILED)`} |`,
    ),
  ].join('\n');
}

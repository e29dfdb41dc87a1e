/**
 * The generated blocks of the README and docs/, and the one command that writes them:
 *
 *   npm run docs              # regenerate every block from its source
 *   npm run docs -- --check   # write nothing; exit 1 naming every stale block (`npm test` runs this)
 *
 * A block is the text between `<!-- NAME:start -->` and `<!-- NAME:end -->` in its file, each marker
 * once. To generate another block, add one entry to {@link DOC_BLOCKS}: the file, the marker NAME and
 * the function that renders the block's text from the code (or from a saved measurement).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { renderRelations } from '../lib/config/relations-doc';
import { renderAlarmCatalogue } from '../lib/monitoring/catalogue-doc';
import { readSavedProof, renderProofDoc, renderProofSummary } from './alarms-prove/doc';
import { readBenchResult, renderReadmeSection, renderServiceDocBlock } from './bench-report';
import { renderBudgetTable, renderProfileTable } from './gate/profile-table';
import { renderEnvTable } from './harness/docs-env';

export interface DocBlock {
  /** From the repository root. */
  readonly file: string;
  readonly marker: string;
  /** The block's text, without the markers. */
  readonly render: () => string;
}

export const DOC_BLOCKS: readonly DocBlock[] = [
  { file: 'docs/service.md', marker: 'env-table', render: renderEnvTable },
  { file: 'docs/loadtests.md', marker: 'profile-table', render: renderProfileTable },
  { file: 'README.md', marker: 'profile-table', render: renderProfileTable },
  { file: 'docs/loadtests.md', marker: 'gate-budget', render: renderBudgetTable },
  { file: 'docs/monitoring.md', marker: 'alarm-catalogue', render: () => renderAlarmCatalogue() },
  { file: 'docs/architecture.md', marker: 'relations', render: () => renderRelations() },
  // From the run `npm run alarms:prove -- --save` kept in docs/alarms-proof.json; the proof is not run here.
  { file: 'docs/monitoring.md', marker: 'alarms-prove', render: () => renderProofDoc(readSavedProof()) },
  { file: 'README.md', marker: 'alarms-prove', render: () => renderProofSummary(readSavedProof()) },
  // From the run `npm run bench -- --save` kept in docs/bench-result.json; the bench itself is not run here.
  { file: 'README.md', marker: 'bench', render: () => renderReadmeSection(readBenchResult()) },
  { file: 'docs/service.md', marker: 'bench-result', render: () => renderServiceDocBlock(readBenchResult()) },
];

const ROOT = path.join(__dirname, '..');

export interface DocFile {
  readonly file: string;
  readonly text: string;
  /** The text with every block of this file rendered anew. */
  readonly regenerated: string;
  /** The markers whose block differs from what the code renders now. */
  readonly stale: readonly string[];
}

/** Each file that holds a block, with its blocks rendered anew; throws when a marker is missing or repeated. */
export function regenerateDocs(root: string = ROOT, blocks: readonly DocBlock[] = DOC_BLOCKS): DocFile[] {
  const files = [...new Set(blocks.map((b) => b.file))];
  return files.map((file) => {
    const text = readFileSync(path.join(root, file), 'utf8');
    let regenerated = text;
    const stale: string[] = [];
    for (const block of blocks.filter((b) => b.file === file)) {
      const start = `<!-- ${block.marker}:start -->`;
      const end = `<!-- ${block.marker}:end -->`;
      const from = regenerated.indexOf(start);
      const to = regenerated.indexOf(end, from);
      if (from === -1 || to === -1 || regenerated.indexOf(start, from + 1) !== -1) {
        throw new Error(`${file}: needs exactly one '${start}' ... '${end}' block`);
      }
      // Each marker on a line of its own.
      const content = `\n${block.render()}\n`;
      if (regenerated.slice(from + start.length, to) !== content) stale.push(block.marker);
      regenerated = regenerated.slice(0, from + start.length) + content + regenerated.slice(to);
    }
    return { file, text, regenerated, stale };
  });
}

if (require.main === module) {
  const check = process.argv.includes('--check');
  const stale = regenerateDocs().filter((f) => f.stale.length > 0);
  for (const f of stale) {
    if (check) console.error(`${f.file}: stale block(s) ${f.stale.join(', ')}`);
    else {
      writeFileSync(path.join(ROOT, f.file), f.regenerated);
      console.log(`${f.file}: regenerated ${f.stale.join(', ')}`);
    }
  }
  if (check && stale.length > 0) {
    console.error('run `npm run docs` to regenerate them');
    process.exitCode = 1;
  } else if (stale.length === 0) console.log(`docs: all ${DOC_BLOCKS.length} generated blocks are current`);
}

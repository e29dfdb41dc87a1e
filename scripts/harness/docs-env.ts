/**
 * The env table of docs/service.md, generated from the contract (SERVICE_ENV) so the doc cannot
 * drift from what the service reads. `test/service/docs.test.ts` fails when it is stale;
 * `npx tsx scripts/harness/docs-env.ts --write` rewrites it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { type EnvVarSpec, SECRET_JSON_KEYS, SERVICE_ENV, SERVICE_ENV_NAMES } from '../../lib/contract';

/** The values a variable takes, from its contract type (text: its meaning says). */
function valuesText(spec: EnvVarSpec): string {
  switch (spec.type) {
    case 'integer':
      return `${spec.range.min}–${spec.range.max} ${spec.unit}`;
    case 'enum':
      return spec.values.map((v) => `\`${v}\``).join(', ');
    case 'boolean':
      return '`true`, `false`';
    default:
      return 'text';
  }
}

export const SERVICE_DOC = path.join(__dirname, '..', '..', 'docs', 'service.md');
const START =
  '<!-- env-table:start (generated from lib/contract/env.ts; npx tsx scripts/harness/docs-env.ts --write) -->';
const END = '<!-- env-table:end -->';

export function renderEnvTable(): string {
  const rows = SERVICE_ENV_NAMES.map((name) => {
    const spec: EnvVarSpec = SERVICE_ENV[name];
    const kind =
      spec.kind === 'secret'
        ? `secret (JSON key \`${SECRET_JSON_KEYS[name as keyof typeof SECRET_JSON_KEYS]}\`)`
        : 'plain';
    const required = spec.required ? 'yes' : 'no';
    const def = spec.default === undefined ? '' : `\`${spec.default}\``;
    return [`\`${name}\``, kind, required, valuesText(spec), def, spec.description.replace(/\|/g, '\\|')];
  });
  const header = ['name', 'kind', 'required', 'values', 'default', 'meaning'];
  // Columns padded to their widest cell, so the table reads as a table in a terminal too.
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => [...(r[i] as string)].length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => c + ' '.repeat((widths[i] as number) - [...c].length)).join(' | ')} |`;
  return [START, line(header), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line), END].join(
    '\n',
  );
}

function section(doc: string): { start: number; end: number } {
  const start = doc.indexOf(START);
  const end = doc.indexOf(END);
  if (start === -1 || end === -1) throw new Error('docs/service.md has no env-table markers');
  return { start, end: end + END.length };
}

/** The doc with its env section replaced by the current table. */
export function withCurrentEnvTable(doc: string): string {
  const { start, end } = section(doc);
  return doc.slice(0, start) + renderEnvTable() + doc.slice(end);
}

/** The table's rows as trimmed cells, so column padding doesn't matter. */
function cells(table: string): string[][] {
  return table
    .split('\n')
    .filter((l) => l.startsWith('|') && !/^\|[\s|:-]+\|$/.test(l))
    .map((l) =>
      l
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((c) => c.trim()),
    );
}

/** True when the doc's env table says what the contract says. */
export function envTableIsCurrent(doc: string): boolean {
  const { start, end } = section(doc);
  return JSON.stringify(cells(doc.slice(start, end))) === JSON.stringify(cells(renderEnvTable()));
}

if (require.main === module) {
  const doc = readFileSync(SERVICE_DOC, 'utf8');
  const next = withCurrentEnvTable(doc);
  if (process.argv.includes('--write')) {
    if (envTableIsCurrent(doc)) {
      console.log('docs/service.md: env table already current');
    } else {
      writeFileSync(SERVICE_DOC, next);
      console.log('docs/service.md: env table rewritten');
    }
  } else {
    console.log(renderEnvTable());
  }
}

/**
 * The env table of docs/service.md, generated from the contract (SERVICE_ENV) so the doc cannot
 * drift from what the service reads. One of the blocks `npm run docs` writes (scripts/docs.ts).
 */
import { SECRET_JSON_KEYS, SERVICE_ENV, SERVICE_ENV_NAMES } from '../../lib/contract';

export function renderEnvTable(): string {
  const rows = SERVICE_ENV_NAMES.map((name) => {
    const spec: { kind: string; required: boolean; default?: string; description: string } = SERVICE_ENV[name];
    const kind =
      spec.kind === 'secret'
        ? `secret (JSON key \`${SECRET_JSON_KEYS[name as keyof typeof SECRET_JSON_KEYS]}\`)`
        : 'plain';
    const required = spec.required ? 'yes' : 'no';
    const def = spec.default === undefined ? '' : `\`${spec.default}\``;
    return [`\`${name}\``, kind, required, def, spec.description.replace(/\|/g, '\\|')];
  });
  const header = ['name', 'kind', 'required', 'default', 'meaning'];
  // Columns padded to their widest cell, so the table reads as a table in a terminal too.
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => [...(r[i] as string)].length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => c + ' '.repeat((widths[i] as number) - [...c].length)).join(' | ')} |`;
  return [line(header), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n');
}

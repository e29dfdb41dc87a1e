/**
 * The env table of docs/service.md, generated from the contract (SERVICE_ENV) so the doc cannot
 * drift from what the service reads. One of the blocks `npm run docs` writes (scripts/docs.ts).
 */
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
  return [line(header), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n');
}

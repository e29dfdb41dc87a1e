/**
 * Renders the "Relations between components" table of docs/architecture.md from the relations
 * catalogue and the stage configs, so the document cannot drift from the checks:
 * `test/infra/relations.test.ts` fails when the generated block differs, and rewrites it with
 * `UPDATE_RELATIONS_DOCS=1`.
 */
import { RELATIONS, type Relation } from './relations';
import { STAGE_NAMES, STAGES, type StageConfig } from './stage-config';

export const RELATIONS_BEGIN = '<!-- relations:begin (generated from lib/config/relations.ts) -->';
export const RELATIONS_END = '<!-- relations:end -->';

const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

function valuesText(relation: Relation, config: StageConfig): string {
  const values = relation.measure(config);
  if (values === undefined) return 'n/a';
  const detail = values.detail ? ` (${values.detail})` : '';
  return `${values.left} ${relation.op === '<' ? '<' : '≤'} ${values.right} ${relation.unit}${detail}`;
}

export function renderRelations(configs: readonly StageConfig[] = STAGE_NAMES.map((s) => STAGES[s])): string {
  const lines = [
    RELATIONS_BEGIN,
    '',
    `| Relation | Smaller side | ${'`<`'} or ${'`≤`'} | Bounding side | Else | ${configs.map((c) => c.stage).join(' | ')} |`,
    `|---|---|---|---|---|${configs.map(() => '---').join('|')}|`,
  ];
  for (const relation of RELATIONS) {
    lines.push(
      `| ${[
        `\`${relation.name}\``,
        relation.left,
        relation.op === '<' ? '<' : '≤',
        relation.right,
        relation.why,
        ...configs.map((c) => valuesText(relation, c)),
      ]
        .map(cell)
        .join(' | ')} |`,
    );
  }
  lines.push('', RELATIONS_END);
  return lines.join('\n');
}

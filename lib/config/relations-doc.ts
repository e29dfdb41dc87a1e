/**
 * Renders the "Relations between components" table of docs/architecture.md from the relations
 * catalogue and the stage configs, so the document cannot drift from the checks. One of the blocks
 * `npm run docs` writes (scripts/docs.ts); `npm run docs -- --check` fails when it is stale.
 */
import { RELATIONS, type Relation } from './relations';
import { STAGE_NAMES, STAGES, type StageConfig } from './stage-config';

const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

function valuesText(relation: Relation, config: StageConfig): string {
  const values = relation.measure(config);
  if (values === undefined) return 'n/a';
  const detail = values.detail ? ` (${values.detail})` : '';
  return `${values.left} ${relation.op === '<' ? '<' : '≤'} ${values.right} ${relation.unit}${detail}`;
}

export function renderRelations(configs: readonly StageConfig[] = STAGE_NAMES.map((s) => STAGES[s])): string {
  const lines = [
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
  return lines.join('\n');
}

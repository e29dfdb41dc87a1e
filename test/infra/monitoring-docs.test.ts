import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALL_ALARM_IDS } from '../../lib/monitoring/alarm-catalogue';
import { CATALOGUE_BEGIN, CATALOGUE_END, renderAlarmCatalogue } from '../../lib/monitoring/catalogue-doc';

const DOC = join(__dirname, '../../docs/monitoring.md');

/** The table's content without the column padding biome's formatter adds. */
const cells = (markdown: string) =>
  markdown
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) =>
      line.startsWith('|')
        ? line
            .split(/(?<!\\)\|/)
            .map((cell) => cell.trim().replace(/^-+$/, '---'))
            .join('|')
        : line.trim(),
    )
    .join('\n');

describe('docs/monitoring.md', () => {
  test('its alarm catalogue is the one the code generates (UPDATE_MONITORING_DOCS=1 rewrites it)', () => {
    const doc = readFileSync(DOC, 'utf8');
    const start = doc.indexOf(CATALOGUE_BEGIN);
    const end = doc.indexOf(CATALOGUE_END);
    expect(start).toBeGreaterThanOrEqual(0);
    expect(end).toBeGreaterThan(start);
    const current = doc.slice(start, end + CATALOGUE_END.length);
    const generated = renderAlarmCatalogue();
    if (process.env.UPDATE_MONITORING_DOCS === '1' && cells(current) !== cells(generated)) {
      // Run `npx biome check --write docs/monitoring.md` afterwards: biome pads the table's columns.
      writeFileSync(DOC, doc.replace(current, generated));
      return;
    }
    expect(cells(current)).toBe(cells(generated));
  });

  test('lists every alarm with its runbook', () => {
    const doc = readFileSync(DOC, 'utf8');
    for (const id of ALL_ALARM_IDS) {
      expect(doc).toContain(`\`<app>-<stage>-${id}`);
      expect(doc).toContain(`(runbooks/${id}.md)`);
    }
  });
});

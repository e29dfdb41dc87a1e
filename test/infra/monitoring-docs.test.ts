import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALL_ALARM_IDS } from '../../lib/monitoring/alarm-catalogue';

const DOC = join(__dirname, '../../docs/monitoring.md');

describe('docs/monitoring.md', () => {
  test('lists every alarm with its runbook', () => {
    const doc = readFileSync(DOC, 'utf8');
    for (const id of ALL_ALARM_IDS) {
      expect(doc).toContain(`\`<app>-<stage>-${id}`);
      expect(doc).toContain(`(runbooks/${id}.md)`);
    }
  });
});

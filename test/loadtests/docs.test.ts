import { readFileSync } from 'node:fs';
import path from 'node:path';
import { GATE_ENV, GATE_EXIT_CODES } from '../../lib/contract/gate';
import { renderProfileTable } from '../../scripts/gate/profile-table';

const docs = readFileSync(path.resolve(__dirname, '..', '..', 'docs', 'loadtests.md'), 'utf8');
const readme = readFileSync(path.resolve(__dirname, '..', '..', 'README.md'), 'utf8');

describe('docs/loadtests.md', () => {
  test.each([
    ['docs/loadtests.md', docs],
    ['README.md', readme],
  ])('the profiles-and-thresholds table in %s is the one the code generates', (_file, text) => {
    const table = /<!-- profile-table:start -->\n([\s\S]*?)\n<!-- profile-table:end -->/.exec(text)?.[1];
    expect(table).toBe(renderProfileTable());
  });

  test('documents every gate input and every exit code', () => {
    for (const name of Object.values(GATE_ENV)) expect(docs).toContain(`\`${name}\``);
    for (const code of Object.values(GATE_EXIT_CODES)) expect(docs).toMatch(new RegExp(`^\\| ${code} \\|`, 'm'));
  });
});

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { GATE_ENV, GATE_EXIT_CODES } from '../../lib/contract/gate';

const docs = readFileSync(path.resolve(__dirname, '..', '..', 'docs', 'loadtests.md'), 'utf8');

describe('docs/loadtests.md', () => {
  test('documents every gate input and every exit code', () => {
    for (const name of Object.values(GATE_ENV)) expect(docs).toContain(`\`${name}\``);
    for (const code of Object.values(GATE_EXIT_CODES)) expect(docs).toMatch(new RegExp(`^\\| ${code} \\|`, 'm'));
  });
});

import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { scripts } from '../package.json';

const readme = readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');

describe('README', () => {
  test('the scripts table has a row for every npm script, and no row for a script that does not exist', () => {
    const rows = [...readme.matchAll(/^\| `npm (?:run )?([a-z:-]+)[^`]*` \|/gm)].map((m) => m[1]);
    expect([...new Set(rows)].sort()).toEqual(Object.keys(scripts).sort());
  });

  test('the quick start is the two commands: npm ci && npx cdk synth, then npm test', () => {
    expect(readme).toContain('npm ci && npx cdk synth');
    expect(readme).toMatch(/^npm test\b/m);
  });

  test('.ci/run calls the README test command', () => {
    expect(readFileSync(path.join(__dirname, '..', '.ci', 'run'), 'utf8')).toMatch(/^npm test$/m);
  });
});

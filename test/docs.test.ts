/**
 * The generated blocks of the README and docs/ (scripts/docs.ts): each says exactly what the code
 * (or the saved bench run) renders now, and the one command finds and rewrites a stale one.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DOC_BLOCKS, type DocBlock, regenerateDocs } from '../scripts/docs';

describe('npm run docs', () => {
  test('every generated block is current (npm run docs regenerates them)', () => {
    expect(regenerateDocs().filter((f) => f.stale.length > 0)).toEqual([]);
  });

  test('generates the env table, the gate profiles, the alarm catalogue, the relations and the bench numbers', () => {
    expect(DOC_BLOCKS.map((b) => `${b.file}#${b.marker}`).sort()).toEqual(
      expect.arrayContaining([
        'docs/service.md#env-table',
        'docs/loadtests.md#profile-table',
        'README.md#profile-table',
        'docs/monitoring.md#alarm-catalogue',
        'docs/architecture.md#relations',
        'docs/monitoring.md#alarms-prove',
        'README.md#alarms-prove',
        'README.md#bench',
        'docs/service.md#bench-result',
      ]),
    );
  });

  describe('on a file of its own', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'docs-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));
    const block = (render: () => string, marker = 'answer'): DocBlock => ({ file: 'doc.md', marker, render });

    test('a stale block is named, and regenerated between its markers only', () => {
      writeFileSync(path.join(dir, 'doc.md'), 'before\n<!-- answer:start -->\n41\n<!-- answer:end -->\nafter\n');
      const [file] = regenerateDocs(dir, [block(() => '42')]);
      expect(file?.stale).toEqual(['answer']);
      expect(file?.regenerated).toBe('before\n<!-- answer:start -->\n42\n<!-- answer:end -->\nafter\n');
      // Checking writes nothing.
      expect(readFileSync(path.join(dir, 'doc.md'), 'utf8')).toContain('\n41\n');
    });

    test('a current block is not stale', () => {
      writeFileSync(path.join(dir, 'doc.md'), '<!-- answer:start -->\n42\n<!-- answer:end -->\n');
      expect(regenerateDocs(dir, [block(() => '42')])[0]?.stale).toEqual([]);
    });

    test('a block without its markers, or with them twice, is an error that names the file', () => {
      writeFileSync(path.join(dir, 'doc.md'), 'no markers\n');
      expect(() => regenerateDocs(dir, [block(() => '42')])).toThrow(/doc\.md: needs exactly one/);
      writeFileSync(path.join(dir, 'doc.md'), '<!-- answer:start -->\n<!-- answer:end -->\n'.repeat(2));
      expect(() => regenerateDocs(dir, [block(() => '42')])).toThrow(/doc\.md: needs exactly one/);
    });
  });
});

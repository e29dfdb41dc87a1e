import { readFileSync } from 'node:fs';
import { renderEnvTable, SERVICE_DOC, withCurrentEnvTable } from '../../scripts/harness/docs-env';

test('docs/service.md lists exactly the contract env (regenerate: npx tsx scripts/harness/docs-env.ts --write)', () => {
  const doc = readFileSync(SERVICE_DOC, 'utf8');
  expect(doc).toContain(renderEnvTable());
  expect(withCurrentEnvTable(doc)).toBe(doc);
});

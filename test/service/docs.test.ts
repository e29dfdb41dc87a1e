import { readFileSync } from 'node:fs';
import { envTableIsCurrent, SERVICE_DOC } from '../../scripts/harness/docs-env';

test('docs/service.md lists exactly the contract env (regenerate: npx tsx scripts/harness/docs-env.ts --write)', () => {
  expect(envTableIsCurrent(readFileSync(SERVICE_DOC, 'utf8'))).toBe(true);
});

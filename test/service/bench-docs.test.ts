import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  readBenchResult,
  readmeBlock,
  renderReadmeSection,
  renderServiceDocBlock,
  serviceDocBlock,
} from '../../scripts/bench-report';

const read = (file: string) => readFileSync(path.join(__dirname, '..', '..', file), 'utf8');

describe('bench numbers in the docs', () => {
  test('the README quotes exactly the saved bench run (npm run bench -- --write-readme)', () => {
    expect(readmeBlock(read('README.md'))).toBe(renderReadmeSection(readBenchResult()));
  });

  test('docs/service.md shows the same run as the bench printed it', () => {
    expect(serviceDocBlock(read('docs/service.md'))).toBe(renderServiceDocBlock(readBenchResult()));
  });
});

import { createLineWriter } from '../../service/src/observability/line-writer';

test('lines written in one event-loop turn reach stdout as one write, in order', async () => {
  const chunks: string[] = [];
  const write = createLineWriter((c) => chunks.push(c));
  write('a\n');
  write('b\n');
  write('c\n');
  expect(chunks).toEqual([]);
  await new Promise((r) => setImmediate(r));
  expect(chunks).toEqual(['a\nb\nc\n']);
  write('d\n');
  write.flush();
  expect(chunks).toEqual(['a\nb\nc\n', 'd\n']);
  await new Promise((r) => setImmediate(r));
  expect(chunks).toHaveLength(2);
});

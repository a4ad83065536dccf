import test from 'ava';
import { withRanks } from '../../src/testing/index.js';

for (const n of [1, 3]) {
  test(`allGather, reduceScatter, allToAll, reduce, gather and recv write into a given out (arena and plain), ${n} ranks`, async (t) => {
    const reports = (await withRanks(n, { module: new URL('../fixtures/comm-out.js', import.meta.url), exportName: 'intoOut' })) as {
      results: Record<string, boolean>; error: string; aliasing: string; allReduceShape: string; sameTensor: boolean; recvShape: string;
    }[];
    for (const report of reports) {
      for (const [what, ok] of Object.entries(report.results)) t.true(ok, what);
      t.regex(report.error, new RegExp(`\`options.out\` \\(float32 \\[3\\]\\) must be float32 \\[${2 * n}\\]`));
      if (n > 1) t.regex(report.aliasing, /must not share storage with the input/);
      t.regex(report.allReduceShape, /`options.out` \(float32 \[2, 1\]\) must be float32 \[2\]/);
      t.true(report.sameTensor, 'allReduce still works in place (out is the input)');
      if (n > 1) t.deepEqual(Object.keys(report.results).filter((k) => k.startsWith('recv')).sort(), ['recv false', 'recv true'], 'recv was checked');
      t.regex(report.recvShape, n > 1 ? /`options.out` \(int32 \[2\]\) must be float32 \[2\], the tensor this recv takes/ : /own group rank/);
    }
  });
}

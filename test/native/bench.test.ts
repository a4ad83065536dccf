/**
 * `multirank bench --backend nccl|hccl` on the CPU shims: every op runs on the ranks' devices and its
 * data check passes.
 */
import './shim-env.js';
import test from 'ava';
import { benchCommand } from '../../src/cli/bench.js';

async function bench(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [], err: string[] = [];
  const code = await benchCommand(argv, { log: (s) => out.push(...s.split('\n')), error: (s) => err.push(...s.split('\n')) });
  return { code, out, err };
}

const rowsOf = (lines: string[]): string[][] => lines.filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.trim().split(/\s+/));

for (const backend of ['nccl', 'hccl']) {
  test(`multirank bench --backend ${backend}: every op on 3 ranks, two dtypes, results check out`, async (t) => {
    const argv = ['all', '-n', '3', '-b', '24', '-e', '96K', '-f', '64', '-d', 'float32,bfloat16', '-o', 'sum,avg',
      '--backend', backend, '--iters', '3', '-w', '1', '--no-progress'];
    const { code, out, err } = await bench(argv);
    t.is(code, 0, err.join('\n'));
    t.regex(out[1]!, new RegExp(`nRanks 3 backend ${backend}`));
    const rows = rowsOf(out);
    t.true(rows.length > 30, `${rows.length} rows`);
    for (const r of rows.filter((row) => row[7] !== undefined && row[8] !== 'N/A')) t.is(r[8], '0', r.join(' '));
    t.true(out.includes('# Out of bounds values : 0 OK'), out.slice(-4).join('\n'));
  });
}

/** bench/fingerprint-cost.ts runs end to end (tiny sizes) and prints the figures its docs quote. */
import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../../bench/fingerprint-cost.js', import.meta.url));
const run = promisify(execFile);

for (const control of [false, true]) {
  test(`fingerprint-cost${control ? ' --control' : ''}: JSON with one cost per run, the median run's, and per-call times`, async (t) => {
    const args = [script, '--runs', '3', '--rounds', '9', '--iterations', '20', '--json', ...(control ? ['--control'] : [])];
    const { stdout } = await run(process.execPath, args, { timeout: 120_000 });
    const r = JSON.parse(stdout) as { runs: number; costs: number[]; cost: number; costMin: number; costMax: number; checkedUs: number; uncheckedUs: number; control: boolean };
    t.is(r.runs, 3);
    t.is(r.control, control);
    t.is(r.costs.length, 3);
    t.true(r.costs.every(Number.isFinite));
    t.is(r.cost, [...r.costs].sort((a, b) => a - b)[1]);
    t.is(r.costMin, Math.min(...r.costs));
    t.is(r.costMax, Math.max(...r.costs));
    t.true(r.checkedUs > 0 && r.uncheckedUs > 0);
  });
}

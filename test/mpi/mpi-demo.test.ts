/**
 * The demo job (Megatron tp=2 pp=2 dp=2, `multirank demo`'s defaults) over 2 processes of 4 ranks under
 * mpirun: tp and dp groups stay in a process (shared memory), pp groups and the model-parallel and world
 * groups span both (the `mpi` backend). Its result matches the 1-rank reference within the demo's
 * tolerance, and the one-process run of 8 ranks. Skipped, with the reason, where mpirun is missing.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareWithReference, DEMO_TOLERANCE } from '../../src/cli/demo.js';
import type { DemoRankResult } from '../../src/cli/demo-rank.js';
import { DEMO_SIZES } from '../fixtures/mpi-demo.js';
import { mpirunFlags, mpirunMissing } from '../helpers/mpirun.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const fixture = fileURLToPath(new URL('../fixtures/mpi-demo.js', import.meta.url));
const missing = mpirunMissing();

function run(file: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 120_000, killSignal: 'SIGKILL', maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : (error as { code?: number }).code ?? null, stdout, stderr });
    });
  });
}

function results(dir: string): DemoRankResult[] {
  return readdirSync(dir).map((name) => JSON.parse(readFileSync(join(dir, name), 'utf8')) as DemoRankResult)
    .sort((a, b) => a.rank - b.rank);
}

/** Largest difference between two runs' shards (loss, logits, every gradient), rank by rank. */
function maxDifference(a: DemoRankResult[], b: DemoRankResult[]): number {
  let worst = 0;
  const diff = (x: readonly number[] | undefined, y: readonly number[] | undefined): void => {
    if ((x === undefined) !== (y === undefined) || x?.length !== y?.length) worst = Infinity;
    x?.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - y![i]!))));
  };
  a.forEach((r, rank) => {
    const o = b[rank]!;
    diff(r.loss === undefined ? undefined : [r.loss], o.loss === undefined ? undefined : [o.loss]);
    diff(r.logits, o.logits);
    diff(r.grads.w1, o.grads.w1);
    diff(r.grads.w2, o.grads.w2);
    diff(r.grads.head, o.grads.head);
    if (JSON.stringify(r.coords) !== JSON.stringify(o.coords)) worst = Infinity;
  });
  return worst;
}

(missing === undefined ? test : test.skip)('Megatron tp=2 pp=2 dp=2 over 2 processes of 4 ranks: the demo job equals the one-process run', async (t) => {
  const dirs = [mkdtempSync(join(tmpdir(), 'mpi-demo-')), mkdtempSync(join(tmpdir(), 'mpi-demo-'))] as const;
  t.teardown(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
  const [spanning, single] = await Promise.all([
    run('mpirun', [...mpirunFlags(), '--bind-to', 'none', '-np', '2', process.execPath, cli, 'run', '-n', '4', fixture, '--', dirs[0]]),
    run(process.execPath, [cli, 'run', '-n', '8', fixture, '--', dirs[1]]),
  ]);
  t.is(spanning.code, 0, spanning.stderr);
  t.is(single.code, 0, single.stderr);
  const over2 = results(dirs[0]), in1 = results(dirs[1]);
  t.is(over2.filter(Boolean).length, 8);
  t.is(in1.filter(Boolean).length, 8);
  const againstReference = compareWithReference(over2, DEMO_SIZES, 2);
  t.true(againstReference <= DEMO_TOLERANCE, `2 processes vs the 1-rank reference: ${againstReference}`);
  const againstOneProcess = maxDifference(over2, in1);
  t.true(againstOneProcess <= DEMO_TOLERANCE, `2 processes vs 1 process: ${againstOneProcess}`);
  t.log(`max abs difference: ${againstReference.toExponential(2)} against the reference, ${againstOneProcess} against one process`);
});

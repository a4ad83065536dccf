/**
 * `multirank bench` end to end, with small sizes and few iterations: the table on stdout, every op at
 * an odd rank count with the data check passing, a deliberately corrupted result counted in #wrong with
 * exit code 1, the JSON and CSV files, the ceiling columns, and argument errors (exit code 2).
 */
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchCommand } from '../../src/cli/bench.js';
import { quietFailures } from '../helpers/quiet-failures.js';

quietFailures(); // the 'backend this build lacks' case fails its job on purpose

async function bench(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [], err: string[] = [];
  const code = await benchCommand(argv, { log: (s) => out.push(...s.split('\n')), error: (s) => err.push(...s.split('\n')) });
  return { code, out, err };
}

const FAST = ['--iters', '3', '-w', '1', '--no-progress'];
const rowsOf = (lines: string[]): string[][] => lines.filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.trim().split(/\s+/));

test('allReduce on 2 ranks: preamble, nccl-tests header, one row per size, #wrong 0, footer OK', async (t) => {
  const { code, out, err } = await bench(['-b', '4', '-e', '4K', '-f', '8', ...FAST]);
  t.is(code, 0, err.join('\n'));
  t.regex(out[0]!, /^# multirank bench .*Node v\d+/);
  t.true(out.includes('#       size         count      type   redop    root     time   algbw   busbw  #wrong     time   algbw   busbw  #wrong'));
  const rows = rowsOf(out);
  t.deepEqual(rows.map((r) => r.slice(0, 5)), [
    ['4', '1', 'float32', 'sum', '-1'], ['32', '8', 'float32', 'sum', '-1'], ['256', '64', 'float32', 'sum', '-1'], ['2048', '512', 'float32', 'sum', '-1'],
  ]);
  for (const r of rows) t.deepEqual([r[8], r[12]], ['0', '0']);
  for (const r of rows) t.true(Number(r[5]) > 0 && Number(r[9]) > 0, `times ${r[5]} and ${r[9]}`);
  t.true(out.includes('# Out of bounds values : 0 OK'));
});

test('every op on 3 ranks, two dtypes and two reduce ops: all results check out', async (t) => {
  const { code, out, err } = await bench(['all', '-n', '3', '-b', '24', '-e', '6K', '-f', '16', '-d', 'float32,int64', '-o', 'sum,min', '-r', '2', ...FAST]);
  t.is(code, 0, err.join('\n'));
  const rows = rowsOf(out);
  // allReduce, reduceScatter, reduce: 2 dtypes x 2 ops x 3 sizes; allGather, broadcast, allToAll, sendRecv: 2 x 3; barrier 1.
  t.is(rows.length, 3 * 12 + 4 * 6 + 1);
  const wrong = rows.flatMap((r) => [r[8], r[12]]).filter((w) => w !== '0' && w !== 'N/A');
  t.deepEqual(wrong, []);
  t.is(rows.filter((r) => r[8] === '0' || r[12] === '0').length, rows.length - 1, 'every row but the barrier is checked');
  t.deepEqual(new Set(rows.filter((r) => r[4] !== '-1').map((r) => r[4])), new Set(['2']));
  t.true(out.includes('# Collective: sendRecv, 3 ranks (busbw factor 1)'));
});

test('bitwise ops and complex dtypes: rows only for the ops each dtype takes, all results check out', async (t) => {
  const args = ['allReduce,reduceScatter,reduce,allGather', '-n', '3', '-b', '48', '-e', '3K', '-f', '64'];
  const { code, out, err } = await bench([...args, '-d', 'int8,bool,float32,complex64,complex128', '-o', 'band,bxor,avg', ...FAST]);
  t.is(code, 0, err.join('\n'));
  const rows = rowsOf(out);
  const reduced = (op: string): string[] => rows.filter((r) => r[3] !== 'none' && r[3] !== undefined && op === r[3]).map((r) => r[2]!);
  // Per reducing op and size: int8 and bool take band and bxor, float32 and the complex dtypes avg.
  t.deepEqual(new Set(reduced('band')), new Set(['int8', 'bool']));
  t.deepEqual(new Set(reduced('bxor')), new Set(['int8', 'bool']));
  t.deepEqual(new Set(reduced('avg')), new Set(['float32', 'complex64', 'complex128']));
  t.is(rows.length, 3 * 2 * 7 + 2 * 5, '3 reducing ops x 2 sizes x 7 (dtype, op) pairs, allGather 2 sizes x 5 dtypes');
  t.deepEqual(rows.flatMap((r) => [r[8], r[12]]).filter((w) => w !== '0' && w !== 'N/A'), []);
});

test('a corrupted result counts as #wrong > 0 and makes the exit code 1', async (t) => {
  const { code, out, err } = await bench(['allReduce,allGather', '-b', '64', '-e', '64', '-d', 'bfloat16', '--inject-error', '1', ...FAST]);
  t.is(code, 1);
  const rows = rowsOf(out);
  t.deepEqual(rows.map((r) => [r[0], r[8], r[12]]), [['64', '1', '1'], ['64', '1', 'N/A']]);
  t.true(out.includes('# Out of bounds values : 3 FAILED'));
  t.regex(err.join('\n'), /3 wrong element\(s\)/);
});

test('--json and --csv write the records; --ceiling adds the memory floor', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'multirank-bench-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const json = join(dir, 'out.json'), csv = join(dir, 'out.csv');
  const { code, out, err } = await bench(['-b', '1K', '-e', '64K', '-f', '8', '--ceiling', '--json', json, '--csv', csv, ...FAST]);
  t.is(code, 0, err.join('\n'));
  t.regex(out.find((l) => l.includes('size'))!, /membw +busbw +%oop +%ip$/);
  const doc = JSON.parse(readFileSync(json, 'utf8')) as { results: Array<Record<string, any>>; config: Record<string, unknown>; machine: Record<string, unknown> };
  t.deepEqual(doc.results.map((r) => r.size), [1024, 8192, 65536]);
  t.like(doc.config, { ranks: 2, iterations: 3, ceiling: true });
  t.true(typeof doc.machine.cpu === 'string' && typeof doc.machine.node === 'string');
  for (const r of doc.results) {
    t.like(r, { op: 'allReduce', ranks: 2, type: 'float32', out_of_place: { nwrong: 0 }, in_place: { nwrong: 0 }, actual_iterations: 3 });
    t.true(r.out_of_place_per_iter.min_us <= r.out_of_place.time && r.out_of_place.time <= r.out_of_place_per_iter.max_us);
    t.true(r.ceiling.copy_bw > 0 && r.ceiling.reduce_bw > 0 && r.ceiling.mem_bw === Math.max(r.ceiling.copy_bw, r.ceiling.reduce_bw));
    t.true(r.ceiling.out_of_place_pct > 0);
  }
  const lines = readFileSync(csv, 'utf8').trimEnd().split('\n');
  t.is(lines.length, 4);
  t.true(lines[0]!.startsWith('op,ranks,size,count,type,redop,root,oop_time_us'));
});

test('--json - puts the document on stdout and the table on stderr', async (t) => {
  const { code, out, err } = await bench(['barrier', '--json', '-', ...FAST]);
  t.is(code, 0);
  const doc = JSON.parse(out.join('\n')) as { results: Array<{ op: string }> };
  t.deepEqual(doc.results.map((r) => r.op), ['barrier']);
  t.true(err.some((l) => l.startsWith('#       size')));
});

test('bad arguments: exit code 2 with the message and the usage; --help: exit 0', async (t) => {
  const bad = await bench(['-n', '0']);
  t.is(bad.code, 2);
  t.regex(bad.err.join('\n'), /-n\/--nranks.*got 0[\s\S]*Usage: multirank bench/);
  const help = await bench(['--help']);
  t.is(help.code, 0);
  t.regex(help.out.join('\n'), /--ceiling/);
});

test('--backend mpi (between processes) is refused before any rank starts: exit code 2 with the reason', async (t) => {
  const { code, err } = await bench(['--backend', 'mpi', '-b', '8', '-e', '8', ...FAST]);
  t.is(code, 2);
  t.regex(err.join('\n'), /--backend mpi` moves CPU tensors between processes, and `multirank bench` runs its ranks in one process/);
});

import test from 'ava';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { launch } from '../../src/launch/launch.js';
import { withRanks } from '../../src/testing/index.js';
import { ErrorCodes } from '../../src/errors.js';
import { quietFailures } from '../helpers/quiet-failures.js';

const fixture = new URL('../fixtures/debug.js', import.meta.url);
/** Dumps (MULTIRANK_FR_DUMP_DIR) and the trace go here; removed after the file's tests. */
const dir = quietFailures();

test('a failure writes a flight-recorder dump with torch-style fields for every rank', async (t) => {
  const error = (await t.throwsAsync(withRanks(3, { module: fixture, exportName: 'failsAfterTwo' }))) as Error;
  const path = /Flight recorder dump: (\S+)/.exec(error.message)?.[1];
  t.truthy(path);
  t.is(dirname(path!), dir, 'the dump went to MULTIRANK_FR_DUMP_DIR');
  const dump = JSON.parse(readFileSync(path!, 'utf8'));
  t.is(dump.version, '2.4');
  t.is(dump.reason, 'failure');
  t.deepEqual(Object.keys(dump.ranks), ['0', '1', '2']);
  t.deepEqual(dump.pg_config['0'].ranks, [0, 1, 2]);
  const rank1 = dump.ranks['1'].entries;
  t.deepEqual(rank1.map((e: { profiling_name: string }) => e.profiling_name), ['multirank:allReduce', 'multirank:allReduce']);
  t.deepEqual(rank1.map((e: { collective_seq_id: number }) => e.collective_seq_id), [1, 2]);
  t.deepEqual(rank1[1].input_sizes, [[2]]);
  t.deepEqual(rank1[1].input_dtypes, ['int32']);
  t.is(rank1[0].state, 'completed');
  // Rank 0 was inside an allReduce when rank 1 failed: its third, or its second when the failure came
  // before it saw the second one end (a wait checks the abort word before it returns).
  const rank0 = dump.ranks['0'].entries;
  t.true(rank0.length === 2 || rank0.length === 3, `${rank0.length} entries`);
  t.is(rank0[rank0.length - 1].state, 'started');
  t.true(rank0[0].time_created_ns <= rank0[rank0.length - 1].time_created_ns);
});

test('a trace has one track per rank, a slice per collective with bytes and algorithm, and waits', async (t) => {
  const path = join(dir, 'trace.json');
  const results = await withRanks(4, { module: fixture, exportName: 'someCollectives' }, { tracePath: path });
  t.deepEqual(results, [0, 1, 2, 3]);
  const trace = JSON.parse(readFileSync(path, 'utf8'));
  t.true(Array.isArray(trace.traceEvents));
  const tracks = trace.traceEvents.filter((e: { name: string }) => e.name === 'thread_name');
  t.deepEqual(tracks.map((e: { tid: number; args: { name: string } }) => [e.tid, e.args.name]), [[0, 'rank 0'], [1, 'rank 1'], [2, 'rank 2'], [3, 'rank 3']]);
  const slices = trace.traceEvents.filter((e: { ph: string; cat: string }) => e.ph === 'X' && e.cat === 'collective');
  for (let rank = 0; rank < 4; rank++) {
    const mine = slices.filter((e: { tid: number }) => e.tid === rank);
    t.deepEqual(mine.map((e: { name: string }) => e.name), ['allReduce', 'allReduce', 'allReduce', 'allGather', 'allReduce', 'barrier']);
    t.is(mine[4].args.bytes, 40000);
    // nccl-tests' size: the gathered output of an allGather (4 ranks x 4 bytes), not the input's 4 bytes.
    t.is(mine[3].args.bytes, 16);
    t.is(mine[3].args.group, 'world');
    t.is(mine[4].args.algorithm, 'direct, 2 phases');
    t.is(mine[0].args.algorithm, 'inline, 1 phase');
    for (const e of mine) t.true(Number.isFinite(e.ts) && e.dur >= 0);
  }
  t.true(trace.traceEvents.some((e: { cat: string }) => e.cat === 'wait'));
});

test('chaos: the same seed gives the same schedule, another seed another one', async (t) => {
  const run = async (seed: number): Promise<unknown> => {
    const job = await launch({ worldSize: 3, module: fixture, exportName: 'barriers', chaos: { seed, maxDelayMs: 1 } });
    await job.results;
    const schedules = await job.chaosSchedules();
    await job.close();
    return schedules;
  };
  const first = await run(7), again = await run(7), other = await run(8);
  t.deepEqual(first, again);
  t.notDeepEqual(first, other);
  t.is((first as number[][])[0]!.length, 20);
  t.true((first as number[][]).flat().some((d) => d > 0));
});

test('chaos: rank 1 fails at its third collective when asked', async (t) => {
  const error = (await t.throwsAsync(withRanks(3, { module: fixture, exportName: 'barriers' }, { chaos: { seed: 1, failRank: 1, failAtCall: 3, maxDelayMs: 0 } }))) as Error & { code?: string };
  t.is(error.code, ErrorCodes.RANK_FAILED);
  t.regex(error.message, /Rank 1 failed: .*Chaos: rank 1 fails at its collective #3 \(barrier\)/);
});

/**
 * CPU and device tensors in one job through one GroupCoordinator: each group gets its own device
 * communicator (its unique id broadcast over its CPU side), CPU collectives run between device ones, and
 * the checks cover device calls (a mismatch is caught on the CPU side before the device call; the trace
 * has a slice per device collective).
 */
import './shim-env.js';
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withRanks } from '../../src/testing/index.js';

const fixture = new URL('../fixtures/native-mixed.js', import.meta.url);

test('subgroups with their own device communicators, CPU collectives in between, p2p both ways', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'multirank-native-trace-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'trace.json');
  const reports = (await withRanks(4, { module: fixture, exportName: 'mixed' }, { tracePath: path })) as Record<string, unknown>[];
  reports.forEach((r, rank) => {
    t.deepEqual(r.pair, rank < 2 ? [4, 4, 4, 4] : [2, 2, 2, 2], `rank ${rank}`);
    t.deepEqual(r.cpu, [6]);
    t.deepEqual(r.dworld, [3]);
    t.deepEqual(r.cpuAgain, rank < 2 ? [0, 1] : [2, 3]);
    t.deepEqual(r.exchanged, [(rank ^ 1) * 10]);
    t.regex(r.wrongDevice as string, /options\.out.*a tensor on cuda:\d \(the input's device\).*a tensor on cpu/);
  });
  const trace = JSON.parse(readFileSync(path, 'utf8')) as { traceEvents: { ph: string; cat: string; tid: number; name: string; args: { group: string; bytes: number } }[] };
  const mine = trace.traceEvents.filter((e) => e.ph === 'X' && e.cat === 'collective' && e.tid === 0);
  // The broadcast is the unique id's, over the pair's CPU side, when its first device tensor came.
  t.deepEqual(mine.filter((e) => e.args.group === 'pair').map((e) => e.name), ['broadcast', 'allReduce', 'allReduce', 'allGather', 'send', 'recv']);
  t.is(mine.find((e) => e.name === 'broadcast')!.args.bytes, 128, 'ncclUniqueId');
  t.true(mine.some((e) => e.name === 'allReduce' && e.args.group === 'world' && e.args.bytes === 4));
});

test('a call mismatch on the device side fails every member with both calls, before the device call', async (t) => {
  const reports = (await withRanks(2, { module: fixture, exportName: 'mismatch' })) as string[];
  for (const r of reports) {
    t.regex(r, /^true: /);
    t.regex(r, /allReduce/);
    t.regex(r, /allGather/);
  }
});

test('the nccl device side refuses tags and receives from any source by name; tag 0 works', async (t) => {
  const reports = (await withRanks(2, { module: fixture, exportName: 'p2pRefusals' })) as Record<string, string>[];
  for (const r of reports) {
    t.regex(r.tagged!, /ERR_MULTIRANK_INVALID_ARG_TYPE: Expected `options.tag` to be 0: the nccl side of group world matches messages by order only \(tags need CPU tensors\), got 3/);
    t.regex(r.any!, /ERR_MULTIRANK_INVALID_ARG_TYPE: Expected `options.src` to be a group rank: the nccl side of group world has no receive from any source, got "any"/);
    t.regex(r.recvTagged!, /`options.tag` to be 0: the nccl side of group world matches messages by order only/);
  }
  t.is(reports[1]!.plain, '7');
});

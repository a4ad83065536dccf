/**
 * The addon itself: it loads in 8 worker threads at once (context-aware) and their communicator works;
 * NCCL's error codes for bad arguments reach JavaScript as statuses with the library's text; device memory
 * is counted, and a bad free fails instead of crashing.
 */
import './shim-env.js';
import test from 'ava';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { NCCL, Status } from '../../src/native/addon.js';
import { loadVendor } from '../../src/native/vendors.js';
import { NCCL_SHIM } from './shim-env.js';

const ADDON = fileURLToPath(new URL('../../../native/build/Release/multirank_native.node', import.meta.url));

test('the addon loads in 8 worker threads at once; their 8-member communicator reduces uint32, uint64, avg', async (t) => {
  const { addon } = loadVendor('nccl');
  const id = addon.uniqueId(NCCL);
  const size = 8;
  const results = await Promise.all(Array.from({ length: size }, (_, rank) => new Promise<Record<string, unknown[]>>((resolve, reject) => {
    const worker = new Worker(new URL('../fixtures/native-thread.js', import.meta.url), { workerData: { rank, size, id, addonPath: ADDON, shim: NCCL_SHIM } });
    worker.once('message', resolve);
    worker.once('error', reject);
  })));
  for (const r of results) {
    t.true(r.loaded as unknown as boolean);
    t.deepEqual(r.u32, [0, 0xfffffff8, 28], 'uint32 sums wrap');
    t.deepEqual(r.u64, [0, String(7n << 40n), '18446744073709551615'], 'uint64 max is unsigned');
    t.deepEqual(r.avg, [0, 3.5, 1]);
  }
});

test('bad arguments come back as NCCL\'s codes with its text; a bad id or handle throws', (t) => {
  const { addon } = loadVendor('nccl');
  t.throws(() => addon.commInit(NCCL, 2, new Uint8Array(128), 0, 0), { message: /communicator init failed: invalid argument.*not made by this library's get-unique-id/ });
  t.throws(() => addon.commInit(NCCL, 2, new Uint8Array(12), 0, 0), { message: /unique id must be 128 bytes, got 12/ });
  t.throws(() => addon.commInit(NCCL, 1, addon.uniqueId(NCCL), 3, 0), { message: /invalid argument.*rank 3 is not in 0\.\.0/ });
  const h = addon.commInit(NCCL, 1, addon.uniqueId(NCCL), 0, 0);
  const buf = addon.malloc(NCCL, 0, 64);
  const cases: Array<[() => number, RegExp]> = [
    [() => addon.allReduce(h, buf, buf, 4, 42, 0, 1000), /invalid argument \(invalid data type 42\)/],
    [() => addon.allReduce(h, buf, buf, 4, 7, 9, 1000), /invalid argument \(invalid reduction operation 9\)/],
    [() => addon.allReduce(h, buf, buf, 4, 10, 0, 1000), /invalid argument .*data type 12 has no arithmetic/],
    [() => addon.broadcast(h, buf, buf, 4, 7, 1, 1000), /invalid argument .*root 1 is not a rank \(0\.\.0\)/],
    [() => addon.send(h, buf, 4, 7, 2, 1000), /invalid argument .*peer 2 is not a rank/],
    [() => addon.allReduce(h, 0, buf, 4, 7, 0, 1000), /invalid argument .*send buffer is NULL/],
  ];
  for (const [call, text] of cases) {
    t.is(call(), Status.ENQUEUE);
    t.regex(addon.lastError(h).text, text);
    t.is(addon.lastError(h).code, 4, 'ncclInvalidArgument');
  }
  t.is(addon.allGather(h, buf, buf, 4, 10, 1000), Status.OK, 'fp8 moves without arithmetic');
  t.throws(() => addon.timerStop(h), { message: /timerStop without timerStart/ });
  addon.timerStart(h);
  for (let i = 0; i < 100; i++) addon.allReduce(h, buf, buf, 16, 7, 0, 1000);
  const ms = addon.timerStop(h);
  t.true(ms >= 0 && ms < 10_000, `${ms} ms between the events`);
  t.is(addon.allReduce(h, buf, buf, 4, 7, 0, 1000), Status.OK, 'a refused call leaves the communicator usable');
  addon.commDestroy(h, false);
  t.throws(() => addon.sync(h, 1000), { message: /not a live communicator handle/ });
  const before = addon.liveAllocations(NCCL);
  addon.free(NCCL, 0, buf);
  t.is(addon.liveAllocations(NCCL), before - 1);
  t.throws(() => addon.free(NCCL, 0, buf), { message: /device free failed: invalid argument/ });
  t.throws(() => addon.malloc(NCCL, 99, 8), { message: /set device 99 failed/ });
});

test('the C baseline runs and reports every rank\'s time per call', (t) => {
  const ns = loadVendor('nccl').addon.benchC(NCCL, 2, 200, 1);
  t.is(ns.length, 2);
  for (const v of ns) t.true(v > 0 && Number.isFinite(v));
});

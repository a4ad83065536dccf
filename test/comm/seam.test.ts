/**
 * The communicator seam without ranks: the registry (backends this build lacks say why), nccl-tests'
 * byte accounting against the bench's, and the checks wrapper around a communicator that cannot check
 * calls itself (it agrees on each call over the CPU side first; a destroyed one throws on every use).
 */
import test from 'ava';
import { CheckedCommunicator } from '../../src/comm/checked.js';
import { ncclTestsBytes } from '../../src/comm/accounting.js';
import { AVAILABLE_BACKENDS, BACKENDS, NOT_IN_THIS_BUILD } from '../../src/comm/backends.js';
import { CommunicatorRegistry, deviceKind, registerMissingBackends } from '../../src/comm/registry.js';
import type { CallDescriptor, CommContext, DeviceCommunicator, GroupSpec } from '../../src/comm/types.js';
import { BENCH_OPS, opAccounting, rowSizeBytes } from '../../src/bench/ops.js';
import { RankRecord, RECORD_BYTES } from '../../src/debug/rank-status.js';
import { TraceRecorder } from '../../src/debug/trace.js';
import { tensor } from '../../src/tensor/index.js';
import { ClosedError, ErrorCodes } from '../../src/errors.js';
import { singleProcessWorld } from '../../src/comm/process-world.js';

const group: GroupSpec = { ranks: [0, 1], occurrence: 0, name: 'tp', timeoutMs: 1000, checkCalls: true };

test('the registry makes what is registered and names why a missing backend is missing', (t) => {
  const registry = new CommunicatorRegistry();
  registerMissingBackends(registry);
  t.deepEqual([...AVAILABLE_BACKENDS], ['threads', 'gloo', 'nccl', 'hccl', 'mpi']);
  t.deepEqual([...BACKENDS], ['threads', 'gloo', 'nccl', 'hccl', 'mpi']);
  t.deepEqual(NOT_IN_THIS_BUILD, {});
  registry.unavailable('mpi', 'cpu', 'its processes met through the store');
  t.false(registry.has('mpi', 'cpu'));
  const error = t.throws(() => registry.create('mpi', 'cpu', group));
  t.is((error as { code?: string }).code, ErrorCodes.BACKEND_UNAVAILABLE);
  t.regex(error!.message, /"mpi" backend is unavailable for cpu tensors: its processes met through the store/);
  t.throws(() => registry.create('threads', 'cpu', group), { message: /does not serve cpu tensors/ });
  t.throws(() => registry.create('tcp' as never, 'cpu', group), { message: /backend/ });
  let made: GroupSpec | undefined;
  registry.register('threads', 'cpu', (spec) => {
    made = spec;
    return fake([]).comm;
  });
  t.true(registry.has('threads', 'cpu'));
  registry.create('threads', 'cpu', group);
  t.is(made, group);
  t.is(deviceKind('cuda:3'), 'cuda');
  t.throws(() => deviceKind('tpu:0'), { message: /tensor\.device/ });
});

test('trace sizes follow nccl-tests, as the bench counts its rows', (t) => {
  for (const op of BENCH_OPS) {
    if (op === 'sendRecv') continue;
    for (const ranks of [2, 3, 8]) {
      const counts = opAccounting(op).counts(ranks * 1000, ranks);
      t.is(ncclTestsBytes(op, counts.sendCount * 4, ranks), op === 'barrier' ? 0 : rowSizeBytes(counts, 4), `${op} at ${ranks}`);
    }
  }
  t.is(ncclTestsBytes('gather', 12, 3), 36);
});

/** A communicator that records its calls; `checksCallsInBand` false, so the wrapper agrees for it. */
function fake(log: string[]): { comm: DeviceCommunicator } {
  let calls = 0;
  const comm = {
    name: 'fake', rankInGroup: 0, worldSize: 2, recordKey: 4096,
    capabilities: { devices: ['cuda'], dtypes: ['float32'], reduceOps: ['sum'], checksCallsInBand: false, eagerSendMessages: 1 },
    get calls() { return calls; },
    allReduce: (t: unknown) => { calls++; log.push('allReduce'); return t; },
    allGather: (t: unknown) => { calls++; log.push('allGather'); return t; },
    agree: (call: CallDescriptor) => { log.push(`agree ${JSON.stringify(call)}`); },
    barrier: () => { calls++; log.push('barrier'); },
    destroy: () => { log.push('destroy'); },
  };
  return { comm: comm as unknown as DeviceCommunicator };
}

function context(trace?: TraceRecorder): CommContext {
  const record = new RankRecord(new SharedArrayBuffer(RECORD_BYTES), 0, 0);
  return { rank: 0, worldSize: 2, timeoutMs: 1000, checkCalls: true, record, trace, registry: new CommunicatorRegistry(), processWorld: singleProcessWorld(2) };
}

test('the checks wrapper agrees on each call over the CPU side when the communicator cannot check it', (t) => {
  const innerLog: string[] = [], cpuLog: string[] = [];
  const trace = new TraceRecorder(0);
  const checked = new CheckedCommunicator(fake(innerLog).comm, context(trace), group, fake(cpuLog).comm);
  const x = tensor([1, 2, 3]);
  checked.allReduce(x, 'sum');
  checked.allGather(x, 0);
  t.deepEqual(innerLog, ['allReduce', 'allGather'], 'the device side runs the calls');
  t.deepEqual(cpuLog, [
    'agree {"op":"allReduce","dtype":"float32","shape":[3],"reduceOp":"sum"}',
    'agree {"op":"allGather","dtype":"float32","shape":[3],"dim":0}',
  ], 'the CPU side agreed on each call first');
  t.deepEqual(trace.events.map((e) => [e.name, e.args.bytes, e.args.group]), [['allReduce', 12, 'tp'], ['allGather', 24, 'tp']]);
  const unchecked = new CheckedCommunicator(fake(innerLog).comm, context(), { ...group, checkCalls: false }, fake(cpuLog).comm);
  unchecked.allReduce(x, 'sum');
  t.is(cpuLog.length, 2, 'no agreement when calls are not checked');
  checked.destroy();
  checked.destroy();
  t.is(innerLog.filter((l) => l === 'destroy').length, 1, 'destroy is idempotent');
  for (const use of [() => checked.allReduce(x, 'sum'), () => checked.barrier(), () => checked.probe(1), () => checked.send(x, 1)]) {
    t.throws(use, { instanceOf: ClosedError, message: /tp group's fake communicator was destroyed/ });
  }
});

test('the threads communicator checks in band: the wrapper adds no agreement', (t) => {
  const innerLog: string[] = [], cpuLog: string[] = [];
  const inner = fake(innerLog).comm as unknown as { capabilities: { checksCallsInBand: boolean } };
  inner.capabilities = { ...inner.capabilities, checksCallsInBand: true };
  const checked = new CheckedCommunicator(inner as unknown as DeviceCommunicator, context(), group, fake(cpuLog).comm);
  checked.allReduce(tensor([1]), 'sum');
  t.deepEqual(cpuLog, []);
  t.deepEqual(innerLog, ['allReduce']);
});

test('backend "gloo" runs CPU tensors as torch users mean it (threads in one process)', async (t) => {
  const { withRanks } = await import('../../src/testing/index.js');
  const results = await withRanks(3, { module: new URL('../fixtures/gloo.js', import.meta.url) });
  t.deepEqual(results, [[3, 'cpu'], [3, 'cpu'], [3, 'cpu']]);
});

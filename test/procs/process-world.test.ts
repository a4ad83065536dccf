import test from 'ava';
import {
  fromBlocks, localPlace, nodeOfRank, processOfRank, ranksOfProcess, singleProcessWorld, spansProcesses,
  tcpInitUrl,
} from '../../src/comm/process-world.js';
import { parseInitMethod } from '../../src/launch/process-rendezvous.js';
import { blockSizes } from '../../src/cli/run-agent.js';
import { planProcesses } from '../../src/cli/run-processes.js';

test('a world of blocks: the process and node of every rank, local ranks, spanning groups', (t) => {
  // Two nodes: node 0 holds processes 0, 1 (ranks 0-2, 3-4), node 1 process 2 (ranks 5-7).
  const w = fromBlocks('given', [3, 2, 3], [0, 0, 1], 1);
  t.is(w.worldSize, 8);
  t.deepEqual(w.processStarts, [0, 3, 5, 8]);
  t.is(w.nodeCount, 2);
  t.is(w.nodeRank, 0);
  t.deepEqual([0, 1, 2, 3, 4, 5, 6, 7].map((r) => processOfRank(w, r)), [0, 0, 0, 1, 1, 2, 2, 2]);
  t.deepEqual([0, 4, 5, 7].map((r) => nodeOfRank(w, r)), [0, 0, 1, 1]);
  t.deepEqual(ranksOfProcess(w), { first: 3, count: 2 });
  t.deepEqual(ranksOfProcess(w, 2), { first: 5, count: 3 });
  t.deepEqual([0, 4, 5, 7].map((r) => localPlace(w, r)), [
    { localRank: 0, localWorldSize: 5 }, { localRank: 4, localWorldSize: 5 },
    { localRank: 0, localWorldSize: 3 }, { localRank: 2, localWorldSize: 3 },
  ]);
  t.false(spansProcesses(w, [0, 1, 2]));
  t.true(spansProcesses(w, [2, 3]));
  t.true(spansProcesses(w, [5, 0]));
  t.false(spansProcesses(w, [4]));
  const one = singleProcessWorld(4);
  t.false(spansProcesses(one, [0, 3]));
  t.deepEqual(localPlace(one, 3), { localRank: 3, localWorldSize: 4 });
  t.true(Object.isFrozen(w) && Object.isFrozen(w.processStarts));
});

test('a world that cannot be is refused, naming the argument', (t) => {
  t.throws(() => fromBlocks('given', [], [], 0), { code: 'ERR_MULTIRANK_INVALID_ARG_TYPE', message: /rankCounts/ });
  t.throws(() => fromBlocks('given', [2, 0], [0, 0], 0), { code: 'ERR_MULTIRANK_OUT_OF_RANGE', message: /rankCounts\[1\]/ });
  t.throws(() => fromBlocks('given', [2, 2], [0, 2], 0), { code: 'ERR_MULTIRANK_OUT_OF_RANGE', message: /nodes\[1\]/ });
  t.throws(() => fromBlocks('given', [2, 2], [1, 1], 0), { code: 'ERR_MULTIRANK_OUT_OF_RANGE', message: /nodes\[0\]/ });
  t.throws(() => fromBlocks('given', [2, 2], [0], 0), { code: 'ERR_MULTIRANK_INVALID_ARG_TYPE', message: /nodes/ });
  t.throws(() => fromBlocks('given', [2, 2], [0, 1], 2), { code: 'ERR_MULTIRANK_OUT_OF_RANGE', message: /processIndex/ });
  t.throws(() => processOfRank(fromBlocks('given', [2], [0], 0), 2), { code: 'ERR_MULTIRANK_OUT_OF_RANGE', message: /rank 2/ });
});

test('init methods: env:// reads torchrun\'s variables, tcp:// its URL; what is missing is named', (t) => {
  const env = { MASTER_ADDR: '10.0.0.1', MASTER_PORT: '29500', RANK: '3', WORLD_SIZE: '4', GROUP_RANK: '1' };
  t.like(parseInitMethod('env://', env), { host: '10.0.0.1', port: 29500, processRank: 3, processCount: 4, node: 'node 1', hostsStore: false });
  t.like(parseInitMethod('env://', { ...env, RANK: '0' }), { hostsStore: true });
  t.like(parseInitMethod('env://', { ...env, RANK: '0', MULTIRANK_AGENT_STORE: '1' }), { hostsStore: false });
  t.like(parseInitMethod('tcp://127.0.0.1:1234?rank=1&world_size=2', {}), { host: '127.0.0.1', port: 1234, processRank: 1, processCount: 2 });
  t.throws(() => parseInitMethod('env://', { ...env, MASTER_PORT: undefined }), { message: /MASTER_PORT/ });
  t.throws(() => parseInitMethod('env://', { ...env, RANK: '4' }), { message: /RANK \(4\) must be below WORLD_SIZE \(4\)/ });
  t.throws(() => parseInitMethod('file:///tmp/f', env), { message: /env:\/\/, tcp:\/\/host:port/ });
  t.throws(() => parseInitMethod('tcp://127.0.0.1?rank=0&world_size=1', {}), { message: /tcp:\/\/ with a host and a port/ });
  t.throws(() => parseInitMethod('tcp://127.0.0.1:9?rank=2&world_size=2', {}), { message: /initMethod rank/ });
});

test('multirank run\'s process flags: blocks, roles and usage errors', (t) => {
  t.deepEqual(blockSizes(8, 2), [4, 4]);
  t.deepEqual(blockSizes(5, 3), [2, 2, 1]);
  const positive = (name: string, text: string | undefined): number | undefined => {
    if (text === undefined) return undefined;
    const value = Number(text);
    if (!Number.isInteger(value) || value <= 0) throw new RangeError(`--${name} must be a positive integer`);
    return value;
  };
  t.deepEqual(planProcesses({}, 4, positive), {});
  t.like(planProcesses({ procs: '2' }, 4, positive).agent, { procs: 2, nnodes: 1, nodeRank: 0, masterPort: 0, masterAddr: '127.0.0.1' });
  t.like(planProcesses({ nnodes: '2', 'node-rank': '1', 'master-addr': '10.1.1.1' }, 4, positive).agent, { nodeRank: 1, masterPort: 29500 });
  t.is(planProcesses({ 'init-method': 'env://' }, 4, positive).initMethod, 'env://');
  t.throws(() => planProcesses({ procs: '5' }, 4, positive), { message: /--procs 5 is more processes than ranks \(-n 4\)/ });
  t.throws(() => planProcesses({ nnodes: '2' }, 4, positive), { message: /--nnodes 2 needs --node-rank K \(0\.\.1\)/ });
  t.throws(() => planProcesses({ nnodes: '2', 'node-rank': '2' }, 4, positive), { message: /--node-rank must be an integer in 0\.\.1, got "2"/ });
  t.throws(() => planProcesses({ 'master-port': '29500' }, 4, positive), { message: /--master-port needs --nnodes/ });
  t.throws(() => planProcesses({ nnodes: '2', 'node-rank': '0', 'master-port': '0' }, 4, positive), { message: /--master-port must be a port in 1\.\.65535/ });
  t.throws(() => planProcesses({ 'init-method': 'env://', procs: '2' }, 4, positive), { message: /--init-method runs one worker process/ });
});

test('tcpInitUrl: torch\'s tcp://host:port (with a query) parses; anything else is undefined', (t) => {
  const url = tcpInitUrl('tcp://10.0.0.2:29500?rank=1&world_size=2');
  t.is(url?.hostname, '10.0.0.2');
  t.is(url?.port, '29500');
  t.is(url?.searchParams.get('rank'), '1');
  t.is(tcpInitUrl('tcp://[::1]:9')?.hostname, '[::1]');
  for (const bad of ['env://', 'tcp://host', 'tcp://:9', 'http://h:9', 'tcp://h:x', '', 9, undefined]) {
    t.is(tcpInitUrl(bad), undefined, String(bad));
  }
});

import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import test from 'ava';
import { instantiateKernels, kernelModule, KERNEL_STATUS } from '../../src/shm/kernels.js';
import { DTYPES, dtypeInfo, REDUCE_OP_CODES } from '../../src/tensor/dtype.js';
import { createEnv } from './harness.js';

const EXPORTS = ['bf16ToF32', 'copy', 'f16ToF32', 'f32ToBf16', 'f32ToF16', 'fill', 'reduce', 'reduce2', 'reduceStrided'];
const code = (d: (typeof DTYPES)[number]): number => dtypeInfo(d).code;

/** Section ids of a wasm binary, in order. */
function sectionIds(bytes: Uint8Array): number[] {
  const ids: number[] = [];
  let at = 8;
  while (at < bytes.length) {
    ids.push(bytes[at++]!);
    let size = 0;
    for (let shift = 0; ; shift += 7) {
      const b = bytes[at++]!;
      size += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) break;
    }
    at += size;
  }
  return ids;
}

test('kernelModule compiles once; the module imports only the memory and exports the ABI', (t) => {
  const mod = kernelModule();
  t.is(kernelModule(), mod);
  t.deepEqual(WebAssembly.Module.imports(mod), [{ module: 'env', name: 'memory', kind: 'memory' }]);
  t.deepEqual(WebAssembly.Module.exports(mod).map((e) => `${e.name}:${e.kind}`).sort(), EXPORTS.map((n) => `${n}:function`).sort());
});

test('kernels.wasm is kernels only: no data, start, global, table or element section', (t) => {
  const ids = sectionIds(readFileSync(new URL('../../kernels.wasm', import.meta.url)));
  t.deepEqual(ids.filter((id) => id !== 0), [1, 2, 3, 7, 10]); // type, import, function, export, code
});

test('instantiateKernels refuses a memory that is not shared', (t) => {
  const plain = new WebAssembly.Memory({ initial: 1, maximum: 2 });
  t.throws(() => instantiateKernels(plain), { instanceOf: TypeError, code: 'ERR_MULTIRANK_INVALID_ARG_TYPE', message: /shared WebAssembly\.Memory/ });
  t.throws(() => instantiateKernels({} as WebAssembly.Memory), { code: 'ERR_MULTIRANK_INVALID_ARG_TYPE' });
});

test('raw exports return a status and leave memory untouched on refused ops, bad codes, k < 1, n < 0', (t) => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  const raw = new WebAssembly.Instance(kernelModule(), { env: { memory } }).exports as unknown as {
    reduce(d: number, o: number, dst: number, table: number, k: number, n: number): number;
    reduce2(d: number, o: number, dst: number, a: number, b: number, n: number): number;
  };
  const bytes = new Uint8Array(memory.buffer);
  bytes.fill(7);
  new Uint32Array(memory.buffer, 0, 2).set([256, 512]);
  const avg = REDUCE_OP_CODES.avg;
  for (const d of ['int8', 'uint8', 'int32', 'int64', 'bool'] as const) {
    t.is(raw.reduce(code(d), avg, 1024, 0, 2, 16), KERNEL_STATUS.OP_NOT_ALLOWED, d);
    t.is(raw.reduce2(code(d), avg, 1024, 256, 512, 16), KERNEL_STATUS.OP_NOT_ALLOWED, d);
  }
  for (const d of ['float32', 'float64', 'float16', 'bfloat16'] as const) {
    for (const op of ['band', 'bor', 'bxor'] as const) {
      t.is(raw.reduce(code(d), REDUCE_OP_CODES[op], 1024, 0, 2, 16), KERNEL_STATUS.OP_NOT_ALLOWED, `${d} ${op}`);
      t.is(raw.reduce2(code(d), REDUCE_OP_CODES[op], 1024, 256, 512, 16), KERNEL_STATUS.OP_NOT_ALLOWED, `${d} ${op}`);
    }
  }
  t.is(raw.reduce(11, 0, 1024, 0, 2, 16), KERNEL_STATUS.BAD_DTYPE);
  t.is(raw.reduce2(-1, 0, 1024, 256, 512, 16), KERNEL_STATUS.BAD_DTYPE);
  t.is(raw.reduce(0, 8, 1024, 0, 2, 16), KERNEL_STATUS.BAD_OP);
  t.is(raw.reduce(code('complex64'), -1, 1024, 0, 2, 16), KERNEL_STATUS.BAD_OP);
  t.is(raw.reduce2(code('int32'), 9, 1024, 256, 512, 16), KERNEL_STATUS.BAD_OP);
  t.is(raw.reduce(0, 0, 1024, 0, 0, 16), KERNEL_STATUS.BAD_K);
  t.is(raw.reduce(0, 0, 1024, 0, 2, -1), KERNEL_STATUS.BAD_N);
  t.is(raw.reduce2(0, 0, 1024, 256, 512, -1), KERNEL_STATUS.BAD_N);
  t.true(bytes.subarray(8).every((b) => b === 7), 'a refused call wrote to memory');
  t.is(raw.reduce(0, 0, 1024, 0, 2, 16), KERNEL_STATUS.OK);
  t.true(bytes.subarray(1024 + 64).every((b) => b === 7), 'wrote past dst');
});

test('the wrapper throws coded errors for refused ops (naming the op, the dtype and the rule) and bad codes', (t) => {
  const { kernels } = createEnv(1);
  t.throws(() => kernels.reduce2(code('int32'), REDUCE_OP_CODES.avg, 256, 512, 768, 4), {
    instanceOf: TypeError, code: 'ERR_MULTIRANK_DTYPE', message: /"avg".*"int32"/,
  });
  t.throws(() => kernels.reduce(code('bool'), REDUCE_OP_CODES.avg, 256, 0, 1, 4), { code: 'ERR_MULTIRANK_DTYPE', message: /"bool".*floating or complex dtype/ });
  t.throws(() => kernels.reduce2(code('bfloat16'), REDUCE_OP_CODES.bxor, 256, 512, 768, 4), {
    instanceOf: TypeError, code: 'ERR_MULTIRANK_DTYPE', message: /"bxor" \(code 7\) is not allowed on dtype "bfloat16" \(code 3\): bitwise ops .* need an integer or bool dtype/,
  });
  t.throws(() => kernels.reduce2(11, 0, 256, 512, 768, 4), { instanceOf: RangeError, code: 'ERR_MULTIRANK_OUT_OF_RANGE', message: /dtypeCode.*float32=0.*bool=8, complex64=9, complex128=10\), got 11/ });
  t.throws(() => kernels.reduce2(0, 8, 256, 512, 768, 4), { instanceOf: RangeError, message: /opCode.*sum=0.*avg=4, band=5, bor=6, bxor=7\), got 8/ });
  t.throws(() => kernels.reduce(0, 0, 256, 0, 0, 4), { instanceOf: RangeError, code: 'ERR_MULTIRANK_OUT_OF_RANGE', message: /`k`.*got 0/ });
  t.throws(() => kernels.reduce(0, 0, 256, 0, 1.5, 4), { instanceOf: TypeError, message: /`k`/ });
  t.throws(() => kernels.reduce2(0, 0, 256, 512, 768, -1), { instanceOf: RangeError, message: /`count`.*got -1/ });
  t.throws(() => kernels.fill(0, 256, 4), { instanceOf: RangeError, message: /`value`.*256/ });
  t.throws(() => kernels.copy(0, 64, 2.5), { instanceOf: TypeError, message: /`sizeBytes`/ });
});

test('the wrapper checks bounds, alignment and overlap before the kernel runs', (t) => {
  const { memory, kernels } = createEnv(1);
  const f32 = code('float32');
  t.throws(() => kernels.reduce2(f32, 0, 65536 - 8, 0, 64, 4), { code: 'ERR_MULTIRANK_OUT_OF_RANGE', message: /`dstOffset`.*outside.*65536/ });
  t.throws(() => kernels.reduce2(f32, 0, 256, 2, 64, 4), { message: /`aOffset` \(2\) must be a multiple of the element size 4/ });
  t.throws(() => kernels.reduce2(f32, 0, 256, 260, 512, 4), { message: /`aOffset` \(260\) overlaps `dstOffset`/ });
  t.throws(() => kernels.reduce2(f32, 0, -4, 0, 64, 1), { instanceOf: RangeError, message: /`dstOffset`/ });
  new Uint32Array(memory.buffer, 0, 2).set([128, 1 << 20]);
  t.throws(() => kernels.reduce(f32, 0, 256, 0, 2, 4), { message: /`table\[1\]`.*outside/ });
  t.throws(() => kernels.reduce(f32, 0, 256, 65536 - 4, 2, 4), { message: /`tableOffset`.*outside/ });
  t.throws(() => kernels.reduce(f32, 0, 0, 8, 1, 16), { message: /`tableOffset`.*overlaps `dstOffset`/ });
  t.throws(() => kernels.f32ToF16(256, 260, 8), { message: /overlaps/ });
  t.throws(() => kernels.copy(65000, 0, 1000), { message: /`dstOffset`.*outside/ });
  t.notThrows(() => kernels.reduce2(f32, 0, 256, 256, 512, 4)); // exactly in place is allowed
  t.notThrows(() => kernels.reduce2(f32, 0, 65536, 65536, 65536, 0)); // empty range at the end
});

test('offsets in memory grown after instantiation are accepted', (t) => {
  const { memory, kernels } = createEnv(1);
  memory.grow(1);
  const f = new Float32Array(memory.buffer);
  f.set([1, 2, 3], 70000 / 4);
  f.set([10, 20, 30], 80000 / 4);
  kernels.reduce2(code('float32'), REDUCE_OP_CODES.sum, 90000, 70000, 80000, 3);
  t.deepEqual([...new Float32Array(memory.buffer, 90000, 3)], [11, 22, 33]);
});

test('copy and fill match a JS reference, overlapping copies included', (t) => {
  const { memory, kernels } = createEnv(1);
  const bytes = new Uint8Array(memory.buffer, 0, 4096);
  const expected = Uint8Array.from({ length: 4096 }, (_, i) => (i * 37 + 11) & 0xff);
  bytes.set(expected);
  for (const [dst, src, size] of [[100, 37, 999], [37, 100, 999], [2048, 0, 2048], [5, 5, 100], [0, 1, 0]] as const) {
    kernels.copy(dst, src, size);
    expected.copyWithin(dst, src, src + size);
  }
  kernels.fill(3, 0xab, 77);
  expected.fill(0xab, 3, 80);
  kernels.fill(4000, 0, 96);
  expected.fill(0, 4000, 4096);
  t.deepEqual(bytes, expected);
});

test('the compiled module and the memory can be posted to a worker, which reduces in the shared memory', async (t) => {
  const { memory } = createEnv(1);
  new Int32Array(memory.buffer, 1024, 4).set([1, -2, 3, 2 ** 31 - 1]);
  new Int32Array(memory.buffer, 2048, 4).set([10, 20, -30, 1]);
  const source = `
    const { workerData, parentPort } = require('node:worker_threads');
    import(workerData.loader).then(({ instantiateKernels }) => {
      const k = instantiateKernels(workerData.memory, workerData.module);
      k.reduce2(workerData.dtype, workerData.op, 4096, 1024, 2048, 4);
      parentPort.postMessage('done');
    });`;
  const loader = new URL('../../src/shm/kernels.js', import.meta.url).href;
  const worker = new Worker(source, { eval: true, workerData: { memory, module: kernelModule(), loader, dtype: code('int32'), op: REDUCE_OP_CODES.sum } });
  const message = await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
  await worker.terminate();
  t.is(message, 'done');
  t.deepEqual([...new Int32Array(memory.buffer, 4096, 4)], [11, 18, -27, -(2 ** 31)]);
});

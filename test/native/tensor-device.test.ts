/**
 * Tensors on a device, on the shim: to() and back, the constructors' `device` option, the current device,
 * release() freeing device memory (and a FinalizationRegistry doing it for a collected tensor), copies
 * across devices, and clear errors where host bytes are asked of a device tensor.
 */
import './shim-env.js';
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { arange, empty, full, setCurrentDevice, tensor, zeros } from '../../src/index.js';
import { parseDevice } from '../../src/tensor/device.js';
import { NCCL } from '../../src/native/addon.js';
import { loadVendor } from '../../src/native/vendors.js';

const live = (): number => loadVendor('nccl').addon.liveAllocations(NCCL);

test('to(device) and back keeps every bit; a tensor already there is returned as is', (t) => {
  const host = tensor([[1.5, -0, Number.NaN], [2, 3, 4]], { dtype: 'bfloat16' });
  const dev = host.to('cuda:1');
  t.is(dev.device, 'cuda:1');
  t.is(dev.to('cuda:1'), dev);
  t.deepEqual([...dev.to('cpu').bytes()], [...host.bytes()]);
  t.deepEqual(dev.to('npu:0').to('cpu').toNestedArray(), host.toNestedArray(), 'cuda -> npu through the host');
  t.is(String(dev), 'Tensor(shape=[2, 3], dtype=bfloat16, device=cuda:1)');
});

test('constructors take a device; zeros are zero; a bare kind is the current device', (t) => {
  t.deepEqual(zeros([3], { device: 'cuda:2', dtype: 'int64' }).to('cpu').toArray(), [0n, 0n, 0n]);
  t.deepEqual(full([2], 7, { device: 'cuda:0' }).to('cpu').toArray(), [7, 7]);
  t.deepEqual(arange(4, { device: 'npu:1', dtype: 'int32' }).to('cpu').toArray(), [0, 1, 2, 3]);
  t.is(empty([2, 2], { device: 'cuda' }).device, 'cuda:0');
  setCurrentDevice('cuda:3');
  t.is(tensor([1], { device: 'cuda' }).device, 'cuda:3');
  t.is(parseDevice('npu'), 'npu:0');
  setCurrentDevice('cuda:0');
  t.throws(() => parseDevice('tpu:0'), { message: /"cpu", "cuda", "cuda:N", "npu", "npu:N".*"tpu:0"/ });
  t.throws(() => empty([1], { device: 'cuda:0', shared: true }), { message: /options\.device/ });
});

test('host bytes of a device tensor are refused with what to do; views and clones stay on the device', (t) => {
  const x = arange(6, { device: 'cuda:0' });
  t.throws(() => x.data, { message: /this one is on cuda:0: copy it with \.to\('cpu'\) first/ });
  t.throws(() => x.toArray(), { message: /cuda:0/ });
  const view = x.view(2, 3);
  t.is(view.device, 'cuda:0');
  t.deepEqual(view.narrow(0, 1, 1).to('cpu').toArray(), [3, 4, 5]);
  const copy = x.clone();
  t.is(copy.device, 'cuda:0');
  x.copyFrom(tensor([9, 9, 9, 9, 9, 9]));
  t.deepEqual(copy.to('cpu').toArray(), [0, 1, 2, 3, 4, 5]);
  t.deepEqual(x.to('cpu').toArray(), [9, 9, 9, 9, 9, 9]);
  t.is(x.clone({ shared: false }).device, 'cuda:0');
});

test('release() frees the device memory once; a released tensor is not used again', (t) => {
  const before = live();
  const x = zeros([1024], { device: 'cuda:0' });
  t.is(live(), before + 1);
  x.release();
  x.release();
  t.is(live(), before);
  t.throws(() => x.to('cpu'), { message: /released/ });
  const empty0 = zeros([0], { device: 'cuda:0' });
  t.is(live(), before, 'no allocation for no bytes');
  t.deepEqual(empty0.to('cpu').toArray(), []);
});

test('a device tensor nobody released is freed once collected (FinalizationRegistry)', (t) => {
  const index = fileURLToPath(new URL('../../src/index.js', import.meta.url));
  const script = `
    const { tensor } = await import(${JSON.stringify(index)});
    const { loadVendor } = await import(${JSON.stringify(index.replace('index.js', 'native/vendors.js'))});
    const live = () => loadVendor('nccl').addon.liveAllocations(0);
    const base = live();
    (() => { for (let i = 0; i < 50; i++) tensor([i, i], { device: 'cuda:0' }); })();
    const made = live() - base;
    for (let i = 0; i < 10 && live() > base; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); }
    console.log(JSON.stringify({ made, left: live() - base }));`;
  const child = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', env: process.env });
  t.is(child.status, 0, child.stderr);
  t.deepEqual(JSON.parse(child.stdout), { made: 50, left: 0 });
});

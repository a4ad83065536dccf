/**
 * The vendor library missing, at a wrong path, or of a wrong version: a clear message naming every path
 * tried, and CPU collectives keep working in the same job. This file never loads a library successfully
 * (the process keeps the first that loads), so it does not use shim-env.
 */
import test from 'ava';
import { benchCommand } from '../../src/cli/bench.js';
import { vendorStatus } from '../../src/native/vendors.js';
import { withRanks } from '../../src/testing/index.js';
import { NCCL_SHIM } from './shim-env-paths.js';

const ENV = ['MULTIRANK_NCCL_LIBRARY', 'MULTIRANK_CUDART_LIBRARY', 'MULTIRANK_HCCL_LIBRARY', 'MULTIRANK_ACL_LIBRARY', 'MULTIRANK_SHIM_NCCL_VERSION'];
const reset = (): void => ENV.forEach((name) => delete process.env[name]);
const reason = (status: ReturnType<typeof vendorStatus>): string => (status.available ? 'loaded' : status.reason);

test.serial('a wrong path: the message names it and why it did not load', (t) => {
  reset();
  process.env.MULTIRANK_CUDART_LIBRARY = NCCL_SHIM;
  process.env.MULTIRANK_NCCL_LIBRARY = '/nonexistent/libnccl.so.2';
  const message = reason(vendorStatus('nccl'));
  t.regex(message, /^NCCL could not be loaded \(MULTIRANK_CUDART_LIBRARY=.*libnccl_shim\.so; MULTIRANK_NCCL_LIBRARY=\/nonexistent\/libnccl\.so\.2\)/);
  t.regex(message, /\/nonexistent\/libnccl\.so\.2: .*No such file or directory/);
  t.regex(message, /CPU tensors are not affected/);
});

test.serial('the usual names and places are tried in order when no variable names a path', (t) => {
  reset();
  process.env.MULTIRANK_CUDART_LIBRARY = '/nonexistent/libcudart.so.12';
  const noRuntime = reason(vendorStatus('nccl'));
  t.regex(noRuntime, /MULTIRANK_NCCL_LIBRARY unset: the usual names and places/);
  t.regex(noRuntime, /\/nonexistent\/libcudart\.so\.12: /);
  t.regex(noRuntime, /no runtime loaded, so the collective library was not tried: libnccl\.so\.2, libnccl\.so/);
  process.env.MULTIRANK_CUDART_LIBRARY = NCCL_SHIM;
  const noNccl = reason(vendorStatus('nccl'));
  t.regex(noNccl, /\n {2}libnccl\.so\.2: .*cannot open shared object file[\s\S]*\n {2}libnccl\.so: /);
  delete process.env.MULTIRANK_CUDART_LIBRARY;
  process.env.MULTIRANK_HCCL_LIBRARY = '/nonexistent/libhccl.so';
  const hccl = reason(vendorStatus('hccl'));
  t.regex(hccl, /^HCCL could not be loaded \(MULTIRANK_ACL_LIBRARY unset: the usual names and places/);
  t.regex(hccl, /\n {2}libascendcl\.so: [\s\S]*\/usr\/local\/Ascend\/ascend-toolkit\/latest\/lib64\/libascendcl\.so: /);
  t.regex(hccl, /not tried: \/nonexistent\/libhccl\.so/);
});

test.serial('a library of the wrong kind or the wrong version is refused with the reason', (t) => {
  reset();
  process.env.MULTIRANK_CUDART_LIBRARY = NCCL_SHIM;
  process.env.MULTIRANK_NCCL_LIBRARY = NCCL_SHIM.replace('libnccl_shim', 'libhccl_shim');
  t.regex(reason(vendorStatus('nccl')), /libhccl_shim\.so: it has no symbol nccl\w+ \(not this vendor's library, or too old\)/);
  process.env.MULTIRANK_NCCL_LIBRARY = NCCL_SHIM;
  process.env.MULTIRANK_SHIM_NCCL_VERSION = '2804';
  t.regex(reason(vendorStatus('nccl')), /libnccl_shim\.so: its version 2\.8\.4 is not supported: multirank needs NCCL 2\.x from 2\.10\.0 on/);
  process.env.MULTIRANK_SHIM_NCCL_VERSION = '30001';
  t.regex(reason(vendorStatus('nccl')), /its version 3\.0\.1 is not supported/);
});

test.serial('in a job: the device collective says why, CPU collectives still work', async (t) => {
  reset();
  process.env.MULTIRANK_CUDART_LIBRARY = NCCL_SHIM;
  process.env.MULTIRANK_NCCL_LIBRARY = '/nonexistent/libnccl.so.2';
  const reports = (await withRanks(2, new URL('../fixtures/native-missing.js', import.meta.url))) as {
    device: string; code: string; cpu: number[]; again: string;
  }[];
  for (const r of reports) {
    t.is(r.code, 'ERR_MULTIRANK_BACKEND_UNAVAILABLE');
    t.regex(r.device, /The "nccl" backend is unavailable|NCCL could not be loaded/);
    t.regex(r.device, /\/nonexistent\/libnccl\.so\.2/);
    t.deepEqual(r.cpu, [3, 20]);
    t.regex(r.again, /\/nonexistent\/libnccl\.so\.2/);
  }
});

test.serial('multirank bench --backend nccl: refused before any rank starts (exit 2), with the paths tried', async (t) => {
  reset();
  process.env.MULTIRANK_NCCL_LIBRARY = '/nonexistent/libnccl.so.2';
  process.env.MULTIRANK_CUDART_LIBRARY = NCCL_SHIM;
  const err: string[] = [];
  const code = await benchCommand(['--backend', 'nccl', '--no-progress'], { log: () => undefined, error: (s) => err.push(s) });
  t.is(code, 2);
  t.regex(err.join('\n'), /`--backend nccl` cannot run here: NCCL could not be loaded[\s\S]*\/nonexistent\/libnccl\.so\.2/);
});

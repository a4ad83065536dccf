/**
 * The GPU check (native/gpu-check.sh runs it on a machine with one NVIDIA GPU; on the CPU shim it runs
 * anywhere): every collective x dtype x op at world size 1 on cuda:0 against the CPU result, send/recv to
 * self, and the time of a 4 B and a 256 MiB all-reduce. Prints one JSON object; exit 1 on any mismatch.
 *   node dist/bench/gpu-check.js [--device cuda:0] [--small-iters 2000] [--large-iters 50] [--large-bytes 268435456]
 */
import { parseArgs } from 'node:util';
import { launch } from '../src/launch/launch.js';
import { shutdown } from '../src/launch/runtime.js';
import { loadVendor } from '../src/native/vendors.js';
import type { GpuCheckReport } from './gpu-check-body.js';

const { values } = parseArgs({
  options: {
    device: { type: 'string' }, 'small-iters': { type: 'string' }, 'large-iters': { type: 'string' },
    'large-bytes': { type: 'string' },
  },
});
const args = {
  device: values.device ?? 'cuda:0',
  smallIters: Number(values['small-iters'] ?? 2000),
  largeIters: Number(values['large-iters'] ?? 50),
  largeBytes: Number(values['large-bytes'] ?? 256 * 1024 * 1024),
};
const library = loadVendor('nccl').info;
const job = await launch({
  worldSize: 1, module: new URL('./gpu-check-body.js', import.meta.url), args, timeoutMs: 600_000,
});
const [report] = (await job.results) as GpuCheckReport[];
await job.close();
await shutdown();
report!.library = library;
console.log(JSON.stringify(report, null, 2));
process.exitCode = report!.failures.length === 0 ? 0 : 1;

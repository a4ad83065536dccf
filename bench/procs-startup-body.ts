/** The rank body of bench/procs-startup: one world barrier (the job's first collective), then the wall clock. */
import { initDistributedEnvironment } from '../src/index.js';

export default function main(): number {
  initDistributedEnvironment().world.barrier();
  return performance.timeOrigin + performance.now();
}

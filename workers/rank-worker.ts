/** The entry piscina runs in each rank thread: one task = one rank of one job. */
import { prepareThread, runRankTask } from '../src/launch/rank-runtime.js';

// Piscina waits for this module before it reports the thread ready: a standby thread starts its job warm.
await prepareThread();

export default runRankTask;

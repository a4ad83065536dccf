/** The entry piscina runs in each rank thread: one task = one rank of one job. */
import { runRankTask } from '../src/launch/rank-runtime.js';

export default runRankTask;

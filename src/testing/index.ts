/**
 * Test helpers (`multirank/testing`): run a body on n ranks from an ava or node:test test and get every
 * rank's result, or the failing rank's error (a RankFailedError naming it, with its stack).
 *
 *   // rank-body.js:  export function sumOfRanks({ rank }) { ... return value }
 *   test('sum', async (t) => {
 *     const results = await withRanks(4, {
 *       module: new URL('./rank-body.js', import.meta.url), exportName: 'sumOfRanks',
 *     });
 *   });
 */
import { invalidType } from '../errors.js';
import { launch, type LaunchOptions } from '../launch/launch.js';

export interface WithRanksTarget {
  module: URL | string;
  /** The export each rank runs (default: the default export). */
  exportName?: string;
}

export type WithRanksOptions<Args = unknown> = Omit<LaunchOptions<Args>, 'worldSize' | 'module' | 'exportName'>;

/**
 * Runs `target` on `worldSize` ranks; resolves with each rank's return value (a `Result`), in rank order.
 * `Args` is the type of `options.args` (see RankEntry).
 */
export async function withRanks<Result = unknown, Args = unknown>(
  worldSize: number, target: URL | string | WithRanksTarget, options: WithRanksOptions<Args> = {},
): Promise<Result[]> {
  const resolved: WithRanksTarget = typeof target === 'string' || target instanceof URL ? { module: target } : target;
  if (typeof resolved !== 'object' || resolved === null || resolved.module === undefined) {
    throw invalidType('target', 'a module URL or path, or { module, exportName }', target);
  }
  const launchOptions: LaunchOptions<Args> = { ...options, worldSize, module: resolved.module };
  if (resolved.exportName !== undefined) launchOptions.exportName = resolved.exportName;
  const job = await launch<Args, Result>(launchOptions);
  try {
    return await job.results;
  } finally {
    await job.close();
  }
}

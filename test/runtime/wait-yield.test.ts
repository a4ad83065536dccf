/**
 * Rank threads poll with the native addon's yield before they sleep (shm/wait.ts) where the addon is built;
 * MULTIRANK_WAIT_YIELD=0 turns it off for threads started after it is set, and a bad value fails the launch.
 */
import test from 'ava';
import { launch } from '../../src/launch/launch.js';
import { tryNativeAddon } from '../../src/native/addon.js';
import { WAIT_YIELD_ENV } from '../../src/shm/wait.js';
import { withEnv } from '../helpers/env.js';

const fixture = new URL('../fixtures/wait-yield.js', import.meta.url);

async function yieldsOf(worldSize: number): Promise<boolean[]> {
  const job = await launch({ worldSize, module: fixture });
  try {
    return (await job.results) as boolean[];
  } finally {
    await job.close();
  }
}


test.serial('every rank thread polls with yields where the addon is built', async (t) => {
  const built = tryNativeAddon() !== undefined;
  t.deepEqual(await withEnv(WAIT_YIELD_ENV, undefined, () => yieldsOf(3)), [built, built, built]);
});

test.serial('MULTIRANK_WAIT_YIELD=0: the threads of a later launch sleep at once', async (t) => {
  t.deepEqual(await withEnv(WAIT_YIELD_ENV, '0', () => yieldsOf(5)), [false, false, false, false, false]);
});

test.serial('a bad MULTIRANK_WAIT_YIELD fails the launch, naming the variable', async (t) => {
  await withEnv(WAIT_YIELD_ENV, 'on', () => t.throwsAsync(launch({ worldSize: 2, module: fixture }), {
    message: 'Expected `MULTIRANK_WAIT_YIELD` to be one of "0", "1", got "on" (string)',
  }));
});

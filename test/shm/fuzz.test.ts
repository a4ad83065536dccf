/**
 * Seeded fuzz of the queue across threads: ring shape, message sizes (up to several rings' worth), spin
 * budgets and pause schedules all come from the seed. The OS still picks the interleaving, so a seed
 * replays the same data and pauses, not the same schedule. A failure prints its seed; replay one with
 * SHM_FUZZ_SEED=<seed>, run more with SHM_FUZZ_RUNS=<n>.
 */
import test from 'ava';
import { MessageQueue } from '../../src/shm/message-queue.js';
import { SPIN_ITERATIONS_MAX } from '../../src/shm/wait.js';
import { mulberry32, randomInt } from './fixtures/plan.js';
import { guardedRegion, guardsIntact, runFixture } from './helpers.js';

const replay = process.env['SHM_FUZZ_SEED'];
const runs = Number(process.env['SHM_FUZZ_RUNS'] ?? 8);
const seeds = replay !== undefined ? [Number(replay)] : Array.from({ length: runs }, (_, i) => 1000 + i);

function scenario(seed: number) {
  const rng = mulberry32(seed);
  const sizes = { nReaders: randomInt(rng, 1, 4), maxChunkBytes: randomInt(rng, 64, 8192), maxChunks: randomInt(rng, 1, 4) };
  const spin = () => (rng() < 0.5 ? 0 : SPIN_ITERATIONS_MAX);
  const plan = {
    seed, count: randomInt(rng, 60, 200), maxBytes: randomInt(rng, 16, 3 * sizes.maxChunkBytes * sizes.maxChunks),
    pauseChance: rng() * 0.2, inPlaceChance: rng(),
  };
  return { sizes, plan, writerSpin: spin(), readerSpins: Array.from({ length: sizes.nReaders }, spin) };
}

for (const seed of seeds) {
  test(`fuzz seed ${seed}`, async (t) => {
    const { sizes, plan, writerSpin, readerSpins } = scenario(seed);
    t.log(`seed ${seed}: ${JSON.stringify({ ...sizes, ...plan, writerSpin, readerSpins })} (replay: SHM_FUZZ_SEED=${seed})`);
    const region = guardedRegion(MessageQueue.bytesNeeded(sizes));
    const { handle } = MessageQueue.create(region, sizes);
    try {
      const writer = runFixture<number>('plan-writer', { handle, ...plan, spinIterations: writerSpin });
      const readers = readerSpins.map((spinIterations, index) =>
        runFixture<{ index: number; count: number; wrong: number[]; viewed: number }>('plan-reader', { handle, ...plan, index, spinIterations }));
      t.is(await writer, plan.count);
      const results = await Promise.all(readers);
      t.log(`arrays received as views of the ring, per reader: ${results.map((r) => r.viewed).join(', ')}`);
      t.deepEqual(results.map(({ viewed: _, ...rest }) => rest), readerSpins.map((_, index) => ({ index, count: plan.count, wrong: [] })));
      t.true(guardsIntact(region), 'no byte outside the region changed');
    } catch (error) {
      t.fail(`fuzz seed ${seed} failed (replay with SHM_FUZZ_SEED=${seed}): ${(error as Error).message}`);
    }
  });
}

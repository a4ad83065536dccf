/**
 * Jobs do not leak into each other: every job sees exactly the environment it was given (the driver's at
 * launch, plus `env`), its own output settings, and - unless it asks for `keepModuleState` - fresh module
 * state, also in the modules its rank module imports, as spawned processes would.
 */
import test from 'ava';
import { withRanks } from '../../src/testing/index.js';
import type { WithRanksOptions } from '../../src/testing/index.js';

const module = new URL('../fixtures/isolation.js', import.meta.url);
/** Output from rank threads reaches the driver's stdout through a pipe: wait for it (at most 10 s). */
async function arrived(done: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
}

const run = (exportName: string, options: WithRanksOptions = {}): Promise<unknown[]> => withRanks(2, { module, exportName }, options);

for (const keepModuleState of [false, true]) {
  const mode = keepModuleState ? 'with keepModuleState' : 'by default';
  test.serial(`the environment of one job is not seen by the next (${mode})`, async (t) => {
    const keys = ['ISO_FOO', 'ISO_BAR', 'ISO_DRIVER'];
    const env = (values: Record<string, string | null>): Record<string, string | null>[] => [values, values];
    t.deepEqual(await run('envOf', { args: keys, env: { ISO_FOO: 'a' }, keepModuleState }), env({ ISO_FOO: 'a', ISO_BAR: null, ISO_DRIVER: null }));
    t.deepEqual(await run('envOf', { args: keys, keepModuleState }), env({ ISO_FOO: null, ISO_BAR: null, ISO_DRIVER: null }), 'a plain job');
    process.env.ISO_DRIVER = 'set in the driver';
    try {
      const third = await run('envOf', { args: keys, env: { ISO_BAR: 'b' }, keepModuleState });
      t.deepEqual(third, env({ ISO_FOO: null, ISO_BAR: 'b', ISO_DRIVER: 'set in the driver' }), 'another env, and the driver environment at launch');
    } finally {
      delete process.env.ISO_DRIVER;
    }
    t.deepEqual(await run('envOf', { args: keys, keepModuleState }), env({ ISO_FOO: null, ISO_BAR: null, ISO_DRIVER: null }), 'after the driver unset it');
  });

  test.serial(`output prefixing does not survive into a job that does not ask for it (${mode})`, async (t) => {
    const lines: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string | Uint8Array) => {
      lines.push(...String(chunk).split('\n').filter((line) => line.includes('iso-marker')));
      return true;
    }) as typeof process.stdout.write;
    const marked = (n: number): string[] => lines.filter((line) => line.includes(`iso-marker-${n}`)).sort();
    try {
      await run('print', { args: 'iso-marker-1', outputPrefix: true, keepModuleState });
      await run('print', { args: 'iso-marker-2', keepModuleState });
      await arrived(() => marked(1).length === 2 && marked(2).length === 2);
    } finally {
      process.stdout.write = write;
    }
    t.deepEqual(marked(1), ['[rank 0] iso-marker-1 from 0', '[rank 1] iso-marker-1 from 1']);
    t.deepEqual(marked(2), ['iso-marker-2 from 0', 'iso-marker-2 from 1']);
  });
}

test.serial('module state is fresh in every job by default, in the rank module and in what it imports', async (t) => {
  const fresh = [{ calls: 1, helper: 1 }, { calls: 1, helper: 1 }];
  t.deepEqual(await run('counts'), fresh);
  t.deepEqual(await run('counts'), fresh, 'second job');
  t.deepEqual(await run('counts', { keepModuleState: false }), fresh, 'keepModuleState: false');
});

test.serial('keepModuleState: true keeps module state from job to job', async (t) => {
  const first = (await run('counts', { keepModuleState: true })) as { calls: number; helper: number }[];
  t.deepEqual(await run('counts', { keepModuleState: true }), first.map(({ calls, helper }) => ({ calls: calls + 1, helper: helper + 1 })));
  t.deepEqual(await run('counts'), [{ calls: 1, helper: 1 }, { calls: 1, helper: 1 }], 'a default job in between starts fresh');
});

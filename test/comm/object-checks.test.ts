/**
 * The object plane is checked as the tensor collectives are: members that name different roots, or call
 * another collective, fail at once on every member, also once both roots' queues exist (where each
 * member could otherwise write its own queue and return).
 */
import test from 'ava';
import { withRanks } from '../../src/testing/index.js';
import { MismatchError } from '../../src/index.js';
import { quietFailures } from '../helpers/quiet-failures.js';

quietFailures();

const fixture = new URL('../fixtures/object-checks.js', import.meta.url);

for (const n of [2, 3, 8]) {
  test(`broadcastObject with different roots fails on every rank at once (${n} ranks)`, async (t) => {
    const started = Date.now();
    const results = (await withRanks(n, { module: fixture, exportName: 'differentRoots' }, { timeoutMs: 60_000 })) as {
      error?: { name: string; message: string };
    }[];
    t.true(Date.now() - started < 30_000, 'well before the deadline');
    results.forEach((r, rank) => {
      t.is(r.error?.name, 'MismatchError', `rank ${rank}`);
      t.regex(r.error!.message, /broadcastObject\(root=0\)/, `rank ${rank} lists the call with root 0`);
      t.regex(r.error!.message, new RegExp(`broadcastObject\\(root=${n - 1}\\)`), `rank ${rank} lists the call with root ${n - 1}`);
    });
  });
}

for (const n of [2, 3]) {
  test(`barrier against broadcastObject fails at once, naming both calls (${n} ranks)`, async (t) => {
    const error = await t.throwsAsync(withRanks(n, { module: fixture, exportName: 'barrierAgainstBroadcastObject' }, { timeoutMs: 60_000 }));
    // Normally a MismatchError listing both calls. On a starved machine the watchdog can see both members
    // waiting (in the mismatch report's gathering) and report a deadlock naming both calls first.
    t.regex(error!.message, /barrier[( ]/);
    t.regex(error!.message, /broadcastObject(\(root=0\)| \(call #\d+\))/);
    t.true(error instanceof MismatchError || /Collective mismatch|Deadlock/.test(error!.message));
  });
}

test('broadcastTensorDict with different roots fails at once (3 ranks)', async (t) => {
  const error = await t.throwsAsync(withRanks(3, { module: fixture, exportName: 'tensorDictDifferentRoots' }, { timeoutMs: 60_000 }));
  t.regex(error!.message, /broadcastTensorDict\(root=0\)/);
  t.regex(error!.message, /broadcastTensorDict\(root=2\)/);
});

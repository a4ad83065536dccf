/** Collectives refuse a released shared tensor before the call starts (issue 13 item 5); see test/tensor/release. */
import test from 'ava';
import { withRanks } from '../../src/testing/index.js';
import { ErrorCodes } from '../../src/errors.js';

const fixture = new URL('../fixtures/use-after-release.js', import.meta.url);

test('a released shared tensor given to a collective (input or out) throws, and the group stays in step', async (t) => {
  const target = { module: fixture, exportName: 'releasedInCollectives' };
  const results = (await withRanks(2, target, { timeoutMs: 30_000 })) as Record<string, unknown>[];
  for (const [rank, r] of results.entries()) {
    for (const call of ['input', 'out', 'view', 'send', 'recvOut', 'broadcast']) {
      const caught = r[call] as { code?: string; message?: string } | undefined;
      t.is(caught?.code, ErrorCodes.INVALID_ARG_VALUE, `rank ${rank} ${call}: ${JSON.stringify(caught)}`);
      t.regex(caught?.message ?? '', /released/, `rank ${rank} ${call}`);
    }
    t.deepEqual(r.after, [2]);
    t.deepEqual(r.b, [100, 100]);
  }
});

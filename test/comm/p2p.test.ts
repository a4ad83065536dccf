/**
 * Point to point as torch has it: receives from any source say who sent (each message once, in order per
 * sender), tags match per source and tag in order, named and any-source receives match in the order they
 * were posted, the async tensor dicts, and deadlines and bad arguments that name what they concern.
 * Expected values are computed here (the bytes each sender drew, with the same seeds).
 */
import test from 'ava';
import { DTYPES, ErrorCodes } from '../../src/index.js';
import { withRanks } from '../../src/testing/index.js';
import { makeInput, rawDigest, bytesOf } from './data.js';
import { ANY_NUMEL, messageSeed } from '../fixtures/comm-p2p.js';
import { quietFailures } from '../helpers/quiet-failures.js';

quietFailures();

interface Caught {
  code: string;
  message: string;
}

const fixture = new URL('../fixtures/comm-p2p.js', import.meta.url);
const run = async (n: number, exportName: string): Promise<unknown[]> =>
  (await withRanks(n, { module: fixture, exportName }, { timeoutMs: 60_000, keepModuleState: true })) as unknown[];
const failure = async (n: number, exportName: string): Promise<Error & { code?: string; cause?: unknown }> => {
  try {
    await withRanks(n, { module: fixture, exportName }, { timeoutMs: 60_000 });
  } catch (error) {
    return error as Error & { code?: string; cause?: unknown };
  }
  throw new Error(`${exportName} did not fail`);
};

for (const n of [2, 3, 8]) {
  test(`recv from any source: every message once, with its sender, in order per sender; every dtype (${n} ranks)`, async (t) => {
    const results = (await run(n, 'anySourceEveryDtype')) as ({ src: number; digest: string }[][] | null)[];
    const got = results[n - 1]!;
    DTYPES.forEach((dtype, k) => {
      const digest = (s: number, j: number): string => rawDigest(bytesOf(makeInput(dtype, ANY_NUMEL, messageSeed(s, k, j), 'bits')));
      const messages = got[k]!;
      t.is(messages.length, 2 * (n - 1), dtype);
      for (let s = 0; s < n - 1; s++) {
        // The sender's two messages, each once, in the order sent, reported with the right sender.
        const fromS = messages.filter((m) => m.src === s).map((m) => m.digest);
        t.deepEqual(fromS, [digest(s, 0), digest(s, 1)], `${dtype} from rank ${s}`);
      }
      t.true(messages.every((m) => m.src >= 0 && m.src < n - 1), `${dtype}: senders are the other members`);
    });
  });

  test(`tags: a recv takes only its tag, in order per source and tag; irecvs by tag waited on in any order (${n} ranks)`, async (t) => {
    const results = (await run(n, 'tagsInOrder')) as (Record<string, unknown> | null)[];
    t.deepEqual(results[1], {
      seven: [20, 21],
      zero: [30],
      five: [10, 11, 12],
      waited: { c: 41, b: 40, a: 50 },
      others: Array.from({ length: n - 2 }, (_, i) => 1000 + i + 2),
    });
  });

  test(`named and any-source receives match in the order they were posted; isCompleted() polls an any-source irecv (${n} ranks)`, async (t) => {
    const results = (await run(n, 'anyAndNamed')) as (Record<string, unknown> | null)[];
    t.deepEqual(results[0], {
      anyFirst: { early: [1, 10], named: 11 },
      namedFirst: { any: [1, 21], mine: 20, completed: true },
      polled: [1, 30],
    });
  });

  if (n > 2) {
    test(`recv from any source takes the message posted first, not the lowest sender (${n} ranks)`, async (t) => {
      const results = (await run(n, 'firstPostedFirst')) as ([number, number][] | null)[];
      t.deepEqual(results[n - 1], [[1, 11], [0, 10]]);
    });
  }

  test(`a recv from any source of the wrong size fails naming the sender; the next message still arrives (${n} ranks)`, async (t) => {
    const results = (await run(n, 'anySourceMismatch')) as ({
      error: Caught; after: unknown; transposedAny: Caught; transposedNamed: Caught;
    } | null)[];
    const r = results[n - 1]!;
    t.is(r.error.code, ErrorCodes.MISMATCH);
    const expected = `Rank ${n - 1} called recv\\(shape=\\[5\\], dtype=float32, tag=6\\) from rank 0, ` +
      'but that rank sent a tensor of dtype float32 and shape \\[4\\]';
    t.regex(r.error.message, new RegExp(expected));
    t.deepEqual(r.after, [0, [5, 6, 7, 8]]);
    // Same dtype, element count and number of dims, another shape: still refused.
    for (const transposed of [r.transposedAny, r.transposedNamed]) {
      t.is(transposed.code, ErrorCodes.MISMATCH);
      t.regex(transposed.message, /Rank \d+ called recv\(shape=\[2, 3\], dtype=float32, tag=7\) from rank 0, but/);
    }
  });

  test(`a recv whose tag never comes times out naming the tag, the source and the tags that did come (${n} ranks)`, async (t) => {
    const error = await failure(n, 'wrongTagDeadline');
    t.is(error.code, ErrorCodes.RANK_FAILED);
    t.is((error.cause as { code?: string }).code, ErrorCodes.TIMEOUT);
    t.regex(error.message, /Rank 1 timed out in recv from rank 0 \(tag 4\): nothing was sent with tag 4 \(messages with other tags arrived, held: rank 0: 3\)/);
  });

  test(`a recv from any source that nobody answers times out naming every member it waited for (${n} ranks)`, async (t) => {
    const error = await failure(n, 'anySourceDeadline');
    const last = n - 1;
    const others = Array.from({ length: last }, (_, r) => r);
    t.is((error.cause as { code?: string }).code, ErrorCodes.TIMEOUT);
    t.regex(error.message, new RegExp(
      `Rank ${last} timed out in recv from any source \\(tag 2\\) of group \\[${[...others, last].join(', ')}\\]: ` +
        `waited for ranks ${others.join(', ')}; none sent a message with tag 2`,
    ));
    t.regex(error.message, new RegExp(`\\(messages with other tags arrived, held: ${others.map((r) => `rank ${r}: 1`).join('; ')}\\)`));
  });
}

for (const n of [1, 2, 3]) {
  test(`bad tags and sources throw on the caller, naming the argument, the value and what is allowed (${n} ranks)`, async (t) => {
    const results = (await run(n, 'badArguments')) as Record<string, { name: string; code: string; message: string }>[];
    for (const errors of results) {
      t.is(errors.srcWord!.code, ErrorCodes.INVALID_ARG_TYPE);
      t.regex(errors.srcWord!.message, new RegExp(`\`options.src\` to be a rank of this group \\(0..${n - 1}\\) or "any", got "first" \\(string\\)`));
      t.is(errors.recvTagNegative!.code, ErrorCodes.OUT_OF_RANGE);
      t.regex(errors.recvTagNegative!.message, /`options.tag` to be an integer tag in 0..2147483647, got -2 \(number\)/);
      t.is(errors.irecvTagString!.code, ErrorCodes.INVALID_ARG_TYPE);
      t.regex(errors.irecvTagString!.message, /`options.tag` to be an integer tag in 0..2147483647, got "3" \(string\)/);
      if (n === 1) {
        t.is(errors.anyAlone!.code, ErrorCodes.OUT_OF_RANGE);
        t.regex(errors.anyAlone!.message, /recv from any source needs another member; group world has only this rank/);
        continue;
      }
      t.regex(errors.sendTagFraction!.message, /`options.tag` to be an integer tag in 0..2147483647, got 1.5 \(number\)/);
      t.regex(errors.sendTagTooLarge!.message, /`options.tag` to be an integer tag in 0..2147483647, got 2147483648 \(number\)/);
      t.regex(errors.batchTag!.message, /`ops\[0\].tag` to be an integer tag in 0..2147483647, got -1 \(number\)/);
    }
  });
}

for (const n of [1, 2, 3, 8]) {
  test(`isendTensorDict / irecvTensorDict: a Work whose wait() gives the dict, in order with the other receives (${n} ranks)`, async (t) => {
    const results = (await run(n, 'asyncTensorDict')) as Record<string, unknown>[];
    results.forEach((r, rank) => {
      const prev = (rank - 1 + n) % n;
      const dict = (p: number): Record<string, unknown> => ({
        hidden: Array.from({ length: 6 }, (_, i) => p * 10 + i), positions: [p, p + 1, p + 2, p + 3, p + 4].map(BigInt), empty: [], step: p,
      });
      t.true(r.sent as boolean, `rank ${rank}: isendTensorDict's Work is complete`);
      t.true(r.dictDoneFirst as boolean, `rank ${rank}: the dict from the same member completed before the irecv after it`);
      t.deepEqual(r.tail, n === 1 ? null : [prev, prev, prev], `rank ${rank}: the tensor after the dict`);
      t.deepEqual(r.received, n === 1 ? null : dict(prev), `rank ${rank}: the dict`);
      t.deepEqual(r.polled, n === 1 ? null : dict(prev + 100), `rank ${rank}: the polled dict`);
    });
  });
}

for (const n of [2, 3]) {
  // Serial (ava runs these before the others): the arena's live regions must not move with other jobs.
  test.serial(`destroying a group frees the messages its members held and never took (${n} ranks)`, async (t) => {
    const results = (await run(n, 'destroyFreesHeld')) as (number[] | null)[];
    const [takenAll, heldOne] = results[1]!;
    t.is(heldOne, takenAll! + 1, `destroy gave back ${takenAll} regions, and ${heldOne} with a message held`);
  });
}

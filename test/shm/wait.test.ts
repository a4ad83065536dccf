import test from 'ava';
import { ErrorCodes } from '../../src/errors.js';
import {
  DEFAULT_TIMEOUT_MS, EMPTY_YIELDS_MAX, SPIN_ITERATIONS_MAX, TIMEOUT_ENV, WAIT_SLICE_MS, WAIT_YIELD_ENV,
  YIELD_WINDOW_MS,
  hasThreadYield, raiseAbort, setThreadYield, spinIterationsFor, storeAndWake, timeoutFromEnv, waitFor,
  waitYieldFromEnv, wake,
} from '../../src/shm/wait.js';
import { runFixture, startFixture, waitAsyncUntil } from './helpers.js';

const words = (n: number) => new Int32Array(new SharedArrayBuffer(4 * n));
const describe = () => 'test waiting for word 0 in call x';

test('constants carry their documented values', (t) => {
  t.is(DEFAULT_TIMEOUT_MS, 300_000);
  t.true(SPIN_ITERATIONS_MAX >= 100 && SPIN_ITERATIONS_MAX <= 1000);
  t.true(WAIT_SLICE_MS >= 10 && WAIT_SLICE_MS <= 100);
});

test('returns at once the value that satisfies the condition', (t) => {
  const flags = words(2);
  flags[0] = 7;
  t.is(waitFor(flags, 0, 7, { timeoutMs: 10, describe }), 7);
  t.is(waitFor(flags, 0, (v) => v > 5, { timeoutMs: 10, describe }), 7);
});

test('times out with the caller\'s description, after the timeout', (t) => {
  const flags = words(2);
  const started = performance.now();
  const error = t.throws(() => waitFor(flags, 0, 1, { timeoutMs: 40, spinIterations: 0, describe }));
  const elapsedMs = performance.now() - started;
  t.is((error as { code?: string }).code, ErrorCodes.TIMEOUT);
  t.is(error!.name, 'TimeoutError');
  t.true(error!.message.startsWith('test waiting for word 0 in call x'), error!.message);
  t.regex(error!.message, /timeout 40 ms/);
  t.regex(error!.message, new RegExp(TIMEOUT_ENV));
  t.true(elapsedMs >= 39, `waited ${elapsedMs} ms`);
});

test('reports a stall every stallMs with the time waited', (t) => {
  const flags = words(2);
  const stalls: number[] = [];
  t.throws(() => waitFor(flags, 0, 1, { timeoutMs: 75, stallMs: 20, onStall: (ms) => stalls.push(ms), describe }));
  t.true(stalls.length >= 2 && stalls.length <= 4, `stalls ${stalls}`);
  stalls.forEach((ms, i) => t.true(ms >= 20 * (i + 1) - 1, `stall ${i} after ${ms} ms`));
});

test('an error thrown by onStall ends the wait', (t) => {
  const error = t.throws(() => waitFor(words(1), 0, 1, { timeoutMs: 1000, stallMs: 5, onStall: () => { throw new Error('stop'); }, describe }));
  t.is(error!.message, 'stop');
});

test('an abort word raised before the wait ends it with the word\'s error', (t) => {
  const flags = words(3);
  t.is(raiseAbort({ flags, index: 2, error: () => new Error('x') }, 4), 4);
  t.is(raiseAbort({ flags, index: 2, error: () => new Error('x') }, 9), 4, 'the first raise wins');
  const abort = [{ flags, index: 1, error: () => new Error('not raised') }, { flags, index: 2, error: (v: number) => new Error(`aborted ${v}`) }];
  const error = t.throws(() => waitFor(flags, 0, 1, { timeoutMs: 1000, spinIterations: 0, abort, describe }));
  t.is(error!.message, 'aborted 4');
});

test('an abort word raised by another thread releases a sleeping waiter within a slice', async (t) => {
  const flags = words(3);
  const fixture = runFixture<{ ended: string; code: string; rank: number; message: string; elapsedMs: number }>('wait-released', { flags, timeoutMs: 20_000 });
  await waitAsyncUntil(flags, 1, (sleepers) => sleepers === 1);
  raiseAbort({ flags, index: 2, error: () => new Error('unused') }, 3 + 1);
  const result = await fixture;
  t.is(result.ended, 'threw');
  t.is(result.code, ErrorCodes.RANK_FAILED);
  t.is(result.rank, 3);
  t.true(result.elapsedMs < 10_000, `released after ${result.elapsedMs} ms`);
});

test('a sleeping waiter is woken by storeAndWake from another thread', async (t) => {
  const flags = words(3);
  const fixture = startFixture<{ ended: string }>('wait-released', { flags, timeoutMs: 20_000 });
  await waitAsyncUntil(flags, 1, (sleepers) => sleepers === 1);
  storeAndWake(flags, 0, 1, 1);
  t.deepEqual(await fixture.result, { ended: 'returned' });
  t.is(flags[1], 0, 'the sleepers counter is back to 0');
});

for (const spinIterations of [0, SPIN_ITERATIONS_MAX]) {
  test(`no lost wake-up: 20 000 ping-pong rounds, spin ${spinIterations}, one slice per wait`, async (t) => {
    const flags = words(4);
    const rounds = 20_000;
    const sides = [0, 1].map((side) => runFixture<number>('wait-ping-pong', { flags, side, rounds, spinIterations, timeoutMs: 10_000 }));
    t.deepEqual(await Promise.all(sides), [rounds, rounds]);
    t.deepEqual([...flags], [rounds, rounds, 0, 0]);
  });
}

test.serial('wake skips notify when nobody sleeps, and notifies otherwise', (t) => {
  const flags = words(2);
  const notified: number[] = [];
  const notify = Atomics.notify;
  Atomics.notify = ((array: Int32Array, index: number, count?: number) => {
    notified.push(index);
    return notify(array, index, count);
  }) as typeof Atomics.notify;
  try {
    wake(flags, 0, 1); // sleepers word flags[1] is 0: nobody sleeps
    t.deepEqual(notified, [], 'no notify with no sleepers');
    flags[1] = 1;
    wake(flags, 0, 1);
    t.deepEqual(notified, [0], 'one notify with a sleeper');
    wake(flags, 0); // no sleepers word: always notifies
    t.deepEqual(notified, [0, 0]);
    flags[1] = 0;
    storeAndWake(flags, 0, 5, 1);
    t.is(flags[0], 5);
    t.deepEqual(notified, [0, 0], 'storeAndWake stores, and skips notify with no sleepers');
  } finally {
    Atomics.notify = notify;
  }
});

test('bad arguments are rejected with codes', (t) => {
  const flags = words(2);
  const notShared = new Int32Array(2);
  t.is((t.throws(() => waitFor(notShared, 0, 1, { timeoutMs: 1, describe })) as { code?: string }).code, ErrorCodes.INVALID_ARG_TYPE);
  t.is((t.throws(() => waitFor(flags, 2, 1, { timeoutMs: 1, describe })) as { code?: string }).code, ErrorCodes.OUT_OF_RANGE);
  for (const timeoutMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
    const error = t.throws(() => waitFor(flags, 0, 1, { timeoutMs, describe }));
    t.is((error as { code?: string }).code, ErrorCodes.OUT_OF_RANGE);
    t.regex(error!.message, /options\.timeoutMs/);
  }
  t.is((t.throws(() => waitFor(flags, 0, 'x' as never, { timeoutMs: 1, describe })) as { code?: string }).code, ErrorCodes.INVALID_ARG_TYPE);
  t.is((t.throws(() => raiseAbort({ flags, index: 0, error: () => new Error() }, 0)) as { code?: string }).code, ErrorCodes.OUT_OF_RANGE);
});

test('timeoutFromEnv reads the env passed in and never changes it', (t) => {
  t.is(timeoutFromEnv({}), DEFAULT_TIMEOUT_MS);
  t.is(timeoutFromEnv({ [TIMEOUT_ENV]: '' }), DEFAULT_TIMEOUT_MS);
  const env = { [TIMEOUT_ENV]: '1500' };
  t.is(timeoutFromEnv(env), 1500);
  t.deepEqual(env, { [TIMEOUT_ENV]: '1500' });
  for (const raw of ['abc', '0', '-5', 'Infinity']) {
    const error = t.throws(() => timeoutFromEnv({ [TIMEOUT_ENV]: raw }));
    t.is((error as { code?: string }).code, ErrorCodes.OUT_OF_RANGE);
    t.true(error!.message.includes(TIMEOUT_ENV) && error!.message.includes(JSON.stringify(raw)), error!.message);
  }
});

test('spinIterationsFor spins only when the threads fit the cores', (t) => {
  t.is(spinIterationsFor(2, 2), SPIN_ITERATIONS_MAX);
  t.is(spinIterationsFor(4, 2), 0);
  t.is(spinIterationsFor(1), SPIN_ITERATIONS_MAX);
  t.is((t.throws(() => spinIterationsFor(0, 2)) as { code?: string }).code, ErrorCodes.OUT_OF_RANGE);
});

/** Runs `body` with `yieldNow` installed as this thread's yield, and removes it after. */
function withYield<T>(yieldNow: () => void, body: () => T): T {
  setThreadYield(yieldNow);
  try {
    return body();
  } finally {
    setThreadYield(undefined);
  }
}

/** A yield that ran another thread: it takes `us` microseconds. */
const busyYield = (us: number) => (): void => {
  const until = performance.now() + us / 1000;
  while (performance.now() < until);
};

test('with a yield installed, a waiter polls between yields and returns the value that came', (t) => {
  const flags = words(2);
  let yields = 0;
  const value = withYield(() => {
    busyYield(10)();
    if (++yields === 5) Atomics.store(flags, 0, 9);
  }, () => waitFor(flags, 0, (v) => v > 0, { timeoutMs: 10_000, spinIterations: 0, describe }));
  t.is(value, 9);
  t.is(yields, 5, 'the word was read after each yield');
  t.false(hasThreadYield(), 'removed again');
});

test('yields that find nobody else to run end the poll: the waiter sleeps until its deadline', (t) => {
  const flags = words(2);
  let yields = 0;
  const error = withYield(() => void yields++, () => t.throws(
    () => waitFor(flags, 0, 1, { timeoutMs: 40, spinIterations: 0, describe }),
  ));
  t.is((error as { code?: string }).code, ErrorCodes.TIMEOUT);
  t.true(yields >= EMPTY_YIELDS_MAX, `${yields} yields`);
  t.true(yields < 40 * EMPTY_YIELDS_MAX, `${yields} yields: the poll did not end after empty ones`);
});

test('yields that do run others end the poll after the window, and the deadline still holds', (t) => {
  const flags = words(2);
  let yields = 0;
  const started = performance.now();
  const error = withYield(() => {
    yields++;
    busyYield(20)();
  }, () => t.throws(() => waitFor(flags, 0, 1, { timeoutMs: 60, spinIterations: 0, describe })));
  t.is((error as { code?: string }).code, ErrorCodes.TIMEOUT);
  t.true(performance.now() - started >= 59);
  t.true(yields > EMPTY_YIELDS_MAX, `${yields} yields: busy yields are not empty ones`);
  // 60 ms of 20 µs yields would be 3 000: the poll stopped at YIELD_WINDOW_MS and the waiter slept.
  t.true(yields * 0.02 <= YIELD_WINDOW_MS * 3, `${yields} yields of 20 µs`);
});

test('a value that comes just as the poll ends is not slept on: the sleep waits on the value that failed',
  (t) => {
  // The poll's only yield outlasts the window; the abort words are read after the word's last check in
  // the poll, so reading them stores the value that satisfies the wait. A sleep that re-read the word
  // would wait on that value (no notify comes: nobody slept yet) for a whole slice.
  const flags = words(4);
  let reads = 0;
  const abort = {
    get flags() {
      if (++reads === 1) Atomics.store(flags, 0, 1);
      return flags;
    },
    index: 2, error: (v: number) => new Error(`aborted with ${v}`),
  };
  const started = performance.now();
  const value = withYield(busyYield((YIELD_WINDOW_MS + 1) * 1000), () => waitFor(
    flags, 0, 1, { timeoutMs: 20_000, sliceMs: 10_000, spinIterations: 0, describe, abort },
  ));
  const waitedMs = performance.now() - started - YIELD_WINDOW_MS - 1;
  t.is(value, 1);
  t.true(reads >= 1, "the abort words were read during the poll");
  t.true(waitedMs < 5_000, `slept ${waitedMs.toFixed(0)} ms on the value that satisfied the wait`);
});

test('an abort word raised during the poll ends the wait with its error', (t) => {
  const flags = words(4);
  const abort = { flags, index: 2, error: (v: number) => new Error(`aborted with ${v}`) };
  let yields = 0;
  // Raised by the first yield: the poll makes at least one whatever the load (a later one may come after
  // the poll's window closed, and the waiter would then sleep until its deadline).
  withYield(() => {
    busyYield(10)();
    if (++yields === 1) Atomics.store(flags, 2, 7);
  }, () => t.throws(() => waitFor(flags, 0, 1, { timeoutMs: 10_000, spinIterations: 0, describe, abort }), {
    message: 'aborted with 7',
  }));
  t.is(yields, 1, 'the poll went on after the abort word was raised');
});

test('MULTIRANK_WAIT_YIELD: unset, empty or 1 polls with yields, 0 does not, others are refused', (t) => {
  t.true(waitYieldFromEnv({}));
  t.true(waitYieldFromEnv({ [WAIT_YIELD_ENV]: '' }));
  t.true(waitYieldFromEnv({ [WAIT_YIELD_ENV]: '1' }));
  t.false(waitYieldFromEnv({ [WAIT_YIELD_ENV]: '0' }));
  t.throws(() => waitYieldFromEnv({ [WAIT_YIELD_ENV]: 'yes' }), {
    message: 'Expected `MULTIRANK_WAIT_YIELD` to be one of "0", "1", got "yes" (string)',
  });
  t.throws(() => setThreadYield(42 as unknown as () => void), {
    message: /Expected `yieldNow` to be a function/,
  });
});

/**
 * `waitFor`'s marker (what lets the deadlock watchdog see a rank waiting in a queue) and its abort check
 * before returning (what keeps a call from completing with a failed peer's abandoned arrival).
 */
import test from 'ava';
import { ErrorCodes, RankFailedError } from '../../src/errors.js';
import { raiseAbort, waitFor, type AbortWord } from '../../src/shm/wait.js';
import { FailureLatch } from '../../src/shm/failure-latch.js';
import { RankRecord, RankState, RECORD_BYTES } from '../../src/debug/rank-status.js';

const words = (n: number) => new Int32Array(new SharedArrayBuffer(4 * n));
const describe = () => 'test waiting for word 0';

test('a wait that sleeps past afterMs is marked once and cleared when it ends, however it ends', (t) => {
  const flags = words(1);
  const events: string[] = [];
  const marker = { afterMs: 20, mark: (ms: number) => void events.push(`mark ${ms >= 20}`), clear: () => void events.push('clear') };
  t.throws(() => waitFor(flags, 0, 1, { timeoutMs: 120, spinIterations: 0, describe, marker }), { code: ErrorCodes.TIMEOUT });
  t.deepEqual(events, ['mark true', 'clear']);
  events.length = 0;
  flags[0] = 1;
  t.is(waitFor(flags, 0, 1, { timeoutMs: 120, describe, marker }), 1);
  t.deepEqual(events, [], 'a wait whose condition holds at once is never marked');
});

test('a wait whose condition already holds still throws a raised abort word', (t) => {
  const flags = words(2);
  flags[0] = 1;
  const abort: AbortWord = { flags, index: 1, error: (v) => new RankFailedError(v - 1, `rank ${v - 1} failed`) };
  t.is(waitFor(flags, 0, 1, { timeoutMs: 50, describe, abort }), 1);
  raiseAbort(abort, 3);
  t.throws(() => waitFor(flags, 0, 1, { timeoutMs: 50, describe, abort }), { code: ErrorCodes.RANK_FAILED, message: /rank 2 failed/ });
});

test('a failure latch: the member that failed gets its own error again, the others the latch\'s', (t) => {
  const flags = words(4);
  const mine = new FailureLatch(flags, 1, (f) => new Error(`rank ${f.rank} failed in call #${f.seq} (op ${f.op})`));
  const peer = new FailureLatch(flags, 1, (f) => new Error(`rank ${f.rank} failed in call #${f.seq} (op ${f.op})`));
  mine.check();
  const own = new Error('my own timeout');
  mine.raise(5, 7, 2, own);
  peer.raise(6, 8, 3, new Error('later')); // the first failure wins
  t.is(t.throws(() => mine.check()), own);
  t.throws(() => peer.check(), { message: 'later' }, 'a member keeps its own error');
  const third = new FailureLatch(flags, 1, (f) => new Error(`rank ${f.rank} failed in call #${f.seq} (op ${f.op})`));
  t.throws(() => third.check(), { message: 'rank 5 failed in call #7 (op 2)' });
  t.throws(() => waitFor(flags, 0, 0, { timeoutMs: 50, describe, abort: third.word }), { message: /rank 5 failed/ });
});

test('a rank record marked by a text wait reports the text and restores the state it found', (t) => {
  const record = new RankRecord(new SharedArrayBuffer(RECORD_BYTES), 0, 0);
  record.setState(RankState.RETURNED);
  record.markBlockedOn('collectiveRpc #2: reading the call');
  t.is(record.snapshot().state, 'BLOCKED');
  t.is(record.snapshot().waitText, 'collectiveRpc #2: reading the call');
  t.is(record.snapshot().op, undefined);
  record.clearBlocked();
  t.is(record.snapshot().state, 'RETURNED', 'a rank that returned from its entry is RETURNED again');
  record.setState(RankState.RUNNING);
  record.markBlocked('allReduce', 'arrive', 4096, 3, -1, 'tp');
  t.like(record.snapshot(), { state: 'BLOCKED', op: 'allReduce', waitText: '', groupName: 'tp', seq: 3 });
  record.clearBlocked();
  t.is(record.snapshot().state, 'RUNNING');
});

import test from 'ava';
import { fileURLToPath } from 'node:url';
import { results, run } from '../helpers/cli-run.js';
import { quietFailures } from '../helpers/quiet-failures.js';

quietFailures(); // failing on purpose: dumps in a removed folder, no failure summaries

const fixture = fileURLToPath(new URL('../fixtures/procs-queue.js', import.meta.url));

test.serial('--procs 2: two MessageQueues over a group across 2 processes deliver 77 mixed-size messages to ' +
  'every reader in order (ring in the writer\'s process, sockets in the other); the group\'s broadcastObject too',
async (t) => {
  const r = await run(['-n', '8', '--procs', '2', fixture]);
  t.is(r.code, 0, r.stderr);
  const byRank = results(r.stdout);
  t.deepEqual([...byRank.keys()].sort(), [0, 1, 2, 3, 4, 5, 6, 7]);
  for (const [rank, v] of byRank) {
    const inProcess0 = rank < 4;
    t.deepEqual(v, {
      rank,
      from1: rank === 1 ? 'writer' : { good: 77, path: inProcess0 ? 'ring' : 'socket' },
      from7: rank === 7 ? 'writer' : { good: 77, path: inProcess0 ? 'socket' : 'ring' },
      viaGroup: [true, true, true, true, true],
    }, `rank ${rank}`);
  }
});

test.serial('--procs 3: the same with uneven blocks (a writer whose process has no other reader)', async (t) => {
  const r = await run(['-n', '5', '--procs', '3', fixture]);
  t.is(r.code, 0, r.stderr);
  const byRank = results(r.stdout);
  t.is(byRank.size, 5);
  for (const [rank, v] of byRank) {
    const process = rank < 2 ? 0 : rank < 4 ? 1 : 2;
    t.like(v, {
      from1: rank === 1 ? 'writer' : { good: 77, path: process === 0 ? 'ring' : 'socket' },
      from4: rank === 4 ? 'writer' : { good: 77, path: 'socket' },
      viaGroup: [true, true, true, true, true],
    }, `rank ${rank}`);
  }
});

test.serial('a remote reader that stops reading: the writer fails at its deadline naming that reader', async (t) => {
  const r = await run(['-n', '4', '--procs', '2', fixture, '--export', 'stalledReader']);
  const writer = /\[rank 0\] (?:=> )?"?(ERR_[A-Z_]+: [^\n]*)/.exec(r.stdout + r.stderr)?.[1] ?? '';
  t.regex(writer, new RegExp('^ERR_MULTIRANK_TIMEOUT: MessageQueue writer waiting to send message \\d+: ' +
    // rank 3 named (another reader too, only if the machine kept it from reading for the whole 3 s)
    'remote readers? (?:rank 2 \\(process 1\\), )?rank 3 \\(process 1\\) ha(?:s|ve) not read message \\d+ ' +
    'within 3000 ms'),
    r.stdout + r.stderr);
});

test.serial('a writer that stops writing: a remote reader fails at its deadline naming the writer', async (t) => {
  const r = await run(['-n', '4', '--procs', '2', fixture, '--export', 'stalledWriter']);
  t.is(r.code, 0, r.stderr);
  t.is(results(r.stdout).get(3), 'ERR_MULTIRANK_TIMEOUT: MessageQueue remote reader rank 3 (process 1) waiting for ' +
    'message 3 from rank 0 (process 0): nothing within 3000 ms');
});

test.serial('a remote reader whose connection drops: the writer fails at once naming it', async (t) => {
  const r = await run(['-n', '4', '--procs', '2', fixture, '--export', 'droppedReader']);
  t.is(r.code, 0, r.stderr);
  const byRank = results(r.stdout);
  const lost = /^ERR_MULTIRANK_RANK_FAILED: MessageQueue writer lost remote reader rank 3 \(process 1\): its conn/;
  t.regex(String(byRank.get(0)), lost);
  t.is(byRank.get(3), 5);
});

test.serial('a remote reader\'s process SIGKILLed mid-stream: the writer fails within its deadline naming a lost rank',
  async (t) => {
  const started = performance.now();
  const r = await run(['-n', '4', '--procs', '2', fixture, '--export', 'killedReader']);
  t.is(r.code, 1);
  t.true(performance.now() - started < 60_000, 'well before the group deadline');
  const writer = /writer: (.*)/.exec(r.stdout)?.[1] ?? '';
  // The queue sees a socket of the killed process close, or the job sees the process die first: either
  // names a rank of process 1.
  t.regex(writer, /lost remote reader rank [23] \(process 1\)|process 1 \(ranks 2-3\)/, r.stdout + r.stderr);
  t.notRegex(writer, /TIMEOUT/);
});

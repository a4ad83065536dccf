/**
 * StatelessProcessGroup: ranks in 2 and 3 child processes (every method; the barrier re-entry race),
 * and in one process over a HashStore (deadlines, arguments).
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { HashStore, StatelessProcessGroup } from '../../src/index.js';

const fixture = new URL('../fixtures/store-spg.js', import.meta.url).pathname;

/** Starts rank 0, reads its port, starts the others; resolves with each rank's result line. */
async function runRanks(worldSize: number, scenario: string): Promise<Record<string, unknown>[]> {
  const start = (rank: number, port: number): { lines: AsyncIterator<string>; done: Promise<number | null> } => {
    const child = spawn(process.execPath, [fixture, JSON.stringify({ port, rank, worldSize, scenario })], { stdio: ['ignore', 'pipe', 'inherit'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const done = new Promise<number | null>((resolve) => child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    }));
    return { lines: createInterface({ input: child.stdout })[Symbol.asyncIterator](), done };
  };
  const zero = start(0, 0);
  const { port } = JSON.parse((await zero.lines.next()).value as string) as { port: number };
  const ranks = [zero, ...Array.from({ length: worldSize - 1 }, (_, i) => start(i + 1, port))];
  const results = await Promise.all(ranks.map(async (r) => JSON.parse((await r.lines.next()).value as string) as Record<string, unknown>));
  const codes = await Promise.all(ranks.map((r) => r.done));
  if (codes.some((code) => code !== 0)) throw new Error(`rank exit codes ${JSON.stringify(codes)}`);
  return results;
}

for (const n of [2, 3]) {
  test(`${n} processes: sendObj/recvObj, broadcastObj, allGatherObj, barrier, expireData`, async (t) => {
    const results = await runRanks(n, 'methods');
    for (const [rank, out] of results.entries()) {
      const prev = (rank + n - 1) % n;
      t.deepEqual(out.ring, [0, 1, 2].map((i) => ({ from: prev, i })), `rank ${rank}`);
      t.deepEqual(out.broadcast, ['one', ['s'], String(2n ** 70n), [1.5, 2.5], [1, 2, 3]]);
      t.deepEqual(out.gather1, Array.from({ length: n }, (_, r) => ({ rank: r, square: r * r })));
      t.deepEqual(out.gather2, Array.from({ length: n }, (_, r) => `again ${r}`));
    }
    t.deepEqual(results[0]!.toZero, Array.from({ length: n - 1 }, (_, i) => `to zero from ${i + 1}`));
    t.true(results[0]!.beforeExpiry);
    t.false(results[0]!.afterExpiry);
  });

  test(`${n} processes: the barrier re-entry race (40 barriers, fast ranks re-entering at once)`, async (t) => {
    const results = await runRanks(n, 'race');
    t.deepEqual(results.map((r) => r.violations), new Array(n).fill(0));
    t.is(results[0]!.barrierKeysLeft, 0);
  });
}

test('in one process over a HashStore: objects, a barrier deadline that says who arrived, argument checks', async (t) => {
  const store = new HashStore({ timeoutMs: 5000 });
  const groups = [0, 1, 2].map((rank) => new StatelessProcessGroup(rank, 3, store));
  t.deepEqual(await Promise.all(groups.map((g) => g.allGatherObj(g.rank * 10))), new Array(3).fill([0, 10, 20]));
  await Promise.all(groups.map((g) => g.barrier()));
  await groups[2]!.sendObj('x', 0);
  t.is(await groups[0]!.recvObj(2), 'x');
  const error = await t.throwsAsync(Promise.all([groups[0]!.barrier(200), groups[1]!.barrier(200)]), { name: 'TimeoutError' });
  t.regex(error!.message, /rank [01] timed out after 200 ms waiting for arrivals: 2 of 3 ranks \(key "barrier\/1\/go"\)/);
  store.timeoutMs = 100;
  await t.throwsAsync(groups[1]!.recvObj(2), { name: 'TimeoutError', message: /send_to\/1\/2\/0/ });
  t.throws(() => new StatelessProcessGroup(3, 3, store), { message: /`rank` to be an integer in 0\.\.2, got 3/ });
  t.throws(() => new StatelessProcessGroup(0, 0, store), { message: /`worldSize`/ });
  t.throws(() => new StatelessProcessGroup(0, 1, null as never), { message: /`store`/ });
  t.throws(() => new StatelessProcessGroup(0, 1, store, -1), { message: /`dataExpirationSeconds`/ });
  await t.throwsAsync(groups[0]!.sendObj(1, 5), { message: /`dst`/ });
  await t.throwsAsync(groups[0]!.broadcastObj(1, -1), { message: /`src`/ });
  await t.throwsAsync(groups[0]!.barrier(-5), { message: /`timeoutMs`/ });
  await t.throwsAsync(StatelessProcessGroup.create({ host: '127.0.0.1', port: 0, rank: 1, worldSize: 2 }), { message: /`port`.*rank 1/ });
  await t.throwsAsync(StatelessProcessGroup.create({ host: '127.0.0.1', port: 1, rank: 2, worldSize: 2 }), { message: /`rank`/ });
  await t.throwsAsync(StatelessProcessGroup.create({ host: '127.0.0.1', port: 1, rank: 1, worldSize: 2, storeTimeout: -1 }), { message: /`storeTimeout`/ });
  await t.throwsAsync(StatelessProcessGroup.create(undefined as never), { message: /`options`/ });
  t.is(groups[0]!.port, undefined);
  await groups[0]!.close();
});

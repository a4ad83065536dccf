/**
 * Use after release (issue 13 item 5): a released tensor throws on every use, in plain memory and in
 * the arena, also through views and element access it cached before the release; it never shows the
 * bytes of the tensor that took its memory next.
 */
import test from 'ava';
import { Arena } from '../../src/shm/arena.js';
import { setDefaultArena, tensor, zeros } from '../../src/tensor/index.js';
import { ErrorCodes } from '../../src/errors.js';

const uses: [string, (a: ReturnType<typeof tensor>) => unknown][] = [
  ['data', (a) => a.data],
  ['bytes()', (a) => a.bytes()],
  ['toArray()', (a) => a.toArray()],
  ['getFlat()', (a) => a.getFlat(0)],
  ['setFlat()', (a) => a.setFlat(0, 1)],
  ['fill()', (a) => a.fill(0)],
  ['item() of a view', (a) => a.view(-1).narrow(0, 0, 1).item()],
  ['view()', (a) => a.view(2, 2)],
  ['reshape()', (a) => a.reshape(4)],
  ['narrow()', (a) => a.narrow(0, 1, 2)],
  ['clone()', (a) => a.clone()],
  ['byteOffset', (a) => a.byteOffset],
  ['buffer', (a) => a.buffer],
  ['copyFrom() as the source', (a) => zeros([4]).copyFrom(a)],
  ['copyFrom() as the destination', (a) => a.copyFrom(zeros([4]))],
];

for (const where of ['arena', 'plain memory'] as const) {
  test(`a released tensor in ${where} throws on every use, also through what it cached`, (t) => {
    const arena = where === 'arena' ? Arena.create({ initialBytes: 1 << 20, maxBytes: 1 << 22 }) : undefined;
    const a = tensor([1, 2, 3, 4], { arena });
    const view = a.view(2, 2);
    t.deepEqual(Array.from(a.data as Float32Array), [1, 2, 3, 4]); // cached views of a's memory
    a.bytes();
    view.data;
    a.release();
    const b = tensor([9, 9, 9, 9], { arena }); // takes a's memory in the arena
    if (arena !== undefined) t.is(b.byteOffset, a.storage.region!.byteOffset, 'b reuses a\'s region');
    for (const [name, use] of [...uses, ['a view made before the release', () => view.toArray()] as const]) {
      const error = t.throws(() => use(a), undefined, name);
      t.is((error as { code?: string } | undefined)?.code, ErrorCodes.INVALID_ARG_VALUE, name);
      t.regex(error?.message ?? '', /released/, name);
    }
    t.deepEqual(b.toArray(), [9, 9, 9, 9]);
    a.release(); // idempotent
  });
}

test('a shared tensor belongs to its job: tagged with the job, unusable once the job ended, its late release frees nothing', (t) => {
  const arena = Arena.create({ initialBytes: 1 << 20, maxBytes: 1 << 22 });
  const job = { owner: arena.newOwner(), ended: false };
  setDefaultArena(arena, job);
  try {
    const kept = zeros([256], { shared: true }).fill(7);
    const view = kept.view(16, 16);
    t.is(arena.freeOwnedBy(job.owner), 1, 'the job\'s end returns the tensor it never released');
    setDefaultArena(arena, { owner: arena.newOwner(), ended: false }); // the thread's next job: the first one ended
    t.true(job.ended);
    const next = zeros([256], { shared: true }).fill(9); // takes the kept tensor's memory
    t.is(next.byteOffset, kept.storage.region!.byteOffset);
    for (const use of [() => kept.toArray(), () => view.getFlat(0), () => kept.data, () => kept.byteOffset]) {
      t.throws(use, { code: ErrorCodes.INVALID_ARG_VALUE, message: /shared tensor of a job that has ended/ });
    }
    kept.release(); // must not free `next`, which holds that memory now
    t.is(arena.liveRegions, 1);
    t.deepEqual(next.toArray().slice(0, 2), [9, 9]);
    next.release();
    t.is(arena.liveRegions, 0);
  } finally {
    setDefaultArena(undefined);
  }
});

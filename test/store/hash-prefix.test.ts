import test from 'ava';
import { HashStore, PrefixStore } from '../../src/index.js';
import { deadlines, everyOperation, text } from './ops.js';

test('HashStore: every operation', async (t) => {
  await everyOperation(t, new HashStore());
});

test('HashStore: deadlines name the keys', async (t) => {
  await deadlines(t, new HashStore());
});

test('HashStore: the caller may reuse its arrays; a closed store rejects', async (t) => {
  const store = new HashStore({ timeoutMs: 1000 });
  const bytes = new Uint8Array([1, 2]);
  await store.set('k', bytes);
  bytes[0] = 9;
  const got = await store.get('k');
  t.deepEqual([...got], [1, 2]);
  got[0] = 7;
  t.deepEqual([...await store.get('k')], [1, 2]);
  await store.set('word', 'abc');
  await t.throwsAsync(store.add('word', 1), { name: 'StoreError', message: /not an integer counter/ });
  await store.close();
  await t.throwsAsync(store.get('k'), { name: 'ClosedError' });
});

test('HashStore: arguments are checked with the name and the value', async (t) => {
  const store = new HashStore();
  await t.throwsAsync(store.set(1 as never, 'x'), { code: 'ERR_MULTIRANK_INVALID_ARG_TYPE', message: /`key`.*1 \(number\)/ });
  await t.throwsAsync(store.set('k', 5 as never), { message: /`value` to be a string or a Uint8Array/ });
  await t.throwsAsync(store.add('k', 1.5), { message: /`amount`/ });
  await t.throwsAsync(store.check('k' as never), { message: /`keys` to be an array/ });
  await t.throwsAsync(store.multiSet(['a'], []), { code: 'ERR_MULTIRANK_OUT_OF_RANGE', message: /`values`.*\(1\), got 0/ });
  await t.throwsAsync(store.wait(['a'], -1), { message: /`timeoutMs`/ });
  t.throws(() => new HashStore({ timeoutMs: 'x' as never }), { message: /`timeoutMs`/ });
  t.throws(() => { store.timeoutMs = -5; }, { message: /`timeoutMs`/ });
});

test('PrefixStore: every operation under a prefix; numKeys counts the whole store', async (t) => {
  const base = new HashStore();
  const store = new PrefixStore('job1', base);
  await everyOperation(t, store);
  t.is(text(await base.get('job1/a')), 'world');
  await base.set('other', 'x');
  t.is(await store.numKeys(), await base.numKeys());
  store.timeoutMs = 77;
  t.is(base.timeoutMs, 77);
  t.is(store.timeoutMs, 77);
  const nested = new PrefixStore('inner', store);
  await nested.set('k', 'v');
  t.is(text(await base.get('job1/inner/k')), 'v');
  await store.close();
  t.is(text(await base.get('other')), 'x'); // closing a prefix leaves the store open
});

test('PrefixStore: deadlines name the prefixed keys; bad arguments', async (t) => {
  const store = new PrefixStore('p', new HashStore());
  await deadlines(t, store);
  t.throws(() => new PrefixStore(3 as never, new HashStore()), { message: /`prefix`/ });
  t.throws(() => new PrefixStore('p', {} as never), { message: /`store`/ });
  await t.throwsAsync(store.get(null as never), { message: /`key`/ });
});

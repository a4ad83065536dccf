/**
 * The Store contract as one test body, run on every implementation (HashStore, PrefixStore, TCPStore in
 * both dialects): every operation, with torch's semantics.
 */
import type { ExecutionContext } from 'ava';
import type { Store } from '../../src/store/index.js';

export const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');

export async function everyOperation(t: ExecutionContext, store: Store): Promise<void> {
  await store.set('a', 'hello');
  t.is(text(await store.get('a')), 'hello');
  await store.set('bin', new Uint8Array([0, 255, 1]));
  t.deepEqual([...await store.get('bin')], [0, 255, 1]);
  await store.set('empty', '');
  t.is((await store.get('empty')).length, 0);
  await store.set('ключ/ü', 'unicode key');
  t.is(text(await store.get('ключ/ü')), 'unicode key');

  t.is(await store.add('n', 5), 5);
  t.is(await store.add('n', -7), -2);
  t.is(text(await store.get('n')), '-2'); // counters are decimal ASCII, as torch keeps them
  await store.set('n2', '  41xyz'); // std::stoll: leading blanks, trailing junk
  t.is(await store.add('n2', 1), 42);

  t.is(text(await store.compareSet('a', 'hello', 'world')), 'world');
  t.is(text(await store.compareSet('a', 'nope', 'x')), 'world');
  t.is(text(await store.compareSet('fresh', '', 'new')), 'new');
  t.is(text(await store.compareSet('missing', 'exp', 'des')), 'exp'); // torch's "lying" answer
  t.false(await store.check(['missing']));

  t.true(await store.check(['a', 'n']));
  t.false(await store.check(['a', 'zz']));
  t.true(await store.check([]));

  await store.append('ap', 'x');
  await store.append('ap', new Uint8Array([0x79]));
  t.is(text(await store.get('ap')), 'xy');

  await store.multiSet(['m1', 'm2', 'm3'], ['1', new Uint8Array([50]), '']);
  t.deepEqual((await store.multiGet(['m1', 'm2', 'm3'])).map(text), ['1', '2', '']);
  t.deepEqual(await store.multiGet([]), []);

  const before = await store.numKeys();
  t.true(await store.deleteKey('m1'));
  t.false(await store.deleteKey('m1'));
  t.is(await store.numKeys(), before - 1);

  // waits: a key set later wakes get / wait / multiGet
  const later = store.get('later');
  const both = store.multiGet(['later', 'later2']);
  const waited = store.wait(['later', 'later2'], 5000);
  await new Promise((resolve) => setTimeout(resolve, 30));
  await store.set('later', 'L');
  await store.add('later2', 3);
  t.is(text(await later), 'L');
  await waited;
  t.deepEqual((await both).map(text), ['L', '3']);
  await store.wait([]);
}

/** Deadlines: each wait rejects with a TimeoutError naming its keys, and the store stays usable. */
export async function deadlines(t: ExecutionContext, store: Store): Promise<void> {
  const start = performance.now();
  const error = await t.throwsAsync(store.wait(['never', 'a'], 150), { name: 'TimeoutError' });
  t.true(performance.now() - start >= 140);
  t.regex(error!.message, /wait.*150 ms.*never"/);
  store.timeoutMs = 120;
  t.regex((await t.throwsAsync(store.get('never/get')))!.message, /get\(".*never\/get"\).*120 ms.*never\/get"/);
  t.regex((await t.throwsAsync(store.multiGet(['never/1', 'never/2'])))!.message, /multiGet.*never\/1", ".*never\/2"/);
  await store.set('after', 'ok');
  t.is(text(await store.get('after')), 'ok');
  store.timeoutMs = 10_000;
}

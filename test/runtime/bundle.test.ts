/**
 * The bundle (dist/bundle, which the package's entry points, its bin and `npm start` name): every entry
 * point exports what tsc's build of it exports; a job launched from it runs its ranks on the bundle's rank
 * thread and shares one copy of the library's state across the entry points its rank code imports; the
 * store's server thread starts from it. Rank code that imports a second copy of the library is told so.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { launch as launchFromTsc } from '../../src/launch/launch.js';
import { quietFailures } from '../helpers/quiet-failures.js';

quietFailures(); // one job fails on purpose

type Index = typeof import('../../src/index.js');

const dist = new URL('../../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('../package.json', dist), 'utf8')) as {
  exports: Record<string, string | { default: string }>; bin: Record<string, string>; main: string;
};
const bundled = (path: string): URL => new URL(`bundle/${path}`, dist);

test('every entry point of package.json is in the bundle and exports what tsc\'s build does', async (t) => {
  const targets = Object.values(pkg.exports)
    .flatMap((target) => typeof target === 'string' ? [] : [target.default]);
  t.true(targets.length >= 6, `entry points: ${targets.join(', ')}`);
  for (const target of [...targets, pkg.main]) {
    t.regex(target, /^\.\/dist\/bundle\/src\//, `${target} is the bundle's`);
    const fromBundle = Object.keys(await import(new URL(`../${target}`, dist).href)).sort();
    const tsc = new URL(`../${target.replace('/dist/bundle/', '/dist/')}`, dist);
    const fromTsc = Object.keys(await import(tsc.href)).sort();
    t.deepEqual(fromBundle, fromTsc, target);
  }
  t.is(pkg.bin['multirank'], 'dist/bundle/src/cli/main.js');
});

test('a job launched from the bundle runs on the bundle, sharing rank state ' +
  'across entry points', async (t) => {
  const { launch } = (await import(bundled('src/index.js').href)) as Index;
  const job = await launch({ worldSize: 4, module: new URL('../fixtures/bundle-rank.js', import.meta.url) });
  try {
    const results = (await job.results) as { sum: number[]; tpRank: number; stack: string }[];
    // tp groups [0, 1] and [2, 3] of vLLM's layout; values rank + 1 and 10 (rank + 1).
    t.deepEqual(results.map((r) => r.sum), [[3, 30], [3, 30], [7, 70], [7, 70]]);
    t.deepEqual(results.map((r) => r.tpRank), [0, 1, 0, 1]);
    const worker = fileURLToPath(bundled('workers/rank-worker.js'));
    for (const { stack } of results) {
      t.true(stack.includes(worker), `the rank ran from the bundle's rank thread:\n${stack}`);
      t.false(/\/dist\/(src|workers)\//.test(stack), `no tsc module on the rank's stack:\n${stack}`);
    }
  } finally {
    await job.close();
  }
});

test("the store's server thread starts from the bundle", async (t) => {
  const { TCPStore } = (await import(bundled('src/index.js').href)) as Index;
  const store = await TCPStore.create({
    host: '127.0.0.1', port: 0, isMaster: true, timeoutMs: 10_000, server: 'js',
  });
  try {
    await store.set('key', 'value');
    t.is(Buffer.from(await store.get('key')).toString(), 'value');
  } finally {
    await store.close();
  }
});

test('rank code that imports a second copy of the library is told so, naming both copies', async (t) => {
  // Launched from the tsc build; the rank module imports the bundle's index.
  const module = new URL('../fixtures/bundle-rank.js', import.meta.url);
  const job = await launchFromTsc({ worldSize: 2, module });
  try {
    const error = await t.throwsAsync(job.results);
    const message = error?.message ?? '';
    t.regex(message, /initDistributedEnvironment was called from a second copy of multirank /);
    t.regex(message, /\(file:\S+\/dist\/bundle\/chunks\/[^)]+\): this thread runs a rank of the copy at /);
    t.regex(message, /the copy at file:\S+\/dist\/src\/state\/current-rank\.js\. Rank code must import/);
  } finally {
    await job.close();
  }
});

/**
 * Interop with torch's own TCPStore, driven by test/store/torch_store.py: torch's client against both our
 * servers (native and TypeScript), and our client against torch's server. Runs with Debian's
 * python3-torch (1.13; CI installs it) and, when MULTIRANK_TORCH_PYTHON names a Python with torch 2.x,
 * with that too; skipped with the reason where neither imports torch.
 */
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { TCPStore } from '../../src/index.js';

const SCRIPT = fileURLToPath(new URL('../../../test/store/torch_store.py', import.meta.url));
const pythons = [...new Set(['/usr/bin/python3', process.env.MULTIRANK_TORCH_PYTHON].filter((p): p is string => !!p))];
const text = (b: Uint8Array): string => Buffer.from(b).toString();

function torchVersion(python: string): string | undefined {
  const probe = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', timeout: 120_000 });
  return probe.status === 0 ? probe.stdout.trim() : undefined;
}

function python(py: string, args: string[]): { lines: AsyncIterator<string>; done: Promise<number | null> } {
  const child = spawn(py, [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  const done = new Promise<number | null>((resolve) => child.on('exit', (code) => {
    clearTimeout(timer);
    resolve(code);
  }));
  return { lines: createInterface({ input: child.stdout })[Symbol.asyncIterator](), done };
}

for (const py of pythons) {
  const version = torchVersion(py);
  const run = version ? test : test.skip;
  const name = version ? `torch ${version}` : `${py} (skipped: it cannot import torch; apt-get install python3-torch)`;

  for (const server of ['native', 'js'] as const) {
    run(`${name}: torch's TCPStore client against our server (${server})`, async (t) => {
      let child: ReturnType<typeof python> | undefined;
      const store = await TCPStore.create({
        host: '127.0.0.1', port: 0, isMaster: true, worldSize: 2, timeoutMs: 60_000, server,
        onListen: (port) => { child = python(py, ['client', String(port)]); },
      });
      t.teardown(() => store.close());
      await store.set('from_node', 'hi torch');
      await store.set('gone', 'x');
      await store.get('py_waiting');
      await store.set('late', 'arrived');
      const out = JSON.parse((await child!.lines.next()).value as string) as Record<string, unknown>;
      t.is(await child!.done, 0);
      t.is(out.from_node, 'hi torch');
      t.deepEqual(out.add, [5, 4]);
      t.deepEqual(out.cas, ['first', 'first']);
      t.deepEqual(out.delete, [true, false]);
      t.true((out.num_keys as number) >= 6);
      t.is(out.late, 'arrived');
      const timedOutAfter = Array.isArray(out.timeout) && (out.timeout as [string, number])[1] >= 250;
      t.true(timedOutAfter, JSON.stringify(out.timeout));
      if (out.check) t.deepEqual(out.check, [true, false]);
      if (out.multi) t.deepEqual(out.multi, ['1', '2', 'xy']);
      t.is(text(await store.get('from_torch')), 'py');
      t.deepEqual([...await store.get('binary')], [0, 255, 7]);
      t.is(await store.add('cnt', 0), 4);
    });
  }

  run(`${name}: our client against torch's TCPStore server`, async (t) => {
    const server = python(py, ['server']);
    const { port, version: v } = JSON.parse((await server.lines.next()).value as string) as { port: number; version: string };
    const store = await TCPStore.create({ host: '127.0.0.1', port, timeoutMs: 20_000 });
    t.teardown(() => store.close());
    t.is(store.protocol, v.startsWith('1.') ? 'legacy' : 'current');
    t.is(text(await store.get('from_torch')), 'hello node');
    await store.set('from_node', new Uint8Array([104, 105]));
    t.deepEqual([await store.add('cnt', 3), await store.add('cnt', 4)], [3, 7]);
    t.is(text(await store.compareSet('cas', '', 'v1')), 'v1');
    t.is(text(await store.compareSet('cas', 'v1', 'v2')), 'v2');
    t.true(await store.check(['from_torch']));
    t.false(await store.check(['nope']));
    t.true(await store.deleteKey('gone'));
    t.false(await store.deleteKey('gone'));
    await store.append('ap', 'x');
    await store.append('ap', 'y');
    await store.multiSet(['m1', 'm2'], ['1', '2']);
    t.deepEqual((await store.multiGet(['m1', 'm2'])).map(text), ['1', '2']);
    await t.throwsAsync(store.wait(['never'], 200), { name: 'TimeoutError', message: /"never"/ });
    const later = store.get('from_node');
    t.is(text(await later), 'hi'); // still usable after the timed-out wait
    const numKeys = await store.numKeys();
    await store.set('node_done', '1');
    const out = JSON.parse((await server.lines.next()).value as string) as Record<string, unknown>;
    t.is(await server.done, 0);
    t.like(out, { from_node: 'hi', cnt: '7', cas: 'v2', ap: 'xy', m1: '1', m2: '2' });
    t.true(numKeys >= 6);
  });
}

import test from 'ava';
import { PrefixStore, TCPStore } from '../../src/index.js';
import { MAX_KEYS, MAX_KEY_BYTES, MAX_VALUE_BYTES } from '../../src/store/index.js';
import { TCPStoreServer } from '../../src/store/server.js';
import { NativeTCPStoreServer, SERVER_CHOICE_ENV, serverChoice } from '../../src/store/native-server.js';
import { withEnv } from '../helpers/env.js';
import { deadlines, everyOperation, text } from './ops.js';

const HOST = '127.0.0.1';

async function master(t: import('ava').ExecutionContext, extra: Parameters<typeof TCPStore.create>[0] = {}): Promise<TCPStore> {
  const store = await TCPStore.create({ host: HOST, port: 0, isMaster: true, timeoutMs: 10_000, ...extra });
  t.teardown(() => store.close());
  return store;
}

async function client(t: import('ava').ExecutionContext, port: number, extra: Parameters<typeof TCPStore.create>[0] = {}): Promise<TCPStore> {
  const store = await TCPStore.create({ host: HOST, port, timeoutMs: 10_000, ...extra });
  t.teardown(() => store.close());
  return store;
}

for (const kind of ['native', 'js'] as const) {
  test(`the master listens on a free port and reports it; every operation (torch 2.x dialect) ` +
    `(${kind} server)`, async (t) => {
    const server = await master(t, { server: kind });
    t.true(server.port > 0);
    t.is(server.protocol, 'current');
    const store = await client(t, server.port);
    t.is(store.protocol, 'current');
    await everyOperation(t, store);
    t.is(text(await server.get('a')), 'world'); // the master's own client sees the same map
  });

  test(`every operation in torch 1.13's dialect (the server serves both) (${kind} server)`, async (t) => {
    const server = await master(t, { server: kind, serverThread: false });
    const store = await client(t, server.port, { protocol: 'legacy' });
    t.is(store.protocol, 'legacy');
    await everyOperation(t, store);
  });

  test(`deadlines name the keys, in both dialects, and the store goes on (${kind} server)`, async (t) => {
    const server = await master(t, { server: kind });
    await deadlines(t, await client(t, server.port));
    await deadlines(t, await client(t, server.port, { protocol: 'legacy' }));
  });

  test(`a wait cancelled just as its key arrives resolves (the crossing STOP_WAITING is read) ` +
    `(${kind} server)`, async (t) => {
    const server = await master(t, { server: kind });
    const store = await client(t, server.port);
    for (let i = 0; i < 20; i++) {
      const key = `race/${i}`;
      const waiting = store.wait([key], 20).then(() => 'ok', (e: Error) => e.name);
      setTimeout(() => void server.set(key, 'x'), 19 + (i % 3));
      t.true(['ok', 'TimeoutError'].includes(await waiting));
    }
    t.is(text(await store.get('race/19')), 'x');
  });

  test(`8 clients x 200 adds at once: every increment counted; concurrent calls on one store ` +
    `(${kind} server)`, async (t) => {
    const server = await master(t, { server: kind });
    const clients = await Promise.all(Array.from({ length: 8 }, () => client(t, server.port)));
    await Promise.all(clients.map(async (store) => {
      for (let i = 0; i < 200; i++) await store.add('counter', 1);
    }));
    t.is(text(await server.get('counter')), '1600');
    // one store, many calls in flight: pipelined in order, waits on their own connections
    const store = clients[0]!;
    const gets = Array.from({ length: 50 }, (_, i) => store.get(`p/${i}`));
    const adds = await Promise.all(Array.from({ length: 100 }, () => store.add('pipelined', 2)));
    t.deepEqual(adds, Array.from({ length: 100 }, (_, i) => 2 * (i + 1)));
    await Promise.all(Array.from({ length: 50 }, (_, i) => clients[i % 8]!.set(`p/${i}`, String(i))));
    t.deepEqual((await Promise.all(gets)).map(text), Array.from({ length: 50 }, (_, i) => String(i)));
  });
}

test('worldSize: the master waits for every store to join, or says how many did', async (t) => {
  const pending = TCPStore.create({ host: HOST, port: 0, isMaster: true, worldSize: 3, timeoutMs: 10_000, serverThread: false });
  // the port is not known before create resolves, so the workers join through a second master-less store
  const lonely = await t.throwsAsync(TCPStore.create({ host: HOST, port: 0, isMaster: true, worldSize: 2, timeoutMs: 200 }),
    { name: 'TimeoutError' });
  t.regex(lonely!.message, /1 of 2 stores joined.*"init\/"/);
  const early = await TCPStoreServer.listen({ host: HOST });
  t.teardown(() => early.close());
  const joining = [0, 1, 2].map(() => TCPStore.create({ host: HOST, port: early.port, worldSize: 3, timeoutMs: 5000 }));
  const stores = await Promise.all(joining);
  t.is(Number(Buffer.from(early.core.get('init/')!).toString()), 3);
  await Promise.all(stores.map((s) => s.close()));
  void pending.then((s) => s.close(), () => {});
});

test('limits as torch\'s, with the argument, the value and the limit named', async (t) => {
  const server = await master(t);
  const store = await client(t, server.port);
  await store.set('k'.repeat(MAX_KEY_BYTES - 1), 'longest key');
  t.is(text(await store.get('k'.repeat(MAX_KEY_BYTES - 1))), 'longest key');
  await t.throwsAsync(store.set('k'.repeat(MAX_KEY_BYTES), 'x'), { code: 'ERR_MULTIRANK_OUT_OF_RANGE', message: /`key`.*8191 bytes.*got 8192/ });
  const big = new Uint8Array(MAX_VALUE_BYTES);
  big[MAX_VALUE_BYTES - 1] = 7;
  await store.set('big', big);
  const back = await store.get('big');
  t.is(back.length, MAX_VALUE_BYTES);
  t.is(back[MAX_VALUE_BYTES - 1], 7);
  await t.throwsAsync(store.set('big', new Uint8Array(MAX_VALUE_BYTES + 1)), { message: /`value`.*8388608 bytes.*got 8388609/ });
  await t.throwsAsync(store.multiSet(['a'], [new Uint8Array(MAX_VALUE_BYTES + 1)]), { message: /`values\[0\]`/ });
  // one request past MAX_REQUEST_BYTES (128 values of 8 MiB, one buffer 128 times), refused before it is sent
  const many = Array.from({ length: 128 }, (_, i) => `m${i}`);
  await t.throwsAsync(store.multiSet(many, many.map(() => big)), {
    code: 'ERR_MULTIRANK_OUT_OF_RANGE',
    message: /`keys` and `values`.*at most 1073741824 bytes in one multiSet.*got 1073744[0-9]{3}$/,
  });
  t.is(await store.numKeys(), 2, 'nothing of it was stored');
  await t.throwsAsync(store.check(new Array<string>(MAX_KEYS + 1).fill('x')), { message: /`keys`.*131072 keys.*got 131073/ });
  await t.throwsAsync(store.wait(['ok', 'x'.repeat(MAX_KEY_BYTES)]), { message: /`keys\[1\]`/ });
  await t.throwsAsync(store.compareSet('k', 'a', 5 as never), { message: /`desired`/ });
  await t.throwsAsync(store.add('k', 2 ** 60), { message: /`amount`/ });
  t.is(text(await store.get('k'.repeat(MAX_KEY_BYTES - 1))), 'longest key'); // the connection is fine
});

test('create checks its options', async (t) => {
  await t.throwsAsync(TCPStore.create({ port: 0 }), { message: /`port`.*isMaster false/ });
  await t.throwsAsync(TCPStore.create({ port: 70000 }), { message: /`port`/ });
  await t.throwsAsync(TCPStore.create({ host: '' }), { message: /`host`/ });
  await t.throwsAsync(TCPStore.create({ isMaster: 'yes' as never }), { message: /`isMaster`/ });
  await t.throwsAsync(TCPStore.create({ isMaster: true, worldSize: 0 }), { message: /`worldSize`/ });
  await t.throwsAsync(TCPStore.create({ isMaster: true, protocol: 'v3' as never }), { message: /`protocol`/ });
  await t.throwsAsync(TCPStore.create({ isMaster: true, timeoutMs: -1 }), { message: /`timeoutMs`/ });
  await t.throwsAsync(TCPStore.create(null as never), { message: /`options`/ });
  await t.throwsAsync(TCPStore.create({ isMaster: true, server: 'libuv' as never }), {
    message: /`server`.*"native" or "js".*libuv/,
  });
});

test('no server: connecting fails at the deadline with the address; a port taken fails to listen', async (t) => {
  const taken = await TCPStoreServer.listen({ host: HOST });
  const port = taken.port;
  await taken.close();
  const start = performance.now();
  const error = await t.throwsAsync(TCPStore.create({ host: HOST, port, timeoutMs: 300 }), { name: 'StoreError' });
  t.true(performance.now() - start >= 250);
  // Refused at once on a quiet machine; on a loaded one the attempt may still be pending at the deadline.
  t.regex(error!.message, new RegExp(`127\\.0\\.0\\.1:${port}.*could not connect.*(ECONNREFUSED|ETIMEDOUT)`));
  const holder = await TCPStoreServer.listen({ host: HOST });
  t.teardown(() => holder.close());
  // Each server that a master can run: native, the TypeScript one on its thread, and in this thread.
  const onHeldPort = { host: HOST, port: holder.port, isMaster: true } as const;
  const servers = [{ server: 'native' }, { server: 'js' }, { server: 'js', serverThread: false }] as const;
  for (const how of servers) {
    await t.throwsAsync(TCPStore.create({ ...onHeldPort, ...how }), {
      name: 'StoreError', message: /could not listen/,
    }, JSON.stringify(how));
  }
});

test('close: calls reject with ClosedError; a master\'s clients lose their connection', async (t) => {
  const server = await TCPStore.create({ host: HOST, port: 0, isMaster: true, timeoutMs: 5000 });
  const store = await TCPStore.create({ host: HOST, port: server.port, timeoutMs: 5000 });
  // A get waits on a connection of its own: open one first (a finished wait returns it to the client's
  // pool), so that the get below is under way on a live connection when the server goes, however slow
  // the machine is, rather than still connecting.
  await Promise.all([store.wait(['warm']), server.set('warm', '1')]);
  const waiting = store.get('never');
  await new Promise((resolve) => setTimeout(resolve, 50));
  await server.close();
  await server.close();
  await t.throwsAsync(server.set('a', 'b'), { name: 'ClosedError' });
  await t.throwsAsync(waiting, { name: 'StoreError', message: /connection lost during get\("never"\)/ });
  await t.throwsAsync(store.add('a', 1), { name: 'StoreError' });
  await store.close();
  await t.throwsAsync(store.numKeys(), { name: 'ClosedError' });
});

test('a PrefixStore over a TCPStore; a client of a current server that insists on 1.13 gets nowhere', async (t) => {
  const server = await master(t);
  const store = new PrefixStore('g0', await client(t, server.port));
  await store.set('x', '1');
  t.is(text(await server.get('g0/x')), '1');
  t.is(server.isMaster, true);
  t.is(server.worldSize, undefined);
});

test('MULTIRANK_STORE_SERVER picks the master\'s server, and a wrong value is named', async (t) => {
  // set and read back synchronously: no other test of this file runs in between
  const choose = (value: string | undefined): 'native' | 'js' =>
    withEnv(SERVER_CHOICE_ENV, value, serverChoice);
  t.is(choose('js'), 'js');
  t.is(choose('native'), 'native');
  t.is(choose(undefined), 'native'); // CI builds the addon: the default is the native server
  t.throws(() => choose('uv'), {
    code: 'ERR_MULTIRANK_OUT_OF_RANGE', message: /MULTIRANK_STORE_SERVER.*"native", "js" or unset.*"uv"/,
  });
  // both servers behind a master store: the same answers
  for (const server of ['native', 'js'] as const) {
    const master = await TCPStore.create({ host: HOST, port: 0, isMaster: true, timeoutMs: 5000, server });
    const other = await TCPStore.create({ host: HOST, port: master.port, timeoutMs: 5000 });
    t.is(master.server instanceof NativeTCPStoreServer, server === 'native');
    await Promise.all([other.wait(['k']), master.set('k', server)]);
    t.is(text(await other.get('k')), server);
    t.is(await other.add('n', 2), 2);
    await other.close();
    await master.close();
  }
});


test.serial('a master created without `server` starts the server MULTIRANK_STORE_SERVER names ' +
  '(js, native; unset or empty: native); an explicit `server` wins over it', async (t) => {
  const saved = process.env[SERVER_CHOICE_ENV];
  // Which server a master started shows in its `server` handle: a NativeTCPStoreServer, a TCPStoreServer
  // (the TypeScript one with serverThread false), or a worker thread's handle (neither).
  const cases = [
    ['js', { serverThread: false }, 'TCPStoreServer'],
    ['js', {}, 'thread'],
    ['native', { serverThread: false }, 'NativeTCPStoreServer'], // the variable, not serverThread, decides
    ['native', {}, 'NativeTCPStoreServer'],
    [undefined, { serverThread: false }, 'NativeTCPStoreServer'], // CI builds the addon
    ['', { serverThread: false }, 'NativeTCPStoreServer'],
    ['native', { server: 'js', serverThread: false }, 'TCPStoreServer'],
    ['js', { server: 'native' }, 'NativeTCPStoreServer'],
  ] as const;
  for (const [value, extra, expected] of cases) {
    const started = await withEnv(SERVER_CHOICE_ENV, value, async () => {
      const options = { host: HOST, port: 0, isMaster: true, timeoutMs: 5000, ...extra };
      const store = await TCPStore.create(options);
      try {
        const other = await TCPStore.create({ host: HOST, port: store.port, timeoutMs: 5000 });
        await other.set('k', String(value));
        t.is(text(await store.get('k')), String(value)); // and it serves
        await other.close();
      } finally {
        await store.close();
      }
      if (store.server instanceof NativeTCPStoreServer) return 'NativeTCPStoreServer';
      return store.server instanceof TCPStoreServer ? 'TCPStoreServer' : 'thread';
    });
    t.is(started, expected, `${SERVER_CHOICE_ENV}=${JSON.stringify(value)}, ${JSON.stringify(extra)}`);
    t.is(process.env[SERVER_CHOICE_ENV], saved); // restored
  }
});

test.serial('a master created without `server` under a bad MULTIRANK_STORE_SERVER fails, naming the ' +
  'variable, its value and the values allowed', async (t) => {
  const saved = process.env[SERVER_CHOICE_ENV];
  for (const value of ['uv', 'JS', ' native']) {
    for (const serverThread of [true, false]) {
      const options = { host: HOST, port: 0, isMaster: true, serverThread, timeoutMs: 5000 };
      // (a master that starts anyway is closed, so that a failure here leaves no server behind)
      const creating = withEnv(SERVER_CHOICE_ENV, value, () => TCPStore.create(options))
        .then((store) => store.close());
      await t.throwsAsync(creating, {
        name: 'RangeError',
        code: 'ERR_MULTIRANK_OUT_OF_RANGE',
        message: `MULTIRANK_STORE_SERVER must be "native", "js" or unset, got ${JSON.stringify(value)}`,
      }, `${JSON.stringify(value)}, serverThread ${serverThread}`);
    }
    t.is(process.env[SERVER_CHOICE_ENV], saved); // restored
  }
  // an explicit `server` does not read the variable
  await withEnv(SERVER_CHOICE_ENV, 'uv', async () => {
    const options = { host: HOST, port: 0, isMaster: true, server: 'js', timeoutMs: 5000 } as const;
    const store = await TCPStore.create(options);
    t.is(await store.add('n', 1), 1);
    await store.close();
  });
});

/**
 * The server under abuse: a seeded fuzz of malformed frames, clients killed in the middle of a request
 * (a child process, a raw socket destroyed mid-frame). Each must cost only its own connection.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { TCPStore } from '../../src/index.js';
import { Rng } from '../helpers/mulberry32.js';
import { VALIDATE, i64, raw, str, u64, u8 } from './raw.js';
import { STORE_SERVERS } from './servers.js';

const FUZZ_SEED = 20240617;
const FUZZ_FRAMES = 500;

/** One malformed or random frame (sometimes a valid one, so that parsing goes on past it). */
function fuzzFrame(rng: Rng): Buffer {
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => rng.u32() & 0xff));
  const head = rng.u32() % 2 === 0 ? VALIDATE : Buffer.alloc(0);
  const code = rng.u32() % 20;
  const length = [0, 1, 7, 8192, 8193, 2 ** 23 + 1, 2 ** 40, rng.u32()][rng.u32() % 8]!;
  switch (rng.u32() % 6) {
    case 0: return bytes(1 + (rng.u32() % 64)); // noise
    case 1: return Buffer.concat([head, u8(code), u64(length), bytes(rng.u32() % 32)]); // a length and too few bytes
    case 2: return Buffer.concat([head, u8(code), bytes(rng.u32() % 40)]); // a query type and noise
    case 3: return Buffer.concat([head, u8(5 + (rng.u32() % 2)), u64(length % 300_000), str('/k')]); // CHECK/WAIT counts
    case 4: return Buffer.concat([head, u8(1), str('/f'), str('x'), u8(code), bytes(rng.u32() % 16)]); // valid, then junk
    default: return Buffer.concat([head, u8(4), str('/f'), bytes(rng.u32() % 12)]); // ADD cut short
  }
}

for (const [kind, listen] of STORE_SERVERS) {
  test(`seeded fuzz: ${FUZZ_FRAMES} malformed frames (seed ${FUZZ_SEED}) never stop the server ` +
    `serving a healthy client (${kind} server)`, async (t) => {
    const server = await listen({ host: '127.0.0.1' });
    t.teardown(() => server.close());
    const healthy = await TCPStore.create({ host: '127.0.0.1', port: server.port, timeoutMs: 5000 });
    t.teardown(() => healthy.close());
    const rng = new Rng(FUZZ_SEED);
    let sent = 0;
    for (let batch = 0; sent < FUZZ_FRAMES; batch++) {
      const size = Math.min(50, FUZZ_FRAMES - sent);
      await Promise.all(Array.from({ length: size }, async () => {
        const c = await raw(server.port);
        c.send(fuzzFrame(rng));
        await c.closed(30); // closed by the server, or waiting for bytes that never come: we go
        c.socket.destroy();
      }));
      sent += size;
      t.is(await healthy.add('healthy', 1), batch + 1, `batch ${batch} (seed ${FUZZ_SEED})`);
    }
    t.true(server.protocolErrors >= 50, `${server.protocolErrors} connections closed for malformed frames`);
    // The server learns of each destroyed socket by a 'close' event that a loaded machine may deliver late:
    // wait for the count to settle (a leak never settles and fails at the deadline), never for a fixed time.
    const settleBy = Date.now() + 10_000;
    while (server.connectionCount > 2 && Date.now() < settleBy) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // The connections left are the healthy store's.
    t.true(server.connectionCount <= 2, `${server.connectionCount} connections left after 10 s`);
    await healthy.set('k', 'v');
    t.is(Buffer.from(await healthy.get('k')).toString(), 'v');
  });

  test(`a raw client destroyed in the middle of a frame and of a wait: its half request never runs ` +
    `(${kind} server)`, async (t) => {
    const server = await listen({ host: '127.0.0.1' });
    t.teardown(() => server.close());
    const c = await raw(server.port);
    c.send(Buffer.concat([
      VALIDATE, u8(6), u64(1), str('/w'), u8(1), str('/half'), u64(100), Buffer.alloc(50),
    ]));
    await new Promise((resolve) => setTimeout(resolve, 50));
    c.socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    t.is(server.value('/half'), undefined);
    const other = await raw(server.port);
    other.send(Buffer.concat([VALIDATE, u8(1), str('/w'), str('1'), u8(4), str('/n'), i64(2)]));
    t.deepEqual(await other.read(8), i64(2)); // waking the dead client's wait harmed nothing
    other.socket.destroy();
  });

  for (const mode of ['partial', 'big-set'] as const) {
    test(`a client process killed in the middle of a request (${mode}) leaves the server serving ` +
      `the others (${kind} server)`, async (t) => {
      const store = await TCPStore.create({
        host: '127.0.0.1', port: 0, isMaster: true, timeoutMs: 10_000, server: kind as 'native' | 'js',
      });
      t.teardown(() => store.close());
      const client = new URL('../fixtures/store-client.js', import.meta.url).pathname;
      const child = spawn(process.execPath, [client, String(store.port), mode], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      t.teardown(() => child.kill('SIGKILL'));
      const [line] = (await once(child.stdout!, 'data')) as [Buffer];
      t.is(line.toString().trim(), 'ready');
      child.kill('SIGKILL');
      await once(child, 'exit');
      t.false(await store.check(['child/half', 'child/big']));
      await store.set('child/waits', 'set after the waiter died');
      t.is(await store.add('after', 1), 1);
      const late = await TCPStore.create({ host: '127.0.0.1', port: store.port, timeoutMs: 5000 });
      t.is(Buffer.from(await late.get('child/waits')).toString(), 'set after the waiter died');
      await late.close();
    });
  }
}

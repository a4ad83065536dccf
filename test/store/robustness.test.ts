/**
 * The server under abuse: a seeded fuzz of malformed frames, clients killed in the middle of a request
 * (a child process, a raw socket destroyed mid-frame), a client that sends requests but reads no replies,
 * memory that runs out under the native server. Each must cost only its own connection.
 */
import test, { type ExecutionContext } from 'ava';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { TCPStore } from '../../src/index.js';
import { MAX_REPLY_BYTES, MAX_REQUEST_BYTES, MAX_VALUE_BYTES } from '../../src/store/protocol.js';
import { TCPStoreServer } from '../../src/store/server.js';
import { Rng } from '../helpers/mulberry32.js';
import { VALIDATE, i64, raw, str, u32, u64, u8, type Raw } from './raw.js';
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

/** server.ts's PAUSE_REPLY_BYTES: past this many bytes of replies queued, a connection is not read. */
const PAUSE_REPLY_BYTES = 64 * 1024 * 1024;
/** GETs of an 8 MiB value that the client sends without reading: 256 MiB of replies, 4 x the limit. */
const UNREAD_GETS = 32;

/** Resolves once `ready()` is true; rejects naming `what` after `ms`. */
async function until(ready: () => boolean, what: () => string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`after ${ms} ms: ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** What `readExpected` has seen: parts read whole, bytes read, the first difference (empty: none). */
interface ExpectedReader {
  part: number;
  received: number;
  mismatch: string;
}

/** Compares what `client` receives, as it streams in, with the concatenation of `expected`. */
function readExpected(client: net.Socket, expected: readonly Buffer[]): ExpectedReader {
  const r: ExpectedReader = { part: 0, received: 0, mismatch: '' };
  let at = 0;
  client.on('data', (chunk: Buffer) => {
    r.received += chunk.length;
    for (let from = 0; from < chunk.length && !r.mismatch;) {
      const want = expected[r.part];
      if (!want) {
        r.mismatch = `${chunk.length - from} bytes past the last reply`;
        break;
      }
      const n = Math.min(chunk.length - from, want.length - at);
      if (!chunk.subarray(from, from + n).equals(want.subarray(at, at + n))) {
        r.mismatch = `reply ${r.part >> 1} differs in its bytes ${at}..${at + n}`;
      }
      from += n;
      at += n;
      if (at === want.length) {
        r.part++;
        at = 0;
      }
    }
  });
  return r;
}

/** Two seeded values of MAX_VALUE_BYTES, stored at /big0 and /big1 of `server`. */
function bigValues(server: TCPStoreServer): Buffer[] {
  const rng = new Rng(20240618);
  const values = [0, 1].map(() => {
    const value = Buffer.allocUnsafe(MAX_VALUE_BYTES);
    const words = new Uint32Array(value.buffer, value.byteOffset, MAX_VALUE_BYTES / 4);
    for (let i = 0; i < words.length; i++) words[i] = rng.u32();
    return value;
  });
  values.forEach((value, i) => server.setValue(`/big${i}`, value));
  return values;
}

test.serial('a client that sends requests but reads no replies is paused past 64 MiB of them (the server ' +
  'reads none of its requests, queues no more), then resumed as it reads: every reply intact (js server)',
async (t) => {
  const server = await TCPStoreServer.listen({ host: '127.0.0.1' });
  t.teardown(() => server.close());
  const values = bigValues(server);
  const get = (i: number): Buffer => Buffer.concat([u8(3), str(`/big${i % 2}`)]);
  const REPLY = 8 + MAX_VALUE_BYTES; // u64 length, value

  const client = net.connect({ host: '127.0.0.1', port: server.port, noDelay: true });
  t.teardown(() => client.destroy());
  client.pause(); // reads nothing until the test says so
  await once(client, 'connect');
  client.write(VALIDATE);
  await until(() => server.connections.size === 1, () => 'no connection');
  // This connection on the server's side. bytesWritten counts every reply the server has produced
  // (sent or queued in the socket); writableLength what is queued in the server's memory.
  const conn = [...server.connections][0]!.socket;
  const state = (): string => `${sent} GETs sent, paused ${conn.isPaused()}, ` +
    `${conn.bytesWritten} bytes of replies, ${conn.writableLength} queued`;

  // One GET at a time, each answered (queued) before the next is sent, until the server pauses: the
  // server checks the limit after answering each batch of requests it reads, and answers a batch whole.
  let sent = 0;
  while (sent < UNREAD_GETS && !conn.isPaused()) {
    client.write(get(sent++));
    await until(() => conn.bytesWritten === sent * REPLY, state);
  }
  t.true(conn.isPaused(), state());
  const pausedAfter = sent;
  t.true(pausedAfter * REPLY > PAUSE_REPLY_BYTES, state()); // not before 64 MiB of replies
  // the rest at once: the server runs none of them while paused, and its queue does not grow
  while (sent < UNREAD_GETS) client.write(get(sent++));
  const queued = conn.writableLength;
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.true(conn.isPaused(), state());
  t.is(conn.bytesWritten, pausedAfter * REPLY, state());
  t.true(conn.writableLength <= queued && queued <= PAUSE_REPLY_BYTES + REPLY, state());
  t.is(server.protocolErrors, 0);

  // Now read: every reply arrives whole and in order, then a PING is answered (the connection reads again).
  const expected: Buffer[] = [];
  for (let i = 0; i < UNREAD_GETS; i++) expected.push(u64(MAX_VALUE_BYTES), values[i % 2]!);
  const NONCE = 0x600d600d;
  expected.push(u32(NONCE));
  const reader = readExpected(client, expected);
  client.resume();
  await until(() => reader.part === 2 * UNREAD_GETS || reader.mismatch !== '',
    () => `${reader.received} bytes read; ${state()}`);
  t.is(reader.mismatch, '');
  client.write(Buffer.concat([u8(13), u32(NONCE)]));
  await until(() => reader.part === expected.length || reader.mismatch !== '',
    () => `no PING reply; ${state()}`, 3000);
  t.is(reader.mismatch, '');
  t.is(reader.received, UNREAD_GETS * REPLY + 4);
  t.false(conn.isPaused());
  t.is(conn.writableLength, 0);
  t.is(server.protocolErrors, 0);
});

test.serial('a batch of requests that arrives in one write is run only until its replies pass 64 MiB: the ' +
  'rest wait, unread, until the client reads (js server)', async (t) => {
  const server = await TCPStoreServer.listen({ host: '127.0.0.1' });
  t.teardown(() => server.close());
  const values = bigValues(server);
  const REPLY = 8 + MAX_VALUE_BYTES;
  const client = net.connect({ host: '127.0.0.1', port: server.port, noDelay: true });
  t.teardown(() => client.destroy());
  client.pause();
  await once(client, 'connect');
  // VALIDATE and 32 GETs (256 MiB of replies) in one write: one batch for the server.
  const gets = Array.from({ length: UNREAD_GETS }, (_, i) => Buffer.concat([u8(3), str(`/big${i % 2}`)]));
  client.write(Buffer.concat([VALIDATE, ...gets]));
  await until(() => server.connections.size === 1, () => 'no connection');
  const conn = [...server.connections][0]!.socket;
  const state = (): string =>
    `paused ${conn.isPaused()}, ${conn.bytesWritten} bytes of replies, ${conn.writableLength} queued`;
  await until(() => conn.isPaused(), state);
  await new Promise((resolve) => setTimeout(resolve, 300));
  // Before, the whole batch was answered at once: 256 MiB queued in the server's memory.
  t.true(conn.writableLength <= PAUSE_REPLY_BYTES + REPLY, state());
  t.true(conn.bytesWritten < UNREAD_GETS * REPLY, state());
  const expected = gets.flatMap((_, i) => [u64(MAX_VALUE_BYTES), values[i % 2]!]);
  const reader = readExpected(client, expected);
  client.resume();
  await until(() => reader.part === expected.length || reader.mismatch !== '',
    () => `${reader.received} bytes read; ${state()}`);
  t.is(reader.mismatch, '');
  t.is(reader.received, UNREAD_GETS * REPLY);
  t.is(server.protocolErrors, 0);
});

test.serial('a MULTI_GET that lists one 8 MiB value 64 times is sent from the stored value, not from 64 ' +
  'copies of it (js server)', async (t) => {
  const server = await TCPStoreServer.listen({ host: '127.0.0.1' });
  t.teardown(() => server.close());
  const [value] = bigValues(server);
  const COPIES = 64; // 512 MiB of reply
  const client = net.connect({ host: '127.0.0.1', port: server.port, noDelay: true });
  t.teardown(() => client.destroy());
  client.pause();
  await once(client, 'connect');
  const keys = Array.from({ length: COPIES }, () => str('/big0'));
  const rssBefore = process.memoryUsage().rss;
  client.write(Buffer.concat([VALIDATE, u8(10), u64(COPIES), ...keys]));
  await until(() => server.connections.size === 1, () => 'no connection');
  const conn = [...server.connections][0]!.socket;
  const written = (): string => `${conn.bytesWritten} bytes written`;
  await until(() => conn.bytesWritten === COPIES * (8 + MAX_VALUE_BYTES), written);
  // Joined into one buffer, the reply took 512 MiB more (and past 4 GiB, as 600 copies, it threw and
  // ended the server); written as parts, it holds the stored value 64 times by reference.
  const grewMiB = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
  t.true(grewMiB < 256, `the server's process grew by ${grewMiB.toFixed(0)} MiB`);
  const expected = keys.flatMap(() => [u64(MAX_VALUE_BYTES), value!]);
  const reader = readExpected(client, expected);
  client.resume();
  await until(() => reader.part === expected.length || reader.mismatch !== '',
    () => `${reader.received} read`);
  t.is(reader.mismatch, '');
  t.is(server.protocolErrors, 0);
});

for (const [kind, listen] of STORE_SERVERS) {
  test.serial(`one write of 32 GETs of an 8 MiB value (256 MiB of replies) is answered in full as the ` +
    `client reads, holding about 64 MiB of them at a time (${kind} server)`, async (t) => {
    const server = await listen({ host: '127.0.0.1' });
    t.teardown(() => server.close());
    const store = await TCPStore.create({ host: '127.0.0.1', port: server.port, timeoutMs: 10_000 });
    t.teardown(() => store.close());
    const value = Buffer.alloc(MAX_VALUE_BYTES, 0x5a);
    for (let i = 0; i < value.length; i += 4096) value.writeUInt32LE(i, i);
    await store.set('big', value);
    // a SET has no reply: wait for it here
    t.is(Buffer.compare(Buffer.from(await store.get('big')), value), 0);
    const client = net.connect({ host: '127.0.0.1', port: server.port, noDelay: true });
    t.teardown(() => client.destroy());
    client.pause();
    await once(client, 'connect');
    const rssBefore = process.memoryUsage().rss;
    const get = Buffer.concat([u8(3), str('/big')]);
    client.write(Buffer.concat([VALIDATE, ...Array.from({ length: UNREAD_GETS }, () => get)]));
    await new Promise((resolve) => setTimeout(resolve, 500));
    // Answered whole, the batch held 256 MiB of replies in the server (the native one copies each value).
    const grewMiB = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
    t.true(grewMiB < 160, `the process grew by ${grewMiB.toFixed(0)} MiB while the client read nothing`);
    const expected = Array.from({ length: UNREAD_GETS }, () => [u64(MAX_VALUE_BYTES), value]).flat();
    const reader = readExpected(client, expected);
    client.resume();
    await until(() => reader.part === expected.length || reader.mismatch !== '',
      () => `${reader.received} read`);
    t.is(reader.mismatch, '');
    t.is(await store.add('after', 1), 1, 'the server still serves');
    t.is(server.protocolErrors, 0);
  });

  test.serial(`a MULTI_SET that comes to more than MAX_REQUEST_BYTES closes its connection as soon as that ` +
    `much has arrived, naming the size, stores none of it, and nothing else (${kind} server)`, async (t) => {
    const server = await listen({ host: '127.0.0.1' });
    t.teardown(() => server.close());
    const store = await TCPStore.create({ host: '127.0.0.1', port: server.port, timeoutMs: 10_000 });
    t.teardown(() => store.close());
    const c = await raw(server.port);
    t.teardown(() => c.socket.destroy());
    const value = Buffer.alloc(MAX_VALUE_BYTES, 0x6d);
    const pairs = Math.floor(MAX_REQUEST_BYTES / (20 + MAX_VALUE_BYTES)) + 2; // 129: just past 1 GiB
    c.send(Buffer.concat([VALIDATE, u8(11), u64(pairs)]));
    let pair = 0;
    for (; pair < pairs && !c.socket.closed; pair++) {
      c.send(Buffer.concat([str(`/m${String(pair).padStart(2, '0')}`.slice(0, 4)), u64(MAX_VALUE_BYTES)]));
      if (!c.socket.write(value)) await sent(c.socket);
    }
    t.true(await c.closed(10_000), `the connection stayed open after ${pair} of ${pairs} pairs`);
    t.is(server.protocolErrors, 1);
    const refused = new RegExp(`^request of at least (\\d+) bytes \\(at most ${MAX_REQUEST_BYTES}\\)$`);
    t.regex(server.lastProtocolError, refused);
    const at = Number(refused.exec(server.lastProtocolError)?.[1]);
    const pairBytes = 20 + MAX_VALUE_BYTES; // one key of 4 bytes and one value, with their lengths
    t.true(at > MAX_REQUEST_BYTES && at <= MAX_REQUEST_BYTES + 2 * pairBytes, `refused at ${at} bytes`);
    t.is(await store.numKeys(), 0, 'none of it was stored');
    t.is(await store.add('after', 1), 1, 'the server still serves');
  });

  test.serial(`a MULTI_GET whose values come to more than MAX_REPLY_BYTES closes its connection, naming ` +
    `the size, and nothing else (${kind} server)`, async (t) => {
    const server = await listen({ host: '127.0.0.1' });
    t.teardown(() => server.close());
    const store = await TCPStore.create({ host: '127.0.0.1', port: server.port, timeoutMs: 10_000 });
    t.teardown(() => store.close());
    await store.set('big', Buffer.alloc(MAX_VALUE_BYTES));
    t.is((await store.get('big')).length, MAX_VALUE_BYTES); // a SET has no reply: wait for it here
    const copies = Math.floor(MAX_REPLY_BYTES / (8 + MAX_VALUE_BYTES)) + 1; // 128: just past 1 GiB
    const c = await raw(server.port);
    const keys = Array.from({ length: copies }, () => str('/big'));
    c.send(Buffer.concat([VALIDATE, u8(10), u64(copies), ...keys]));
    await c.closed(10_000);
    t.is(server.protocolErrors, 1);
    const reply = copies * (8 + MAX_VALUE_BYTES);
    t.is(server.lastProtocolError, `MULTI_GET reply of ${reply} bytes (at most ${MAX_REPLY_BYTES})`);
    t.is(await store.add('after', 1), 1, 'the server still serves');
  });
}

/** A store server in a child process (fixtures/store-server-child.ts), killed when the test ends. */
interface ServerChild {
  readonly child: ChildProcess;
  /** Its port; NaN when its first line was not "port N" (then `first` says what came). */
  readonly port: number;
  readonly first: string;
  /** The next line it prints. */
  line(): Promise<string>;
  /** What it wrote to stderr so far. */
  stderr(): string;
}

/** Starts the server child; `prefix`: a command that runs node (`prlimit --nofile=N`); `args`: the fixture's. */
async function serverChild(
  t: ExecutionContext, prefix: readonly string[] = [], args: readonly string[] = [],
): Promise<ServerChild> {
  const fixture = new URL('../fixtures/store-server-child.js', import.meta.url).pathname;
  const argv = [...prefix, process.execPath, fixture, ...args];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  t.teardown(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const line = async (): Promise<string> => String((await lines.next()).value);
  const first = await line();
  return { child, port: Number(/^port (\d+)$/.exec(first)?.[1]), first, line, stderr: () => stderr };
}

/** Address space the server's process may map past what it has when the limit is set. */
const HEADROOM_BYTES = 64 * 1024 * 1024;
/** Each hog connection sends a SET whose 8 MiB value never completes: the server holds it all. */
const HOG_VALUE_BYTES = MAX_VALUE_BYTES;
/** Past this many hogs (512 MiB held) with none refused, the limit did not bite: the test fails. */
const MAX_HOGS = 64;

/** A process's mapped address space (VmSize), in bytes. */
function addressSpace(pid: number): number {
  const kib = /^VmSize:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (kib === undefined) throw new Error(`no VmSize in /proc/${pid}/status`);
  return Number(kib) * 1024;
}

/** Sets the soft RLIMIT_AS of process `pid` (util-linux prlimit); `unlimited` lifts it again. */
function limitAddressSpace(pid: number, bytes: number | 'unlimited'): void {
  try {
    execFileSync('prlimit', [`--pid=${pid}`, `--as=${bytes}:`], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    throw new Error(`prlimit --pid=${pid} --as=${bytes}: failed (this test needs util-linux's prlimit on PATH): `
      + `${(error as Error).message}`, { cause: error });
  }
}

/** A client that connects and sends a SET of HOG_VALUE_BYTES, all but its last byte. */
function hog(port: number, i: number): net.Socket {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => {}); // reset by the server that refuses it: seen as 'close'
  socket.write(Buffer.concat([VALIDATE, u8(1), str(`/hog${i}`), u64(HOG_VALUE_BYTES)]));
  socket.write(Buffer.alloc(HOG_VALUE_BYTES - 1, 0x68));
  return socket;
}

/** Resolves once `socket` has handed all it was given to the kernel, or has closed (a reset included). */
async function sent(socket: net.Socket): Promise<void> {
  while (socket.writableLength > 0 && !socket.closed) {
    await new Promise<void>((resolve) => {
      const done = (): void => {
        socket.off('drain', done).off('close', done);
        resolve();
      };
      socket.on('drain', done).on('close', done);
    });
  }
}

test.serial('memory that runs out as the native server receives closes only the connection that needed it, ' +
  'naming why, and the server serves another client (native server, in a process of its own under an ' +
  'address-space limit)', async (t) => {
  const { child, port, line, stderr } = await serverChild(t);
  const ended = (): string => (child.exitCode === null && child.signalCode === null ? '' :
    `the server's process ended (${child.signalCode ?? `code ${child.exitCode}`}): ${stderr().trim()}`);

  const healthy = await raw(port);
  t.teardown(() => healthy.socket.destroy());
  healthy.send(Buffer.concat([VALIDATE, u8(4), str('/n'), i64(1)]));
  t.deepEqual(await healthy.read(8), i64(1));

  // From here the server's allocations fail past HEADROOM_BYTES (and what its allocator has in hand):
  // each hog makes it hold 8 MiB more, in that connection's input buffer, until one cannot grow.
  limitAddressSpace(child.pid!, addressSpace(child.pid!) + HEADROOM_BYTES);
  const hogs: net.Socket[] = [];
  t.teardown(() => hogs.forEach((h) => h.destroy()));
  const refused = (): net.Socket | undefined => hogs.find((h) => h.closed);
  for (let i = 0; i < MAX_HOGS && !refused() && !ended(); i++) {
    hogs.push(hog(port, i));
    await sent(hogs[i]!);
  }
  await new Promise((resolve) => setTimeout(resolve, 200)); // a process that aborts has done so by now
  if (ended()) return t.fail(ended());
  limitAddressSpace(child.pid!, 'unlimited');
  t.truthy(refused(), `no hog refused after ${hogs.length} (${hogs.length * 8} MiB)`);
  const open = hogs.filter((h) => !h.closed).length;
  t.true(open > 0, 'every hog was refused: the limit bit before the server held any of them');

  healthy.send(Buffer.concat([u8(4), str('/n'), i64(1)]));
  t.deepEqual(await healthy.read(16), Buffer.concat([i64(1), i64(2)]), 'the healthy client is served');
  child.stdin!.write('stats\n');
  const stats = JSON.parse(await line()) as { protocolErrors: number; lastProtocolError: string };
  t.true(stats.protocolErrors >= 1, JSON.stringify(stats));
  t.regex(stats.lastProtocolError, /^out of memory /, JSON.stringify(stats));
  t.log(`${hogs.length} hogs, ${hogs.length - open} refused; ${JSON.stringify(stats)}`);
  child.stdin!.end('close\n');
  await once(child, 'exit');
});

/** What the JS-thread set test stores: more than the address-space headroom, so its copy cannot be made. */
const JS_SET_BYTES = 4 * HEADROOM_BYTES;

test.serial('memory that runs out as the native server stores a value set from its JS thread fails that ' +
  'call with a StoreError naming the size, and the server goes on (a process of its own under an ' +
  'address-space limit)', async (t) => {
  const { child, port, line, stderr } = await serverChild(t);
  child.stdin!.write(`hold ${JS_SET_BYTES}\n`);
  t.is(await line(), 'held');
  limitAddressSpace(child.pid!, addressSpace(child.pid!) + HEADROOM_BYTES);
  child.stdin!.write('set\n');
  const failed = await line();
  limitAddressSpace(child.pid!, 'unlimited');
  const expected = `the native TCPStore server ran out of memory storing a value of ${JS_SET_BYTES} bytes`;
  t.is(failed, `set failed: StoreError: ${expected}`, `the server's process said: ${failed} ${stderr()}`);
  const client = await raw(port);
  t.teardown(() => client.socket.destroy());
  client.send(Buffer.concat([VALIDATE, u8(5), u64(1), str('/big')])); // CHECK: nothing was stored
  t.deepEqual(await client.read(1), u8(1), 'CHECK /big says not ready (1): the failed set stored nothing');
  child.stdin!.write('set\n');
  t.is(await line(), 'set ok', 'with the limit lifted the same set succeeds');
  client.send(Buffer.concat([u8(5), u64(1), str('/big')]));
  t.deepEqual(await client.read(2), Buffer.concat([u8(1), u8(0)]), 'then CHECK /big says ready (0)');
  child.stdin!.end('close\n');
  await once(child, 'exit');
});

/** Sets the soft RLIMIT_NOFILE of process `pid` (util-linux prlimit). */
function limitDescriptors(pid: number, soft: number): void {
  try {
    execFileSync('prlimit', [`--pid=${pid}`, `--nofile=${soft}:`], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    throw new Error(`prlimit --pid=${pid} --nofile=${soft}: failed (this test needs util-linux's prlimit ` +
      `on PATH): ${(error as Error).message}`, { cause: error });
  }
}

/** CPU time (user + system) that process `pid` has used, in clock ticks (/proc/PID/stat fields 14 and 15). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** Seconds of CPU that process `pid` uses in the next second (/proc counts in USER_HZ, 100 a second on Linux). */
async function cpuOverASecond(pid: number): Promise<number> {
  const before = cpuTicks(pid);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  return (cpuTicks(pid) - before) / 100;
}

/**
 * The RLIMIT_NOFILE that leaves process `pid` exactly `free` more descriptors: a new descriptor takes the
 * lowest free number, and the limit bounds that number (not the count), so the free numbers below it count.
 */
function limitLeaving(pid: number, free: number): number {
  const used = new Set(readdirSync(`/proc/${pid}/fd`).map(Number));
  let limit = 0;
  for (let left = free; left > 0; limit++) if (!used.has(limit)) left--;
  return limit;
}

/** Clients the descriptor test connects past the server's limit. */
const PAST_LIMIT_CLIENTS = 3;

for (const kind of ['native', 'js'] as const) {
  test.serial(`out of file descriptors, the ${kind} server closes each client it cannot take at once, spins ` +
    'no core, and takes clients again once descriptors are free (a process of its own under RLIMIT_NOFILE)',
  async (t) => {
    const { child, port, line } = await serverChild(t, [], kind === 'js' ? ['--js'] : []);
    const healthy = await raw(port);
    t.teardown(() => healthy.socket.destroy());
    healthy.send(Buffer.concat([VALIDATE, u8(4), str('/n'), i64(1)]));
    t.deepEqual(await healthy.read(8), i64(1));

    // Room for two more descriptors: two clients are taken, the ones after them find none.
    limitDescriptors(child.pid!, limitLeaving(child.pid!, 2));
    const taken = [await raw(port), await raw(port)];
    t.teardown(() => taken.forEach((c) => c.socket.destroy()));
    for (const c of taken) {
      c.send(Buffer.concat([VALIDATE, u8(4), str('/n'), i64(1)]));
      t.is((await c.read(8, 10_000)).length, 8, 'a client within the limit is served');
    }
    const past: Raw[] = [];
    t.teardown(() => past.forEach((c) => c.socket.destroy()));
    for (let i = 0; i < PAST_LIMIT_CLIENTS; i++) {
      past.push(await raw(port)); // the kernel completes the handshake; the server has no descriptor for it
      t.true(await past[i]!.closed(10_000), `client ${i} past the limit was left waiting instead of closed`);
    }
    // Nothing pending now: a server that spins on a listening socket it cannot accept from burns a core here.
    const spent = await cpuOverASecond(child.pid!);
    t.true(spent < 0.3, `the server's process used ${spent} s of CPU in 1 s with nothing to do`);

    if (kind === 'native') { // Node's server (libuv) refuses such clients the same way, and says nothing
      child.stdin!.write('stats\n');
      const stats = JSON.parse(await line()) as { protocolErrors: number; lastProtocolError: string };
      t.true(stats.protocolErrors >= PAST_LIMIT_CLIENTS, JSON.stringify(stats));
      t.regex(stats.lastProtocolError, /^too many open files/, JSON.stringify(stats));
    }

    limitDescriptors(child.pid!, limitLeaving(child.pid!, 64));
    const later = await raw(port);
    t.teardown(() => later.socket.destroy());
    later.send(Buffer.concat([VALIDATE, u8(4), str('/n'), i64(1)]));
    t.deepEqual(await later.read(8, 10_000), i64(4), 'a client after the limit was lifted is served');
    healthy.send(Buffer.concat([u8(4), str('/n'), i64(1)]));
    t.deepEqual(await healthy.read(16), Buffer.concat([i64(1), i64(5)]), 'the first client is still served');
    child.stdin!.end('close\n');
    await once(child, 'exit');
  });
}

test.serial('with no descriptor even in reserve, the native server stops watching its listening socket, spins ' +
  'no core, and takes the waiting client once descriptors are free', async (t) => {
  const limited = ['prlimit', '--nofile=128:'];
  const { child, port, first, line, stderr } = await serverChild(t, limited, ['--exhaust-descriptors']);
  if (!(port > 0)) return t.fail(`the server did not start: ${first} ${stderr()}`);
  const waiting = await raw(port); // in the listen queue: the server has no descriptor to take it with
  t.teardown(() => waiting.socket.destroy());
  waiting.send(Buffer.concat([VALIDATE, u8(4), str('/n'), i64(1)]));
  t.false(await waiting.closed(300), 'with no reserve there is nothing to refuse the client with: it waits');
  const spent = await cpuOverASecond(child.pid!);
  t.true(spent < 0.3, `the server's process used ${spent} s of CPU in 1 s with a client it cannot take`);
  child.stdin!.write('free\n');
  t.is(await line(), 'freed');
  t.deepEqual(await waiting.read(8, 10_000), i64(1), 'the waiting client is served once there are descriptors');
  child.stdin!.end('close\n');
  await once(child, 'exit');
});

/**
 * The server at the byte level: frames laid out as torch's client lays them out (TCPStore.cpp /
 * TCPStoreLibUvBackend.cpp), in both dialects, and what it does with frames that break the rules.
 */
import test from 'ava';
import type { StoreServer } from '../../src/store/server.js';
import { MAX_KEYS, MAX_KEY_BYTES, MAX_VALUE_BYTES } from '../../src/store/protocol.js';
import { VALIDATE, i64, raw, str, u32, u64, u8, type Raw } from './raw.js';
import { STORE_SERVERS } from './servers.js';

/** Sends `bytes` in writes of `piece` bytes, so that the server reads them in many parts. */
function sendInPieces(c: Raw, bytes: Buffer, piece: number): void {
  for (let at = 0; at < bytes.length; at += piece) c.send(bytes.subarray(at, Math.min(bytes.length, at + piece)));
}

for (const [kind, listen] of STORE_SERVERS) {
  async function server(t: import('ava').ExecutionContext): Promise<StoreServer> {
    const s = await listen({ host: '127.0.0.1' });
    t.teardown(() => s.close());
    return s;
  }

  test(`current dialect, byte for byte: VALIDATE, PING and every query type (${kind} server)`, async (t) => {
    const s = await server(t);
    const c = await raw(s.port);
    c.send(Buffer.concat([
      VALIDATE, u8(13), u32(0xdeadbeef), // PING -> nonce
      u8(1), str('/k'), str('v1'), // SET
      u8(3), str('/k'), // GET -> bytes
      u8(3), str('/none'), // GET of a missing key -> empty
      u8(4), str('/n'), i64(-5n), // ADD -> i64
      u8(2), str('/k'), str('v1'), str('v2'), // COMPARE_SET -> bytes
      u8(5), u64(2), str('/k'), str('/n'), // CHECK -> READY 0
      u8(5), u64(1), str('/zz'), // CHECK -> NOT_READY 1
      u8(6), u64(1), str('/k'), // WAIT (ready) -> STOP_WAITING 0
      u8(7), // GETNUMKEYS -> i64
      u8(9), str('/k'), str('+'), // APPEND
      u8(11), u64(2), str('/m1'), str('a'), str('/m2'), str('b'), // MULTI_SET
      u8(10), u64(3), str('/m1'), str('/k'), str('/nope'), // MULTI_GET -> 3 x bytes
      u8(8), str('/m1'), u8(8), str('/m1'), // DELETE_KEY -> 1, 0
      u8(12), // CANCEL_WAIT with no wait -> WAIT_CANCELED 1
      u8(14), str('q'), str('x'), u8(14), str('q'), str('y'), // QUEUE_PUSH x2
      u8(16), str('q'), // QUEUE_LEN -> 2
      u8(15), str('q'), u8(15), str('q'), u8(15), str('q'), // QUEUE_POP -> (2, x), (1, y), (0)
    ]));
    const expected = Buffer.concat([
      u32(0xdeadbeef), str('v1'), str(''), i64(-5n), str('v2'), u8(0), u8(1), u8(0), i64(2n),
      str('a'), str('v2+'), str(''), i64(1n), i64(0n), u8(1), i64(2n),
      i64(2n), str('x'), i64(1n), str('y'), i64(0n),
    ]);
    t.deepEqual(await c.read(expected.length), expected);
    t.is(Buffer.from(s.value('/n')!).toString(), '-5');
    // a WAIT that has to wait: the reply comes when another connection sets the key
    c.send(Buffer.concat([u8(6), u64(2), str('/w1'), str('/w2')]));
    const other = await raw(s.port);
    other.send(Buffer.concat([VALIDATE, u8(1), str('/w1'), str('1'), u8(4), str('/w2'), i64(1)]));
    t.deepEqual(await other.read(8), i64(1));
    t.deepEqual((await c.read(expected.length + 1)).subarray(expected.length), u8(0));
    // cancelled: WAIT_CANCELED only
    c.send(Buffer.concat([u8(6), u64(1), str('/never'), u8(12)]));
    t.deepEqual((await c.read(expected.length + 2)).subarray(expected.length + 1), u8(1));
    c.socket.destroy();
    other.socket.destroy();
  });

  test(`torch 1.13 dialect, byte for byte (SET is 0, no VALIDATE, no PING) (${kind} server)`, async (t) => {
    const s = await server(t);
    const c = await raw(s.port);
    c.send(Buffer.concat([
      u8(0), str('/k'), str('v'), // SET
      u8(2), str('/k'), // GET
      u8(3), str('init/'), i64(1), // ADD
      u8(1), str('/k'), str('v'), str('w'), // COMPARE_SET
      u8(4), u64(1), str('/k'), // CHECK
      u8(5), u64(1), str('/k'), // WAIT
      u8(6), // GETNUMKEYS
      u8(8), str('/k'), // DELETE_KEY
      u8(9), str('/a'), str('x'), u8(10), u64(1), str('/a'), // 2.0's APPEND, MULTI_GET
    ]));
    const expected = Buffer.concat([str('v'), i64(1), str('w'), u8(0), u8(0), i64(2), i64(1), str('x')]);
    t.deepEqual(await c.read(expected.length), expected);
    c.send(Buffer.concat([u8(7), str('/k')])); // WATCH_KEY: not served
    t.true(await c.closed());
    t.regex(s.lastProtocolError, /WATCH_KEY/);
    const ping = await raw(s.port);
    ping.send(Buffer.concat([u8(13), u32(1)])); // a 1.13 client has no PING
    t.true(await ping.closed());
  });

  test(`over the limits, unknown queries, a bad counter, foreign bytes: that connection closes, ` +
    `nothing else (${kind} server)`, async (t) => {
    const s = await server(t);
    const healthy = await raw(s.port);
    healthy.send(VALIDATE);
    const cases: [string, Buffer, RegExp][] = [
      ['key over 8 KiB', Buffer.concat([VALIDATE, u8(1), u64(MAX_KEY_BYTES + 1)]), /key of 8193 bytes/],
      [
        'value over 8 MiB', Buffer.concat([VALIDATE, u8(1), str('/k'), u64(MAX_VALUE_BYTES + 1)]),
        /value of 8388609 bytes/,
      ],
      ['too many keys', Buffer.concat([VALIDATE, u8(5), u64(MAX_KEYS + 1)]), /131073 keys/],
      ['absurd length', Buffer.concat([VALIDATE, u8(3), u64(2n ** 63n)]), /key of Infinity bytes/],
      ['unknown query', Buffer.concat([VALIDATE, u8(99)]), /unknown query type 99 \(current/],
      ['VALIDATE twice', Buffer.concat([VALIDATE, VALIDATE]), /unknown query type 0/],
      [
        'bad counter',
        Buffer.concat([VALIDATE, u8(1), str('/word'), str('abc'), u8(4), str('/word'), i64(1)]),
        /not an integer counter/,
      ],
      ['foreign bytes (HTTP)', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), /unknown query type|key of/],
    ];
    for (const [name, bytes, reason] of cases) {
      const c = await raw(s.port);
      c.send(bytes);
      t.true(await c.closed(), name);
      t.regex(s.lastProtocolError, reason, name);
    }
    healthy.send(Buffer.concat([u8(4), str('/alive'), i64(1)]));
    t.deepEqual(await healthy.read(8), i64(1));
    t.is(s.protocolErrors, cases.length);
  });

  test(`a key over the limit arriving in pieces; a value of exactly 8 MiB in pieces is taken whole ` +
    `(${kind} server)`, async (t) => {
    const s = await server(t);
    const c = await raw(s.port);
    const value = Buffer.alloc(MAX_VALUE_BYTES, 0x61);
    const frame = Buffer.concat([VALIDATE, u8(1), str('/big'), str(value), u8(7)]);
    sendInPieces(c, frame, 1 << 16);
    t.deepEqual(await c.read(8, 10_000), i64(1));
    t.is(s.value('/big')!.length, MAX_VALUE_BYTES);
  });

  test(`a MULTI_SET arriving in pieces stores every value exactly once it is whole, and nothing before ` +
    `(${kind} server)`, async (t) => {
    const s = await server(t);
    const c = await raw(s.port);
    const values = Array.from({ length: 6 }, (_, i) => Buffer.alloc((1 << 20) + i * 4099, 0x41 + i));
    values.forEach((v, i) => (v[v.length - 1] = 0x30 + i)); // each ends apart from its fill
    const pairs = values.map((v, i) => Buffer.concat([str(`/ms${i}`), str(v)]));
    const frame = Buffer.concat([VALIDATE, u8(11), u64(values.length), ...pairs, u8(7)]); // then GETNUMKEYS
    const cut = frame.length - 1 - 1000;
    sendInPieces(c, frame.subarray(0, cut), 1 << 16);
    t.false(await c.closed(300)); // nothing to say yet, nothing stored
    t.is(s.value('/ms0'), undefined, 'a value stored before the request was whole');
    c.send(frame.subarray(cut));
    t.deepEqual(await c.read(8, 10_000), i64(values.length));
    values.forEach((v, i) => t.true(Buffer.from(s.value(`/ms${i}`) ?? []).equals(v), `/ms${i}`));
  });

  test(`a MULTI_GET of 3 000 keys in pieces answers every key in order (${kind} server)`, async (t) => {
    const s = await server(t);
    const c = await raw(s.port);
    const names = ['/a', '/bb', '/ccc'];
    c.send(Buffer.concat([VALIDATE, u8(11), u64(3), ...names.flatMap((k) => [str(k), str(`v${k}`)])]));
    const asked = Array.from({ length: 3000 }, (_, i) => names[(i * 7) % 3]!);
    const frame = Buffer.concat([u8(10), u64(asked.length), ...asked.map((k) => str(k))]);
    sendInPieces(c, frame, 1000);
    const expected = Buffer.concat(asked.map((k) => str(`v${k}`)));
    t.true((await c.read(expected.length, 10_000)).equals(expected));
  });

  test(`a WAIT while one is pending replaces it (torch 1.13 gives up on waits without cancelling) ` +
    `(${kind} server)`, async (t) => {
    const s = await server(t);
    const c = await raw(s.port);
    c.send(Buffer.concat([VALIDATE, u8(6), u64(1), str('/first'), u8(6), u64(1), str('/second')]));
    await new Promise((resolve) => setTimeout(resolve, 50));
    s.setValue('/first', new Uint8Array(1)); // the abandoned wait: no reply
    s.setValue('/second', new Uint8Array(1));
    t.deepEqual(await c.read(1), u8(0));
    c.send(Buffer.concat([u8(7)]));
    t.deepEqual((await c.read(9)).subarray(1), i64(2)); // exactly one STOP_WAITING came before
    c.socket.destroy();
  });

  test(`a WAIT released by a SET later in the same write answers after the replies sent before it ` +
    `(${kind} server)`, async (t) => {
    const s = await server(t);
    const c = await raw(s.port);
    s.setValue('/a', Buffer.from('xy'));
    // GET /a, WAIT on /k (pending), SET /k (releases it), GET /k: in one write
    c.send(Buffer.concat([
      VALIDATE, u8(3), str('/a'), u8(6), u64(1), str('/k'), u8(1), str('/k'), str('v'), u8(3), str('/k'),
    ]));
    const replies = [u64(2), Buffer.from('xy'), u8(0), u64(1), Buffer.from('v')]; // STOP_WAITING is the 0
    t.deepEqual(await c.read(8 + 2 + 1 + 8 + 1), Buffer.concat(replies));
    c.socket.destroy();
  });
}

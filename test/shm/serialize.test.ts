import v8 from 'node:v8';
import test from 'ava';
import { ErrorCodes, MultirankError } from '../../src/errors.js';
import { DEPTH_MAX, DefaultCodec, FORMAT_FAST, FORMAT_V8, OUT_OF_BAND_MIN_BYTES, allocateBuffer } from '../../src/shm/serialize.js';
import { fuzzValue, mulberry32, randomInt } from './fixtures/plan.js';

/** The reference: Node's own v8 round trip (keeps Buffer as Buffer, as ours does; structuredClone would not). */
const reference = (value: unknown): unknown => v8.deserialize(v8.serialize(value));

/** Encodes, then decodes as a reader would: `main` copied, each out-of-band range copied into a fresh buffer. */
function roundTrip(codec: DefaultCodec, value: unknown): { out: unknown; format: number; buffers: number } {
  const { main, buffers } = codec.encode(value);
  const copies = buffers.map((b) => {
    const copy = allocateBuffer(b.byteLength);
    copy.set(b);
    return copy;
  });
  const mainCopy = new Uint8Array(main); // a copy (Buffer.slice would alias)
  const out = codec.decode(mainCopy, copies);
  mainCopy.fill(0xee); // the decoded value must not keep views of `main`
  return { out, format: main[0]!, buffers: buffers.length };
}

const big = OUT_OF_BAND_MIN_BYTES;
const samples: Array<[string, unknown, number]> = [
  ['small object', { a: 1, b: 'x', c: [1, 2, 3] }, FORMAT_FAST],
  ['scalars', [undefined, null, true, false, 0, -0, 1.5, -7, 2 ** 31, -(2 ** 31), NaN, Infinity, -Infinity], FORMAT_FAST],
  ['bigints', [0n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n, -(3n ** 90n)], FORMAT_FAST],
  ['strings', ['', 'ascii', 'é', 'snow ☃ and 😀', 'x'.repeat(10_000), 'é'.repeat(100)], FORMAT_FAST],
  ['__proto__ key', JSON.parse('{"__proto__": {"x": 1}, "y": 2}'), FORMAT_FAST],
  ['null prototype', Object.assign(Object.create(null), { k: 1 }), FORMAT_FAST],
  ['small typed arrays', [new Int8Array([-1, 2]), new Uint8ClampedArray([300]), new Int16Array([-3]), new Uint16Array([9]),
    new Uint32Array([2 ** 32 - 1]), new Float32Array([0.5]), new BigUint64Array([2n ** 64n - 1n]), new DataView(new ArrayBuffer(3)),
    Buffer.from('buf')], FORMAT_FAST],
  ['large typed arrays', { f: new Float64Array(big).fill(1.25), i: new BigInt64Array(big >> 3).fill(-5n), b: Buffer.alloc(big, 7) }, FORMAT_FAST],
  ['subarray (only its bytes)', new Int32Array([1, 2, 3, 4, 5, 6]).subarray(1, 4), FORMAT_FAST],
  ['Map and Set', { m: new Map<unknown, unknown>([[1, { a: 2 }]]), s: new Set(['x']) }, FORMAT_V8],
  ['Date, RegExp, Error', [new Date(1234), /ab+c/gi, new RangeError('boom')], FORMAT_V8],
  ['v8 path with a large array', { d: new Date(0), a: new Float32Array(big).fill(3) }, FORMAT_V8],
  ['lone surrogate', 'a\ud800b', FORMAT_V8],
];

for (const [name, value, format] of samples) {
  test(`round trip equals v8.deserialize(v8.serialize()): ${name}`, (t) => {
    const { out, format: used } = roundTrip(new DefaultCodec(), value);
    t.deepEqual(out, reference(value));
    t.is(used, format);
  });
}

test('large typed arrays travel out of band and own their memory', (t) => {
  const value = { a: new Float32Array(big / 4).fill(2), small: new Float32Array(4).fill(3), b: new Uint8Array(big + 1) };
  const codec = new DefaultCodec();
  const { buffers } = codec.encode(value);
  t.is(buffers.length, 2);
  const { out } = roundTrip(codec, value) as { out: { a: Float32Array; small: Float32Array; b: Uint8Array } };
  for (const array of [out.a, out.small, out.b]) {
    t.is(array.byteOffset, 0);
    t.is(array.buffer.byteLength, array.byteLength, 'each decoded array owns exactly its bytes');
    t.false(array.buffer instanceof SharedArrayBuffer);
  }
  t.is(out.small[3], 3, 'the inline array survived the scratch being overwritten');
});

test('a buffer holds as its type: Buffer stays Buffer, DataView stays DataView', (t) => {
  const { out } = roundTrip(new DefaultCodec(), [Buffer.from('hi'), new DataView(new Uint8Array([1, 2]).buffer)]) as { out: unknown[] };
  t.true(Buffer.isBuffer(out[0]));
  t.true(out[1] instanceof DataView);
});

test('values reachable twice arrive as equal copies (fast path); cycles take the v8 path', (t) => {
  const shared = { n: 1 };
  const { out } = roundTrip(new DefaultCodec(), [shared, shared]) as { out: object[] };
  t.deepEqual(out[0], out[1]);
  const cyclic: { self?: unknown; v: number } = { v: 1 };
  cyclic.self = cyclic;
  const back = roundTrip(new DefaultCodec(), cyclic);
  t.is(back.format, FORMAT_V8);
  const got = back.out as { self: unknown };
  t.is(got.self, got);
});

test('nesting deeper than DEPTH_MAX takes the v8 path and still arrives', (t) => {
  let deep: unknown = 'leaf';
  for (let i = 0; i < DEPTH_MAX + 5; i++) deep = [deep];
  const { out, format } = roundTrip(new DefaultCodec(), deep);
  t.is(format, FORMAT_V8);
  t.deepEqual(out, deep);
});

test('class instances take the v8 path (plain objects, as v8 gives)', (t) => {
  class Point { constructor(public x = 1, public y = 2) {} }
  const { out, format } = roundTrip(new DefaultCodec(), new Point());
  t.is(format, FORMAT_V8);
  t.deepEqual(out, reference(new Point()));
});

test('values that cannot be cloned throw one MultirankError with a code, naming the part that cannot', (t) => {
  const cases: [unknown, RegExp][] = [
    [() => 1, /`value` is a function/], [Symbol('s'), /`value` is a symbol \(s\)/], [{ f() {} }, /`value\.f` is a function \(f\)/],
    [new WeakMap(), /`value` is a WeakMap/], [new Map([['k', [1, Symbol('t')]]]), /`value\.get\("k"\)\[1\]` is a symbol/],
  ];
  for (const [value, where] of cases) {
    const error = t.throws(() => new DefaultCodec().encode(value));
    t.true(error instanceof MultirankError);
    t.is((error as { code?: string }).code, ErrorCodes.NOT_SERIALIZABLE);
    t.regex(error!.message, /structured-clone/);
    t.regex(error!.message, where);
  }
});

test('decode rejects bytes it did not write', (t) => {
  const codec = new DefaultCodec();
  t.is((t.throws(() => codec.decode(Uint8Array.of(0x00), [])) as { code?: string }).code, ErrorCodes.INVALID_ARG_TYPE);
  t.regex(t.throws(() => codec.decode(Uint8Array.of(FORMAT_FAST, 99), []))!.message, /unknown tag/);
  t.regex(t.throws(() => codec.decode(Uint8Array.of(FORMAT_FAST, 4, 1), []))!.message, /truncated/);
});

test('one codec encodes many values in turn (scratch reuse and growth)', (t) => {
  const codec = new DefaultCodec();
  const rng = mulberry32(7);
  for (let i = 0; i < 300; i++) {
    const value = fuzzValue(rng, randomInt(rng, 0, 5000));
    t.deepEqual(roundTrip(codec, value).out, reference(value), `value ${i}`);
  }
});

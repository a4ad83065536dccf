import test from 'ava';
import { FrameAssembler, ackBytes, frameHeader, helloBytes, type RemoteFrame } from '../../src/shm/remote-frame.js';

/** The bytes of one frame as the writer's relay sends them: header, main, buffers. */
function wire(seq: number, main: Uint8Array, buffers: Uint8Array[]): Uint8Array {
  const parts = [frameHeader(seq, main.byteLength, buffers.map((b) => b.byteLength)), main, ...buffers];
  return Buffer.concat(parts);
}

const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);

test('FrameAssembler rebuilds frames from any split of the stream, each part over its own ArrayBuffer', (t) => {
  const sent = [
    { seq: 0, main: bytes(5, 1), buffers: [] },
    { seq: 1, main: bytes(0, 2), buffers: [bytes(0, 3), bytes(3000, 4)] },
    { seq: 2, main: bytes(17, 5), buffers: [bytes(1, 6)] },
    { seq: 0xffffffff, main: bytes(64, 7), buffers: [bytes(70_000, 8), bytes(2, 9), bytes(0, 10)] },
  ];
  const stream = Buffer.concat(sent.map((f) => wire(f.seq, f.main, f.buffers)));
  for (const pieceBytes of [1, 3, 16, 4096, stream.byteLength]) {
    const got: RemoteFrame[] = [];
    const assembler = new FrameAssembler();
    for (let at = 0; at < stream.byteLength; at += pieceBytes) {
      assembler.push(stream.subarray(at, at + pieceBytes), (f) => got.push(f));
    }
    t.is(got.length, sent.length, `pieces of ${pieceBytes}`);
    got.forEach((f, i) => {
      t.is(f.seq, sent[i]!.seq);
      t.deepEqual([...f.main], [...sent[i]!.main]);
      t.deepEqual(f.buffers.map((b) => [...b]), sent[i]!.buffers.map((b) => [...b]));
      for (const part of [f.main, ...f.buffers]) {
        t.true(part.byteOffset === 0 && part.buffer.byteLength === part.byteLength);
      }
    });
  }
});

test('FrameAssembler refuses bytes that are not a frame; hello and ack words are little-endian', (t) => {
  const notFrame = Buffer.concat([helloBytes(7, 1), helloBytes(7, 2)]);
  t.throws(() => new FrameAssembler().push(notFrame, () => t.fail()), { message: /not a MessageQueue frame/ });
  t.deepEqual([...helloBytes(0x01020304, 2)].slice(4), [4, 3, 2, 1, 2, 0, 0, 0]);
  t.deepEqual([...ackBytes(2 ** 32 + 5)], [5, 0, 0, 0]);
});

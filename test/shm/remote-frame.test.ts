import test from 'ava';
import { receiveMessageOnPort } from 'node:worker_threads';
import { FrameAssembler, ackBytes, frameHeader, helloBytes, type RemoteFrame } from '../../src/shm/remote-frame.js';
import { RelayChannel, type RelayOpener, type RelayPlace } from '../../src/shm/relay-channel.js';
import { RemoteQueueReader } from '../../src/shm/remote-reader.js';
import { RemoteReaders } from '../../src/shm/remote-writer.js';
import { DefaultCodec } from '../../src/shm/serialize.js';
import { broadcastMarker, type QueueGroup } from '../../src/shm/queue-group.js';
import { MessageQueue } from '../../src/shm/message-queue.js';
import { QueueWriter } from '../../src/shm/queue-writer.js';

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
  // a frame header, word by word, little-endian: magic "msg1", sequence, main bytes, count, each length
  t.deepEqual([...frameHeader(0x0102, 3, [5, 0x010000])],
    [0x31, 0x67, 0x73, 0x6d, 2, 1, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 5, 0, 0, 0, 0, 0, 1, 0]);
});

/**
 * A stand-in for this process's queue relay (launch/queue-relay.ts): it takes the channel a RemoteReaders
 * or RemoteQueueReader opens, posts relay events to it as the relay does (message first, then the signal
 * word), and reads what the rank end posted.
 */
function fakeRelay(): { opener: RelayOpener; post(event: unknown): void; taken(): unknown[]; end(): void } {
  let place: RelayPlace | undefined;
  return {
    opener: (p) => {
      place = p;
    },
    post(event) {
      place!.port.postMessage(event);
      Atomics.add(place!.signal, 0, 1);
      Atomics.notify(place!.signal, 0);
    },
    taken() {
      const out: unknown[] = [];
      for (let m = receiveMessageOnPort(place!.port); m !== undefined; m = receiveMessageOnPort(place!.port)) {
        out.push(m.message);
      }
      return out;
    },
    end: () => place?.port.close(),
  };
}

const encoded = (value: unknown): { main: Uint8Array; buffers: Uint8Array[] } => {
  const { main, buffers } = new DefaultCodec().encode(value);
  return { main: main.slice(), buffers: buffers.map((b) => b.slice()) };
};

test('RemoteQueueReader: decodes each message in order and acknowledges it; a skipped sequence fails it', (t) => {
  const relay = fakeRelay();
  const reader = new RemoteQueueReader(new RelayChannel(relay.opener, { op: 'connect', host: 'h', port: 1,
    token: 1, reader: 0 }), 0, { timeoutMs: 5_000, writer: 'rank 0', name: 'rank 3' });
  relay.post({ type: 'message', seq: 0, ...encoded({ a: 1 }) });
  t.deepEqual(reader.dequeue(), { a: 1 });
  t.deepEqual(relay.taken(), [{ type: 'ack', bytes: ackBytes(1) }]);
  relay.post({ type: 'message', seq: 2, ...encoded('lost one') });
  const skipped = { code: 'ERR_MULTIRANK_MISMATCH', message: /waiting for message 1 from rank 0: .*message 2/ };
  t.throws(() => reader.dequeue(), skipped);
  t.throws(() => reader.dequeue(), skipped, 'the failure stays');
  t.like(relay.taken(), [{ type: 'close' }]);
  relay.end();
});

test('RemoteQueueReader: the writer closing gives ClosedError; a deadline gives TimeoutError and closes', (t) => {
  const closing = fakeRelay();
  const a = new RemoteQueueReader(new RelayChannel(closing.opener, { op: 'connect', host: 'h', port: 1, token: 1,
    reader: 0 }), 0);
  closing.post({ type: 'closed', why: 'the writer closed the queue' });
  t.throws(() => a.dequeue(), {
    code: 'ERR_MULTIRANK_CLOSED', message: /queue closed \(the writer closed the queue\)/,
  });
  closing.end();
  const quiet = fakeRelay();
  const b = new RemoteQueueReader(new RelayChannel(quiet.opener, { op: 'connect', host: 'h', port: 1, token: 1,
    reader: 2 }), 2, { closeOnTimeout: true });
  t.throws(() => b.dequeue({ timeoutMs: 20 }), { code: 'ERR_MULTIRANK_TIMEOUT', message: /nothing within 20 ms/ });
  t.deepEqual(quiet.taken(), [{ type: 'close' }]);
  quiet.end();
});

/** RemoteReaders over a fake relay with `count` readers, all connected; `window` messages in flight. */
function connectedReaders(
  count: number, window: number,
): { readers: RemoteReaders; relay: ReturnType<typeof fakeRelay> } {
  const relay = fakeRelay();
  const channel = new RelayChannel(relay.opener, { op: 'listen', readers: count, token: 1 });
  const readers = new RemoteReaders(channel, count, window, (k) => `rank ${k + 4}`);
  for (let k = 0; k < count; k++) relay.post({ type: 'connected', reader: k });
  readers.waitConnected(1_000);
  return { readers, relay };
}

test('RemoteReaders: sends within the window, waits for the acknowledgement that opens it, names who lags', (t) => {
  const none = new Uint8Array(0);
  const { readers, relay } = connectedReaders(2, 2);
  readers.send(Uint8Array.of(1, 2, 3), [], 1_000);
  readers.send(none, [Uint8Array.of(9)], 1_000);
  const sent = relay.taken() as { type: string; parts: Uint8Array[] }[];
  t.deepEqual(sent.map((m) => m.parts.map((p) => [...p])), [
    [[...frameHeader(0, 3, [])], [1, 2, 3]],
    [[...frameHeader(1, 0, [1])], [], [9]],
  ]);
  // Message 2 needs both readers past message 0: reader 0's acknowledgement alone does not open it.
  relay.post({ type: 'ack', reader: 0, consumed: 2 });
  t.throws(() => readers.send(none, [], 30), {
    code: 'ERR_MULTIRANK_TIMEOUT',
    message: /send message 2: remote reader rank 5 has not read message 0 within 30 ms/,
  });
  relay.end();
  const second = connectedReaders(2, 2);
  second.readers.send(none, [], 1_000);
  second.readers.send(none, [], 1_000);
  second.relay.post({ type: 'ack', reader: 0, consumed: 1 });
  second.relay.post({ type: 'ack', reader: 1, consumed: 1 });
  second.readers.send(none, [], 1_000);
  t.throws(() => second.readers.drain(30), { code: 'ERR_MULTIRANK_TIMEOUT', message: /draining 3 messages/ });
  second.relay.end();
});

test('RemoteReaders: a lost reader fails the next send at once; one that read everything lets a drain end', (t) => {
  const { readers, relay } = connectedReaders(2, 4);
  readers.send(new Uint8Array(0), [], 1_000);
  relay.post({ type: 'ack', reader: 0, consumed: 1 });
  relay.post({ type: 'ack', reader: 1, consumed: 1 });
  relay.post({ type: 'lost', reader: 1, why: 'its connection closed' });
  readers.drain(1_000);
  const started = performance.now();
  t.throws(() => readers.send(new Uint8Array(0), [], 10_000), {
    code: 'ERR_MULTIRANK_RANK_FAILED', message: /lost remote reader rank 5: its connection closed/,
  });
  t.true(performance.now() - started < 5_000, 'at once, not at the deadline');
  relay.end();
});

test('broadcastMarker names the ring\'s readers by their ranks, also of a queue spanning processes', (t) => {
  const marked: string[] = [];
  const record = { markBlockedOn: (text: string) => marked.push(text), clearBlocked: () => undefined };
  const group = { ranks: [10, 11, 12, 13, 14, 15, 16, 17], groupName: 'world' } as unknown as QueueGroup;
  const stalled = { role: 'writer', chunk: 0, message: 9, waitedMs: 1, text: '', unreadMessage: 7 } as const;
  // Every member but the writer reads the ring: ring reader k is member k, or k + 1 from the writer on.
  broadcastMarker(group, 1, record).mark({ ...stalled, pendingReaders: [0, 1] });
  // Writer 7 in the process of members 4..7: its ring's readers are members 4, 5, 6.
  broadcastMarker(group, 7, record, [4, 5, 6]).mark({ ...stalled, pendingReaders: [0, 2] });
  t.regex(marked[0]!, /waiting for ranks 10, 12 to read message #7$/);
  t.regex(marked[1]!, /waiting for ranks 14, 16 to read message #7$/);
});

/** A queue whose writer has `local` ring readers and remote ones (over a fake relay, all connected). */
function spanningWriter(local: number, remoteCount: number, window: number) {
  const sizes = { nReaders: local, maxChunkBytes: 4096, maxChunks: window };
  const byteLength = MessageQueue.bytesNeeded(sizes);
  const queue = MessageQueue.create({ buffer: new SharedArrayBuffer(byteLength), byteOffset: 0, byteLength }, sizes);
  const { readers, relay } = connectedReaders(remoteCount, window);
  return { queue, relay, writer: new QueueWriter(queue.ring, { timeoutMs: 5_000 }, readers) };
}

test('QueueWriter with remote readers: drain waits for their acknowledgements too; a failed send closes the ring',
  (t) => {
    const a = spanningWriter(0, 1, 2);
    a.writer.enqueue('to the socket only');
    t.throws(() => a.writer.drain({ timeoutMs: 30 }), {
      code: 'ERR_MULTIRANK_TIMEOUT', message: /draining 1 messages/,
    });
    a.relay.end();
    const acked = spanningWriter(0, 1, 2);
    acked.writer.enqueue('to the socket only');
    acked.relay.post({ type: 'ack', reader: 0, consumed: 1 });
    acked.writer.drain({ timeoutMs: 1_000 });
    acked.relay.end();
    // A remote reader lags past the window: the local reader gets ClosedError, not a wait.
    const b = spanningWriter(1, 1, 1);
    const local = b.queue.reader(0, { timeoutMs: 5_000 });
    b.writer.enqueue(0);
    t.is(local.dequeue(), 0);
    t.throws(() => b.writer.enqueue(1, { timeoutMs: 30 }), { code: 'ERR_MULTIRANK_TIMEOUT' });
    t.throws(() => local.dequeue({ timeoutMs: 2_000 }), { code: 'ERR_MULTIRANK_CLOSED' });
    b.relay.end();
  });

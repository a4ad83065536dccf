/**
 * The sockets of MessageQueue remote readers, in a process of a job of several processes (the driver's
 * side of shm/relay-channel.ts; vLLM's remote readers use a zmq XPUB / SUB pair over TCP). A writer's
 * channel gets a listening socket, one per queue, whose address the writer publishes through the job's
 * store; each remote reader's channel connects to it and says hello (queue token, reader index). Frames
 * go out to every connected reader in message order (remote-frame.ts); acknowledgements come back.
 * Everything runs on the driver's event loop, which is free while the ranks run.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { MessagePort } from 'node:worker_threads';
import { ACK_BYTES, FrameAssembler, HELLO_BYTES, HELLO_MAGIC, helloBytes } from '../shm/remote-frame.js';
import type { RelayOpen, RelayPlace } from '../shm/relay-channel.js';
import type { WriterEvent } from '../shm/remote-writer.js';
import type { ReaderEvent } from '../shm/remote-reader.js';

/** What a rank thread posts on a writer's channel (parts: header, main, buffers) or a reader's (ack bytes). */
type RankMessage = { type: 'send'; parts: Uint8Array[] } | { type: 'ack'; bytes: Uint8Array } | { type: 'close' };

/**
 * The address this process is reached at by the others: the local end of a connection to the job's
 * store (the interface that routes to it), or loopback for a job without one.
 */
export function reachableHost(storeAddress: { host: string; port: number } | undefined): Promise<string> {
  if (storeAddress === undefined) return Promise.resolve('127.0.0.1');
  return new Promise((resolve, reject) => {
    const probe = connect(storeAddress.port, storeAddress.host, () => {
      const host = probe.localAddress;
      probe.destroy();
      if (host === undefined) reject(new Error(`no local address towards ${storeAddress.host}:${storeAddress.port}`));
      else resolve(host.startsWith('::ffff:') ? host.slice(7) : host);
    });
    probe.on('error', reject);
  });
}

export class QueueRelay {
  /** The host remote readers reach this process at (the address it reaches the job's store from). */
  readonly #host: () => Promise<string>;
  readonly #closers = new Set<() => void>();
  #hostFound: Promise<string> | undefined;

  constructor(host: () => Promise<string>) {
    this.#host = host;
  }

  /** A rank's new channel (its `port` transferred with it). */
  open(place: RelayPlace): void {
    const { port, signal } = place;
    const post = (event: WriterEvent | ReaderEvent, transfer: ArrayBuffer[] = []): void => {
      port.postMessage(event, transfer);
      Atomics.add(signal, 0, 1);
      Atomics.notify(signal, 0);
    };
    if (place.open.op === 'listen') this.#listen(place.open, port, post);
    else this.#connect(place.open, port, post);
  }

  #hostOnce(): Promise<string> {
    return (this.#hostFound ??= this.#host());
  }

  /** Closes every socket and server (the job ended). */
  close(): void {
    for (const close of [...this.#closers]) close();
    this.#closers.clear();
  }

  #track(port: MessagePort, close: () => void): (message: RankMessage, onMessage: (m: RankMessage) => void) => void {
    let closed = false;
    const end = (): void => {
      if (closed) return;
      closed = true;
      this.#closers.delete(end);
      port.close();
      close();
    };
    this.#closers.add(end);
    port.on('close', end);
    return (message, onMessage) => (message.type === 'close' ? end() : onMessage(message));
  }

  #listen(open: Extract<RelayOpen, { op: 'listen' }>, port: MessagePort, post: (e: WriterEvent) => void): void {
    const readers = new Map<number, Socket>();
    let closing = false;
    const server: Server = createServer((socket) => {
      socket.setNoDelay(true);
      let hello = Buffer.alloc(0);
      let reader = -1;
      let ack: Buffer = Buffer.alloc(0);
      socket.on('data', (data: Buffer) => {
        if (reader < 0) {
          hello = Buffer.concat([hello, data]);
          if (hello.byteLength < HELLO_BYTES) return;
          const index = hello.readUInt32LE(8);
          if (hello.readUInt32LE(0) !== HELLO_MAGIC || hello.readUInt32LE(4) !== open.token >>> 0 ||
            index >= open.readers || readers.has(index)) {
            socket.destroy(); // not a reader of this queue
            return;
          }
          reader = index;
          readers.set(reader, socket);
          post({ type: 'connected', reader });
          data = hello.subarray(HELLO_BYTES);
        }
        // Acknowledgements are cumulative: only the last whole one counts. A copy only for a partial one.
        ack = ack.byteLength === 0 ? data : Buffer.concat([ack, data]);
        const whole = ack.byteLength - (ack.byteLength % ACK_BYTES);
        if (whole === 0) return;
        post({ type: 'ack', reader, consumed: ack.readUInt32LE(whole - ACK_BYTES) });
        ack = ack.subarray(whole);
      });
      socket.on('error', () => undefined); // 'close' follows and says it
      socket.on('close', () => {
        if (reader >= 0 && !closing) post({ type: 'lost', reader, why: 'its connection closed (its process ended?)' });
      });
    });
    const dispatch = this.#track(port, () => {
      closing = true;
      server.close();
      for (const socket of readers.values()) socket.end();
    });
    server.on('error', (error) => post({ type: 'failed', why: error.message }));
    port.on('message', (message: RankMessage) => dispatch(message, (m) => {
      if (m.type !== 'send') return;
      for (const socket of readers.values()) {
        socket.cork();
        for (const part of m.parts) socket.write(part);
        socket.uncork();
      }
    }));
    port.unref();
    this.#hostOnce().then((host) => {
      server.listen(0, host, () => {
        const address = server.address();
        if (address !== null && typeof address === 'object') post({ type: 'listening', host, port: address.port });
      });
    }, (error: Error) => post({ type: 'failed', why: error.message }));
    server.unref();
  }

  #connect(
    open: Extract<RelayOpen, { op: 'connect' }>, port: MessagePort, post: (e: ReaderEvent, t?: ArrayBuffer[]) => void,
  ): void {
    let closing = false;
    const socket = connect(open.port, open.host);
    socket.setNoDelay(true);
    socket.unref();
    const frames = new FrameAssembler();
    socket.on('connect', () => socket.write(helloBytes(open.token, open.reader)));
    socket.on('data', (data: Buffer) => {
      try {
        frames.push(data, (f) => post({ type: 'message', seq: f.seq, main: f.main, buffers: f.buffers },
          [f.main.buffer as ArrayBuffer, ...f.buffers.map((b) => b.buffer as ArrayBuffer)]));
      } catch (error) {
        post({ type: 'closed', why: (error as Error).message });
        socket.destroy();
      }
    });
    let why = 'the writer closed the queue';
    socket.on('error', (error) => {
      why = `connection to the writer at ${open.host}:${open.port} failed: ${error.message}`;
    });
    socket.on('close', () => {
      if (!closing) post({ type: 'closed', why });
    });
    const dispatch = this.#track(port, () => {
      closing = true;
      socket.end(); // after the acknowledgements already written: the writer must see them before the end
    });
    port.on('message', (message: RankMessage) => dispatch(message, (m) => {
      if (m.type === 'ack') socket.write(m.bytes);
    }));
    port.unref();
  }
}

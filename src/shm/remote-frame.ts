/**
 * The socket side of a MessageQueue's remote readers (vLLM's remote readers, which get every message
 * over TCP instead of the shared ring): the bytes on the wire and their reassembly. All words are u32
 * little-endian, whatever the hosts are (the two ends may be different machines).
 *
 *   reader -> writer, once after connecting:  HELLO_MAGIC | queue token | reader index
 *   writer -> reader, per message:            FRAME_MAGIC | sequence | main bytes | n | n lengths |
 *                                             main | n out-of-band buffers
 *   reader -> writer, per message consumed:   messages consumed so far (low 32 bits)
 *
 * The writer sends a message only while every remote reader is fewer than `window` messages behind
 * (the ring's bound on unread messages, kept by the acknowledgements), so a slow reader holds the
 * writer back exactly as a full ring does.
 */
import { FRAME_FIXED_WORDS, FRAME_MAGIC } from './queue-end.js';

export const HELLO_MAGIC = 0x6d716831; // "mqh1"
export const HELLO_BYTES = 12;
export const ACK_BYTES = 4;

/** One message as it arrives: its sequence and the codec's parts, each over its own ArrayBuffer. */
export interface RemoteFrame {
  readonly seq: number;
  readonly main: Uint8Array;
  readonly buffers: Uint8Array[];
}

/** The frame header of a message: its sequence and the byte lengths of its parts. */
export function frameHeader(seq: number, mainBytes: number, lengths: readonly number[]): Uint8Array {
  const header = new Uint8Array(4 * (FRAME_FIXED_WORDS + lengths.length));
  const view = new DataView(header.buffer);
  view.setUint32(0, FRAME_MAGIC, true);
  view.setUint32(4, seq >>> 0, true);
  view.setUint32(8, mainBytes, true);
  view.setUint32(12, lengths.length, true);
  lengths.forEach((n, i) => view.setUint32(4 * (FRAME_FIXED_WORDS + i), n, true));
  return header;
}

export function helloBytes(token: number, readerIndex: number): Uint8Array {
  const hello = new Uint8Array(HELLO_BYTES);
  const view = new DataView(hello.buffer);
  view.setUint32(0, HELLO_MAGIC, true);
  view.setUint32(4, token >>> 0, true);
  view.setUint32(8, readerIndex, true);
  return hello;
}

export function ackBytes(consumed: number): Uint8Array {
  const ack = new Uint8Array(ACK_BYTES);
  new DataView(ack.buffer).setUint32(0, consumed >>> 0, true);
  return ack;
}

/**
 * Reassembles frames from a byte stream delivered in arbitrary pieces. Each part (main, every buffer)
 * is filled straight into a fresh ArrayBuffer of its own, which can be transferred to the reader's
 * thread and kept by the decoded value: no copy beyond the socket's.
 */
export class FrameAssembler {
  #fixed = new Uint8Array(4 * FRAME_FIXED_WORDS);
  #lengths = new Uint8Array(0);
  /** The part being filled: 0 fixed words, 1 lengths, 2 main, 3.. buffer (part - 3). */
  #part = 0;
  #target: Uint8Array = this.#fixed;
  #filled = 0;
  #seq = 0;
  #main = new Uint8Array(0);
  #buffers: Uint8Array[] = [];

  /** Feeds `chunk`; calls `onFrame` for every frame it completes. Throws on bytes that are not a frame. */
  push(chunk: Uint8Array, onFrame: (frame: RemoteFrame) => void): void {
    let at = 0;
    for (;;) {
      const n = Math.min(chunk.byteLength - at, this.#target.byteLength - this.#filled);
      if (n > 0) this.#target.set(chunk.subarray(at, at + n), this.#filled);
      at += n;
      this.#filled += n;
      if (this.#filled < this.#target.byteLength) return;
      const frame = this.#next();
      if (frame !== undefined) onFrame(frame);
      if (at === chunk.byteLength && this.#target.byteLength > 0) return;
    }
  }

  /** The current part is full: move to the next one; returns the frame when it was the last. */
  #next(): RemoteFrame | undefined {
    this.#filled = 0;
    if (this.#part === 0) {
      const view = new DataView(this.#fixed.buffer);
      if (view.getUint32(0, true) !== FRAME_MAGIC) {
        throw new Error(`not a MessageQueue frame (magic ${view.getUint32(0, true)})`);
      }
      this.#seq = view.getUint32(4, true);
      this.#main = new Uint8Array(new ArrayBuffer(view.getUint32(8, true)));
      this.#lengths = new Uint8Array(4 * view.getUint32(12, true));
      this.#buffers = [];
      this.#part = 1;
      this.#target = this.#lengths;
      return undefined;
    }
    if (this.#part === 1) {
      const view = new DataView(this.#lengths.buffer);
      for (let i = 0; i < this.#lengths.byteLength / 4; i++) {
        this.#buffers.push(new Uint8Array(new ArrayBuffer(view.getUint32(4 * i, true))));
      }
      this.#part = 2;
      this.#target = this.#main;
      return undefined;
    }
    const index = this.#part - 2; // the buffer now full: 0 = main, k = buffer k - 1
    if (index < this.#buffers.length) {
      this.#part++;
      this.#target = this.#buffers[index]!;
      return undefined;
    }
    const frame = { seq: this.#seq, main: this.#main, buffers: this.#buffers };
    this.#part = 0;
    this.#target = this.#fixed;
    return frame;
  }
}

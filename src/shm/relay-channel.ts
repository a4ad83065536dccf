/**
 * A rank thread's channel to its process's queue relay (launch/queue-relay.ts), which owns the sockets
 * of a MessageQueue's remote readers: rank code is synchronous (it blocks its thread in a broadcast)
 * while sockets need an event loop, so the relay runs on the process's driver and the rank talks to it
 * over a MessagePort. The rank sleeps in `Atomics.wait` on a shared word until the relay has posted an
 * event, then takes it with `receiveMessageOnPort`, which needs no event loop (as comm/store-link.ts).
 *
 *   signal (Int32Array over a SharedArrayBuffer, 1 word): [0] events posted so far. The relay posts the
 *   event on the port first, then adds 1 and notifies, so a woken rank always finds its event.
 */
import { MessageChannel, receiveMessageOnPort, type MessagePort, type TransferListItem } from 'node:worker_threads';
import { ClosedError } from '../errors.js';
import { throwIfAborted, WAIT_SLICE_MS, type AbortWord } from './wait.js';

/** What the relay is asked to do with a new channel. */
export type RelayOpen =
  | { readonly op: 'listen'; readonly readers: number; readonly token: number }
  | {
    readonly op: 'connect'; readonly host: string; readonly port: number; readonly token: number;
    readonly reader: number;
  };

/** The relay's end of a channel, as sent to it (transfer `port`). */
export interface RelayPlace {
  readonly open: RelayOpen;
  readonly port: MessagePort;
  readonly signal: Int32Array;
}

/** Hands a RelayPlace to this process's relay (the store link's port carries it). */
export type RelayOpener = (place: RelayPlace, transfer: TransferListItem[]) => void;

export class RelayChannel {
  readonly #port: MessagePort;
  readonly #signal: Int32Array;
  #closed = false;

  /** Opens a channel through `opener`: the relay listens or connects as `open` says. */
  constructor(opener: RelayOpener, open: RelayOpen) {
    const { port1, port2 } = new MessageChannel();
    this.#port = port1;
    this.#signal = new Int32Array(new SharedArrayBuffer(4));
    opener({ open, port: port2, signal: this.#signal }, [port2]);
  }

  post(message: unknown, transfer: TransferListItem[] = []): void {
    if (!this.#closed) this.#port.postMessage(message, transfer);
  }

  /**
   * The next event from the relay, waiting until `deadline` (performance.now() ms) at most: undefined
   * when none came by then. Throws the error of a raised abort word meanwhile.
   */
  next<T>(deadline: number, abort: AbortWord | readonly AbortWord[] | undefined): T | undefined {
    if (this.#closed) throw new ClosedError('MessageQueue relay channel: closed');
    let expected = Atomics.load(this.#signal, 0);
    for (;;) {
      const event = receiveMessageOnPort(this.#port);
      if (event !== undefined) return event.message as T;
      throwIfAborted(abort);
      const left = deadline - performance.now();
      if (left <= 0) return undefined;
      Atomics.wait(this.#signal, 0, expected, Math.min(left, WAIT_SLICE_MS));
      expected = Atomics.load(this.#signal, 0);
    }
  }

  /** An event already posted, without waiting. */
  poll<T>(): T | undefined {
    return receiveMessageOnPort(this.#port)?.message as T | undefined;
  }

  /** Tells the relay to close the channel's sockets, and stops using it. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#port.postMessage({ type: 'close' });
    this.#closed = true;
    this.#port.close();
  }
}

/**
 * The rank side of the link to the job's store, in a job of several processes. Rank code is synchronous
 * (a collective blocks its thread) while a TCPStore client is asynchronous, so the rank hands each
 * request to its process's driver (launch/store-proxy.ts) over a MessagePort and sleeps in
 * `Atomics.wait` on a shared word until the reply is posted; it then takes the reply with
 * `receiveMessageOnPort`, which needs no event loop. The wait has the caller's deadline and ends at once
 * when the job's abort word is raised (a rank failed here or in another process).
 *
 *   signal (Int32Array over a SharedArrayBuffer, 1 word): [0] replies posted so far. The driver posts
 *   the reply on the port first, then adds 1 and notifies, so a woken rank always finds its reply.
 *
 * Only the object plane and control of groups that span processes use it (never a collective on a
 * group inside one process).
 */
import { receiveMessageOnPort, type MessagePort, type TransferListItem } from 'node:worker_threads';
import type { RelayPlace } from '../shm/relay-channel.js';
import { TimeoutError } from '../errors.js';
import { throwIfAborted, WAIT_SLICE_MS, type AbortWord } from '../shm/wait.js';

/** What one group member asks of the store (its StatelessProcessGroup in the driver). */
export interface StoreRequest {
  readonly id: number;
  /** The group's key in the store (its members and occurrence) and this member's place in it. */
  readonly group: string;
  readonly rankInGroup: number;
  readonly groupSize: number;
  readonly method: 'broadcast' | 'allGather' | 'send' | 'recv' | 'barrier';
  /** The object, already encoded (node:v8, Tensors boxed), for broadcast / allGather / send. */
  readonly bytes?: Uint8Array | undefined;
  /** The root of a broadcast, the peer of a send or recv (group ranks). */
  readonly peer?: number | undefined;
  readonly timeoutMs: number;
}

/** The driver's answer: the received bytes (one entry per member for allGather), or the error. */
export type StoreReply = StoreAnswer | StoreRefusal;

/** A request that succeeded: the bytes received (broadcast, recv), or every member's (allGather). */
export interface StoreAnswer {
  readonly id: number;
  readonly ok: true;
  readonly bytes?: Uint8Array | undefined;
  readonly all?: Uint8Array[] | undefined;
}

/** A request that failed in the driver: the error's name, message and code, rebuilt in the rank. */
export interface StoreRefusal {
  readonly id: number;
  readonly ok: false;
  readonly name: string;
  readonly message: string;
  readonly code?: string | undefined;
}

/** What a rank task carries to reach its driver's store proxy. */
export interface StoreLinkPlace {
  readonly port: MessagePort;
  readonly signal: Int32Array;
}

export class StoreLink {
  readonly #port: MessagePort;
  readonly #signal: Int32Array;
  readonly #abort: AbortWord;
  #nextId = 0;

  constructor(place: StoreLinkPlace, abort: AbortWord) {
    this.#port = place.port;
    this.#signal = place.signal;
    this.#abort = abort;
  }

  /** Hands a MessageQueue remote-reader channel to the driver's relay (launch/queue-relay.ts). */
  openRelay(place: RelayPlace, transfer: TransferListItem[]): void {
    this.#port.postMessage({ relay: place }, transfer);
  }

  /**
   * Runs `request` in the driver and returns its reply.
   * @throws the job's failure when its abort word is raised meanwhile; TimeoutError after
   *   `request.timeoutMs` (its message begins with `describe()`); the store's own error otherwise.
   */
  call(request: Omit<StoreRequest, 'id'>, describe: () => string): StoreAnswer {
    throwIfAborted(this.#abort);
    const id = ++this.#nextId;
    const seen = Atomics.load(this.#signal, 0);
    this.#port.postMessage({ ...request, id } satisfies StoreRequest);
    const deadline = performance.now() + request.timeoutMs;
    let expected = seen;
    for (;;) {
      const message = receiveMessageOnPort(this.#port);
      if (message !== undefined) {
        const reply = message.message as StoreReply;
        if (reply.id !== id) continue; // the reply of an earlier call this rank gave up on
        if (reply.ok) return reply;
        const error = new Error(reply.message);
        error.name = reply.name;
        if (reply.code !== undefined) Object.assign(error, { code: reply.code });
        throw error;
      }
      throwIfAborted(this.#abort);
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new TimeoutError(`${describe()}: no answer from the job's store within ${request.timeoutMs} ms`);
      }
      Atomics.wait(this.#signal, 0, expected, Math.min(left, WAIT_SLICE_MS));
      expected = Atomics.load(this.#signal, 0);
    }
  }
}

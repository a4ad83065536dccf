/**
 * The driver -> ranks RPC queue (`job.collectiveRpc`): a MessageQueue in the arena that the driver
 * writes and every rank reads, so a call and its arguments cross shared memory once for all ranks
 * (vLLM's collective_rpc over its shm broadcaster). Replies come back over each rank's comlink port.
 */
import type { Arena, ArenaRegion } from '../shm/arena.js';
import {
  MessageQueue, type QueueHandleOptions, type QueueReader, type QueueWriter, type StallReport,
} from '../shm/message-queue.js';
import { STALL_REPORT_MS, type BlockedRecord } from '../shm/queue-end.js';
import { STALL_MS } from '../debug/rank-status.js';
import { POLL_MS } from '../debug/watchdog.js';

/** Chunks of the RPC ring: calls are small; larger arguments stream through. */
export const RPC_CHUNK_BYTES = 256 * 1024;
export const RPC_CHUNKS = 4;

/** A call on the queue. */
export interface RpcRequest {
  id: number;
  method: string;
  args: unknown[];
}

export interface RpcQueue {
  /** The ring's region, which ranks attach to. */
  readonly place: ArenaRegion;
  readonly writer: QueueWriter;
  /**
   * Called every POLL_MS while the driver waits for ranks to free the ring (a call larger than the ring):
   * that wait blocks the driver's event loop, so the job runs its deadlock watchdog from here.
   */
  whileWaiting: (() => void) | undefined;
  /** Closes the queue and returns its ring to the arena. */
  destroy(): void;
}

export function createRpcQueue(arena: Arena, worldSize: number, options: QueueHandleOptions): RpcQueue {
  const sizes = { nReaders: worldSize, maxChunkBytes: RPC_CHUNK_BYTES, maxChunks: RPC_CHUNKS };
  const { queue, region } = MessageQueue.createInArena(arena, sizes);
  const warn = options.onStall ?? ((report: StallReport) => console.warn(report.text));
  const onStall = (report: StallReport): void => {
    rpc.whileWaiting?.();
    // The stall report itself keeps its own pace: once per STALL_REPORT_MS of waiting.
    const reports = (ms: number): number => Math.floor(ms / STALL_REPORT_MS);
    if (reports(report.waitedMs) > reports(report.waitedMs - POLL_MS)) warn(report);
  };
  const rpc: RpcQueue = {
    place: region,
    writer: queue.writer({ ...options, stallMs: POLL_MS, onStall }),
    whileWaiting: undefined,
    destroy: () => {
      queue.close();
      arena.free(region);
    },
  };
  return rpc;
}

/** A rank's reading end: runs queued calls in order, each once, and hands out their results by id. */
export class RpcServer {
  readonly #reader: QueueReader;
  readonly #invoke: (method: string, args: unknown[]) => Promise<unknown>;
  readonly #pending = new Map<number, Promise<unknown>>();
  #lastId = 0;
  /** The call being read (for the rank record while the read waits). */
  #reading = 0;

  /** `record`: this rank's status record, where a long read marks the rank blocked (the watchdog sees it). */
  constructor(
    arena: Arena, place: ArenaRegion, rank: number, options: QueueHandleOptions,
    invoke: (method: string, args: unknown[]) => Promise<unknown>, record?: BlockedRecord,
  ) {
    const marker = record === undefined ? undefined : {
      afterMs: STALL_MS,
      mark: (r: StallReport) => record.markBlockedOn(`collectiveRpc #${this.#reading}: reading the call (message ` +
        `#${r.message}) from the driver, waiting for the driver to write it`),
      clear: () => record.clearBlocked(),
    };
    const queue = MessageQueue.attachInArena(arena, place);
    this.#reader = queue.reader(rank, marker === undefined ? options : { ...options, marker });
    this.#invoke = invoke;
  }

  /** The result of call `id` (the driver enqueued it before asking, so reading it does not block long). */
  async run(id: number): Promise<unknown> {
    while (this.#lastId < id) {
      this.#reading = this.#lastId + 1;
      const request = this.#reader.dequeue() as RpcRequest;
      this.#lastId = request.id;
      const result = this.#invoke(request.method, request.args);
      result.catch(() => undefined); // awaited below by its own caller
      this.#pending.set(request.id, result);
    }
    const result = this.#pending.get(id);
    this.#pending.delete(id);
    return result;
  }
}

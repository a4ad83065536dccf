/**
 * The driver -> ranks RPC queue (`job.collectiveRpc`): a MessageQueue in the arena that the driver
 * writes and every rank reads, so a call and its arguments cross shared memory once for all ranks
 * (vLLM's collective_rpc over its shm broadcaster). Replies come back over each rank's comlink port.
 */
import type { Arena, ArenaRegion } from '../shm/arena.js';
import { MessageQueue, type QueueHandleOptions, type QueueReader, type QueueWriter } from '../shm/message-queue.js';

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
  /** Closes the queue and returns its ring to the arena. */
  destroy(): void;
}

export function createRpcQueue(arena: Arena, worldSize: number, options: QueueHandleOptions): RpcQueue {
  const { queue, region } = MessageQueue.createInArena(arena, { nReaders: worldSize, maxChunkBytes: RPC_CHUNK_BYTES, maxChunks: RPC_CHUNKS });
  return {
    place: region,
    writer: queue.writer(options),
    destroy: () => {
      queue.close();
      arena.free(region);
    },
  };
}

/** A rank's reading end: runs queued calls in order, each once, and hands out their results by id. */
export class RpcServer {
  readonly #reader: QueueReader;
  readonly #invoke: (method: string, args: unknown[]) => Promise<unknown>;
  readonly #pending = new Map<number, Promise<unknown>>();
  #lastId = 0;

  constructor(arena: Arena, place: ArenaRegion, rank: number, options: QueueHandleOptions, invoke: (method: string, args: unknown[]) => Promise<unknown>) {
    this.#reader = MessageQueue.attachInArena(arena, place).reader(rank, options);
    this.#invoke = invoke;
  }

  /** The result of call `id` (the driver enqueued it before asking, so reading it does not block long). */
  async run(id: number): Promise<unknown> {
    while (this.#lastId < id) {
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

/**
 * `MessageQueue`: one writer broadcasts objects to `nReaders` readers through a `ShmRingBuffer`
 * (vLLM's shm_broadcast, on a SharedArrayBuffer with Atomics).
 *
 *   const queue = MessageQueue.create(region, {
 *     nReaders: 3, maxChunkBytes: QUEUE_CHUNK_BYTES, maxChunks: QUEUE_CHUNKS,
 *   });
 *   worker.postMessage(queue.handle);                 // the handle is the region: structured-cloneable
 *   queue.writer().enqueue(obj);                      // writer thread
 *   MessageQueue.attach(handle).reader(i).dequeue();  // reader i's thread; readers attach in any order
 *
 * A message is a byte stream `frame header | main | out-of-band buffers` (see serialize.ts) laid over
 * consecutive chunks: each message starts a fresh chunk (FLAGS has FIRST), fills chunks in turn, and its
 * last chunk has LAST. A message larger than a chunk, or than the whole ring, streams through it: the
 * writer publishes each chunk as soon as it is full and waits for a free one, readers copy each chunk
 * out as soon as it is published. Order is the ring order for every size.
 *
 * Segments (header, main, each out-of-band buffer): each starts at a multiple of SEGMENT_ALIGN_BYTES
 * and chunks carry a multiple of it, so source, ring and destination agree modulo 16 (V8 copies shared
 * memory 8 bytes at a time only when both sides are equally aligned, else byte by byte, 10x slower). A
 * segment that fits in a chunk but not in the rest of the current one starts at the next chunk, so
 * `dequeueWith` can hand out every such buffer as a view of the ring (vLLM's readers likewise unpickle
 * out of the shared chunk). `segmentStart` is the rule; both ends apply it to the same lengths.
 *
 * Frame header, u32 words in host byte order (the threads share one process): [0] FRAME_MAGIC
 * [1] message sequence (low 32 bits) [2] main bytes [3] n = number of out-of-band buffers [4..4+n) their
 * byte lengths. The reader checks the magic and the sequence against its own count (paired assertion
 * with the chunk's MESSAGE and FLAGS words).
 *
 * Every wait goes through `waitFor` (bounded spin, then Atomics.wait slices): it has a timeout, reports
 * a stall every `stallMs` (which readers have not read which chunk, or what the writer is doing), and
 * ends with ClosedError as soon as any thread calls `close()`.
 */
import type { Arena, ArenaRegion } from './arena.js';
import { ShmRingBuffer, type RingSizes, type ShmRegion } from './ring-buffer.js';
import { groupEndOptions, type QueueGroup } from './queue-group.js';
import { invalidType, outOfRange } from '../errors.js';
import { QUEUE_CHUNK_BYTES, QUEUE_CHUNKS, type MessageQueueHandle, type QueueHandleOptions } from './queue-end.js';
import { QueueReader } from './queue-reader.js';
import { QueueWriter } from './queue-writer.js';
import type { RemoteQueueReader } from './remote-reader.js';
import { createSpanningQueue } from './queue-span.js';

export {
  QUEUE_CHUNK_BYTES, QUEUE_CHUNKS, SEGMENT_ALIGN_BYTES, segmentStart,
  type MessageQueueHandle, type QueueCallOptions, type QueueHandleOptions, type StallReport,
} from './queue-end.js';
export { QueueReader } from './queue-reader.js';
export { QueueWriter } from './queue-writer.js';

/** A ring plus the queue protocol. One instance per thread; `writer()` / `reader(i)` give the roles. */
export class MessageQueue {
  readonly ring: ShmRingBuffer;

  /** Region bytes a queue of this shape needs. */
  static bytesNeeded(sizes: RingSizes): number {
    return ShmRingBuffer.bytesNeeded(sizes.nReaders, sizes.maxChunkBytes, sizes.maxChunks);
  }

  /** Formats a queue in `region` (before the region is handed to other threads). */
  static create(region: ShmRegion, sizes: RingSizes): MessageQueue {
    return new MessageQueue(ShmRingBuffer.create(region, sizes));
  }

  /**
   * Collective over `group`: member `writerRank` writes, the others read (vLLM's create_from_process_group).
   * Returns this member's end; `destroy()` closes the queue (and frees the ring on the writer).
   */
  static createFromGroup(
    group: QueueGroup, maxChunkBytes = QUEUE_CHUNK_BYTES, maxChunks = QUEUE_CHUNKS, writerRank = 0,
  ): GroupQueueEnd {
    return createQueueFromGroup(group, maxChunkBytes, maxChunks, writerRank);
  }

  /** A queue in a fresh arena region (tagged `owner`, see `Arena.alloc`); the caller frees the region. */
  static createInArena(arena: Arena, sizes: RingSizes, owner = 0): { queue: MessageQueue; region: ArenaRegion } {
    const byteLength = MessageQueue.bytesNeeded(sizes);
    const region = arena.alloc(byteLength, owner);
    return {
      queue: MessageQueue.create(
        { buffer: arena.buffer(region.byteOffset + byteLength), byteOffset: region.byteOffset, byteLength }, sizes,
      ),
      region,
    };
  }

  /** Attaches, in any thread, to a queue made by `createInArena` in `region`. */
  static attachInArena(arena: Arena, region: ArenaRegion): MessageQueue {
    return MessageQueue.attach({
      buffer: arena.buffer(region.byteOffset + region.byteLength), byteOffset: region.byteOffset,
      byteLength: region.byteLength,
    });
  }

  /** Attaches to a queue made by `create`, from its `handle`, in any thread. */
  static attach(handle: MessageQueueHandle): MessageQueue {
    return new MessageQueue(ShmRingBuffer.attach(handle));
  }

  private constructor(ring: ShmRingBuffer) {
    this.ring = ring;
  }

  /** The structured-cloneable handle that `attach` takes. */
  get handle(): MessageQueueHandle {
    return { ...this.ring.region };
  }

  get nReaders(): number {
    return this.ring.nReaders;
  }

  /** Takes the writer role (once per queue, across threads). */
  writer(options: QueueHandleOptions = {}): QueueWriter {
    return new QueueWriter(this.ring, options);
  }

  /** Takes reader `index` (0..nReaders-1; each once per queue, across threads). */
  reader(index: number, options: QueueHandleOptions = {}): QueueReader {
    return new QueueReader(this.ring, index, options);
  }

  /** Closes the queue for every thread: each waiting or later call throws ClosedError. Idempotent. */
  close(): void {
    this.ring.close();
  }

  get closed(): boolean {
    return this.ring.closed;
  }
}

/** This member's end of a group queue, with the means to close it and free its ring. */
export interface GroupQueueEnd {
  /** The writer's ring; undefined on a reader in another process than the writer's (a remote reader). */
  readonly queue: MessageQueue | undefined;
  readonly end: QueueWriter | QueueReader | RemoteQueueReader;
  /** True on the member that writes (vLLM's `writer_rank`). */
  readonly isWriter: boolean;
  /** vLLM's `enqueue`: the writer sends `obj` to every reader (a reader calling it gets an error). */
  enqueue(obj: unknown): void;
  /** vLLM's `dequeue`: a reader takes the next object (the writer calling it gets an error). */
  dequeue(): unknown;
  /** vLLM's `broadcast_object`: the writer sends `obj` and returns it; a reader returns what was sent. */
  broadcastObject(obj?: unknown): unknown;
  /**
   * The writer waits until every reader consumed every message, then closes the queue and returns the
   * ring to the arena; a reader does nothing (the writer owns the ring's life). When the readers do not
   * drain in time the ring is closed but not freed: a late reader must not read reused memory.
   */
  destroy(): void;
}

/**
 * `MessageQueue.createFromGroup`: one writer and the other members of a group as readers, over a ring in
 * the job's arena (vLLM's `MessageQueue.create_from_process_group`). Collective over the group: the writer
 * allocates and formats the ring, tells the others its place, and every member attaches with its role.
 */
function createQueueFromGroup(
  group: QueueGroup, maxChunkBytes: number, maxChunks: number, writerRank: number,
): GroupQueueEnd {
  if (!Number.isInteger(writerRank) || writerRank < 0 || writerRank >= group.worldSize) {
    throw outOfRange(`\`writerRank\` (${writerRank}) must be a rank of this group (0..${group.worldSize - 1})`);
  }
  if (group.span !== undefined) return createSpanningQueue(group, group.span, maxChunkBytes, maxChunks, writerRank);
  const { arena, owner } = group.queueContext;
  const sizes = { nReaders: group.worldSize - 1, maxChunkBytes, maxChunks };
  const isWriter = group.rankInGroup === writerRank;
  const created = isWriter ? MessageQueue.createInArena(arena, sizes, owner) : undefined;
  const region = created?.region;
  // Every member knows the ring's size; only its place travels.
  const place = group.broadcastOffset(region?.byteOffset ?? 0, writerRank);
  const queue = created?.queue ??
    MessageQueue.attachInArena(arena, { byteOffset: place, byteLength: MessageQueue.bytesNeeded(sizes) });
  const options = groupEndOptions(group, writerRank);
  const readerIndex = group.rankInGroup < writerRank ? group.rankInGroup : group.rankInGroup - 1;
  const end = isWriter ? queue.writer(options) : queue.reader(readerIndex, options);
  return groupQueueEnd(group, writerRank, queue, end, () => {
    if (region === undefined) return;
    try {
      (end as QueueWriter).drain();
    } catch {
      queue.close();
      return;
    }
    queue.close();
    arena.free(region);
  });
}

/**
 * This member's end of a group queue around `end` (queue-span.ts makes them too): `enqueue` on the writer
 * only, `dequeue` on a reader only; `destroy` as given.
 */
export function groupQueueEnd(
  group: QueueGroup, writerRank: number, queue: MessageQueue | undefined,
  end: QueueWriter | QueueReader | RemoteQueueReader, destroy: () => void,
): GroupQueueEnd {
  const isWriter = group.rankInGroup === writerRank;
  const role = (want: 'writer' | 'reader', call: string): void => {
    if (isWriter !== (want === 'writer')) {
      throw invalidType(`${call}()`,
        `a call on the queue's ${want} (group rank ${want === 'writer' ? writerRank : 'other than ' + writerRank})`,
        `a call on group rank ${group.rankInGroup}`);
    }
  };
  const reader = end as QueueReader | RemoteQueueReader;
  return {
    queue, end, isWriter, destroy,
    enqueue: (obj) => {
      role('writer', 'enqueue');
      (end as QueueWriter).enqueue(obj);
    },
    dequeue: () => {
      role('reader', 'dequeue');
      return reader.dequeue();
    },
    broadcastObject: (obj) => (isWriter ? (end as QueueWriter).broadcastObject(obj) : reader.broadcastObject()),
  };
}

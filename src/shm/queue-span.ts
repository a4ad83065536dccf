/**
 * `MessageQueue.createFromGroup` on a group whose members live in several processes (vLLM's
 * create_from_process_group with remote readers): the writer's ring serves the members in the writer's
 * process (its local readers, n_local_reader), and every other member is a remote reader that gets each
 * message over a socket (remote-writer.ts, remote-reader.ts, the sockets in each process's relay). The
 * writer publishes the handle (ring place, socket address, a token naming this queue) through the job's
 * store, as vLLM broadcasts its Handle; then waits until every remote reader has connected.
 */
import { randomInt } from 'node:crypto';
import { groupQueueEnd, MessageQueue, type GroupQueueEnd } from './message-queue.js';
import { groupEndOptions, type QueueGroup, type QueueSpan } from './queue-group.js';
import { QueueWriter } from './queue-writer.js';
import { RelayChannel } from './relay-channel.js';
import { RemoteQueueReader } from './remote-reader.js';
import { RemoteReaders } from './remote-writer.js';

/** What the writer publishes: where its ring is, who reads it, where remote readers connect. */
interface SpanHandle {
  readonly offset: number;
  /** Group ranks of the local readers (ring reader k = localReaders[k]) and of the remote ones. */
  readonly localReaders: readonly number[];
  readonly remoteReaders: readonly number[];
  readonly host: string;
  readonly port: number;
  readonly token: number;
}

export function createSpanningQueue(
  group: QueueGroup, span: QueueSpan, maxChunkBytes: number, maxChunks: number, writerRank: number,
): GroupQueueEnd {
  const { arena, owner, timeoutMs, abort } = group.queueContext;
  const isWriter = group.rankInGroup === writerRank;
  const describe = (member: number): string => span.describeMember(member);
  const readers = group.ranks.map((_, k) => k).filter((k) => k !== writerRank);
  if (isWriter) {
    const localReaders = readers.filter((k) => span.isLocal(k));
    const remoteReaders = readers.filter((k) => !span.isLocal(k));
    // No reader in this process: a ring of one small chunk, which only carries the closed flag.
    const sizes = localReaders.length > 0 ? { nReaders: localReaders.length, maxChunkBytes, maxChunks }
      : { nReaders: 0, maxChunkBytes: 64, maxChunks: 1 };
    const { queue, region } = MessageQueue.createInArena(arena, sizes, owner);
    const token = randomInt(0x1_0000_0000);
    const channel = new RelayChannel(span.openRelay, { op: 'listen', readers: remoteReaders.length, token });
    const remote = new RemoteReaders(channel, remoteReaders.length, maxChunks, (k) => describe(remoteReaders[k]!));
    let end: QueueWriter;
    try {
      const { host, port } = remote.address(timeoutMs, abort);
      const handle: SpanHandle = { offset: region.byteOffset, localReaders, remoteReaders, host, port, token };
      span.shareHandle(handle, writerRank);
      remote.waitConnected(timeoutMs, abort);
      // The ring's readers are the writer's process's members only: the deadlock report names them so.
      end = new QueueWriter(queue.ring, groupEndOptions(group, writerRank, localReaders), remote);
    } catch (error) {
      remote.close();
      queue.close();
      throw error;
    }
    return groupQueueEnd(group, writerRank, queue, end, () => {
      try {
        end.drain();
      } catch {
        remote.close();
        queue.close();
        return; // a reader may still be reading: the ring is not freed
      }
      remote.close();
      queue.close();
      arena.free(region);
    });
  }
  const handle = span.shareHandle(undefined, writerRank) as SpanHandle;
  const local = handle.localReaders.indexOf(group.rankInGroup);
  if (local >= 0) {
    const sizes = { nReaders: handle.localReaders.length, maxChunkBytes, maxChunks };
    const place = { byteOffset: handle.offset, byteLength: MessageQueue.bytesNeeded(sizes) };
    const queue = MessageQueue.attachInArena(arena, place);
    const end = queue.reader(local, groupEndOptions(group, writerRank, handle.localReaders));
    return groupQueueEnd(group, writerRank, queue, end, () => undefined);
  }
  const index = handle.remoteReaders.indexOf(group.rankInGroup);
  const open = { op: 'connect', host: handle.host, port: handle.port, token: handle.token, reader: index } as const;
  const reader = new RemoteQueueReader(new RelayChannel(span.openRelay, open), index, {
    timeoutMs, abort, closeOnTimeout: true, writer: describe(writerRank), name: describe(group.rankInGroup),
  });
  return groupQueueEnd(group, writerRank, undefined, reader, () => reader.close());
}

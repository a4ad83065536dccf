/**
 * The driver side of the rank -> store link (comm/store-link.ts), in a process of a job of several
 * processes: each local rank gets a port and a signal word; a request runs on the StatelessProcessGroup
 * of (group, member) over the job's store (one per member: vLLM's object exchange, its sequence numbers
 * per peer), and the reply is posted back before the signal word is raised. It runs on the driver's event
 * loop, which is free while the ranks run (`multirank run` only awaits the results).
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { PrefixStore } from '../store/prefix-store.js';
import { StatelessProcessGroup } from '../store/stateless-group.js';
import type { Store } from '../store/types.js';
import type { StoreLinkPlace, StoreReply, StoreRequest } from '../comm/store-link.js';

/** A sender's object keys older than this are deleted before its next write (vLLM's data expiration). */
const OBJECT_EXPIRY_SECONDS = 600;

export class StoreProxy {
  readonly #store: Store;
  readonly #groups = new Map<string, StatelessProcessGroup>();
  readonly #ports: MessagePort[] = [];
  #closed = false;

  constructor(store: Store) {
    this.#store = store;
  }

  /** A new rank's end of the link (transfer `place.port` with its task). */
  open(): StoreLinkPlace {
    const { port1, port2 } = new MessageChannel();
    const signal = new Int32Array(new SharedArrayBuffer(4));
    port1.on('message', (request: StoreRequest) => void this.#serve(request, port1, signal));
    port1.unref();
    this.#ports.push(port1);
    return { port: port2, signal };
  }

  async #serve(request: StoreRequest, port: MessagePort, signal: Int32Array): Promise<void> {
    let reply: StoreReply;
    try {
      reply = { id: request.id, ok: true, ...(await this.#run(request)) };
    } catch (error) {
      const e = error as Error & { code?: string };
      reply = { id: request.id, ok: false, name: e.name ?? 'Error', message: String(e.message ?? e), code: e.code };
    }
    if (this.#closed) return;
    port.postMessage(reply);
    Atomics.add(signal, 0, 1);
    Atomics.notify(signal, 0);
  }

  async #run(r: StoreRequest): Promise<{ bytes?: Uint8Array; all?: Uint8Array[] }> {
    const key = `${r.group}#${r.rankInGroup}`;
    let group = this.#groups.get(key);
    if (group === undefined) {
      const store = new PrefixStore(`multirank/objects/${r.group}`, this.#store);
      group = new StatelessProcessGroup(r.rankInGroup, r.groupSize, store, OBJECT_EXPIRY_SECONDS);
      this.#groups.set(key, group);
    }
    switch (r.method) {
      case 'broadcast':
        return { bytes: (await group.broadcastObj(r.bytes, r.peer!)) as Uint8Array };
      case 'allGather':
        return { all: (await group.allGatherObj(r.bytes)) as Uint8Array[] };
      case 'send':
        await group.sendObj(r.bytes, r.peer!);
        return {};
      case 'recv':
        return { bytes: (await group.recvObj(r.peer!)) as Uint8Array };
      case 'barrier':
        await group.barrier(r.timeoutMs);
        return {};
    }
  }

  /** Stops serving: replies still on their way are dropped (their ranks were released by the job's end). */
  close(): void {
    this.#closed = true;
    for (const port of this.#ports) port.close();
    this.#ports.length = 0;
    this.#groups.clear();
  }
}

/**
 * How a process of a job of several processes finds the others: torch's `env://` and `tcp://host:port`
 * init methods, over the job's TCPStore. It is the store `ProcessWorldSource` (comm/process-world.ts).
 *
 * - `env://` reads what torchrun sets for each worker process: MASTER_ADDR, MASTER_PORT, RANK (this
 *   process's number among the job's processes), WORLD_SIZE (how many processes), LOCAL_RANK /
 *   LOCAL_WORLD_SIZE, GROUP_RANK (its node; torchrun's node rank).
 * - `tcp://host:port?rank=R&world_size=W` (torch's form) gives the same without the environment.
 *
 * Process RANK 0 hosts the store, as in torch, unless MULTIRANK_AGENT_STORE=1 says that the launcher
 * (`multirank run`'s agent, as torchrun's agent) hosts it already. Each process then posts how many
 * thread-ranks it holds and its node (GROUP_RANK, else its host name) under `multirank/procs/{p}` and reads
 * every other's: world ranks are given out in process order, each process a contiguous block, and
 * nodes are numbered in order of first appearance.
 */
import { hostname } from 'node:os';
import { checkInteger, invalidType, outOfRange } from '../errors.js';
import { fromBlocks, tcpInitUrl, type ProcessWorld, type ProcessWorldSource } from '../comm/process-world.js';
import { TCPStore } from '../store/tcp-store.js';

/** `1`: the launcher hosts the job's store; no worker process starts one. */
export const AGENT_STORE_ENV = 'MULTIRANK_AGENT_STORE';
export const INIT_METHODS = ['env://', 'tcp://host:port'] as const;

/** Where the store is and which process this is, from an init method (and the environment for env://). */
export interface InitTarget {
  readonly host: string;
  readonly port: number;
  readonly processRank: number;
  readonly processCount: number;
  /** The node's name as the job tells nodes apart (GROUP_RANK when set, else the host name). */
  readonly node: string;
  /** Whether this process hosts the store. */
  readonly hostsStore: boolean;
}

/**
 * Parses an init method.
 * @throws TypeError / RangeError naming the variable or URL part that is missing or wrong.
 */
export function parseInitMethod(initMethod: string, env: NodeJS.ProcessEnv = process.env): InitTarget {
  if (typeof initMethod !== 'string') throw invalidType('initMethod', `one of ${INIT_METHODS.join(', ')}`, initMethod);
  const agentStore = env[AGENT_STORE_ENV] === '1';
  const node = env['GROUP_RANK'] !== undefined && env['GROUP_RANK'] !== '' ? `node ${env['GROUP_RANK']}` : hostname();
  if (initMethod === 'env://') {
    const read = (name: string, min: number): number => {
      const raw = env[name];
      if (raw === undefined || raw === '') {
        const expected = 'set (env:// reads MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE)';
        throw invalidType(`the environment variable ${name}`, expected, raw);
      }
      return checkInteger(`the environment variable ${name}`, Number(raw), min);
    };
    const processCount = read('WORLD_SIZE', 1);
    const processRank = read('RANK', 0);
    if (processRank >= processCount) {
      throw outOfRange(`RANK (${processRank}) must be below WORLD_SIZE (${processCount})`);
    }
    const host = env['MASTER_ADDR'] || '127.0.0.1';
    const port = read('MASTER_PORT', 1);
    return { host, port, processRank, processCount, node, hostsStore: processRank === 0 && !agentStore };
  }
  const url = tcpInitUrl(initMethod);
  if (url === undefined) {
    throw invalidType('initMethod', `one of ${INIT_METHODS.join(', ')} (tcp:// with a host and a port)`, initMethod);
  }
  const param = (name: string, fallback: string | undefined): string | undefined =>
    url.searchParams.get(name) ?? fallback;
  const processCount = checkInteger('initMethod world_size', Number(param('world_size', env['WORLD_SIZE'])), 1);
  const processRank = checkInteger('initMethod rank', Number(param('rank', env['RANK'])), 0, processCount - 1);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const hostsStore = processRank === 0 && !agentStore;
  return { host, port: Number(url.port), processRank, processCount, node, hostsStore };
}

/** A process world met through the job's TCPStore (the `store` ProcessWorldSource). */
export class StoreRendezvous implements ProcessWorldSource {
  readonly kind = 'store' as const;
  readonly #target: InitTarget;
  readonly #ranks: number;
  readonly #timeoutMs: number;
  #store: TCPStore | undefined;

  /** `ranks`: how many thread-ranks this process holds. */
  constructor(target: InitTarget, ranks: number, timeoutMs: number) {
    this.#target = target;
    this.#ranks = checkInteger('ranks', ranks, 1);
    this.#timeoutMs = timeoutMs;
  }

  /** The job's store, once `resolve` connected (the job's objects and failures travel through it). */
  get store(): TCPStore {
    if (this.#store === undefined) throw invalidType('store', 'a store (call resolve() first)', undefined);
    return this.#store;
  }

  async resolve(): Promise<ProcessWorld> {
    const t = this.#target;
    const store = (this.#store = await TCPStore.create({
      host: t.host, port: t.port, isMaster: t.hostsStore, timeoutMs: this.#timeoutMs, waitForWorkers: false,
      ...(t.hostsStore ? { listenHost: t.host } : {}),
    }));
    try {
      const mine = { ranks: this.#ranks, node: t.node, pid: process.pid };
      await store.set(`multirank/procs/${t.processRank}`, JSON.stringify(mine));
      const keys = Array.from({ length: t.processCount }, (_, p) => `multirank/procs/${p}`);
      await store.wait(keys, this.#timeoutMs);
      const all = (await store.multiGet(keys)).map((b) => JSON.parse(Buffer.from(b).toString('utf8')) as typeof mine);
      const names: string[] = [];
      const nodes = all.map(({ node }) => {
        if (!names.includes(node)) names.push(node);
        return names.indexOf(node);
      });
      nodes.forEach((n, p) => {
        if (p > 0 && n < nodes[p - 1]!) {
          throw outOfRange(`process ${p} is on ${all[p]!.node}, after process ${p - 1} on ${all[p - 1]!.node}: ` +
            'the processes of a node must have consecutive RANKs (as torchrun gives them)');
        }
      });
      return fromBlocks('store', all.map((a) => a.ranks), nodes, t.processRank, { host: t.host, port: store.port });
    } catch (error) {
      await store.close();
      throw error;
    }
  }
}

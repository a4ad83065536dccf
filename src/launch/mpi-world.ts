/**
 * The process world of a job whose processes mpirun started (the `mpi` ProcessWorldSource,
 * comm/process-world.ts): `mpirun -np P [-H hosts] multirank run -n T rank.js`. MPI gives this process's
 * number and the process count (OMPI_COMM_WORLD_RANK / _SIZE, checked against MPI's own world); one MPI
 * allGather (in this driver thread, before any rank starts) tells each process every process's thread
 * count and host, so world ranks are given out in process order (each process a contiguous block, as
 * mpirun places consecutive ranks on one node by default) and nodes are numbered in order of first
 * appearance. No rendezvous store is needed: process 0 then hosts the job's TCPStore for the object plane
 * and failures across processes (its port travels by MPI broadcast).
 *
 * MPI stays initialised for the job's life: its ranks' `mpi` communicators use it, and `finish` (after the
 * job closed) keeps process 0's store until every process is done, closes it and finalises MPI.
 */
import { hostname } from 'node:os';
import { ErrorCodes, MultirankError, checkInteger, invalidType } from '../errors.js';
import { fromBlocks, type ProcessWorld, type ProcessWorldSource } from '../comm/process-world.js';
import { MPI_WORLD, mpiBinding, type MpiBinding } from '../native/mpi.js';
import { TCPStore } from '../store/tcp-store.js';
import { doneKey } from './process-job.js';
import { nulTerminated } from '../debug/rank-status.js';

/** Bytes each process sends in the allGather: its thread count, then its host name (utf8, cut). */
const RECORD_BYTES = 128;
const NAME_BYTES = RECORD_BYTES - 4;

/** The number of processes mpirun started, when this process is one of them; else undefined. */
export function mpirunProcessCount(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env['OMPI_COMM_WORLD_SIZE'];
  return raw === undefined || raw === '' ? undefined : Number(raw);
}

export class MpiWorld implements ProcessWorldSource {
  readonly kind = 'mpi' as const;
  readonly #ranks: number;
  readonly #timeoutMs: number;
  readonly #env: NodeJS.ProcessEnv;
  #binding: MpiBinding | undefined;
  #store: TCPStore | undefined;

  /** `ranks`: how many thread-ranks this process holds. */
  constructor(ranks: number, timeoutMs: number, env: NodeJS.ProcessEnv = process.env) {
    this.#ranks = checkInteger('ranks', ranks, 1);
    this.#timeoutMs = timeoutMs;
    this.#env = env;
  }

  /** The job's store, once `resolve` connected. */
  get store(): TCPStore {
    if (this.#store === undefined) throw invalidType('store', 'a store (call resolve() first)', undefined);
    return this.#store;
  }

  async resolve(): Promise<ProcessWorld> {
    const read = (name: string, max: number): number => {
      const raw = this.#env[name];
      const expected = 'set by mpirun (OMPI_COMM_WORLD_RANK, OMPI_COMM_WORLD_SIZE, OMPI_COMM_WORLD_LOCAL_RANK)';
      if (raw === undefined || raw === '') throw invalidType(`the environment variable ${name}`, expected, raw);
      return checkInteger(`the environment variable ${name}`, Number(raw), 0, max);
    };
    const size = read('OMPI_COMM_WORLD_SIZE', 1 << 20);
    const rank = read('OMPI_COMM_WORLD_RANK', size - 1);
    read('OMPI_COMM_WORLD_LOCAL_RANK', size - 1);
    const binding = (this.#binding = mpiBinding());
    const mpi = binding.init();
    if (mpi.rank !== rank || mpi.size !== size) {
      throw new MultirankError(ErrorCodes.MPI, `MPI's world (process ${mpi.rank} of ${mpi.size}) differs from ` +
        `mpirun's environment (OMPI_COMM_WORLD_RANK=${rank}, OMPI_COMM_WORLD_SIZE=${size})`);
    }
    const mine = new Uint8Array(RECORD_BYTES);
    new DataView(mine.buffer).setInt32(0, this.#ranks, true);
    mine.set(new TextEncoder().encode(hostname()).subarray(0, NAME_BYTES), 4);
    const all = new Uint8Array(RECORD_BYTES * size);
    this.#check(binding.allGather(MPI_WORLD, mine, all, this.#timeoutMs), 'the allGather of every process\'s ranks');
    const counts: number[] = [], names: string[] = [];
    for (let p = 0; p < size; p++) {
      const record = all.subarray(p * RECORD_BYTES, (p + 1) * RECORD_BYTES);
      counts.push(new DataView(record.buffer, record.byteOffset).getInt32(0, true));
      names.push(nulTerminated(record.subarray(4)));
    }
    const hosts: string[] = [];
    const nodes = names.map((name, p) => {
      if (!hosts.includes(name)) hosts.push(name);
      const node = hosts.indexOf(name);
      if (p > 0 && node < hosts.indexOf(names[p - 1]!)) {
        throw new MultirankError(ErrorCodes.MPI, `process ${p} is on ${name}, after process ${p - 1} on ` +
          `${names[p - 1]}: the processes of a node must have consecutive MPI ranks (mpirun's default --map-by slot)`);
      }
      return node;
    });
    // Process 0 hosts the store; the others learn its port.
    const host = this.#env['MASTER_ADDR'] || (hosts.length === 1 ? '127.0.0.1' : names[0]!);
    const port = new Int32Array(1);
    if (rank === 0) {
      this.#store = await TCPStore.create({
        host, port: 0, isMaster: true, timeoutMs: this.#timeoutMs, waitForWorkers: false,
        ...(hosts.length === 1 ? { listenHost: host } : {}),
      });
      port[0] = this.#store.port;
    }
    const sent = binding.broadcast(MPI_WORLD, new Uint8Array(port.buffer), 0, this.#timeoutMs);
    this.#check(sent, 'the broadcast of the store\'s port');
    if (rank !== 0) {
      this.#store = await TCPStore.create({
        host, port: port[0]!, isMaster: false, timeoutMs: this.#timeoutMs, waitForWorkers: false,
      });
    }
    return fromBlocks('mpi', counts, nodes, rank, { host, port: port[0]! });
  }

  /**
   * After this process's job closed (it posted its done key): process 0 keeps the store until every
   * process posted its own (the store lives in this thread's event loop, so the wait is the store's, not
   * MPI's), then the store goes and MPI is finalised (which every process reaches).
   */
  async finish(processCount: number): Promise<void> {
    const binding = this.#binding;
    if (binding === undefined) return;
    const store = this.#store;
    if (store?.isMaster === true) {
      await store.wait(Array.from({ length: processCount }, (_, p) => doneKey(p)), this.#timeoutMs);
    }
    await store?.close();
    this.#store = undefined;
    binding.finalize();
    this.#binding = undefined;
  }

  /** After a failure: the store goes; MPI is left to mpirun, which ends every process of the job. */
  async abandon(): Promise<void> {
    await this.#store?.close();
    this.#store = undefined;
  }

  #check(status: number, what: string): void {
    if (status === 0) return;
    throw new MultirankError(ErrorCodes.MPI, `${what} failed: ${this.#binding!.lastError().text}`);
  }
}

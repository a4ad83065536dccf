/** What the driver hands a rank's worker thread for one job (structured-cloned, the port transferred). */
import type { MessagePort } from 'node:worker_threads';
import type { ChaosOptions } from '../debug/chaos.js';
import type { ProcessWorld } from '../comm/process-world.js';
import type { StoreLinkPlace } from '../comm/store-link.js';

export interface RankTask {
  /** File URL of the rank module. */
  moduleUrl: string;
  /** The export to call; default: the module's default export. */
  exportName: string | undefined;
  /** World rank (all processes of the job together). */
  rank: number;
  worldSize: number;
  /** The job's processes (comm/process-world.ts); this process runs ranks of its own block only. */
  processWorld: ProcessWorld;
  localRank: number;
  localWorldSize: number;
  args: unknown;
  /** The rank's whole environment but the rank variables: the driver's at launch plus `options.env`. */
  env: Record<string, string>;
  /** Arena offset of the job control block. */
  controlOffset: number;
  timeoutMs: number;
  /** Prefix every line the rank prints with `[rank N] ` (the CLI sets it). */
  outputPrefix: boolean;
  /** Chaos mode (seeded delays and injected failures), when on. */
  chaos: ChaosOptions | undefined;
  /** Record a trace of this rank's collectives. */
  trace: boolean;
  /** Fingerprint checks on (off only to measure their cost). */
  checkCalls: boolean;
  /** The driver's RPC queue in the arena (driver writes, rank r reads as reader r). */
  rpcQueue: { byteOffset: number; byteLength: number };
  /** Port of the driver -> rank RPC (comlink). */
  port: MessagePort;
  /** The link to the job's store through the driver, when the job spans processes (its port transferred). */
  storeLink?: StoreLinkPlace | undefined;
}

/** What every worker thread of a pool is created with. */
export interface PoolWorkerData {
  memory: WebAssembly.Memory;
  kernelModule: WebAssembly.Module;
}

/** The argument of a rank module's entry function. */
export interface RankInfo {
  rank: number;
  worldSize: number;
  localRank: number;
  args: unknown;
}

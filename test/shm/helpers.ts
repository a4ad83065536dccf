/** Test helpers: regions with guard bytes, workers that report results, async waits on shared words. */
import { Worker } from 'node:worker_threads';
import type { FixtureReply } from './fixtures/harness.js';

/** Byte written around a region to detect writes outside it. */
export const GUARD_BYTE = 0xa5;

/** A region of `byteLength` bytes at `byteOffset` in a larger SAB whose other bytes are GUARD_BYTE. */
export function guardedRegion(byteLength: number, byteOffset = 64, tailBytes = 64) {
  const buffer = new SharedArrayBuffer(byteOffset + byteLength + tailBytes);
  new Uint8Array(buffer).fill(GUARD_BYTE);
  return { buffer, byteOffset, byteLength };
}

/** True when every byte outside [byteOffset, byteOffset + byteLength) still holds GUARD_BYTE. */
export function guardsIntact(region: { buffer: SharedArrayBuffer; byteOffset: number; byteLength: number }): boolean {
  const bytes = new Uint8Array(region.buffer);
  for (let i = 0; i < bytes.length; i++) {
    if ((i < region.byteOffset || i >= region.byteOffset + region.byteLength) && bytes[i] !== GUARD_BYTE) return false;
  }
  return true;
}

/** An error rebuilt from a fixture's report, with its name and code. */
export class FixtureError extends Error {
  code?: string;
  constructor(error: { name: string; code?: string; message: string; stack?: string }) {
    super(error.message);
    this.name = error.name;
    this.code = error.code;
    this.stack = error.stack;
  }
}

/** A running fixture: `result` settles once the worker reported and exited. */
export interface RunningFixture<T> {
  worker: Worker;
  result: Promise<T>;
}

/** Starts `test/shm/fixtures/<name>.js` with `data`. */
export function startFixture<T>(name: string, data: unknown): RunningFixture<T> {
  const worker = new Worker(new URL(`./fixtures/${name}.js`, import.meta.url), { workerData: data });
  const result = new Promise<T>((resolve, reject) => {
    let reply: FixtureReply | undefined;
    worker.once('message', (message: FixtureReply) => (reply = message));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (reply === undefined) reject(new Error(`fixture ${name} exited with code ${code} before reporting`));
      else if (reply.ok) resolve(reply.value as T);
      else reject(new FixtureError(reply.error));
    });
  });
  return { worker, result };
}

/** Runs a fixture to the end. */
export function runFixture<T>(name: string, data: unknown): Promise<T> {
  return startFixture<T>(name, data).result;
}

type WaitAsyncResult = { async: false; value: string } | { async: true; value: Promise<string> };
// Atomics.waitAsync is in Node 20 but not in the ES2022 lib that tsconfig uses.
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, t: number): WaitAsyncResult }).waitAsync;

/** Resolves once `predicate(Atomics.load(flags, index))` holds, without blocking the event loop. */
export async function waitAsyncUntil(flags: Int32Array, index: number, predicate: (value: number) => boolean, timeoutMs = 20_000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = Atomics.load(flags, index);
    if (predicate(value)) return value;
    const left = deadline - performance.now();
    if (left <= 0) throw new Error(`word ${index} never met the condition (last value ${value})`);
    const result = waitAsync(flags, index, value, Math.min(left, 50));
    if (result.async) await result.value;
  }
}

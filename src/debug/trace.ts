/**
 * Chrome / Perfetto traces (`MULTIRANK_TRACE=trace.json`, `multirank run --trace FILE`): each rank
 * records a complete event per collective (name, bytes, algorithm, group) and one per wait that blocked,
 * on its own track (tid = rank); the driver writes them as the JSON object format
 * (`{"traceEvents": [...]}`) with thread names, which Perfetto and chrome://tracing load.
 */
import { writeFileSync } from 'node:fs';
import { warnSideOutput } from './side-output.js';

export const TRACE_ENV = 'MULTIRANK_TRACE';

/** One complete ("X") event; times in µs since the epoch (all threads share performance.timeOrigin's clock). */
export interface TraceEvent {
  name: string;
  cat: string;
  ph: 'X';
  ts: number;
  dur: number;
  pid: number;
  tid: number;
  args: Record<string, unknown>;
}

/** Absolute time in µs, comparable across the job's threads. */
export function nowUs(): number {
  return (performance.timeOrigin + performance.now()) * 1000;
}

/** A rank's recorder; `events` travel to the driver with the rank's outcome. */
export class TraceRecorder {
  readonly rank: number;
  readonly events: TraceEvent[] = [];

  constructor(rank: number) {
    this.rank = rank;
  }

  add(name: string, cat: string, startUs: number, args: Record<string, unknown>): void {
    this.events.push({
      name, cat, ph: 'X', ts: startUs, dur: Math.max(0, nowUs() - startUs), pid: 1, tid: this.rank, args,
    });
  }
}

/** The trace file's content: every rank's events plus a named track per rank. */
export function traceDocument(perRank: readonly (readonly TraceEvent[])[]): {
  traceEvents: unknown[]; displayTimeUnit: string;
} {
  const names = perRank.map(
    (_, rank) => ({ name: 'thread_name', ph: 'M', pid: 1, tid: rank, args: { name: `rank ${rank}` } }),
  );
  const process = { name: 'process_name', ph: 'M', pid: 1, tid: 0, args: { name: 'multirank job' } };
  return { traceEvents: [process, ...names, ...perRank.flat()], displayTimeUnit: 'ns' };
}

/** Writes the trace file; one that cannot be written is a warning, never the job's failure. */
export function writeTrace(path: string, perRank: readonly (readonly TraceEvent[])[]): boolean {
  try {
    writeFileSync(path, JSON.stringify(traceDocument(perRank)));
    return true;
  } catch (error) {
    warnSideOutput('trace', path, error);
    return false;
  }
}

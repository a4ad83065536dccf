/**
 * Flight-recorder dumps: on a failure, a timeout, a deadlock or SIGUSR2, the driver reads every rank's
 * ring (shared memory, so stuck ranks need not answer) and writes one JSON file. Field names follow
 * torch's flight recorder where they mean the same (record_id, pg_id, collective_seq_id,
 * profiling_name, time_created_ns, state, input_sizes, input_dtypes, pg_config).
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobView } from './job-view.js';
import { dtypeFromCode } from '../tensor/dtype.js';
import { describeRank } from './watchdog.js';

/** Directory of the dumps (default: the OS temp dir). */
export const DUMP_DIR_ENV = 'MULTIRANK_FR_DUMP_DIR';
let dumps = 0;

const dtypeName = (code: number): string => dtypeFromCode(code) ?? `code ${code}`;

/** The dump as an object (see the file header for the field names). */
export function flightRecorderDump(control: JobView, worldSize: number, reason: string): Record<string, unknown> {
  const pgIds = new Map<number, number>();
  const pgConfig: Record<string, { ranks: number[]; desc: string }> = {};
  const pgId = (offset: number): number => {
    if (!pgIds.has(offset)) {
      const id = pgIds.size;
      pgIds.set(offset, id);
      pgConfig[String(id)] = { ranks: control.groupWait(offset, 0, 'arrive').ranks, desc: `group block @${offset}` };
    }
    return pgIds.get(offset)!;
  };
  const ranks: Record<string, unknown> = {};
  for (let rank = 0; rank < worldSize; rank++) {
    const record = control.record(rank);
    const snapshot = record.snapshot();
    ranks[String(rank)] = {
      state: snapshot.state,
      pending: describeRank(control, snapshot),
      entries: record.entries().map((e, i) => ({
        record_id: i, pg_id: pgId(e.groupOffset), collective_seq_id: e.seq, profiling_name: `multirank:${e.op}`,
        time_created_ns: Math.round(e.startMs * 1e6), state: e.state, input_sizes: [[e.numel]], input_dtypes: [dtypeName(e.dtypeCode)],
        is_p2p: e.op === 'send' || e.op === 'recv',
      })),
    };
  }
  return { version: '2.4', reason, pid: process.pid, time_ns: Math.round((performance.timeOrigin + performance.now()) * 1e6), pg_config: pgConfig, ranks };
}

/** "Who was where": each rank's state and its last recorded collective. */
export function dumpSummary(dump: Record<string, unknown>): string {
  const ranks = dump['ranks'] as Record<string, { pending: string; entries: { profiling_name: string; collective_seq_id: number; state: string }[] }>;
  return Object.values(ranks).map((r) => {
    const last = r.entries[r.entries.length - 1];
    return `  ${r.pending}${last === undefined ? '' : ` (last recorded: ${last.profiling_name} #${last.collective_seq_id}, ${last.state})`}`;
  }).join('\n');
}

/** Writes the dump; returns its path. */
export function writeFlightRecorderDump(control: JobView, worldSize: number, reason: string, env: NodeJS.ProcessEnv = process.env): { path: string; summary: string } {
  const dump = flightRecorderDump(control, worldSize, reason);
  const path = join(env[DUMP_DIR_ENV] || tmpdir(), `multirank-flight-recorder-${process.pid}-${++dumps}.json`);
  writeFileSync(path, `${JSON.stringify(dump, null, 1)}\n`);
  return { path, summary: dumpSummary(dump) };
}

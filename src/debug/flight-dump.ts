/**
 * Flight-recorder dumps: on a failure, a timeout, a deadlock or SIGUSR2, the driver reads every rank's
 * ring (shared memory, so stuck ranks need not answer) and writes one JSON file. Field names follow
 * torch's flight recorder where they mean the same (record_id, pg_id, collective_seq_id,
 * profiling_name, time_created_ns, state, input_sizes, input_dtypes, pg_config).
 *
 * Dumps go to MULTIRANK_FR_DUMP_DIR (default: the OS temp folder), and a process keeps only its newest
 * MULTIRANK_FR_DUMP_KEEP (default 20): each one is named in the error it belongs to, and a test suite
 * that fails many jobs must not fill the folder. A dump that cannot be written is a warning.
 */
import { unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobView } from './job-view.js';
import { dtypeFromCode } from '../tensor/dtype.js';
import { describeRank } from './watchdog.js';
import { warnSideOutput } from './side-output.js';

/** Directory of the dumps (default: the OS temp dir). */
export const DUMP_DIR_ENV = 'MULTIRANK_FR_DUMP_DIR';
/** How many dumps a process keeps (its newest; older ones it wrote are deleted). */
export const DUMP_KEEP_ENV = 'MULTIRANK_FR_DUMP_KEEP';
export const DUMP_KEEP_DEFAULT = 20;
let dumps = 0;
/** The world ranks a process holds (its block of a job of several processes). */
export interface RankSpan {
  readonly first: number;
  readonly count: number;
}

/** The dumps this process wrote and still keeps, oldest first. */
const kept: string[] = [];

const dtypeName = (code: number): string => dtypeFromCode(code) ?? `code ${code}`;

/** The dump as an object (see the file header for the field names). */
export function flightRecorderDump(
  control: JobView, worldSize: number | RankSpan, reason: string,
): Record<string, unknown> {
  // A process of a job of several processes dumps its own ranks (world ranks first..first+count-1).
  const { first, count } = typeof worldSize === 'number' ? { first: 0, count: worldSize } : worldSize;
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
  for (let rank = first; rank < first + count; rank++) {
    const record = control.record(rank);
    const snapshot = record.snapshot();
    ranks[String(rank)] = {
      state: snapshot.state,
      pending: describeRank(control, snapshot),
      entries: record.entries().map((e, i) => ({
        record_id: i, pg_id: pgId(e.groupOffset), collective_seq_id: e.seq, profiling_name: `multirank:${e.op}`,
        time_created_ns: Math.round(e.startMs * 1e6), state: e.state, input_sizes: [[e.numel]],
        input_dtypes: [dtypeName(e.dtypeCode)],
        is_p2p: e.op === 'send' || e.op === 'recv',
      })),
    };
  }
  return {
    version: '2.4', reason, pid: process.pid, time_ns: Math.round((performance.timeOrigin + performance.now()) * 1e6),
    pg_config: pgConfig, ranks,
  };
}

/** "Who was where": each rank's state and its last recorded collective. */
export function dumpSummary(dump: Record<string, unknown>): string {
  const ranks = dump['ranks'] as Record<
    string,
    { pending: string; entries: { profiling_name: string; collective_seq_id: number; state: string }[] }
  >;
  return Object.values(ranks).map((r) => {
    const last = r.entries[r.entries.length - 1];
    return `  ${r.pending}${
      last === undefined ? '' : ` (last recorded: ${last.profiling_name} #${last.collective_seq_id}, ${last.state})`
    }`;
  }).join('\n');
}

/** A written dump (`path`), or one that could not be written (no `path`: a warning said why). */
export interface DumpResult {
  path: string | undefined;
  summary: string;
}

/** Writes the dump and returns its path; never throws (see the file header). */
export function writeFlightRecorderDump(
  control: JobView, worldSize: number | RankSpan, reason: string, env: NodeJS.ProcessEnv = process.env,
): DumpResult {
  let dump: Record<string, unknown>, summary: string;
  try {
    dump = flightRecorderDump(control, worldSize, reason);
    summary = dumpSummary(dump);
  } catch (error) {
    // A dump is a side output: reading the records must not replace the job's own error.
    warnSideOutput('flight-recorder dump (reading the records)', undefined, error);
    return { path: undefined, summary: '  (the ranks\' records could not be read)' };
  }
  const path = join(env[DUMP_DIR_ENV] || tmpdir(), `multirank-flight-recorder-${process.pid}-${++dumps}.json`);
  try {
    writeFileSync(path, `${JSON.stringify(dump, null, 1)}\n`);
  } catch (error) {
    warnSideOutput('flight-recorder dump', path, error);
    return { path: undefined, summary };
  }
  kept.push(path);
  for (const keep = dumpsToKeep(env); kept.length > keep;) removeDump(kept.shift()!);
  return { path, summary };
}

/** How an error names its dump: its path, or that it could not be written. */
export function dumpNote(result: DumpResult): string {
  if (result.path === undefined) return 'Flight recorder dump was not written (see the warning)';
  return `Flight recorder dump: ${result.path}`;
}

function dumpsToKeep(env: NodeJS.ProcessEnv): number {
  const raw = env[DUMP_KEEP_ENV];
  const value = raw === undefined || raw === '' ? DUMP_KEEP_DEFAULT : Number(raw);
  return Number.isInteger(value) && value >= 1 ? value : DUMP_KEEP_DEFAULT;
}

function removeDump(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    // Removed already (by the user, or the folder's cleaner) is what we wanted; anything else is worth a word.
    if ((error as { code?: string }).code === 'ENOENT') return;
    warnSideOutput('flight-recorder dump (removing an old one)', path, error);
  }
}

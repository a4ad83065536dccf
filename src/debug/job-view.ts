/**
 * What the driver's monitors (the deadlock watchdog, the flight-recorder dump) read of a running job.
 * The backend implements it (threads: the job control block in the arena), so that the monitors depend
 * on no backend.
 */
import type { RankRecord } from './rank-status.js';

export interface JobView {
  /** Rank `rank`'s status record and flight recorder. */
  record(rank: number): RankRecord;
  /** Non-zero once the job failed or was closed. */
  readonly abortValue: number;
  /** Ends the job with a deadlock report. */
  failDeadlock(report: string): void;
  /**
   * The members (world ranks) of the group a record names by `groupKey`, and those of them that have not
   * reached `phase` of call `seq` yet (empty lists when the group is gone).
   */
  groupWait(groupKey: number, seq: number, phase: 'arrive' | 'finish'): { ranks: number[]; missing: number[] };
}

/**
 * The error a failed job's `results` rejects with: the rank whose failure came first, what became of the
 * others (stopped because of it, failed the same way, or failed otherwise), and that rank's stack.
 */
import { ClosedError, ErrorCodes, RankFailedError } from '../errors.js';
import type { RankOutcome } from './rank-runtime.js';
import { deserializeError, type SerializedError } from './serialize-error.js';

/** `rank 3`, `ranks 0, 2`, `ranks 0..6`, `ranks 0, 2..5, 7`: runs of three or more as ranges. */
export function rankList(ranks: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < ranks.length;) {
    let end = i;
    while (end + 1 < ranks.length && ranks[end + 1] === ranks[end]! + 1) end++;
    if (end - i >= 2) parts.push(`${ranks[i]}..${ranks[end]}`);
    else for (let k = i; k <= end; k++) parts.push(String(ranks[k]));
    i = end + 1;
  }
  return `${ranks.length === 1 ? 'rank' : 'ranks'} ${parts.join(', ')}`;
}

/** An error that a rank got because another one failed: its wait was released, or its thread ended. */
function released(error: SerializedError): boolean {
  return error.code === ErrorCodes.RANK_FAILED || error.name === 'AbortError';
}

const headline = (error: SerializedError): string => `${error.name}: ${error.message}`;

/**
 * What became of the failed ranks other than slot `slot` (one parenthesised line each kind). Outcomes are
 * in slot order; slot s is world rank `firstRank + s` (this process's block of a job of several).
 */
function othersNote(outcomes: readonly RankOutcome[], slot: number, cause: string, firstRank: number): string {
  const stopped: number[] = [], same: number[] = [], otherwise: string[] = [];
  outcomes.forEach((o, s) => {
    const r = firstRank + s;
    if (o.ok || s === slot) return;
    if (released(o.error)) stopped.push(r);
    else if (headline(o.error) === cause) same.push(r);
    else otherwise.push(`(rank ${r} also failed: ${headline(o.error).split('\n')[0]})`);
  });
  const lines: string[] = [];
  if (same.length > 0) lines.push(`(${rankList(same)} failed the same way)`);
  const were = stopped.length === 1 ? 'was' : 'were';
  if (stopped.length > 0) lines.push(`(${rankList(stopped)} ${were} stopped because of it)`);
  return lines.concat(otherwise).map((line) => `\n${line}`).join('');
}

/**
 * The job's failure, blamed on the rank of slot `slot` (the first failure the job control block recorded,
 * whose message is `recorded`); slot s is world rank `firstRank + s`. The rank's outcome tells it, unless
 * the rank failed while its entry went on (a promise it left rejected, with nobody to handle it) and then
 * returned, or was ended by the failure's grace period: then what the rank recorded does.
 */
export function rankFailure(
  outcomes: readonly RankOutcome[], slot: number, recorder: string, recorded: string, firstRank = 0,
): RankFailedError {
  const outcome = outcomes[slot]!, rank = firstRank + slot;
  if (outcome.ok || (outcome.error.name === 'AbortError' && recorded !== '')) {
    const [first = '', ...stack] = recorded.split('\n');
    const when = outcome.ok ? ' after its entry returned' : '';
    return new RankFailedError(rank, `Rank ${rank} failed${when}: ${first}` +
      othersNote(outcomes, slot, first, firstRank) +
      `\nRank ${rank}'s stack:\n${stack.join('\n') || '(none)'}${recorder}`);
  }
  const error = outcome.error;
  return new RankFailedError(
    rank,
    `Rank ${rank} failed: ${headline(error)}${othersNote(outcomes, slot, headline(error), firstRank)}` +
      `\nRank ${rank}'s stack:\n${error.stack ?? '(none)'}${recorder}`,
    { cause: deserializeError(error) },
  );
}

/**
 * The failure of rank `rank` of another process of the job (`cause`, as the job control block recorded it),
 * which stopped `outcomes`' failed ranks here; slot s is world rank `firstRank + s`.
 */
export function remoteFailure(
  outcomes: readonly RankOutcome[], rank: number, cause: string, recorder: string, firstRank: number,
): RankFailedError {
  const stopped = outcomes.flatMap((o, slot) => (o.ok ? [] : [firstRank + slot]));
  const were = stopped.length === 1 ? 'was' : 'were';
  const here = stopped.length === 0 ? '' :
    `\n(${rankList(stopped)} of this process ${were} stopped because of it)`;
  return new RankFailedError(
    rank, `Rank ${rank} (in another process of the job) failed: ${cause}${here}${recorder}`,
  );
}

/**
 * The driver's close() ended ranks that had not returned (a hung or busy job): the driver asked for it,
 * so no rank is blamed and no failure dump is written.
 */
export function closedByDriver(outcomes: readonly RankOutcome[], firstRank = 0): ClosedError {
  const running = outcomes.flatMap((o, slot) => (o.ok ? [] : [firstRank + slot]));
  const ranks = rankList(running);
  return new ClosedError(`The job was closed by the driver (job.close()) before ${ranks} returned; no rank failed`);
}

/**
 * A rank whose thread ended (process.exit() in the rank, or Node ended it) instead of returning or
 * throwing: piscina's "worker exited with code: N" said nothing of the rank or of what to do.
 */
export function threadExited(error: SerializedError): SerializedError {
  const code = /^worker exited with code: (-?\d+)$/.exec(error.message)?.[1];
  if (code === undefined) return error;
  const message = `the rank's thread exited with code ${code} (process.exit() in a rank ends its thread; ` +
    'throw an error to fail the rank)';
  return { ...error, message, stack: `Error: ${message}\n    (no stack: the thread ended)` };
}

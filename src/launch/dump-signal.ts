/**
 * SIGUSR2 asks every live job of the process for its flight-recorder dump. One process listener serves
 * them all (a listener per job would trip Node's MaxListenersExceededWarning at 11 concurrent jobs); it is
 * there only while a job is, so a process without jobs is left as it was.
 */
const live = new Set<() => void>();

function onSignal(): void {
  for (const dump of live) dump();
}

/** Calls `dump` on SIGUSR2 until `unwatchDumpSignal(dump)`. */
export function watchDumpSignal(dump: () => void): void {
  if (live.size === 0) process.on('SIGUSR2', onSignal);
  live.add(dump);
}

export function unwatchDumpSignal(dump: () => void): void {
  if (live.delete(dump) && live.size === 0) process.off('SIGUSR2', onSignal);
}

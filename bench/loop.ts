/** The timed loop of the regimes benches' rank modules (it imports nothing of the library). */
export interface LoopArgs {
  readonly calls: number;
  readonly rounds: number;
}

/** µs per call of `calls` calls of `body`, once per round. */
export function rounds(body: () => void, { calls, rounds }: LoopArgs): number[] {
  const out: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const start = performance.now();
    for (let i = 0; i < calls; i++) body();
    out.push(((performance.now() - start) * 1000) / calls);
  }
  return out;
}

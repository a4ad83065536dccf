/**
 * The `mpi` communicator on groups whose members share processes: P processes (2, 3) of T rank threads
 * (2, 4) under mpirun, each a multirank job; the groups are the world (consecutive ranks per process) and
 * an interleaved one (members of a process far apart in group order). Every collective x dtype x op
 * against the plain-JS reference: exactly wherever the order of the fold cannot change the result
 * (integers, min / max / bitwise, small integer values in float32 / float64, all data movement); for the
 * other float sums, products and averages (folded per process, then across processes: reassociated)
 * every member must hold the same bits.
 */
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { boundaryCases, CaseList, movementCases, reductionCases, taggedRingCases } from './cases.js';
import { COMPLEX_DTYPES, FLOAT_DTYPES, type CaseResult, type CaseSpec } from './data.js';
import { checkCases, describeCase, summarize } from './expect.js';
import { mpirunMissing, runMpi } from '../helpers/mpirun.js';

const DRIVER = fileURLToPath(new URL('../fixtures/mpi-hier-driver.js', import.meta.url));
const missing = mpirunMissing();

/**
 * A float reduction whose result depends on the order of the fold: any values but small integers, and on
 * 16-bit floats even those (each process's partial result is rounded to 16 bits; one process folds in
 * float32 and rounds once).
 */
function reassociated(spec: CaseSpec): boolean {
  const floating = FLOAT_DTYPES.includes(spec.dtype) || COMPLEX_DTYPES.includes(spec.dtype);
  const half = spec.dtype === 'float16' || spec.dtype === 'bfloat16';
  return floating && (spec.kind !== 'int' || half) && (spec.op === 'sum' || spec.op === 'prod' || spec.op === 'avg');
}

/** A difference in a value digest only: the output, a second message, or the input of an in-place call. */
const valueOnly = (problem: string): boolean =>
  /: output \S+, expected /.test(problem) || / out=self .*: input after the call /.test(problem);

for (const [processes, threads] of [[2, 2], [3, 2], [2, 4], [3, 4]] as const) {
  const title = `${processes} processes x ${threads} threads: every collective x dtype x op matches the reference`;
  if (missing !== undefined) {
    test.skip(`${title} (skipped: ${missing})`, () => {});
    continue;
  }
  test.serial(title, (t) => {
    const n = processes * threads;
    const interleaved: number[] = [];
    for (let l = 0; l < threads; l++) for (let p = 0; p < processes; p++) interleaved.push(p * threads + l);
    const groups = { world: [Array.from({ length: n }, (_, r) => r)], inter: [interleaved] };
    const list = new CaseList(0x4849 + n);
    for (const group of ['world', 'inter']) {
      reductionCases(list, n, group);
      movementCases(list, n, group);
    }
    boundaryCases(list, n, 'inter');
    for (const group of ['world', 'inter']) taggedRingCases(list, group);
    const dir = mkdtempSync(join(tmpdir(), 'multirank-mpi-hier-'));
    try {
      writeFileSync(join(dir, 'input.json'), JSON.stringify({ cases: list.cases, groups }));
      const run = runMpi(processes, DRIVER, [String(threads), join(dir, 'input.json'), dir], 240_000);
      t.is(run.status, 0, `mpirun failed (${run.signal ?? run.status}):\n${run.stdout}\n${run.stderr}`);
      const results = Array.from({ length: n }, (_, r) =>
        JSON.parse(readFileSync(join(dir, `rank-${r}.json`), 'utf8')) as (CaseResult | null)[]);
      const exact = list.cases.map((_, i) => i).filter((i) => !reassociated(list.cases[i]!));
      const loose = list.cases.map((_, i) => i).filter((i) => reassociated(list.cases[i]!));
      const problems = [
        ...checkCases(list.cases, exact, results, { inter: groups.inter }),
        // reassociated float sums: only their values may differ from the one-process reference (an in-place
        // call's input is its value); the shape, the returned tensor, other inputs left alone and the same
        // bits on every member are still checked
        ...checkCases(list.cases, loose, results, { inter: groups.inter }).filter((p) => !valueOnly(p)),
      ];
      t.true(loose.length > 0 && exact.length > loose.length, `${exact.length} exact, ${loose.length} reassociated`);
      t.deepEqual(summarize(problems), [], `${problems.length} differences in ${list.cases.length} cases`);
      t.log(`${exact.length} cases exact, ${loose.length} bit-identical across members (e.g. ${describeCase(list.cases[loose[0]!]!)})`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

/**
 * The `mpi` communicator, one member per process, against the plain-JS reference: every collective x
 * dtype x reduce op (sizes 0, 1, odd; around the threads backend's inline limit; in and out of the arena;
 * unaligned views) over 2 and 3 processes under mpirun, on both of its paths (the latency path, and the
 * bandwidth path forced for every size through the fold-all limit set to 0).
 */
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { boundaryCases, CaseList, movementCases, reductionCases, taggedRingCases } from './cases.js';
import type { CaseResult } from './data.js';
import { checkCases, summarize } from './expect.js';
import { mpirunMissing, runMpi } from '../helpers/mpirun.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/mpi-matrix.js', import.meta.url));
const missing = mpirunMissing();

for (const processes of [2, 3]) {
  for (const path of ['latency', 'bandwidth'] as const) {
    const title = `every collective x dtype x op over ${processes} processes (${path} path) matches the reference`;
    if (missing !== undefined) {
      test.skip(`${title} (skipped: ${missing})`, () => {});
      continue;
    }
    test.serial(title, (t) => {
      const list = new CaseList(0x4d50 + processes);
      reductionCases(list, processes);
      movementCases(list, processes);
      boundaryCases(list, processes);
      taggedRingCases(list);
      const dir = mkdtempSync(join(tmpdir(), 'multirank-mpi-'));
      try {
        writeFileSync(join(dir, 'cases.json'), JSON.stringify(list.cases));
        const args = [join(dir, 'cases.json'), dir, ...(path === 'bandwidth' ? ['0'] : [])];
        const run = runMpi(processes, FIXTURE, args);
        t.is(run.status, 0, `mpirun failed (${run.signal ?? run.status}):\n${run.stdout}\n${run.stderr}`);
        const results = Array.from({ length: processes }, (_, r) =>
          JSON.parse(readFileSync(join(dir, `rank-${r}.json`), 'utf8')) as (CaseResult | null)[]);
        const problems = checkCases(list.cases, list.cases.map((_, i) => i), results, {});
        t.deepEqual(summarize(problems), [], `${problems.length} differences in ${list.cases.length} cases`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
}

/**
 * Bad input gives a clear error on every rank involved, fast, never a hang: arguments that disagree
 * across ranks (shape, dtype, path, collective, root, op, dim), out-of-range ranks, recv into the wrong
 * size or dtype, a dim that does not divide, reduce ops a dtype refuses (avg on integers, bitwise ops on
 * floats, all but sum and avg on complex). Jobs run with a 20 s timeout and
 * must fail (or finish) in a small part of it.
 */
import test from 'ava';
import { withRanks } from '../../src/testing/index.js';
import { ErrorCodes } from '../../src/errors.js';
import type { CaughtError } from '../fixtures/comm-errors.js';
import { quietFailures } from '../helpers/quiet-failures.js';

quietFailures();

const fixture = new URL('../fixtures/comm-errors.js', import.meta.url);
const TIMEOUT_MS = 20_000;
/**
 * A failure must be reported before any wait could have timed out. Not a timing goal: with 8 ranks on 2
 * loaded cores beside another test file a whole job took 9 s once; a wait that ran out its deadline takes
 * at least TIMEOUT_MS.
 */
const FAST_MS = 15_000;

interface Caught {
  errors: Record<string, CaughtError | 'no error' | unknown>;
  sum: number;
}

/** The value that occurs most often. */
function mostCommon(values: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '';
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - started };
}

function asError(t: { fail(message: string): void }, value: unknown, what: string): CaughtError | undefined {
  if (typeof value === 'object' && value !== null && 'code' in value) return value as CaughtError;
  t.fail(`${what}: expected an error, got ${JSON.stringify(value)}`);
  return undefined;
}

/** The mismatch report's line for reduceScatter / allToAll of an [n, n] float32 tensor. */
const scatter = (n: number, dim: number): RegExp =>
  new RegExp(`reduceScatter\\(dtype=float32, shape=\\[${n}, ${n}\\], op=sum, dim=${dim}\\)`);
const allToAll = (n: number, gatherDim: number): RegExp =>
  new RegExp(`allToAll\\(dtype=float32, shape=\\[${n}, ${n}\\], dim=0, dim2=${gatherDim}\\)`);

for (const n of [2, 3, 8]) {
  test.serial(`arguments that disagree across ranks give every rank the same MismatchError (${n} ranks)`, async (t) => {
    const { value, ms } = await timed(() => withRanks(n, { module: fixture, exportName: 'caughtMismatches' }, { timeoutMs: TIMEOUT_MS }));
    t.true(ms < FAST_MS, `took ${ms} ms`);
    const reports = value as Caught[];
    const expectations: Record<string, RegExp[]> = {
      shape: [/rank 0 \(group rank 0\): allReduce\(dtype=float32, shape=\[5\], op=sum\)/, /rank 1 \(group rank 1\): allReduce\(dtype=float32, shape=\[4\], op=sum\)/],
      dtype: [/allGather\(dtype=int32, shape=\[3\], dim=0\)/, /allGather\(dtype=float32, shape=\[3\], dim=0\)/],
      paths: [/shape=\[100000\]/, /shape=\[4\]/],
      bigShape: [new RegExp(`shape=\\[${n * 8192}\\]`), new RegExp(`shape=\\[${n * 8193}\\]`)],
      collective: [/broadcast\(dtype=float32, shape=\[4\], root=0\)/, /allReduce\(dtype=float32, shape=\[4\], op=sum\)/],
      root: [/root=0/, /root=1/],
      op: [/op=max/, /op=sum/],
      bitwiseOp: [/reduceScatter\(dtype=int32, shape=\[\d+\], op=band, dim=0\)/, /reduceScatter\(dtype=int32, shape=\[\d+\], op=bxor, dim=0\)/],
      complexDtype: [/allGather\(dtype=complex64, shape=\[3\], dim=0\)/, /allGather\(dtype=float64, shape=\[3\], dim=0\)/],
      dim: [/dim=0/, /dim=1/],
      reduce: [/reduce\(dtype=float32, shape=\[5\], op=sum, root=0\)/, /reduce\(dtype=float32, shape=\[4\], op=sum, root=0\)/],
      steady: [/shape=\[6\]/, /shape=\[4\]/],
      steadyRoot: [/broadcast\(dtype=float32, shape=\[4\], root=0\)/, /broadcast\(dtype=float32, shape=\[4\], root=1\)/],
      steadyDim: [/allGather\(dtype=float32, shape=\[2, 2\], dim=1\)/, /allGather\(dtype=float32, shape=\[2, 2\], dim=0\)/],
      scatterDim: [scatter(n, 1), scatter(n, 0)],
      steadyScatterDim: [scatter(n, 1), scatter(n, 0)],
      gatherDim: [allToAll(n, 1), allToAll(n, 0)],
      steadyGatherDim: [allToAll(n, 1), allToAll(n, 0)],
      crafted: [
        /rank 0 \(group rank 0\): allReduce\(dtype=float32, shape=\[1, 1, 61, 64\], op=sum\)/,
        /rank 1 \(group rank 1\): allReduce\(dtype=float32, shape=\[1, 2, 34, 3, 14\], op=sum\)/,
      ],
      craftedBroadcast: [
        /rank 0 \(group rank 0\): broadcast\(dtype=float32, shape=\[2, 1, 5, 1, 1, 388\], root=0\)/,
        /rank 1 \(group rank 1\): broadcast\(dtype=float32, shape=\[1, 1, 1, 1, 98, 40\], root=0\)/,
      ],
    };
    const messages = new Map<string, Set<string>>();
    const siteOf = new Map<string, string>();
    reports.forEach((report, rank) => {
      t.is(report.sum, (n * (n - 1)) / 2, `the group still works on rank ${rank}`);
      for (const [what, patterns] of Object.entries(expectations)) {
        const error = asError(t, report.errors[what], `${what} on rank ${rank}`);
        if (error === undefined) continue;
        t.is(error.code, ErrorCodes.MISMATCH, `${what} on rank ${rank}: ${error.message}`);
        t.regex(error.message, /Collective mismatch in call #\d+ of group world \[0, 1/, 'the group by its name');
        for (const pattern of patterns) t.regex(error.message, pattern, `${what} on rank ${rank}`);
        t.true(error.ms < FAST_MS, `${what} on rank ${rank} took ${error.ms} ms`);
        // Every rank called from the same line of the fixture, so every call site listed names that line
        // (mismatch reports have their own call-site slot, which a peer's later blocked wait cannot overwrite).
        const lines = [...error.message.matchAll(/comm-errors\.[jt]s:(\d+):\d+/g)].map((m) => m[1]!);
        const line = mostCommon(lines);
        t.is(lines.length, n, `${what} on rank ${rank}: every rank's call site is listed: ${error.message}`);
        t.true(lines.every((l) => l === line), `${what} on rank ${rank}: every call site names the same line: ${error.message}`);
        siteOf.set(what, line);
        messages.set(what, (messages.get(what) ?? new Set()).add(error.message.replace(/ at [^\n]*/g, '')));
      }
    });
    // Apart from the call sites, every rank reports the same message.
    for (const [what, set] of messages) t.is(set.size, 1, `${what}: every rank reports the same message`);
    t.is(new Set(siteOf.values()).size, Object.keys(expectations).length, 'each mismatch names its own call site');
  });
}

for (const n of [1, 4]) {
  test.serial(`bad arguments throw TypeError/RangeError naming the argument on the caller (${n} rank(s))`, async (t) => {
    const reports = (await withRanks(n, { module: fixture, exportName: 'caughtBadArguments' }, { timeoutMs: TIMEOUT_MS })) as Caught[];
    const expectations: Record<string, [string, RegExp, string]> = {
      broadcastSrc: [ErrorCodes.OUT_OF_RANGE, new RegExp(`\`options.src\` \\(-1\\) must be a rank of this group \\(0..${n - 1}\\)`), 'RangeError'],
      reduceDst: [ErrorCodes.OUT_OF_RANGE, new RegExp(`\`options.dst\` \\(${n}\\) must be a rank of this group`), 'RangeError'],
      gatherDst: [ErrorCodes.OUT_OF_RANGE, /`options.dst` \(1.5\)/, 'RangeError'],
      sendDst: [ErrorCodes.OUT_OF_RANGE, new RegExp(`\`options.dst\` \\(${n}\\)`), 'RangeError'],
      recvSrc: [ErrorCodes.OUT_OF_RANGE, new RegExp(`\`options.src\` \\(${n + 1}\\)`), 'RangeError'],
      sendObjectDst: [ErrorCodes.OUT_OF_RANGE, new RegExp(`\`dst\` \\(${n}\\)`), 'RangeError'],
      broadcastObjectSrc: [ErrorCodes.OUT_OF_RANGE, new RegExp(`\`options.src\` \\(${n}\\)`), 'RangeError'],
      avgInt: [ErrorCodes.DTYPE, /"avg" is not allowed on dtype "int32"/, 'TypeError'],
      avgBool: [ErrorCodes.DTYPE, /"avg" is not allowed on dtype "bool"/, 'TypeError'],
      avgScatter: [ErrorCodes.DTYPE, /"avg" is not allowed on dtype "int64"/, 'TypeError'],
      bandFloat: [ErrorCodes.DTYPE, /"band" is not allowed on dtype "float32": bitwise ops \(band, bor, bxor\) need an integer or bool dtype/, 'TypeError'],
      bxorHalf: [ErrorCodes.DTYPE, /"bxor" is not allowed on dtype "bfloat16"/, 'TypeError'],
      complexMax: [ErrorCodes.DTYPE, /"max" is not allowed on dtype "complex64": complex dtypes .* take only sum and avg/, 'TypeError'],
      complexProd: [ErrorCodes.DTYPE, /"prod" is not allowed on dtype "complex128"/, 'TypeError'],
      complexBor: [ErrorCodes.DTYPE, /"bor" is not allowed on dtype "complex64"/, 'TypeError'],
      unknownOp: [ErrorCodes.INVALID_ARG_VALUE, /`options.op` to be one of "sum", "prod", "min", "max", "avg", "band", "bor", "bxor", got "mean"/, 'TypeError'],
      badDim: [ErrorCodes.OUT_OF_RANGE, /`options.dim` \(2\) is out of range/, 'RangeError'],
    };
    if (n > 1) {
      expectations.notDivisible = [ErrorCodes.SHAPE, new RegExp(`dim 1 .* has size ${n + 1}, which is not divisible by the group size ${n}`), 'RangeError'];
      expectations.allToAllNotDivisible = [ErrorCodes.SHAPE, new RegExp(`allToAll: dim 0 .* not divisible by the group size ${n}`), 'RangeError'];
    }
    reports.forEach((report, rank) => {
      t.is(report.sum, (n * (n - 1)) / 2, `the group still works on rank ${rank}`);
      for (const [what, [code, pattern, name]] of Object.entries(expectations)) {
        const error = asError(t, report.errors[what], `${what} on rank ${rank}`);
        if (error === undefined) continue;
        t.is(error.code, code, `${what} on rank ${rank}: ${error.message}`);
        t.is(error.name, name, `${what} on rank ${rank}`);
        t.regex(error.message, pattern, `${what} on rank ${rank}`);
      }
    });
  });
}

for (const n of [2, 8]) {
  test.serial(`recv into the wrong size, dtype or shape fails on the receiver; later messages still arrive (${n} ranks)`, async (t) => {
    const reports = (await withRanks(n, { module: fixture, exportName: 'caughtRecvMismatch' }, { timeoutMs: TIMEOUT_MS })) as Caught[];
    const errors = reports[n - 1]!.errors;
    // One regex from pieces, in order: `re(/a/, /b/)` requires exactly what /ab/ does.
    const re = (...parts: RegExp[]): RegExp => new RegExp(parts.map((p) => p.source).join(''));
    const sent = / from rank 0, but that rank sent a tensor of dtype float32/;
    const expectations: Record<string, RegExp> = {
      size: re(/called recv\(shape=\[5\], dtype=float32\)/, sent, / and shape \[4\]/),
      dtype: /called recv\(shape=\[4\], dtype=int32\) from rank 0, but that rank sent a tensor of dtype float32/,
      shape: re(/called recv\(shape=\[4\], dtype=float32\)/, sent, / and shape \[2, 2\]/),
      dims: re(/called recv\(shape=\[3, 2\], dtype=float32\)/, sent, / and shape \[2, 3\]/),
    };
    for (const [what, pattern] of Object.entries(expectations)) {
      const error = asError(t, errors[what], what);
      if (error === undefined) continue;
      t.is(error.code, ErrorCodes.MISMATCH);
      t.regex(error.message, pattern);
    }
    t.deepEqual(errors.after, [5, 6, 7, 8]);
    reports.forEach((r) => t.is(r.sum, (n * (n - 1)) / 2));
  });
}

async function failsFast(t: { true(v: boolean, m?: string): void }, exportName: string, n: number): Promise<Error & { code?: string; rank?: number; cause?: unknown }> {
  const started = performance.now();
  let error: unknown;
  await withRanks(n, { module: fixture, exportName }, { timeoutMs: TIMEOUT_MS }).catch((e: unknown) => (error = e));
  const ms = performance.now() - started;
  t.true(ms < FAST_MS, `${exportName} failed after ${ms.toFixed(0)} ms`);
  return error as Error & { code?: string; rank?: number; cause?: unknown };
}

test.serial('dst out of range on one rank: RangeError on the caller, the others are released at once', async (t) => {
  const error = await failsFast(t, 'throwsDstOutOfRange', 4);
  t.is(error?.code, ErrorCodes.RANK_FAILED);
  t.is(error.rank, 1);
  t.regex(error.message, /Rank 1 failed: RangeError: `options.dst` \(4\) must be a rank of this group \(0..3\)/);
  t.regex(error.message, /ranks 0, 2, 3 were stopped because of it/);
  t.is((error.cause as { code?: string }).code, ErrorCodes.OUT_OF_RANGE);
});

test.serial('an uncaught shape mismatch fails the job fast with the MismatchError', async (t) => {
  const error = await failsFast(t, 'throwsShapeMismatch', 8);
  t.is(error?.code, ErrorCodes.RANK_FAILED);
  t.is((error.cause as { code?: string }).code, ErrorCodes.MISMATCH);
  t.regex(error.message, /MismatchError: Collective mismatch/);
  t.regex(error.message, /allReduce\(dtype=float32, shape=\[3\], op=sum\)/);
});

test.serial('a dim that does not divide on one rank fails the job fast, naming the rank and the sizes', async (t) => {
  const error = await failsFast(t, 'throwsNotDivisible', 3);
  t.is(error?.code, ErrorCodes.RANK_FAILED);
  t.is(error.rank, 2);
  t.is((error.cause as { code?: string }).code, ErrorCodes.SHAPE);
  t.regex(error.message, /reduceScatter: dim 0 of the input \(shape \[4\]\) has size 4, which is not divisible by the group size 3/);
});

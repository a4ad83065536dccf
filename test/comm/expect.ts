/**
 * The expected report of every rank for a case, from the plain-JS reference (test process side), and
 * the comparison of a job's reports with it.
 */
import type { StorageArray } from '../../src/tensor/dtype.js';
import {
  gatheredShape, normDim, numelOf, refAllGather, refAllReduce, refAllToAll, refBroadcast, refReduce, refReduceScatter, refRing,
} from '../helpers/collective-reference.js';
import { bytesOf, canonicalDigest, entryShape, inputSeed, makeInput, rawDigest, type CaseResult, type CaseSpec } from './data.js';

/** What one rank must report (`raw` only where it is known: ring's second message). */
export interface Expected {
  out: string;
  input: string;
  shape: number[] | null;
  same: boolean;
  raw?: string;
}

/** A reference result per member: output (or null), input after the call, and whether it is the caller's tensor. */
interface MemberOutcome {
  out: StorageArray | null;
  after: StorageArray;
  shape: number[] | null;
  same: boolean;
}

/**
 * The reference outcome of every member. Data movement runs on the storage entries: a complex tensor of
 * shape S moves as a real one of shape [...S, 2] (`entryShape`), with dims counted in S.
 */
function outcomes(spec: CaseSpec, inputs: StorageArray[]): MemberOutcome[] {
  const w = inputs.length;
  const { dtype, shape } = spec;
  const entries = entryShape(dtype, shape);
  const dimOf = (dim: number): number => normDim(dim, shape);
  const plain = (outs: StorageArray[], outShape: number[], same: boolean): MemberOutcome[] =>
    outs.map((out, m) => ({ out, after: inputs[m]!, shape: outShape, same }));
  switch (spec.coll) {
    case 'allReduce': {
      const out = refAllReduce(dtype, spec.op!, inputs);
      const same = spec.out !== undefined || w === 1;
      return inputs.map((input) => ({ out, after: spec.out === 'self' ? out : input, shape, same }));
    }
    case 'reduce':
      return refReduce(dtype, spec.op!, inputs, spec.root!).map((out, m) => ({ out, after: inputs[m]!, shape, same: m !== spec.root || w === 1 }));
    case 'reduceScatter': {
      const outShape = [...shape];
      outShape[normDim(spec.dim!, shape)]! /= w;
      return plain(refReduceScatter(dtype, spec.op!, inputs, entries, dimOf(spec.dim!)), outShape, w === 1);
    }
    case 'allGather': {
      const out = refAllGather(inputs, entries, dimOf(spec.dim!));
      return plain(inputs.map(() => out), gatheredShape(shape, w, spec.dim!), w === 1);
    }
    case 'gather': {
      const out = refAllGather(inputs, entries, dimOf(spec.dim!));
      const outShape = gatheredShape(shape, w, spec.dim!);
      return inputs.map((input, m) => (m === spec.root ? { out, after: input, shape: outShape, same: w === 1 } : { out: null, after: input, shape: null, same: false }));
    }
    case 'broadcast':
      return refBroadcast(inputs, spec.root!).map((out) => ({ out, after: out, shape, same: true }));
    case 'allToAll': {
      const outShape = [...shape];
      if (w > 1) {
        outShape[normDim(spec.scatterDim!, shape)]! /= w;
        outShape[normDim(spec.gatherDim!, shape)]! *= w;
      }
      return plain(refAllToAll(inputs, entries, dimOf(spec.scatterDim!), dimOf(spec.gatherDim!)), outShape, w === 1);
    }
    case 'ring':
      return plain(refRing(inputs), shape, false);
    case 'barrier':
      return inputs.map((input) => ({ out: null, after: input, shape: null, same: false }));
  }
}

/** Expected reports of the members of `ranks` (world ranks in group order), keyed by world rank. */
export function expectedFor(spec: CaseSpec, ranks: readonly number[]): Map<number, Expected> {
  const numel = numelOf(spec.shape);
  const inputs = ranks.map((r) => makeInput(spec.dtype, numel, inputSeed(spec.seed, r), spec.kind));
  const result = new Map<number, Expected>();
  outcomes(spec, inputs).forEach((o, m) => {
    const e: Expected = {
      out: o.out === null ? 'null' : canonicalDigest(spec.dtype, bytesOf(o.out)),
      input: canonicalDigest(spec.dtype, bytesOf(o.after)),
      shape: o.shape,
      same: o.same,
    };
    if (spec.coll === 'ring') {
      const prev = ranks[(m - 1 + ranks.length) % ranks.length]!;
      e.raw = rawDigest(bytesOf(makeInput(spec.dtype, numel, inputSeed(spec.seed + 1, prev), spec.kind)));
    }
    result.set(ranks[m]!, e);
  });
  return result;
}

/** A short description of a case for failure messages. */
export function describeCase(spec: CaseSpec): string {
  const parts = [`${spec.coll}@${spec.group}`, spec.dtype, `[${spec.shape.join(',')}]`, spec.kind];
  if (spec.op !== undefined) parts.push(`op=${spec.op}`);
  if (spec.dim !== undefined) parts.push(`dim=${spec.dim}`);
  if (spec.scatterDim !== undefined) parts.push(`scatter=${spec.scatterDim} gather=${spec.gatherDim}`);
  if (spec.root !== undefined) parts.push(`root=${spec.root}`);
  if (spec.out !== undefined) parts.push(`out=${spec.out}`);
  parts.push(spec.plain === true ? 'plain' : 'shared');
  if (spec.offset !== undefined && spec.offset > 0) parts.push(`offset=${spec.offset}`);
  return `${parts.join(' ')} seed=${spec.seed}`;
}

/** Collectives whose result is the same tensor on every member. */
const SAME_EVERYWHERE = new Set(['allReduce', 'allGather', 'broadcast']);

/** The differences between one rank's report and what it should be (`where` names the case and rank). */
function compareReport(where: string, got: CaseResult, e: Expected): string[] {
  const problems: string[] = [];
  const tensorWord = (same: boolean): string => (same ? "the caller's tensor" : 'a new tensor');
  if (got.out !== e.out) problems.push(`${where}: output ${got.out}, expected ${e.out}`);
  if (got.input !== e.input) problems.push(`${where}: input after the call ${got.input}, expected ${e.input}`);
  if (JSON.stringify(got.shape) !== JSON.stringify(e.shape)) problems.push(`${where}: shape ${JSON.stringify(got.shape)}, expected ${JSON.stringify(e.shape)}`);
  if (got.same !== e.same) problems.push(`${where}: returned ${tensorWord(got.same)}, expected ${tensorWord(e.same)}`);
  if (e.raw !== undefined && got.raw !== e.raw) problems.push(`${where}: second message ${got.raw}, expected ${e.raw}`);
  return problems;
}

/**
 * Compares each rank's reports (`results[rank][caseIndex]`) with the reference for the cases at
 * `indices`; `groups` maps a group name to its groups of world ranks. Returns one line per mismatch.
 */
export function checkCases(cases: readonly CaseSpec[], indices: readonly number[], results: readonly (readonly (CaseResult | null)[])[], groups: Record<string, number[][]>): string[] {
  const problems: string[] = [];
  const all: Record<string, number[][]> = { world: [Array.from({ length: results.length }, (_, r) => r)], ...groups };
  for (const i of indices) {
    const spec = cases[i]!;
    const members = new Set<number>();
    for (const ranks of all[spec.group]!) {
      const raws = new Set<string>();
      for (const [rank, e] of expectedFor(spec, ranks)) {
        members.add(rank);
        const got = results[rank]![i];
        if (got === null || got === undefined) {
          problems.push(`${describeCase(spec)}: rank ${rank} reported nothing`);
          continue;
        }
        raws.add(got.raw);
        problems.push(...compareReport(`${describeCase(spec)} on rank ${rank} of [${ranks.join(',')}]`, got, e));
      }
      if (SAME_EVERYWHERE.has(spec.coll) && raws.size > 1) problems.push(`${describeCase(spec)} on [${ranks.join(',')}]: results differ in bits between ranks (${[...raws].join(' ')})`);
    }
    results.forEach((perRank, rank) => {
      if (!members.has(rank) && perRank[i] !== null) problems.push(`${describeCase(spec)}: rank ${rank} is in no group but reported a result`);
    });
  }
  return problems;
}

/** The first `limit` problems, and how many more there were (keeps failure output readable). */
export function summarize(problems: readonly string[], limit = 12): string[] {
  return problems.length <= limit ? [...problems] : [...problems.slice(0, limit), `... and ${problems.length - limit} more`];
}

/**
 * `patchTensorParallelGroup` of vLLM and FastVideo, and FastVideo's `patchSequenceParallelGroup`: swap
 * this rank's tp (or sp) group for another one until the patch is restored (upstream: context managers
 * for speculative-decoding draft workers, and for models that run with another tp / sp degree). Offered as
 * a scope (`patch(group, fn)`, restored when `fn` returns, throws or its promise settles) and as a handle
 * (`restore()` / `[Symbol.dispose]()`). A second patch of the same kind while one is live is refused, as
 * upstream asserts; a tp patch and an sp patch may be live together.
 */
import { invalidType, outOfRange } from '../errors.js';
import { GroupCoordinator } from '../group/coordinator.js';
import { destroyDistributedEnvironment } from './environment.js';
import { currentOf, requireCurrent, type Flavour } from './front-end.js';

/** A live group patch. Restoring twice is harmless. */
export interface GroupPatch {
  /** The group that the getter (getTpGroup() / getSpGroup()) returns while the patch is live. */
  readonly group: GroupCoordinator;
  /** The group that the patch replaced (restored by `restore()`). */
  readonly replaced: GroupCoordinator;
  /** Puts the replaced group back. */
  restore(): void;
  [Symbol.dispose](): void;
}

/** A live tp-group patch. */
export type TensorParallelPatch = GroupPatch;
/** A live sp-group patch (FastVideo). */
export type SequenceParallelPatch = GroupPatch;

/** The part of a front-end's `extra` that holds the live patches (upstream's `_TP_STATE_PATCHED`). */
export interface PatchFlag {
  tpPatch: GroupPatch | null;
  spPatch: GroupPatch | null;
}

/** The kinds that can be patched, with the names their messages use. */
const KINDS = {
  tp: {
    flag: 'tpPatch', fn: 'patchTensorParallelGroup', arg: 'tpGroup', what: 'tensor model parallel group',
    short: 'tensor',
  },
  sp: {
    flag: 'spPatch', fn: 'patchSequenceParallelGroup', arg: 'spGroup', what: 'sequence model parallel group',
    short: 'sequence',
  },
} as const;

/** A patchable kind: `tp`, or `sp` (FastVideo). */
export type PatchKind = keyof typeof KINDS;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** Ends the live patches of a front-end's `extra` (a no-op without one). */
function restorePatches(extra: unknown): void {
  const flags = extra as Partial<PatchFlag> | undefined;
  flags?.tpPatch?.restore();
  flags?.spPatch?.restore();
}

/**
 * Ends the live patches (if any) and destroys this rank's model-parallel groups of `flavour`: the groups
 * the front-end created are destroyed, the patching groups (the caller's) are left alone.
 */
export function destroyPatchedModelParallel(flavour: Flavour): void {
  const current = currentOf<unknown, PatchFlag>(flavour);
  if (current === undefined) return;
  restorePatches(current.mp.extra);
  current.state.destroyModelParallel();
}

/** Starts a patch of `flavour`'s `kind` group; see the exported overloads in vllm.ts / fastvideo.ts. */
export function startPatch(flavour: Flavour, kind: PatchKind, group: unknown): GroupPatch {
  const names = KINDS[kind];
  if (!(group instanceof GroupCoordinator)) throw invalidType(names.arg, 'a GroupCoordinator', group);
  const { state, mp } = requireCurrent<unknown, PatchFlag>(flavour, names.what);
  const replaced = state.groups.get(kind);
  if (replaced === undefined) throw outOfRange(`${names.fn}: this rank has no ${names.what} to patch`);
  if (mp.extra[names.flag] !== null) {
    throw outOfRange(
      `${names.fn}: the ${names.short} parallel group is already patched; restore that patch before patching again`,
    );
  }
  let live = true;
  const restore = () => {
    if (!live) return;
    live = false;
    mp.extra[names.flag] = null;
    // After destroyModelParallel() (and perhaps a new initialization) there is nothing of ours to put back.
    if (state.modelParallel === (mp as unknown) && state.groups.get(kind) === group) state.groups.set(kind, replaced);
  };
  const patch: GroupPatch = { group, replaced, restore, [Symbol.dispose]: restore };
  mp.extra[names.flag] = patch;
  state.groups.set(kind, group);
  return patch;
}

/** Runs `fn` with the patch live and restores it when `fn` returns, throws, or its promise settles. */
export function withPatch<T>(flavour: Flavour, kind: PatchKind, group: unknown, fn: () => T): T {
  if (typeof fn !== 'function') throw invalidType('fn', 'a function', fn);
  const patch = startPatch(flavour, kind, group);
  let result: T;
  try {
    result = fn();
  } catch (error) {
    patch.restore();
    throw error;
  }
  if (isThenable(result)) {
    return Promise.resolve(result).finally(() => patch.restore()) as T;
  }
  patch.restore();
  return result;
}

/** `patch<Kind>ParallelGroup` of `flavour`: with `fn`, a scoped patch ({@link withPatch}), else a handle. */
export function patchGroup<T>(flavour: Flavour, kind: PatchKind, group: unknown, fn?: () => T): T | GroupPatch {
  return fn === undefined ? startPatch(flavour, kind, group) : withPatch(flavour, kind, group, fn);
}

/** `patchTensorParallelGroup` of `flavour` (kept for the front-ends that only patch tp). */
export function patchTensorParallel<T>(flavour: Flavour, tpGroup: unknown, fn?: () => T): T | GroupPatch {
  return patchGroup(flavour, 'tp', tpGroup, fn);
}

/** `cleanupDistEnvAndMemory` of `flavour`: its model-parallel groups (ending live patches), then the environment. */
export function cleanupPatchedDistEnv(flavour: Flavour): void {
  destroyPatchedModelParallel(flavour);
  destroyDistributedEnvironment();
}

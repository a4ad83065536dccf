/**
 * `patchTensorParallelGroup` of vLLM and FastVideo: swap this rank's tp group for another one until the
 * patch is restored (upstream: a context manager for speculative-decoding draft workers that run with
 * another tp degree). Offered as a scope (`patch(group, fn)`, restored when `fn` returns or its promise
 * settles) and as a handle (`restore()` / `[Symbol.dispose]()`).
 */
import { invalidType, outOfRange } from '../errors.js';
import { GroupCoordinator } from '../group/coordinator.js';
import { destroyDistributedEnvironment } from './environment.js';
import { currentOf, requireCurrent, type Flavour } from './front-end.js';

/** A live tp-group patch. Restoring twice is harmless. */
export interface TensorParallelPatch {
  /** The group that getTpGroup() returns while the patch is live. */
  readonly group: GroupCoordinator;
  /** The tp group that the patch replaced (restored by `restore()`). */
  readonly replaced: GroupCoordinator;
  /** Puts the replaced group back. */
  restore(): void;
  [Symbol.dispose](): void;
}

/** The part of a front-end's `extra` that holds the live patch (upstream's `_TP_STATE_PATCHED`). */
export interface PatchFlag {
  tpPatch: TensorParallelPatch | null;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/**
 * Ends a live patch (if any) and destroys this rank's model-parallel groups of `flavour`: the groups the
 * front-end created are destroyed, the patching group (the caller's) is left alone.
 */
export function destroyPatchedModelParallel(flavour: Flavour): void {
  const current = currentOf<unknown, PatchFlag>(flavour);
  if (current === undefined) return;
  current.mp.extra.tpPatch?.restore();
  current.state.destroyModelParallel();
}

/** Starts a patch of `flavour`'s tp group; see the exported overloads in vllm.ts / fastvideo.ts. */
export function startTensorParallelPatch(flavour: Flavour, tpGroup: unknown): TensorParallelPatch {
  if (!(tpGroup instanceof GroupCoordinator)) throw invalidType('tpGroup', 'a GroupCoordinator', tpGroup);
  const { state, mp } = requireCurrent<unknown, PatchFlag>(flavour, 'tensor model parallel group');
  const replaced = state.groups.get('tp');
  if (replaced === undefined) throw outOfRange('patchTensorParallelGroup: this rank has no tensor model parallel group to patch');
  if (mp.extra.tpPatch !== null) {
    throw outOfRange('patchTensorParallelGroup: the tensor parallel group is already patched; restore that patch before patching again');
  }
  let live = true;
  const restore = () => {
    if (!live) return;
    live = false;
    mp.extra.tpPatch = null;
    // After destroyModelParallel() (and perhaps a new initialization) there is nothing of ours to put back.
    if (state.modelParallel === (mp as unknown) && state.groups.get('tp') === tpGroup) state.groups.set('tp', replaced);
  };
  const patch: TensorParallelPatch = { group: tpGroup, replaced, restore, [Symbol.dispose]: restore };
  mp.extra.tpPatch = patch;
  state.groups.set('tp', tpGroup);
  return patch;
}

/** Runs `fn` with the patch live and restores it when `fn` returns, throws, or its promise settles. */
export function withTensorParallelPatch<T>(flavour: Flavour, tpGroup: unknown, fn: () => T): T {
  if (typeof fn !== 'function') throw invalidType('fn', 'a function', fn);
  const patch = startTensorParallelPatch(flavour, tpGroup);
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

/** `patchTensorParallelGroup` of `flavour`: with `fn`, a scoped patch ({@link withTensorParallelPatch}), else a handle. */
export function patchTensorParallel<T>(flavour: Flavour, tpGroup: unknown, fn?: () => T): T | TensorParallelPatch {
  return fn === undefined ? startTensorParallelPatch(flavour, tpGroup) : withTensorParallelPatch(flavour, tpGroup, fn);
}

/** `cleanupDistEnvAndMemory` of `flavour`: its model-parallel groups (ending a live patch), then the distributed environment. */
export function cleanupPatchedDistEnv(flavour: Flavour): void {
  destroyPatchedModelParallel(flavour);
  destroyDistributedEnvironment();
}

/**
 * Plumbing shared by the flavour front-ends (vllm.ts, megatron.ts, fastvideo.ts): this rank's
 * model-parallel record for a flavour, creating a plan's groups in upstream's order, the
 * NOT_INITIALIZED errors that getters raise, and the backend check.
 *
 * Upstream keeps one set of module globals per flavour; here every rank has one ParallelState whose
 * `modelParallel` slot names the flavour that filled it, so a getter of another flavour sees "not
 * initialized" (as upstream's own globals would be None).
 */
import { ErrorCodes, invalidChoice, MultirankError, outOfRange } from '../errors.js';
import type { GroupCoordinator } from '../group/coordinator.js';
import { distributedEnvironmentIsInitialized, getParallelState } from './environment.js';
import { BACKENDS, type ParallelState } from './parallel-state.js';
import type { PatchFlag } from './tp-patch.js';

/** The three front-ends. */
export type Flavour = 'vllm' | 'megatron' | 'fastvideo';

/** `state.modelParallel` as a front-end fills it. */
interface ModelParallelRecord<P, E> {
  flavour: Flavour;
  plan: P;
  extra: E;
}

/** A rank's state together with its model-parallel record of one flavour. */
export interface Current<P, E> {
  state: ParallelState;
  mp: ModelParallelRecord<P, E>;
}

/** `<what> is not initialized: <hint>` with code ERR_MULTIRANK_NOT_INITIALIZED. */
export function notInitialized(what: string, hint: string): MultirankError {
  return new MultirankError(ErrorCodes.NOT_INITIALIZED, `${what} is not initialized: ${hint}`);
}

/** This rank's ParallelState, or a NOT_INITIALIZED error naming `what`. */
export function requireEnvironment(what: string): ParallelState {
  if (!distributedEnvironmentIsInitialized()) {
    throw notInitialized(what, 'call initDistributedEnvironment() on this rank first');
  }
  return getParallelState();
}

/** The record of `flavour` on this rank, or undefined (no environment, not initialized, other flavour). */
export function currentOf<P, E>(flavour: Flavour): Current<P, E> | undefined {
  if (!distributedEnvironmentIsInitialized()) return undefined;
  const state = getParallelState();
  const mp = state.modelParallel;
  if (mp === undefined || mp.flavour !== flavour) return undefined;
  return { state, mp: mp as ModelParallelRecord<P, E> };
}

/** Why `flavour`'s groups are missing on this rank, for the error message. */
export function missingHint(flavour: Flavour): string {
  if (!distributedEnvironmentIsInitialized()) {
    return 'call initDistributedEnvironment() and then initializeModelParallel() first';
  }
  const other = getParallelState().modelParallel?.flavour;
  if (other !== undefined && other !== flavour) {
    return `model parallelism on this rank was initialized by multirank/${other}, not multirank/${flavour}; use that ` +
      `module's getters`;
  }
  return `call initializeModelParallel() from multirank/${flavour} first`;
}

/** The record of `flavour`, or a NOT_INITIALIZED error naming `what`. */
export function requireCurrent<P, E>(flavour: Flavour, what: string): Current<P, E> {
  const current = currentOf<P, E>(flavour);
  if (current === undefined) throw notInitialized(what, missingHint(flavour));
  return current;
}

/**
 * The NOT_INITIALIZED error for a missing group `<what> is not initialized: <hint>`: before `flavour`
 * initialized model parallelism the hint says so, after it `absentHint(current)` explains the absence.
 */
export function groupMissing<P, E>(
  flavour: Flavour, current: Current<P, E> | undefined, what: string, absentHint: (current: Current<P, E>) => string,
): MultirankError {
  return notInitialized(what, current === undefined ? missingHint(flavour) : absentHint(current));
}

/**
 * This rank's group of `kind`, or a NOT_INITIALIZED error `<what> is not initialized: <hint>`;
 * `absentHint` explains a group that the configuration does not create (after initialization).
 */
export function requireGroup(flavour: Flavour, kind: string, what: string, absentHint?: string): GroupCoordinator {
  const current = currentOf(flavour);
  const group = current?.state.groups.get(kind);
  if (group !== undefined) return group;
  throw groupMissing(flavour, current, what,
    (c) => absentHint ??
      `rank ${c.state.rank} is in no group of this kind for the configuration given to initializeModelParallel()`);
}

/**
 * True when `flavour` initialized model parallelism on this rank and this rank has a group of every kind of `kinds`.
 */
export function hasGroups(flavour: Flavour, kinds: readonly string[]): boolean {
  const groups = currentOf(flavour)?.state.groups;
  return groups !== undefined && kinds.every((kind) => groups.has(kind));
}

/**
 * Accepts `backend` when it is absent or names the environment's backend (every group of a job runs
 * on the backend the world group was created with).
 * @throws TypeError ERR_MULTIRANK_INVALID_ARG_VALUE for an unknown backend name.
 * @throws MultirankError ERR_MULTIRANK_BACKEND_UNAVAILABLE for another known backend.
 */
export function checkBackend(state: ParallelState, backend: unknown): void {
  if (backend === undefined || backend === null) return;
  if (typeof backend !== 'string' || !(BACKENDS as readonly string[]).includes(backend)) {
    throw invalidChoice('options.backend', BACKENDS, backend);
  }
  if (backend !== state.backend) {
    throw new MultirankError(
      ErrorCodes.BACKEND_UNAVAILABLE,
      `\`options.backend\` is "${backend}", but this rank's distributed environment runs on "${state.backend}"; ` +
        `model-parallel groups use the environment's backend (omit the option)`,
    );
  }
}

/** One kind of a plan: the groups to create, and the key this rank's group is stored under. */
export interface GroupSpec {
  kind: string;
  groups: readonly (readonly number[])[];
}

/**
 * Initializes model parallelism on this rank: refuses when it already is, creates the groups of
 * `specs` in order (every rank makes the same calls, so group keys agree), stores this rank's group of
 * each kind in `state.groups` and sets `state.modelParallel`. If a creation fails, the groups made so
 * far are destroyed and the state is left uninitialized.
 * @throws RangeError ERR_MULTIRANK_OUT_OF_RANGE when model parallelism is already initialized.
 */
export function installModelParallel<P, E>(
  state: ParallelState, flavour: Flavour, plan: P, specs: readonly GroupSpec[], extra: E, timeoutMs = state.timeoutMs,
): void {
  const existing = state.modelParallel;
  if (existing !== undefined) {
    throw outOfRange(
      `Model parallel groups are already initialized on rank ${state.rank} (by multirank/${existing.flavour}); call ` +
        `destroyModelParallel() before initializing again`,
    );
  }
  try {
    for (const { kind, groups } of specs) {
      const group = state.newGroup(groups, kind, timeoutMs);
      if (group !== undefined) state.groups.set(kind, group);
    }
  } catch (error) {
    state.destroyModelParallel();
    throw error;
  }
  state.modelParallel = { flavour, plan, extra: extra as unknown as Record<string, unknown> };
}

/**
 * {@link installModelParallel} for a vLLM / FastVideo plan: the plan's groups of each of `kinds` in that
 * order (`world` is the environment's; kinds the plan lacks are skipped), with no tp / sp patch live.
 */
export function installPlan<
  K extends string, P extends { readonly groups: Partial<Record<K, readonly (readonly number[])[]>> },
>(
  state: ParallelState, flavour: Flavour, kinds: readonly K[], plan: P,
): void {
  const specs = kinds
    .filter((kind) => kind !== 'world' && plan.groups[kind] !== undefined)
    .map((kind) => ({ kind, groups: plan.groups[kind]! }));
  installModelParallel<P, PatchFlag>(state, flavour, plan, specs, { tpPatch: null, spPatch: null });
}

/**
 * This rank's group among `groups`, created under `name` (every rank makes the same call), or a RangeError `absent()`.
 */
export function newGroupOrThrow(
  state: ParallelState, groups: readonly (readonly number[])[], name: string, absent: () => string,
  localRank = state.localRank,
): GroupCoordinator {
  const group = state.newGroup(groups, name, state.timeoutMs, localRank);
  if (group === undefined) throw outOfRange(absent());
  return group;
}

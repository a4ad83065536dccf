/**
 * Megatron's communicator-level helpers (megatron/core/parallel_state.py at the commit that
 * docs/TOPOLOGY.md cites): the separate all-gather groups (`create_all_gather_groups`), changing group
 * deadlines (`update_pg_timeout`), and the NCCL communicator configuration (`get_nccl_options`,
 * `overwrite_nccl_comm_cfgs`). This build has no NCCL backend: the configuration helpers keep and return
 * the configuration as upstream reads and writes it, and no group uses it.
 */
import { describe, ErrorCodes, checkInteger, invalidType, MultirankError, outOfRange } from '../errors.js';
import { checkTimeout } from '../group/args.js';
import { GroupCoordinator } from '../group/coordinator.js';
import { planMegatronAllGatherGroups } from '../topology/index.js';
import { notInitialized, requireEnvironment } from './front-end.js';
import { addProcessGroups, megatronGlobals } from './megatron-globals.js';
import {
  getContextParallelWorldSize, getDataParallelWorldSize, getExpertDataParallelWorldSize,
  getExpertModelParallelWorldSize,
  getExpertTensorParallelWorldSize, getPipelineModelParallelWorldSize, getTensorModelParallelWorldSize,
} from './megatron-ranks.js';
import { lookupGroup } from './megatron-runtime.js';

/** NCCL communicator settings by process-group name (upstream's YAML dict; keys as upstream spells them). */
export type NcclCommCfgs = Record<string, Record<string, unknown>>;

/** What `get_nccl_options` builds (torch's `ProcessGroupNCCL.Options`), in camelCase. */
export interface NcclOptions {
  isHighPriorityStream: boolean;
  config: { cgaClusterSize?: number; maxCtas?: number; minCtas?: number; netName?: string };
}

/** Options of {@link createAllGatherGroups}. */
export interface AllGatherGroupsOptions {
  /** Also make the expert data-parallel all-gather groups (only when expertModelParallelSize > 1). */
  forExpertParallelism?: boolean;
  /** Default deadline of the new groups in ms (upstream's `timeout`; default: the environment's). */
  timeoutMs?: number;
  /** Upstream's `nccl_comm_cfgs` (read for `dp_cp` and `ep_dp`; checked, no effect in this build). */
  ncclCommCfgs?: NcclCommCfgs | null;
}

function checkCfgs(ncclCommCfgs: unknown): NcclCommCfgs {
  if (ncclCommCfgs === null || typeof ncclCommCfgs !== 'object' || Array.isArray(ncclCommCfgs)) {
    throw invalidType('ncclCommCfgs', 'an object of settings by process-group name', ncclCommCfgs);
  }
  return ncclCommCfgs as NcclCommCfgs;
}

/**
 * Upstream's `get_nccl_options(pg_name, nccl_comm_cfgs)`: the options of group `pgName` built from its
 * settings (`is_high_priority_stream`, `cga_cluster_size`, `max_ctas`, `min_ctas`, `net_name`), or null
 * when the configuration has none for it (NCCL's defaults apply).
 * @throws RangeError ERR_MULTIRANK_OUT_OF_RANGE for a `net_name` other than IB or socket (any case).
 * @throws TypeError ERR_MULTIRANK_INVALID_ARG_TYPE for a setting of the wrong type.
 */
export function getNcclOptions(pgName: string, ncclCommCfgs: NcclCommCfgs): NcclOptions | null {
  if (typeof pgName !== 'string') throw invalidType('pgName', 'a process-group name (string)', pgName);
  const cfgs = checkCfgs(ncclCommCfgs);
  if (!Object.prototype.hasOwnProperty.call(cfgs, pgName)) return null;
  const cfg = cfgs[pgName];
  const at = `ncclCommCfgs[${JSON.stringify(pgName)}]`;
  if (cfg === null || typeof cfg !== 'object') throw invalidType(at, 'an object of settings', cfg);
  const priority = cfg.is_high_priority_stream ?? false;
  if (typeof priority !== 'boolean') throw invalidType(`${at}.is_high_priority_stream`, 'a boolean', priority);
  const options: NcclOptions = { isHighPriorityStream: priority, config: {} };
  const ints = [['cga_cluster_size', 'cgaClusterSize'], ['max_ctas', 'maxCtas'], ['min_ctas', 'minCtas']] as const;
  for (const [key, name] of ints) if (key in cfg) options.config[name] = checkInteger(`${at}.${key}`, cfg[key]);
  if ('net_name' in cfg) {
    const net = cfg.net_name;
    if (typeof net !== 'string') throw invalidType(`${at}.net_name`, 'a string', net);
    if (!['ib', 'socket'].includes(net.toLowerCase())) {
      throw outOfRange(
        `\`${at}.net_name\` (${describe(net)}) is not supported: accepted values are "IB" and "socket" (any case)`,
      );
    }
    options.config.netName = net;
  }
  return options;
}

/**
 * Upstream's `overwrite_nccl_comm_cfgs(nccl_comm_cfgs, pg_name, key_value_pair)`: sets one setting of
 * group `pgName` in `ncclCommCfgs` (made when missing), in place.
 * @throws TypeError ERR_MULTIRANK_INVALID_ARG_TYPE for a bad argument.
 */
export function overwriteNcclCommCfgs(
  ncclCommCfgs: NcclCommCfgs, pgName: string, keyValuePair: readonly [string, unknown],
): void {
  const cfgs = checkCfgs(ncclCommCfgs);
  if (typeof pgName !== 'string') throw invalidType('pgName', 'a process-group name (string)', pgName);
  if (!Array.isArray(keyValuePair) || keyValuePair.length !== 2 || typeof keyValuePair[0] !== 'string') {
    throw invalidType('keyValuePair', 'a [key, value] pair with a string key', keyValuePair);
  }
  const own = Object.prototype.hasOwnProperty.call(cfgs, pgName);
  if (!own) cfgs[pgName] = {};
  cfgs[pgName]![keyValuePair[0]] = keyValuePair[1];
}

/**
 * Upstream's `create_all_gather_groups`: separate groups with the members of the dp-cp groups (and, with
 * `forExpertParallelism` and ep > 1, of the expert dp groups), to overlap parameter all-gathers with
 * gradient reduce-scatters. As upstream, the groups are rebuilt from this rank's getters (overrides
 * included) with the default order `tp-cp-ep-dp-pp` and no rank offset, whatever initializeModelParallel
 * was given. Every rank of the job must call it; the caller owns the groups (as upstream leaves them to
 * torch). Returns `[dpCpAg, exptDpAg]`, null where this rank has none.
 * @throws MultirankError ERR_MULTIRANK_NOT_INITIALIZED before initializeModelParallel().
 * @throws RangeError ERR_MULTIRANK_OUT_OF_RANGE when the rebuilt groups reach past the world (gtpRemat > 1).
 */
export function createAllGatherGroups(
  options: AllGatherGroupsOptions = {},
): [GroupCoordinator | null, GroupCoordinator | null] {
  if (options === null || typeof options !== 'object') throw invalidType('options', 'an options object', options);
  const state = requireEnvironment('the distributed environment');
  if (lookupGroup('dp', 'data parallel group', undefined, false) === undefined) {
    throw new MultirankError(ErrorCodes.NOT_INITIALIZED,
      'createAllGatherGroups() requires the parallel state to be initialized: call initializeModelParallel() first');
  }
  const timeoutMs = options.timeoutMs === undefined
    ? state.timeoutMs : checkTimeout('options.timeoutMs', options.timeoutMs);
  const cfgs = options.ncclCommCfgs ?? {};
  const forExpert = options.forExpertParallelism ?? false;
  const ep = getExpertModelParallelWorldSize();
  const sizes = {
    tp: getTensorModelParallelWorldSize(), cp: getContextParallelWorldSize(), dp: getDataParallelWorldSize(),
    pp: getPipelineModelParallelWorldSize(), ep,
    gtpRemat: lookupGroup('gtpRemat', 'gtp remat group', undefined, false)?.worldSize ?? 1,
    ...(forExpert === true && ep > 1 ? {
      etp: getExpertTensorParallelWorldSize(), expertDp: getExpertDataParallelWorldSize(),
      expertGtpRemat: lookupGroup('expertGtpRemat', 'expert gtp remat group', undefined, false)?.worldSize ?? 1,
    } : {}),
  };
  const plan = planMegatronAllGatherGroups(state.worldSize, sizes, { forExpertParallelism: forExpert });
  getNcclOptions('dp_cp', cfgs);
  const dpCp = state.newGroup(plan.dpCp, 'dp-cp-ag', timeoutMs) ?? null;
  let expertDp: GroupCoordinator | null = null;
  if (plan.expertDp !== null) {
    getNcclOptions('ep_dp', cfgs);
    expertDp = state.newGroup(plan.expertDp, 'expert-dp-ag', timeoutMs) ?? null;
  }
  addProcessGroups([dpCp ?? undefined, expertDp ?? undefined]);
  return [dpCp, expertDp];
}

/**
 * Upstream's `update_pg_timeout(timeout, pg=None)`: after a barrier over `group` (the world group when
 * none), sets the default deadline of `group`, or of every group in Megatron's process-group list (the
 * world group and the groups made by initializeModelParallel, createGroup and createAllGatherGroups
 * since the last destroyModelParallel). Calls without their own `timeoutMs` wait that long from then on.
 * Upstream's argument order is accepted, and so is `(group, timeoutMs)`. Every member of `group` (every
 * rank, without one) must call it.
 * @throws RangeError ERR_MULTIRANK_OUT_OF_RANGE / TypeError for a bad deadline or group.
 * @throws MultirankError ERR_MULTIRANK_NOT_INITIALIZED without a group when no Megatron group was made yet.
 */
export function updatePgTimeout(timeoutMs: number, group?: GroupCoordinator | null): void;
export function updatePgTimeout(group: GroupCoordinator | null, timeoutMs: number): void;
export function updatePgTimeout(a: number | GroupCoordinator | null, b?: number | GroupCoordinator | null): void {
  const [timeout, group] = typeof a === 'number' ? [a, b] : [b, a];
  const ms = checkTimeout('timeoutMs', timeout);
  if (group !== undefined && group !== null && !(group instanceof GroupCoordinator)) {
    throw invalidType('group', 'a GroupCoordinator, or null for every group', group);
  }
  const state = requireEnvironment('the distributed environment');
  const list = group ? [group] : megatronGlobals('updatePgTimeout').processGroups;
  if (list === null) {
    throw notInitialized('the process group list',
      'updatePgTimeout() without a group changes the groups made by initializeModelParallel() or createGroup(); ' +
        'make them first');
  }
  (group ?? state.world).barrier();
  for (const g of group ? list : [state.world, ...list]) if (!g.isDestroyed) g.setTimeoutMs(ms);
}

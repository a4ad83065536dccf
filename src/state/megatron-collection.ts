/**
 * Megatron's `ProcessGroupCollection` (megatron/core/process_groups_config.py at the commit that
 * docs/TOPOLOGY.md cites): the explicit-groups API that model components take instead of reading the
 * parallel state's globals. Fields are upstream's in camelCase, in upstream's order; a field that was
 * never set is absent (upstream's `vars()` lacks it, and reading it gives None: here undefined), a field
 * set to "no group" is null. `useMpuProcessGroups()` fills it from this rank's live Megatron groups with
 * the getters and arguments upstream uses.
 *
 *   const pgs = ProcessGroupCollection.useMpuProcessGroups();      // every field
 *   const some = ProcessGroupCollection.useMpuProcessGroups(['tp', 'dp']);
 *   const mine = new ProcessGroupCollection({ tp: getTensorModelParallelGroup() });
 */
import { invalidChoice, invalidType } from '../errors.js';
import { GroupCoordinator } from '../group/coordinator.js';
import {
  getContextParallelGroup, getDataParallelGroup, getEmbeddingGroup, getExpertDataParallelGroup,
  getExpertModelParallelGroup, getExpertTensorAndModelParallelGroup, getExpertTensorModelPipelineParallelGroup,
  getExpertTensorParallelGroup, getHierarchicalContextParallelGroups, getInterDistributedOptimizerInstanceGroup,
  getIntraDistributedOptimizerInstanceGroup, getModelParallelGroup, getPipelineModelParallelGroup,
  getPositionEmbeddingGroup, getTensorAndContextParallelGroup, getTensorAndDataParallelGroup,
  getTensorModelParallelGroup,
} from './megatron-groups.js';
import { lookupGroup } from './megatron-runtime.js';

/** The fields of a ProcessGroupCollection, in upstream's order (`pos_embd` -> `posEmbd`, ...). */
export const PROCESS_GROUP_COLLECTION_FIELDS = [
  'tp', 'pp', 'mp', 'embd', 'posEmbd', 'cp', 'tpCp', 'hcp', 'ep', 'exptTp', 'tpEp', 'tpEpPp',
  'tpEpPpWithEgtpRemat', 'tpDpCp', 'dp', 'dpCp', 'dpCpGtpRemat', 'dpCpAg', 'gtpRemat', 'exptGtpRemat', 'exptDp',
  'exptDpGtpRemat', 'exptDpAg', 'intraDpCp', 'intraExptDp', 'interDistOpt', 'intraDistOpt',
] as const;

/** One field name of a ProcessGroupCollection. */
export type ProcessGroupField = (typeof PROCESS_GROUP_COLLECTION_FIELDS)[number];

/** Field values by name: a group, or null for none; `hcp` holds one group per hierarchical CP level. */
export type ProcessGroupFields = {
  [K in ProcessGroupField]?: K extends 'hcp' ? GroupCoordinator[] | null : GroupCoordinator | null;
};

const unchecked = { checkInitialized: false } as const;
const none = (group: GroupCoordinator | undefined) => group ?? null;

/** Upstream's `pg_to_func` of `use_mpu_process_groups`: the getter and arguments of each field. */
const SOURCES: { [K in ProcessGroupField]-?: () => NonNullable<ProcessGroupFields[K]> | null } = {
  tp: () => none(getTensorModelParallelGroup(unchecked)),
  pp: () => none(getPipelineModelParallelGroup(unchecked)),
  mp: () => none(getModelParallelGroup(unchecked)),
  cp: () => none(getContextParallelGroup(unchecked)),
  tpCp: () => none(getTensorAndContextParallelGroup(unchecked)),
  hcp: () => getHierarchicalContextParallelGroups(unchecked) ?? null,
  ep: () => none(getExpertModelParallelGroup(unchecked)),
  exptTp: () => none(getExpertTensorParallelGroup(unchecked)),
  tpEp: () => none(getExpertTensorAndModelParallelGroup(unchecked)),
  tpEpPp: () => none(getExpertTensorModelPipelineParallelGroup(unchecked)),
  tpEpPpWithEgtpRemat: () => none(getExpertTensorModelPipelineParallelGroup({ ...unchecked, withEgtpRemat: true })),
  embd: () => none(getEmbeddingGroup(unchecked)),
  posEmbd: () => none(getPositionEmbeddingGroup(unchecked)),
  dp: () => getDataParallelGroup({ withGtpRemat: false }),
  dpCp: () => getDataParallelGroup({ withContextParallel: true, withGtpRemat: false }),
  dpCpGtpRemat: () => getDataParallelGroup({ withContextParallel: true }),
  dpCpAg: () => null,
  intraDpCp: () => getDataParallelGroup({ withContextParallel: true, withGtpRemat: false, partialDataParallel: true }),
  intraExptDp: () =>
    none(getExpertDataParallelGroup({ ...unchecked, withGtpRemat: false, partialExpertDataParallel: true })),
  interDistOpt: () => none(getInterDistributedOptimizerInstanceGroup(unchecked)),
  intraDistOpt: () => none(getIntraDistributedOptimizerInstanceGroup(unchecked)),
  exptDp: () => none(getExpertDataParallelGroup({ ...unchecked, withGtpRemat: false })),
  exptDpGtpRemat: () => none(getExpertDataParallelGroup(unchecked)),
  exptDpAg: () => null,
  tpDpCp: () => none(getTensorAndDataParallelGroup({ ...unchecked, withContextParallel: true })),
  // Upstream makes singleton gtp groups when the size is 1; the planner makes none, so these are null then.
  gtpRemat: () => none(lookupGroup('gtpRemat', 'gtp group', undefined, false)),
  exptGtpRemat: () => none(lookupGroup('expertGtpRemat', 'expert gtp group', undefined, false)),
};

function checkValue(name: ProcessGroupField, value: unknown): void {
  if (value === null) return;
  if (name === 'hcp') {
    if (Array.isArray(value) && value.every((g) => g instanceof GroupCoordinator)) return;
    throw invalidType('fields.hcp', 'an array of GroupCoordinators or null', value);
  }
  if (!(value instanceof GroupCoordinator)) throw invalidType(`fields.${name}`, 'a GroupCoordinator or null', value);
}

export interface ProcessGroupCollection extends ProcessGroupFields {}

/** A set of process groups handed to model components explicitly (upstream's dataclass). */
export class ProcessGroupCollection {
  /**
   * A collection with the given fields set (upstream's `ProcessGroupCollection(**kwargs)`); more can be
   * assigned later (`pgs.dpCpAg = group`).
   * @throws TypeError ERR_MULTIRANK_INVALID_ARG_VALUE for a name that is not a field (upstream's
   *   "Unknown attribute"), ERR_MULTIRANK_INVALID_ARG_TYPE for a value that is not a group or null.
   */
  constructor(fields: ProcessGroupFields = {}) {
    if (fields === null || typeof fields !== 'object') {
      throw invalidType('fields', 'an object of process groups', fields);
    }
    for (const [name, value] of Object.entries(fields)) {
      if (!(PROCESS_GROUP_COLLECTION_FIELDS as readonly string[]).includes(name)) {
        throw invalidChoice('fields key', PROCESS_GROUP_COLLECTION_FIELDS, name);
      }
      checkValue(name as ProcessGroupField, value);
      (this as Record<string, unknown>)[name] = value;
    }
  }

  /** True when `name` was set, to a group or to null (upstream: `name in vars(pg_collection)`). */
  has(name: ProcessGroupField): boolean {
    return Object.prototype.hasOwnProperty.call(this, name);
  }

  /** `ProcessGroupCollection(tp(2), pp(4), hcp([2, 2]), ...)`: the fields set to a group, with their sizes. */
  toString(): string {
    const shown: string[] = [];
    for (const name of PROCESS_GROUP_COLLECTION_FIELDS) {
      const value = this[name];
      if (value === undefined || value === null) continue;
      const size = Array.isArray(value) ? `[${value.map((g) => g.worldSize).join(', ')}]` : String(value.worldSize);
      shown.push(`${name}(${size})`);
    }
    return `ProcessGroupCollection(${shown.length > 0 ? shown.join(', ') : 'empty'})`;
  }

  /**
   * Upstream's `use_mpu_process_groups(required_pgs)`: a collection of this rank's Megatron groups, each
   * field from the getter upstream calls for it (most with `checkInitialized: false`, so a group the
   * configuration lacks is null; the data-parallel fields raise NOT_INITIALIZED without their group, as
   * upstream asserts). `dpCpAg` and `exptDpAg` are null: createAllGatherGroups returns those groups.
   * @throws TypeError ERR_MULTIRANK_INVALID_ARG_VALUE for a name in `requiredPgs` that is not a field.
   * @throws MultirankError ERR_MULTIRANK_NOT_INITIALIZED before initializeModelParallel().
   */
  static useMpuProcessGroups(requiredPgs?: readonly ProcessGroupField[] | null): ProcessGroupCollection {
    const names = requiredPgs ?? PROCESS_GROUP_COLLECTION_FIELDS;
    if (!Array.isArray(names)) throw invalidType('requiredPgs', 'an array of field names', requiredPgs);
    names.forEach((name: unknown, i) => {
      if (!(PROCESS_GROUP_COLLECTION_FIELDS as readonly unknown[]).includes(name)) {
        throw invalidChoice(`requiredPgs[${i}]`, PROCESS_GROUP_COLLECTION_FIELDS, name);
      }
    });
    const fields: Record<string, unknown> = {};
    for (const name of names as readonly ProcessGroupField[]) fields[name] = SOURCES[name]();
    return new ProcessGroupCollection(fields as ProcessGroupFields);
  }
}

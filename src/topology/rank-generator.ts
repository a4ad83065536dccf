/**
 * Megatron's `RankGenerator` and `_inject_gtp_remat_axis`, ported from NVIDIA/Megatron-LM
 * `megatron/core/parallel_state.py` at main d98e8a64ddf3 (2026-08-22).
 *
 * The order string names the parallel axes from the fastest-varying (smallest stride) to the slowest,
 * e.g. `tp-cp-ep-dp-pp`. Upstream quirks kept on purpose, because the groups must match upstream:
 * - the order is lower-cased, and an axis counts as "named" when its name is a *substring* of the
 *   order (so `tp` is always named once `gtp_remat` is in the order);
 * - an unnamed axis of size 1 is appended at the end, an unnamed axis of another size is an error;
 * - a token's own spelling order does not matter (`dp-tp` == `tp-dp`);
 * - `rankOffset` is added to every rank only when it is > 0.
 */
import { generateMaskedOrthogonalRankGroups } from './orthogonal.js';
import { checkIndex, checkSize, conflict, sizeOr } from './validate.js';
import { invalidType } from '../errors.js';

/** Axis names in the fixed sequence upstream checks them. */
export const RANK_GENERATOR_AXES = ['tp', 'pp', 'dp', 'ep', 'cp', 'gtp_remat'] as const;
/** One axis name of a `RankGenerator` order. */
export type RankGeneratorAxis = (typeof RANK_GENERATOR_AXES)[number];

/** Sizes and order of a `RankGenerator` (upstream's constructor arguments). */
export interface RankGeneratorOptions {
  tp: number;
  ep: number;
  dp: number;
  pp: number;
  cp: number;
  /** Axes from fastest to slowest, `-`-separated, e.g. `"tp-cp-ep-dp-pp"`. */
  order: string;
  /** Added to every rank when > 0 (default 0). */
  rankOffset?: number;
  /** Size of the generalized-TP weight-rematerialization axis (default 1). */
  gtpRemat?: number;
}

/** Options of `RankGenerator.getRanks`. */
export interface GetRanksOptions {
  /**
   * `true` (default, and the only view of current upstream): `ep` is an axis of its own. `false`: the
   * pre-2024 view in which `ep` is folded into `dp` (they must be adjacent in the order), so `dp` means
   * the full data-parallel axis of size `dp * ep` and the token `ep` is not available.
   */
  independentEp?: boolean;
}

/**
 * Inserts `gtp_remat` into an order right after `after` (or after `tp`, or at the front), unless the
 * order already has it. Upstream's `_inject_gtp_remat_axis`: the dense generator uses `after = "tp"`,
 * the expert generator `after = "ep"`.
 */
export function injectGtpRematAxis(order: string, after: string): string {
  const tokens = order.split('-');
  if (tokens.includes('gtp_remat')) return order;
  const anchor = tokens.includes(after) ? after : 'tp';
  const position = tokens.includes(anchor) ? tokens.indexOf(anchor) + 1 : 0;
  tokens.splice(position, 0, 'gtp_remat');
  return tokens.join('-');
}

/** Generates the rank groups of every parallel kind from sizes and an axis order. */
export class RankGenerator {
  readonly tp: number;
  readonly ep: number;
  readonly dp: number;
  readonly pp: number;
  readonly cp: number;
  readonly gtpRemat: number;
  readonly rankOffset: number;
  /** Product of all sizes. */
  readonly worldSize: number;
  /** The lower-cased order with every unnamed size-1 axis appended, e.g. `tp-cp-ep-dp-pp-gtp_remat`. */
  readonly order: string;
  /** Size of each axis of `order`, in order. */
  readonly orderedSize: readonly number[];

  /**
   * @throws TypeError `ERR_MULTIRANK_INVALID_ARG_TYPE` for a non-integer size or a non-string order.
   * @throws RangeError `ERR_MULTIRANK_OUT_OF_RANGE` for a size < 1, for `ep` and `cp` both > 1, for an
   *   axis of size != 1 missing from the order, and for an unknown axis in the order.
   */
  constructor(options: RankGeneratorOptions) {
    if (options === null || typeof options !== 'object') throw invalidType('options', 'an options object', options);
    this.tp = checkSize('options.tp', options.tp);
    this.ep = checkSize('options.ep', options.ep);
    this.dp = checkSize('options.dp', options.dp);
    this.pp = checkSize('options.pp', options.pp);
    this.cp = checkSize('options.cp', options.cp);
    this.gtpRemat = sizeOr('options.gtpRemat', options.gtpRemat, 1);
    this.rankOffset = options.rankOffset === undefined ? 0 : checkIndex('options.rankOffset', options.rankOffset);
    if (typeof options.order !== 'string') throw invalidType('options.order', 'a string', options.order);
    const given = options.order;
    if (this.ep !== 1 && this.cp !== 1) {
      throw conflict(
        `RankGenerator: ep (${this.ep}) and cp (${this.cp}) cannot both be > 1 in one generator: ` +
          'cp belongs to the dense generator and ep to the expert generator',
      );
    }
    this.worldSize = this.tp * this.dp * this.pp * this.cp * this.ep * this.gtpRemat;
    let order = given.toLowerCase();
    for (const name of RANK_GENERATOR_AXES) {
      if (order.includes(name)) continue;
      const size = this.sizeOf(name);
      if (size !== 1) {
        throw conflict(
          `RankGenerator: ${name} has size ${size} but the order ${JSON.stringify(given)} does not name it; ` +
            'every axis whose size is not 1 must appear in the order',
        );
      }
      order = `${order}-${name}`;
    }
    this.order = order;
    this.orderedSize = order.split('-').map((token) => {
      if (!(RANK_GENERATOR_AXES as readonly string[]).includes(token)) {
        throw conflict(
          `RankGenerator: the order ${JSON.stringify(given)} has the unknown axis ${JSON.stringify(token)}; ` +
            `axes are ${RANK_GENERATOR_AXES.join(', ')}, separated by "-"`,
        );
      }
      return this.sizeOf(token as RankGeneratorAxis);
    });
  }

  /** Size of one axis. */
  sizeOf(axis: RankGeneratorAxis): number {
    switch (axis) {
      case 'tp': return this.tp;
      case 'pp': return this.pp;
      case 'dp': return this.dp;
      case 'ep': return this.ep;
      case 'cp': return this.cp;
      case 'gtp_remat': return this.gtpRemat;
    }
  }

  /**
   * The mask of `token` (axes joined by `-`, any spelling order) over the axes of `order`.
   * @throws RangeError `ERR_MULTIRANK_OUT_OF_RANGE` when a token axis is not in the order.
   */
  getMask(order: string, token: string): boolean[] {
    if (typeof order !== 'string') throw invalidType('order', 'a string', order);
    if (typeof token !== 'string') throw invalidType('token', 'a string', token);
    const axes = order.split('-');
    const mask = axes.map(() => false);
    for (const t of token.split('-')) {
      const k = axes.indexOf(t);
      if (k < 0) {
        throw conflict(
          `RankGenerator: the token ${JSON.stringify(token)} names ${JSON.stringify(t)}, which is not an axis ` +
            `of the order ${JSON.stringify(order)}`,
        );
      }
      mask[k] = true;
    }
    return mask;
  }

  /**
   * The groups of the kind named by `token` (e.g. `"tp"`, `"dp-cp"`, `"tp-ep-pp"`), shifted by
   * `rankOffset` when it is > 0.
   * @throws RangeError `ERR_MULTIRANK_OUT_OF_RANGE` for an axis that is not in the order.
   */
  getRanks(token: string, options: GetRanksOptions = {}): number[][] {
    const independentEp = options.independentEp ?? true;
    if (typeof independentEp !== 'boolean') throw invalidType('options.independentEp', 'a boolean', independentEp);
    const view = independentEp ? { order: this.order, sizes: this.orderedSize } : this.#foldedView();
    const mask = this.getMask(view.order, token);
    const groups = generateMaskedOrthogonalRankGroups(this.worldSize, view.sizes, mask);
    if (this.rankOffset > 0) {
      for (const group of groups) for (let i = 0; i < group.length; i++) group[i]! += this.rankOffset;
    }
    return groups;
  }

  /**
   * The generalized-TP weight-rematerialization groups (singletons when the size is 1).
   * @throws RangeError when `gtpRematSize` differs from this generator's `gtpRemat`.
   */
  getGtpRanks(gtpRematSize: number): number[][] {
    checkSize('gtpRematSize', gtpRematSize);
    if (gtpRematSize !== this.gtpRemat) {
      throw conflict(
        `RankGenerator: gtpRematSize (${gtpRematSize}) differs from this generator's gtpRemat (${this.gtpRemat})`,
      );
    }
    return this.getRanks('gtp_remat');
  }

  /** The `independentEp: false` view: `ep` merged into its neighbour `dp`. */
  #foldedView(): { order: string; sizes: number[] } {
    const axes = this.order.split('-');
    const e = axes.indexOf('ep');
    const d = axes.indexOf('dp');
    if (this.ep !== 1 && Math.abs(e - d) !== 1) {
      throw conflict(
        `RankGenerator: independentEp: false folds ep (${this.ep}) into dp (${this.dp}), ` +
          `which needs ep and dp adjacent in the order ${JSON.stringify(this.order)}`,
      );
    }
    const order: string[] = [];
    const sizes: number[] = [];
    axes.forEach((axis, k) => {
      if (axis === 'ep') return;
      order.push(axis);
      sizes.push(axis === 'dp' ? this.dp * this.ep : this.orderedSize[k]!);
    });
    return { order: order.join('-'), sizes };
  }
}

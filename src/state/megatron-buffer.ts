/**
 * Megatron's `GlobalMemoryBuffer` (megatron/core/utils.py) and its parallel-state accessors: one reusable
 * buffer per (name, dtype) so that layers do not allocate per call. `initializeModelParallel` creates the
 * rank's buffer and `destroyModelParallel` drops it, as upstream does.
 */
import { checkInteger, invalidType } from '../errors.js';
import { dtypeInfo, type DType } from '../tensor/dtype.js';
import { empty, type Tensor } from '../tensor/tensor.js';
import { notInitialized } from './front-end.js';
import { megatronOrUndefined } from './megatron-runtime.js';

/** Buffers by name and dtype; a request larger than the buffer replaces it. */
export class GlobalMemoryBuffer {
  readonly #buffers = new Map<string, Tensor>();

  /**
   * A tensor of `shape` over the start of the (name, dtype) buffer, which grows to fit. Views handed out
   * earlier for the same name and dtype share its memory, as upstream's do.
   * @throws TypeError / RangeError for a bad shape, dtype or name.
   */
  getTensor(shape: readonly number[], dtype: DType, name: string): Tensor {
    if (!Array.isArray(shape)) throw invalidType('shape', 'an array of sizes', shape);
    const count = shape.reduce((n: number, s, i) => n * checkInteger(`shape[${i}]`, s, 0), 1);
    dtypeInfo(dtype, 'dtype');
    if (typeof name !== 'string') throw invalidType('name', 'a string', name);
    const key = `${name}\u0000${dtype}`;
    let buffer = this.#buffers.get(key);
    if (buffer === undefined || buffer.numel < count) {
      buffer = empty([count], { dtype });
      this.#buffers.set(key, buffer);
    }
    return buffer.narrow(0, 0, count).view([...shape]);
  }
}

/** This rank's global memory buffer. @throws ERR_MULTIRANK_NOT_INITIALIZED before initializeModelParallel(). */
export function getGlobalMemoryBuffer(): GlobalMemoryBuffer {
  const buffer = megatronOrUndefined()?.mp.extra.globalMemoryBuffer;
  if (buffer === undefined || buffer === null) {
    throw notInitialized(
      'global memory buffer',
      'it is created by initializeModelParallel() (multirank/megatron) and dropped by destroyGlobalMemoryBuffer()',
    );
  }
  return buffer;
}

/** Drops this rank's global memory buffer (a no-op when there is none). */
export function destroyGlobalMemoryBuffer(): void {
  const current = megatronOrUndefined();
  if (current !== undefined) current.mp.extra.globalMemoryBuffer = null;
}

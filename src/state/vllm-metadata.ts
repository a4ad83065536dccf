/**
 * vLLM's `TensorMetadata = namedtuple("TensorMetadata", ["device", "dtype", "size"])`: what
 * `broadcast_tensor_dict` sends of a tensor ahead of its bytes. As the named tuple, it has the three
 * fields by name, unpacks in that order (`const [device, dtype, size] = meta`), is immutable, and
 * compares by value (`equals`).
 */
import { checkInteger, invalidType } from '../errors.js';
import { dtypeInfo, type DType } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';

export class TensorMetadata {
  /** The device type, without its index (`"cpu"`, `"cuda"`), as vLLM records it. */
  readonly device: string;
  readonly dtype: DType;
  /** The tensor's shape (torch's `size()`). */
  readonly size: readonly number[];

  /**
   * @throws TypeError ERR_MULTIRANK_INVALID_ARG_TYPE / _VALUE for a device that is not a string, an
   *   unknown dtype, or a size that is not a list of non-negative integers.
   */
  constructor(device: string, dtype: DType, size: readonly number[]) {
    if (typeof device !== 'string' || device.length === 0) {
      throw invalidType('device', 'a device type such as "cpu"', device);
    }
    dtypeInfo(dtype, 'dtype');
    if (!Array.isArray(size)) throw invalidType('size', 'an array of sizes', size);
    this.device = device;
    this.dtype = dtype;
    this.size = Object.freeze(size.map((s: unknown, i) => checkInteger(`size[${i}]`, s, 0)));
    Object.freeze(this);
  }

  /** The metadata of `t` (its device type, dtype and shape), as vLLM's `_split_tensor_dict` makes it. */
  static fromTensor(t: Tensor): TensorMetadata {
    if (!(t instanceof Tensor)) throw invalidType('t', 'a Tensor', t);
    return new TensorMetadata(t.device.split(':')[0]!, t.dtype, t.shape);
  }

  /** Field by position, as a tuple is indexed: 0 device, 1 dtype, 2 size. */
  at(index: 0 | 1 | 2): string | readonly number[] {
    return [this.device, this.dtype, this.size][checkInteger('index', index, 0, 2)]!;
  }

  /** The number of fields (3), as `len()` of the tuple. */
  get length(): 3 {
    return 3;
  }

  *[Symbol.iterator](): IterableIterator<string | readonly number[]> {
    yield this.device;
    yield this.dtype;
    yield this.size;
  }

  /** True when `other` has the same device, dtype and size (tuple equality). */
  equals(other: unknown): boolean {
    return other instanceof TensorMetadata && other.device === this.device && other.dtype === this.dtype &&
      other.size.length === this.size.length && other.size.every((s, i) => s === this.size[i]);
  }

  /** `TensorMetadata(device='cpu', dtype=float32, size=[2, 3])`. */
  toString(): string {
    return `TensorMetadata(device='${this.device}', dtype=${this.dtype}, size=[${this.size.join(', ')}])`;
  }
}

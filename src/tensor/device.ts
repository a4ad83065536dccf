/**
 * Tensors on a device (`cuda:N`, `npu:N`). Their storage is device memory that the tensor owns: freed
 * by `release()`, or by a FinalizationRegistry once the storage is collected (a backstop: finalizers
 * need the event loop). The tensor layer does not load any native code: the layer that does (native/)
 * registers a DeviceMemory per device kind, made on the first device tensor of that kind.
 */
import { ErrorCodes, invalidChoice, invalidType, MultirankError } from '../errors.js';
import { allocateStorage, Storage } from './storage.js';

/** Where a tensor lives: `cpu`, `cuda:N` or `npu:N`. */
export type Device = 'cpu' | `cuda:${number}` | `npu:${number}`;
export type AcceleratorKind = 'cuda' | 'npu';

/** What a device kind's memory does (pointers are Numbers; `index` is the N of `cuda:N`). */
export interface DeviceMemory {
  alloc(index: number, bytes: number): number;
  free(index: number, ptr: number): void;
  upload(index: number, ptr: number, src: Uint8Array): void;
  download(index: number, dst: Uint8Array, ptr: number): void;
  copy(index: number, dst: number, src: number, bytes: number): void;
  zero(index: number, ptr: number, bytes: number): void;
}

const providers = new Map<AcceleratorKind, () => DeviceMemory>();
const memories = new Map<AcceleratorKind, DeviceMemory>();
const current: Record<AcceleratorKind, number> = { cuda: 0, npu: 0 };

/** Registers how `kind`'s memory is made (called on first use; it may throw why the device is missing). */
export function registerDeviceMemory(kind: AcceleratorKind, provider: () => DeviceMemory): void {
  providers.set(kind, provider);
  memories.delete(kind);
}

function memoryOf(kind: AcceleratorKind): DeviceMemory {
  let memory = memories.get(kind);
  if (memory === undefined) {
    const provider = providers.get(kind);
    if (provider === undefined) {
      throw new MultirankError(
        ErrorCodes.BACKEND_UNAVAILABLE,
        `No ${kind} device memory is registered in this thread (import multirank, not only its tensor layer)`,
      );
    }
    memory = provider();
    memories.set(kind, memory);
  }
  return memory;
}

/** One flat string per device (what tensors on it carry), so that comparing and reading them stays cheap. */
const names = new Map<string, Device>();

/** `cpu`, `cuda`, `cuda:N`, `npu`, `npu:N` as a Device (a bare kind is this thread's current device of it). */
export function parseDevice(value: unknown, name = 'device'): Device {
  if (value === 'cpu') return 'cpu';
  const match = typeof value === 'string' ? /^(cuda|npu)(?::(\d+))?$/.exec(value) : null;
  if (match === null) throw invalidChoice(name, ['cpu', 'cuda', 'cuda:N', 'npu', 'npu:N'], value);
  const kind = match[1] as AcceleratorKind;
  const device = `${kind}:${match[2] === undefined ? current[kind] : Number(match[2])}`;
  let canonical = names.get(device);
  if (canonical === undefined) names.set(device, (canonical = device.slice() as Device));
  return canonical;
}

/** Sets this thread's current device of its kind (what a bare `cuda` means), as torch.cuda.set_device. */
export function setCurrentDevice(device: string): Device {
  const parsed = parseDevice(device);
  if (parsed !== 'cpu') current[kindOf(parsed)] = indexOf(parsed);
  return parsed;
}

export function kindOf(device: Exclude<Device, 'cpu'>): AcceleratorKind {
  return device.startsWith('cuda') ? 'cuda' : 'npu';
}

export function indexOf(device: Exclude<Device, 'cpu'>): number {
  return Number(device.slice(device.indexOf(':') + 1));
}

const finalizers = new FinalizationRegistry<{ memory: DeviceMemory; index: number; ptr: number }>(
  ({ memory, index, ptr }) => memory.free(index, ptr),
);
const NO_BYTES = new ArrayBuffer(0);

/** Device memory owned by one or more tensors (views share it). */
export class DeviceStorage extends Storage {
  readonly deviceName: Exclude<Device, 'cpu'>;
  readonly index: number;
  readonly memory: DeviceMemory;
  readonly #ptr: number;
  #live = true;

  constructor(byteLength: number, device: Exclude<Device, 'cpu'>) {
    super(byteLength, NO_BYTES, 0);
    this.deviceName = device;
    this.index = indexOf(device);
    this.memory = memoryOf(kindOf(device));
    this.#ptr = byteLength > 0 ? this.memory.alloc(this.index, byteLength) : 0;
    if (this.#ptr !== 0) finalizers.register(this, { memory: this.memory, index: this.index, ptr: this.#ptr }, this);
  }

  override get device(): Device {
    return this.deviceName;
  }

  /** The device address of the first byte. */
  get ptr(): number {
    if (!this.#live) throw invalidType('tensor', 'a tensor whose storage was not released', 'released device storage');
    return this.#ptr;
  }

  override get buffer(): ArrayBufferLike {
    throw invalidType(
      'tensor', `a CPU tensor (this one is on ${this.deviceName}: copy it with .to('cpu') first)`,
      `a ${this.deviceName} tensor`,
    );
  }

  /** Frees the device memory now (instead of at garbage collection). Idempotent. */
  override release(): void {
    if (!this.#live) return;
    this.#live = false;
    if (this.#ptr !== 0) {
      finalizers.unregister(this);
      this.memory.free(this.index, this.#ptr);
    }
  }
}

/** What the transfers need of a tensor (the Tensor class itself imports this module). */
interface Bytes {
  readonly storage: Storage;
  readonly storageOffsetBytes: number;
  readonly byteLength: number;
  readonly device: Device;
  bytes(): Uint8Array;
}

/** Storage of `byteLength` bytes on `device` (device memory is not zeroed, as torch.empty). */
export function deviceStorage(byteLength: number, device: Device): Storage {
  return device === 'cpu' ? allocateStorage(byteLength) : new DeviceStorage(byteLength, device);
}

/** The device address of a device tensor's first element. */
export function devicePointer(t: Bytes): number {
  if (!(t.storage instanceof DeviceStorage)) {
    throw invalidType('tensor', 'a tensor on a device', `a tensor on ${t.device}`);
  }
  return t.storage.ptr + t.storageOffsetBytes;
}

/** Copies `src`'s bytes into `dst` (same byte length) across any pair of devices. */
export function copyBytes(dst: Bytes, src: Bytes): void {
  const n = src.byteLength;
  if (n === 0) return;
  if (dst.device === 'cpu' && src.device === 'cpu') dst.bytes().set(src.bytes());
  else if (src.device === 'cpu') deviceOf(dst).memory.upload(deviceOf(dst).index, devicePointer(dst), src.bytes());
  else if (dst.device === 'cpu') deviceOf(src).memory.download(deviceOf(src).index, dst.bytes(), devicePointer(src));
  else if (dst.device === src.device) {
    deviceOf(dst).memory.copy(deviceOf(dst).index, devicePointer(dst), devicePointer(src), n);
  } else {
    const staged = new Uint8Array(n);
    deviceOf(src).memory.download(deviceOf(src).index, staged, devicePointer(src));
    deviceOf(dst).memory.upload(deviceOf(dst).index, devicePointer(dst), staged);
  }
}

/** Sets a device tensor's bytes to zero. */
export function zeroBytes(t: Bytes): void {
  if (t.byteLength > 0) deviceOf(t).memory.zero(deviceOf(t).index, devicePointer(t), t.byteLength);
}

function deviceOf(t: Bytes): DeviceStorage {
  return t.storage as DeviceStorage;
}

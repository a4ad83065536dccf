/**
 * The communicator registry: which backend serves which device, and how to make one for a group. Each
 * rank's runtime registers the backends it can run (threads with its arena); a backend this build lacks
 * is registered as unavailable with the reason, which every attempt to use it reports. GroupCoordinator
 * asks the registry and never names a communicator class.
 */
import { ErrorCodes, MultirankError, invalidChoice } from '../errors.js';
import { BACKENDS, NOT_IN_THIS_BUILD, type Backend } from './backends.js';
import type {
  CommunicatorSource, CpuCommunicator, DeviceCommunicator, DeviceKind, DeviceSideContext, GroupSpec,
} from './types.js';

/** Makes a communicator for a group; a device side's factory also gets the group's CPU side and device. */
export type CommunicatorFactory<C extends DeviceCommunicator = DeviceCommunicator> =
  (group: GroupSpec, side?: DeviceSideContext) => C;

type Entry = { readonly factory: CommunicatorFactory } | { readonly unavailable: string };

/** The device kind of a device string (`cpu`, `cuda:1` -> `cuda`). On every device collective: no allocation. */
export function deviceKind(device: string): DeviceKind {
  if (device === 'cpu') return 'cpu';
  if (device.startsWith('cuda') && (device.length === 4 || device.charCodeAt(4) === 58)) return 'cuda';
  if (device.startsWith('npu') && (device.length === 3 || device.charCodeAt(3) === 58)) return 'npu';
  throw invalidChoice('tensor.device', ['cpu', 'cuda:N', 'npu:N'], device);
}

export class CommunicatorRegistry implements CommunicatorSource {
  readonly #entries = new Map<string, Entry>();

  /** Registers the factory of `backend` for tensors on `device`. */
  register(backend: Backend, device: DeviceKind, factory: CommunicatorFactory): void {
    this.#entries.set(`${backend}/${device}`, { factory });
  }

  /** Registers `backend` on `device` as not usable here, with the reason its users will read. */
  unavailable(backend: Backend, device: DeviceKind, reason: string): void {
    this.#entries.set(`${backend}/${device}`, { unavailable: reason });
  }

  /** Whether `backend` can serve `device` in this rank. */
  has(backend: Backend, device: DeviceKind): boolean {
    const entry = this.#entries.get(`${backend}/${device}`);
    return entry !== undefined && 'factory' in entry;
  }

  /** A communicator of `backend` for `device` over `group`; throws BACKEND_UNAVAILABLE with the reason. */
  create(backend: Backend, device: DeviceKind, group: GroupSpec, side?: DeviceSideContext): DeviceCommunicator {
    if (!(BACKENDS as readonly string[]).includes(backend)) throw invalidChoice('backend', BACKENDS, backend);
    const entry = this.#entries.get(`${backend}/${device}`);
    if (entry === undefined) {
      throw new MultirankError(
        ErrorCodes.BACKEND_UNAVAILABLE, `The "${backend}" backend does not serve ${device} tensors`,
      );
    }
    if ('unavailable' in entry) {
      throw new MultirankError(
        ErrorCodes.BACKEND_UNAVAILABLE,
        `The "${backend}" backend is unavailable for ${device} tensors: ${entry.unavailable}`,
      );
    }
    return entry.factory(group, side);
  }

  /** The CPU side of a group: a communicator of `backend` for CPU tensors that can host queues. */
  createCpu(backend: Backend, group: GroupSpec): CpuCommunicator {
    return this.create(backend, 'cpu', group) as CpuCommunicator;
  }
}

/** Registers the backends this build lacks as unavailable, so that naming one says why. */
export function registerMissingBackends(registry: CommunicatorRegistry): void {
  const devices: Record<Backend, DeviceKind> = { threads: 'cpu', gloo: 'cpu', nccl: 'cuda', hccl: 'npu', mpi: 'cpu' };
  for (const backend of BACKENDS) {
    const reason = NOT_IN_THIS_BUILD[backend];
    if (reason !== undefined) registry.unavailable(backend, devices[backend], reason);
  }
}

/**
 * The native TCPStore server (native/src/store-server.cc): the protocol, semantics and limits of
 * `server.ts`, on an epoll loop on a thread of its own. A master TCPStore uses it wherever the addon is
 * built, because Node's event loop costs more CPU per request than torch's whole daemon and a store's
 * throughput under torch's clients is bound by that CPU (docs/BENCHMARKS.md). MULTIRANK_STORE_SERVER=js
 * picks the TypeScript server instead; `native` insists on this one.
 */
import { StoreError, errorMessage, outOfRange } from '../errors.js';
import { nativeAddonMissing, tryNativeAddon, type NativeStoreServerHandle } from '../native/addon.js';
import { listenFailed, type ListenOptions, type StoreServer } from './server.js';

/** The environment variable that picks the master's server: `native` or `js` (unset: native if built). */
export const SERVER_CHOICE_ENV = 'MULTIRANK_STORE_SERVER';

const key = (k: string): Buffer => Buffer.from(k, 'latin1');

export class NativeTCPStoreServer implements StoreServer {
  readonly #handle: NativeStoreServerHandle;
  #closed = false;

  private constructor(handle: NativeStoreServerHandle) {
    this.#handle = handle;
  }

  /** Why the native server cannot run here; undefined when it can. */
  static unavailableReason(): string | undefined {
    if (tryNativeAddon() === undefined) return nativeAddonMissing();
    if (tryNativeAddon()!.NativeStoreServer !== undefined) return undefined;
    return 'the native addon has no TCPStore server (it is built on Linux only; elsewhere, or with an addon '
      + 'built before it, rebuild with npm run build:native)';
  }

  /** Listens; rejects with a StoreError naming the address (and the reason when the addon is missing). */
  static async listen(options: ListenOptions = {}): Promise<NativeTCPStoreServer> {
    const missing = NativeTCPStoreServer.unavailableReason();
    if (missing !== undefined) throw new StoreError(`the native TCPStore server is unavailable: ${missing}`);
    const port = options.port ?? 0;
    try {
      return new NativeTCPStoreServer(new (tryNativeAddon()!.NativeStoreServer)(options.host ?? '', port));
    } catch (error) {
      throw listenFailed(options, port, error);
    }
  }

  get port(): number {
    return this.#handle.port;
  }

  get protocolErrors(): number {
    return this.#handle.stats().protocolErrors;
  }

  get lastProtocolError(): string {
    return this.#handle.stats().lastProtocolError;
  }

  get connectionCount(): number {
    return this.#handle.stats().connections;
  }

  value(k: string): Uint8Array | undefined {
    const bytes = this.#call(() => this.#handle.get(key(k)));
    return bytes === undefined ? undefined : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  setValue(k: string, value: Uint8Array): void {
    if (this.#closed) throw new StoreError('the native TCPStore server is closed');
    this.#call(() => this.#handle.set(key(k), value));
  }

  /** A call into the server; its failure (memory that ran out) as a StoreError. */
  #call<T>(f: () => T): T {
    try {
      return f();
    } catch (error) {
      throw new StoreError(errorMessage(error), { cause: error });
    }
  }

  /** Stops the server's thread and closes every connection. */
  close(): Promise<void> {
    if (!this.#closed) this.#handle.close();
    this.#closed = true;
    return Promise.resolve();
  }
}

/** The servers a master can run: this one, or the TypeScript one (server.ts). */
export const SERVER_KINDS = ['native', 'js'] as const;
export type ServerKind = typeof SERVER_KINDS[number];

export function isServerKind(value: unknown): value is ServerKind {
  return (SERVER_KINDS as readonly unknown[]).includes(value);
}

/** Which server a master starts: MULTIRANK_STORE_SERVER, checked; unset: the native one where it is built. */
export function serverChoice(): ServerKind {
  const value = process.env[SERVER_CHOICE_ENV];
  if (value === undefined || value === '') {
    return NativeTCPStoreServer.unavailableReason() === undefined ? 'native' : 'js';
  }
  if (!isServerKind(value)) {
    throw outOfRange(`${SERVER_CHOICE_ENV} must be "native", "js" or unset, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * Stores across processes: the Store contract, `HashStore`, `PrefixStore`, torch-compatible `TCPStore`
 * (client and server), and vLLM's `StatelessProcessGroup` over a store.
 */
export type { Store, StoreValue } from './types.js';
export { DEFAULT_STORE_TIMEOUT_MS } from './types.js';
export { HashStore } from './hash-store.js';
export { PrefixStore } from './prefix-store.js';
export { TCPStore } from './tcp-store.js';
export type { TCPStoreOptions } from './tcp-store.js';
export { TCPStoreServer } from './server.js';
export type { StoreServer } from './server.js';
export { NativeTCPStoreServer } from './native-server.js';
export { MAX_KEY_BYTES, MAX_KEYS, MAX_REPLY_BYTES, MAX_REQUEST_BYTES, MAX_VALUE_BYTES } from './protocol.js';
export { StatelessProcessGroup } from './stateless-group.js';
export type { StatelessProcessGroupOptions } from './stateless-group.js';

/**
 * Both TCPStore servers, for tests that run the same cases against each: the TypeScript reference and
 * the native one (native/src/store-server.cc; CI builds it, so a missing addon fails these tests).
 */
import { NativeTCPStoreServer } from '../../src/store/native-server.js';
import { TCPStoreServer, type ListenOptions, type StoreServer } from '../../src/store/server.js';

type Listen = (options: ListenOptions) => Promise<StoreServer>;

export const STORE_SERVERS: readonly (readonly [string, Listen])[] = [
  ['js', (options) => TCPStoreServer.listen(options)],
  ['native', (options) => NativeTCPStoreServer.listen(options)],
];

/** A raw socket to a store server, for the wire-level tests: send bytes, read bytes, see the close. */
import net from 'node:net';

export interface Raw {
  readonly socket: net.Socket;
  /** Resolves with the first `n` bytes received (rejects after `ms`). */
  read(n: number, ms?: number): Promise<Buffer>;
  /** Resolves true once the server closed the connection, false when `ms` passed first. */
  closed(ms?: number): Promise<boolean>;
  send(bytes: Buffer | Uint8Array): void;
}

export function raw(port: number): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    let received = Buffer.alloc(0);
    let ended = false;
    const wake = new Set<() => void>();
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      for (const w of wake) w();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      ended = true;
      for (const w of wake) w();
    });
    const until = <T>(ready: () => T | undefined, ms: number, onTimeout: () => T | Error): Promise<T> => new Promise((res, rej) => {
      const check = (): void => {
        const value = ready();
        if (value === undefined) return;
        cleanup();
        res(value);
      };
      const timer = setTimeout(() => {
        cleanup();
        const outcome = onTimeout();
        if (outcome instanceof Error) rej(outcome);
        else res(outcome);
      }, ms);
      const cleanup = (): void => {
        clearTimeout(timer);
        wake.delete(check);
      };
      wake.add(check);
      check();
    });
    socket.once('connect', () => resolve({
      socket,
      send: (bytes) => socket.write(bytes),
      read: (n, ms = 3000) => until(() => (received.length >= n ? received.subarray(0, n) : ended ? Buffer.alloc(0) : undefined), ms,
        () => new Error(`raw: ${received.length} of ${n} bytes after ${ms} ms`)),
      closed: (ms = 3000) => until(() => (ended ? true : undefined), ms, () => false),
    }));
    socket.once('error', reject);
  });
}

/** Little-endian frame pieces. */
export const u8 = (v: number): Buffer => Buffer.of(v);
export const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
};
export const i64 = (v: bigint | number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(BigInt(v));
  return b;
};
export const u64 = (v: bigint | number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
};
export const str = (s: string | Uint8Array): Buffer => {
  const bytes = typeof s === 'string' ? Buffer.from(s) : Buffer.from(s);
  return Buffer.concat([u64(bytes.length), bytes]);
};
export const VALIDATE = Buffer.concat([u8(0), u32(0x3c85f7ce)]);

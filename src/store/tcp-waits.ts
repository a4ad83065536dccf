/**
 * Waits of a TCPStore client: each WAIT runs on a connection of its own, taken from a small pool (up
 * to 4 kept idle), so that its reply, which may come much later, never stands between the replies of
 * the store's other requests. At the deadline the wait is cancelled as torch's client does
 * (CANCEL_WAIT; a STOP_WAITING that crossed it is read first, and then the keys are there after all);
 * torch 1.13 has no CANCEL_WAIT, so that connection is dropped instead.
 */
import { TimeoutError } from '../errors.js';
import { ClientConnection, type Address } from './client-connection.js';
import { FrameBuilder, Q, STOP_WAITING, type Dialect } from './protocol.js';
import { listKeys } from './types.js';

const IDLE_MAX = 4;
const CANCEL_GRACE_MS = 5000;

export class WaitPool {
  readonly #idle: ClientConnection[] = [];
  readonly #busy = new Set<ClientConnection>();
  #closed = false;

  constructor(readonly address: Address, readonly dialect: Dialect, readonly label: string) {}

  async #take(connectMs: number): Promise<ClientConnection> {
    let c = this.#idle.pop();
    while (c && !c.alive) c = this.#idle.pop();
    c ??= await ClientConnection.open(this.address, this.dialect, performance.now() + connectMs, false);
    if (this.#closed) c.destroy();
    this.#busy.add(c);
    return c;
  }

  #release(c: ClientConnection): void {
    this.#busy.delete(c);
    if (c.alive && c.inFlight === 0 && this.#idle.length < IDLE_MAX && !this.#closed) this.#idle.push(c);
    else c.destroy();
  }

  /** Resolves once every key exists (`ms` 0: no deadline); else rejects with a TimeoutError naming the keys. */
  async wait(
    keys: readonly Buffer[], names: readonly string[], ms: number, what: string, connectMs: number,
  ): Promise<void> {
    const c = await this.#take(connectMs);
    let settled = false;
    const frame = new FrameBuilder().u8(c.code(Q.WAIT)).list(keys).finish();
    const reply = c.request<unknown>(frame, (cur) => cur.u8(), what);
    reply.then(() => (settled = true), () => (settled = true));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = ms > 0 && await new Promise<boolean>((resolve, reject) => {
      timer = setTimeout(() => resolve(true), ms);
      reply.then(() => resolve(false), reject);
    }).finally(() => clearTimeout(timer));
    try {
      if (!timedOut || settled) {
        await reply;
        return;
      }
      if (c.dialect === 'legacy') {
        c.destroy();
      } else {
        c.rereadOldest((cur) => (cur.u8() === STOP_WAITING ? (cur.u8(), 'late') : 'cancelled'));
        c.write(new FrameBuilder().u8(Q.CANCEL_WAIT).finish());
        const guard = setTimeout(() => c.destroy(), CANCEL_GRACE_MS);
        const outcome = await reply.catch(() => 'cancelled').finally(() => clearTimeout(guard));
        if (outcome === 'late') return;
      }
      throw new TimeoutError(`${this.label}: ${what} timed out after ${ms} ms waiting for keys: ${listKeys(names)}`);
    } finally {
      this.#release(c);
    }
  }

  close(): void {
    this.#closed = true;
    for (const c of [...this.#idle.splice(0), ...this.#busy]) c.destroy();
  }
}

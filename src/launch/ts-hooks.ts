/**
 * Module-loader hooks that let a rank module be TypeScript (`multirank run rank.ts`). They run in the hooks
 * thread Node starts for each rank thread that registers them (ts-relay.ts), and transpile nothing: a
 * `.ts`, `.mts` or `.cts` file's JavaScript is asked of the driver, which transpiles each file once per job
 * (ts-source.ts), through the port given at registration. A `.js` import that names a `.ts` file on disk
 * resolves to it, so NodeNext-style imports work.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { MessagePort } from 'node:worker_threads';
import { isTypeScriptUrl, reviveError, type SourceReply } from './ts-source.js';

interface ResolveContext { parentURL?: string }
interface Resolved { url: string; format?: string | null | undefined; shortCircuit?: boolean }
interface Loaded { format: string; source?: string | Uint8Array | null | undefined; shortCircuit?: boolean }
type NextResolve = (specifier: string, context: ResolveContext) => Promise<Resolved>;
type NextLoad = (url: string, context: unknown) => Promise<Loaded>;

let port: MessagePort | undefined;
const pending = new Map<number, (reply: SourceReply) => void>();
let nextId = 0;

/** Called by `register` with the port to the rank thread, which relays to the driver. */
export function initialize(data: { port: MessagePort }): void {
  port = data.port;
  port.on('message', (reply: SourceReply) => {
    const settle = pending.get(reply.id);
    pending.delete(reply.id);
    // Node's hooks thread ends its event loop when nothing holds it: the port does while a request waits.
    if (pending.size === 0) port!.unref();
    settle?.(reply);
  });
  port.unref();
}

export async function resolve(specifier: string, context: ResolveContext, next: NextResolve): Promise<Resolved> {
  const parent = context.parentURL;
  if (parent !== undefined && isTypeScriptUrl(parent) && /^\.{1,2}\//.test(specifier) && specifier.endsWith('.js')) {
    const candidate = new URL(specifier.replace(/\.js$/, '.ts'), parent);
    if (existsSync(fileURLToPath(candidate))) return { url: candidate.href, shortCircuit: true };
  }
  return next(specifier, context);
}

export async function load(url: string, context: unknown, next: NextLoad): Promise<Loaded> {
  if (!isTypeScriptUrl(url) || port === undefined) return next(url, context);
  const id = nextId++;
  const reply = await new Promise<SourceReply>((settle) => {
    pending.set(id, settle);
    port!.ref();
    port!.postMessage({ id, url });
  });
  if (!reply.ok) throw reviveError(reply);
  return { format: reply.format, source: reply.source, shortCircuit: true };
}

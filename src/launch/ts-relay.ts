/**
 * TypeScript rank modules, the rank thread's side: registers the module hooks (ts-hooks.ts) once per thread
 * and carries their requests for a file's JavaScript to the driver of the job the thread runs now, over the
 * job's source port (ts-source.ts). Every request gets a reply: when no job can answer (none is running,
 * or it ended), the reply is an error that says so, and the import fails instead of waiting.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { register } from 'node:module';
import type { SourceReply, SourceRequest } from './ts-source.js';
import { entryFile } from '../package-files.js';

let hooks: MessagePort | undefined;
let job: MessagePort | undefined;
/** Requests sent to the current job's driver and not yet answered: their hooks-side ids. */
const waiting = new Set<number>();

/** Registers the hooks in this thread (once) and sends their requests to `sources`, this job's port. */
export function serveTypeScript(sources: MessagePort): void {
  if (hooks === undefined) {
    const channel = new MessageChannel();
    hooks = channel.port1;
    hooks.unref();
    hooks.on('message', (request: SourceRequest) => forward(request));
    const data = { port: channel.port2 };
    register(entryFile('src/launch/ts-hooks.js'), { data, transferList: [channel.port2] });
  }
  job = sources;
  job.unref();
  job.on('message', (reply: SourceReply) => {
    waiting.delete(reply.id);
    hooks!.postMessage(reply);
  });
}

/** The job ended: its port closes, and what it had not answered fails. */
export function endTypeScriptJob(sources: MessagePort): void {
  if (job !== sources) return;
  job = undefined;
  sources.close();
  for (const id of waiting) hooks!.postMessage(noJob(id, 'the job ended before the driver answered'));
  waiting.clear();
}

function forward(request: SourceRequest): void {
  if (job === undefined) {
    hooks!.postMessage(noJob(request.id, 'no job that launched a TypeScript module runs in this thread'));
    return;
  }
  waiting.add(request.id);
  job.postMessage(request);
}

function noJob(id: number, why: string): SourceReply {
  return { id, ok: false, name: 'Error', message: `Cannot load a TypeScript module: ${why}` };
}

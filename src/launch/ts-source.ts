/**
 * TypeScript rank modules, the driver's side: a job's `.ts` / `.mts` / `.cts` files are transpiled once, in
 * the driver, and served to every rank thread on request (ts-hooks.ts asks, ts-relay.ts carries the request).
 * The stripper is swc's TypeScript transform, the one Node itself ships for `--experimental-strip-types`:
 * a 4 MB WebAssembly module, loaded on the first `.ts` launch (about 0.25 s), independent of whichever
 * `typescript` the user has (TypeScript 7 no longer has a JavaScript transpile API). Types are removed, not
 * checked (run `tsc` for that); enums, namespaces and parameter properties are transformed.
 *
 * The output carries an inline source map, so that stack traces and the call sites in mismatch reports
 * name the `.ts` lines. A syntax error becomes a SyntaxError naming file, line and column.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { MessagePort } from 'node:worker_threads';

const TS_FILE = /\.(ts|mts|cts)$/;

/** Whether `url` names a TypeScript file that the rank threads need served. */
export function isTypeScriptUrl(url: string): boolean {
  return url.startsWith('file:') && TS_FILE.test(new URL(url).pathname);
}

/** A request from a rank's module hooks (ts-hooks.ts), and the driver's reply. */
export interface SourceRequest {
  id: number;
  url: string;
}
export type SourceReply =
  | { id: number; ok: true; format: 'module' | 'commonjs'; source: string }
  | { id: number; ok: false; name: string; message: string };

interface SwcOutput {
  code: string;
  map?: string;
}
interface Swc {
  transformSync(source: string, options: Record<string, unknown>): SwcOutput;
}
/** What swc throws on a syntax error (a plain object, not an Error). */
interface SwcSyntaxError {
  code?: string;
  message?: string;
  snippet?: string;
  startLine?: number;
  startColumn?: number;
}

let swc: Swc | undefined;

function stripper(): Swc {
  swc ??= createRequire(import.meta.url)('@swc/wasm-typescript') as Swc;
  return swc;
}

/**
 * Transpiles one TypeScript file to JavaScript with an inline source map.
 * @throws SyntaxError naming `file:line:column` and showing the line, when the file does not parse.
 */
export function transpile(source: string, path: string): string {
  const cts = path.endsWith('.cts');
  let output: SwcOutput;
  try {
    output = stripper().transformSync(source, {
      mode: 'transform', filename: path, sourceMap: true, module: !cts,
      transform: { verbatimModuleSyntax: false, noEmptyExport: cts },
    });
  } catch (error) {
    throw syntaxError(error, path);
  }
  if (output.map === undefined) return output.code;
  const map = Buffer.from(output.map, 'utf8').toString('base64');
  return `${output.code}\n//# sourceMappingURL=data:application/json;base64,${map}\n`;
}

function syntaxError(error: unknown, path: string): Error {
  if (error instanceof Error) return error;
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as SwcSyntaxError;
  // swc's lines count from 1, its columns from 0; editors and Node's own messages count both from 1.
  const where = e.startLine === undefined ? path : `${path}:${e.startLine}:${(e.startColumn ?? 0) + 1}`;
  const snippet = e.snippet === undefined ? '' : `\n${e.snippet.trimEnd()}`;
  const syntax = new SyntaxError(`${where}: ${e.message ?? 'the file does not parse'}${snippet}`);
  // The driver's frames say nothing about the user's file: the message holds where the error is.
  syntax.stack = `SyntaxError: ${syntax.message}`;
  return syntax;
}

/**
 * The TypeScript files of one job, each transpiled at most once however many ranks import it. The job's
 * rank threads ask through the ports given to `serve`; the cache goes when every port has closed (the rank
 * threads close theirs when the job ends).
 */
export class JobSources {
  readonly #cache = new Map<string, Promise<SourceReply & { id: 0 }>>();
  readonly #transpile: typeof transpile;
  #open = 0;

  /** `compile` is the transpiler (a test counts its calls). */
  constructor(compile: typeof transpile = transpile) {
    this.#transpile = compile;
  }

  /** Transpiles `url` now (the entry module, at launch), so that a syntax error fails the launch itself. */
  async prepare(url: string): Promise<void> {
    const reply = await this.#get(url);
    if (!reply.ok) throw reviveError(reply);
  }

  /** Answers the requests that come through `port` (one rank thread's). */
  serve(port: MessagePort): void {
    this.#open++;
    port.on('message', (request: SourceRequest) => {
      void this.#get(request.url).then((reply) => port.postMessage({ ...reply, id: request.id }));
    });
    port.once('close', () => {
      if (--this.#open === 0) this.#cache.clear();
    });
    port.unref(); // a rank thread's request is answered while the job runs; the port never holds the driver
  }

  #get(url: string): Promise<SourceReply & { id: 0 }> {
    let reply = this.#cache.get(url);
    if (reply === undefined) {
      reply = load(url, this.#transpile);
      this.#cache.set(url, reply);
    }
    return reply;
  }
}

async function load(url: string, compile: typeof transpile): Promise<SourceReply & { id: 0 }> {
  try {
    const path = fileURLToPath(url);
    const source = compile(await readFile(path, 'utf8'), path);
    return { id: 0, ok: true, format: path.endsWith('.cts') ? 'commonjs' : 'module', source };
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    return { id: 0, ok: false, name: e.name, message: e.message };
  }
}

/** The error a failed reply stands for, rebuilt where it is thrown (its stack is its message: see above). */
export function reviveError(reply: { name: string; message: string }): Error {
  const error = reply.name === 'SyntaxError' ? new SyntaxError(reply.message) : new Error(reply.message);
  if (reply.name !== 'SyntaxError' && reply.name !== 'Error') error.name = reply.name;
  error.stack = `${error.name}: ${reply.message}`;
  return error;
}

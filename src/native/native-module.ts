/**
 * One Node-API module of the build (native/build/Release), loaded once per thread. When it cannot be loaded,
 * the reason is the build's own record (native/build/status.json, written by native/scripts/build.mjs) where
 * it says the module was not built, else the load error.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { packageFile } from '../package-files.js';

const STATUS = packageFile('native/build/status.json');

/** What status.json says of one module: `ok`, or why not. */
export interface BuildRecord {
  readonly ok: boolean;
  readonly reason: string;
}

export class NativeModule<T> {
  readonly #file: URL;
  readonly #what: string;
  readonly #record: (status: Record<string, unknown>) => BuildRecord | undefined;
  #module: T | undefined;
  #error: string | undefined;

  /**
   * `file`: the .node file; `what`: how messages name it ("the native addon"); `record`: its entry in the
   * build's status.
   */
  constructor(file: URL, what: string, record: (status: Record<string, unknown>) => BuildRecord | undefined) {
    this.#file = file;
    this.#what = what;
    this.#record = record;
  }

  /** The module, or undefined when it cannot be loaded (`reason()` says why; the attempt is made once). */
  load(): T | undefined {
    if (this.#module !== undefined || this.#error !== undefined) return this.#module;
    try {
      this.#module = createRequire(import.meta.url)(fileURLToPath(this.#file)) as T;
    } catch (error) {
      this.#error = this.#missingReason(error);
    }
    return this.#module;
  }

  /** Why `load()` gave nothing; undefined when it gave the module (or was not tried). */
  reason(): string | undefined {
    return this.#error;
  }

  #missingReason(error: unknown): string {
    if (existsSync(STATUS)) {
      try {
        const record = this.#record(JSON.parse(readFileSync(STATUS, 'utf8')) as Record<string, unknown>);
        if (record !== undefined && !record.ok) return `${this.#what} was not built: ${record.reason}`;
      } catch {
        // fall through to the load error
      }
    }
    return `${this.#what} (${fileURLToPath(this.#file)}) could not be loaded: ${(error as Error).message}`;
  }
}

/**
 * What one job changes in its rank thread's globals, and how each change is undone. A thread may run
 * job after job (`keepModuleState`), and a job must see only what it was given: the environment, the
 * output prefix and the rank context are installed when its task starts and put back when the job ends.
 */

/** The changes one job made to this thread, undone in reverse order by `end()`. */
export class JobScope {
  readonly #undo: (() => void)[] = [];
  #ended = false;

  /** Runs `apply` now; `undo` runs when the scope ends. */
  change(apply: () => void, undo: () => void): void {
    apply();
    this.#undo.push(undo);
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Undoes every change, the last first; each one runs even when a later one threw. Idempotent. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#undoFrom(this.#undo.length - 1);
  }

  #undoFrom(index: number): void {
    if (index < 0) return;
    try {
      this.#undo[index]!();
    } finally {
      this.#undoFrom(index - 1);
    }
  }
}

/** Makes this thread's `process.env` exactly `env` (worker threads each have their own copy). */
export function setEnvironment(env: Readonly<Record<string, string>>): void {
  for (const key of Object.keys(process.env)) if (!Object.hasOwn(env, key)) delete process.env[key];
  Object.assign(process.env, env);
}

/** A copy of this thread's environment, to set back with `setEnvironment`. */
export function environmentSnapshot(): Record<string, string> {
  const copy: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) copy[key] = value;
  return copy;
}

type Write = NodeJS.WriteStream['write'];

/**
 * Prefixes every line this thread writes to stdout and stderr (the CLI tells ranks apart this way).
 * Returns the function that puts both streams back as they were.
 */
export function prefixOutput(prefix: string): () => void {
  const undo = [process.stdout, process.stderr].map((stream) => wrapWrite(stream, prefix));
  return () => undo.forEach((restore) => restore());
}

function wrapWrite(stream: NodeJS.WriteStream, prefix: string): () => void {
  const own = Object.getOwnPropertyDescriptor(stream, 'write');
  const write = stream.write.bind(stream) as (...a: unknown[]) => boolean;
  let atLineStart = true;
  stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    const lines = text.split('\n');
    // A line gets the prefix where it starts: the first piece only at a line start, never the empty tail.
    const starts = (line: string, i: number): boolean =>
      (i > 0 || atLineStart) && (line !== '' || i < lines.length - 1);
    const prefixed = lines.map((line, i) => (starts(line, i) ? prefix + line : line));
    if (text !== '') atLineStart = text.endsWith('\n');
    return write(prefixed.join('\n'), ...rest);
  }) as Write;
  return () => {
    if (own === undefined) delete (stream as { write?: Write }).write;
    else Object.defineProperty(stream, 'write', own);
  };
}

/**
 * Resolves once the driver's thread has taken everything this thread wrote to stdout and stderr. A rank
 * thread may be terminated as soon as its job ends: output still buffered here would be lost.
 */
export async function flushOutput(): Promise<void> {
  await Promise.all([process.stdout, process.stderr].map((stream) =>
    stream.writableLength === 0 ? undefined : new Promise<void>((resolve) => stream.write('', () => resolve()))));
}

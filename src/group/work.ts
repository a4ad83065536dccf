/**
 * `Work`: the handle the `...Async` collectives return, as torch's `Work`. Collectives of the threads
 * communicator complete before they return (a rank's thread blocks, as it would on a gloo wait), so the
 * handle is complete at once; the type leaves room for communicators that complete later.
 */
export interface Work<T> {
  /** Waits for completion and returns the result. */
  wait(): T;
  isCompleted(): boolean;
}

export class CompletedWork<T> implements Work<T> {
  readonly #value: T;

  constructor(value: T) {
    this.#value = value;
  }

  wait(): T {
    return this.#value;
  }

  isCompleted(): boolean {
    return true;
  }
}

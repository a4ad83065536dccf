/** Environment variables set for the span of one test body. */

function put(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

/**
 * Runs `body` with `process.env[name]` set to `value` (undefined: unset), then puts the old value back,
 * also when `body` throws or its promise rejects. Only for tests that nothing else runs beside (sync
 * bodies, or `test.serial`): the variable is the process's.
 */
export function withEnv<T>(name: string, value: string | undefined, body: () => T): T {
  const saved = process.env[name];
  put(name, value);
  let result: T;
  try {
    result = body();
  } catch (error) {
    put(name, saved);
    throw error;
  }
  if (result instanceof Promise) return result.finally(() => put(name, saved)) as T;
  put(name, saved);
  return result;
}

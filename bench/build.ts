/**
 * Which of the package's two builds a bench runs (see src/package-files.ts): `bundle`, what the package's
 * entry points name and users load, or `tsc`, the module-for-module build the tests import. A job's rank
 * module must import the library from the same build as the launcher (one copy of the rank state), so
 * the rank modules of these benches import it from the URL they are given (`lib`).
 */
export type Build = 'bundle' | 'tsc';
export type Library = typeof import('../src/index.js');

export const BUILDS: readonly Build[] = ['bundle', 'tsc'];

/** The URL of `build`'s index. */
export function libraryUrl(build: Build): string {
  const path = build === 'bundle' ? '../bundle/src/index.js' : '../src/index.js';
  return new URL(path, import.meta.url).href;
}

/** `build`'s index, loaded. */
export async function loadLibrary(build: Build): Promise<Library> {
  return (await import(libraryUrl(build))) as Library;
}

/** Reads a `--build` value: `bundle` (the default) or `tsc`. */
export function parseBuild(value: string | undefined): Build {
  const build = value ?? 'bundle';
  if (!(BUILDS as readonly string[]).includes(build)) {
    throw new Error(`Expected --build to be one of ${BUILDS.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return build as Build;
}

/**
 * Where this package's files are, in either of its two builds:
 *
 * - tsc's, module for module: `dist/src/**`, `dist/workers/**` (what the tests and benches import);
 * - the bundle the package's entry points name: `dist/bundle/{src,workers}/**` entry files over shared
 *   chunks in `dist/bundle/chunks/` (package.json's `build:bundle`, esbuild). A fresh rank thread loads
 *   about 20 files instead of about 125 modules, which halves what importing the library costs it.
 *
 * A bundled module's `import.meta.url` is that of whichever chunk or entry file it landed in, so no module
 * may find a file relative to itself: every such path goes through here, from the `dist/` directory found
 * in this module's own URL. A thread started from one build (a rank thread, the store's server thread,
 * the module hooks) starts the same build's entry, so that a job's runtime and the rank code that imports
 * the package share one copy of the library's state.
 */
import { fileURLToPath } from 'node:url';

const here = import.meta.url;
const distAt = here.lastIndexOf('/dist/');
if (distAt < 0) throw new Error(`multirank: cannot find its dist/ directory from ${here}`);
/** The package's `dist/` directory. */
const DIST = new URL(here.slice(0, distAt + '/dist/'.length));
/** Whether this module runs from the bundle (`dist/bundle/`) rather than tsc's output. */
export const BUNDLED = here.startsWith(new URL('bundle/', DIST).href);

/** The package's root directory (where package.json is). */
export const PACKAGE_ROOT = new URL('../', DIST);

/** A file under the package root (`package.json`, `native/build/...`). */
export function packageFile(path: string): URL {
  return new URL(path, PACKAGE_ROOT);
}

/** A build output shared by both builds (`kernels.wasm`). */
export function distFile(path: string): URL {
  return new URL(path, DIST);
}

/**
 * An entry module of this build, named by its tsc path under `dist/` (`src/store/server-thread.js`,
 * `workers/rank-worker.js`): that file, or the bundle's entry of the same name.
 */
export function entryFile(path: string): URL {
  return new URL(BUNDLED ? `bundle/${path}` : path, DIST);
}

/** The directories whose frames are multirank's own code (as paths and as file URLs). */
export function ownCodeDirs(): string[] {
  const dirs = ['dist/src/', 'dist/workers/', 'dist/bundle/', 'src/', 'workers/'].map(packageFile);
  return dirs.flatMap((url) => [fileURLToPath(url), url.href]);
}

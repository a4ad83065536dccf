/**
 * Where the vendor libraries are looked for, and loading them through the addon. For each library, an
 * environment variable names one path, and then only that path is tried (an explicit choice that fails
 * must not silently load another copy); otherwise the usual sonames (the dynamic loader's search:
 * LD_LIBRARY_PATH, the ld cache), then the copies that pip wheels install in a Python's site-packages
 * (`nvidia/nccl/lib` of nvidia-nccl-cu12 / -cu13, `nvidia/cuda_runtime/lib`, `nvidia/cu13/lib`), then the
 * toolkits' usual prefixes. A failed load throws BACKEND_UNAVAILABLE naming every path tried and why.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ErrorCodes, MultirankError } from '../errors.js';
import { HCCL, NCCL, nativeAddon, type LibraryInfo, type NativeAddon, type VendorCode } from './addon.js';

export type VendorName = 'nccl' | 'hccl';

interface VendorSpec {
  readonly code: VendorCode;
  readonly title: string;
  readonly ccl: { env: string; names: readonly string[]; site: readonly string[]; dirs: () => string[] };
  readonly runtime: { env: string; names: readonly string[]; site: readonly string[]; dirs: () => string[] };
}

const ascendDirs = (file: string) => (): string[] => {
  const roots = [
    process.env.ASCEND_TOOLKIT_HOME, process.env.ASCEND_HOME_PATH, '/usr/local/Ascend/ascend-toolkit/latest',
  ];
  return roots.filter((r): r is string => r !== undefined && r !== '').map((r) => join(r, 'lib64', file));
};

const SPECS: Record<VendorName, VendorSpec> = {
  nccl: {
    code: NCCL,
    title: 'NCCL',
    ccl: {
      env: 'MULTIRANK_NCCL_LIBRARY', names: ['libnccl.so.2', 'libnccl.so'], site: ['nvidia/nccl/lib/libnccl.so.2'],
      dirs: () => [],
    },
    runtime: {
      env: 'MULTIRANK_CUDART_LIBRARY',
      names: ['libcudart.so', 'libcudart.so.13', 'libcudart.so.12', 'libcudart.so.11.0'],
      site: [
        'nvidia/cuda_runtime/lib/libcudart.so.12', 'nvidia/cuda_runtime/lib/libcudart.so.13',
        'nvidia/cu13/lib/libcudart.so.13',
      ],
      dirs: () => ['/usr/local/cuda/lib64/libcudart.so'],
    },
  },
  hccl: {
    code: HCCL,
    title: 'HCCL',
    ccl: { env: 'MULTIRANK_HCCL_LIBRARY', names: ['libhccl.so'], site: [], dirs: ascendDirs('libhccl.so') },
    runtime: { env: 'MULTIRANK_ACL_LIBRARY', names: ['libascendcl.so'], site: [], dirs: ascendDirs('libascendcl.so') },
  },
};

const cache: { sites?: string[] } = {};

/** `lib/python3.X/{site,dist}-packages` under a prefix, for every X there. */
function pythonDirs(prefix: string): string[] {
  const lib = join(prefix, 'lib');
  let entries: string[];
  try {
    entries = readdirSync(lib).filter((name) => /^python3\.\d+$/.test(name));
  } catch {
    return [];
  }
  return entries.flatMap((name) => ['site-packages', 'dist-packages'].map((d) => join(lib, name, d)));
}

/** Python site-packages folders: usual prefixes first, then what python3 itself says (asked once). */
export function pythonSiteDirs(): string[] {
  if (cache.sites !== undefined) return cache.sites;
  const prefixes = [process.env.VIRTUAL_ENV, process.env.CONDA_PREFIX, join(homedir(), '.local'), '/usr/local', '/usr'];
  const dirs = prefixes.filter((p): p is string => p !== undefined && p !== '').flatMap(pythonDirs);
  dirs.push('/usr/lib/python3/dist-packages');
  const asked = spawnSync('python3', [
    '-c', 'import site,sys;print("\\n".join(site.getsitepackages()+[site.getusersitepackages()]))',
  ], {
    encoding: 'utf8', timeout: 5000,
  });
  if (asked.status === 0) dirs.push(...asked.stdout.split('\n').filter((line) => line !== ''));
  cache.sites = [...new Set(dirs)].filter((d) => existsSync(d));
  return cache.sites;
}

function candidates(lib: VendorSpec['ccl']): { paths: string[]; explicit: boolean } {
  const chosen = process.env[lib.env];
  if (chosen !== undefined && chosen !== '') return { paths: [chosen], explicit: true };
  const site = lib.site.length === 0 ? [] : pythonSiteDirs().flatMap((dir) => lib.site.map((f) => join(dir, f)));
  return { paths: [...lib.names, ...site.filter((p) => existsSync(p)), ...lib.dirs()], explicit: false };
}

/** The loaded libraries of a vendor, with the addon that calls them. */
export interface VendorLibrary {
  readonly vendor: VendorName;
  readonly code: VendorCode;
  readonly addon: NativeAddon;
  readonly info: LibraryInfo;
}

const loaded = new Map<VendorName, VendorLibrary>();

/** Why nothing loaded: every path tried, in order, with the loader's reason. */
function failure(spec: VendorSpec, explicit: { ccl: boolean; runtime: boolean }, tried: readonly string[]): string {
  const from = (lib: VendorSpec['ccl'], chosen: boolean): string =>
    chosen ? `${lib.env}=${process.env[lib.env]}` : `${lib.env} unset: the usual names and places`;
  return [
    `${spec.title} could not be loaded (${from(spec.runtime, explicit.runtime)}; ${from(spec.ccl, explicit.ccl)}). ` +
      'Tried, in order:',
    ...tried.map((t) => `  ${t}`),
    `Set ${spec.ccl.env} and ${spec.runtime.env} to the libraries' paths (without a device: to multirank's CPU shim, ` +
      'native/build/Release/). CPU tensors are not affected.',
  ].join('\n');
}

/** Loads `vendor`'s libraries (once per thread; the process keeps the first that loaded). */
export function loadVendor(vendor: VendorName): VendorLibrary {
  const done = loaded.get(vendor);
  if (done !== undefined) return done;
  const spec = SPECS[vendor];
  const addon = nativeAddon();
  let info = addon.info(spec.code);
  if (!info.loaded) {
    const runtime = candidates(spec.runtime), ccl = candidates(spec.ccl);
    info = addon.load(spec.code, ccl.paths, runtime.paths);
    if (!info.loaded) {
      const explicit = { ccl: ccl.explicit, runtime: runtime.explicit };
      throw new MultirankError(ErrorCodes.BACKEND_UNAVAILABLE, failure(spec, explicit, info.tried ?? []));
    }
  }
  const library: VendorLibrary = { vendor, code: spec.code, addon, info };
  loaded.set(vendor, library);
  return library;
}

/** Whether `vendor` can run here, and if not why (loads it when it can). */
export function vendorStatus(
  vendor: VendorName,
): { available: true; library: VendorLibrary } | { available: false; reason: string } {
  try {
    return { available: true, library: loadVendor(vendor) };
  } catch (error) {
    return { available: false, reason: (error as Error).message };
  }
}

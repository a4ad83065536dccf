/**
 * Module-loader hooks that let a rank module be TypeScript (`multirank run rank.ts`): `.ts`, `.mts` and
 * `.cts` files are transpiled on load with the `typescript` package (types are not checked, as tsx and
 * ts-node's transpile-only mode do). A `.js` import that names a `.ts` file on disk resolves to it, so
 * NodeNext-style imports work. Registered per rank thread by rank-runtime.ts.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const TS_FILE = /\.(ts|mts|cts)$/;

interface ResolveContext { parentURL?: string }
type NextResolve = (specifier: string, context: ResolveContext) => Promise<{ url: string; format?: string }>;
type NextLoad = (url: string, context: unknown) => Promise<{ format: string; source?: string | Uint8Array; shortCircuit?: boolean }>;

export async function resolve(specifier: string, context: ResolveContext, next: NextResolve): Promise<{ url: string; format?: string; shortCircuit?: boolean }> {
  if (context.parentURL !== undefined && TS_FILE.test(new URL(context.parentURL).pathname) && /^\.{1,2}\//.test(specifier) && specifier.endsWith('.js')) {
    const candidate = new URL(specifier.replace(/\.js$/, '.ts'), context.parentURL);
    if (existsSync(fileURLToPath(candidate))) return { url: candidate.href, shortCircuit: true };
  }
  return next(specifier, context);
}

export async function load(url: string, context: unknown, next: NextLoad): Promise<{ format: string; source?: string | Uint8Array; shortCircuit?: boolean }> {
  if (!url.startsWith('file:') || !TS_FILE.test(new URL(url).pathname)) return next(url, context);
  const ts = (await import('typescript')).default;
  const source = await readFile(fileURLToPath(url), 'utf8');
  const output = ts.transpileModule(source, {
    fileName: fileURLToPath(url),
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false, inlineSourceMap: true, verbatimModuleSyntax: false },
  });
  return { format: url.endsWith('.cts') ? 'commonjs' : 'module', source: output.outputText, shortCircuit: true };
}

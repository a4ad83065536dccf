/**
 * Running `multirank run ...` from a test as a child process, and reading the `[rank N] => json` lines
 * it prints (the jobs of several processes in test/procs).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The CLI's entry, as built next to the tests. */
export const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
/** Generous: ranks share 2 cores with other work; nothing here should come near it. */
export const DEADLINE_MS = 120_000;

export interface Run { code: number | null; stdout: string; stderr: string }

/** `multirank run ...args`, killed after DEADLINE_MS; resolves with its exit code and output. */
export function run(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, 'run', ...args], { timeout: DEADLINE_MS }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : (error as { code?: number }).code ?? null, stdout, stderr });
    });
  });
}

/** `[rank N] => json` lines, by rank. */
export function results<T = unknown>(stdout: string): Map<number, T> {
  const out = new Map<number, T>();
  for (const m of stdout.matchAll(/^\[rank (\d+)\] => (.*)$/gm)) out.set(Number(m[1]), JSON.parse(m[2]!) as T);
  return out;
}

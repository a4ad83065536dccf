/**
 * TypeScript rank modules: transpiled once per job in the driver (ts-source.ts) and served to the ranks;
 * stack traces and mismatch call sites name the .ts lines; syntax errors name file, line and column.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import test from 'ava';
import { withRanks } from '../../src/testing/index.js';
import { ErrorCodes } from '../../src/errors.js';
import { JobSources, transpile, type SourceReply } from '../../src/launch/ts-source.js';
import { quietFailures } from '../helpers/quiet-failures.js';

quietFailures();

const modules = new URL('../../../test/ts-modules/', import.meta.url);
const rankTs = new URL('rank.ts', modules);
const scratch = mkdtempSync(join(tmpdir(), 'multirank-ts-test-'));
test.after.always('remove the scratch modules', () => rmSync(scratch, { recursive: true, force: true }));

function scratchModule(name: string, source: string): URL {
  const path = join(scratch, name);
  writeFileSync(path, source);
  return pathToFileURL(path);
}

test('a .ts rank module (enum, parameter property, .js import of a .ts file) runs on 8 ranks', async (t) => {
  const results = (await withRanks(8, rankTs)) as { sum: number[]; next: number; worldSize: number }[];
  // sum over ranks of 2 * rank, and of 1
  results.forEach((r, rank) => t.deepEqual(r, { sum: [56, 8], next: rank + 1, worldSize: 8 }));
});

test("a rank's stack trace names the .ts line it threw on", async (t) => {
  const error = await t.throwsAsync(withRanks(4, { module: rankTs, exportName: 'fails' }, { timeoutMs: 60_000 }));
  t.is((error as { code?: string }).code, ErrorCodes.RANK_FAILED);
  t.regex(error!.message, /failed on purpose on rank 2/);
  t.regex(error!.message, /rank\.ts:20:\d+/);
});

test("a mismatch report's call sites are the .ts lines", async (t) => {
  const error = await t.throwsAsync(withRanks(2, { module: rankTs, exportName: 'mismatch' }, { timeoutMs: 60_000 }));
  t.regex(error!.message, /allGather/);
  t.regex(error!.message, /rank\.ts:27:\d+/);
  t.regex(error!.message, /rank\.ts:28:\d+/);
});

test('a syntax error in the entry fails the launch, naming file, line and column', async (t) => {
  const unclosed = scratchModule('unclosed.ts', 'export default function main( { return 1 }\n');
  const error = await t.throwsAsync(withRanks(2, unclosed));
  t.true(error instanceof SyntaxError);
  t.regex(error!.message, /unclosed\.ts:1:40: /);
  const missing = scratchModule('missing.ts', 'const y: number = 1;\nconst x = ;\nexport default () => x + y;\n');
  const second = await t.throwsAsync(withRanks(2, missing));
  t.true(second instanceof SyntaxError);
  t.regex(second!.message, /missing\.ts:2:11: Expression expected/);
  t.regex(second!.message, /const x = ;/); // the line itself
  t.notRegex(second!.stack ?? '', /node:internal/);
});

test('a syntax error in a module the entry imports fails the rank, naming file, line and column', async (t) => {
  scratchModule('broken.ts', 'export const a: number = 1;\nexport const b = (;\n');
  const entry = scratchModule('imports-broken.ts', "import { a } from './broken.js';\nexport default () => a;\n");
  const error = await t.throwsAsync(withRanks(2, entry, { timeoutMs: 60_000 }));
  t.is((error as { code?: string }).code, ErrorCodes.RANK_FAILED);
  t.regex(error!.message, /SyntaxError: .*broken\.ts:2:19: /);
});

test('a job transpiles each file once, whatever its number of ranks', async (t) => {
  const path = join(scratch, 'once.ts');
  writeFileSync(path, 'export const n: number = 1;\n');
  const url = pathToFileURL(path).href;
  let transpiled = 0;
  const sources = new JobSources((source, file) => (transpiled++, transpile(source, file)));
  await sources.prepare(url);
  const replies = await Promise.all(Array.from({ length: 8 }, (_, id) => {
    const { port1, port2 } = new MessageChannel();
    sources.serve(port1);
    return new Promise<SourceReply>((resolve) => {
      port2.once('message', (reply: SourceReply) => {
        port2.close();
        resolve(reply);
      });
      port2.postMessage({ id, url });
    });
  }));
  t.is(transpiled, 1);
  replies.forEach((reply, id) => {
    t.is(reply.id, id);
    t.true(reply.ok && reply.source.includes('export const n = 1;') && reply.source.includes('sourceMappingURL'));
  });
});

test('a thread kept from an earlier TypeScript job gets the next job its own files', async (t) => {
  const first = scratchModule('kept-first.ts', 'export default (): string => "first";\n');
  const second = scratchModule('kept-second.ts', 'const n: number = 2;\nexport default (): string => `second ${n}`;\n');
  t.deepEqual(await withRanks(2, first, { keepModuleState: true }), ['first', 'first']);
  // The same threads, whose module hooks were registered by the first job, ask the second job's driver.
  t.deepEqual(await withRanks(2, second, { keepModuleState: true }), ['second 2', 'second 2']);
});

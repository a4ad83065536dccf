#!/usr/bin/env node
/**
 * Writes every ```ts block of the given Markdown files into DIR, one module each, so that a scratch project
 * can type-check them (and run some). A block whose first line is `// NAME.ts` is written as NAME.ts (the
 * README's rank.ts, driver.ts, rank.test.ts refer to each other by those names); any other block as
 * `<file>-<line>.ts`. Usage: extract-blocks.mjs DIR FILE.md...
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const [dir, ...files] = process.argv.slice(2);
mkdirSync(dir, { recursive: true });
const written = new Set();
for (const file of files) {
  const lines = readFileSync(file, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== '```ts') continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end].trim() !== '```') end++;
    const body = lines.slice(start, end);
    const named = /^\/\/ ([\w.-]+\.ts)\b/.exec(body[0] ?? '');
    const name = named ? named[1] : `${basename(file, '.md').toLowerCase()}-${start + 1}.ts`;
    if (written.has(name)) throw new Error(`${file}:${start}: a second block named ${name}`);
    written.add(name);
    // Every block is a module (an import-less one would be a script sharing the global scope).
    writeFileSync(join(dir, name), `${body.join('\n')}\nexport {};\n`);
    i = end;
  }
}
console.log(`${written.size} TypeScript blocks: ${[...written].join(', ')}`);

/**
 * For test files whose jobs fail on purpose: their flight-recorder dumps go to a fresh temporary folder,
 * removed when the file's tests are done, and the driver prints no failure summary (MULTIRANK_QUIET).
 * Call once at the top of the file (ava runs each file in its own process, so the settings stay there;
 * child processes the file starts inherit them). Returns the folder.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { DUMP_DIR_ENV } from '../../src/debug/flight-dump.js';
import { QUIET_ENV } from '../../src/launch/job.js';

export function quietFailures(): string {
  const dir = mkdtempSync(join(tmpdir(), 'multirank-test-dumps-'));
  process.env[DUMP_DIR_ENV] = dir;
  process.env[QUIET_ENV] = '1';
  test.after.always('remove the flight-recorder dumps', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

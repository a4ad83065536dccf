/**
 * Group deadlines from initDistributedEnvironment({ timeoutMs }) (re-initialisation included: the new
 * groups get fresh shared blocks) and Megatron's distributedTimeoutMinutes.
 */
import test from 'ava';
import { withRanks } from '../../src/testing/index.js';

const fixture = new URL('../fixtures/state-timeouts.js', import.meta.url);

test('initDistributedEnvironment({ timeoutMs }) sets the groups\' deadline; destroy and init again changes it', async (t) => {
  const results = (await withRanks(2, { module: fixture, exportName: 'reinit' }, { timeoutMs: 60_000 })) as Record<string, string>[];
  t.deepEqual(results[0], { again: 'RangeError', first: 'TimeoutError: after 300 ms', second: 'ok' });
  t.deepEqual(results[1], { again: 'RangeError', first: 'late', second: 'ok' });
});

test('Megatron distributedTimeoutMinutes sets the model-parallel groups\' deadline', async (t) => {
  const results = (await withRanks(2, { module: fixture, exportName: 'megatronMinutes' }, { timeoutMs: 60_000 })) as Record<string, string>[];
  t.deepEqual(results[0], { tp: 'TimeoutError: after 300 ms', timeoutMs: '300' });
  t.deepEqual(results[1], { tp: 'late', timeoutMs: '300' });
});

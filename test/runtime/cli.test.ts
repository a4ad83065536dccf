import test from 'ava';
import { main, usage } from '../../src/cli/main.js';
import { quietFailures } from '../helpers/quiet-failures.js';

quietFailures();

function capture(): { out: { log(s: string): void; error(s: string): void }; text: () => string; errors: () => string } {
  const logs: string[] = [], errors: string[] = [];
  return { out: { log: (s) => logs.push(s), error: (s) => errors.push(s) }, text: () => logs.join('\n'), errors: () => errors.join('\n') };
}

test('the demo job matches the 1-rank reference and prints its layout and timings', async (t) => {
  const c = capture();
  t.is(await main(['demo', '--steps', '2'], c.out), 0);
  t.regex(c.text(), /8 ranks \(tp=2 pp=2 dp=2\)/);
  t.regex(c.text(), /tp groups: \[0, 1\] \[2, 3\] \[4, 5\] \[6, 7\]/);
  t.regex(c.text(), /results match 1-rank reference \(max abs difference/);
  t.regex(c.text(), /allReduce \(tp\)\s+\d+/);
  t.regex(c.text(), /recv \(pp\)/);
});

test('the demo takes other layouts and rejects bad flags', async (t) => {
  const c = capture();
  t.is(await main(['demo', '--tp', '4', '--pp', '1', '--dp', '1', '--steps', '1'], c.out), 0);
  t.regex(c.text(), /4 ranks \(tp=4 pp=1 dp=1\)/);
  const bad = capture();
  t.is(await main(['demo', '--tp', 'x'], bad.out), 2);
  t.regex(bad.errors(), /--tp must be a positive integer, got "x"/);
  const indivisible = capture();
  t.is(await main(['demo', '--tp', '3'], indivisible.out), 2);
});

test('multirank run reports a failing rank with a non-zero exit code', async (t) => {
  const c = capture();
  const fixture = new URL('../fixtures/world-basics.js', import.meta.url).pathname;
  t.is(await main(['run', '-n', '2', fixture, '--export', 'throwsOnRank1'], c.out), 1);
  t.regex(c.errors(), /Rank 1 failed: Error: boom on rank 1/);
  const ok = capture();
  t.is(await main(['run', '-n', '3', fixture], ok.out), 0);
  t.regex(ok.text(), /\[rank 2\] => \{"sum":\[3,3\]/);
});

test('usage, version and unknown commands', async (t) => {
  const c = capture();
  t.is(await main(['--help'], c.out), 0);
  t.is(c.text(), usage());
  t.is(await main(['--version'], c.out), 0);
  t.regex(c.text(), /\d+\.\d+\.\d+/);
  const bad = capture();
  t.is(await main(['nope'], bad.out), 2);
  t.regex(bad.errors(), /unknown command "nope"/);
  const run = capture();
  t.is(await main(['run', 'x.js'], run.out), 2);
  t.regex(run.errors(), /-n RANKS is required/);
});

test('multirank run: usage errors exit 2 before any rank starts; int64 results print; a job deadline ends spinning ranks', async (t) => {
  const fixture = new URL('../fixtures/cli-run.js', import.meta.url).pathname;
  for (const argv of [['-n', 'eight', fixture], ['-n', '0', fixture], ['-n', '2', '/nonexistent/rank.js'], ['-n', '2', fixture, '--job-timeout-ms', 'x']]) {
    const c = capture();
    t.is(await main(['run', ...argv], c.out), 2, argv.join(' '));
    t.regex(c.errors(), /nproc must be a positive integer|rank module \/nonexistent\/rank\.js does not exist|job-timeout-ms must be/);
  }
  const big = capture();
  t.is(await main(['run', '-n', '2', fixture, '--export', 'int64'], big.out), 0);
  t.regex(big.text(), /\[rank 1\] => \["1n","9007199254740993n"\]/);
  const spin = capture();
  const started = Date.now();
  t.is(await main(['run', '-n', '2', fixture, '--export', 'spins', '--job-timeout-ms', '500'], spin.out), 1);
  t.regex(spin.errors(), /ran past --job-timeout-ms 500 and was closed/);
  t.true(Date.now() - started < 15_000);
});

test('multirank layout --svg to a folder that does not exist fails before printing the layout', async (t) => {
  const c = capture();
  t.is(await main(['layout', '--flavor', 'vllm', '--world-size', '4', '--tp', '2', '--svg', '/nonexistent/x.svg'], c.out), 1);
  t.is(c.text(), '');
  t.regex(c.errors(), /cannot write \/nonexistent\/x\.svg/);
});

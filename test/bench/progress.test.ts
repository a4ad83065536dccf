/** The progress bar: silent on short runs, drawn after the delay, throttled, cleared without a trace. */
import test from 'ava';
import { ProgressBar, renderProgress } from '../../src/bench/progress.js';

function fake(enabled = true): { bar: ProgressBar; written: string[]; clock: { ms: number } } {
  const clock = { ms: 0 };
  const written: string[] = [];
  const bar = new ProgressBar({ total: 10, enabled, write: (s) => written.push(s), now: () => clock.ms, delayMs: 1000, intervalMs: 100 });
  return { bar, written, clock };
}

test('renders done/total, percent, elapsed and an estimate of the time left', (t) => {
  t.is(renderProgress(5, 10, 2000, 'allReduce'), '[############............] 5/10 rows 50% (2.0 s, ~2.0 s left) allReduce');
  t.is(renderProgress(0, 10, 0, ''), '[........................] 0/10 rows 0% (0.0 s) ');
});

test('nothing before the delay; then drawn at most once per interval; clear erases the line', (t) => {
  const { bar, written, clock } = fake();
  bar.update(1, 'a');
  clock.ms = 999;
  bar.update(2, 'b');
  t.deepEqual(written, []);
  clock.ms = 1000;
  bar.update(3, 'c');
  t.is(written.length, 1);
  t.true(written[0]!.startsWith('\r[#######'));
  clock.ms = 1050;
  bar.update(4, 'd');
  t.is(written.length, 1, 'throttled');
  bar.clear();
  t.regex(written[1]!, /^\r +\r$/);
  t.is(written[1]!.length, written[0]!.length + 1);
  bar.clear();
  t.is(written.length, 2, 'clearing twice writes nothing');
  bar.redraw();
  t.regex(written[2]!, /4\/10 rows/);
});

test('a disabled bar never writes', (t) => {
  const { bar, written, clock } = fake(false);
  clock.ms = 5000;
  bar.update(5, 'x');
  bar.redraw();
  bar.clear();
  t.deepEqual(written, []);
});

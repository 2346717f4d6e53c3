// Runs every test/promql/*.test script through the promqltest runner: all evals must pass, none unsupported.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { atModifierCases, runScript, parseSequence } from './promqltest.ts';

const dir = join(import.meta.dirname, '../../test/promql');
const files = readdirSync(dir).filter((f) => f.endsWith('.test')).sort();

describe('promqltest scripts', () => {
  it('finds the scripts', () => assert.ok(files.length >= 5));
  for (const f of files) {
    it(`${f} passes with nothing unsupported`, async () => {
      const r = await runScript(readFileSync(join(dir, f), 'utf8'));
      const failures = r.outcomes.filter((o) => o.status !== 'passed').map((o) => `${f}:${o.line} ${o.status} ${o.expr}: ${o.message}`);
      assert.deepEqual(failures, []);
      assert.equal(r.failed, 0);
      assert.equal(r.unsupported, 0);
      assert.ok(r.passed > 0);
    });
  }
});

describe('promqltest runner', () => {
  it('expands series notation as Prometheus does', () => {
    assert.deepEqual(parseSequence('1+1x3 _ stale 5x1 -2-0.5x2 _x2'), [1, 2, 3, 4, undefined, 'stale', 5, 5, -2, -2.5, -3, undefined, undefined]);
  });
  it('counts an eval using an unsupported construct as unsupported, not passed', async () => {
    const r = await runScript('load 1m\n  x 1 2 3\n\neval instant at 2m x[1m] anchored\n  {} 1\n\neval instant at 2m histogram_count(x)\n');
    assert.deepEqual([r.passed, r.failed, r.unsupported], [0, 0, 2]);
  });
  it('counts a wrong expectation as failed', async () => {
    const r = await runScript('load 1m\n  x 1 2 3\n\neval instant at 2m x\n  x 4\n');
    assert.equal(r.failed, 1);
    assert.match(r.outcomes[0]!.message!, /expected 4/);
  });
  it('loads `stale` as the stale marker: the series is gone at it, back at the next sample', async () => {
    const r = await runScript('load 1m\n  x 1 stale 3\n\neval instant at 1m x\n\neval instant at 2m x\n  x 3\n\neval instant at 2m count_over_time(x[3m])\n  {} 2\n');
    assert.deepEqual([r.passed, r.failed, r.unsupported], [3, 0, 0]);
  });
  it('replaces a series defined twice in one load, as Prometheus does', async () => {
    const r = await runScript('load 1m\n  x{a="1"} 1 2 3\n  x{a="1"} 10 20\n\neval instant at 2m x\n  x{a="1"} 20\n');
    assert.deepEqual([r.passed, r.failed, r.unsupported], [1, 0, 0]);
  });
  it('reads `metric{…}@st` start-timestamp lines and counts evals of that metric unsupported', async () => {
    const r = await runScript('load 1m\n  x@st _ -30s -1m\n  x _ 1 2\n  y 5\n\neval instant at 2m x\n  x 2\n\neval instant at 1m y\n  y 5\n');
    assert.deepEqual([r.passed, r.failed, r.unsupported], [1, 0, 1]);
    assert.match(r.outcomes[0]!.message!, /start timestamps \(@st, feature flag use-start-timestamps\)/);
  });
  it('checks an instant range-vector result against `expect range vector from … to … step …`', async () => {
    const script = (vals: string) => `load 10s\n  x 1+1x10\n\neval instant at 30s x[20s:10s]\n  expect range vector from 20s to 30s step 10s\n  x ${vals}\n`;
    const good = await runScript(script('3 4'));
    const bad = await runScript(script('3 5'));
    assert.deepEqual([good.passed, good.failed], [1, 0]);
    assert.deepEqual([bad.passed, bad.failed], [0, 1]);
    assert.match(bad.outcomes[0]!.message!, /expected 5 at t=30s/);
  });
  it('counts an eval that depends on delayed name removal unsupported, with the reason', async () => {
    const r = await runScript('load 1m\n  x{env="1"} 1 2\n  y{env="1"} 1 3\n\neval instant at 1m sum by (__name__) (rate(x[2m]))\n  {} 1\n\neval instant at 1m sum(rate({env="1"}[2m]))\n  {} 1\n\neval instant at 1m sum by (__name__) (x)\n  x 2\n');
    assert.deepEqual([r.passed, r.failed, r.unsupported], [1, 0, 2]);
    assert.match(r.outcomes[0]!.message!, /delayed name removal/);
  });
  it('counts evals of series with __type__/__unit__ labels unsupported (type-and-unit labels)', async () => {
    const r = await runScript('load 1m\n  x{__type__="counter", a="b"} 1 2\n\neval instant at 1m -x\n  {a="b"} -2\n');
    assert.deepEqual([r.passed, r.failed, r.unsupported], [0, 0, 1]);
    assert.match(r.outcomes[0]!.message!, /type-and-unit labels/);
  });
  it('adds `@ <eval time>` to every selector and subquery without one, as test.go atModifierTestCases', () => {
    assert.deepEqual(
      atModifierCases('sum(rate(x[5m])) + y offset 1m - z @ 10 + max_over_time(w[5m:1m]) - -v @ 20', 60_000),
      [-600_000, 0, 12_000, 60_000, 600_000].map((at) => ({ expr: 'sum(rate(x[5m] @ 60)) + y @ 60 offset 1m - z @ 10 + max_over_time(w[5m:1m] @ 60) - -v @ 20', at })),
    );
    assert.deepEqual(atModifierCases('x', 0).map((c) => c.at), [-1000, 0, 1000]);
    assert.deepEqual(atModifierCases('time() - timestamp(x)', 60_000), []);
  });
});

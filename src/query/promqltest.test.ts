// Runs every test/promql/*.test script through the promqltest runner: all evals must pass, none unsupported.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runScript, parseSequence } from './promqltest.ts';

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
    const r = await runScript('load 1m\n  x 1 2 3\n\neval instant at 2m x[1m:30s]\n  {} 1\n\neval instant at 2m histogram_count(x)\n');
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
});

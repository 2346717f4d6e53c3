import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { boundDeltas, computeDeltas, entryKey, zeroCounters, type Counters, type EntryRead } from './deltas.ts';

const entry = (queryid: string, calls: number, exec_ms: number): EntryRead => ({
  queryid, userid: '10', dbid: '5', user: 'u', datname: 'd', counters: { ...zeroCounters(), calls, exec_ms },
});
const prevOf = (...es: EntryRead[]) => new Map<string, Counters>(es.map((e) => [entryKey(e), e.counters]));

describe('computeDeltas', () => {
  const cases: { name: string; prev: EntryRead[]; cur: EntryRead[]; reset: boolean; want: [string, number, number, boolean][] }[] = [
    { name: 'subtracts the previous read', prev: [entry('1', 10, 100)], cur: [entry('1', 15, 160)], reset: false, want: [['1', 5, 60, false]] },
    { name: 'counts a new entry from zero', prev: [], cur: [entry('2', 3, 30)], reset: false, want: [['2', 3, 30, true]] },
    { name: 'counts from zero when counters went down', prev: [entry('1', 10, 100)], cur: [entry('1', 2, 20)], reset: false, want: [['1', 2, 20, true]] },
    { name: 'counts every entry from zero after stats_reset changed', prev: [entry('1', 1, 10)], cur: [entry('1', 4, 40)], reset: true, want: [['1', 4, 40, true]] },
    { name: 'leaves out entries that did not run', prev: [entry('1', 10, 100)], cur: [entry('1', 10, 100)], reset: false, want: [] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = computeDeltas(prevOf(...c.prev), c.cur, c.reset).map((d) => [d.queryid, d.delta.calls, d.delta.exec_ms, d.fromZero]);
      assert.deepEqual(got, c.want);
    });
  }
  it('never gives a negative counter when one counter went down and another up', () => {
    const before = entry('1', 10, 100);
    const after: EntryRead = { ...entry('1', 12, 50) };
    const [d] = computeDeltas(prevOf(before), [after], false);
    assert.ok(d && Object.values(d.delta).every((v) => v >= 0));
  });
});

describe('boundDeltas', () => {
  it('keeps the top N and every slow statement, and sums the rest as other', () => {
    const deltas = computeDeltas(new Map(), [entry('a', 1, 500), entry('b', 100, 400), entry('c', 1, 2000), entry('d', 10, 30), entry('e', 10, 20)], false);
    const b = boundDeltas(deltas, 2, 1000);
    assert.deepEqual(b.kept.map((d) => d.queryid), ['c', 'a']);
    assert.equal(b.otherEntries, 3);
    assert.equal(b.other.exec_ms, 450);
    assert.equal(b.other.calls, 120);
  });
});

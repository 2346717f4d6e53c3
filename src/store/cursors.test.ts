// cursorsOf over a store without cursors of its own: select() read in pieces shared by the series, as
// the cursors ask, each point returned once and in order.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Matcher } from '../model/matcher.ts';
import { cursorsOf } from './cursors.ts';
import { createMemoryStore } from './memory-store.ts';
import type { PointBatch, Store } from './store.ts';

const X: Matcher[] = [{ type: '=', name: '__name__', value: 'x' }];

function store(): Store {
  const s = createMemoryStore();
  // a from 0 s every 10 s; b begins at 500 s (mid-span)
  for (let t = 0; t <= 1000_000; t += 10_000) s.append([{ labels: { __name__: 'x', i: 'a' }, t, v: t / 1000 }]);
  for (let t = 500_000; t <= 1000_000; t += 10_000) s.append([{ labels: { __name__: 'x', i: 'b' }, t, v: -t / 1000 }]);
  return s;
}

const times = (b: PointBatch) => Array.from(b.t.subarray(0, b.length));

describe('cursorsOf (select in pieces)', () => {
  it('finds a series that begins mid-span, empty until the reads reach it', () => {
    const [a, b] = cursorsOf(store(), X, 100_000, 900_000).sort((x, y) => (x.labels.i! < y.labels.i! ? -1 : 1));
    assert.deepEqual([a!.labels.i, b!.labels.i], ['a', 'b']);
    assert.equal(b!.next(400_000).length, 0);
    assert.deepEqual(times(b!.next(520_000)), [500_000, 510_000, 520_000]);
  });

  it('returns each point once, in order, within [start, end], whichever cursor asks first', () => {
    const reads: [number, number][] = [];
    const s = store();
    const recorded: Store = { ...s, select: (m, a, b) => (reads.push([a, b]), s.select(m, a, b)) };
    const [a, b] = cursorsOf(recorded, X, 100_000, 900_000).sort((x, y) => (x.labels.i! < y.labels.i! ? -1 : 1));
    const got = { a: [] as number[], b: [] as number[] };
    // b asks far ahead; a asks in small steps and must still get the points of b's piece
    got.b.push(...times(b!.next(700_000)));
    for (let u = 150_000; u <= 1_000_000; u += 50_000) got.a.push(...times(a!.next(u)));
    got.b.push(...times(b!.next(2_000_000)));
    assert.deepEqual(got.a, Array.from({ length: 81 }, (_, k) => 100_000 + k * 10_000));
    assert.deepEqual(got.b, Array.from({ length: 41 }, (_, k) => 500_000 + k * 10_000));
    // consecutive pieces from the start to the end, never read twice
    assert.equal(reads[0]![0], 100_000);
    assert.equal(reads.at(-1)![1], 900_000);
    for (let k = 1; k < reads.length; k++) assert.equal(reads[k]![0], reads[k - 1]![1] + 1);
  });

  it("uses the store's own cursors when it has them", () => {
    const s = store();
    const own = [{ labels: { __name__: 'x' }, next: () => ({ t: new Float64Array(0), v: new Float64Array(0), length: 0 }) }];
    assert.equal(cursorsOf({ ...s, cursors: () => own }, X, 0, 1)[0], own[0]);
  });
});

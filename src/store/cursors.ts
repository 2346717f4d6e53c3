// Cursors over any Store: the store's own (`Store.cursors`, over its chunks) when it has them, or
// select() read in pieces of time shared by every series of the selector, one piece when a cursor asks
// past what was read. Only the part of a piece its cursor has not returned yet stays in memory.
import { labelsKey, type Labels } from '../model/labels.ts';
import type { Matcher } from '../model/matcher.ts';
import type { Point, PointBatch, SeriesCursor, Store } from './store.ts';

export function cursorsOf(store: Store, matchers: readonly Matcher[], start: number, end: number): SeriesCursor[] {
  if (store.cursors) return store.cursors(matchers, start, end);
  return selectCursors(store, matchers, start, end);
}

/** What one series has been given by the pieces read so far and not returned yet. */
interface Pending {
  points: readonly Point[];
  /** index of the first point not returned */
  i: number;
}

const EMPTY: readonly Point[] = [];

function selectCursors(store: Store, matchers: readonly Matcher[], start: number, end: number): SeriesCursor[] {
  // every series with points in the span, found once: a series that begins mid-span has its cursor
  // from the start, empty until the pieces reach its points
  const labelSets = start <= end ? store.series(matchers, start, end) : [];
  const pending = new Map<string, Pending>();
  /** points with t ≤ readTo have been read from the store */
  let readTo = start - 1;

  const readUntil = (until: number) => {
    const to = Math.min(until, end);
    if (to <= readTo) return;
    for (const s of store.select(matchers, readTo + 1, to)) {
      const p = pending.get(labelsKey(s.labels));
      // a series created after the cursors were (not in labelSets) is not part of this read
      if (!p) continue;
      p.points = p.i >= p.points.length ? s.points : [...p.points.slice(p.i), ...s.points];
      p.i = 0;
    }
    readTo = to;
  };

  return labelSets.map((labels: Labels) => {
    const p: Pending = { points: EMPTY, i: 0 };
    pending.set(labelsKey(labels), p);
    let batch = { t: new Float64Array(16), v: new Float64Array(16), length: 0 };
    return {
      labels,
      next(until: number): PointBatch {
        readUntil(until);
        let j = p.i;
        while (j < p.points.length && p.points[j]!.t <= until) j++;
        const n = j - p.i;
        if (n > batch.t.length) {
          const cap = 2 ** Math.ceil(Math.log2(n));
          batch = { t: new Float64Array(cap), v: new Float64Array(cap), length: 0 };
        }
        for (let k = 0; k < n; k++) {
          const pt = p.points[p.i + k]!;
          batch.t[k] = pt.t;
          batch.v[k] = pt.v;
        }
        batch.length = n;
        p.i = j;
        // a piece wholly returned is let go at once
        if (p.i >= p.points.length) {
          p.points = EMPTY;
          p.i = 0;
        }
        return batch;
      },
    };
  });
}

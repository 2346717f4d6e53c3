// Cursors over any Store: the store's own (`Store.cursors`, over its chunks) when it has them, or
// select() read in pieces of time shared by every series of the selector, one piece when a cursor asks
// past what was read. Only the part of a piece its cursor has not returned yet stays in memory.
import { labelsKey, type Labels } from '../model/labels.ts';
import type { Matcher } from '../model/matcher.ts';
import type { PointBatch, SeriesCursor, Store } from './store.ts';

export function cursorsOf(store: Store, matchers: readonly Matcher[], start: number, end: number): SeriesCursor[] {
  if (store.cursors) return store.cursors(matchers, start, end);
  return selectCursors(store, matchers, start, end);
}

/**
 * What one series has been given by the pieces read so far and not returned yet, as columns: the
 * store's point objects die in the read that made them (young, where collecting them is cheap)
 * instead of living on, promoted, until their cursor gets to them.
 */
interface Pending {
  t: Float64Array;
  v: Float64Array;
  /** index of the first point not returned */
  i: number;
}

const NONE = new Float64Array(0);

function selectCursors(store: Store, matchers: readonly Matcher[], start: number, end: number): SeriesCursor[] {
  // every series with points in the span, found once: a series that begins mid-span has its cursor
  // from the start, empty until the pieces reach its points
  const labelSets = start <= end ? store.series(matchers, start, end) : [];
  const pending = new Map<string, Pending>();
  /** points with t ≤ readTo have been read from the store */
  let readTo = -Infinity;

  const readUntil = (until: number) => {
    const to = Math.min(until, end);
    if (to <= readTo || to < start) return;
    // points are whole milliseconds: the next piece starts at the first one after the last piece
    const from = readTo < start ? start : Math.floor(readTo) + 1;
    for (const s of store.select(matchers, from, to)) {
      const p = pending.get(labelsKey(s.labels));
      // a series created after the cursors were (not in labelSets) is not part of this read
      if (!p || s.points.length === 0) continue;
      const left = p.t.length - p.i;
      const n = left + s.points.length;
      const t = new Float64Array(n);
      const v = new Float64Array(n);
      t.set(p.t.subarray(p.i));
      v.set(p.v.subarray(p.i));
      for (let k = 0; k < s.points.length; k++) {
        const pt = s.points[k]!;
        t[left + k] = pt.t;
        v[left + k] = pt.v;
      }
      p.t = t;
      p.v = v;
      p.i = 0;
    }
    readTo = to;
  };

  return labelSets.map((labels: Labels) => {
    const p: Pending = { t: NONE, v: NONE, i: 0 };
    pending.set(labelsKey(labels), p);
    return {
      labels,
      next(until: number): PointBatch {
        readUntil(until);
        let j = p.i;
        while (j < p.t.length && p.t[j]! <= until) j++;
        const batch = { t: p.t.subarray(p.i, j), v: p.v.subarray(p.i, j), length: j - p.i };
        p.i = j;
        // a piece wholly returned is let go at once (the batch's views keep it until used)
        if (p.i >= p.t.length) {
          p.t = NONE;
          p.v = NONE;
          p.i = 0;
        }
        return batch;
      },
    };
  });
}

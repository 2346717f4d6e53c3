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
 * What one series has been given by the pieces read so far and not returned yet: points [i, end) of
 * columns. A piece is one pair of columns for all its series (the store's point objects die in the
 * read that made them, young, where collecting them is cheap; and a piece of 1,000 series is two
 * arrays, not 2,000: typed arrays are costly to make by the million).
 */
interface Pending {
  t: Float64Array;
  v: Float64Array;
  i: number;
  end: number;
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
    const got = store.select(matchers, from, to);
    let n = 0;
    for (const sp of got) n += sp.points.length;
    const t = new Float64Array(n);
    const v = new Float64Array(n);
    let at = 0;
    for (const sp of got) {
      const p = pending.get(labelsKey(sp.labels));
      // a series created after the cursors were (not in labelSets) is not part of this read
      if (!p || sp.points.length === 0) continue;
      const first = at;
      for (const pt of sp.points) {
        t[at] = pt.t;
        v[at] = pt.v;
        at++;
      }
      if (p.i < p.end) {
        // the cursor has not taken all of its last piece (rare: cursors are asked in step): join them
        const left = p.end - p.i;
        const jt = new Float64Array(left + at - first);
        const jv = new Float64Array(left + at - first);
        jt.set(p.t.subarray(p.i, p.end));
        jv.set(p.v.subarray(p.i, p.end));
        jt.set(t.subarray(first, at), left);
        jv.set(v.subarray(first, at), left);
        Object.assign(p, { t: jt, v: jv, i: 0, end: jt.length });
      } else Object.assign(p, { t, v, i: first, end: at });
    }
    readTo = to;
  };

  return labelSets.map((labels: Labels) => {
    const p: Pending = { t: NONE, v: NONE, i: 0, end: 0 };
    pending.set(labelsKey(labels), p);
    // the batch is this cursor's own, reused by every call (the contract allows it)
    const batch = { t: new Float64Array(16), v: new Float64Array(16), length: 0 };
    return {
      labels,
      next(until: number): PointBatch {
        readUntil(until);
        let j = p.i;
        while (j < p.end && p.t[j]! <= until) j++;
        const n = j - p.i;
        if (n > batch.t.length) {
          const cap = 2 ** Math.ceil(Math.log2(n));
          batch.t = new Float64Array(cap);
          batch.v = new Float64Array(cap);
        }
        for (let k = 0; k < n; k++) {
          batch.t[k] = p.t[p.i + k]!;
          batch.v[k] = p.v[p.i + k]!;
        }
        batch.length = n;
        p.i = j;
        // a piece wholly returned is let go at once
        if (p.i >= p.end) Object.assign(p, { t: NONE, v: NONE, i: 0, end: 0 });
        return batch;
      },
    };
  });
}

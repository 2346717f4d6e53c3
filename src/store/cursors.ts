// SeriesCursor implementations (store.ts): over a series' XOR chunks, decoded one chunk at a time as the
// reader advances (memory ≈ the compressed bytes plus one decoded chunk); and, for a store without
// cursors(), over select() read in pieces of time shared by every series of the selector, one piece when a
// cursor asks past what was read, so only the part of a piece its cursor has not returned stays in memory.
import { labelsKey, type Labels } from '../model/labels.ts';
import type { Matcher } from '../model/matcher.ts';
import type { PointBatch, SeriesCursor, Store } from './store.ts';
import { createColumns, xorDecode, type Columns, type EncodedChunk } from './xor-chunk.ts';

/** Cursors over the store's matching series: its own when it has cursors(), else over select() in pieces. */
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

/** A chunk and the part of it the cursor returns: t in [from, to]. */
export interface ChunkSegment {
  readonly chunk: EncodedChunk;
  readonly from: number;
  readonly to: number;
}

/**
 * A cursor over chunk segments in ascending time that do not overlap. Each chunk is decoded whole when
 * the cursor reaches it; next() copies the due points into a batch reused by the following call.
 */
export function chunkCursor(labels: Labels, segments: readonly ChunkSegment[]): SeriesCursor {
  let seg = 0;
  let decoded: Columns | undefined;
  let pos = 0; // next point of the decoded chunk
  let count = 0; // points in the decoded chunk
  const out = createBatch(128);
  // the next chunk with points left, decoded, pos at its first point within the segment
  const advance = (): boolean => {
    while (decoded === undefined || pos >= count) {
      if (seg >= segments.length) return false;
      const { chunk, from, to } = segments[seg++]!;
      if (decoded === undefined || decoded.t.length < chunk.n) decoded = createColumns(Math.max(chunk.n, 128));
      count = xorDecode(chunk, decoded.t, decoded.bits, 0);
      pos = 0;
      while (pos < count && decoded.t[pos]! < from) pos++;
      let last = count;
      while (last > pos && decoded.t[last - 1]! > to) last--;
      count = last;
    }
    return true;
  };
  return {
    labels,
    next(until) {
      let k = 0;
      while (advance()) {
        const ts = decoded!.t;
        const vs = decoded!.v;
        if (ts[pos]! > until) break;
        let stop = pos;
        while (stop < count && ts[stop]! <= until) stop++;
        const n = stop - pos;
        if (k + n > out.t.length) grow(out, k + n);
        // subarray copies move the values' bytes as they are (stale markers keep their bits)
        out.t.set(ts.subarray(pos, stop), k);
        out.v.set(vs.subarray(pos, stop), k);
        k += n;
        pos = stop;
        if (pos < count) break; // the next point is past until
      }
      out.length = k;
      return out;
    },
  };
}

interface MutableBatch extends PointBatch {
  t: Float64Array;
  v: Float64Array;
  length: number;
}

function createBatch(n: number): MutableBatch {
  return { t: new Float64Array(n), v: new Float64Array(n), length: 0 };
}

function grow(b: MutableBatch, need: number) {
  const cap = Math.max(need, b.t.length * 2);
  const t = new Float64Array(cap);
  t.set(b.t);
  const v = new Float64Array(cap);
  v.set(b.v);
  b.t = t;
  b.v = v;
}

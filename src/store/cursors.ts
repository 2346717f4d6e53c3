// SeriesCursor implementations (store.ts): over a series' XOR chunks, decoded one chunk at a time as the
// reader advances (memory ≈ the compressed bytes plus one decoded chunk), and over points already read
// (the adapter for stores without cursors()).
import type { Labels } from '../model/labels.ts';
import type { Matcher } from '../model/matcher.ts';
import type { PointBatch, SeriesCursor, SeriesPoints, Store } from './store.ts';
import { createColumns, xorDecode, type Columns, type EncodedChunk } from './xor-chunk.ts';

/** A chunk and the part of it the cursor returns: t in [from, to]. */
export interface ChunkSegment {
  readonly chunk: EncodedChunk;
  readonly from: number;
  readonly to: number;
}

/** Cursors over the store's matching series: its own when it has cursors(), else over one select(). */
export function cursorsOf(store: Store, matchers: readonly Matcher[], start: number, end: number): SeriesCursor[] {
  if (store.cursors) return store.cursors(matchers, start, end);
  return store.select(matchers, start, end).map(pointsCursor);
}

/** A cursor over points already in memory (ascending). */
export function pointsCursor(series: SeriesPoints): SeriesCursor {
  const pts = series.points;
  const out = createBatch(64);
  let i = 0;
  return {
    labels: series.labels,
    next(until) {
      let k = 0;
      while (i < pts.length && pts[i]!.t <= until) {
        if (k === out.t.length) grow(out, k + 1);
        out.t[k] = pts[i]!.t;
        out.v[k] = pts[i]!.v;
        k++;
        i++;
      }
      out.length = k;
      return out;
    },
  };
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

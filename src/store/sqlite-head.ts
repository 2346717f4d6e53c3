// The head of the SQLite store: each series' recent points in memory, in fixed chunks of typed
// arrays (an Int32 time offset from the chunk's base and a Float64 value per point, 12 bytes a point)
// rather than an object per point. Pure data structure; the store decides what to keep and flush.
// A Float64Array keeps a NaN's bits, so stale markers (model/stale.ts) survive the head as they are.
import type { Labels } from '../model/labels.ts';

/** Points per chunk: 120 × 15 s = 30 minutes, the unit the head is trimmed by. */
export const CHUNK_POINTS = 120;
const MAX_OFFSET = 2 ** 31 - 1;

export interface Chunk {
  readonly base: number;
  readonly t: Int32Array;
  readonly v: Float64Array;
  n: number;
}

export interface HeadSeries {
  readonly id: number;
  readonly labels: Labels;
  readonly key: string;
  chunks: Chunk[];
  /** newest t accepted for this series (-Infinity when none); older samples are out of order */
  lastT: number;
  /** a lower bound of the oldest stored t (head or SQLite) */
  firstT: number;
  /** an upper bound of the newest stored t, including what SQLite may hold */
  lastBound: number;
  /** every stored point with t >= coveredFrom is in the head; older ones are only in SQLite */
  coveredFrom: number;
  /** start of the earliest window holding points not yet rolled up (NaN when none) */
  pendingWindow: number;
  /** last_ts as written to the series table */
  persistedLast: number;
}

export function createHeadSeries(id: number, labels: Labels, key: string, coveredFrom: number): HeadSeries {
  return {
    id,
    labels,
    key,
    chunks: [],
    lastT: -Infinity,
    firstT: Infinity,
    lastBound: -Infinity,
    coveredFrom,
    pendingWindow: NaN,
    persistedLast: -Infinity,
  };
}

/** Appends one point; the caller has checked that t is newer than the series' last. */
export function headAppend(s: HeadSeries, t: number, v: number): void {
  let c = s.chunks[s.chunks.length - 1];
  if (!c || c.n === CHUNK_POINTS || t - c.base > MAX_OFFSET) {
    const buf = new ArrayBuffer(CHUNK_POINTS * 12);
    c = { base: t, v: new Float64Array(buf, 0, CHUNK_POINTS), t: new Int32Array(buf, CHUNK_POINTS * 8, CHUNK_POINTS), n: 0 };
    s.chunks.push(c);
  }
  c.t[c.n] = t - c.base;
  c.v[c.n] = v;
  c.n++;
}

export function chunkFirstT(c: Chunk): number {
  return c.base + c.t[0]!;
}
export function chunkLastT(c: Chunk): number {
  return c.base + c.t[c.n - 1]!;
}

/** Calls fn(t, v) for every head point with t in [start, end], in time order. */
export function headScan(s: HeadSeries, start: number, end: number, fn: (t: number, v: number) => void): void {
  const chunks = s.chunks;
  // binary search for the first chunk whose last point is >= start
  let lo = 0;
  let hi = chunks.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (chunkLastT(chunks[mid]!) < start) lo = mid + 1;
    else hi = mid;
  }
  for (let ci = lo; ci < chunks.length; ci++) {
    const c = chunks[ci]!;
    if (chunkFirstT(c) > end) return;
    const lo2 = start - c.base;
    const hi2 = end - c.base;
    const ts = c.t;
    const vs = c.v;
    let i = 0;
    if (lo2 > ts[0]!) {
      let a = 0;
      let b = c.n;
      while (a < b) {
        const m = (a + b) >> 1;
        if (ts[m]! < lo2) a = m + 1;
        else b = m;
      }
      i = a;
    }
    for (; i < c.n; i++) {
      const off = ts[i]!;
      if (off > hi2) return;
      fn(c.base + off, vs[i]!);
    }
  }
}

/** Whether the head holds a point with t in [start, end]. */
export function headHas(s: HeadSeries, start: number, end: number): boolean {
  let found = false;
  if (start > end || s.chunks.length === 0) return false;
  // cheap bounds first; headScan stops at the first point past end
  try {
    headScan(s, start, end, () => {
      found = true;
      throw STOP;
    });
  } catch (e) {
    if (e !== STOP) throw e;
  }
  return found;
}
const STOP = Symbol('stop');

export function headPointCount(s: HeadSeries): number {
  let n = 0;
  for (const c of s.chunks) n += c.n;
  return n;
}

// The head of the SQLite store: each series' recent points in memory, in chunks of up to 120 points
// compressed as they arrive (xor-chunk.ts: Gorilla's encoding, as Prometheus's head) — about 1–3 bytes a
// point for regular samples instead of 12. Pure data structure; the store decides what to keep and flush.
// Values keep their exact bits, so stale markers (model/stale.ts) survive the head as they are.
import type { Labels } from '../model/labels.ts';
import { createXorChunk, MAX_CHUNK_GAP_MS, xorAppend, xorScan, xorSeal, type XorChunk } from './xor-chunk.ts';

/** Points per chunk: 120 × 15 s = 30 minutes, the unit the head is trimmed by. */
export const CHUNK_POINTS = 120;

export type Chunk = XorChunk;

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
  /** the newest t in history.db's chunks (-Infinity when none): every older point of the series is there */
  sealedT: number;
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
    sealedT: -Infinity,
  };
}

/** Appends one point; the caller has checked that t is newer than the series' last. */
export function headAppend(s: HeadSeries, t: number, v: number): void {
  const c = s.chunks[s.chunks.length - 1];
  if (c && c.n < CHUNK_POINTS && t - c.lastT <= MAX_CHUNK_GAP_MS) {
    xorAppend(c, t, v);
    if (c.n === CHUNK_POINTS) xorSeal(c);
    return;
  }
  if (c) xorSeal(c);
  s.chunks.push(createXorChunk(t, v));
}

export function chunkFirstT(c: Chunk): number {
  return c.firstT;
}
export function chunkLastT(c: Chunk): number {
  return c.lastT;
}

/** Calls fn(t, v) for every head point with t in [start, end], in time order. */
export function headScan(s: HeadSeries, start: number, end: number, fn: (t: number, v: number) => void): void {
  const chunks = s.chunks;
  // binary search for the first chunk whose last point is >= start
  let lo = 0;
  let hi = chunks.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (chunks[mid]!.lastT < start) lo = mid + 1;
    else hi = mid;
  }
  for (let ci = lo; ci < chunks.length; ci++) {
    const c = chunks[ci]!;
    if (c.firstT > end) return;
    xorScan(c, start, end, fn);
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

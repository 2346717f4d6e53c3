// The last decoded chunk of each series, kept for the next read: a reader asking a long range in
// pieces of time (the query evaluator's select() in pieces sized to ~5 ms) would otherwise decode
// the same chunk, and query its row, once per piece. Bounded by the points it holds (oldest first out).
import { createColumns, xorDecode, type Columns, type EncodedChunk } from './xor-chunk.ts';

export interface DecodedChunk {
  readonly firstT: number;
  readonly lastT: number;
  readonly n: number;
  readonly cols: Columns;
}

export interface DecodedCache {
  /**
   * The chunk decoded, from the cache when its (series, firstT, n) was decoded before: a series' points
   * are append-only, so its chunk starting at firstT with n points always holds the same points.
   */
  decode(sid: number, chunk: EncodedChunk): DecodedChunk;
  /** the series' cached chunk, if any */
  get(sid: number): DecodedChunk | undefined;
  clear(): void;
}

export function createDecodedCache(maxPoints: number): DecodedCache {
  const bySid = new Map<number, DecodedChunk>();
  let points = 0;
  return {
    decode(sid, chunk) {
      const hit = bySid.get(sid);
      if (hit && hit.firstT === chunk.firstT && hit.n === chunk.n) {
        // most recently used last, for eviction
        bySid.delete(sid);
        bySid.set(sid, hit);
        return hit;
      }
      const cols = hit && hit.cols.t.length >= chunk.n ? hit.cols : createColumns(Math.max(chunk.n, 128));
      xorDecode(chunk, cols.t, cols.bits, 0);
      const d: DecodedChunk = { firstT: chunk.firstT, lastT: chunk.lastT, n: chunk.n, cols };
      if (hit) points -= hit.n;
      bySid.delete(sid);
      bySid.set(sid, d);
      points += d.n;
      for (const [k, old] of bySid) {
        if (points <= maxPoints || k === sid) break;
        bySid.delete(k);
        points -= old.n;
      }
      return d;
    },
    get: (sid) => bySid.get(sid),
    clear() {
      bySid.clear();
      points = 0;
    },
  };
}

// Sealed history in history.db: each series' points older than the seal watermark as XOR chunks
// (xor-chunk.ts, the head's encoding), one row per series per aligned hour in `chunks(sid, mint, maxt, n,
// data)`. Owns the span rule, the encoder that cuts points into rows, and the chunk table's statements.
// The store decides when to seal and where the points come from (its head, or raw rows on open).
import type Database from 'better-sqlite3';
import { createXorChunk, xorAppend, xorSeal, type EncodedChunk, type XorChunk } from './xor-chunk.ts';

/**
 * Chunks never cross an aligned hour: a read of [start, …] finds every chunk holding start among the
 * rows with mint ≥ floor(start / SEAL_SPAN_MS), one B-tree seek per series. An hour is 240 points at
 * 15 s (1–3 bytes each); a day is 24 rows per series.
 */
export const SEAL_SPAN_MS = 3_600_000;
/**
 * A span is sealed at the first flush this long after it ends: scrapes and flushes in flight have
 * landed by then. A later point of the span (a series appearing with an old timestamp) becomes a chunk
 * row of its own at the next seal.
 */
export const SEAL_GRACE_MS = 300_000;

export const floorSpan = (t: number) => Math.floor(t / SEAL_SPAN_MS) * SEAL_SPAN_MS;

export const CHUNKS_TABLE = `
CREATE TABLE IF NOT EXISTS chunks (
  sid INTEGER NOT NULL, mint INTEGER NOT NULL, maxt INTEGER NOT NULL, n INTEGER NOT NULL, data BLOB NOT NULL,
  PRIMARY KEY (sid, mint)
) WITHOUT ROWID;
`;

/** Cuts each series' points (ascending per series) into one XOR chunk per span. */
export interface ChunkEncoder {
  add(sid: number, t: number, v: number): void;
  /** the chunks built so far, sealed, with the largest t per series */
  finish(): { rows: { sid: number; chunk: XorChunk }[]; maxT: Map<number, number> };
  readonly points: number;
}

export function createChunkEncoder(): ChunkEncoder {
  const open = new Map<number, XorChunk>();
  const rows: { sid: number; chunk: XorChunk }[] = [];
  let points = 0;
  return {
    get points() {
      return points;
    },
    add(sid, t, v) {
      points++;
      const c = open.get(sid);
      if (c && floorSpan(c.firstT) === floorSpan(t)) {
        xorAppend(c, t, v);
        return;
      }
      const next = createXorChunk(t, v);
      open.set(sid, next);
      rows.push({ sid, chunk: next });
    },
    finish() {
      const maxT = new Map<number, number>();
      for (const r of rows) {
        xorSeal(r.chunk);
        maxT.set(r.sid, r.chunk.lastT);
      }
      return { rows, maxT };
    },
  };
}

export interface ChunkStatements {
  insert(sid: number, c: EncodedChunk): void;
  /** chunks of the series that may hold points in [start, end], in time order */
  read(sid: number, start: number, end: number): EncodedChunk[];
  /** the newest sealed time of every series with chunks */
  sealedTimes(): Map<number, number>;
  /** deletes the series' chunks wholly older than cutoff */
  deleteOlder(sid: number, cutoff: number): void;
}

export function prepareChunkStatements(db: Database.Database): ChunkStatements {
  const insert = db.prepare('INSERT INTO chunks (sid, mint, maxt, n, data) VALUES (?, ?, ?, ?, ?)');
  const read = db.prepare('SELECT mint, maxt, n, data FROM chunks WHERE sid = ? AND mint >= ? AND mint <= ? AND maxt >= ? ORDER BY mint').raw(true);
  // per series, its last chunk (chunks of a series never overlap, so the last by mint has the newest t)
  const sealed = db
    .prepare('SELECT id, (SELECT maxt FROM chunks WHERE sid = series.id ORDER BY mint DESC LIMIT 1) FROM series')
    .raw(true);
  const deleteOlder = db.prepare('DELETE FROM chunks WHERE sid = ? AND mint < ? AND maxt < ?');
  return {
    insert(sid, c) {
      insert.run(sid, c.firstT, c.lastT, c.n, c.bytes);
    },
    read(sid, start, end) {
      const out: EncodedChunk[] = [];
      for (const [mint, maxt, n, data] of read.iterate(sid, floorSpan(start), end, start) as IterableIterator<
        [number, number, number, Buffer]
      >)
        out.push({ firstT: mint, lastT: maxt, n, bytes: data });
      return out;
    },
    sealedTimes() {
      const out = new Map<number, number>();
      for (const [id, maxt] of sealed.iterate() as IterableIterator<[number, number | null]>) if (maxt !== null) out.set(id, maxt);
      return out;
    },
    deleteOlder(sid, cutoff) {
      deleteOlder.run(sid, cutoff, cutoff);
    },
  };
}

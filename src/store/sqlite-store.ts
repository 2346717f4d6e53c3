// The persistent history store: a head of recent points in memory (sqlite-head.ts) over SQLite in
// `<dataDir>/history.db` (WAL, synchronous=NORMAL). Owns the schema, the flush of buffered samples,
// the 5-minute rollups and retention. Layout, durability bound and figures: docs/storage.md.
//
// Raw samples land as time-first rows, `samples(ts, sid, v)` keyed (ts, sid) WITHOUT ROWID: every flush
// appends at the right edge of the B-tree (2M rows/s measured with 128-row INSERTs; `(sid, ts)` keys
// were 15× slower in the design probe). They are the write-ahead part only: once an aligned hour is
// over (plus a grace), one transaction writes every series' points of it as XOR chunks (sqlite-chunks.ts)
// and range-deletes the rows. The head keeps every point not yet sealed, so reads take the head for
// recent points and chunk rows for older ones, never the raw rows.
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { systemClock, type Clock } from '../lib/clock.ts';
import { labelsKey, type Labels } from '../model/labels.ts';
import { compileMatcher, matchesAll, type Matcher } from '../model/matcher.ts';
import { isStaleNaN, STALE_NAN } from '../model/stale.ts';
import { chunkCursor, type ChunkSegment } from './cursors.ts';
import { createDecodedCache, type DecodedChunk } from './decoded-cache.ts';
import { counterIncrease, counterWindow } from './counter-windows.ts';
import {
  CHUNKS_TABLE,
  createChunkEncoder,
  floorSpan,
  prepareChunkStatements,
  SEAL_GRACE_MS,
  SEAL_SPAN_MS,
} from './sqlite-chunks.ts';
import {
  chunkLastT,
  createHeadSeries,
  headAppend,
  headHas,
  headPointCount,
  headScan,
  type HeadSeries,
} from './sqlite-head.ts';
import type {
  CounterWindow,
  Point,
  RollupFunction,
  SeriesCounterWindows,
  SeriesCursor,
  SeriesPoints,
  Store,
  StoredSample,
} from './store.ts';
import type { ChunkEncoder } from './sqlite-chunks.ts';
import { xorScan, type EncodedChunk } from './xor-chunk.ts';
import { DpmonError } from '../lib/errors.ts';

export type StoreErrorCode = 'STORE_OPEN' | 'STORE_WRITE';

/** A history store failure with a stable code; the message names the database path and the cause. */
export class StoreError extends DpmonError<StoreErrorCode> {
  override readonly name = 'StoreError';
}

export interface SqliteStoreOptions {
  dataDir: string;
  clock?: Clock;
  /** raw samples older than this are deleted (storage.raw_retention, default 15d) */
  rawRetentionMs: number;
  /** metrics_aggregation.window_size, 5m */
  rollupWindowMs: number;
  /** metrics_aggregation.retention / resource_monitoring.retention_period, 30d */
  rollupRetentionMs: number;
  /** buffered samples are written every this many ms (the durability bound); 0 = only on flush() */
  flushIntervalMs?: number;
  /** how much recent history the head keeps in memory (default 1h) */
  headRetentionMs?: number;
  /** how often flush() also enforces retention (default 60s) */
  retentionIntervalMs?: number;
  /** failures of the background flush (the buffers are kept and retried on the next one) */
  onError?: (err: StoreError) => void;
  /** every failed write (flush, retention), each time: the storage_write_errors counter */
  onWriteError?: (err: StoreError) => void;
  /**
   * at most this many samples wait unwritten in memory (default 1,000,000, ~20 MB); past it the oldest
   * tenth is dropped and counted in `stats().droppedSamples` (a disk full for longer than the cap covers)
   */
  maxBufferedSamples?: number;
}

export interface SqliteStoreStats {
  series: number;
  headChunks: number;
  headPoints: number;
  bufferedSamples: number;
  pendingRollups: number;
  flushes: number;
  /** the newest sample timestamp known to be committed to SQLite (-1 when none) */
  lastFlushedT: number;
  /** wall time of the last flush, ms */
  lastFlushMs: number;
  dbBytes: number;
  /** failed writes (flushes, retention runs) since open */
  writeErrors: number;
  /** samples dropped unwritten because the buffer reached maxBufferedSamples */
  droppedSamples: number;
  /** every point older than this is in the chunks table (-Infinity before the first seal) */
  sealedBefore: number;
}

export type SqliteStore = Store & {
  flush(): void;
  enforceRetention(now?: number): void;
  stats(): SqliteStoreStats;
};

const ROLLUP_COLUMN: Record<RollupFunction, string> = {
  avg: 'avg_v',
  max: 'max_v',
  min: 'min_v',
  percentile_95: 'p95_v',
  count: 'count_v',
  last: 'last_v',
};
/** series.last_ts is rewritten only when it moved by this much, so a flush does not update every series */
const LAST_TS_SLACK_MS = 60_000;
const BATCH_ROWS = 128;
/** numbers per rollup row: sid, w, avg, max, min, p95, count, last, first_t, first_v, last_t, inc */
const ROLLUP_ROW = 12;
/** points select()'s decoded-chunk cache holds at most: 16 MB of columns */
const DECODED_CACHE_POINTS = 1_000_000;
export const DEFAULT_MAX_BUFFERED_SAMPLES = 1_000_000;
/** the longest wait between two background flushes while they fail */
const FLUSH_RETRY_MAX_MS = 30_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS series (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  labels TEXT NOT NULL UNIQUE,
  first_ts INTEGER NOT NULL,
  last_ts INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS samples (
  ts INTEGER NOT NULL, sid INTEGER NOT NULL, v REAL,
  PRIMARY KEY (ts, sid)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollups (
  sid INTEGER NOT NULL, w INTEGER NOT NULL,
  avg_v REAL, max_v REAL, min_v REAL, p95_v REAL, count_v INTEGER NOT NULL, last_v REAL,
  first_t INTEGER, first_v REAL, last_t INTEGER, inc REAL,
  PRIMARY KEY (sid, w)
) WITHOUT ROWID;
${CHUNKS_TABLE}`;
/** history.db's layout version: 1 had no chunks table and no first_t/first_v/last_t/inc in rollups */
export const HISTORY_SCHEMA_VERSION = 2;
/** rollup columns added by version 2 */
const ROLLUP_V2_COLUMNS = ['first_t INTEGER', 'first_v REAL', 'last_t INTEGER', 'inc REAL'];

export function createSqliteStore(opts: SqliteStoreOptions): SqliteStore {
  const clock = opts.clock ?? systemClock;
  const W = opts.rollupWindowMs;
  const headRetentionMs = opts.headRetentionMs ?? 3_600_000;
  const flushIntervalMs = opts.flushIntervalMs ?? 1000;
  const retentionIntervalMs = opts.retentionIntervalMs ?? 60_000;
  const maxBuffered = Math.max(BATCH_ROWS, opts.maxBufferedSamples ?? DEFAULT_MAX_BUFFERED_SAMPLES);
  if (!(W > 0)) throw new StoreError('STORE_OPEN', `rollup window must be positive, got ${W}`);
  const path = join(opts.dataDir, 'history.db');
  const db = openDatabase(opts.dataDir, path);

  const floorW = (t: number) => Math.floor(t / W) * W;
  const ceilW = (t: number) => Math.ceil(t / W) * W;

  // --- statements
  const insertSeries = db.prepare('INSERT INTO series (id, name, labels, first_ts, last_ts) VALUES (?, ?, ?, ?, ?)');
  const updateLast = db.prepare('UPDATE series SET last_ts = ? WHERE id = ? AND last_ts < ?');
  const insertOne = db.prepare('INSERT OR IGNORE INTO samples (ts, sid, v) VALUES (?, ?, ?)');
  const insertMany = db.prepare(`INSERT OR IGNORE INTO samples (ts, sid, v) VALUES ${Array(BATCH_ROWS).fill('(?,?,?)').join(',')}`);
  const insertRollup = db.prepare(
    `INSERT OR REPLACE INTO rollups (sid, w, avg_v, max_v, min_v, p95_v, count_v, last_v, first_t, first_v, last_t, inc)
     VALUES (${Array(ROLLUP_ROW).fill('?').join(', ')})`,
  );
  const selectRange = db.prepare('SELECT ts, sid, v FROM samples WHERE ts >= ? AND ts <= ? ORDER BY ts').raw(true);
  const firstSampleT = db.prepare('SELECT min(ts) FROM samples').pluck(true);
  const setMeta = db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)');
  const chunkRows = prepareChunkStatements(db);
  /** the last chunk select() decoded per series, for readers that ask a long range in pieces */
  const decoded = createDecodedCache(DECODED_CACHE_POINTS);
  const rollupStmts = new Map<RollupFunction, Database.Statement>();
  for (const fn of Object.keys(ROLLUP_COLUMN) as RollupFunction[]) {
    rollupStmts.set(
      fn,
      db.prepare(`SELECT w, ${ROLLUP_COLUMN[fn]} FROM rollups WHERE sid = ? AND w >= ? AND w <= ? ORDER BY w`).raw(true),
    );
  }
  const deleteSamples = db.prepare('DELETE FROM samples WHERE ts < ?');
  const counterRows = db
    .prepare('SELECT w, first_t, first_v, last_t, last_v, inc, count_v FROM rollups WHERE sid = ? AND w >= ? AND w <= ? ORDER BY w')
    .raw(true);
  const sealedBeforeRow = db.prepare("SELECT value FROM meta WHERE key = 'sealed_before'").pluck(true);
  const deleteRollups = db.prepare('DELETE FROM rollups WHERE sid = ? AND w < ?');
  const deleteSeriesRow = db.prepare('DELETE FROM series WHERE id = ?');

  // --- in-memory state
  const byKey = new Map<string, HeadSeries>();
  const byId = new Map<number, HeadSeries>();
  const byName = new Map<string, Set<HeadSeries>>();
  /** label name → value → series: the inverted index equality matchers select through (as Prometheus's postings) */
  const postings = new Map<string, Map<string, Set<HeadSeries>>>();
  /** label objects seen before: skips labelsKey() for collectors that reuse their label sets */
  const byLabelsObject = new WeakMap<Labels, HeadSeries>();
  let nextId = 1;
  let newSeries: HeadSeries[] = [];

  // samples appended but not yet committed, as parallel typed arrays
  let bufT = new Float64Array(65_536);
  let bufSid = new Int32Array(65_536);
  let bufV = new Float64Array(65_536);
  let bufN = 0;
  // rollup rows computed but not yet committed: ROLLUP_ROW numbers each, in insertRollup's column order
  let rollupRows: number[] = [];
  /** every point older than this is in the chunks table */
  let sealedBefore = -Infinity;

  let flushes = 0;
  let lastFlushedT = -1;
  let lastFlushMs = 0;
  let lastRetentionAt = -Infinity;
  let closed = false;
  let writeErrors = 0;
  let droppedSamples = 0;
  /** a write failed since the last successful flush: the next success also checkpoints the WAL */
  let failing = false;
  const writeFailed = (err: StoreError): StoreError => {
    writeErrors++;
    failing = true;
    opts.onWriteError?.(err);
    return err;
  };

  function indexSeries(s: HeadSeries) {
    byKey.set(s.key, s);
    byId.set(s.id, s);
    const name = s.labels.__name__ ?? '';
    let set = byName.get(name);
    if (!set) byName.set(name, (set = new Set()));
    set.add(s);
    for (const [k, v] of Object.entries(s.labels)) {
      if (k === '__name__') continue;
      let values = postings.get(k);
      if (!values) postings.set(k, (values = new Map()));
      let members = values.get(v);
      if (!members) values.set(v, (members = new Set()));
      members.add(s);
    }
  }
  function unindexSeries(s: HeadSeries) {
    byKey.delete(s.key);
    byId.delete(s.id);
    byName.get(s.labels.__name__ ?? '')?.delete(s);
    for (const [k, v] of Object.entries(s.labels)) {
      const values = postings.get(k);
      const members = values?.get(v);
      members?.delete(s);
      if (members?.size === 0) values!.delete(v);
    }
  }

  /** Writes a seal's chunk rows and drops the raw rows it covers; the caller holds the transaction. */
  function writeSeal(rows: ReturnType<ChunkEncoder['finish']>['rows'], to: number) {
    for (const r of rows) chunkRows.insert(r.sid, r.chunk);
    deleteSamples.run(to);
    setMeta.run('sealed_before', String(to));
  }

  /** After a seal committed: the series' sealed times and the watermark. */
  function sealed(maxT: Map<number, number>, to: number) {
    for (const [sid, t] of maxT) {
      const s = byId.get(sid);
      if (s && t > s.sealedT) {
        s.sealedT = t;
        if (t > s.lastT) s.lastT = t;
      }
    }
    if (to > sealedBefore) sealedBefore = to;
  }

  /**
   * Seals the raw rows older than `to` from SQLite (on open: rows a crash left, or a version 1 file's
   * whole history), one span per transaction, so memory holds one span's chunks and an interrupted run
   * resumes where it stopped.
   */
  function sealRows(to: number) {
    for (;;) {
      const first = firstSampleT.get() as number | null;
      if (first === null || first >= to) break;
      const spanEnd = Math.min(to, floorSpan(first) + SEAL_SPAN_MS);
      const enc = createChunkEncoder();
      for (const [t, sid, v] of selectRange.iterate(first, spanEnd - 1) as IterableIterator<[number, number, DbValue]>) {
        const s = byId.get(sid);
        if (s && t > s.sealedT) enc.add(sid, t, fromDb(v));
      }
      const { rows, maxT } = enc.finish();
      db.transaction(() => writeSeal(rows, spanEnd))();
      sealed(maxT, spanEnd);
    }
    if (to > sealedBefore) {
      setMeta.run('sealed_before', String(to));
      sealedBefore = to;
    }
  }

  // --- load: the series table, then the unsealed raw rows (at least the last headRetention) into the head
  try {
    const sealedTimes = chunkRows.sealedTimes();
    for (const row of db.prepare('SELECT id, labels, first_ts, last_ts FROM series').iterate() as IterableIterator<{
      id: number;
      labels: string;
      first_ts: number;
      last_ts: number;
    }>) {
      const labels = Object.freeze(JSON.parse(row.labels) as Record<string, string>);
      const s = createHeadSeries(row.id, labels, labelsKey(labels), Infinity);
      s.firstT = row.first_ts;
      s.persistedLast = row.last_ts;
      s.sealedT = sealedTimes.get(row.id) ?? -Infinity;
      // last_ts lags by up to LAST_TS_SLACK_MS; sealed points bound it too
      s.lastT = Math.max(row.last_ts, s.sealedT);
      s.lastBound = s.lastT + LAST_TS_SLACK_MS;
      indexSeries(s);
      if (row.id >= nextId) nextId = row.id + 1;
    }
    const stored = sealedBeforeRow.get() as string | undefined;
    if (stored !== undefined) sealedBefore = Number(stored);
    const now = clock.now();
    const sealTo = floorSpan(now - SEAL_GRACE_MS);
    // aligned to a window so that every window in the reloaded span is complete in the head, and its
    // rollup can be recomputed (rollups of windows closed after the last commit were lost with the
    // crash); and from sealTo at the latest, so that every point not sealed below is in the head
    const loadFrom = Math.min(floorW(now - headRetentionMs), sealTo);
    for (const row of selectRange.iterate(loadFrom, Number.MAX_SAFE_INTEGER) as IterableIterator<[number, number, DbValue]>) {
      const s = byId.get(row[1]);
      if (!s || row[0] <= lastInHead(s) || row[0] <= s.sealedT) continue;
      if (s.chunks.length === 0) s.coveredFrom = row[0];
      headAppend(s, row[0], fromDb(row[2]));
      if (row[0] > s.lastT) s.lastT = row[0];
      if (row[0] > s.lastBound) s.lastBound = row[0];
      if (row[0] > lastFlushedT) lastFlushedT = row[0];
      if (Number.isNaN(s.pendingWindow)) s.pendingWindow = floorW(row[0]);
    }
    // raw rows of spans over (all of them, for a file of schema version 1) become chunks
    sealRows(sealTo);
    for (const s of byId.values()) if (s.chunks.length === 0) s.coveredFrom = s.lastT + 1;
  } catch (err) {
    db.close();
    throw openError(path, err);
  }

  function lastInHead(s: HeadSeries): number {
    const c = s.chunks[s.chunks.length - 1];
    return c ? chunkLastT(c) : -Infinity;
  }

  function lookup(labels: Labels): HeadSeries {
    let s = byLabelsObject.get(labels);
    if (s && byId.has(s.id)) return s;
    const key = labelsKey(labels);
    s = byKey.get(key);
    if (!s) {
      s = createHeadSeries(nextId++, labels, key, -Infinity);
      indexSeries(s);
      newSeries.push(s);
    }
    byLabelsObject.set(labels, s);
    return s;
  }

  /**
   * The buffer is full (a disk full for longer than maxBufferedSamples covers): the oldest tenth goes,
   * so that memory stays bounded and the newest samples, which rules and queries want, are kept. The
   * dropped points are never written as raw rows; they stay in the head (it keeps every unsealed
   * point), so the hour's seal still writes them as chunks if a flush succeeds before a restart.
   */
  function dropOldest() {
    const drop = Math.max(1, Math.floor(maxBuffered / 10));
    bufT.copyWithin(0, drop, bufN);
    bufSid.copyWithin(0, drop, bufN);
    bufV.copyWithin(0, drop, bufN);
    bufN -= drop;
    droppedSamples += drop;
  }

  function growBuffer() {
    const cap = Math.min(bufT.length * 2, maxBuffered);
    const t = new Float64Array(cap);
    t.set(bufT);
    const sid = new Int32Array(cap);
    sid.set(bufSid);
    const v = new Float64Array(cap);
    v.set(bufV);
    bufT = t;
    bufSid = sid;
    bufV = v;
  }

  function append(samples: readonly StoredSample[]): void {
    if (closed) throw new StoreError('STORE_WRITE', `history store ${path} is closed`);
    for (let i = 0; i < samples.length; i++) {
      const sample = samples[i]!;
      const t = sample.t;
      const s = lookup(sample.labels);
      if (!(t > s.lastT)) continue; // out of order (or a duplicate): dropped, as the memory store does
      headAppend(s, t, sample.v);
      if (t < s.firstT) s.firstT = t;
      s.lastT = t;
      if (t > s.lastBound) s.lastBound = t;
      const w = floorW(t);
      if (!(w >= s.pendingWindow)) s.pendingWindow = w; // NaN, or a late sample in a rolled-up window
      if (bufN >= maxBuffered) dropOldest();
      if (bufN === bufT.length) growBuffer();
      bufT[bufN] = t;
      bufSid[bufN] = s.id;
      bufV[bufN] = sample.v;
      bufN++;
    }
  }

  /** Rolls up the closed windows of every series: those before its newest sample's window or before now's. */
  function rollClosedWindows(now: number, all = false) {
    const nowWindow = all ? Infinity : floorW(now);
    for (const s of byId.values()) {
      if (Number.isNaN(s.pendingWindow)) continue;
      // on close the open window is rolled up too, partial; a restart within the head span recomputes it
      const closedBefore = all ? floorW(s.lastT) + W : Math.max(floorW(s.lastT), nowWindow);
      if (s.pendingWindow >= closedBefore) continue;
      headWindows(s, s.pendingWindow, closedBefore - 1, (w, times, values) => pushRollup(s.id, w, values, times));
      s.pendingWindow = s.lastT >= closedBefore ? closedBefore : NaN;
    }
  }

  const windowTimes: number[] = [];
  const windowValues: number[] = [];
  /**
   * Calls fn with each window's samples from the head with t in [from, to], in time order; stale
   * markers are not values, so they are left out (a window of markers only is skipped). The arrays are
   * the store's, reused for the next window: fn copies what it keeps.
   */
  function headWindows(s: HeadSeries, from: number, to: number, fn: (w: number, times: number[], values: number[]) => void) {
    const times = windowTimes;
    const values = windowValues;
    times.length = 0;
    values.length = 0;
    let w = NaN;
    headScan(s, from, to, (t, v) => {
      const tw = floorW(t);
      if (tw !== w) {
        if (values.length) fn(w, times, values);
        w = tw;
        values.length = 0;
        times.length = 0;
      }
      if (isStaleNaN(v)) return;
      values.push(v);
      times.push(t);
    });
    if (values.length) fn(w, times, values);
  }

  function pushRollup(sid: number, w: number, values: number[], times: number[]) {
    const r = summarize(values);
    rollupRows.push(sid, w, r.avg, r.max, r.min, r.p95, r.count, r.last, times[0]!, values[0]!, times[times.length - 1]!, counterIncrease(values));
  }

  function flush(final = false): void {
    if (closed) return;
    const started = performance.now();
    const now = clock.now();
    rollClosedWindows(now, final);
    // an hour over (plus the grace): its points go from the head into chunk rows in this transaction
    const sealTo = floorSpan(now - SEAL_GRACE_MS);
    let seal: ReturnType<ChunkEncoder['finish']> | undefined;
    if (sealTo > sealedBefore) {
      const enc = createChunkEncoder();
      for (const s of byId.values()) {
        if (s.lastT <= s.sealedT) continue;
        const after = s.sealedT;
        headScan(s, after, sealTo - 1, (t, v) => {
          if (t > after) enc.add(s.id, t, v);
        });
      }
      seal = enc.finish();
    }
    // buffered samples the seal covers need no raw row
    const rawFrom = seal ? sealTo : -Infinity;
    const n = bufN;
    let maxT = lastFlushedT;
    const args: (number | Buffer | null)[] = new Array(BATCH_ROWS * 3);
    // series.last_ts as written by this transaction: applied to memory only once it commits
    const persisted: [HeadSeries, number][] = [];
    try {
      db.transaction(() => {
        for (const s of newSeries) {
          const first = s.chunks.length ? s.chunks[0]!.firstT : now;
          insertSeries.run(s.id, s.labels.__name__ ?? '', JSON.stringify(s.labels), first, first);
          persisted.push([s, first]);
        }
        let k = 0;
        for (let j = 0; j < n; j++) {
          if (bufT[j]! < rawFrom) continue;
          args[k++] = bufT[j]!;
          args[k++] = bufSid[j]!;
          args[k++] = toDb(bufV[j]!);
          if (k === args.length) {
            insertMany.run(args);
            k = 0;
          }
        }
        for (let j = 0; j < k; j += 3) insertOne.run(args[j], args[j + 1], args[j + 2]);
        for (let j = 0; j < n; j++) if (bufT[j]! > maxT) maxT = bufT[j]!;
        const row: (number | null)[] = new Array(ROLLUP_ROW);
        for (let r = 0; r < rollupRows.length; r += ROLLUP_ROW) {
          for (let c = 0; c < ROLLUP_ROW; c++) row[c] = rollupNull(rollupRows[r + c]!);
          insertRollup.run(row);
        }
        if (seal) writeSeal(seal.rows, sealTo);
        for (const s of byId.values()) {
          if (s.lastT !== -Infinity && s.lastT - s.persistedLast >= LAST_TS_SLACK_MS) {
            updateLast.run(s.lastT, s.id, s.lastT);
            persisted.push([s, s.lastT]);
          }
        }
      })();
    } catch (err) {
      // the buffers are kept: the next flush retries them (SQLite rolled the transaction back whole)
      throw writeFailed(new StoreError('STORE_WRITE', `cannot write history store ${path}: ${describe(err)}`, { cause: err }));
    }
    for (const [s, t] of persisted) s.persistedLast = t;
    if (seal) sealed(seal.maxT, sealTo);
    if (failing) {
      // the first success after failures: move the WAL into the database now, while there is room. A
      // checkpoint that fails (room ran out again) loses nothing: the WAL keeps every committed frame.
      failing = false;
      try {
        db.pragma('wal_checkpoint(PASSIVE)');
      } catch (err) {
        writeFailed(new StoreError('STORE_WRITE', `cannot checkpoint history store ${path}: ${describe(err)}`, { cause: err }));
      }
    }
    newSeries = [];
    bufN = 0;
    if (bufT.length > 262_144) {
      // a burst grew the buffers; give the memory back
      bufT = new Float64Array(65_536);
      bufSid = new Int32Array(65_536);
      bufV = new Float64Array(65_536);
    }
    rollupRows = [];
    lastFlushedT = maxT;
    flushes++;
    trimHead(now);
    if (now - lastRetentionAt >= retentionIntervalMs) enforceRetention(now);
    lastFlushMs = performance.now() - started;
  }

  /** Drops head chunks that are committed, rolled up and older than the head's span. */
  function trimHead(now: number) {
    const horizon = now - headRetentionMs;
    for (const s of byId.values()) {
      let drop = 0;
      while (drop < s.chunks.length) {
        const c = s.chunks[drop]!;
        const last = chunkLastT(c);
        // the newest chunk stays while it can still receive points, except for series gone quiet
        if (last >= horizon || last > s.sealedT) break; // unsealed points stay until their seal
        if (!Number.isNaN(s.pendingWindow) && last >= s.pendingWindow) break;
        drop++;
      }
      if (drop === 0) continue;
      s.chunks = s.chunks.slice(drop);
      const next = s.chunks[0];
      s.coveredFrom = next ? next.firstT : s.lastT + 1;
    }
  }

  function enforceRetention(now: number = clock.now()): void {
    lastRetentionAt = now;
    const rawCutoff = now - opts.rawRetentionMs;
    const rollupCutoff = now - opts.rollupRetentionMs;
    const seriesCutoff = now - Math.max(opts.rawRetentionMs, opts.rollupRetentionMs);
    // memory follows only once the deletes commit: a failed run leaves both as they were
    const gone: HeadSeries[] = [];
    try {
      db.transaction(() => {
        deleteSamples.run(rawCutoff);
        for (const s of byId.values()) {
          // a chunk holding the cutoff stays until wholly older (at most one span more)
          chunkRows.deleteOlder(s.id, rawCutoff);
          deleteRollups.run(s.id, rollupCutoff);
          if (s.lastBound < seriesCutoff && s.chunks.length === 0) {
            deleteSeriesRow.run(s.id);
            gone.push(s);
          }
        }
      })();
      for (const s of gone) unindexSeries(s);
      decoded.clear(); // chunks it holds may be gone
      for (const s of byId.values()) if (s.firstT < rawCutoff) s.firstT = rawCutoff;
    } catch (err) {
      throw writeFailed(new StoreError('STORE_WRITE', `cannot enforce retention on ${path}: ${describe(err)}`, { cause: err }));
    }
  }

  function matching(matchers: readonly Matcher[]): HeadSeries[] {
    // equality matchers select through the postings: iterate the smallest set, test membership in the
    // others; only the remaining matchers (regex, negations, empty values) run per series
    const sets: ReadonlySet<HeadSeries>[] = [];
    const rest: Matcher[] = [];
    for (const m of matchers) {
      if (m.type !== '=' || m.value === '') {
        rest.push(m);
        continue;
      }
      const set = m.name === '__name__' ? byName.get(m.value) : postings.get(m.name)?.get(m.value);
      if (!set) return [];
      sets.push(set);
    }
    sets.sort((a, b) => a.size - b.size);
    const compiled = rest.map(compileMatcher);
    const candidates: Iterable<HeadSeries> = sets[0] ?? byId.values();
    const out: HeadSeries[] = [];
    outer: for (const s of candidates) {
      for (let i = 1; i < sets.length; i++) if (!sets[i]!.has(s)) continue outer;
      if (compiled.length === 0 || matchesAll(s.labels, compiled)) out.push(s);
    }
    return out;
  }

  /**
   * The series' chunks holding its points in [start, end], in time order, each with the part to read:
   * chunk rows of history.db for the part older than the head, then the head's chunks (the open one
   * as it is now: later appends write past its n points and never change them).
   */
  function segmentsOf(s: HeadSeries, start: number, end: number): ChunkSegment[] {
    const out: ChunkSegment[] = [];
    if (start < s.coveredFrom) {
      const to = Math.min(end, s.coveredFrom - 1);
      if (start <= to) for (const chunk of chunkRows.read(s.id, start, to)) out.push({ chunk, from: start, to });
    }
    const from = Math.max(start, s.coveredFrom);
    if (from <= end) {
      for (const c of s.chunks) {
        if (c.lastT < from) continue;
        if (c.firstT > end) break;
        const snapshot: EncodedChunk = { firstT: c.firstT, lastT: c.lastT, n: c.n, bytes: c.bytes };
        out.push({ chunk: snapshot, from, to: end });
      }
    }
    return out;
  }

  /** Whether the series has a raw point in [start, end], in the head or in SQLite. */
  function hasPointsIn(s: HeadSeries, start: number, end: number): boolean {
    if (start > end || s.lastBound < start || s.firstT > end) return false;
    if (headHas(s, Math.max(start, s.coveredFrom), end)) return true;
    if (start >= s.coveredFrom) return false;
    for (const { chunk, from, to } of segmentsOf(s, start, Math.min(end, s.coveredFrom - 1))) {
      // a chunk starting inside the range has a point there; one holding start may have a gap over it
      if (chunk.firstT >= from) return true;
      let found = false;
      xorScan(chunk, from, to, () => (found = true));
      if (found) return true;
    }
    return false;
  }

  function select(matchers: readonly Matcher[], start: number, end: number): SeriesPoints[] {
    const out: SeriesPoints[] = [];
    for (const s of matching(matchers)) {
      if (s.lastBound < start || s.firstT > end) continue;
      const points: Point[] = [];
      const cached = decoded.get(s.id);
      const dbTo = Math.min(end, s.coveredFrom - 1);
      if (cached && start < s.coveredFrom && start >= cached.firstT && dbTo <= cached.lastT) {
        // the piece lies within the chunk the last read decoded (chunks of a series never overlap)
        pushPoints(points, cached, start, dbTo);
        if (end >= s.coveredFrom) for (const g of segmentsOf(s, s.coveredFrom, end)) pushPoints(points, decoded.decode(s.id, g.chunk), g.from, g.to);
      } else for (const g of segmentsOf(s, start, end)) pushPoints(points, decoded.decode(s.id, g.chunk), g.from, g.to);
      if (points.length) out.push({ labels: s.labels, points });
    }
    return out;
  }

  function cursors(matchers: readonly Matcher[], start: number, end: number): SeriesCursor[] {
    const out: SeriesCursor[] = [];
    for (const s of matching(matchers)) {
      if (s.lastBound < start || s.firstT > end) continue;
      const segments = segmentsOf(s, start, end);
      if (segments.length) out.push(chunkCursor(s.labels, segments));
    }
    return out;
  }

  function selectRollup(matchers: readonly Matcher[], fn: RollupFunction, start: number, end: number): SeriesPoints[] {
    const stmt = rollupStmts.get(fn)!;
    const out: SeriesPoints[] = [];
    for (const s of matching(matchers)) {
      // windows wholly in the head are computed from it (that includes the open window and windows
      // not yet committed); older windows come from the rollups table
      const headFrom = ceilW(s.coveredFrom);
      const points: Point[] = [];
      if (start < headFrom) {
        for (const [w, v] of stmt.iterate(s.id, start, Math.min(end, headFrom - 1)) as IterableIterator<[number, number | null]>)
          points.push({ t: w, v: v ?? NaN });
      }
      const from = Math.max(ceilW(start), headFrom);
      const to = floorW(end) + W - 1;
      if (from <= to && s.chunks.length) headWindows(s, from, to, (w, _t, values) => points.push({ t: w, v: summarizeOne(fn, values) }));
      if (points.length) out.push({ labels: s.labels, points });
    }
    return out;
  }

  function selectCounterWindows(matchers: readonly Matcher[], start: number, end: number): SeriesCounterWindows[] {
    const out: SeriesCounterWindows[] = [];
    for (const s of matching(matchers)) {
      // as selectRollup: windows wholly in the head from it, older ones from the rollups table
      const headFrom = ceilW(s.coveredFrom);
      const windows: CounterWindow[] = [];
      if (start < headFrom) {
        // NULL (a version 1 row's counter columns, or a NaN value) reads as NaN
        for (const r of counterRows.iterate(s.id, start, Math.min(end, headFrom - 1)) as IterableIterator<[number, number | null, number | null, number | null, number | null, number | null, number]>)
          windows.push({ w: r[0], firstT: r[1] ?? NaN, firstV: r[2] ?? NaN, lastT: r[3] ?? NaN, lastV: r[4] ?? NaN, inc: r[5] ?? NaN, count: r[6] });
      }
      const from = Math.max(ceilW(start), headFrom);
      const to = floorW(end) + W - 1;
      if (from <= to && s.chunks.length) headWindows(s, from, to, (w, times, values) => windows.push(counterWindow(w, times, values)));
      if (windows.length) out.push({ labels: s.labels, windows });
    }
    return out;
  }

  function stats(): SqliteStoreStats {
    let headChunks = 0;
    let headPoints = 0;
    for (const s of byId.values()) {
      headChunks += s.chunks.length;
      headPoints += headPointCount(s);
    }
    let dbBytes = 0;
    for (const f of [path, `${path}-wal`]) {
      try {
        dbBytes += statSync(f).size;
      } catch {
        // no WAL file yet
      }
    }
    return {
      series: byId.size,
      headChunks,
      headPoints,
      bufferedSamples: bufN,
      pendingRollups: rollupRows.length / ROLLUP_ROW,
      flushes,
      lastFlushedT,
      lastFlushMs,
      dbBytes,
      writeErrors,
      droppedSamples,
      sealedBefore,
    };
  }

  let lastError: string | undefined;
  // after a failure the background flush backs off (doubling, up to FLUSH_RETRY_MAX_MS): a failing
  // transaction of a million held samples costs ~200 ms, not worth paying every second of a full disk
  let retryDelayMs = 0;
  let retryAt = -Infinity;
  const timer =
    flushIntervalMs > 0
      ? setInterval(() => {
          if (clock.now() < retryAt) return;
          try {
            flush();
            lastError = undefined;
            retryDelayMs = 0;
            retryAt = -Infinity;
          } catch (err) {
            const e = err instanceof StoreError ? err : new StoreError('STORE_WRITE', describe(err), { cause: err });
            if (e.message !== lastError) opts.onError?.(e); // only when the error changes
            lastError = e.message;
            retryDelayMs = Math.min(FLUSH_RETRY_MAX_MS, Math.max(flushIntervalMs, retryDelayMs * 2));
            retryAt = clock.now() + retryDelayMs;
          }
        }, flushIntervalMs)
      : undefined;
  timer?.unref();

  return {
    append,
    select,
    cursors,
    selectRollup,
    selectCounterWindows,
    firstPointTime(matchers, start, end) {
      let first = Infinity;
      for (const s of matching(matchers)) if (s.lastBound >= start && s.firstT <= end && s.firstT < first) first = s.firstT;
      return first === Infinity ? null : Math.max(start, first);
    },
    series(matchers, start, end) {
      return matching(matchers)
        .filter((s) => hasPointsIn(s, start, end))
        .map((s) => s.labels);
    },
    labelNames(start, end) {
      const names = new Set<string>();
      for (const s of byId.values()) {
        let unseen = false;
        for (const n of Object.keys(s.labels)) if (!names.has(n)) unseen = true;
        if (unseen && hasPointsIn(s, start, end)) for (const [n, v] of Object.entries(s.labels)) if (v !== '') names.add(n);
      }
      return [...names].sort();
    },
    labelValues(name, start, end) {
      const values = new Set<string>();
      for (const s of byId.values()) {
        const v = s.labels[name];
        if (v !== undefined && v !== '' && !values.has(v) && hasPointsIn(s, start, end)) values.add(v);
      }
      return [...values].sort();
    },
    flush: () => flush(),
    enforceRetention,
    stats,
    async close() {
      if (closed) return;
      if (timer) clearInterval(timer);
      try {
        flush(true);
        db.transaction(() => {
          for (const s of byId.values()) if (s.lastT > s.persistedLast) updateLast.run(s.lastT, s.id, s.lastT);
        })();
      } finally {
        closed = true;
        db.close();
      }
    },
  };
}

/** Appends the decoded chunk's points with t in [from, to] as Point objects. */
function pushPoints(points: Point[], d: DecodedChunk, from: number, to: number) {
  const ts = d.cols.t;
  const vs = d.cols.v;
  let i = 0;
  // binary search for the first point at or after from
  for (let hi = d.n; i < hi; ) {
    const mid = (i + hi) >> 1;
    if (ts[mid]! < from) i = mid + 1;
    else hi = mid;
  }
  for (; i < d.n && ts[i]! <= to; i++) points.push({ t: ts[i]!, v: vs[i]! });
}

/**
 * A sample value as SQLite holds it: a REAL, NULL for an ordinary NaN (SQLite turns NaN into NULL
 * itself), or for the stale marker an 8-byte BLOB of its bits, little-endian (a REAL column keeps a
 * BLOB as it is), so that it survives a flush and a reopen distinct from NaN. Rollup columns never
 * hold markers: rollups skip them.
 */
type DbValue = number | null | Buffer;
const STALE_BLOB = Buffer.alloc(8);
STALE_BLOB.writeBigUInt64LE(0x7ff0000000000002n);

function toDb(v: number): DbValue {
  if (v === v) return v;
  return isStaleNaN(v) ? STALE_BLOB : null;
}

function fromDb(v: DbValue): number {
  if (v === null) return NaN;
  if (typeof v === 'number') return v;
  return v.length === 8 && v.equals(STALE_BLOB) ? STALE_NAN : NaN;
}

function openDatabase(dataDir: string, path: string): Database.Database {
  try {
    mkdirSync(dataDir, { recursive: true });
  } catch (err) {
    throw openError(path, err);
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.transaction(() => {
      db!.exec(SCHEMA);
      migrate(db!);
    })();
    return db;
  } catch (err) {
    db?.close();
    throw openError(path, err);
  }
}

/**
 * Brings the layout to HISTORY_SCHEMA_VERSION, inside the open transaction. Version 1 gains the chunks
 * table (SCHEMA made it) and the rollup columns of version 2; its raw rows are sealed into chunks by
 * the store's open (sealRows), in batches of one span. A newer file is refused.
 */
function migrate(db: Database.Database) {
  const row = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck(true).get() as string | undefined;
  const version = row === undefined ? HISTORY_SCHEMA_VERSION : Number(row);
  if (!(version <= HISTORY_SCHEMA_VERSION)) {
    throw new Error(`schema version ${row} is newer than this dpmon knows (${HISTORY_SCHEMA_VERSION}): run the newer dpmon, or move the file aside`);
  }
  if (version < 2) {
    const have = new Set((db.prepare('PRAGMA table_info(rollups)').all() as { name: string }[]).map((c) => c.name));
    for (const col of ROLLUP_V2_COLUMNS) if (!have.has(col.split(' ')[0]!)) db.exec(`ALTER TABLE rollups ADD COLUMN ${col}`);
  }
  db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)").run(String(HISTORY_SCHEMA_VERSION));
}

function openError(path: string, err: unknown): StoreError {
  return new StoreError('STORE_OPEN', `cannot open history store ${path}: ${describe(err)}`, { cause: err });
}

/** A rollup value: SQLite stores NaN as NULL (read back as NaN). */
function rollupNull(v: number): number | null {
  return Number.isNaN(v) ? null : v;
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}

interface Summary {
  avg: number;
  max: number;
  min: number;
  p95: number;
  count: number;
  last: number;
}

/** All rollup functions of one window's values (time order), exactly as memory-store's rollup(). */
export function summarize(values: readonly number[]): Summary {
  let sum = 0;
  let max = -Infinity;
  let min = Infinity;
  for (const v of values) {
    sum += v;
    max = Math.max(max, v);
    min = Math.min(min, v);
  }
  const sorted = [...values].sort((a, b) => a - b);
  return {
    avg: sum / values.length,
    max,
    min,
    p95: sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)]!,
    count: values.length,
    last: values[values.length - 1]!,
  };
}

function summarizeOne(fn: RollupFunction, values: readonly number[]): number {
  const r = summarize(values);
  switch (fn) {
    case 'avg':
      return r.avg;
    case 'max':
      return r.max;
    case 'min':
      return r.min;
    case 'percentile_95':
      return r.p95;
    case 'count':
      return r.count;
    case 'last':
      return r.last;
  }
}

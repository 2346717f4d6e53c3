// The persistent history store: a head of recent points in memory (sqlite-head.ts) over SQLite in
// `<dataDir>/history.db` (WAL, synchronous=NORMAL). Owns the schema, the flush of buffered samples,
// the 5-minute rollups and retention. Layout, durability bound and figures: docs/storage.md.
//
// Raw samples are time-first rows, `samples(ts, sid, v)` keyed (ts, sid) WITHOUT ROWID: every flush
// appends at the right edge of the B-tree (2M rows/s measured with 128-row INSERTs; `(sid, ts)` keys
// were 15× slower in the design probe) and retention is one range delete. The price is that a raw read
// of an old range scans every series' rows in that range; ranges older than the head are meant to be
// read through the rollups.
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { systemClock, type Clock } from '../lib/clock.ts';
import { labelsKey, type Labels } from '../model/labels.ts';
import { compileMatcher, matchesAll, type Matcher } from '../model/matcher.ts';
import { isStaleNaN, STALE_NAN } from '../model/stale.ts';
import {
  chunkLastT,
  createHeadSeries,
  headAppend,
  headHas,
  headPointCount,
  headScan,
  type HeadSeries,
} from './sqlite-head.ts';
import type { Point, RollupFunction, SeriesPoints, Store, StoredSample } from './store.ts';
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
  PRIMARY KEY (sid, w)
) WITHOUT ROWID;
`;

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
  const insertRollup = db.prepare('INSERT OR REPLACE INTO rollups VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  const selectRange = db.prepare('SELECT ts, sid, v FROM samples WHERE ts >= ? AND ts <= ? ORDER BY ts').raw(true);
  const selectRangeSids = db
    .prepare('SELECT ts, sid, v FROM samples WHERE ts >= ? AND ts <= ? AND sid IN (SELECT value FROM json_each(?)) ORDER BY ts')
    .raw(true);
  const selectRangeSid = db.prepare('SELECT ts, v FROM samples WHERE ts >= ? AND ts <= ? AND sid = ? ORDER BY ts').raw(true);
  const existsRangeSid = db.prepare('SELECT 1 FROM samples WHERE ts >= ? AND ts <= ? AND sid = ? LIMIT 1').pluck(true);
  const rollupStmts = new Map<RollupFunction, Database.Statement>();
  for (const fn of Object.keys(ROLLUP_COLUMN) as RollupFunction[]) {
    rollupStmts.set(
      fn,
      db.prepare(`SELECT w, ${ROLLUP_COLUMN[fn]} FROM rollups WHERE sid = ? AND w >= ? AND w <= ? ORDER BY w`).raw(true),
    );
  }
  const deleteSamples = db.prepare('DELETE FROM samples WHERE ts < ?');
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
  // rollup rows computed but not yet committed: sid, w, avg, max, min, p95, count, last
  let rollupRows: number[] = [];

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

  // --- load: the series table, then the last headRetention of samples back into the head
  try {
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
      s.lastT = row.last_ts;
      s.lastBound = row.last_ts + LAST_TS_SLACK_MS;
      indexSeries(s);
      if (row.id >= nextId) nextId = row.id + 1;
    }
    // aligned to a window so that every window in the reloaded span is complete in the head, and its
    // rollup can be recomputed (rollups of windows closed after the last commit were lost with the crash)
    const loadFrom = floorW(clock.now() - headRetentionMs);
    for (const s of byId.values()) s.coveredFrom = loadFrom;
    for (const row of selectRange.iterate(loadFrom, Number.MAX_SAFE_INTEGER) as IterableIterator<[number, number, DbValue]>) {
      const s = byId.get(row[1]);
      if (!s || row[0] <= lastInHead(s)) continue;
      headAppend(s, row[0], fromDb(row[2]));
      if (row[0] > s.lastT) s.lastT = row[0];
      if (row[0] > s.lastBound) s.lastBound = row[0];
      if (row[0] > lastFlushedT) lastFlushedT = row[0];
      if (Number.isNaN(s.pendingWindow)) s.pendingWindow = floorW(row[0]);
    }
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
   * dropped points stay in the head until it is trimmed; they never reach history.db.
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
    const values: number[] = [];
    for (const s of byId.values()) {
      if (Number.isNaN(s.pendingWindow)) continue;
      // on close the open window is rolled up too, partial; a restart within the head span recomputes it
      const closedBefore = all ? floorW(s.lastT) + W : Math.max(floorW(s.lastT), nowWindow);
      if (s.pendingWindow >= closedBefore) continue;
      let w = NaN;
      headScan(s, s.pendingWindow, closedBefore - 1, (t, v) => {
        const tw = floorW(t);
        if (tw !== w) {
          if (values.length) pushRollup(s.id, w, values);
          w = tw;
          values.length = 0;
        }
        if (!isStaleNaN(v)) values.push(v); // a stale marker is not a value: rollups skip it
      });
      if (values.length) pushRollup(s.id, w, values);
      values.length = 0;
      s.pendingWindow = s.lastT >= closedBefore ? closedBefore : NaN;
    }
  }

  function pushRollup(sid: number, w: number, values: number[]) {
    const r = summarize(values);
    rollupRows.push(sid, w, r.avg, r.max, r.min, r.p95, r.count, r.last);
  }

  function flush(final = false): void {
    if (closed) return;
    const started = performance.now();
    const now = clock.now();
    rollClosedWindows(now, final);
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
        let i = 0;
        for (; i + BATCH_ROWS <= n; i += BATCH_ROWS) {
          let k = 0;
          for (let j = i; j < i + BATCH_ROWS; j++) {
            args[k++] = bufT[j]!;
            args[k++] = bufSid[j]!;
            args[k++] = toDb(bufV[j]!);
          }
          insertMany.run(args);
        }
        for (; i < n; i++) insertOne.run(bufT[i]!, bufSid[i]!, toDb(bufV[i]!));
        for (let j = 0; j < n; j++) if (bufT[j]! > maxT) maxT = bufT[j]!;
        for (let r = 0; r < rollupRows.length; r += 8) {
          insertRollup.run(
            rollupRows[r]!,
            rollupRows[r + 1]!,
            rollupNull(rollupRows[r + 2]!),
            rollupNull(rollupRows[r + 3]!),
            rollupNull(rollupRows[r + 4]!),
            rollupNull(rollupRows[r + 5]!),
            rollupRows[r + 6]!,
            rollupNull(rollupRows[r + 7]!),
          );
        }
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
        if (last >= horizon) break;
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
          deleteRollups.run(s.id, rollupCutoff);
          if (s.lastBound < seriesCutoff && s.chunks.length === 0) {
            deleteSeriesRow.run(s.id);
            gone.push(s);
          }
        }
      })();
      for (const s of gone) unindexSeries(s);
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

  /** Whether the series has a raw point in [start, end], in the head or in SQLite. */
  function hasPointsIn(s: HeadSeries, start: number, end: number): boolean {
    if (start > end || s.lastBound < start || s.firstT > end) return false;
    if (headHas(s, Math.max(start, s.coveredFrom), end)) return true;
    if (start >= s.coveredFrom) return false;
    return existsRangeSid.get(start, Math.min(end, s.coveredFrom - 1), s.id) !== undefined;
  }

  function select(matchers: readonly Matcher[], start: number, end: number): SeriesPoints[] {
    const found = matching(matchers).filter((s) => s.lastBound >= start && s.firstT <= end);
    const dbPoints = new Map<number, Point[]>();
    // the part of the range older than a series' head comes from SQLite
    const needDb = found.filter((s) => start < s.coveredFrom);
    if (needDb.length) {
      let dbEnd = -Infinity;
      for (const s of needDb) dbEnd = Math.max(dbEnd, Math.min(end, s.coveredFrom - 1));
      if (needDb.length <= 16) {
        for (const s of needDb) {
          const pts: Point[] = [];
          for (const [t, v] of selectRangeSid.iterate(start, Math.min(end, s.coveredFrom - 1), s.id) as IterableIterator<
            [number, DbValue]
          >)
            pts.push({ t, v: fromDb(v) });
          dbPoints.set(s.id, pts);
        }
      } else {
        const want = new Map(needDb.map((s) => [s.id, s]));
        const ids = JSON.stringify(needDb.map((s) => s.id));
        for (const [t, sid, v] of selectRangeSids.iterate(start, dbEnd, ids) as IterableIterator<[number, number, DbValue]>) {
          const s = want.get(sid);
          if (!s || t >= s.coveredFrom) continue;
          let pts = dbPoints.get(sid);
          if (!pts) dbPoints.set(sid, (pts = []));
          pts.push({ t, v: fromDb(v) });
        }
      }
    }
    const out: SeriesPoints[] = [];
    for (const s of found) {
      const points = dbPoints.get(s.id) ?? [];
      headScan(s, Math.max(start, s.coveredFrom), end, (t, v) => points.push({ t, v }));
      if (points.length) out.push({ labels: s.labels, points });
    }
    return out;
  }

  function selectRollup(matchers: readonly Matcher[], fn: RollupFunction, start: number, end: number): SeriesPoints[] {
    const stmt = rollupStmts.get(fn)!;
    const out: SeriesPoints[] = [];
    const values: number[] = [];
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
      if (from <= to && s.chunks.length) {
        let w = NaN;
        headScan(s, from, to, (t, v) => {
          const tw = floorW(t);
          if (tw !== w) {
            if (values.length) points.push({ t: w, v: summarizeOne(fn, values) });
            w = tw;
            values.length = 0;
          }
          if (!isStaleNaN(v)) values.push(v);
        });
        if (values.length) points.push({ t: w, v: summarizeOne(fn, values) });
        values.length = 0;
      }
      if (points.length) out.push({ labels: s.labels, points });
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
      pendingRollups: rollupRows.length / 8,
      flushes,
      lastFlushedT,
      lastFlushMs,
      dbBytes,
      writeErrors,
      droppedSamples,
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
    selectRollup,
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
    db.exec(SCHEMA);
    db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '1')").run();
    return db;
  } catch (err) {
    db?.close();
    throw openError(path, err);
  }
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

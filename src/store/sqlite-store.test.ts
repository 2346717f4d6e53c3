import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { createManualClock } from '../lib/clock.ts';
import type { Matcher } from '../model/matcher.ts';
import { isStaleNaN, STALE_NAN } from '../model/stale.ts';
import { createMemoryStore } from './memory-store.ts';
import { createSqliteStore, StoreError, type SqliteStore, type SqliteStoreOptions } from './sqlite-store.ts';
import { runStoreContract } from './store.contract.ts';
import type { RollupFunction, SeriesPoints, Store, StoredSample } from './store.ts';

/** the stale marker as the samples table holds it: 8 bytes of its bits, little-endian */
const STALE_BLOB_FOR_TEST = Buffer.from('020000000000f07f', 'hex');
const tv = (s: SeriesPoints) => s.points.map((p) => [p.t, p.v]);

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;
const W = 5 * M;

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'dpmon-store-'));
  dirs.push(d);
  return d;
}

function open(dataDir: string, clock: { now(): number } & ReturnType<typeof createManualClock>, extra: Partial<SqliteStoreOptions> = {}) {
  return createSqliteStore({
    dataDir,
    clock,
    rawRetentionMs: 15 * D,
    rollupWindowMs: W,
    rollupRetentionMs: 30 * D,
    flushIntervalMs: 0,
    headRetentionMs: H,
    ...extra,
  });
}

// answered from the head: the clock stays at 0, nothing is flushed
runStoreContract('sqlite (head)', () => open(tempDir(), createManualClock(0)));

// answered from SQLite: flush, close, and reopen two days later, so nothing is reloaded into the head
{
  const clocks = new WeakMap<Store, { dir: string; clock: ReturnType<typeof createManualClock> }>();
  runStoreContract(
    'sqlite (persisted)',
    () => {
      const dir = tempDir();
      const clock = createManualClock(0);
      const store = open(dir, clock);
      clocks.set(store, { dir, clock });
      return store;
    },
    {
      async settle(store) {
        const { dir, clock } = clocks.get(store)!;
        (store as SqliteStore).flush();
        await store.close();
        await clock.advance(2 * D);
        const reopened = open(dir, clock);
        assert.equal(reopened.stats().headPoints, 0);
        return reopened;
      },
    },
  );
}

const conn = (db: string) => ({ __name__: 'pg_connections', db });
const all: Matcher[] = [{ name: '__name__', type: '=', value: 'pg_connections' }];

/** 15 s samples of `series` series from `from` for `span` ms, values a noisy function of time. */
function scrape(from: number, span: number, series = 3): StoredSample[] {
  const out: StoredSample[] = [];
  for (let t = from; t < from + span; t += 15 * S) {
    for (let i = 0; i < series; i++) out.push({ labels: conn(`db${i}`), t, v: Math.round(50 + 40 * Math.sin(t / 1e6 + i) + ((t / 15000) % 7)) });
  }
  return out;
}

/** Scrapes of `span` from 0 into both stores, a minute at a time, the SQLite store flushed after each. */
async function ingestMinutes(store: SqliteStore, memory: Store, clock: ReturnType<typeof createManualClock>, span: number) {
  for (let t = 0; t < span; t += M) {
    const batch = scrape(t, M);
    store.append(batch);
    memory.append(batch);
    await clock.advance(M);
    store.flush();
  }
}

describe('sqlite store', () => {
  it('keeps its data across close and reopen', async () => {
    const dir = tempDir();
    const clock = createManualClock(10 * D);
    let store = open(dir, clock);
    const samples = scrape(10 * D - 2 * H, 2 * H);
    store.append(samples);
    await store.close();
    store = open(dir, clock);
    const got = store.select(all, 0, 11 * D);
    assert.equal(got.length, 3);
    assert.equal(
      got.reduce((n, s) => n + s.points.length, 0),
      samples.length,
    );
    // out-of-order detection survives the restart: an old sample is still dropped
    store.append([{ labels: conn('db0'), t: 10 * D - H, v: 1 }]);
    assert.equal(store.select(all, 0, 11 * D).reduce((n, s) => n + s.points.length, 0), samples.length);
    await store.close();
  });

  it('answers a range spanning SQLite and the head after the head was trimmed', async () => {
    const dir = tempDir();
    const clock = createManualClock(0);
    const store = open(dir, clock);
    const memory = createMemoryStore();
    await ingestMinutes(store, memory, clock, 3 * H);
    assert.ok(store.stats().headPoints < 3 * 3 * 4 * 60, 'the head dropped chunks older than its span');
    assert.deepEqual(store.select(all, 0, 3 * H), memory.select(all, 0, 3 * H));
    assert.deepEqual(store.select(all, 30 * M, 2 * H + 7 * S), memory.select(all, 30 * M, 2 * H + 7 * S));
    for (const fn of ['avg', 'max', 'min', 'percentile_95', 'count', 'last'] as RollupFunction[]) {
      assert.deepEqual(store.selectRollup(all, fn, 0, 3 * H), memory.selectRollup(all, fn, 0, 3 * H), fn);
    }
    await store.close();
  });

  it('computes the same rollups as the memory store, from the head and after a restart mid-window', async () => {
    const dir = tempDir();
    const clock = createManualClock(0);
    let store = open(dir, clock);
    const memory = createMemoryStore();
    const first = scrape(0, 47 * M, 5);
    store.append(first);
    memory.append(first);
    await clock.advance(47 * M);
    store.flush();
    await store.close();
    // restart in the middle of the window [45m, 50m), within the head span: the window is recomputed
    store = open(dir, clock);
    const second = scrape(47 * M, 20 * M, 5);
    store.append(second);
    memory.append(second);
    await clock.advance(20 * M);
    store.flush();
    for (const fn of ['avg', 'max', 'min', 'percentile_95', 'count', 'last'] as RollupFunction[]) {
      assert.deepEqual(store.selectRollup(all, fn, 0, 2 * H), memory.selectRollup(all, fn, 0, 2 * H), fn);
    }
    await store.close();
    // and once everything is only in SQLite
    await clock.advance(D);
    store = open(dir, clock);
    for (const fn of ['avg', 'max', 'min', 'percentile_95', 'count', 'last'] as RollupFunction[]) {
      assert.deepEqual(store.selectRollup(all, fn, 0, 2 * H), memory.selectRollup(all, fn, 0, 2 * H), fn);
    }
    await store.close();
  });

  it('deletes raw samples after the raw retention and rollups after the rollup retention', async () => {
    const dir = tempDir();
    const clock = createManualClock(0);
    const store = open(dir, clock);
    store.append(scrape(0, H));
    await clock.advance(H);
    store.flush();
    await clock.advance(15 * D); // now = 15d + 1h: raw samples of [0, 1h) are older than 15 days
    store.append(scrape(15 * D + H, 10 * M));
    store.flush(); // runs retention: its last run is more than a minute ago
    assert.deepEqual(store.select(all, 0, H), [], 'raw samples past 15 days are gone');
    assert.equal(store.select(all, 15 * D, 16 * D)[0]!.points.length, 40);
    const rollups = store.selectRollup(all, 'count', 0, H);
    assert.equal(rollups.length, 3, 'rollups are kept');
    assert.deepEqual(
      rollups[0]!.points.map((p) => p.v),
      Array(12).fill(20),
    );
    store.enforceRetention(30 * D + 30 * M);
    assert.deepEqual(
      store.selectRollup(all, 'count', 0, H)[0]!.points.map((p) => p.t),
      [30, 35, 40, 45, 50, 55].map((m) => m * M),
      'rollup windows older than 30 days are gone',
    );
    await store.close();
  });

  it('stores an ordinary NaN and reads it back as NaN, not as a stale marker', async () => {
    const dir = tempDir();
    const clock = createManualClock(0);
    let store = open(dir, clock);
    store.append([{ labels: conn('a'), t: 1000, v: NaN }]);
    await store.close();
    await clock.advance(D);
    store = open(dir, clock);
    const v = store.select(all, 0, 2000)[0]!.points[0]!.v;
    assert.ok(Number.isNaN(v) && !isStaleNaN(v));
    await store.close();
  });

  it('keeps the stale marker through a flush and a reopen that reloads it into the head', async () => {
    const dir = tempDir();
    const clock = createManualClock(10 * M);
    let store = open(dir, clock);
    store.append([
      { labels: conn('a'), t: 1000, v: 7 },
      { labels: conn('a'), t: 16_000, v: STALE_NAN },
      { labels: conn('b'), t: 16_000, v: NaN },
    ]);
    store.flush();
    await store.close();
    store = open(dir, clock); // within the head span: the rows are loaded back into the head
    assert.ok(store.stats().headPoints > 0);
    const got = store.select(all, 0, 20_000).sort((x, y) => x.labels.db!.localeCompare(y.labels.db!));
    assert.deepEqual(got[0]!.points.map((p) => isStaleNaN(p.v)), [false, true]);
    assert.ok(Number.isNaN(got[1]!.points[0]!.v) && !isStaleNaN(got[1]!.points[0]!.v));
    assert.deepEqual(store.selectRollup(all, 'count', 0, W).map((s) => [s.labels.db, s.points[0]!.v]).sort(), [
      ['a', 1],
      ['b', 1],
    ]);
    await store.close();
  });

  it('reports a corrupt database as a StoreError naming the path', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'history.db'), 'this is not a database, only text that looks nothing like one'.repeat(100));
    assert.throws(
      () => open(dir, createManualClock(0)),
      (err: unknown) =>
        err instanceof StoreError &&
        err.code === 'STORE_OPEN' &&
        err.message.includes(join(dir, 'history.db')) &&
        /not a database/.test(err.message),
    );
  });

  it('reports a data directory that cannot be created as a StoreError naming the path', () => {
    const file = join(tempDir(), 'plain-file');
    writeFileSync(file, '');
    assert.throws(
      () => open(join(file, 'data'), createManualClock(0)),
      (err: unknown) => err instanceof StoreError && err.code === 'STORE_OPEN' && err.message.includes(file) && /ENOTDIR|not a directory/.test(err.message),
    );
  });
});

describe('sqlite store: sealed chunks', () => {
  const rawRows = (dir: string) => {
    const db = new Database(join(dir, 'history.db'), { readonly: true });
    try {
      return {
        samples: db.prepare('SELECT count(*) FROM samples').pluck().get() as number,
        oldestSample: db.prepare('SELECT min(ts) FROM samples').pluck().get() as number | null,
        chunks: db.prepare('SELECT count(*) FROM chunks').pluck().get() as number,
        chunkPoints: db.prepare('SELECT coalesce(sum(n), 0) FROM chunks').pluck().get() as number,
        version: db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get() as string,
      };
    } finally {
      db.close();
    }
  };

  it('seals each hour into one chunk row per series and deletes its raw rows, reads unchanged', async () => {
    const dir = tempDir();
    const clock = createManualClock(0);
    const store = open(dir, clock);
    const memory = createMemoryStore();
    await ingestMinutes(store, memory, clock, 3 * H);
    // now = 3h: the hours [0, 1h) and [1h, 2h) are sealed (2h + the 5 minute grace has passed)
    assert.equal(store.stats().sealedBefore, 2 * H);
    const rows = rawRows(dir);
    assert.equal(rows.chunks, 2 * 3, 'one row per series per sealed hour');
    assert.equal(rows.chunkPoints, 2 * 3 * 240);
    assert.ok(rows.oldestSample! >= 2 * H, 'no raw row older than the seal');
    assert.deepEqual(store.select(all, 0, 3 * H), memory.select(all, 0, 3 * H));
    assert.deepEqual(store.select(all, H - 7 * S, H + 7 * S), memory.select(all, H - 7 * S, H + 7 * S));
    await store.close();
  });

  it('keeps a sample that arrives for an hour already sealed, as a chunk row of its own', async () => {
    const dir = tempDir();
    const clock = createManualClock(0);
    let store = open(dir, clock);
    store.append(scrape(0, 2 * H));
    await clock.advance(2 * H);
    store.flush();
    assert.equal(store.stats().sealedBefore, H);
    // a brand-new series starting with old timestamps, and an old series' point in the sealed hour
    const late = { __name__: 'pg_connections', db: 'late' };
    store.append([
      { labels: late, t: 10 * M, v: 1 },
      { labels: late, t: 20 * M, v: 2 },
    ]);
    store.flush();
    await clock.advance(H);
    store.flush(); // seals [1h, 2h) and the late points
    assert.equal(store.stats().sealedBefore, 2 * H);
    const want = [
      [10 * M, 1],
      [20 * M, 2],
    ];
    const lateOf = (s: Store) => tv(s.select([...all, { name: 'db', type: '=', value: 'late' }], 0, 3 * H)[0]!);
    assert.deepEqual(lateOf(store), want);
    await store.close();
    await clock.advance(D);
    store = open(dir, clock);
    assert.deepEqual(lateOf(store), want);
    assert.equal(rawRows(dir).samples, 0);
    assert.equal(store.select(all, 0, 3 * H).reduce((n, s) => n + s.points.length, 0), 3 * 2 * 240 + 2);
    await store.close();
  });

  it('converts a schema version 1 file: raw rows older than the seal become chunks, rollups gain columns', async () => {
    const dir = tempDir();
    const clock = createManualClock(0);
    // the previous layout, written by SQL
    const old = new Database(join(dir, 'history.db'));
    old.exec(`
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE series (id INTEGER PRIMARY KEY, name TEXT NOT NULL, labels TEXT NOT NULL UNIQUE, first_ts INTEGER NOT NULL, last_ts INTEGER NOT NULL);
      CREATE TABLE samples (ts INTEGER NOT NULL, sid INTEGER NOT NULL, v REAL, PRIMARY KEY (ts, sid)) WITHOUT ROWID;
      CREATE TABLE rollups (sid INTEGER NOT NULL, w INTEGER NOT NULL, avg_v REAL, max_v REAL, min_v REAL, p95_v REAL, count_v INTEGER NOT NULL, last_v REAL, PRIMARY KEY (sid, w)) WITHOUT ROWID;
      INSERT INTO meta VALUES ('schema_version', '1');
    `);
    const samples = scrape(0, 5 * H);
    const ids = new Map<string, number>();
    for (const smp of samples) {
      const key = JSON.stringify(smp.labels);
      if (!ids.has(key)) {
        ids.set(key, ids.size + 1);
        old.prepare('INSERT INTO series VALUES (?, ?, ?, 0, ?)').run(ids.size, 'pg_connections', key, 5 * H - 15 * S);
      }
      old.prepare('INSERT INTO samples VALUES (?, ?, ?)').run(smp.t, ids.get(key), smp.v);
    }
    old.prepare('INSERT INTO samples VALUES (?, ?, ?)').run(5 * H - 10 * S, 1, STALE_BLOB_FOR_TEST);
    // a rollup row of the old layout: no counter columns
    old.prepare('INSERT INTO rollups VALUES (1, 0, 1, 1, 1, 1, 20, 1)').run();
    old.close();
    await clock.advance(5 * H);
    const store = open(dir, clock);
    const rows = rawRows(dir);
    assert.equal(rows.version, '2');
    assert.equal(rows.chunks, 3 * 4, 'the hours before now − grace, per series');
    assert.ok(rows.oldestSample! >= 4 * H);
    const memory = createMemoryStore();
    memory.append(samples);
    const got = store.select(all, 0, 5 * H);
    const stale = got.find((s) => s.labels.db === 'db0')!.points.at(-1)!;
    assert.ok(isStaleNaN(stale.v), 'the stale marker row survives the conversion');
    assert.deepEqual(
      got.map((s) => ({ labels: s.labels, points: s.points.filter((p) => !isStaleNaN(p.v)) })),
      memory.select(all, 0, 5 * H),
    );
    // the old rollup row is returned with NaN counter columns, so a reader cannot take it for a gap
    const [oldWindow] = store.selectCounterWindows!(all, 0, 0).find((s) => s.labels.db === 'db0')!.windows;
    assert.equal(oldWindow!.count, 20);
    assert.ok(Number.isNaN(oldWindow!.firstT) && Number.isNaN(oldWindow!.inc));
    store.append(scrape(5 * H, 10 * M));
    await clock.advance(10 * M);
    store.flush(); // writes rollup rows with the version 2 columns
    await store.close();
  });
});

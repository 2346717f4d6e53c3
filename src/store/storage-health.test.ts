import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { silentLogger } from '../lib/logger.ts';
import type { MetricDesc } from '../model/metric.ts';
import { createStorageHealth, isDiskError } from './storage-health.ts';

const dir = mkdtempSync(join(tmpdir(), 'dpmon-storage-health-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A database that is "full" after a few pages: SQLite answers SQLITE_FULL, as on a full disk. */
function fullDb(): Database.Database {
  const db = new Database(':memory:');
  db.exec('CREATE TABLE t (x TEXT)');
  db.pragma('max_page_count = 3');
  return db;
}
const big = 'x'.repeat(8192);

async function collect(h: ReturnType<typeof createStorageHealth>) {
  const out: { name: string; labels: Record<string, string>; v: number }[] = [];
  const ctl = new AbortController();
  await h.collector.collect({ now: 0, signal: ctl.signal, log: silentLogger }, (d: MetricDesc, labels, v) => void out.push({ name: d.name, labels: { ...labels }, v }));
  return out;
}

describe('storage health', () => {
  it('counts a statement that fails on a full database as one write error of its store', () => {
    const h = createStorageHealth({ dataDir: dir, intervalMs: 15_000 });
    const db = h.watch(fullDb(), 'state');
    const insert = db.prepare('INSERT INTO t VALUES (?)');
    assert.throws(() => insert.run(big), (err: unknown) => isDiskError(err));
    assert.equal(h.writeErrors('state'), 1);
    assert.equal(h.writeErrors('history'), 0);
  });

  it('counts a failed transaction once, not once per layer it passes', () => {
    const h = createStorageHealth({ dataDir: dir, intervalMs: 15_000 });
    const db = h.watch(fullDb(), 'state');
    const insert = db.prepare('INSERT INTO t VALUES (?)');
    assert.throws(() => db.transaction(() => insert.run(big))());
    assert.throws(() => db.transaction(() => db.exec(`INSERT INTO t VALUES ('${big}')`))());
    assert.equal(h.writeErrors('state'), 2);
  });

  it('does not count errors that are not the disk (a constraint, a syntax error)', () => {
    const h = createStorageHealth({ dataDir: dir, intervalMs: 15_000 });
    const db = h.watch(new Database(':memory:'), 'state');
    db.exec('CREATE TABLE u (k INTEGER PRIMARY KEY)');
    const insert = db.prepare('INSERT INTO u VALUES (?)');
    insert.run(1);
    assert.throws(() => insert.run(1), /UNIQUE/);
    assert.throws(() => db.exec('NOT SQL'));
    assert.equal(h.writeErrors('state'), 0);
  });

  it('counts the rows of state.db skipped as unreadable, per table, every table from 0', async () => {
    const h = createStorageHealth({ dataDir: dir, intervalMs: 15_000 });
    h.badStateRow('silences');
    h.badStateRow('silences');
    const got = (await collect(h)).filter((s) => s.name === 'dpmon_state_bad_rows_total');
    assert.equal(got.find((s) => s.labels.table === 'silences')?.v, 2);
    assert.equal(got.find((s) => s.labels.table === 'alert_instances')?.v, 0);
  });

  it('reports write errors per store, what is held, and the room left in the data directory', async () => {
    const h = createStorageHealth({ dataDir: dir, intervalMs: 15_000, backlog: () => ({ history: { unwritten: 7, dropped: 2 } }) });
    h.failed('audit', Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_WRITE' }));
    h.failed('history', new Error('wrapped', { cause: Object.assign(new Error('full'), { code: 'SQLITE_FULL' }) }));
    const got = await collect(h);
    const value = (name: string, store?: string) => got.find((s) => s.name === name && s.labels.store === store)?.v;
    assert.equal(value('dpmon_storage_write_errors_total', 'history'), 1);
    assert.equal(value('dpmon_storage_write_errors_total', 'state'), 0);
    assert.equal(value('dpmon_storage_write_errors_total', 'audit'), 1);
    assert.equal(value('dpmon_storage_unwritten', 'history'), 7);
    assert.equal(value('dpmon_storage_dropped_total', 'history'), 2);
    const ratio = value('dpmon_data_dir_free_ratio')!;
    assert.ok(ratio > 0 && ratio <= 1, `free ratio ${ratio}`);
    assert.ok(value('dpmon_data_dir_free_bytes')! <= value('dpmon_data_dir_size_bytes')!);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { createPostedAlertLog } from './posted-alert-log.ts';

interface A {
  readonly fingerprint: string;
  readonly v: number;
}
const a = (fingerprint: string, v = 0): A => ({ fingerprint, v });
const rows = (db: Database.Database) => db.prepare('SELECT count(*) FROM posted_alerts_log').pluck().get() as number;

/** a caller as the pipeline is: the log first, then its map */
function caller(db: Database.Database) {
  const log = createPostedAlertLog<A>(db);
  const live = log.load();
  return {
    live,
    post(set: A[], deleted: string[] = []) {
      log.append(set, deleted, live);
      for (const x of set) live.set(x.fingerprint, x);
      for (const fp of deleted) live.delete(fp);
    },
  };
}

describe('posted alert log', () => {
  it('gives a later process the alerts as the last POST left them', () => {
    const db = new Database(':memory:');
    const c = caller(db);
    c.post([a('x', 1), a('y', 1)]);
    c.post([a('x', 2)], ['y']);
    c.post([a('z', 1)]);
    assert.deepEqual([...caller(db).live.values()], [a('x', 2), a('z', 1)]);
    assert.equal(rows(db), 3, 'one row per POST');
  });

  it('writes nothing for a POST that changes nothing', () => {
    const db = new Database(':memory:');
    caller(db).post([]);
    assert.equal(rows(db), 0);
  });

  it('rewrites itself as a snapshot of the live alerts once it holds more than twice as many', () => {
    const db = new Database(':memory:');
    const c = caller(db);
    const many = Array.from({ length: 600 }, (_, i) => a(`fp${i}`));
    c.post(many);
    c.post(many.map((x) => ({ ...x, v: 1 })));
    assert.equal(rows(db), 2, '1,200 entries for 600 live: not yet');
    c.post([a('fp0', 2)], many.slice(1).map((x) => x.fingerprint));
    assert.equal(rows(db), 3);
    c.post([a('new', 3)]);
    assert.equal(rows(db), 2, 'rewritten: a snapshot of the one live alert, then this POST');
    assert.deepEqual([...caller(db).live.values()], [a('fp0', 2), a('new', 3)]);
  });

  it('moves the alerts of an earlier state.db (a row per alert) into the log', () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE posted_alerts (fingerprint TEXT PRIMARY KEY, body TEXT NOT NULL)');
    const put = db.prepare('INSERT INTO posted_alerts VALUES (?, ?)');
    put.run('p', JSON.stringify(a('p', 7)));
    put.run('q', JSON.stringify(a('q', 8)));
    assert.deepEqual([...caller(db).live.values()], [a('p', 7), a('q', 8)]);
    assert.equal(db.prepare(`SELECT count(*) FROM sqlite_master WHERE name = 'posted_alerts'`).pluck().get(), 0);
  });
});

// state.db's schema version and migrations, and what its stores do with a row that cannot be read:
// an older file is brought up to date with its rows kept, the version is recorded, a newer file is
// refused, and a corrupted row is reported with its table and key while every other row loads.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openSilenceStore } from '../alerts/silences.ts';
import { createAuditLog } from '../audit/audit-log.ts';
import { createManualClock } from '../lib/clock.ts';
import { createOutbox } from '../notify/outbox.ts';
import { createPostedAlertLog } from '../notify/posted-alert-log.ts';
import type { Notification } from '../model/notification.ts';
import { openAlertStore } from '../rules/alert-store.ts';
import type { AlertInstance } from '../rules/alert-state.ts';
import { badRowsOf, openStateDb, STATE_SCHEMA_VERSION, StateDbError, stateSchemaVersion, type BadStateRow } from './state-db.ts';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'dpmon-state-db-'));
  dirs.push(d);
  return d;
}
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const T0 = Date.parse('2026-01-01T00:00:00Z');

const note = (id: string, groupKey = 'g'): Notification => ({
  id,
  receiver: 'ops-team',
  groupKey,
  groupLabels: {},
  commonLabels: { alertname: 'disk_space' },
  commonAnnotations: {},
  status: 'firing',
  severity: 'high',
  alerts: [{ fingerprint: 'f1', status: 'firing', labels: { alertname: 'disk_space' }, annotations: {}, startsAt: T0 }],
  event: 'trigger',
  externalURL: 'http://127.0.0.1:9817',
  createdAt: T0,
});

const instance = (fingerprint: string): AlertInstance => ({
  fingerprint,
  labels: { alertname: 'disk_space', instance: fingerprint },
  state: 'firing',
  activeAt: T0,
  firedAt: T0 + 60_000,
  lastBreachAt: T0 + 60_000,
  breaches: 5,
  value: 93,
  transitions: [T0 + 60_000],
  flapping: false,
});

const silenceBody = (id: string) =>
  JSON.stringify({ id, matchers: [{ name: 'instance', value: 'pg1', isRegex: false, isEqual: true }], startsAt: T0, endsAt: T0 + 3_600_000, createdBy: 'dba', comment: 'maintenance', updatedAt: T0 });

/** A state.db as dpmon wrote it before versions were kept, with dpmon 0.1's outbox and posted_alerts tables. */
function writeUnversioned(dir: string): void {
  const db = new Database(join(dir, 'state.db'));
  db.exec(`CREATE TABLE outbox (
      id TEXT PRIMARY KEY, channel TEXT NOT NULL, receiver TEXT NOT NULL, body TEXT NOT NULL,
      state TEXT NOT NULL, attempts INTEGER NOT NULL, next_attempt_at INTEGER NOT NULL,
      created_at INTEGER NOT NULL, sent_at INTEGER, last_error TEXT);
    CREATE INDEX outbox_heads ON outbox (channel, receiver, state);
    CREATE TABLE posted_alerts (fingerprint TEXT PRIMARY KEY, body TEXT NOT NULL);
    CREATE TABLE alert_instances (rule TEXT NOT NULL, fingerprint TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (rule, fingerprint)) WITHOUT ROWID;
    CREATE TABLE silences (id TEXT PRIMARY KEY, body TEXT NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;`);
  const outbox = db.prepare('INSERT INTO outbox (id, channel, receiver, body, state, attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  outbox.run('n1:webhook', 'webhook', 'ops-team', JSON.stringify(note('n1')), 'pending', 2, T0 + 5000, T0);
  outbox.run('n0:slack', 'slack', 'ops-team', JSON.stringify(note('n0')), 'sent', 1, T0, T0 - 1000);
  const posted = { ...note('x').alerts[0]!, fingerprint: 'p1', source: 'api', activeAt: T0, updatedAt: T0 };
  db.prepare('INSERT INTO posted_alerts (fingerprint, body) VALUES (?, ?)').run('p1', JSON.stringify(posted));
  db.prepare('INSERT INTO alert_instances (rule, fingerprint, body) VALUES (?, ?, ?)').run('disk/disk_space', 'a1', JSON.stringify(instance('a1')));
  db.prepare('INSERT INTO silences (id, body, expires_at) VALUES (?, ?, ?)').run('s1', silenceBody('s1'), T0 + 10 * 86_400_000);
  db.close();
}

describe('state.db: schema version and migrations', () => {
  it('brings a state.db written before versions were kept to the current version, keeping every row', () => {
    const dir = tempDir();
    writeUnversioned(dir);
    const db = openStateDb(dir);
    assert.equal(stateSchemaVersion(db), STATE_SCHEMA_VERSION);
    const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).pluck(true).all() as string[];
    assert.ok(!tables.includes('outbox') && !tables.includes('posted_alerts'), `dpmon 0.1's tables are gone: ${tables.join(', ')}`);

    const outbox = createOutbox(db);
    const rows = outbox.list();
    assert.deepEqual(rows.map((r) => [r.id, r.state, r.attempts]).sort(), [['n0:slack', 'sent', 1], ['n1:webhook', 'pending', 2]]);
    assert.deepEqual(outbox.due('webhook', T0 + 5000).map((r) => r.notification.id), ['n1'], 'the pending notification is still due');
    assert.deepEqual([...createPostedAlertLog(db).load().keys()], ['p1']);
    assert.equal(openAlertStore(db).load().get('disk/disk_space')?.get('a1')?.value, 93);
    const silences = openSilenceStore(db, { clock: createManualClock(T0 + 1000) });
    assert.deepEqual(silences.mutes({ instance: 'pg1' }), ['s1']);
    assert.deepEqual(badRowsOf(db), []);
    db.close();
  });

  it('records the version in meta, and reopening migrates nothing again', () => {
    const dir = tempDir();
    const db = openStateDb(dir);
    createOutbox(db).enqueue(note('n2'), ['webhook'], T0);
    db.close();
    const raw = new Database(join(dir, 'state.db'), { readonly: true });
    assert.equal(raw.prepare(`SELECT value FROM meta WHERE key = 'schema_version'`).pluck(true).get(), String(STATE_SCHEMA_VERSION));
    raw.close();
    const again = openStateDb(dir);
    assert.equal(stateSchemaVersion(again), STATE_SCHEMA_VERSION);
    assert.deepEqual(createOutbox(again).list().map((r) => r.id), ['n2:webhook']);
    again.close();
  });

  it('refuses a state.db written by a newer dpmon, naming the file and both versions', () => {
    const dir = tempDir();
    openStateDb(dir).close();
    const raw = new Database(join(dir, 'state.db'));
    raw.prepare(`UPDATE meta SET value = ? WHERE key = 'schema_version'`).run(String(STATE_SCHEMA_VERSION + 1));
    raw.close();
    assert.throws(
      () => openStateDb(dir),
      (err: unknown) =>
        err instanceof StateDbError &&
        err.code === 'STATE_VERSION' &&
        err.message.includes(join(dir, 'state.db')) &&
        err.message.includes(`schema version ${STATE_SCHEMA_VERSION + 1}, newer than this dpmon knows (${STATE_SCHEMA_VERSION})`),
    );
  });
});

describe('state.db: a row that cannot be read', () => {
  /** a state.db whose stores each hold one good row and one corrupted one, reopened with a reporter */
  function corrupted() {
    const dir = tempDir();
    const first = openStateDb(dir);
    const alerts = openAlertStore(first);
    alerts.save([{ rule: 'disk/disk_space', upsert: [instance('good'), instance('bad')], remove: [] }]);
    first.prepare('INSERT INTO silences (id, body, expires_at) VALUES (?, ?, ?)').run('s-good', silenceBody('s-good'), T0 + 10 * 86_400_000);
    first.prepare('INSERT INTO silences (id, body, expires_at) VALUES (?, ?, ?)').run('s-bad', JSON.stringify({ id: 's-bad', matchers: 'instance=pg1' }), T0 + 10 * 86_400_000);
    const outbox = createOutbox(first);
    outbox.enqueue(note('n-good', 'g1'), ['webhook'], T0);
    outbox.enqueue(note('n-bad', 'g2'), ['webhook'], T0);
    createAuditLog(first).append({ at: T0, kind: 'remediation.executed', actor: 'dpmon', details: { action: 'kill_query' } });
    // a disk fault or a hand edit: JSON cut short, and a body of the wrong shape
    first.prepare(`UPDATE alert_instances SET body = substr(body, 1, 20) WHERE fingerprint = 'bad'`).run();
    first.prepare(`UPDATE outbox_notifications SET body = '{"id": "n-bad"}' WHERE id = 'n-bad'`).run();
    first.close();
    const reported: BadStateRow[] = [];
    const db = openStateDb(dir, { onBadRow: (bad) => reported.push(bad) });
    return { db, reported };
  }

  it('is reported with its table, key and what is wrong, and the other rows of its table load', () => {
    const { db, reported } = corrupted();
    const loaded = openAlertStore(db).load().get('disk/disk_space')!;
    assert.deepEqual([...loaded.keys()], ['good']);
    const silences = openSilenceStore(db, { clock: createManualClock(T0 + 1000) });
    assert.deepEqual(silences.list().map((s) => s.id), ['s-good']);
    assert.deepEqual(
      reported.map((r) => [r.table, r.key]),
      [
        ['alert_instances', 'disk/disk_space/bad'],
        ['silences', 's-bad'],
      ],
    );
    assert.match(reported[0]!.problem, /^not JSON: /);
    assert.match(reported[1]!.problem, /matchers/, 'names the field that is wrong');
    db.close();
  });

  it('in the outbox: the bad notification ends as failed, saying why, and the good one is sent', () => {
    const { db, reported } = corrupted();
    const outbox = createOutbox(db);
    const due = outbox.due('webhook', T0 + 1000);
    assert.deepEqual(due.map((r) => r.notification.id), ['n-good']);
    assert.deepEqual(reported.map((r) => [r.table, r.key]), [['outbox_notifications', 'n-bad']]);
    assert.match(reported[0]!.problem, /receiver/);
    outbox.markSent('n-good:webhook', T0 + 1000);
    const failed = db.prepare(`SELECT state, last_error FROM outbox_queue WHERE id = 'n-bad:webhook'`).get() as { state: string; last_error: string };
    assert.equal(failed.state, 'failed');
    assert.match(failed.last_error, /stored notification is unreadable/);
    assert.equal(outbox.due('webhook', T0 + 2000).length, 0, 'never tried again');
    db.close();
  });

  it('is reported once, however often its store reads it', () => {
    const { db, reported } = corrupted();
    const alerts = openAlertStore(db);
    alerts.load();
    alerts.load();
    assert.deepEqual(reported.map((r) => r.key), ['disk/disk_space/bad']);
    assert.equal(badRowsOf(db).length, 1);
    db.close();
  });

  it('stays in the file for a person to look at', () => {
    const { db } = corrupted();
    openAlertStore(db).load();
    assert.equal(db.prepare(`SELECT count(*) FROM alert_instances`).pluck(true).get(), 2);
    db.close();
  });
});

// state.db: dpmon's durable state in one SQLite file (WAL) and one connection shared by its stores:
// alert instances, silences, the outbox, escalations, dispatch groups and their pages, posted alerts,
// remediation guards, approvals and runs, and the audit log (its events, hash chain and sources' positions). This module owns its schema: a version in
// `meta` (as history.db keeps one) and the migrations that bring any older file up to it, in order, each
// in one transaction. Stores read their JSON rows through readStored(), which validates them (zod): a bad
// row is skipped, reported with its table and key (logged and counted by the app), and left in the file
// for a person to look at; every other row loads. A file from a newer dpmon is refused, not guessed at.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { z } from 'zod';
import { DpmonError } from '../lib/errors.ts';

/** the schema version this dpmon writes */
export const STATE_SCHEMA_VERSION = 2;

/** the tables whose rows hold JSON read through readStored(), each counted in dpmon_state_bad_rows_total */
export const STATE_JSON_TABLES = [
  'alert_instances',
  'silences',
  'outbox_notifications',
  'escalations',
  'dispatch_groups',
  'dispatch_group_pages',
  'posted_alerts_log',
  'audit_events',
  'remediation_state',
  'remediation_approvals',
] as const;
export type StateJsonTable = (typeof STATE_JSON_TABLES)[number];

interface Migration {
  readonly version: number;
  readonly what: string;
  up(db: Database.Database): void;
}

const has = (db: Database.Database, table: string) => db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(table) !== undefined;

/** rows of dpmon 0.1's posted_alerts per snapshot entry of the log that replaced it */
const SNAPSHOT_CHUNK = 1000;

/**
 * In order. Version 0 is every state.db written before the version was kept: each store then created
 * its own tables as it opened, so any subset may exist; migration 1 makes them all (IF NOT EXISTS).
 */
const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    what: "every store's tables; dpmon 0.1's outbox and posted_alerts moved to the tables that replaced them",
    up(db) {
      db.exec(`CREATE TABLE IF NOT EXISTS alert_instances (
        rule TEXT NOT NULL, fingerprint TEXT NOT NULL, body TEXT NOT NULL,
        PRIMARY KEY (rule, fingerprint)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS silences (
        id TEXT PRIMARY KEY, body TEXT NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS silences_expires_at ON silences (expires_at);
      CREATE TABLE IF NOT EXISTS outbox_notifications (
        id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS outbox_queue (
        id TEXT PRIMARY KEY, notification_id TEXT NOT NULL, channel TEXT NOT NULL, receiver TEXT NOT NULL,
        group_key TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL, next_attempt_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL, sent_at INTEGER, last_error TEXT);
      CREATE INDEX IF NOT EXISTS outbox_queue_notification ON outbox_queue (notification_id);
      CREATE TABLE IF NOT EXISTS escalations (incident_id TEXT PRIMARY KEY, active INTEGER NOT NULL, next_at INTEGER NOT NULL, body TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS dispatch_groups (group_key TEXT PRIMARY KEY, body TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS dispatch_group_pages (group_key TEXT PRIMARY KEY, body TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS posted_alerts_log (seq INTEGER PRIMARY KEY, body TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS audit_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, kind TEXT NOT NULL, actor TEXT NOT NULL,
        target TEXT, subject TEXT, details TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS audit_events_at ON audit_events (at);
      CREATE TABLE IF NOT EXISTS remediation_state (key TEXT PRIMARY KEY, body TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS remediation_approvals (id TEXT PRIMARY KEY, body TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS remediation_runs (target TEXT NOT NULL, at INTEGER NOT NULL);`);
      // dpmon 0.1 kept the body in every queue row of a table `outbox`: moved over, in order
      if (has(db, 'outbox')) {
        db.exec(`INSERT OR IGNORE INTO outbox_notifications (id, body, created_at)
          SELECT substr(id, 1, length(id) - length(channel) - 1), body, created_at FROM outbox ORDER BY rowid;
        INSERT OR IGNORE INTO outbox_queue (id, notification_id, channel, receiver, group_key, state, attempts, next_attempt_at, created_at, sent_at, last_error)
          SELECT id, substr(id, 1, length(id) - length(channel) - 1), channel, receiver, coalesce(json_extract(body, '$.groupKey'), ''), state, attempts, next_attempt_at, created_at, sent_at, last_error FROM outbox ORDER BY rowid;
        DROP TABLE outbox;`);
      }
      // dpmon 0.1 kept a row per posted alert in `posted_alerts`: moved into the log as one snapshot
      // (a row that is not JSON would spoil its whole chunk: it is left out, as loading skips it)
      if (has(db, 'posted_alerts')) {
        const bodies = db.prepare('SELECT body FROM posted_alerts WHERE json_valid(body) ORDER BY rowid').pluck(true).all() as string[];
        const insert = db.prepare('INSERT INTO posted_alerts_log (body) VALUES (?)');
        for (let i = 0; i < bodies.length; i += SNAPSHOT_CHUNK) insert.run(`{"set":[${bodies.slice(i, i + SNAPSHOT_CHUNK).join(',')}],"deleted":[]}`);
        db.exec('DROP TABLE posted_alerts');
      }
    },
  },
  {
    version: 2,
    what: "the audit trail: the event's database, client, outcome, raw line and level, its hash chain, and the sources' read positions",
    up(db) {
      // prev_hash and hash stay NULL on rows written before: the audit log chains them, in id order, when it opens
      db.exec(`ALTER TABLE audit_events ADD COLUMN database TEXT;
      ALTER TABLE audit_events ADD COLUMN client TEXT;
      ALTER TABLE audit_events ADD COLUMN outcome TEXT;
      ALTER TABLE audit_events ADD COLUMN raw TEXT;
      ALTER TABLE audit_events ADD COLUMN level TEXT;
      ALTER TABLE audit_events ADD COLUMN prev_hash TEXT;
      ALTER TABLE audit_events ADD COLUMN hash TEXT;
      CREATE TABLE IF NOT EXISTS audit_chain (
        id INTEGER PRIMARY KEY CHECK (id = 1), anchor_id INTEGER NOT NULL, anchor_hash TEXT NOT NULL,
        head_id INTEGER NOT NULL, head_hash TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS audit_positions (source TEXT PRIMARY KEY, position TEXT NOT NULL, updated_at INTEGER NOT NULL) WITHOUT ROWID;`);
    },
  },
];

export type StateDbErrorCode = 'STATE_OPEN' | 'STATE_VERSION';

/** STATE_OPEN: cannot open, read or migrate the file; STATE_VERSION: written by a newer dpmon (docs/errors.md) */
export class StateDbError extends DpmonError<StateDbErrorCode> {
  override readonly name = 'StateDbError';
}

/** connections already brought to STATE_SCHEMA_VERSION: every store calls migrateStateDb, one checks */
const current = new WeakSet<Database.Database>();

/** The version a state.db records; 0 for one written before versions were kept. */
export function stateSchemaVersion(db: Database.Database): number {
  if (!has(db, 'meta')) return 0;
  const v = db.prepare(`SELECT value FROM meta WHERE key = 'schema_version'`).pluck(true).get() as string | undefined;
  return v === undefined ? 0 : Number(v);
}

/**
 * Brings an open state.db to STATE_SCHEMA_VERSION (each migration and its version in one transaction);
 * a no-op once done on this connection. Every store calls it, so a store opened on its own
 * (tests, tools) gets the same schema as the app's shared connection.
 */
export function migrateStateDb(db: Database.Database, path = db.name): number {
  if (current.has(db)) return STATE_SCHEMA_VERSION;
  const found = stateSchemaVersion(db);
  if (!Number.isInteger(found) || found > STATE_SCHEMA_VERSION) {
    throw new StateDbError(
      'STATE_VERSION',
      `${path} has schema version ${String(found)}, newer than this dpmon knows (${STATE_SCHEMA_VERSION}): it was written by a later dpmon; run that version, or move the file aside to start with empty state`,
    );
  }
  for (const m of MIGRATIONS) {
    if (m.version <= found) continue;
    try {
      db.transaction(() => {
        m.up(db);
        db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
        db.prepare(`INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)`).run(String(m.version));
      })();
    } catch (err) {
      throw new StateDbError('STATE_OPEN', `cannot migrate ${path} to schema version ${m.version} (${m.what}): ${(err as Error).message}`, { cause: err });
    }
  }
  current.add(db);
  return STATE_SCHEMA_VERSION;
}

/** A stored row that could not be read: not JSON, or not the shape its store writes. */
export interface BadStateRow {
  readonly table: StateJsonTable;
  /** the row's key (id, rule/fingerprint, sequence number) */
  readonly key: string;
  readonly problem: string;
}

export interface StateDbOptions {
  /** each bad row met while reading (the app logs it and counts dpmon_state_bad_rows_total) */
  readonly onBadRow?: (bad: BadStateRow) => void;
}

/** per connection: who hears of bad rows, the last ones met (tests and tools read them), and every one reported */
interface Reporting {
  onBadRow?: (bad: BadStateRow) => void;
  seen: BadStateRow[];
  /** table, key and problem of each row reported: a row read again (every tick, every list) is reported once */
  reported: Set<string>;
}
const reporting = new WeakMap<Database.Database, Reporting>();

/** Sets who hears of the bad rows read through this connection. */
export function reportBadRows(db: Database.Database, onBadRow: (bad: BadStateRow) => void): void {
  const r = reporting.get(db);
  if (r) r.onBadRow = onBadRow;
  else reporting.set(db, { onBadRow, seen: [], reported: new Set() });
}

/** the bad rows read through this connection so far (the last 100) */
export function badRowsOf(db: Database.Database): readonly BadStateRow[] {
  return reporting.get(db)?.seen ?? [];
}

/**
 * A stored JSON body, validated: the value, or undefined after reporting the row (the caller skips it).
 * The schemas check what the code reads back; values only passed on (an alert's annotations) are
 * checked for their kind.
 */
export function readStored<S extends z.ZodType>(db: Database.Database, schema: S, table: StateJsonTable, key: string, body: unknown): z.output<S> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(String(body));
  } catch (err) {
    report(db, { table, key, problem: `not JSON: ${(err as Error).message}` });
    return undefined;
  }
  return readStoredValue(db, schema, table, key, value);
}

/** A value already read from JSON (one alert of a log entry), validated as readStored() does. */
export function readStoredValue<S extends z.ZodType>(db: Database.Database, schema: S, table: StateJsonTable, key: string, value: unknown): z.output<S> | undefined {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  report(db, { table, key, problem: z.prettifyError(r.error).replace(/\s*\n\s*/g, '; ') });
  return undefined;
}

function report(db: Database.Database, bad: BadStateRow): void {
  let r = reporting.get(db);
  if (!r) reporting.set(db, (r = { seen: [], reported: new Set() }));
  const id = `${bad.table}\0${bad.key}\0${bad.problem}`;
  if (r.reported.has(id)) return;
  r.reported.add(id);
  r.seen.push(bad);
  if (r.seen.length > 100) r.seen.shift();
  r.onBadRow?.(bad);
}

/** Opens `<dataDir>/state.db` (WAL, synchronous=NORMAL) and brings it to the current schema version. */
export function openStateDb(dataDir: string, opts: StateDbOptions = {}): Database.Database {
  const path = join(dataDir, 'state.db');
  let db: Database.Database | undefined;
  try {
    mkdirSync(dataDir, { recursive: true });
    db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
  } catch (err) {
    db?.close();
    throw new StateDbError('STATE_OPEN', `cannot open state ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (opts.onBadRow) reportBadRows(db, opts.onBadRow);
  try {
    migrateStateDb(db, path);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

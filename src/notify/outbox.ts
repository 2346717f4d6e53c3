// The persistent outbox: every notification is written to `<dataDir>/state.db` before it is sent, one
// row per channel, and deleted from the queue only when the receiver accepted it or refused it for
// good (4xx, recorded). Retries back off exponentially with jitter. Rows that were being sent when
// dpmon died are sent again at the next start (PagerDuty's dedup_key makes that harmless for pages).
// Sent and failed rows stay for `keepMs` as the notification log (the API and dedup read it).
// A notification's body is stored once, beside its small per-channel queue rows: a group of a hundred
// alerts is tens of kB, and SQLite rewrites a whole row on every update of its state.
import type Database from 'better-sqlite3';
import type { ChannelType, Notification } from './types.ts';

export type OutboxState = 'pending' | 'sent' | 'failed';

export interface OutboxRow {
  readonly id: string;
  readonly channel: ChannelType;
  readonly receiver: string;
  readonly notification: Notification;
  readonly state: OutboxState;
  readonly attempts: number;
  readonly nextAttemptAt: number;
  readonly createdAt: number;
  readonly sentAt?: number;
  readonly lastError?: string;
}

export interface Outbox {
  /** writes one row per channel; a row id already present is left as it is (idempotent) */
  enqueue(n: Notification, channels: readonly ChannelType[], now: number): void;
  /** the oldest pending row of each receiver and group of a channel, when due at `now`, oldest first */
  due(channel: ChannelType, now: number, limit?: number): OutboxRow[];
  /** the earliest next attempt among those oldest pending rows, leaving out the rows in `busy` (being sent) */
  nextDue(channel: ChannelType, busy?: ReadonlySet<string>): number | undefined;
  markSent(id: string, now: number): void;
  markRetry(id: string, nextAttemptAt: number, error: string): void;
  markFailed(id: string, now: number, error: string): void;
  /** rows by state, newest first (the notification log) */
  list(opts?: { state?: OutboxState; limit?: number }): OutboxRow[];
  /** deletes sent and failed rows older than keepMs */
  prune(now: number, keepMs: number): void;
}

const SCHEMA = `CREATE TABLE IF NOT EXISTS outbox_notifications (
  id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outbox_queue (
  id TEXT PRIMARY KEY, notification_id TEXT NOT NULL, channel TEXT NOT NULL, receiver TEXT NOT NULL,
  group_key TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL, next_attempt_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL, sent_at INTEGER, last_error TEXT);
CREATE INDEX IF NOT EXISTS outbox_queue_pending ON outbox_queue (channel, receiver, group_key) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS outbox_queue_notification ON outbox_queue (notification_id);`;

/** state.db files of dpmon 0.1 kept the body in every queue row of a table `outbox`: moved over, in order */
const MIGRATE_V1 = `INSERT OR IGNORE INTO outbox_notifications (id, body, created_at)
  SELECT substr(id, 1, length(id) - length(channel) - 1), body, created_at FROM outbox ORDER BY rowid;
INSERT OR IGNORE INTO outbox_queue (id, notification_id, channel, receiver, group_key, state, attempts, next_attempt_at, created_at, sent_at, last_error)
  SELECT id, substr(id, 1, length(id) - length(channel) - 1), channel, receiver, coalesce(json_extract(body, '$.groupKey'), ''), state, attempts, next_attempt_at, created_at, sent_at, last_error FROM outbox ORDER BY rowid;
DROP TABLE outbox;`;

interface Row {
  id: string;
  channel: ChannelType;
  receiver: string;
  /** absent when the query left it out (the notification is in memory) */
  body?: string;
  state: OutboxState;
  attempts: number;
  next_attempt_at: number;
  created_at: number;
  sent_at: number | null;
  last_error: string | null;
}

const toRow = (r: Row, notification: Notification = JSON.parse(r.body!) as Notification): OutboxRow => ({
  id: r.id,
  channel: r.channel,
  receiver: r.receiver,
  notification,
  state: r.state,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  createdAt: r.created_at,
  ...(r.sent_at !== null ? { sentAt: r.sent_at } : {}),
  ...(r.last_error !== null ? { lastError: r.last_error } : {}),
});

const COLUMNS = 'q.id, q.channel, q.receiver, q.state, q.attempts, q.next_attempt_at, q.created_at, q.sent_at, q.last_error';

export function createOutbox(db: Database.Database): Outbox {
  db.transaction(() => {
    db.exec(SCHEMA);
    if (db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'outbox'`).get()) db.exec(MIGRATE_V1);
  })();
  const insertNotification = db.prepare(`INSERT OR IGNORE INTO outbox_notifications (id, body, created_at) VALUES (?, ?, ?)`);
  const insert = db.prepare(
    `INSERT OR IGNORE INTO outbox_queue (id, notification_id, channel, receiver, group_key, state, attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)`,
  );
  // first in, first out per receiver, channel and aggregation group (Alertmanager orders per group too):
  // only the oldest pending row of each is eligible, so a receiver gets a group's firing before its
  // resolved even after an outage, one dead receiver blocks only itself, and groups go out side by side
  // (the partial index holds the pending rows alone: the sent ones kept as the log cost nothing here)
  const HEADS = `FROM outbox_queue q WHERE q.channel = ? AND q.state = 'pending' AND NOT EXISTS (
    SELECT 1 FROM outbox_queue p WHERE p.channel = q.channel AND p.receiver = q.receiver AND p.group_key = q.group_key
      AND p.state = 'pending' AND p.rowid < q.rowid)`;
  const due = db.prepare(`SELECT ${COLUMNS}, q.notification_id ${HEADS} AND q.next_attempt_at <= ? ORDER BY q.rowid LIMIT ?`);
  const bodyOf = db.prepare('SELECT body FROM outbox_notifications WHERE id = ?').pluck(true);
  // the pending notifications enqueued by this process, so sending one does not read and parse it back;
  // rows left by an earlier process are read from disk
  const pendingBodies = new Map<string, Notification>();
  const settled = (id: string) => void pendingBodies.delete(id);
  const nextDue = db.prepare(`SELECT min(q.next_attempt_at) ${HEADS}`).pluck(true);
  const nextDueRows = db.prepare(`SELECT q.id, q.next_attempt_at ${HEADS} ORDER BY q.next_attempt_at LIMIT ?`);
  const sent = db.prepare(`UPDATE outbox_queue SET state = 'sent', attempts = attempts + 1, sent_at = ?, last_error = NULL WHERE id = ?`);
  const retry = db.prepare(`UPDATE outbox_queue SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?`);
  const failed = db.prepare(`UPDATE outbox_queue SET state = 'failed', attempts = attempts + 1, sent_at = ?, last_error = ? WHERE id = ?`);
  const pruneRows = db.prepare(`DELETE FROM outbox_queue WHERE state <> 'pending' AND created_at < ?`);
  const pruneBodies = db.prepare(
    `DELETE FROM outbox_notifications WHERE created_at < ? AND NOT EXISTS (SELECT 1 FROM outbox_queue q WHERE q.notification_id = outbox_notifications.id)`,
  );
  const enqueueTx = db.transaction((n: Notification, channels: readonly ChannelType[], now: number) => {
    insertNotification.run(n.id, JSON.stringify(n), now);
    const added: string[] = [];
    for (const ch of channels) if (insert.run(`${n.id}:${ch}`, n.id, ch, n.receiver, n.groupKey, now, now).changes) added.push(`${n.id}:${ch}`);
    return added;
  });
  const pruneTx = db.transaction((before: number) => {
    pruneRows.run(before);
    pruneBodies.run(before);
  });
  const listed = (sql: string, ...args: unknown[]) =>
    (db.prepare(`SELECT ${COLUMNS}, n.body FROM outbox_queue q JOIN outbox_notifications n ON n.id = q.notification_id ${sql}`).all(...args) as Row[]).map((r) => toRow(r));
  return {
    enqueue(n, channels, now) {
      if (channels.length === 0) return;
      for (const id of enqueueTx(n, channels, now)) pendingBodies.set(id, n);
    },
    due: (channel, now, limit = 100) =>
      (due.all(channel, now, limit) as (Row & { notification_id: string })[]).map((r) =>
        toRow(r, pendingBodies.get(r.id) ?? (JSON.parse(bodyOf.get(r.notification_id) as string) as Notification)),
      ),
    nextDue(channel, busy) {
      if (!busy?.size) return (nextDue.get(channel) as number | null) ?? undefined;
      const heads = nextDueRows.all(channel, busy.size + 1) as { id: string; next_attempt_at: number }[];
      return heads.find((h) => !busy.has(h.id))?.next_attempt_at;
    },
    markSent: (id, now) => void (sent.run(now, id), settled(id)),
    markRetry: (id, at, error) => void retry.run(at, error, id),
    markFailed: (id, now, error) => void (failed.run(now, error, id), settled(id)),
    list: (opts = {}) =>
      opts.state
        ? listed('WHERE q.state = ? ORDER BY q.created_at DESC, q.rowid DESC LIMIT ?', opts.state, opts.limit ?? 100)
        : listed('ORDER BY q.created_at DESC, q.rowid DESC LIMIT ?', opts.limit ?? 100),
    prune: (now, keepMs) => void pruneTx(now - keepMs),
  };
}

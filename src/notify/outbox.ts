// The persistent outbox: every notification is written to `<dataDir>/state.db` before it is sent, one
// row per channel, and deleted from the queue only when the receiver accepted it or refused it for
// good (4xx, recorded). Retries back off exponentially with jitter. Rows that were being sent when
// dpmon died are sent again at the next start (PagerDuty's dedup_key makes that harmless for pages).
// Sent and failed rows stay for `keepMs` as the notification log (the API and dedup read it).
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
  /** the oldest pending row of each receiver of a channel, when due at `now` */
  due(channel: ChannelType, now: number, limit?: number): OutboxRow[];
  /** the earliest next attempt among those oldest pending rows */
  nextDue(channel: ChannelType): number | undefined;
  markSent(id: string, now: number): void;
  markRetry(id: string, nextAttemptAt: number, error: string): void;
  markFailed(id: string, now: number, error: string): void;
  /** rows by state, newest first (the notification log) */
  list(opts?: { state?: OutboxState; limit?: number }): OutboxRow[];
  /** deletes sent and failed rows older than keepMs */
  prune(now: number, keepMs: number): void;
}

const SCHEMA = `CREATE TABLE IF NOT EXISTS outbox (
  id TEXT PRIMARY KEY, channel TEXT NOT NULL, receiver TEXT NOT NULL, body TEXT NOT NULL,
  state TEXT NOT NULL, attempts INTEGER NOT NULL, next_attempt_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL, sent_at INTEGER, last_error TEXT);
CREATE INDEX IF NOT EXISTS outbox_heads ON outbox (channel, receiver, state);`;

interface Row {
  id: string;
  channel: ChannelType;
  receiver: string;
  body: string;
  state: OutboxState;
  attempts: number;
  next_attempt_at: number;
  created_at: number;
  sent_at: number | null;
  last_error: string | null;
}

const toRow = (r: Row): OutboxRow => ({
  id: r.id,
  channel: r.channel,
  receiver: r.receiver,
  notification: JSON.parse(r.body) as Notification,
  state: r.state,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  createdAt: r.created_at,
  ...(r.sent_at !== null ? { sentAt: r.sent_at } : {}),
  ...(r.last_error !== null ? { lastError: r.last_error } : {}),
});

export function createOutbox(db: Database.Database): Outbox {
  db.exec(SCHEMA);
  const insert = db.prepare(
    `INSERT OR IGNORE INTO outbox (id, channel, receiver, body, state, attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)`,
  );
  // first in, first out per receiver and channel: only the oldest pending row of each is eligible, so a
  // receiver gets firing before resolved even after an outage, and one dead receiver blocks only itself
  const HEADS = `FROM outbox o WHERE o.channel = ? AND o.state = 'pending' AND NOT EXISTS (
    SELECT 1 FROM outbox p WHERE p.channel = o.channel AND p.receiver = o.receiver AND p.state = 'pending' AND p.rowid < o.rowid)`;
  const due = db.prepare(`SELECT o.* ${HEADS} AND o.next_attempt_at <= ? ORDER BY o.rowid LIMIT ?`);
  const nextDue = db.prepare(`SELECT min(o.next_attempt_at) ${HEADS}`).pluck(true);
  const sent = db.prepare(`UPDATE outbox SET state = 'sent', attempts = attempts + 1, sent_at = ?, last_error = NULL WHERE id = ?`);
  const retry = db.prepare(`UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?`);
  const failed = db.prepare(`UPDATE outbox SET state = 'failed', attempts = attempts + 1, sent_at = ?, last_error = ? WHERE id = ?`);
  const prune = db.prepare(`DELETE FROM outbox WHERE state <> 'pending' AND created_at < ?`);
  const enqueueTx = db.transaction((n: Notification, channels: readonly ChannelType[], now: number) => {
    const body = JSON.stringify(n);
    for (const ch of channels) insert.run(`${n.id}:${ch}`, ch, n.receiver, body, now, now);
  });
  return {
    enqueue: (n, channels, now) => enqueueTx(n, channels, now),
    due: (channel, now, limit = 100) => (due.all(channel, now, limit) as Row[]).map(toRow),
    nextDue: (channel) => (nextDue.get(channel) as number | null) ?? undefined,
    markSent: (id, now) => void sent.run(now, id),
    markRetry: (id, at, error) => void retry.run(at, error, id),
    markFailed: (id, now, error) => void failed.run(now, error, id),
    list(opts = {}) {
      const rows = opts.state
        ? db.prepare('SELECT * FROM outbox WHERE state = ? ORDER BY created_at DESC LIMIT ?').all(opts.state, opts.limit ?? 100)
        : db.prepare('SELECT * FROM outbox ORDER BY created_at DESC LIMIT ?').all(opts.limit ?? 100);
      return (rows as Row[]).map(toRow);
    },
    prune: (now, keepMs) => void prune.run(now - keepMs),
  };
}

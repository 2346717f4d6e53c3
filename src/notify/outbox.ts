// The persistent outbox: every notification is written to `<dataDir>/state.db` before it is sent, one
// row per channel, and deleted from the queue only when the receiver accepted it or refused it for
// good (4xx, recorded). Retries back off exponentially with jitter. Rows that were being sent when
// dpmon died are sent again at the next start (PagerDuty's dedup_key makes that harmless for pages).
// Sent and failed rows stay for `keepMs` as the notification log (the API and dedup read it).
// A notification's body is stored once, beside its small per-channel queue rows: a group of a hundred
// alerts is tens of kB, and SQLite rewrites a whole row on every update of its state.
import type Database from 'better-sqlite3';
import type { ChannelType, Notification } from '../model/notification.ts';
import { migrateStateDb, readStored } from '../store/state-db.ts';
import { StoredNotification } from './stored.ts';

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
  /**
   * The oldest pending row of each receiver and group of a channel, when due at `now`, oldest first.
   * A receiver the `gate` names (one that is down) has at most one of them returned, not before the time
   * the gate gives (Infinity: not now): the one that has waited longest since its own last attempt, so
   * a group its receiver keeps refusing does not stand in the way of the others.
   */
  due(channel: ChannelType, now: number, limit?: number, gate?: Gate): OutboxRow[];
  /** the earliest next attempt among those oldest pending rows, leaving out the rows in `busy` (being sent) */
  nextDue(channel: ChannelType, busy?: ReadonlySet<string>, gate?: Gate): number | undefined;
  markSent(id: string, now: number): void;
  markRetry(id: string, nextAttemptAt: number, error: string): void;
  /** puts a pending row off until `at`, in memory only: the write that would record its outcome failed */
  postpone(id: string, at: number): void;
  markFailed(id: string, now: number, error: string): void;
  /** rows by state, newest first (the notification log) */
  list(opts?: { state?: OutboxState; limit?: number }): OutboxRow[];
  /** deletes sent and failed rows older than keepMs */
  prune(now: number, keepMs: number): void;
}

/** receiver → the earliest time its next row may go, one row at a time (Infinity: not now); undefined: not gated */
export type Gate = (receiver: string) => number | undefined;

interface Row {
  id: string;
  notification_id: string;
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

const toRow = (r: Row, notification: Notification): OutboxRow => ({
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

const COLUMNS = 'q.id, q.notification_id, q.channel, q.receiver, q.state, q.attempts, q.next_attempt_at, q.created_at, q.sent_at, q.last_error';

export function createOutbox(db: Database.Database): Outbox {
  // the tables, and dpmon 0.1's `outbox` moved into them, are state.db's migrations
  migrateStateDb(db);
  /** a stored body, validated; undefined (reported) when unreadable */
  const notificationOf = (id: string, body: unknown) => readStored(db, StoredNotification, 'outbox_notifications', id, body) as Notification | undefined;
  const insertNotification = db.prepare(`INSERT OR IGNORE INTO outbox_notifications (id, body, created_at) VALUES (?, ?, ?)`);
  const insert = db.prepare(
    `INSERT OR IGNORE INTO outbox_queue (id, notification_id, channel, receiver, group_key, state, attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)`,
  );
  const bodyOf = db.prepare('SELECT body FROM outbox_notifications WHERE id = ?').pluck(true);

  // The pending rows are also kept in memory, without their bodies unless this process enqueued them:
  // the delivery loops ask for due rows after every enqueue and every send, and answering from memory
  // costs nothing where two queries each time cost a third of a busy pipeline's delivery work. state.db
  // stays the durable copy; memory changes only after the write that it mirrors has succeeded.
  // First in, first out per receiver, channel and aggregation group (Alertmanager orders per group too):
  // only the oldest pending row of each is eligible, so a receiver gets a group's firing before its
  // resolved even after an outage, one dead receiver blocks only itself, and groups go out side by side.
  interface Pending {
    readonly id: string;
    readonly notificationId: string;
    readonly channel: ChannelType;
    readonly receiver: string;
    readonly queue: string;
    readonly seq: number;
    readonly createdAt: number;
    attempts: number;
    nextAttemptAt: number;
    lastError?: string;
    notification?: Notification;
  }
  /** channel → receiver and group → its pending rows, oldest first */
  const queues = new Map<ChannelType, Map<string, Pending[]>>();
  const pending = new Map<string, Pending>();
  let seq = 0;
  type NewPending = Omit<Pending, 'seq' | 'queue'> & { groupKey: string };
  const hold = (p: NewPending) => {
    if (pending.has(p.id)) return;
    const { groupKey, notification, ...rest } = p;
    const queue = `${p.receiver}\u0000${groupKey}`;
    let byQueue = queues.get(p.channel);
    if (!byQueue) queues.set(p.channel, (byQueue = new Map()));
    const q = byQueue.get(queue);
    // only a queue's head keeps its body in memory (it is about to be sent); the rows behind it, which
    // pile up while a receiver is down, are read back from state.db when their turn comes
    const row: Pending = { ...rest, queue, seq: seq++, ...(!q && notification ? { notification } : {}) };
    if (q) q.push(row);
    else byQueue.set(queue, [row]);
    pending.set(row.id, row);
  };
  // A notification enqueued inside a caller's transaction (an escalation step and its page, written
  // together) is not in state.db until that transaction commits, and is gone if it rolls back: it is
  // mirrored once it is seen committed, at the outbox's next use.
  const unconfirmed: NewPending[] = [];
  const stateOf = db.prepare('SELECT state FROM outbox_queue WHERE id = ?').pluck(true);
  const confirm = () => {
    if (unconfirmed.length === 0 || db.inTransaction) return;
    for (const p of unconfirmed.splice(0)) if (stateOf.get(p.id) === 'pending') hold(p);
  };
  const settled = (id: string) => {
    const row = pending.get(id);
    if (!row) return;
    pending.delete(id);
    const byQueue = queues.get(row.channel)!;
    const q = byQueue.get(row.queue)!;
    q.splice(q.indexOf(row), 1);
    if (q.length === 0) byQueue.delete(row.queue);
  };
  const heads = (channel: ChannelType) => [...(queues.get(channel)?.values() ?? [])].map((q) => q[0]!);
  const readyAt = (p: Pending, gate: Gate | undefined) => Math.max(p.nextAttemptAt, gate?.(p.receiver) ?? -Infinity);
  /** undefined when the stored body is unreadable (reported) */
  const toOutboxRow = (p: Pending): OutboxRow | undefined => {
    p.notification ??= notificationOf(p.notificationId, bodyOf.get(p.notificationId));
    if (!p.notification) return undefined;
    return {
      id: p.id,
      channel: p.channel,
      receiver: p.receiver,
      notification: p.notification,
      state: 'pending',
      attempts: p.attempts,
      nextAttemptAt: p.nextAttemptAt,
      createdAt: p.createdAt,
      ...(p.lastError !== undefined ? { lastError: p.lastError } : {}),
    };
  };
  const loadPending = db.prepare(
    `SELECT id, notification_id, channel, receiver, group_key, attempts, next_attempt_at, created_at, last_error FROM outbox_queue WHERE state = 'pending' ORDER BY rowid`,
  );
  for (const r of loadPending.all() as (Omit<Row, 'body' | 'state' | 'sent_at'> & { notification_id: string; group_key: string })[]) {
    hold({ id: r.id, notificationId: r.notification_id, channel: r.channel, receiver: r.receiver, groupKey: r.group_key, attempts: r.attempts, nextAttemptAt: r.next_attempt_at, createdAt: r.created_at, ...(r.last_error !== null ? { lastError: r.last_error } : {}) });
  }
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
  const failedUnreadable = (id: string, now: number) => {
    failed.run(now, 'not sent: its stored notification is unreadable (see the log: state.db bad row)', id);
    settled(id);
  };
  const pruneTx = db.transaction((before: number) => {
    pruneRows.run(before);
    pruneBodies.run(before);
  });
  const listed = (sql: string, ...args: unknown[]) =>
    (db.prepare(`SELECT ${COLUMNS}, n.body FROM outbox_queue q JOIN outbox_notifications n ON n.id = q.notification_id ${sql}`).all(...args) as Row[]).flatMap((r) => {
      const n = notificationOf(r.notification_id, r.body);
      return n ? [toRow(r, n)] : [];
    });
  return {
    enqueue(n, channels, now) {
      confirm();
      const unique = [...new Set(channels)];
      if (unique.length === 0) return;
      // an id already present (enqueued before) is left as it is, in state.db and here
      const added = new Set(enqueueTx(n, unique, now));
      const inCallersTransaction = db.inTransaction;
      for (const ch of unique) {
        const id = `${n.id}:${ch}`;
        if (!added.has(id)) continue;
        const p: NewPending = { id, notificationId: n.id, channel: ch, receiver: n.receiver, groupKey: n.groupKey, attempts: 0, nextAttemptAt: now, createdAt: now, notification: n };
        if (inCallersTransaction) unconfirmed.push(p);
        else hold(p);
      }
    },
    due(channel, now, limit = 100, gate) {
      confirm();
      const ready: Pending[] = [];
      /** a gated receiver's one row */
      const probes = new Map<string, Pending>();
      for (const p of heads(channel)) {
        if (readyAt(p, gate) > now) continue;
        if (gate?.(p.receiver) === undefined) ready.push(p);
        else {
          const q = probes.get(p.receiver);
          if (!q || p.nextAttemptAt < q.nextAttemptAt || (p.nextAttemptAt === q.nextAttemptAt && p.seq < q.seq)) probes.set(p.receiver, p);
        }
      }
      ready.push(...probes.values());
      const rows: OutboxRow[] = [];
      for (const p of ready.sort((a, b) => a.seq - b.seq).slice(0, limit)) {
        const row = toOutboxRow(p);
        if (row) rows.push(row);
        // a body that cannot be read can never be sent: it ends as failed, saying why, and its group goes on
        else failedUnreadable(p.id, now);
      }
      return rows;
    },
    nextDue(channel, busy, gate) {
      confirm();
      let next: number | undefined;
      for (const p of heads(channel)) {
        if (busy?.has(p.id)) continue;
        const at = readyAt(p, gate);
        if (at !== Infinity && (next === undefined || at < next)) next = at;
      }
      return next;
    },
    markSent: (id, now) => void (sent.run(now, id), settled(id)),
    markRetry(id, at, error) {
      retry.run(at, error, id);
      const p = pending.get(id);
      if (p) Object.assign(p, { attempts: p.attempts + 1, nextAttemptAt: at, lastError: error });
    },
    markFailed: (id, now, error) => void (failed.run(now, error, id), settled(id)),
    postpone(id, at) {
      const p = pending.get(id);
      if (p) p.nextAttemptAt = Math.max(p.nextAttemptAt, at);
    },
    list: (opts = {}) =>
      opts.state
        ? listed('WHERE q.state = ? ORDER BY q.created_at DESC, q.rowid DESC LIMIT ?', opts.state, opts.limit ?? 100)
        : listed('ORDER BY q.created_at DESC, q.rowid DESC LIMIT ?', opts.limit ?? 100),
    prune: (now, keepMs) => void pruneTx(now - keepMs),
  };
}

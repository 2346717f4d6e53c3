// The audit log: an append-only table of events in state.db, written before the effect it records
// (a remediation's plan before its execution, its outcome right after). Remediation writes here now;
// the audit issue extends it with schema changes, permission changes and authentication failures.
import type Database from 'better-sqlite3';

export interface AuditEvent {
  readonly id: number;
  /** epoch ms */
  readonly at: number;
  /** dotted kind: remediation.planned, remediation.dry_run, remediation.executed, … */
  readonly kind: string;
  /** who or what caused it: `dpmon`, or the approver's name */
  readonly actor: string;
  readonly target?: string;
  readonly subject?: string;
  readonly details: Readonly<Record<string, unknown>>;
}

export interface AuditLog {
  append(e: Omit<AuditEvent, 'id'>): AuditEvent;
  list(opts?: { kindPrefix?: string; subject?: string; since?: number; limit?: number }): AuditEvent[];
  prune(before: number): void;
}

export function createAuditLog(db: Database.Database): AuditLog {
  db.exec(`CREATE TABLE IF NOT EXISTS audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, kind TEXT NOT NULL, actor TEXT NOT NULL,
    target TEXT, subject TEXT, details TEXT NOT NULL);
  CREATE INDEX IF NOT EXISTS audit_events_at ON audit_events (at);`);
  const insert = db.prepare('INSERT INTO audit_events (at, kind, actor, target, subject, details) VALUES (?, ?, ?, ?, ?, ?)');
  const prune = db.prepare('DELETE FROM audit_events WHERE at < ?');
  type Row = { id: number; at: number; kind: string; actor: string; target: string | null; subject: string | null; details: string };
  const toEvent = (r: Row): AuditEvent => ({
    id: r.id,
    at: r.at,
    kind: r.kind,
    actor: r.actor,
    ...(r.target !== null ? { target: r.target } : {}),
    ...(r.subject !== null ? { subject: r.subject } : {}),
    details: JSON.parse(r.details) as Record<string, unknown>,
  });
  return {
    append(e) {
      const r = insert.run(e.at, e.kind, e.actor, e.target ?? null, e.subject ?? null, JSON.stringify(e.details));
      return { ...e, id: Number(r.lastInsertRowid) };
    },
    list(opts = {}) {
      const where: string[] = [];
      const params: unknown[] = [];
      if (opts.kindPrefix) {
        // a prefix compare, not LIKE: kinds contain `_`, LIKE's wildcard
        where.push('substr(kind, 1, ?) = ?');
        params.push(opts.kindPrefix.length, opts.kindPrefix);
      }
      if (opts.subject) {
        where.push('subject = ?');
        params.push(opts.subject);
      }
      if (opts.since !== undefined) {
        where.push('at >= ?');
        params.push(opts.since);
      }
      const sql = `SELECT * FROM audit_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
      return (db.prepare(sql).all(...params, opts.limit ?? 200) as Row[]).map(toEvent);
    },
    prune: (before) => void prune.run(before),
  };
}

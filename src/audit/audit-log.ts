// The audit log: an append-only table of events in state.db, written before the effect it records
// (a remediation's plan before its execution, its outcome right after). Remediation writes here now;
// the audit issue extends it with schema changes, permission changes and authentication failures.
// An event whose write fails because the disk is full (or an I/O error) is held in memory, in order,
// and written before any later event as soon as a write succeeds again (docs/reliability.md).
import type Database from 'better-sqlite3';
import { z } from 'zod';
import { migrateStateDb, readStored } from '../store/state-db.ts';
import { isDiskError } from '../store/storage-health.ts';

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
  /** the database the event happened in (audit sources) */
  readonly database?: string;
  /** the client address (host or IP) the event came from */
  readonly client?: string;
  /** how it ended: an attempt that failed or was refused is a 'failure' or 'denied' */
  readonly outcome?: 'success' | 'failure' | 'denied';
  /** the source line or row as read (a log line, a DDL event row), for the auditor */
  readonly raw?: string;
  /** the spec's audit_config.log_level scale; events below the configured level are not kept */
  readonly level?: 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';
}

export interface AuditLog {
  /** records an event; when the disk refuses it, it is held (id 0) and written by a later append or retry() */
  append(e: Omit<AuditEvent, 'id'>): AuditEvent;
  /** newest first; events still held unwritten come first, with id 0 */
  list(opts?: { kindPrefix?: string; subject?: string; since?: number; limit?: number }): AuditEvent[];
  prune(before: number): void;
  /** writes the events held since a failed write, oldest first; returns how many are still held */
  retry(): number;
  /** held unwritten now, and dropped since start because more than maxUnwritten were held */
  backlog(): { unwritten: number; dropped: number };
}

export interface AuditLogOptions {
  /** each failed write, for dpmon_storage_write_errors_total{store="audit"} */
  readonly onWriteError?: (err: unknown) => void;
  /** events held in memory at most while the disk refuses them (default 10,000); past it the oldest go */
  readonly maxUnwritten?: number;
}

export const DEFAULT_MAX_UNWRITTEN_AUDIT_EVENTS = 10_000;

/** an event's details as stored: a JSON object */
const StoredDetails = z.record(z.string(), z.unknown());

export function createAuditLog(db: Database.Database, opts: AuditLogOptions = {}): AuditLog {
  const maxUnwritten = opts.maxUnwritten ?? DEFAULT_MAX_UNWRITTEN_AUDIT_EVENTS;
  migrateStateDb(db);
  const insert = db.prepare('INSERT INTO audit_events (at, kind, actor, target, subject, details) VALUES (?, ?, ?, ?, ?, ?)');
  const prune = db.prepare('DELETE FROM audit_events WHERE at < ?');
  type Row = { id: number; at: number; kind: string; actor: string; target: string | null; subject: string | null; details: string };
  /** undefined when the stored details are unreadable (reported, and the event passed over) */
  const toEvent = (r: Row): AuditEvent | undefined => {
    const details = readStored(db, StoredDetails, 'audit_events', String(r.id), r.details);
    if (!details) return undefined;
    return {
      id: r.id,
      at: r.at,
      kind: r.kind,
      actor: r.actor,
      ...(r.target !== null ? { target: r.target } : {}),
      ...(r.subject !== null ? { subject: r.subject } : {}),
      details,
    };
  };
  const write = (e: Omit<AuditEvent, 'id'>): AuditEvent => {
    const r = insert.run(e.at, e.kind, e.actor, e.target ?? null, e.subject ?? null, JSON.stringify(e.details));
    return { ...e, id: Number(r.lastInsertRowid) };
  };
  /** events the disk refused, oldest first: written before any newer one, so ids keep the order of events */
  const held: Omit<AuditEvent, 'id'>[] = [];
  let dropped = 0;
  const retry = (): number => {
    while (held.length) {
      try {
        write(held[0]!);
      } catch (err) {
        opts.onWriteError?.(err);
        if (isDiskError(err)) return held.length;
        // not the disk (a bug, a closed database): the event cannot be written, keeping it would block the rest
        held.shift();
        throw err;
      }
      held.shift();
    }
    return 0;
  };
  const hold = (e: Omit<AuditEvent, 'id'>): AuditEvent => {
    held.push(e);
    if (held.length > maxUnwritten) {
      held.shift();
      dropped++;
    }
    return { ...e, id: 0 };
  };
  return {
    append(e) {
      let waiting: number;
      try {
        waiting = retry();
      } catch {
        // an older held event could not be written (not the disk): this one is still written or held
        waiting = held.length;
      }
      if (waiting > 0) return hold(e);
      try {
        return write(e);
      } catch (err) {
        opts.onWriteError?.(err);
        if (!isDiskError(err)) throw err;
        return hold(e);
      }
    },
    retry,
    backlog: () => ({ unwritten: held.length, dropped }),
    list(opts = {}) {
      try {
        retry();
      } catch {
        // reported through onWriteError; the list is still answered
      }
      const limit = opts.limit ?? 200;
      const unwritten = held
        .filter((e) => (!opts.kindPrefix || e.kind.startsWith(opts.kindPrefix)) && (!opts.subject || e.subject === opts.subject) && (opts.since === undefined || e.at >= opts.since))
        .reverse()
        .slice(0, limit)
        .map((e): AuditEvent => ({ ...e, id: 0 }));
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
      return [...unwritten, ...(db.prepare(sql).all(...params, limit - unwritten.length) as Row[]).flatMap((r) => toEvent(r) ?? [])];
    },
    prune(before) {
      try {
        prune.run(before);
      } catch (err) {
        opts.onWriteError?.(err);
        throw err;
      }
    },
  };
}

// The audit log: an append-only, hash-chained table of events in state.db, written before the effect it
// records (a remediation's plan before its execution, its outcome right after). Remediation, dpmon's own
// actions (src/app) and the audit sources append here. Each row carries the previous row's hash
// (audit-chain.ts), computed in the insert's transaction; a prune removes the oldest rows and keeps the
// last removed row's hash as the anchor the chain starts from. A batch and its source's read position
// are stored in one transaction (appendBatch), so a source killed mid-batch neither loses nor repeats.
// An event whose single append fails because the disk is full (or an I/O error) is held in memory, in
// order, and written before any later event as soon as a write succeeds again (docs/reliability.md).
import { redactDetails, redactSecrets } from './redact.ts';
import type Database from 'better-sqlite3';
import { z } from 'zod';
import { migrateStateDb, readStored } from '../store/state-db.ts';
import { isDiskError } from '../store/storage-health.ts';
import { GENESIS_HASH, rowHash, verifyChain, type ChainRow, type VerifyResult } from './audit-chain.ts';
import { KEEP_ALL, keeps, levelsFrom, type AuditLevel, type AuditPolicy } from './audit-policy.ts';

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

export type AuditInput = Omit<AuditEvent, 'id'>;
/** how the layers above record an event without knowing the log: the wiring stamps `at` when not given */
export type RecordAudit = (e: Omit<AuditInput, 'at'> & { readonly at?: number }) => void;
export type AuditOutcome = NonNullable<AuditEvent['outcome']>;
export const AUDIT_OUTCOMES: readonly AuditOutcome[] = ['success', 'failure', 'denied'];

/** what list() selects; every field narrows */
export interface AuditQuery {
  readonly kindPrefix?: string;
  readonly subject?: string;
  readonly target?: string;
  readonly actor?: string;
  readonly outcome?: AuditOutcome;
  /** this level and above (events without a level are INFO) */
  readonly minLevel?: AuditLevel;
  /** epoch ms, inclusive */
  readonly since?: number;
  /** epoch ms, exclusive */
  readonly until?: number;
  /** rows with a smaller id only: the cursor of the next page (newest first) */
  readonly beforeId?: number;
  readonly limit?: number;
}

/** one line of `dpmon audit export`: the stored row, details as its stored JSON text, and its links */
export interface ExportLine extends ChainRow {
  readonly time: string;
  readonly prev_hash: string;
  readonly hash: string;
}

export interface AuditLog {
  /**
   * Records an event; when the disk refuses it, it is held (id 0) and written by a later append or
   * retry(). An event audit_config does not keep is returned with id -1.
   */
  append(e: AuditInput): AuditEvent;
  /**
   * Stores the events and, in the same transaction, the source's new read position: both or neither.
   * Throws (nothing stored, position unchanged) when the write fails or events are still held from an
   * earlier failed write; the source keeps its old position and reads the batch again.
   */
  appendBatch(events: readonly AuditInput[], ack?: { readonly source: string; readonly position: string }): AuditEvent[];
  /** the read position a source last stored with appendBatch */
  position(source: string): string | undefined;
  /** newest first; events still held unwritten come first (on the first page), with id 0 */
  list(opts?: AuditQuery): AuditEvent[];
  /**
   * Deletes the oldest rows that are all older than `before` (a run of ids from the start, so the chain
   * stays one piece), keeps the last deleted row's hash as the anchor and records `dpmon.audit_pruned`.
   * Returns how many rows went.
   */
  prune(before: number): number;
  /** walks the chain from the anchor: the first broken link, or intact */
  verify(): VerifyResult;
  /** every row from the first at or after `from` to the last before `to`, in id order (one unbroken stretch) */
  exportRange(from: number, to: number): Iterable<ExportLine>;
  /** applies audit_config (enabled, log_level) to the events appended from now on */
  setPolicy(policy: AuditPolicy): void;
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
  /** audit_config's enabled and log_level (default: keep everything) */
  readonly policy?: AuditPolicy;
  /** each event kept (written or held), for dpmon_audit_events_total */
  readonly onKept?: (e: AuditInput) => void;
  /** epoch ms now, for the prune's own event */
  readonly now?: () => number;
}

export const DEFAULT_MAX_UNWRITTEN_AUDIT_EVENTS = 10_000;

/** an event's details as stored: a JSON object */
const StoredDetails = z.record(z.string(), z.unknown());

type Row = ChainRow & { prev_hash: string | null; hash: string | null };
type ChainState = { anchor_id: number; anchor_hash: string; head_id: number; head_hash: string };

const OPTIONAL = ['target', 'subject', 'database', 'client', 'outcome', 'raw', 'level'] as const;

export function createAuditLog(db: Database.Database, opts: AuditLogOptions = {}): AuditLog {
  const maxUnwritten = opts.maxUnwritten ?? DEFAULT_MAX_UNWRITTEN_AUDIT_EVENTS;
  const now = opts.now ?? Date.now;
  let policy = opts.policy ?? KEEP_ALL;
  migrateStateDb(db);
  db.prepare('INSERT OR IGNORE INTO audit_chain (id, anchor_id, anchor_hash, head_id, head_hash) VALUES (1, 0, ?, 0, ?)').run(GENESIS_HASH, GENESIS_HASH);
  const insert = db.prepare(`INSERT INTO audit_events (id, at, kind, actor, target, subject, details, database, client, outcome, raw, level, prev_hash, hash)
    VALUES (@id, @at, @kind, @actor, @target, @subject, @details, @database, @client, @outcome, @raw, @level, @prev_hash, @hash)`);
  const chainState = db.prepare('SELECT anchor_id, anchor_hash, head_id, head_hash FROM audit_chain WHERE id = 1');
  const setHead = db.prepare('UPDATE audit_chain SET head_id = ?, head_hash = ? WHERE id = 1');
  const setAnchor = db.prepare('UPDATE audit_chain SET anchor_id = ?, anchor_hash = ? WHERE id = 1');
  // the next AUTOINCREMENT id, known before the insert because the hash covers it
  const lastId = db.prepare(`SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'audit_events'), 0), coalesce((SELECT max(id) FROM audit_events), 0))`).pluck(true);
  const setPosition = db.prepare('INSERT INTO audit_positions (source, position, updated_at) VALUES (?, ?, ?) ON CONFLICT (source) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at');
  const getPosition = db.prepare('SELECT position FROM audit_positions WHERE source = ?').pluck(true);
  const rowsFrom = db.prepare('SELECT * FROM audit_events WHERE id > ? ORDER BY id');
  const rowsBetween = db.prepare('SELECT * FROM audit_events WHERE id BETWEEN ? AND ? ORDER BY id');

  /** undefined when the stored details are unreadable (reported, and the event passed over) */
  const toEvent = (r: Row): AuditEvent | undefined => {
    const details = readStored(db, StoredDetails, 'audit_events', String(r.id), r.details);
    if (!details) return undefined;
    const e: Record<string, unknown> = { id: r.id, at: r.at, kind: r.kind, actor: r.actor };
    for (const k of OPTIONAL) if (r[k] !== null) e[k] = r[k];
    e.details = details;
    return e as unknown as AuditEvent;
  };

  /** one row, chained to the head; inside the caller's transaction */
  const writeRow = (e: AuditInput): AuditEvent => {
    const chain = chainState.get() as ChainState;
    const row: ChainRow = {
      id: (lastId.get() as number) + 1,
      at: e.at,
      kind: e.kind,
      actor: e.actor,
      target: e.target ?? null,
      subject: e.subject ?? null,
      database: e.database ?? null,
      client: e.client ?? null,
      outcome: e.outcome ?? null,
      level: e.level ?? null,
      // statement text and log lines may hold a password literal: never stored (src/audit/redact.ts)
      raw: e.raw === undefined ? null : redactSecrets(e.raw),
      details: JSON.stringify(redactDetails(e.details)),
    };
    const hash = rowHash(row, chain.head_hash);
    insert.run({ ...row, prev_hash: chain.head_hash, hash });
    setHead.run(row.id, hash);
    return { ...e, id: row.id };
  };
  const write = db.transaction(writeRow);

  // rows written before the chain existed (schema version 1) are chained once, in id order
  db.transaction(() => {
    const unchained = db.prepare('SELECT * FROM audit_events WHERE hash IS NULL ORDER BY id').all() as Row[];
    let prev = (chainState.get() as ChainState).head_hash;
    for (const r of unchained) {
      const h = rowHash(r, prev);
      db.prepare('UPDATE audit_events SET prev_hash = ?, hash = ? WHERE id = ?').run(prev, h, r.id);
      setHead.run(r.id, h);
      prev = h;
    }
  })();

  /** events the disk refused, oldest first: written before any newer one, so ids keep the order of events */
  const held: AuditInput[] = [];
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
  const hold = (e: AuditInput): AuditEvent => {
    held.push(e);
    if (held.length > maxUnwritten) {
      held.shift();
      dropped++;
    }
    return { ...e, id: 0 };
  };
  const matches = (e: AuditInput, q: AuditQuery): boolean =>
    (!q.kindPrefix || e.kind.startsWith(q.kindPrefix)) &&
    (!q.subject || e.subject === q.subject) &&
    (!q.target || e.target === q.target) &&
    (!q.actor || e.actor === q.actor) &&
    (!q.outcome || e.outcome === q.outcome) &&
    (!q.minLevel || levelsFrom(q.minLevel).includes(e.level ?? 'INFO')) &&
    (q.since === undefined || e.at >= q.since) &&
    (q.until === undefined || e.at < q.until);

  const chain = () => chainState.get() as ChainState;
  const verify = db.transaction((): VerifyResult => {
    const c = chain();
    const anchor = { id: c.anchor_id, hash: c.anchor_hash };
    const head = { id: c.head_id, hash: c.head_hash };
    // a row at or below the anchor was pruned: one there now was put back or forged
    const stray = db.prepare('SELECT id FROM audit_events WHERE id <= ? ORDER BY id LIMIT 1').pluck(true).get(c.anchor_id) as number | undefined;
    if (stray !== undefined) {
      const reason = `row ${stray} is at or before the anchor (rows up to ${c.anchor_id} were pruned): it was added after the prune`;
      return { ok: false, rows: 0, broken: { id: stray, field: 'prev_hash', expected: '(no row)', found: `row ${stray}`, reason }, anchor, head };
    }
    return verifyChain(rowsFrom.iterate(c.anchor_id) as Iterable<Row>, anchor, head);
  });

  return {
    append(e) {
      if (!keeps(policy, e)) return { ...e, id: -1 };
      opts.onKept?.(e);
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
    appendBatch(events, ack) {
      if (retry() > 0) throw new Error(`the audit log holds ${held.length} events the disk refused; the batch is not stored`);
      const kept = events.filter((e) => keeps(policy, e));
      let written: AuditEvent[];
      try {
        written = db.transaction(() => {
          const w = kept.map(writeRow);
          if (ack) setPosition.run(ack.source, ack.position, now());
          return w;
        })();
      } catch (err) {
        opts.onWriteError?.(err);
        throw err;
      }
      for (const e of kept) opts.onKept?.(e);
      return written;
    },
    position: (source) => getPosition.get(source) as string | undefined,
    retry,
    backlog: () => ({ unwritten: held.length, dropped }),
    setPolicy(p) {
      policy = p;
    },
    list(q = {}) {
      try {
        retry();
      } catch {
        // reported through onWriteError; the list is still answered
      }
      const limit = q.limit ?? 200;
      const unwritten = q.beforeId !== undefined ? [] : held.filter((e) => matches(e, q)).reverse().slice(0, limit).map((e): AuditEvent => ({ ...e, id: 0 }));
      const where: string[] = [];
      const params: unknown[] = [];
      if (q.kindPrefix) {
        // a prefix compare, not LIKE: kinds contain `_`, LIKE's wildcard
        where.push('substr(kind, 1, ?) = ?');
        params.push(q.kindPrefix.length, q.kindPrefix);
      }
      for (const k of ['subject', 'target', 'actor', 'outcome'] as const) {
        if (q[k] === undefined || q[k] === '') continue;
        where.push(`${k} = ?`);
        params.push(q[k]);
      }
      if (q.minLevel) {
        const levels = levelsFrom(q.minLevel);
        where.push(`coalesce(level, 'INFO') IN (${levels.map(() => '?').join(', ')})`);
        params.push(...levels);
      }
      if (q.since !== undefined) {
        where.push('at >= ?');
        params.push(q.since);
      }
      if (q.until !== undefined) {
        where.push('at < ?');
        params.push(q.until);
      }
      if (q.beforeId !== undefined) {
        where.push('id < ?');
        params.push(q.beforeId);
      }
      const sql = `SELECT * FROM audit_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
      return [...unwritten, ...(db.prepare(sql).all(...params, limit - unwritten.length) as Row[]).flatMap((r) => toEvent(r) ?? [])];
    },
    prune(before) {
      try {
        return db.transaction((): number => {
          const c = chain();
          const firstKept = db.prepare('SELECT min(id) FROM audit_events WHERE at >= ?').pluck(true).get(before) as number | null;
          const last = db.prepare(`SELECT * FROM audit_events ${firstKept === null ? '' : 'WHERE id < ?'} ORDER BY id DESC LIMIT 1`).get(...(firstKept === null ? [] : [firstKept])) as Row | undefined;
          if (!last || last.id <= c.anchor_id) return 0;
          // the stretch about to go is checked first: the prune's record says whether it was intact
          const checked = verifyChain(rowsBetween.iterate(c.anchor_id + 1, last.id) as Iterable<Row>, { id: c.anchor_id, hash: c.anchor_hash }, { id: last.id, hash: last.hash ?? '' });
          const deleted = db.prepare('DELETE FROM audit_events WHERE id <= ?').run(last.id).changes;
          setAnchor.run(last.id, last.hash);
          writeRow({
            at: now(),
            kind: 'dpmon.audit_pruned',
            actor: 'dpmon',
            outcome: 'success',
            details: {
              before: new Date(before).toISOString(),
              deleted,
              anchorId: last.id,
              anchorHash: last.hash,
              prunedChainIntact: checked.ok,
              ...(checked.ok ? {} : { prunedChainBreak: checked.broken.reason }),
            },
          });
          opts.onKept?.({ at: now(), kind: 'dpmon.audit_pruned', actor: 'dpmon', outcome: 'success', details: {} });
          return deleted;
        })();
      } catch (err) {
        opts.onWriteError?.(err);
        throw err;
      }
    },
    verify,
    *exportRange(from, to) {
      const lo = db.prepare('SELECT min(id) FROM audit_events WHERE at >= ? AND at < ?').pluck(true).get(from, to) as number | null;
      const hi = db.prepare('SELECT max(id) FROM audit_events WHERE at >= ? AND at < ?').pluck(true).get(from, to) as number | null;
      if (lo === null || hi === null) return;
      for (const r of rowsBetween.iterate(lo, hi) as Iterable<Row>) {
        yield {
          id: r.id,
          time: new Date(r.at).toISOString(),
          at: r.at,
          kind: r.kind,
          actor: r.actor,
          target: r.target,
          subject: r.subject,
          database: r.database,
          client: r.client,
          outcome: r.outcome,
          level: r.level,
          raw: r.raw,
          details: r.details,
          prev_hash: r.prev_hash ?? '',
          hash: r.hash ?? '',
        };
      }
    },
  };
}

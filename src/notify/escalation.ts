// Escalation (`escalation_procedures.levels`): a paging incident notifies level 1's responder when it
// starts; not acknowledged within that level's timeout, it goes to the next level's responder; the
// last level repeats at its own timeout. An acknowledgement or the incident's resolution stops it.
// Each escalation records every receiver that was sent a trigger for the incident (the route's
// receiver and each responder paged), so that an acknowledgement and the incident's resolution
// reach all of them, each with its own routing key and the incident's dedup_key, after a restart too.
// State lives in state.db (written before the notification it causes), so a restart neither loses a
// deadline nor escalates twice. Time comes from the caller (`at`), so 15m/30m/1h run in milliseconds.
import type Database from 'better-sqlite3';
import type { Notification } from '../model/notification.ts';
import { migrateStateDb, readStored } from '../store/state-db.ts';
import { StoredEscalation } from './stored.ts';

export interface EscalationLevel {
  readonly level: number;
  readonly responder: string;
  readonly timeoutMs: number;
}

export interface Escalation {
  readonly incidentId: string;
  /** every alert fingerprint of the incident (an ack of any of them acknowledges the incident) */
  readonly fingerprints: readonly string[];
  readonly startedAt: number;
  /** 1-based level last notified */
  readonly level: number;
  readonly responder: string;
  readonly notifiedAt: number;
  /** when the next level is due, unless acknowledged or resolved */
  readonly nextAt: number;
  readonly ackedAt?: number;
  readonly ackedBy?: string;
  readonly comment?: string;
  readonly resolvedAt?: number;
  /**
   * every receiver sent a trigger for the incident, in order: the route's receiver(s) and each responder
   * paged. Absent in state saved before it was recorded: then the receiver and the levels up to `level`.
   */
  readonly paged?: readonly string[];
  /** the receivers among `paged` that got their trigger from the route: the route resolves them itself */
  readonly routed?: readonly string[];
  /** the incident's latest notification, re-sent to each level's responder */
  readonly notification: Notification;
}

/** What the escalator asks the pipeline to send: a notification to a responder, or an ack to the pages sent. */
export type EscalationEffect =
  | { readonly kind: 'page'; readonly escalation: Escalation }
  | { readonly kind: 'acknowledge'; readonly escalation: Escalation }
  /** the incident ended: a resolve to every receiver paged (pagedReceivers) */
  | { readonly kind: 'resolve'; readonly escalation: Escalation };

export interface Escalator {
  /** a paging incident was notified: starts escalating it (level 1 now), or refreshes its alerts */
  observe(n: Notification, fingerprints: readonly string[], at: number): EscalationEffect[];
  /** every escalation due at `at` moves one level up (the last level repeats) */
  tick(at: number): EscalationEffect[];
  /** acknowledges the incident an alert belongs to; undefined when no active escalation holds it */
  ack(fingerprint: string, by: string, comment: string, at: number): { escalation: Escalation; effects: EscalationEffect[] } | undefined;
  /** the incident ended (acknowledged or not): once, a resolve for everyone paged */
  resolve(incidentId: string, at: number): EscalationEffect[];
  /** active first, then acknowledged and resolved ones kept for `keepMs` */
  list(): Escalation[];
  nextDue(): number | undefined;
  prune(at: number, keepMs: number): void;
}

export function createEscalator(db: Database.Database, levels: readonly EscalationLevel[]): Escalator {
  if (levels.length === 0) throw new Error('escalation needs at least one level');
  const sorted = [...levels].sort((a, b) => a.level - b.level);
  migrateStateDb(db);
  const put = db.prepare('INSERT OR REPLACE INTO escalations (incident_id, active, next_at, body) VALUES (?, ?, ?, ?)');
  const get = db.prepare('SELECT body FROM escalations WHERE incident_id = ?').pluck(true);
  const dueRows = db.prepare('SELECT incident_id, body FROM escalations WHERE active = 1 AND next_at <= ? ORDER BY next_at').raw(true);
  const activeRows = db.prepare('SELECT incident_id, body FROM escalations WHERE active = 1').raw(true);
  const allRows = db.prepare('SELECT incident_id, body FROM escalations ORDER BY active DESC, next_at').raw(true);
  const next = db.prepare('SELECT min(next_at) FROM escalations WHERE active = 1').pluck(true);
  // an acknowledged incident that has not ended is kept: its responders still need their resolve
  // (an unreadable body, which json_extract would refuse, is never pruned: it waits for a person)
  const prune = db.prepare("DELETE FROM escalations WHERE active = 0 AND next_at < ? AND (CASE WHEN json_valid(body) THEN json_extract(body, '$.resolvedAt') END) IS NOT NULL");
  const deactivate = db.prepare('UPDATE escalations SET active = 0 WHERE incident_id = ?');

  /** a stored escalation, validated; undefined (reported, then passed over) when unreadable */
  const parse = (incidentId: string, b: unknown) => readStored(db, StoredEscalation, 'escalations', incidentId, b) as Escalation | undefined;
  const parseAll = (rows: unknown[]) => (rows as [string, string][]).flatMap(([id, b]) => parse(id, b) ?? []);
  const save = (e: Escalation) => {
    const active = e.ackedAt === undefined && e.resolvedAt === undefined;
    // for inactive rows next_at holds when they ended (resolved, else acknowledged), for pruning
    put.run(e.incidentId, active ? 1 : 0, active ? e.nextAt : (e.resolvedAt ?? e.ackedAt ?? e.nextAt), JSON.stringify(e));
  };
  const levelAt = (n: number) => sorted[Math.min(n, sorted.length) - 1]!;
  const withPaged = (e: Escalation, ...receivers: string[]): readonly string[] => [...new Set([...pagedReceivers(e, sorted), ...receivers])];

  return {
    observe(n, fingerprints, at) {
      const id = n.incident?.id ?? n.groupKey;
      const prev = get.get(id) as string | undefined;
      // an unreadable row is replaced by a new escalation from level 1: paging again beats never paging
      const e0 = prev ? parse(id, prev) : undefined;
      // an incident that resolved and fires again escalates again, from level 1
      if (e0 && e0.resolvedAt === undefined) {
        save({
          ...e0,
          fingerprints: [...new Set([...e0.fingerprints, ...fingerprints])],
          paged: withPaged(e0, n.receiver),
          routed: [...new Set([...(e0.routed ?? [e0.notification.receiver]), n.receiver])],
          notification: n,
        });
        return [];
      }
      const first = levelAt(1);
      const e: Escalation = {
        incidentId: id,
        fingerprints: [...fingerprints],
        startedAt: at,
        level: first.level,
        responder: first.responder,
        notifiedAt: at,
        nextAt: at + first.timeoutMs,
        paged: [...new Set([n.receiver, first.responder])],
        routed: [n.receiver],
        notification: n,
      };
      save(e);
      return [{ kind: 'page', escalation: e }];
    },
    tick(at) {
      const effects: EscalationEffect[] = [];
      for (const [id, body] of dueRows.all(at) as [string, string][]) {
        const e = parse(id, body);
        // unreadable: no longer due (kept for a person to look at), so it cannot wake the loop for ever
        if (!e) {
          deactivate.run(id);
          continue;
        }
        const index = sorted.findIndex((l) => l.level === e.level);
        const up = levelAt(Math.min(index + 2, sorted.length));
        const moved: Escalation = { ...e, level: up.level, responder: up.responder, notifiedAt: at, nextAt: at + up.timeoutMs, paged: withPaged(e, up.responder) };
        save(moved);
        effects.push({ kind: 'page', escalation: moved });
      }
      return effects;
    },
    ack(fingerprint, by, comment, at) {
      // every escalation holding the alert (a group can have paged more than one incident)
      let first: Escalation | undefined;
      const effects: EscalationEffect[] = [];
      for (const e of parseAll(activeRows.all())) {
        if (!e.fingerprints.includes(fingerprint) && e.incidentId !== fingerprint) continue;
        const acked: Escalation = { ...e, ackedAt: at, ackedBy: by, comment };
        save(acked);
        first ??= acked;
        effects.push({ kind: 'acknowledge', escalation: acked });
      }
      return first ? { escalation: first, effects } : undefined;
    },
    resolve(incidentId, at) {
      const prev = get.get(incidentId) as string | undefined;
      if (!prev) return [];
      const e = parse(incidentId, prev);
      if (!e || e.resolvedAt !== undefined) return [];
      const resolved: Escalation = { ...e, resolvedAt: at, paged: pagedReceivers(e, sorted) };
      save(resolved);
      return [{ kind: 'resolve', escalation: resolved }];
    },
    list: () => parseAll(allRows.all()),
    nextDue: () => (next.get() as number | null) ?? undefined,
    prune: (at, keepMs) => void prune.run(at - keepMs),
  };
}

/** Every receiver sent a trigger for the incident (see Escalation.paged; older state: the receiver and the levels reached). */
export function pagedReceivers(e: Escalation, levels: readonly EscalationLevel[]): readonly string[] {
  if (e.paged) return e.paged;
  return [...new Set([e.notification.receiver, ...levels.filter((l) => l.level <= e.level).map((l) => l.responder)])];
}

/** The receivers an incident's end must be sent to by escalation: everyone paged but the route's own receivers. */
export function responderReceivers(e: Escalation, levels: readonly EscalationLevel[]): readonly string[] {
  const routed = new Set(e.routed ?? [e.notification.receiver]);
  return pagedReceivers(e, levels).filter((r) => !routed.has(r));
}

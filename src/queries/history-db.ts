// queries.db: the statement history, one SQLite file in dpmon's data directory beside history.db and
// state.db (its own file: it is written once an interval per target in bulk, and is dropped without loss of
// anything else when it grows old). Rows are per (target, interval, fingerprint, queryid, user,
// database); the statements summed as "other" are one row per target and interval with fingerprint
// "other". Bounded: at most top N + slow statements + 1 rows per target and interval, and rows older than
// the retention (storage.raw_retention, 15 days by default) are deleted, with the texts nobody refers to.
// Schema 2 adds statement_plans: the latest PLANS_KEPT plans per (target, fingerprint), each with the hash
// of its shape (plan-nodes.ts) so a changed plan is seen; a version-1 file gains the table on open.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { z } from 'zod';
import { COUNTERS, type Counters } from './deltas.ts';
import type { RelationSize } from './plan-nodes.ts';

export const HISTORY_SCHEMA_VERSION = 2;
/** plans kept per (target, fingerprint), newest first */
export const PLANS_KEPT = 5;
export const OTHER = 'other';

export interface IntervalRow extends Counters {
  readonly target: string;
  /** epoch ms of the read that closed the interval */
  readonly at: number;
  /** the interval's length in ms (since the previous read) */
  readonly spanMs: number;
  readonly fingerprint: string;
  readonly queryid: string;
  readonly user: string;
  readonly datname: string;
  /** temp_blks_written in bytes (the server's block_size) */
  readonly temp_bytes: number;
  /** pg_stat_statements entries in the row: 1, or how many "other" sums */
  readonly entries: number;
  /** 1 when an entry was counted from zero (new, or after a reset) */
  readonly reset: number;
}

const intervalRow = z.object({
  target: z.string(),
  at: z.number(),
  spanMs: z.number(),
  fingerprint: z.string(),
  queryid: z.string(),
  user: z.string(),
  datname: z.string(),
  temp_bytes: z.number().nonnegative(),
  entries: z.number().int().nonnegative(),
  reset: z.number().int(),
  ...Object.fromEntries(COUNTERS.map((c) => [c, z.number().nonnegative()])),
});

export interface IntervalSum {
  readonly target: string;
  readonly fingerprint: string;
  readonly at: number;
  readonly spanMs: number;
  readonly calls: number;
  readonly execMs: number;
  readonly rows: number;
}

export interface StatementText {
  readonly fingerprint: string;
  readonly text: string;
  readonly parsed: boolean;
  readonly firstSeen: number;
  readonly lastSeen: number;
}

/** where a plan came from: the server log's auto_explain output, or dpmon's EXPLAIN (GENERIC_PLAN) */
export type PlanSource = 'auto_explain' | 'generic_plan';

export interface StoredPlan {
  readonly target: string;
  readonly fingerprint: string;
  /** epoch ms it was collected */
  readonly at: number;
  readonly source: PlanSource;
  /** the hash of the plan's shape (node types, relations, indexes, join order), not of its costs */
  readonly planHash: string;
  /** EXPLAIN's JSON: the object holding "Plan" */
  readonly plan: unknown;
  /** the catalog's size of the relations the plan reads, when it was collected (plan-nodes.ts) */
  readonly sizes: Readonly<Record<string, RelationSize>>;
}

export interface QueryHistoryStore {
  /** one interval of one target, with the texts of its fingerprints, in one transaction */
  append(rows: readonly IntervalRow[], texts: readonly { fingerprint: string; text: string; parsed: boolean }[]): void;
  /** rows since `since` (exclusive), optionally of one target and one fingerprint, oldest first; rows that fail validation are skipped */
  rows(opts: { since: number; target?: string; fingerprint?: string }): IntervalRow[];
  text(fingerprint: string): StatementText | undefined;
  /** per (target, fingerprint, interval) since `since` (exclusive), "other" left out, summed over queryids, users and databases; ordered by target, fingerprint, time (for patterns.ts: a lean read, no row validation) */
  intervalSums(opts: { since: number; target?: string }): IntervalSum[];
  /** stores a plan and drops all but the newest PLANS_KEPT of its (target, fingerprint) */
  appendPlan(plan: StoredPlan): void;
  /** plans of a fingerprint, newest first, optionally of one target */
  plans(fingerprint: string, opts?: { target?: string; limit?: number }): StoredPlan[];
  /** every plan collected since `since` (exclusive), optionally of one target, oldest first */
  plansSince(since: number, target?: string): StoredPlan[];
  /** when a (target, fingerprint) first has a row in the history */
  firstSeen(target: string, fingerprint: string): number | undefined;
  /** when a target's history begins */
  historyStart(target: string): number | undefined;
  /** deletes rows older than `before` and texts no row refers to; returns the rows deleted */
  prune(before: number): number;
  close(): void;
}

const COLS = ['target', 'at', 'span_ms', 'fingerprint', 'queryid', 'usename', 'datname', ...COUNTERS, 'temp_bytes', 'entries', 'reset'] as const;

export function openQueryHistory(dataDir: string): QueryHistoryStore {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, 'queries.db');
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
  const version = Number(db.prepare(`SELECT value FROM meta WHERE key = 'schema_version'`).pluck(true).get() ?? 0);
  if (version > HISTORY_SCHEMA_VERSION) {
    db.close();
    throw new Error(`${path} has schema version ${version}, newer than this dpmon knows (${HISTORY_SCHEMA_VERSION}): run that dpmon, or move the file aside`);
  }
  db.exec(`CREATE TABLE IF NOT EXISTS statement_texts (
    fingerprint TEXT PRIMARY KEY, text TEXT NOT NULL, parsed INTEGER NOT NULL, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS statement_intervals (
    target TEXT NOT NULL, at INTEGER NOT NULL, span_ms INTEGER NOT NULL, fingerprint TEXT NOT NULL, queryid TEXT NOT NULL,
    usename TEXT NOT NULL, datname TEXT NOT NULL, ${COUNTERS.map((c) => `${c} REAL NOT NULL`).join(', ')},
    temp_bytes REAL NOT NULL, entries INTEGER NOT NULL, reset INTEGER NOT NULL);
  CREATE INDEX IF NOT EXISTS statement_intervals_at ON statement_intervals (at);
  CREATE INDEX IF NOT EXISTS statement_intervals_fingerprint ON statement_intervals (fingerprint, at);
  CREATE TABLE IF NOT EXISTS statement_plans (
    target TEXT NOT NULL, fingerprint TEXT NOT NULL, at INTEGER NOT NULL, source TEXT NOT NULL, plan_hash TEXT NOT NULL, plan TEXT NOT NULL);
  CREATE INDEX IF NOT EXISTS statement_plans_fingerprint ON statement_plans (fingerprint, target, at);
  CREATE INDEX IF NOT EXISTS statement_plans_at ON statement_plans (at);
  INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', '${HISTORY_SCHEMA_VERSION}');`);

  const insert = db.prepare(`INSERT INTO statement_intervals (${COLS.join(', ')}) VALUES (${COLS.map(() => '?').join(', ')})`);
  const upsertText = db.prepare(`INSERT INTO statement_texts (fingerprint, text, parsed, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (fingerprint) DO UPDATE SET last_seen = excluded.last_seen`);
  const select = `SELECT target, at, span_ms AS spanMs, fingerprint, queryid, usename AS user, datname, ${COUNTERS.join(', ')}, temp_bytes, entries, reset FROM statement_intervals`;
  const appendTx = db.transaction((rows: readonly IntervalRow[], texts: readonly { fingerprint: string; text: string; parsed: boolean }[]) => {
    const at = rows[0]?.at ?? 0;
    for (const t of texts) upsertText.run(t.fingerprint, t.text, t.parsed ? 1 : 0, at, at);
    for (const r of rows) insert.run(r.target, r.at, r.spanMs, r.fingerprint, r.queryid, r.user, r.datname, ...COUNTERS.map((c) => r[c]), r.temp_bytes, r.entries, r.reset);
  });
  const insertPlan = db.prepare('INSERT INTO statement_plans (target, fingerprint, at, source, plan_hash, plan) VALUES (?, ?, ?, ?, ?, ?)');
  const trimPlans = db.prepare(`DELETE FROM statement_plans WHERE target = ? AND fingerprint = ? AND rowid NOT IN
    (SELECT rowid FROM statement_plans WHERE target = ? AND fingerprint = ? ORDER BY at DESC, rowid DESC LIMIT ${PLANS_KEPT})`);
  const appendPlanTx = db.transaction((p: StoredPlan) => {
    insertPlan.run(p.target, p.fingerprint, p.at, p.source, p.planHash, JSON.stringify({ plan: p.plan, sizes: p.sizes }));
    trimPlans.run(p.target, p.fingerprint, p.target, p.fingerprint);
  });
  const firstSeenStmt = db.prepare('SELECT min(at) FROM statement_intervals WHERE fingerprint = ? AND target = ?').pluck(true);
  const historyStartStmt = db.prepare('SELECT min(at) FROM statement_intervals WHERE target = ?').pluck(true);
  const planSelect = 'SELECT target, fingerprint, at, source, plan_hash AS planHash, plan FROM statement_plans';
  const toPlan = (r: Record<string, unknown>): StoredPlan => {
    const { plan, sizes } = JSON.parse(String(r.plan)) as { plan: unknown; sizes?: Record<string, RelationSize> };
    return { ...(r as unknown as StoredPlan), plan, sizes: sizes ?? {} };
  };
  return {
    append: (rows, texts) => appendTx(rows, texts),
    appendPlan: (p) => appendPlanTx(p),
    plans(fingerprint, opts = {}) {
      const where = ['fingerprint = ?', ...(opts.target !== undefined ? ['target = ?'] : [])];
      const params = [fingerprint, ...(opts.target !== undefined ? [opts.target] : [])];
      return (db.prepare(`${planSelect} WHERE ${where.join(' AND ')} ORDER BY at DESC, rowid DESC LIMIT ?`).all(...params, opts.limit ?? PLANS_KEPT) as Record<string, unknown>[]).map(toPlan);
    },
    plansSince(since, target) {
      const rows = target === undefined
        ? db.prepare(`${planSelect} WHERE at > ? ORDER BY at, rowid`).all(since)
        : db.prepare(`${planSelect} WHERE at > ? AND target = ? ORDER BY at, rowid`).all(since, target);
      return (rows as Record<string, unknown>[]).map(toPlan);
    },
    // both by index: (fingerprint, at) and (at)
    firstSeen: (target, fingerprint) => (firstSeenStmt.get(fingerprint, target) as number | null) ?? undefined,
    historyStart: (target) => (historyStartStmt.get(target) as number | null) ?? undefined,
    rows({ since, target, fingerprint }) {
      const where = ['at > ?', ...(target !== undefined ? ['target = ?'] : []), ...(fingerprint !== undefined ? ['fingerprint = ?'] : [])];
      const params = [since, ...(target !== undefined ? [target] : []), ...(fingerprint !== undefined ? [fingerprint] : [])];
      const out: IntervalRow[] = [];
      for (const raw of db.prepare(`${select} WHERE ${where.join(' AND ')} ORDER BY at`).all(...params)) {
        const r = intervalRow.safeParse(raw);
        if (r.success) out.push(r.data as unknown as IntervalRow);
      }
      return out;
    },
    intervalSums({ since, target }) {
      const sql = `SELECT target, fingerprint, at, max(span_ms) AS spanMs, sum(calls) AS calls, sum(exec_ms) AS execMs, sum(rows) AS rows FROM statement_intervals
        WHERE at > ? ${target !== undefined ? 'AND target = ?' : ''} AND fingerprint <> '${OTHER}' GROUP BY target, fingerprint, at ORDER BY target, fingerprint, at`;
      return db.prepare(sql).all(...(target !== undefined ? [since, target] : [since])) as IntervalSum[];
    },
    text(fingerprint) {
      const r = db.prepare(`SELECT fingerprint, text, parsed, first_seen AS firstSeen, last_seen AS lastSeen FROM statement_texts WHERE fingerprint = ?`).get(fingerprint) as
        | { fingerprint: string; text: string; parsed: number; firstSeen: number; lastSeen: number }
        | undefined;
      return r && { ...r, parsed: r.parsed === 1 };
    },
    prune(before) {
      const n = db.prepare('DELETE FROM statement_intervals WHERE at < ?').run(before).changes;
      db.prepare('DELETE FROM statement_plans WHERE at < ?').run(before);
      if (n > 0) db.exec('DELETE FROM statement_texts WHERE fingerprint NOT IN (SELECT DISTINCT fingerprint FROM statement_intervals)');
      return n;
    },
    close: () => db.close(),
  };
}

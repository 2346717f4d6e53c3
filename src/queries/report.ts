// What the API and `dpmon queries` show, computed from queries.db: the top fingerprints over a window
// with their totals and share of all execution time, and one fingerprint's history.
import { COUNTERS, zeroCounters, type Counters } from './deltas.ts';
import { OTHER, type IntervalRow, type QueryHistoryStore, type StatementText } from './history-db.ts';

export const ORDERS = ['total_time', 'mean_time', 'calls', 'rows', 'io_time', 'temp_bytes', 'wal_bytes'] as const;
export type Order = (typeof ORDERS)[number];

export interface Totals {
  readonly calls: number;
  readonly totalTimeMs: number;
  readonly meanTimeMs: number;
  readonly rows: number;
  /** block read + write time (track_io_timing) */
  readonly ioTimeMs: number;
  readonly sharedBlksHit: number;
  readonly sharedBlksRead: number;
  readonly tempBytes: number;
  readonly walBytes: number;
}

export interface TopStatement extends Totals {
  readonly fingerprint: string;
  readonly text: string | null;
  /** of all execution time in the window (other included) */
  readonly shareOfTotalTime: number;
  readonly targets: readonly string[];
  readonly databases: readonly string[];
  readonly users: readonly string[];
  readonly queryids: readonly string[];
}

export interface TopReport {
  readonly since: number;
  readonly total: Totals;
  readonly statements: readonly TopStatement[];
  /** what was summed as "other" in the window */
  readonly other: Totals & { readonly entries: number };
}

type Sum = Counters & { temp_bytes: number };
const emptySum = (): Sum => ({ ...zeroCounters(), temp_bytes: 0 });
function add(into: Sum, r: IntervalRow): void {
  for (const c of COUNTERS) into[c] += r[c];
  into.temp_bytes += r.temp_bytes;
}
function totalsOf(s: Sum): Totals {
  return {
    calls: s.calls,
    totalTimeMs: s.exec_ms,
    meanTimeMs: s.calls > 0 ? s.exec_ms / s.calls : 0,
    rows: s.rows,
    ioTimeMs: s.read_ms + s.write_ms,
    sharedBlksHit: s.shared_blks_hit,
    sharedBlksRead: s.shared_blks_read,
    tempBytes: s.temp_bytes,
    walBytes: s.wal_bytes,
  };
}
const orderKey: Record<Order, (t: Totals) => number> = {
  total_time: (t) => t.totalTimeMs,
  mean_time: (t) => t.meanTimeMs,
  calls: (t) => t.calls,
  rows: (t) => t.rows,
  io_time: (t) => t.ioTimeMs,
  temp_bytes: (t) => t.tempBytes,
  wal_bytes: (t) => t.walBytes,
};

export function topStatements(store: QueryHistoryStore, opts: { since: number; target?: string; limit: number; order: Order }): TopReport {
  const rows = store.rows({ since: opts.since, ...(opts.target !== undefined ? { target: opts.target } : {}) });
  const all = emptySum();
  const other = emptySum();
  let otherEntries = 0;
  const by = new Map<string, { sum: Sum; targets: Set<string>; dbs: Set<string>; users: Set<string>; queryids: Set<string> }>();
  for (const r of rows) {
    add(all, r);
    if (r.fingerprint === OTHER) {
      add(other, r);
      otherEntries += r.entries;
      continue;
    }
    let g = by.get(r.fingerprint);
    if (!g) by.set(r.fingerprint, (g = { sum: emptySum(), targets: new Set(), dbs: new Set(), users: new Set(), queryids: new Set() }));
    add(g.sum, r);
    g.targets.add(r.target);
    g.dbs.add(r.datname);
    g.users.add(r.user);
    g.queryids.add(r.queryid);
  }
  const statements = [...by].map(([fingerprint, g]) => {
    const t = totalsOf(g.sum);
    return {
      fingerprint,
      text: store.text(fingerprint)?.text ?? null,
      ...t,
      shareOfTotalTime: all.exec_ms > 0 ? g.sum.exec_ms / all.exec_ms : 0,
      targets: [...g.targets].sort(),
      databases: [...g.dbs].sort(),
      users: [...g.users].sort(),
      queryids: [...g.queryids].sort(),
    };
  });
  statements.sort((a, b) => orderKey[opts.order](b) - orderKey[opts.order](a) || a.fingerprint.localeCompare(b.fingerprint));
  return { since: opts.since, total: totalsOf(all), statements: statements.slice(0, opts.limit), other: { ...totalsOf(other), entries: otherEntries } };
}

export interface StatementDetail {
  readonly fingerprint: string;
  readonly text: StatementText | null;
  readonly total: Totals;
  /** per interval and target, oldest first */
  readonly intervals: readonly (Totals & { at: number; spanMs: number; target: string; reset: boolean })[];
  /** per target, database and user */
  readonly byDatabaseUser: readonly (Totals & { target: string; datname: string; user: string })[];
}

export function statementDetail(store: QueryHistoryStore, fingerprint: string, opts: { since: number; target?: string }): StatementDetail | undefined {
  const rows = store.rows({ since: opts.since, fingerprint, ...(opts.target !== undefined ? { target: opts.target } : {}) });
  const text = store.text(fingerprint) ?? null;
  if (rows.length === 0 && !text) return undefined;
  const all = emptySum();
  const intervals = new Map<string, { at: number; spanMs: number; target: string; reset: boolean; sum: Sum }>();
  const groups = new Map<string, { target: string; datname: string; user: string; sum: Sum }>();
  for (const r of rows) {
    add(all, r);
    const ik = `${r.target}\0${r.at}`;
    let i = intervals.get(ik);
    if (!i) intervals.set(ik, (i = { at: r.at, spanMs: r.spanMs, target: r.target, reset: false, sum: emptySum() }));
    add(i.sum, r);
    i.reset ||= r.reset === 1;
    const gk = `${r.target}\0${r.datname}\0${r.user}`;
    let g = groups.get(gk);
    if (!g) groups.set(gk, (g = { target: r.target, datname: r.datname, user: r.user, sum: emptySum() }));
    add(g.sum, r);
  }
  return {
    fingerprint,
    text,
    total: totalsOf(all),
    intervals: [...intervals.values()].map(({ sum, ...i }) => ({ ...i, ...totalsOf(sum) })),
    byDatabaseUser: [...groups.values()].map(({ sum, ...g }) => ({ ...g, ...totalsOf(sum) })).sort((a, b) => b.totalTimeMs - a.totalTimeMs),
  };
}

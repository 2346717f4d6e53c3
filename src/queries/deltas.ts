// Deltas of pg_stat_statements between two reads, and the bound on what is kept. Pure: the collector
// reads, this decides. A delta is never negative: an entry whose counters went down (reset, evicted and
// re-added, lost in a crash) or that is new since the previous read counts from zero, and so does every
// entry when the statistics were reset (pg_stat_statements_info.stats_reset changed, 14+) — its counters
// then hold only what ran since the reset, which is after the previous read.

export const COUNTERS = [
  'calls',
  'exec_ms',
  'rows',
  'shared_blks_hit',
  'shared_blks_read',
  'shared_blks_dirtied',
  'shared_blks_written',
  'temp_blks_written',
  'read_ms',
  'write_ms',
  'wal_bytes',
] as const;
export type Counter = (typeof COUNTERS)[number];
export type Counters = Record<Counter, number>;

/** one pg_stat_statements entry as read: its key and its cumulative counters */
export interface EntryRead {
  readonly queryid: string;
  readonly userid: string;
  readonly dbid: string;
  readonly user: string;
  readonly datname: string;
  readonly counters: Counters;
}

export interface EntryDelta extends Omit<EntryRead, 'counters'> {
  readonly delta: Counters;
  /** counted from zero: new, reset, or its counters went down */
  readonly fromZero: boolean;
}

export const entryKey = (e: Pick<EntryRead, 'queryid' | 'userid' | 'dbid'>) => `${e.queryid}/${e.userid}/${e.dbid}`;

export const zeroCounters = (): Counters => Object.fromEntries(COUNTERS.map((c) => [c, 0])) as Counters;

/** The deltas of the entries that ran since `prev` (entries with no calls and no time are left out). */
export function computeDeltas(prev: ReadonlyMap<string, Counters>, current: readonly EntryRead[], statsReset: boolean): EntryDelta[] {
  const out: EntryDelta[] = [];
  for (const e of current) {
    const before = statsReset ? undefined : prev.get(entryKey(e));
    const wentDown = before !== undefined && COUNTERS.some((c) => e.counters[c] < before[c]);
    const fromZero = before === undefined || wentDown;
    const delta = zeroCounters();
    for (const c of COUNTERS) delta[c] = Math.max(0, e.counters[c] - (fromZero ? 0 : before[c]));
    if (delta.calls === 0 && delta.exec_ms === 0) continue;
    const { counters: _, ...key } = e;
    out.push({ ...key, delta, fromZero });
  }
  return out;
}

export interface Bounded {
  /** kept on their own: the top N by execution time, and every one whose mean is at or over the slow threshold */
  readonly kept: EntryDelta[];
  /** the rest, summed */
  readonly other: Counters;
  readonly otherEntries: number;
}

/** Keeps the top `top` entries by delta execution time plus the slow ones; sums the rest. */
export function boundDeltas(deltas: readonly EntryDelta[], top: number, slowMs: number): Bounded {
  const sorted = [...deltas].sort((a, b) => b.delta.exec_ms - a.delta.exec_ms || a.queryid.localeCompare(b.queryid));
  const kept: EntryDelta[] = [];
  const other = zeroCounters();
  let otherEntries = 0;
  sorted.forEach((d, i) => {
    const slow = d.delta.calls > 0 && d.delta.exec_ms / d.delta.calls >= slowMs;
    if (i < top || slow) kept.push(d);
    else {
      otherEntries++;
      for (const c of COUNTERS) other[c] += d.delta[c];
    }
  });
  return { kept, other, otherEntries };
}

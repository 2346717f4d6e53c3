// The SQL statement history reads, keyed by the oldest server major it is valid for (metrics as data:
// a new PostgreSQL release is a new entry here, not new code). dpmon supports PostgreSQL 13 and later,
// where pg_stat_statements has total_exec_time (12's total_time was split into plan and exec time in
// 13) and wal_bytes; 14 added pg_stat_statements_info (stats_reset, dealloc) and the `toplevel` key;
// 17 renamed blk_read_time/blk_write_time to shared_blk_read_time/shared_blk_write_time.
// Entries are summed over `toplevel` (track = all gives one statement two entries) so a key is
// (queryid, userid, dbid); entries without a queryid (compute_query_id off) are left out: they have no key.

export interface VersionedSql {
  readonly minVersion: number;
  readonly sql: string;
}

/** the counters, without text (pg_stat_statements(false): the text file is read only for new statements) */
function countersSql(readTime: string, writeTime: string): string {
  return `/* dpmon */ SELECT s.queryid::text AS queryid, s.userid::int8::text AS userid, s.dbid::int8::text AS dbid,
  pg_get_userbyid(s.userid) AS "user", d.datname,
  sum(s.calls)::float8 AS calls, sum(s.total_exec_time)::float8 AS exec_ms, sum(s.rows)::float8 AS rows,
  sum(s.shared_blks_hit)::float8 AS shared_blks_hit, sum(s.shared_blks_read)::float8 AS shared_blks_read,
  sum(s.shared_blks_dirtied)::float8 AS shared_blks_dirtied, sum(s.shared_blks_written)::float8 AS shared_blks_written,
  sum(s.temp_blks_written)::float8 AS temp_blks_written,
  sum(s.${readTime})::float8 AS read_ms, sum(s.${writeTime})::float8 AS write_ms, sum(s.wal_bytes)::float8 AS wal_bytes
FROM pg_stat_statements(false) s JOIN pg_database d ON d.oid = s.dbid
WHERE s.queryid IS NOT NULL
GROUP BY s.queryid, s.userid, s.dbid, d.datname`;
}

export const COUNTERS_SQL: readonly VersionedSql[] = [
  { minVersion: 13, sql: countersSql('blk_read_time', 'blk_write_time') },
  { minVersion: 17, sql: countersSql('shared_blk_read_time', 'shared_blk_write_time') },
];

/** when the statistics were last reset, how many entries were evicted, and when the server started */
export const INFO_SQL: readonly VersionedSql[] = [
  { minVersion: 13, sql: `/* dpmon */ SELECT NULL::text AS stats_reset, NULL::float8 AS dealloc, pg_postmaster_start_time()::text AS started, current_setting('block_size')::int AS block_size` },
  {
    minVersion: 14,
    sql: `/* dpmon */ SELECT i.stats_reset::text AS stats_reset, i.dealloc::float8 AS dealloc, pg_postmaster_start_time()::text AS started, current_setting('block_size')::int AS block_size FROM pg_stat_statements_info i`,
  },
];

/** the normalised text of the given entries (the keys come back as text, as COUNTERS_SQL gives them) */
export const TEXTS_SQL = `/* dpmon */ SELECT s.queryid::text AS queryid, min(s.query) AS query
FROM pg_stat_statements(true) s WHERE s.queryid = ANY($1::int8[]) GROUP BY s.queryid`;

export const VERSION_SQL = `/* dpmon */ SELECT current_setting('server_version_num')::int / 10000 AS major`;

/** The variant for a server major: the one with the highest minVersion not above it. */
export function sqlFor(variants: readonly VersionedSql[], major: number): string | undefined {
  let best: VersionedSql | undefined;
  for (const v of variants) if (v.minVersion <= major && (!best || v.minVersion > best.minVersion)) best = v;
  return best?.sql;
}

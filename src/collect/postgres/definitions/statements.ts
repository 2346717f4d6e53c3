// pg_stat_statements with bounded cardinality: the top N statements by total execution time (N =
// pgStatStatementsTop) keep their own series; all others are summed into one series with
// queryid="other". The spec's `total_time` column was split into total_plan_time/total_exec_time in
// PostgreSQL 13 (which is our oldest supported version); 17 renamed blk_read_time/blk_write_time to
// shared_blk_read_time/shared_blk_write_time. A statement moving in or out of the top N makes the
// "other" counters step; rate() over "other" is approximate for that reason.
import type { PgDefinition } from '../definition.ts';
import { counterCol } from './helpers.ts';

// Since 14 an entry is keyed by (userid, dbid, queryid, toplevel): with pg_stat_statements.track = all
// one statement can have two entries, and with compute_query_id off queryid is NULL for all. Entries are
// summed per (user, database, queryid) first, so no series repeats a label set.
function topNSql(readTime: string, writeTime: string): string {
  return `
WITH a AS (
  SELECT userid, dbid, queryid, sum(calls) AS calls, sum(total_exec_time) AS total_exec_time, sum(rows) AS rows,
         sum(${readTime}) AS read_time, sum(${writeTime}) AS write_time
  FROM pg_stat_statements(false)
  GROUP BY userid, dbid, queryid
), s AS (
  SELECT pg_get_userbyid(a.userid) AS "user", d.datname, COALESCE(a.queryid::text, '') AS queryid,
         a.calls, a.total_exec_time, a.rows, a.read_time, a.write_time,
         row_number() OVER (ORDER BY a.total_exec_time DESC, a.queryid) AS rank
  FROM a
  JOIN pg_database d ON d.oid = a.dbid
  WHERE d.datname <> ALL($2::text[])
)
SELECT "user", datname, queryid, calls AS calls_total, total_exec_time / 1000 AS seconds_total,
       rows AS rows_total, read_time / 1000 AS block_read_seconds_total, write_time / 1000 AS block_write_seconds_total
FROM s WHERE rank <= $1
UNION ALL
SELECT '', '', 'other', COALESCE(sum(calls), 0), COALESCE(sum(total_exec_time), 0) / 1000,
       COALESCE(sum(rows), 0), COALESCE(sum(read_time), 0) / 1000, COALESCE(sum(write_time), 0) / 1000
FROM s WHERE rank > $1`;
}

export const statStatementsDefinition: PgDefinition = {
  name: 'pg_stat_statements',
  interval: 'default',
  requires: 'pg_stat_statements',
  labels: ['user', 'datname', 'queryid'],
  params: ['top', 'excludeDatabases'],
  variants: [
    { minVersion: 13, maxVersion: 16, sql: topNSql('blk_read_time', 'blk_write_time') },
    { minVersion: 17, sql: topNSql('shared_blk_read_time', 'shared_blk_write_time') },
  ],
  metrics: {
    calls_total: counterCol('pg_stat_statements_calls_total', 'Number of times executed'),
    seconds_total: counterCol('pg_stat_statements_seconds_total', 'Total time spent in the statement, in seconds'),
    rows_total: counterCol('pg_stat_statements_rows_total', 'Total number of rows retrieved or affected by the statement'),
    block_read_seconds_total: counterCol('pg_stat_statements_block_read_seconds_total', 'Total time the statement spent reading blocks, in seconds'),
    block_write_seconds_total: counterCol('pg_stat_statements_block_write_seconds_total', 'Total time the statement spent writing blocks, in seconds'),
  },
};

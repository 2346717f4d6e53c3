// Per-database statistics from the shared views (no per-database connection needed). Deadlocks come
// with pg_stat_database at the default interval; the spec's deadlock_check_interval drives no query of
// its own (see target.ts).
import type { PgDefinition } from '../definition.ts';
import { counterCol, gaugeCol } from './helpers.ts';

const base = `
  datid::text AS datid, datname, numbackends, xact_commit, xact_rollback, blks_read, blks_hit,
  tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted, conflicts, temp_files, temp_bytes,
  deadlocks, blk_read_time, blk_write_time, extract(epoch FROM stats_reset) AS stats_reset`;

const sd = (col: string, help: string) => counterCol(`pg_stat_database_${col}`, help);

export const statDatabaseDefinition: PgDefinition = {
  name: 'pg_stat_database',
  interval: 'default',
  labels: ['datid', 'datname'],
  params: ['excludeDatabases'],
  variants: [
    { minVersion: 13, sql: `SELECT ${base} FROM pg_stat_database WHERE datname IS NOT NULL AND datname <> ALL($1::text[])` },
    {
      // PostgreSQL 14 added session accounting
      minVersion: 14,
      sql: `
SELECT ${base},
  session_time / 1000 AS session_time, active_time / 1000 AS active_time,
  idle_in_transaction_time / 1000 AS idle_in_transaction_time,
  sessions, sessions_abandoned, sessions_fatal, sessions_killed
FROM pg_stat_database WHERE datname IS NOT NULL AND datname <> ALL($1::text[])`,
    },
  ],
  metrics: {
    numbackends: gaugeCol('pg_stat_database_numbackends', 'Number of backends currently connected to this database'),
    xact_commit: sd('xact_commit', 'Number of transactions in this database that have been committed'),
    xact_rollback: sd('xact_rollback', 'Number of transactions in this database that have been rolled back'),
    blks_read: sd('blks_read', 'Number of disk blocks read in this database'),
    blks_hit: sd('blks_hit', 'Number of times disk blocks were found already in the buffer cache'),
    tup_returned: sd('tup_returned', 'Number of rows returned by queries in this database'),
    tup_fetched: sd('tup_fetched', 'Number of rows fetched by queries in this database'),
    tup_inserted: sd('tup_inserted', 'Number of rows inserted by queries in this database'),
    tup_updated: sd('tup_updated', 'Number of rows updated by queries in this database'),
    tup_deleted: sd('tup_deleted', 'Number of rows deleted by queries in this database'),
    conflicts: sd('conflicts', 'Number of queries canceled due to conflicts with recovery in this database'),
    temp_files: sd('temp_files', 'Number of temporary files created by queries in this database'),
    temp_bytes: sd('temp_bytes', 'Total amount of data written to temporary files by queries in this database'),
    deadlocks: sd('deadlocks', 'Number of deadlocks detected in this database'),
    blk_read_time: sd('blk_read_time', 'Time spent reading data file blocks by backends in this database, in milliseconds'),
    blk_write_time: sd('blk_write_time', 'Time spent writing data file blocks by backends in this database, in milliseconds'),
    stats_reset: sd('stats_reset', 'Time at which these statistics were last reset'),
    active_time: counterCol('pg_stat_database_active_time_seconds_total', 'Time spent executing SQL statements in this database, in seconds'),
    session_time: counterCol('dpmon_pg_database_session_time_seconds_total', 'Time spent by sessions in this database'),
    idle_in_transaction_time: counterCol(
      'dpmon_pg_database_idle_in_transaction_time_seconds_total',
      'Time spent idling while in a transaction in this database',
    ),
    sessions: counterCol('dpmon_pg_database_sessions_total', 'Sessions established to this database'),
    sessions_abandoned: counterCol('dpmon_pg_database_sessions_abandoned_total', 'Sessions terminated because the client went away'),
    sessions_fatal: counterCol('dpmon_pg_database_sessions_fatal_total', 'Sessions terminated by fatal errors'),
    sessions_killed: counterCol('dpmon_pg_database_sessions_killed_total', 'Sessions terminated by operator intervention'),
  },
};

const cf = (col: string, help: string) => counterCol(`pg_stat_database_conflicts_${col}`, help);

export const statDatabaseConflictsDefinition: PgDefinition = {
  name: 'pg_stat_database_conflicts',
  interval: 'default',
  labels: ['datid', 'datname'],
  params: ['excludeDatabases'],
  variants: [
    {
      minVersion: 13,
      sql: `
SELECT datid::text AS datid, datname, confl_tablespace, confl_lock, confl_snapshot, confl_bufferpin, confl_deadlock
FROM pg_stat_database_conflicts WHERE datname <> ALL($1::text[])`,
    },
  ],
  metrics: {
    confl_tablespace: cf('confl_tablespace', 'Number of queries in this database that have been canceled due to dropped tablespaces'),
    confl_lock: cf('confl_lock', 'Number of queries in this database that have been canceled due to lock timeouts'),
    confl_snapshot: cf('confl_snapshot', 'Number of queries in this database that have been canceled due to old snapshots'),
    confl_bufferpin: cf('confl_bufferpin', 'Number of queries in this database that have been canceled due to pinned buffers'),
    confl_deadlock: cf('confl_deadlock', 'Number of queries in this database that have been canceled due to deadlocks'),
  },
};

// pg_database_size walks every file of the database: at the disk interval, like table sizes.
export const databaseDefinition: PgDefinition = {
  name: 'pg_database',
  interval: 'disk',
  labels: ['datname'],
  params: ['excludeDatabases'],
  variants: [
    {
      minVersion: 13,
      sql: `
SELECT datname, pg_database_size(oid) AS size_bytes, datconnlimit AS connection_limit
FROM pg_database WHERE datname <> ALL($1::text[])`,
    },
  ],
  metrics: {
    size_bytes: gaugeCol('pg_database_size_bytes', 'Disk space used by the database'),
    connection_limit: gaugeCol('pg_database_connection_limit', 'Connection limit set for the database'),
  },
};

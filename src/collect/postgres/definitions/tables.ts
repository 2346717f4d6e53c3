// Table and index usage, from the target's own database only (the DSN's database): these views are
// per database and dpmon keeps one connection per target. Monitor another database by adding a target
// whose DSN names it. Only when `collectTables` is set.
import type { PgDefinition } from '../definition.ts';
import { counterCol, gaugeCol } from './helpers.ts';

const TABLE = ['datname', 'schemaname', 'relname'];
const ut = (col: string, help: string) => counterCol(`pg_stat_user_tables_${col}`, help);
const utg = (col: string, help: string) => gaugeCol(`pg_stat_user_tables_${col}`, help);
const epoch = (col: string) => `extract(epoch FROM COALESCE(${col}, '1970-01-01Z')) AS ${col}`;

// The size functions take an AccessShareLock: against a relation someone holds ACCESS EXCLUSIVE on
// (ALTER TABLE, VACUUM FULL, LOCK TABLE) they would wait until statement_timeout and fail the whole
// definition, so such relations report no size for that run. pg_locks is read once per query through
// the CTE; a correlated subquery per row was much slower with 200 tables.
const lockedCte = `WITH locked AS MATERIALIZED (
  SELECT relation FROM pg_locks
  WHERE mode = 'AccessExclusiveLock' AND relation IS NOT NULL
    AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))`;
const unlocked = (rel: string) => `${rel} NOT IN (SELECT relation FROM locked)`;

export const userTablesDefinition: PgDefinition = {
  name: 'pg_stat_user_tables',
  interval: 'default',
  requires: 'tables',
  labels: TABLE,
  variants: [
    {
      minVersion: 13,
      sql: `
SELECT current_database() AS datname, schemaname, relname, seq_scan, seq_tup_read, idx_scan, idx_tup_fetch,
       n_tup_ins, n_tup_upd, n_tup_del, n_tup_hot_upd, n_live_tup, n_dead_tup, n_mod_since_analyze,
       ${epoch('last_vacuum')}, ${epoch('last_autovacuum')}, ${epoch('last_analyze')}, ${epoch('last_autoanalyze')},
       vacuum_count, autovacuum_count, analyze_count, autoanalyze_count
FROM pg_stat_user_tables`,
    },
  ],
  metrics: {
    seq_scan: ut('seq_scan', 'Number of sequential scans initiated on this table'),
    seq_tup_read: ut('seq_tup_read', 'Number of live rows fetched by sequential scans'),
    idx_scan: ut('idx_scan', 'Number of index scans initiated on this table'),
    idx_tup_fetch: ut('idx_tup_fetch', 'Number of live rows fetched by index scans'),
    n_tup_ins: ut('n_tup_ins', 'Number of rows inserted'),
    n_tup_upd: ut('n_tup_upd', 'Number of rows updated'),
    n_tup_del: ut('n_tup_del', 'Number of rows deleted'),
    n_tup_hot_upd: ut('n_tup_hot_upd', 'Number of rows HOT updated'),
    n_live_tup: utg('n_live_tup', 'Estimated number of live rows'),
    n_dead_tup: utg('n_dead_tup', 'Estimated number of dead rows'),
    n_mod_since_analyze: utg('n_mod_since_analyze', 'Estimated number of rows changed since last analyze'),
    last_vacuum: utg('last_vacuum', 'Last time at which this table was manually vacuumed (not counting VACUUM FULL)'),
    last_autovacuum: utg('last_autovacuum', 'Last time at which this table was vacuumed by the autovacuum daemon'),
    last_analyze: utg('last_analyze', 'Last time at which this table was manually analyzed'),
    last_autoanalyze: utg('last_autoanalyze', 'Last time at which this table was analyzed by the autovacuum daemon'),
    vacuum_count: ut('vacuum_count', 'Number of times this table has been manually vacuumed (not counting VACUUM FULL)'),
    autovacuum_count: ut('autovacuum_count', 'Number of times this table has been vacuumed by the autovacuum daemon'),
    analyze_count: ut('analyze_count', 'Number of times this table has been manually analyzed'),
    autoanalyze_count: ut('autoanalyze_count', 'Number of times this table has been analyzed by the autovacuum daemon'),
  },
};

// Sizes stat() every file of every relation: with 200 tables they cost the server more than all the
// counters together, and they change slowly. So they run at the disk interval (the spec's
// disk_usage.interval, 5m), under the same metric names as postgres_exporter's table query.
export const tableSizesDefinition: PgDefinition = {
  name: 'pg_table_sizes',
  interval: 'disk',
  requires: 'tables',
  labels: TABLE,
  variants: [
    {
      minVersion: 13,
      sql: `${lockedCte}
SELECT current_database() AS datname, schemaname, relname,
       CASE WHEN ${unlocked('relid')} THEN pg_indexes_size(relid) END AS index_size_bytes,
       CASE WHEN ${unlocked('relid')} THEN pg_table_size(relid) END AS table_size_bytes
FROM pg_stat_user_tables`,
    },
  ],
  metrics: {
    index_size_bytes: utg('index_size_bytes', 'Total disk space used by the indexes of this table, in bytes'),
    table_size_bytes: utg('table_size_bytes', 'Total disk space used by this table (with TOAST, free space and visibility maps), in bytes'),
  },
};

const io = (col: string, help: string) => counterCol(`pg_statio_user_tables_${col}`, help);

export const statioUserTablesDefinition: PgDefinition = {
  name: 'pg_statio_user_tables',
  interval: 'default',
  requires: 'tables',
  labels: TABLE,
  variants: [
    {
      minVersion: 13,
      sql: `
SELECT current_database() AS datname, schemaname, relname,
       heap_blks_read, heap_blks_hit, idx_blks_read, idx_blks_hit,
       toast_blks_read, toast_blks_hit, tidx_blks_read, tidx_blks_hit
FROM pg_statio_user_tables`,
    },
  ],
  metrics: {
    heap_blks_read: io('heap_blocks_read', 'Number of disk blocks read from this table'),
    heap_blks_hit: io('heap_blocks_hit', 'Number of buffer hits in this table'),
    idx_blks_read: io('idx_blocks_read', 'Number of disk blocks read from all indexes on this table'),
    idx_blks_hit: io('idx_blocks_hit', 'Number of buffer hits in all indexes on this table'),
    toast_blks_read: io('toast_blocks_read', "Number of disk blocks read from this table's TOAST table (if any)"),
    toast_blks_hit: io('toast_blocks_hit', "Number of buffer hits in this table's TOAST table (if any)"),
    tidx_blks_read: io('tidx_blocks_read', "Number of disk blocks read from this table's TOAST table indexes (if any)"),
    tidx_blks_hit: io('tidx_blocks_hit', "Number of buffer hits in this table's TOAST table indexes (if any)"),
  },
};

export const statioUserIndexesDefinition: PgDefinition = {
  name: 'pg_statio_user_indexes',
  interval: 'default',
  requires: 'tables',
  labels: ['schemaname', 'relname', 'indexrelname'],
  variants: [
    {
      minVersion: 13,
      sql: `SELECT schemaname, relname, indexrelname, idx_blks_read, idx_blks_hit FROM pg_statio_user_indexes`,
    },
  ],
  metrics: {
    idx_blks_read: counterCol('pg_statio_user_indexes_idx_blks_read_total', 'Number of disk blocks read from this index'),
    idx_blks_hit: counterCol('pg_statio_user_indexes_idx_blks_hit_total', 'Number of buffer hits in this index'),
  },
};

export const userIndexesDefinition: PgDefinition = {
  name: 'pg_stat_user_indexes',
  interval: 'default',
  requires: 'tables',
  labels: ['datname', 'schemaname', 'relname', 'indexrelname'],
  variants: [
    {
      minVersion: 13,
      sql: `
SELECT current_database() AS datname, schemaname, relname, indexrelname, idx_scan, idx_tup_read, idx_tup_fetch
FROM pg_stat_user_indexes`,
    },
  ],
  metrics: {
    idx_scan: counterCol('pg_stat_user_indexes_idx_scan', 'Number of index scans initiated on this index'),
    idx_tup_read: counterCol('pg_stat_user_indexes_idx_tup_read', 'Number of index entries returned by scans on this index'),
    idx_tup_fetch: counterCol('pg_stat_user_indexes_idx_tup_fetch', 'Number of live table rows fetched by simple index scans using this index'),
  },
};

/** Index sizes at the disk interval, for the same reason as table sizes. */
export const indexSizesDefinition: PgDefinition = {
  name: 'pg_index_sizes',
  interval: 'disk',
  requires: 'tables',
  labels: ['datname', 'schemaname', 'relname', 'indexrelname'],
  variants: [
    {
      minVersion: 13,
      sql: `${lockedCte}
SELECT current_database() AS datname, schemaname, relname, indexrelname,
       CASE WHEN ${unlocked('indexrelid')} AND ${unlocked('relid')} THEN pg_relation_size(indexrelid) END AS size_bytes
FROM pg_stat_user_indexes`,
    },
  ],
  metrics: {
    size_bytes: gaugeCol('pg_stat_user_indexes_size_bytes', 'Disk space used by this index, in bytes'),
  },
};

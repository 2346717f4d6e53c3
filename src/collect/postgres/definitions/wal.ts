// Write-ahead log: segment count and size on disk (postgres_exporter's wal collector), cumulative WAL
// generation (pg_stat_wal, PostgreSQL 14+), and the primary's WAL position for a write rate.
import type { PgDefinition } from '../definition.ts';
import { counterCol, gaugeCol } from './helpers.ts';

export const walDefinition: PgDefinition = {
  name: 'pg_wal',
  interval: 'default',
  labels: [],
  variants: [
    {
      minVersion: 13,
      sql: `
SELECT count(*) AS segments, COALESCE(sum(size), 0) AS size
FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$'`,
    },
  ],
  metrics: {
    segments: gaugeCol('pg_wal_segments', 'Number of WAL segments'),
    size: gaugeCol('pg_wal_size_bytes', 'Total size of WAL segments'),
  },
};

export const statWalDefinition: PgDefinition = {
  name: 'pg_stat_wal',
  interval: 'default',
  labels: [],
  variants: [
    {
      minVersion: 14,
      sql: `SELECT wal_records, wal_fpi, wal_bytes, wal_buffers_full FROM pg_stat_wal`,
    },
  ],
  metrics: {
    wal_records: counterCol('dpmon_pg_wal_records_total', 'WAL records generated'),
    wal_fpi: counterCol('dpmon_pg_wal_fpi_total', 'WAL full page images generated'),
    wal_bytes: counterCol('dpmon_pg_wal_bytes_total', 'WAL generated in bytes'),
    wal_buffers_full: counterCol('dpmon_pg_wal_buffers_full_total', 'Times WAL data was written to disk because WAL buffers became full'),
  },
};

export const walPositionDefinition: PgDefinition = {
  name: 'pg_wal_position',
  interval: 'default',
  onlyOn: 'primary',
  labels: [],
  variants: [{ minVersion: 13, sql: `SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::float8 AS lsn` }],
  metrics: {
    lsn: gaugeCol('dpmon_pg_wal_lsn_bytes', 'Current WAL insert position in bytes; its rate is the WAL write rate'),
  },
};

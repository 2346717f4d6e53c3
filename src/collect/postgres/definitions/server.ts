// Server identity and configuration: pg_static, version, postmaster start time, pg_settings_*, archiver.
import type { PgDefinition } from '../definition.ts';
import { counterCol, gaugeCol } from './helpers.ts';

export const serverDefinition: PgDefinition = {
  name: 'pg_server',
  interval: 'default',
  labels: ['version', 'short_version'],
  variants: [
    {
      minVersion: 13,
      sql: `
SELECT version() AS version,
       (current_setting('server_version_num')::int / 10000)::text || '.' ||
       (current_setting('server_version_num')::int % 10000)::text || '.0' AS short_version,
       1 AS static,
       current_setting('server_version_num')::int AS version_num,
       extract(epoch FROM pg_postmaster_start_time()) AS start_time`,
    },
  ],
  metrics: {
    static: { name: 'pg_static', type: 'untyped', help: 'Version string as reported by postgres', labels: ['version', 'short_version'] },
    version_num: gaugeCol('dpmon_pg_server_version_num', 'server_version_num of the server (e.g. 160014)', { labels: [] }),
    start_time: gaugeCol('pg_postmaster_start_time_seconds', 'Time at which postmaster started', { labels: [] }),
  },
};

const TIME_UNITS = `('ms', 's', 'min', 'h', 'd')`;
const BYTE_UNIT = `'^[0-9]*(B|kB|MB|GB|TB)$'`;

// postgres_exporter's pg_setting collector in SQL: every numeric and boolean setting as a gauge named
// pg_settings_<name>[_seconds|_bytes], time converted to seconds and memory to bytes; -1 stays -1.
export const settingsDefinition: PgDefinition = {
  name: 'pg_settings',
  interval: 'default',
  labels: [],
  metrics: {},
  dynamic: { nameColumn: 'metric', helpColumn: 'help', valueColumn: 'value' },
  variants: [
    {
      minVersion: 13,
      sql: `
SELECT 'pg_settings_' || replace(replace(name, '.', '_'), '-', '_') ||
         CASE WHEN unit IN ${TIME_UNITS} THEN '_seconds' WHEN unit ~ ${BYTE_UNIT} THEN '_bytes' ELSE '' END AS metric,
       'Server Parameter: ' || name ||
         CASE WHEN unit IN ${TIME_UNITS} THEN ' [Units converted to seconds.]'
              WHEN unit ~ ${BYTE_UNIT} THEN ' [Units converted to bytes.]' ELSE '' END AS help,
       CASE WHEN vartype = 'bool' THEN CASE WHEN setting = 'on' THEN 1 ELSE 0 END::float8
            WHEN setting::float8 = -1 THEN -1::float8
            WHEN unit = 'ms' THEN setting::float8 / 1000
            WHEN unit = 'min' THEN setting::float8 * 60
            WHEN unit = 'h' THEN setting::float8 * 3600
            WHEN unit = 'd' THEN setting::float8 * 86400
            WHEN unit ~ ${BYTE_UNIT} THEN setting::float8
                 * COALESCE(NULLIF(substring(unit FROM '^[0-9]*'), '')::float8, 1)
                 * CASE substring(unit FROM '(B|kB|MB|GB|TB)$')
                     WHEN 'kB' THEN 1024 WHEN 'MB' THEN 1048576 WHEN 'GB' THEN 1073741824
                     WHEN 'TB' THEN 1099511627776 ELSE 1 END
            ELSE setting::float8 END AS value
FROM pg_settings
WHERE vartype IN ('bool', 'integer', 'real')
  AND (unit IS NULL OR unit IN ${TIME_UNITS} OR unit ~ ${BYTE_UNIT})
  AND name NOT IN ('sync_commit_cancel_wait')`,
    },
  ],
};

export const archiverDefinition: PgDefinition = {
  name: 'pg_stat_archiver',
  interval: 'default',
  labels: [],
  variants: [
    {
      minVersion: 13,
      sql: `
SELECT archived_count, failed_count, extract(epoch FROM now() - last_archived_time) AS last_archive_age
FROM pg_stat_archiver`,
    },
  ],
  metrics: {
    archived_count: counterCol('pg_stat_archiver_archived_count', 'Number of WAL files that have been successfully archived'),
    failed_count: counterCol('pg_stat_archiver_failed_count', 'Number of failed attempts for archiving WAL files'),
    last_archive_age: gaugeCol('pg_stat_archiver_last_archive_age', 'Time in seconds since last WAL segment was successfully archived'),
  },
};

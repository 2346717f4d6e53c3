// Locks by database and mode (zero-filled, as postgres_exporter does) and sessions blocked by others.
import type { PgDefinition } from '../definition.ts';
import { gaugeCol } from './helpers.ts';

export const locksDefinition: PgDefinition = {
  name: 'pg_locks',
  interval: 'default',
  labels: ['datname', 'mode'],
  params: ['excludeDatabases'],
  variants: [
    {
      minVersion: 13,
      sql: `
SELECT d.datname, m.mode, COALESCE(l.count, 0) AS count
FROM (VALUES ('accesssharelock'), ('rowsharelock'), ('rowexclusivelock'), ('shareupdateexclusivelock'),
             ('sharelock'), ('sharerowexclusivelock'), ('exclusivelock'), ('accessexclusivelock'),
             ('sireadlock')) AS m(mode)
CROSS JOIN pg_database d
LEFT JOIN (
  SELECT database, lower(mode) AS mode, count(*) AS count
  FROM pg_locks WHERE database IS NOT NULL
  GROUP BY database, lower(mode)
) l ON l.mode = m.mode AND l.database = d.oid
WHERE d.datname <> ALL($1::text[])`,
    },
  ],
  metrics: {
    count: gaugeCol('pg_locks_count', 'Number of locks'),
  },
};

export const blockedSessionsDefinition: PgDefinition = {
  name: 'pg_blocked_sessions',
  interval: 'default',
  labels: ['datname'],
  params: ['excludeDatabases'],
  variants: [
    {
      minVersion: 13,
      sql: `
SELECT d.datname, COALESCE(b.blocked, 0) AS blocked
FROM pg_database d
LEFT JOIN (
  SELECT datid, count(*) AS blocked FROM pg_stat_activity
  WHERE cardinality(pg_blocking_pids(pid)) > 0 GROUP BY datid
) b ON b.datid = d.oid
WHERE d.datname <> ALL($1::text[])`,
    },
  ],
  metrics: {
    blocked: gaugeCol('dpmon_pg_blocked_sessions', 'Sessions blocked by a lock another session holds (pg_blocking_pids)'),
  },
};

// Sessions: pg_stat_activity counts (postgres_exporter names), sessions by user and application,
// lock waits and idle-in-transaction sessions, and the connection-pool view the spec asks for.
// dpmon's own session is excluded everywhere except the used-slots ratio (it does hold a slot).
import type { PgDefinition } from '../definition.ts';
import { gaugeCol } from './helpers.ts';

export const statActivityDefinition: PgDefinition = {
  name: 'pg_stat_activity',
  interval: 'default',
  labels: ['datname', 'state'],
  params: ['excludeDatabases'],
  // zero rows for every (database, state) pair, like postgres_exporter, so alerts see 0 rather than nothing
  variants: [
    {
      minVersion: 13,
      sql: `
SELECT d.datname, s.state,
       COALESCE(a.count, 0) AS count,
       COALESCE(a.max_tx_duration, 0) AS max_tx_duration
FROM (VALUES ('active'), ('idle'), ('idle in transaction'), ('idle in transaction (aborted)'),
             ('fastpath function call'), ('disabled')) AS s(state)
CROSS JOIN pg_database d
LEFT JOIN (
  SELECT datid, state, count(*) AS count,
         max(extract(epoch FROM now() - xact_start))::float8 AS max_tx_duration
  FROM pg_stat_activity
  WHERE pid <> pg_backend_pid()
  GROUP BY datid, state
) a ON a.state = s.state AND a.datid = d.oid
WHERE d.datname <> ALL($1::text[])`,
    },
  ],
  metrics: {
    count: gaugeCol('pg_stat_activity_count', 'number of connections in this state'),
    max_tx_duration: gaugeCol('pg_stat_activity_max_tx_duration', 'max duration in seconds any active transaction has been running'),
  },
};

export const activitySessionsDefinition: PgDefinition = {
  name: 'pg_activity_sessions',
  interval: 'default',
  labels: ['datname', 'usename', 'application_name', 'state'],
  params: ['excludeDatabases'],
  variants: [
    {
      minVersion: 13,
      sql: `
SELECT datname, usename, application_name, state, count(*) AS sessions
FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND datname <> ALL($1::text[])
GROUP BY datname, usename, application_name, state`,
    },
  ],
  metrics: {
    sessions: gaugeCol('dpmon_pg_activity_sessions', 'Client sessions by database, user, application and state (dpmon excluded)'),
  },
};

export const activitySummaryDefinition: PgDefinition = {
  name: 'pg_activity_summary',
  interval: 'default',
  labels: ['datname'],
  params: ['excludeDatabases'],
  variants: [
    {
      minVersion: 13,
      sql: `
SELECT d.datname,
       count(a.pid) FILTER (WHERE a.wait_event_type = 'Lock') AS waiting,
       count(a.pid) FILTER (WHERE a.state LIKE 'idle in transaction%') AS idle_in_transaction,
       COALESCE(max(extract(epoch FROM now() - a.state_change))
                FILTER (WHERE a.state LIKE 'idle in transaction%'), 0)::float8 AS max_idle_in_transaction,
       COALESCE(max(extract(epoch FROM now() - a.query_start))
                FILTER (WHERE a.state = 'active' AND a.backend_type = 'client backend'), 0)::float8 AS max_query_duration
FROM pg_database d
LEFT JOIN pg_stat_activity a ON a.datid = d.oid AND a.pid <> pg_backend_pid()
WHERE d.datname <> ALL($1::text[])
GROUP BY d.datname`,
    },
  ],
  metrics: {
    waiting: gaugeCol('dpmon_pg_activity_waiting_sessions', 'Sessions waiting for a lock (wait_event_type Lock)'),
    idle_in_transaction: gaugeCol('dpmon_pg_activity_idle_in_transaction_sessions', 'Sessions idle in a transaction, aborted or not'),
    max_idle_in_transaction: gaugeCol(
      'dpmon_pg_activity_max_idle_in_transaction_seconds',
      'Longest time a session has been idle in a transaction, 0 when none is',
    ),
    max_query_duration: gaugeCol(
      'dpmon_pg_activity_max_query_duration_seconds',
      'Longest running active query of a client session (dpmon excluded), 0 when none is',
    ),
  },
};

// The spec's connection pool metrics (active_connections, waiting_connections, idle_connections).
// The states are disjoint: a session waiting for a lock counts as waiting, not active.
export const connectionsDefinition: PgDefinition = {
  name: 'pg_connections',
  interval: 'connections',
  labels: [],
  variants: [
    {
      minVersion: 13,
      sql: `
SELECT count(*) FILTER (WHERE state = 'active' AND wait_event_type IS DISTINCT FROM 'Lock') AS active,
       count(*) FILTER (WHERE wait_event_type = 'Lock') AS waiting,
       count(*) FILTER (WHERE state = 'idle') AS idle,
       count(*) FILTER (WHERE state LIKE 'idle in transaction%') AS idle_in_transaction,
       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::float8
         / current_setting('max_connections')::float8 AS used_ratio
FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`,
    },
  ],
  metrics: {
    active: gaugeCol('dpmon_pg_connections', 'Client connections by state (dpmon excluded)', { constLabels: { state: 'active' } }),
    waiting: gaugeCol('dpmon_pg_connections', 'Client connections by state (dpmon excluded)', { constLabels: { state: 'waiting' } }),
    idle: gaugeCol('dpmon_pg_connections', 'Client connections by state (dpmon excluded)', { constLabels: { state: 'idle' } }),
    idle_in_transaction: gaugeCol('dpmon_pg_connections', 'Client connections by state (dpmon excluded)', {
      constLabels: { state: 'idle_in_transaction' },
    }),
    used_ratio: gaugeCol('dpmon_pg_connections_used_ratio', 'Client backends (dpmon included) divided by max_connections, 0..1'),
  },
};

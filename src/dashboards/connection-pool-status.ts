// The spec's Grafana `connection_pool_status` dashboard (database_metrics.connection_pools).
import type { Config } from '../config/index.ts';
import { connectionPoolGauge } from './panels.ts';
import type { DashboardDef } from './types.ts';

/** The states dpmon_pg_connections has (docs/metrics.md). */
const STATES = new Set(['active', 'waiting', 'idle', 'idle_in_transaction']);

/** connection_pools.monitoring.metrics (`active_connections`, …) as a state matcher; none known: every state. */
function states(c: Config): string {
  const s = c.databaseMetrics.connectionPools.monitoring.metrics.map((m) => m.replace(/_connections$/, '')).filter((m) => STATES.has(m));
  return s.length ? `{state=~"${s.join('|')}"}` : '';
}

export const connectionPoolStatus: DashboardDef = {
  name: 'connection_pool_status',
  title: 'Connection Pool Status',
  description: 'Connection use against the connection_pools thresholds, by state',
  refresh: '30s',
  panels: [
    connectionPoolGauge,
    {
      title: 'Connections by State',
      type: 'graph',
      unit: 'short',
      min: 0,
      description: 'the states connection_pools.monitoring.metrics names',
      queries: (c) => [{ expr: `dpmon_pg_connections${states(c)}`, legend: '{{instance}} {{state}}' }],
    },
    {
      title: 'Max Connections',
      type: 'stat',
      unit: 'short',
      queries: () => [{ expr: 'pg_settings_max_connections', legend: '{{instance}}' }],
    },
    {
      title: 'Sessions Waiting for a Lock',
      type: 'graph',
      unit: 'short',
      min: 0,
      queries: () => [{ expr: 'dpmon_pg_activity_waiting_sessions', legend: '{{instance}} {{datname}}' }],
    },
    {
      title: 'Idle in Transaction',
      type: 'graph',
      unit: 'short',
      min: 0,
      queries: () => [{ expr: 'dpmon_pg_activity_idle_in_transaction_sessions', legend: '{{instance}} {{datname}}' }],
    },
  ],
};

// The spec's `overview` dashboard: connections, statement time and disk at a glance.
import { connectionPercent, meanStatementMs, percentOf, responseTimeThresholds } from './queries.ts';
import type { DashboardDef } from './types.ts';

export const overview: DashboardDef = {
  name: 'overview',
  title: 'Overview',
  description: 'Connections, statement time and disk space of every monitored server',
  refresh: '1m',
  panels: [
    {
      title: 'Connection Pool Status',
      type: 'gauge',
      unit: 'percent',
      min: 0,
      max: 100,
      description: 'client connections in use, % of max_connections (or connection_pools.max_connections when lower)',
      thresholds: (c) => ({ warning: c.databaseMetrics.connectionPools.thresholdWarning, critical: c.databaseMetrics.connectionPools.thresholdCritical }),
      queries: (c) => [{ expr: connectionPercent(c), legend: '{{instance}}' }],
    },
    {
      title: 'Query Performance',
      type: 'graph',
      unit: 'ms',
      min: 0,
      description: 'mean statement execution time (pg_stat_statements), judged by the response_time rule',
      thresholds: responseTimeThresholds,
      queries: () => [{ expr: meanStatementMs(), legend: '{{instance}}' }],
    },
    {
      title: 'Disk Usage',
      type: 'gauge',
      unit: 'percent',
      min: 0,
      max: 100,
      description: 'used space of the filesystems holding the monitored paths (df Use%)',
      thresholds: (c) => ({ warning: c.systemMetrics.resourceMonitoring.diskUsage.thresholdWarning, critical: c.systemMetrics.resourceMonitoring.diskUsage.thresholdCritical }),
      queries: () => [{ expr: percentOf('disk'), legend: '{{mountpoint}}' }],
    },
  ],
};

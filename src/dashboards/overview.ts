// The spec's `overview` dashboard: connections, statement time and disk at a glance.
import { connectionPoolGauge } from './panels.ts';
import { meanStatementMs, percentOf, responseTimeThresholds } from './queries.ts';
import type { DashboardDef } from './types.ts';

export const overview: DashboardDef = {
  name: 'overview',
  title: 'Overview',
  description: 'Connections, statement time and disk space of every monitored server',
  refresh: '1m',
  panels: [
    connectionPoolGauge,
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

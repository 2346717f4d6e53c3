// The spec's `performance` dashboard: what runs now, the buffer cache and disk I/O.
import { cacheHitPercent, cacheHitThreshold, rangeFor } from './queries.ts';
import type { DashboardDef } from './types.ts';

export const performance: DashboardDef = {
  name: 'performance',
  title: 'Performance',
  description: 'Active queries, cache hit ratio and disk I/O',
  refresh: '30s',
  panels: [
    {
      title: 'Active Queries',
      type: 'table',
      unit: 'short',
      description: 'client sessions running a statement, per database, user and application (dpmon excluded)',
      queries: () => [{ expr: 'dpmon_pg_activity_sessions{state="active"}', legend: '{{instance}} {{datname}} {{usename}}' }],
    },
    {
      title: 'Cache Hit Ratio',
      type: 'graph',
      unit: 'percent',
      min: 0,
      max: 100,
      description: 'blocks found in shared buffers, % of blocks read; the low_cache_hit_ratio rule fires below the line',
      thresholds: (c) => ({ critical: cacheHitThreshold(c), direction: 'below' }),
      queries: () => [{ expr: cacheHitPercent(), legend: '{{instance}} {{datname}}' }],
    },
    {
      title: 'IO Utilization',
      type: 'graph',
      unit: 'percentunit',
      min: 0,
      max: 1,
      description: 'share of time each block device was busy with I/O (iostat %util)',
      // diskstats is collected at disk_usage.interval, so the window spans several of its samples
      queries: (c) => [{ expr: `rate(node_disk_io_time_seconds_total[${rangeFor(c.systemMetrics.resourceMonitoring.diskUsage.intervalMs)}])`, legend: '{{device}}' }],
    },
  ],
};

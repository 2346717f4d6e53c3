// The spec's Grafana `resource-trends` dashboard: host and connection use over time.
import { rangeFor } from './queries.ts';
import type { DashboardDef } from './types.ts';

export const resourceTrends: DashboardDef = {
  name: 'resource-trends',
  title: 'Resource Trends',
  description: 'Load, memory, disk, network and connections over time',
  refresh: '1m',
  panels: [
    {
      title: 'Load Average',
      type: 'graph',
      unit: 'short',
      min: 0,
      queries: () => [
        { expr: 'node_load1', legend: '1m {{instance}}' },
        { expr: 'node_load5', legend: '5m {{instance}}' },
        { expr: 'node_load15', legend: '15m {{instance}}' },
      ],
    },
    {
      title: 'Memory Available',
      type: 'graph',
      unit: 'bytes',
      min: 0,
      queries: () => [
        { expr: 'node_memory_MemAvailable_bytes', legend: 'available {{instance}}' },
        { expr: 'node_memory_MemTotal_bytes', legend: 'total {{instance}}' },
      ],
    },
    {
      title: 'Disk Space Used',
      type: 'graph',
      unit: 'bytes',
      min: 0,
      queries: () => [{ expr: 'node_filesystem_size_bytes - node_filesystem_free_bytes', legend: '{{mountpoint}}' }],
    },
    {
      title: 'Network Traffic',
      type: 'graph',
      unit: 'Bps',
      queries: (c) => [
        { expr: `rate(node_network_receive_bytes_total[${rangeFor(c.resourceMonitoring.collectionIntervalMs)}])`, legend: 'in {{device}}' },
        { expr: `rate(node_network_transmit_bytes_total[${rangeFor(c.resourceMonitoring.collectionIntervalMs)}])`, legend: 'out {{device}}' },
      ],
    },
    {
      title: 'Connections by State',
      type: 'graph',
      unit: 'short',
      min: 0,
      queries: () => [{ expr: 'dpmon_pg_connections', legend: '{{instance}} {{state}}' }],
    },
  ],
};

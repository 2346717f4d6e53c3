// The spec's Grafana `system-health` dashboard: the custom health metrics and what feeds them.
import { percentOf } from './queries.ts';
import type { DashboardDef } from './types.ts';

export const systemHealth: DashboardDef = {
  name: 'system-health',
  title: 'System Health',
  description: 'system_health_index, resource_usage_score and their inputs',
  refresh: '1m',
  panels: [
    {
      title: 'System Health Index',
      type: 'gauge',
      unit: 'short',
      min: 0,
      max: 100,
      description: '100 when every check is below its warning threshold, 0 when all are critical or down',
      queries: () => [{ expr: 'system_health_index', legend: '{{instance}}' }],
    },
    {
      title: 'Resource Usage Score',
      type: 'gauge',
      unit: 'percent',
      min: 0,
      max: 100,
      description: 'utilisation of the most used resource',
      queries: () => [{ expr: 'resource_usage_score', legend: '{{instance}}' }],
    },
    {
      title: 'PostgreSQL Up',
      type: 'stat',
      unit: 'short',
      description: '1 when the target answered its last collection',
      thresholds: () => ({ critical: 0.5, direction: 'below' }),
      queries: () => [{ expr: 'pg_up', legend: '{{instance}}' }],
    },
    {
      title: 'CPU Usage',
      type: 'graph',
      unit: 'percent',
      min: 0,
      description: 'per cpu_usage.collection.method: load per core, or busy share',
      thresholds: (c) => ({ warning: c.systemMetrics.resourceMonitoring.cpuUsage.thresholdWarning, critical: c.systemMetrics.resourceMonitoring.cpuUsage.thresholdCritical }),
      queries: () => [{ expr: percentOf('cpu'), legend: '{{instance}}' }],
    },
    {
      title: 'Memory Usage',
      type: 'graph',
      unit: 'percent',
      min: 0,
      max: 100,
      thresholds: (c) => ({ warning: c.systemMetrics.resourceMonitoring.memoryUsage.thresholdWarning, critical: c.systemMetrics.resourceMonitoring.memoryUsage.thresholdCritical }),
      queries: () => [{ expr: percentOf('memory'), legend: '{{instance}}' }],
    },
    {
      title: 'Firing Alerts',
      type: 'stat',
      unit: 'short',
      description: 'alert instances the rules engine holds as firing',
      queries: () => [{ expr: 'sum(dpmon_alerts{state="firing"})', legend: 'firing' }],
    },
  ],
};

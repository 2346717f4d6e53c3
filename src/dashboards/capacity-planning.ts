// The spec's Grafana `capacity-planning` dashboard: where disk, databases and connections are heading.
import { connectionPercent, percentOf, promDuration } from './queries.ts';
import type { Config } from '../config/index.ts';
import type { DashboardDef } from './types.ts';

/** alert_rules.high_severity.disk_space.monitoring.prediction_window, as the disk_space rule predicts (6h by default). */
const predictionMs = (c: Config) => c.alertRules.highSeverity?.['disk_space']?.monitoring?.predictionWindowMs ?? 6 * 3600_000;

export const capacityPlanning: DashboardDef = {
  name: 'capacity-planning',
  title: 'Capacity Planning',
  description: 'Disk usage and its linear forecast, database and WAL sizes, connection headroom',
  refresh: '5m',
  panels: [
    {
      title: 'Disk Usage Forecast',
      type: 'graph',
      unit: 'percent',
      min: 0,
      max: 100,
      description: 'used space now and extrapolated over the disk_space rule prediction window',
      thresholds: (c) => ({ warning: c.systemMetrics.resourceMonitoring.diskUsage.thresholdWarning, critical: c.systemMetrics.resourceMonitoring.diskUsage.thresholdCritical }),
      queries: (c) => {
        const ms = predictionMs(c);
        // the trend is fitted over a quarter of the window, as the rule does
        return [
          { expr: percentOf('disk'), legend: 'used {{mountpoint}}' },
          { expr: `100 * predict_linear(dpmon_resource_utilization_ratio{resource="disk"}[${promDuration(ms / 4)}], ${Math.round(ms / 1000)})`, legend: `in ${promDuration(ms)} {{mountpoint}}` },
        ];
      },
    },
    {
      title: 'Database Size',
      type: 'graph',
      unit: 'bytes',
      min: 0,
      queries: () => [{ expr: 'pg_database_size_bytes', legend: '{{instance}} {{datname}}' }],
    },
    {
      title: 'WAL Size',
      type: 'graph',
      unit: 'bytes',
      min: 0,
      queries: () => [{ expr: 'pg_wal_size_bytes', legend: '{{instance}}' }],
    },
    {
      title: 'Connection Headroom',
      type: 'graph',
      unit: 'percent',
      min: 0,
      max: 100,
      thresholds: (c) => ({ warning: c.databaseMetrics.connectionPools.thresholdWarning, critical: c.databaseMetrics.connectionPools.thresholdCritical }),
      queries: (c) => [{ expr: connectionPercent(c), legend: '{{instance}}' }],
    },
  ],
};

// Panels that stand on more than one dashboard, defined once so the dashboards never disagree.
import { connectionPercent } from './queries.ts';
import type { PanelDef } from './types.ts';

/** the spec's Connection Pool Status gauge (overview, connection_pool_status) */
export const connectionPoolGauge: PanelDef = {
  title: 'Connection Pool Status',
  type: 'gauge',
  unit: 'percent',
  min: 0,
  max: 100,
  description: 'client connections in use, % of max_connections (or connection_pools.max_connections when lower)',
  thresholds: (c) => ({ warning: c.databaseMetrics.connectionPools.thresholdWarning, critical: c.databaseMetrics.connectionPools.thresholdCritical }),
  queries: (c) => [{ expr: connectionPercent(c), legend: '{{instance}}' }],
};

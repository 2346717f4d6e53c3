// The built-in dashboards, in the order the API lists them: the spec's `dashboards:` two, then the six
// monitoring_integration.grafana.dashboards names. A new built-in dashboard is a new file and a line here.
import { capacityPlanning } from './capacity-planning.ts';
import { connectionPoolStatus } from './connection-pool-status.ts';
import { overview } from './overview.ts';
import { performance } from './performance.ts';
import { queryPerformance } from './query-performance.ts';
import { replicationHealth } from './replication-health.ts';
import { resourceTrends } from './resource-trends.ts';
import { systemHealth } from './system-health.ts';
import type { DashboardDef } from './types.ts';

export const BUILTIN_DASHBOARDS: readonly DashboardDef[] = [
  overview,
  performance,
  systemHealth,
  resourceTrends,
  capacityPlanning,
  connectionPoolStatus,
  queryPerformance,
  replicationHealth,
];


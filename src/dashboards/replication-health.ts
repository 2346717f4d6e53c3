// The spec's Grafana `replication_health` dashboard (database_metrics.replication).
import { replicationLag } from './queries.ts';
import type { DashboardDef } from './types.ts';

export const replicationHealth: DashboardDef = {
  name: 'replication_health',
  title: 'Replication Health',
  description: 'Lag against the replication thresholds, slots and the WAL they retain',
  refresh: '30s',
  panels: [
    {
      title: 'Replication Lag',
      type: 'graph',
      unit: (c) => replicationLag(c).unit,
      min: 0,
      description: 'per standby on the primary, and a standby own replay delay; the replication_delay rule reads it',
      thresholds: (c) => {
        const l = replicationLag(c);
        return { warning: l.warning, critical: l.critical };
      },
      queries: (c) => [{ expr: replicationLag(c).expr, legend: '{{instance}} {{application_name}}' }],
    },
    {
      title: 'Is Replica',
      type: 'stat',
      unit: 'short',
      description: '1 on a standby, 0 on a primary',
      queries: () => [{ expr: 'pg_replication_is_replica', legend: '{{instance}}' }],
    },
    {
      title: 'Slot Retained WAL',
      type: 'graph',
      unit: 'bytes',
      min: 0,
      description: 'WAL each replication slot keeps from removal; an inactive slot fills pg_wal',
      queries: () => [{ expr: 'dpmon_pg_replication_slot_retained_wal_bytes', legend: '{{instance}} {{slot_name}}' }],
    },
    {
      title: 'Replication Slots',
      type: 'table',
      unit: 'short',
      description: '1 when the slot is in use',
      queries: () => [{ expr: 'pg_replication_slots_active', legend: '{{instance}} {{slot_name}}' }],
    },
  ],
};

// The spec's Grafana `query_performance` dashboard (database_metrics.query_performance).
import { meanStatementMs, promDuration, rangeFor, responseTimeThresholds } from './queries.ts';
import type { DashboardDef } from './types.ts';

export const queryPerformance: DashboardDef = {
  name: 'query_performance',
  title: 'Query Performance',
  description: 'Statement time, long-running queries, throughput and deadlocks',
  refresh: '30s',
  panels: [
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
      title: 'Longest Running Query',
      type: 'graph',
      unit: 's',
      min: 0,
      description: 'the query_timeout rule fires above long_running_threshold',
      thresholds: (c) => ({ critical: c.databaseMetrics.queryPerformance.longRunningThresholdMs / 1000 }),
      queries: () => [{ expr: 'dpmon_pg_activity_max_query_duration_seconds', legend: '{{instance}} {{datname}}' }],
    },
    {
      title: 'Transactions',
      type: 'graph',
      unit: 'ops',
      min: 0,
      queries: (c) => {
        const r = rangeFor(c.resourceMonitoring.collectionIntervalMs);
        return [
          { expr: `sum by (instance, datname) (rate(pg_stat_database_xact_commit[${r}]))`, legend: 'commit {{instance}} {{datname}}' },
          { expr: `sum by (instance, datname) (rate(pg_stat_database_xact_rollback[${r}]))`, legend: 'rollback {{instance}} {{datname}}' },
        ];
      },
    },
    {
      title: 'Deadlocks',
      type: 'graph',
      unit: 'short',
      min: 0,
      description: 'deadlocks per deadlock_check_interval',
      queries: (c) => [{ expr: `increase(pg_stat_database_deadlocks[${promDuration(Math.max(60_000, c.databaseMetrics.queryPerformance.deadlockCheckIntervalMs))}])`, legend: '{{instance}} {{datname}}' }],
    },
    {
      title: 'Top Statements by Time',
      type: 'table',
      unit: 's',
      description: 'the ten statements that spent the most execution time per second over 5 minutes',
      queries: () => [{ expr: 'topk(10, rate(pg_stat_statements_seconds_total[5m]))', legend: '{{instance}} {{datname}} {{queryid}}' }],
    },
  ],
};

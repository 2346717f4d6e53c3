// PromQL shared by several dashboards. Where a rule judges the same thing, the expression is the
// rule's (src/rules/builtin.ts), so a panel shows the value the alert fires on.
import type { Config } from '../config/index.ts';

/** A range for rate()/increase() over a metric collected every `intervalMs`: four samples, at least 5m. */
export function rangeFor(intervalMs: number): string {
  return promDuration(Math.max(300_000, 4 * intervalMs));
}

/** The history range as Prometheus writes it ("5m" rather than "300s" where it divides). */
export function promDuration(ms: number): string {
  const s = Math.max(1, Math.round(ms / 1000));
  if (s % 3600 === 0) return `${s / 3600}h`;
  if (s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

/** Connections in use as % of the budget: the server's max_connections, or the config's when lower (the connection_saturation rule's). */
export function connectionPercent(config: Config): string {
  const budget = config.databaseMetrics.connectionPools.maxConnections;
  return `100 * (dpmon_pg_connections_used_ratio * on(instance) pg_settings_max_connections) / on(instance) clamp_max(pg_settings_max_connections, ${budget})`;
}

/** Per-resource utilisation in percent, as the cpu/memory/disk rules read it. */
export const percentOf = (resource: 'cpu' | 'memory' | 'disk' | 'connections') => `100 * dpmon_resource_utilization_ratio{resource="${resource}"}`;

/** Mean statement time in ms per target from pg_stat_statements (the response_time rule's). */
export function meanStatementMs(range = '5m'): string {
  return `1000 * sum by (instance) (rate(pg_stat_statements_seconds_total[${range}])) / sum by (instance) (rate(pg_stat_statements_calls_total[${range}]))`;
}

/** Shared-buffer hit ratio in % per database (the low_cache_hit_ratio rule's; idle databases have none). */
export function cacheHitPercent(): string {
  const hit = 'sum by (instance, datname) (rate(pg_stat_database_blks_hit[5m]))';
  const read = 'sum by (instance, datname) (rate(pg_stat_database_blks_read[5m]))';
  return `100 * ${hit} / ((${hit} + ${read}) > 0)`;
}

/** Replication lag as the replication_delay rule measures it: ms, or bytes when the thresholds are sizes. */
export function replicationLag(config: Config): { expr: string; unit: 'ms' | 'bytes'; warning: number; critical: number } {
  const r = config.databaseMetrics.replication;
  const kind = r.lagThresholdCritical.kind;
  const warning = r.lagThresholdWarning.kind === kind ? r.lagThresholdWarning.value : r.lagThresholdCritical.value;
  return kind === 'bytes'
    ? { expr: 'dpmon_pg_replication_lag_bytes or dpmon_pg_standby_replay_lag_bytes', unit: 'bytes', warning, critical: r.lagThresholdCritical.value }
    : { expr: '1000 * dpmon_pg_replication_replay_lag_seconds or 1000 * pg_replication_lag_seconds', unit: 'ms', warning, critical: r.lagThresholdCritical.value };
}

/** The response_time rule's thresholds in ms: critical at its threshold, warning at its recovery threshold. */
export function responseTimeThresholds(config: Config): { warning?: number; critical?: number } | undefined {
  const r = config.alertRules.highSeverity?.['response_time'];
  if (!r || r.threshold.kind !== 'duration') return undefined;
  const rec = r.monitoring?.recoveryThreshold;
  return { warning: rec && rec.kind === 'duration' ? rec.value : undefined, critical: r.threshold.value };
}

/** low_cache_hit_ratio's threshold (auto_remediation), 50 % when absent, as the rule reads it. */
export function cacheHitThreshold(config: Config): number {
  const t = config.autoRemediation.actions.find((a) => a.trigger === 'low_cache_hit_ratio')?.threshold;
  return t && t.kind === 'percent' ? t.value : 50;
}

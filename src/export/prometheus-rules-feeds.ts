// Input series for the generated promtool tests (prometheus-rules-tests.ts): for dpmon's built-in rules,
// series that make the rule's measured value equal a chosen v; for a rule of yours, series when its
// expression is `k * selector` or `selector OP number` with equality matchers (docs/exports.md).
import type { Config } from '../config/index.ts';
import type { Labels } from '../model/labels.ts';
import type { ExportedAlert } from './prometheus-rules.ts';

/** One input series: `start`, then `start + inc` per step (a gauge has inc 0, a counter inc > 0). */
export interface Fed {
  readonly name: string;
  readonly labels: Labels;
  readonly start: number;
  readonly inc: number;
}

const PG = { instance: 'pg1' };

const gauge = (name: string, labels: Labels, value: number): Fed => ({ name, labels, start: value, inc: 0 });
const counter = (name: string, labels: Labels, perStep: number): Fed => ({ name, labels, start: 0, inc: perStep });

/** Series for dpmon's built-in rules: each makes the rule's measured value equal v. */
export function feed(a: ExportedAlert, v: number, config: Config): Fed[] | undefined {
  const r = a.def;
  const ratio = (resource: string, extra: Labels = {}) => [gauge('dpmon_resource_utilization_ratio', { resource, instance: 'host1', ...extra }, v / 100)];
  const db = { ...PG, datname: 'app' };
  let out: Fed[] | undefined;
  switch (r.name) {
    case 'cpu_usage':
      out = ratio('cpu');
      break;
    case 'memory_usage':
      out = ratio('memory');
      break;
    case 'resource-exhaustion':
      out = ratio('memory');
      break;
    case 'disk_usage':
    case 'disk_space':
      out = ratio('disk', { mountpoint: '/data' });
      break;
    case 'connection_saturation':
    case 'connection_count': {
      // max_connections equal to the budget: the percentage is the used ratio
      const budget = config.databaseMetrics.connectionPools.maxConnections;
      out = [gauge('dpmon_pg_connections_used_ratio', PG, v / 100), gauge('pg_settings_max_connections', PG, budget)];
      break;
    }
    case 'query_timeout':
      out = [gauge('dpmon_pg_activity_max_query_duration_seconds', db, v)];
      break;
    case 'idle_in_transaction':
      out = [gauge('dpmon_pg_activity_max_idle_in_transaction_seconds', db, v)];
      break;
    case 'deadlocks':
      // a deadlock a step while the value is to breach, none once it is to clear
      out = [counter('pg_stat_database_deadlocks', db, v >= 1 ? 1 : 0)];
      break;
    case 'replication_delay':
    case 'replication_lag': {
      const standby = { ...PG, application_name: 'standby1' };
      out = r.unit === 'bytes' ? [gauge('dpmon_pg_replication_lag_bytes', standby, v)] : [gauge('dpmon_pg_replication_replay_lag_seconds', standby, v / 1000)];
      break;
    }
    case 'replication_slot_inactive': {
      const slot = { ...PG, slot_name: 'standby1' };
      out = [gauge('dpmon_pg_replication_slot_retained_wal_bytes', slot, 1024 ** 3), gauge('pg_replication_slots_active', slot, 0)];
      break;
    }
    case 'low_cache_hit_ratio':
      out = [counter('pg_stat_database_blks_hit', db, v), counter('pg_stat_database_blks_read', db, 100 - v)];
      break;
    case 'target_down':
      out = [gauge('pg_up', PG, 0)];
      break;
    case 'storage_full':
      out = [gauge('dpmon_data_dir_free_ratio', { instance: 'dpmon' }, v / 100), gauge('dpmon_data_dir_free_bytes', { instance: 'dpmon' }, 100 * 1024 ** 2)];
      break;
    case 'response_time':
      // ten calls a step taking v ms each: the mean statement time is v ms
      out = [counter('pg_stat_statements_calls_total', PG, 10), counter('pg_stat_statements_seconds_total', PG, (10 * v) / 1000)];
      break;
  }
  // a user rule that shares a built-in's name but not its expression gets no built-in series
  return out && out.every((f) => r.expr.includes(f.name)) ? out : undefined;
}

const SELECTOR = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?$/;
const NUMBER = '([+-]?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][+-]?\\d+)?)';

/** Series for a rule of the shapes `k * selector` (with a threshold) or `selector OP number` (without). */
export function genericFeed(a: ExportedAlert, v: number | undefined): Fed[] | undefined {
  const expr = a.def.expr.trim();
  if (v !== undefined) {
    const m = new RegExp(`^(?:${NUMBER}\\s*\\*\\s*)?(.+)$`).exec(expr);
    const sel = m && selector(m[2]!);
    const k = m?.[1] ? Number(m[1]) : 1;
    return sel && k !== 0 ? [gauge(sel.name, sel.labels, v / k)] : undefined;
  }
  const m = new RegExp(`^(.+?)\\s*(>=|<=|==|>|<)\\s*${NUMBER}$`).exec(expr);
  const sel = m && selector(m[1]!);
  if (!m || !sel) return undefined;
  const n = Number(m[3]);
  const value = m[2] === '>' ? n + 1 : m[2] === '<' ? n - 1 : n;
  return [gauge(sel.name, sel.labels, value)];
}

/** A selector with equality matchers only, as the labels of a series it selects (plus an instance). */
function selector(text: string): { name: string; labels: Labels } | undefined {
  const m = SELECTOR.exec(text.trim());
  if (!m) return undefined;
  const labels: Record<string, string> = { ...PG };
  for (const part of (m[2] ?? '').split(',').filter((p) => p.trim())) {
    const eq = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"([^"\\]*)"\s*$/.exec(part);
    if (!eq) return undefined;
    labels[eq[1]!] = eq[2]!;
  }
  return { name: m[1]!, labels };
}

export function seriesText(f: Fed): string {
  return `${f.name}{${Object.entries(f.labels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(', ')}}`;
}


// Builds every rule from the config, with no rule file: the spec's thresholds (system_metrics,
// database_metrics), its alert_rules, its named alerts, and prometheus_config's expression rules.
// docs/rules.md lists each rule with its expression, unit, interval and severity; the decisions the
// spec leaves open are written there and beside the code that makes them.
import type { Config, Threshold } from '../config/index.ts';
import type { Labels } from '../model/labels.ts';
import { parseExpr } from '../query/index.ts';
import type { AlertRuleDef, RecordRuleDef, RuleDef, RuleGroupDef, RuleProblem, Severity, ThresholdCondition, Unit, WindowFunction } from './rule.ts';
import { compileTemplate, type CompiledTemplate } from './template.ts';
import { classifySeverity } from '../model/severity.ts';

export { classifySeverity };

/** A rule without recovery_threshold resolves 5 % below (above, for "below" rules) its threshold. */
export const DEFAULT_RECOVERY_RATIO = 0.95;
/** Built-in recording rule: mean statement time per target, the input of response_time and performance-degradation. */
export const STATEMENT_MEAN_RECORD = 'dpmon:pg_statement_mean_seconds:rate5m';

/** storage_full fires when dpmon's data directory filesystem has less than this percent free… */
export const STORAGE_FULL_PERCENT = 5;
/** …and also less than this many bytes (1 GiB) */
export const STORAGE_FULL_BYTES = 1024 * 1024 * 1024;
/** …and resolves above this percent (or above STORAGE_FULL_BYTES) */
export const STORAGE_FULL_RECOVERY_PERCENT = 10;

export const NAMED_ALERTS = {
  prometheus: ['connection_saturation', 'replication_delay', 'query_timeout'],
  grafana: ['resource-exhaustion', 'performance-degradation'],
} as const;

interface Measure {
  readonly expr: (windowMs: number) => string;
  readonly unit: Unit;
  readonly windowFn: WindowFunction;
  readonly summary: string;
}

const percentOf = (resource: string) => `100 * dpmon_resource_utilization_ratio{resource="${resource}"}`;

/** Connections in use as % of the budget: the server's max_connections, or the config's when lower. */
function connectionPercent(config: Config): string {
  const budget = config.databaseMetrics.connectionPools.maxConnections;
  return `100 * (dpmon_pg_connections_used_ratio * on(instance) pg_settings_max_connections) / on(instance) clamp_max(pg_settings_max_connections, ${budget})`;
}

function lagExpr(kind: 'duration' | 'bytes'): string {
  // primary side per replica, and a standby's own view of its replay
  return kind === 'duration'
    ? '1000 * dpmon_pg_replication_replay_lag_seconds or 1000 * pg_replication_lag_seconds'
    : 'dpmon_pg_replication_lag_bytes or dpmon_pg_standby_replay_lag_bytes';
}

const rangeOf = (ms: number) => `${Math.max(1, Math.round(ms / 1000))}s`;

/** Built-in expressions for the spec's alert_rules names; a rule with `expr` overrides. */
function alertRuleMeasures(config: Config): Record<string, (t: Threshold) => Measure> {
  return {
    response_time: () => ({
      // mean statement execution time in ms over the window, from pg_stat_statements
      expr: (w) =>
        `1000 * sum by (instance) (rate(pg_stat_statements_seconds_total[${rangeOf(w || 300_000)}])) / sum by (instance) (rate(pg_stat_statements_calls_total[${rangeOf(w || 300_000)}]))`,
      unit: 'milliseconds',
      windowFn: 'last',
      summary: 'mean statement time on {{ $labels.instance }} is {{ $value | printf "%.0f" }} ms',
    }),
    disk_space: () => ({
      expr: () => percentOf('disk'),
      unit: 'percent',
      windowFn: 'avg',
      summary: 'filesystem {{ $labels.mountpoint }} is {{ $value | printf "%.1f" }}% full',
    }),
    connection_count: () => ({
      expr: () => connectionPercent(config),
      unit: 'percent',
      windowFn: 'avg',
      summary: '{{ $labels.instance }} uses {{ $value | printf "%.0f" }}% of its connections',
    }),
    replication_lag: (t) => ({
      expr: () => lagExpr(t.kind === 'bytes' ? 'bytes' : 'duration'),
      unit: t.kind === 'bytes' ? 'bytes' : 'milliseconds',
      windowFn: 'avg',
      summary: 'replication lag on {{ $labels.instance }} {{ $labels.application_name }} is {{ $value | printf "%.0f" }}',
    }),
  };
}

const SEVERITY_OF_GROUP: Record<string, Severity> = { highSeverity: 'high', mediumSeverity: 'medium', lowSeverity: 'low' };
const GROUP_KEY: Record<string, string> = { highSeverity: 'high_severity', mediumSeverity: 'medium_severity', lowSeverity: 'low_severity' };

export interface BuildResult {
  readonly groups: readonly RuleGroupDef[];
  readonly problems: readonly RuleProblem[];
}

/** Where runbook links point: rules.runbook_base_url, else dpmon's own /runbooks at server.listen. */
export function runbookBaseUrl(config: Config, listen?: { host: string; port: number }): string {
  if (config.rules.runbookBaseUrl) return config.rules.runbookBaseUrl;
  const hp = listen ?? config.server;
  const host = hp.host.includes(':') ? `[${hp.host}]` : hp.host;
  return `${config.server.tls ? 'https' : 'http'}://${host}:${hp.port}/runbooks`;
}

export function buildRules(config: Config, opts: { runbookBaseUrl?: string } = {}): BuildResult {
  const groups: RuleGroupDef[] = [];
  const problems: RuleProblem[] = [];
  const base = opts.runbookBaseUrl ?? runbookBaseUrl(config);
  const runbook = (anchor: string) => `${base}#${anchor}`;
  const evalMs = config.prometheusConfig.evaluationIntervalMs;
  const templates = (path: (string | number)[], src: Record<string, string>): Record<string, CompiledTemplate> => {
    const out: Record<string, CompiledTemplate> = {};
    for (const [k, v] of Object.entries(src)) {
      try {
        out[k] = compileTemplate(v);
      } catch (err) {
        problems.push({ path: [...path, k], message: (err as Error).message });
      }
    }
    return out;
  };
  const checkExpr = (path: (string | number)[], expr: string): boolean => {
    try {
      parseExpr(expr);
      return true;
    } catch (err) {
      problems.push({ path, message: `invalid PromQL: ${(err as Error).message}` });
      return false;
    }
  };
  const alert = (a: Partial<AlertRuleDef> & Pick<AlertRuleDef, 'group' | 'name' | 'expr' | 'unit' | 'source' | 'labels' | 'annotations'>): AlertRuleDef => ({
    kind: 'alert',
    windowMs: 0,
    windowFn: 'last',
    predictionMs: 0,
    predictionLookbackMs: 0,
    trends: false,
    anomaly: false,
    forMs: 0,
    keepFiringForMs: 0,
    consecutive: 1,
    ...a,
  });
  /** a group of one alert rule, named after its config source */
  const oneRuleGroup = (source: string, intervalMs: number, a: Omit<Parameters<typeof alert>[0], 'group' | 'source'>) =>
    groups.push({ name: source, intervalMs, source, rules: [alert({ ...a, group: source, source })] });
  const above = (threshold: number, recovery?: number): ThresholdCondition => ({
    direction: 'above',
    threshold,
    recovery: recovery ?? threshold * DEFAULT_RECOVERY_RATIO,
  });
  const enabled = new Set<string>([...config.monitoringIntegration.prometheus.alerts, ...config.monitoringIntegration.grafana.alerts]);
  const known = new Set<string>([...NAMED_ALERTS.prometheus, ...NAMED_ALERTS.grafana]);
  for (const [section, list] of [
    ['prometheus', config.monitoringIntegration.prometheus.alerts],
    ['grafana', config.monitoringIntegration.grafana.alerts],
  ] as const) {
    list.forEach((n, i) => {
      if (!known.has(n)) problems.push({ path: ['monitoring_integration', section, 'alerts', i], message: `unknown alert ${JSON.stringify(n)}; dpmon's named alerts are ${[...known].join(', ')}` });
    });
  }

  /** warning and critical rules of one alertname, severity medium and high */
  const levels = (group: string, name: string, expr: string, unit: Unit, warning: number, critical: number, summary: string, anchor: string, source: string): AlertRuleDef[] =>
    (
      [
        ['warning', warning, 'medium'],
        ['critical', critical, 'high'],
      ] as const
    ).map(([level, threshold, severity]) =>
      alert({
        group,
        name,
        expr,
        unit,
        source,
        condition: above(threshold),
        labels: { severity, level },
        annotations: {
          summary: compileTemplate(summary),
          description: compileTemplate(`${level} threshold ${threshold}${unit === 'percent' ? '%' : ''}: {{ $value | printf "%.2f" }}`),
          runbook_url: compileTemplate(runbook(anchor)),
        },
      }),
    );

  // ---- system_metrics.resource_monitoring: cpu, memory, disk at their own intervals
  const rm = config.systemMetrics.resourceMonitoring;
  for (const [key, resource, cfg] of [
    ['cpu_usage', 'cpu', rm.cpuUsage],
    ['memory_usage', 'memory', rm.memoryUsage],
    ['disk_usage', 'disk', rm.diskUsage],
  ] as const) {
    const source = `system_metrics.resource_monitoring.${key}`;
    const summary = resource === 'disk' ? 'filesystem {{ $labels.mountpoint }} is {{ $value | printf "%.1f" }}% full' : `${resource} usage is {{ $value | printf "%.1f" }}%`;
    groups.push({
      name: source,
      intervalMs: cfg.intervalMs,
      source,
      rules: levels(source, key, percentOf(resource), 'percent', cfg.thresholdWarning, cfg.thresholdCritical, summary, key, source),
    });
  }

  // ---- database_metrics
  const db = config.databaseMetrics;
  if (enabled.has('connection_saturation')) {
    const source = 'database_metrics.connection_pools';
    groups.push({
      name: source,
      intervalMs: db.connectionPools.monitoring.intervalMs,
      source,
      rules: levels(
        source,
        'connection_saturation',
        connectionPercent(config),
        'percent',
        db.connectionPools.thresholdWarning,
        db.connectionPools.thresholdCritical,
        '{{ $labels.instance }} uses {{ $value | printf "%.0f" }}% of its connections',
        'connection_saturation',
        source,
      ),
    });
  }
  const qp = db.queryPerformance;
  if (enabled.has('query_timeout')) {
    const source = 'database_metrics.query_performance.long_running_threshold';
    oneRuleGroup(source, config.resourceMonitoring.collectionIntervalMs, {
      name: 'query_timeout',
      expr: 'dpmon_pg_activity_max_query_duration_seconds',
      unit: 'seconds',
      condition: above(qp.longRunningThresholdMs / 1000),
      labels: { severity: 'medium' },
      annotations: {
        summary: compileTemplate('a query on {{ $labels.instance }}/{{ $labels.datname }} has run for {{ $value | humanizeDuration }}'),
        description: compileTemplate(`long_running_threshold is ${qp.longRunningThresholdMs / 1000}s`),
        runbook_url: compileTemplate(runbook('query_timeout')),
      },
    });
  }
  {
    const source = 'database_metrics.query_performance.deadlock_check_interval';
    oneRuleGroup(source, qp.deadlockCheckIntervalMs, {
      name: 'deadlocks',
      expr: `increase(pg_stat_database_deadlocks[${rangeOf(qp.deadlockCheckIntervalMs)}])`,
      unit: 'count',
      // any deadlock in the interval; it resolves at the first interval without one
      condition: { direction: 'above', threshold: 1, recovery: 1 },
      labels: { severity: 'medium' },
      annotations: {
        summary: compileTemplate('{{ $value | printf "%.0f" }} deadlocks in {{ $labels.instance }}/{{ $labels.datname }}'),
        runbook_url: compileTemplate(runbook('deadlocks')),
      },
    });
  }
  if (enabled.has('replication_delay')) {
    const source = 'database_metrics.replication';
    const r = db.replication;
    const kind = r.lagThresholdCritical.kind;
    const unit: Unit = kind === 'bytes' ? 'bytes' : 'milliseconds';
    groups.push({
      name: source,
      intervalMs: r.monitoring.intervalMs,
      source,
      rules: levels(
        source,
        'replication_delay',
        lagExpr(kind),
        unit,
        r.lagThresholdWarning.kind === kind ? r.lagThresholdWarning.value : r.lagThresholdCritical.value,
        r.lagThresholdCritical.value,
        `replication lag on {{ $labels.instance }} {{ $labels.application_name }} is {{ $value | printf "%.0f" }} ${kind === 'bytes' ? 'bytes' : 'ms'}`,
        'replication_delay',
        source,
      ),
    });
  }

  // ---- causes the correlation model names (docs/correlation.md): an inactive slot, idle transactions
  {
    const source = 'database_metrics.replication.replication_slots';
    const r = db.replication;
    oneRuleGroup(source, r.monitoring.intervalMs, {
      name: 'replication_slot_inactive',
      // an unused slot keeps every WAL segment from its restart_lsn on: it fills pg_wal until the disk is full
      expr: 'dpmon_pg_replication_slot_retained_wal_bytes and on(instance, slot_name) (pg_replication_slots_active == 0)',
      unit: 'bytes',
      forMs: 2 * r.monitoring.intervalMs,
      labels: { severity: 'medium' },
      annotations: {
        summary: compileTemplate('replication slot {{ $labels.slot_name }} on {{ $labels.instance }} is inactive and retains {{ $value | humanize1024 }}B of WAL'),
        runbook_url: compileTemplate(runbook('replication_slot_inactive')),
      },
    });
  }
  {
    const source = 'database_metrics.query_performance.idle_in_transaction';
    oneRuleGroup(source, config.resourceMonitoring.collectionIntervalMs, {
      name: 'idle_in_transaction',
      // a session idle in a transaction longer than a query may run holds its locks and its connection
      expr: 'dpmon_pg_activity_max_idle_in_transaction_seconds',
      unit: 'seconds',
      condition: above(qp.longRunningThresholdMs / 1000),
      labels: { severity: 'medium' },
      annotations: {
        summary: compileTemplate('a session on {{ $labels.instance }}/{{ $labels.datname }} has been idle in a transaction for {{ $value | humanizeDuration }}'),
        runbook_url: compileTemplate(runbook('idle_in_transaction')),
      },
    });
  }

  // ---- the cache hit ratio auto_remediation's low_cache_hit_ratio trigger watches (ANALYZE helps the planner)
  {
    const source = 'auto_remediation.low_cache_hit_ratio';
    const t = config.autoRemediation.actions.find((a) => a.trigger === 'low_cache_hit_ratio')?.threshold;
    const threshold = t && t.kind === 'percent' ? t.value : 50;
    const hit = 'sum by (instance, datname) (rate(pg_stat_database_blks_hit[5m]))';
    const read = 'sum by (instance, datname) (rate(pg_stat_database_blks_read[5m]))';
    oneRuleGroup(source, 60_000, {
      name: 'low_cache_hit_ratio',
      // databases without block traffic have no ratio (the `> 0` drops them) rather than 0 %
      expr: `100 * ${hit} / ((${hit} + ${read}) > 0)`,
      unit: 'percent',
      condition: { direction: 'below', threshold, recovery: Math.min(100, threshold / DEFAULT_RECOVERY_RATIO) },
      consecutive: 3,
      labels: { severity: 'low' },
      annotations: {
        summary: compileTemplate('cache hit ratio of {{ $labels.instance }}/{{ $labels.datname }} is {{ $value | printf "%.0f" }}%'),
        runbook_url: compileTemplate(runbook('low_cache_hit_ratio')),
      },
    });
  }

  // ---- target down: a target that does not answer is an alert of its own, and holds the others
  groups.push({
    name: 'targets',
    intervalMs: evalMs,
    source: 'targets',
    rules: [
      alert({
        group: 'targets',
        name: 'target_down',
        expr: 'pg_up == 0',
        unit: 'number',
        source: 'targets',
        consecutive: 2,
        labels: { severity: 'high' },
        annotations: {
          summary: compileTemplate('PostgreSQL target {{ $labels.instance }} does not answer'),
          description: compileTemplate("its other alerts keep their state until it answers again"),
          runbook_url: compileTemplate(runbook('target_down')),
        },
      }),
    ],
  });

  // ---- dpmon's own data directory: a full disk stops history, alert state and the audit log from being
  // written (they are held in memory and retried, docs/reliability.md); this says so. Always on.
  {
    const source = 'storage.data_dir';
    oneRuleGroup(source, evalMs, {
      name: 'storage_full',
      // free percent, judged only while less than STORAGE_FULL_BYTES are free: "full" is below 5 % and
      // below 1 GiB, so neither a small filesystem with 20 % (under 1 GiB) left pages, nor a 10 TB one
      // with 400 GB (4 %) left
      expr: `100 * dpmon_data_dir_free_ratio and on(instance) dpmon_data_dir_free_bytes < ${STORAGE_FULL_BYTES}`,
      unit: 'percent',
      condition: { direction: 'below', threshold: STORAGE_FULL_PERCENT, recovery: STORAGE_FULL_RECOVERY_PERCENT },
      labels: { severity: 'high' },
      annotations: {
        summary: compileTemplate("dpmon's data directory filesystem has {{ $value | printf \"%.1f\" }}% free"),
        description: compileTemplate(`less than ${STORAGE_FULL_PERCENT}% and less than 1 GiB free; writes that fail are held in memory and retried (dpmon_storage_write_errors_total)`),
        runbook_url: compileTemplate(runbook('storage_full')),
      },
    });
  }

  // ---- alert_rules.<severity>.<rule>
  const measures = alertRuleMeasures(config);
  let needsStatementRecord = false;
  for (const [sevKey, rules] of Object.entries(config.alertRules)) {
    if (!rules) continue;
    const severity = SEVERITY_OF_GROUP[sevKey]!;
    for (const [ruleName, r] of Object.entries(rules)) {
      const path = ['alert_rules', GROUP_KEY[sevKey]!, ruleName];
      const source = path.join('.');
      const builtin = measures[ruleName]?.(r.threshold);
      if (!r.expr && !builtin) {
        problems.push({ path, message: `no built-in expression for alert rule ${JSON.stringify(ruleName)}: give it an expr (built-in: ${Object.keys(measures).join(', ')})` });
        continue;
      }
      if (r.expr && !checkExpr([...path, 'expr'], r.expr)) continue;
      if (ruleName === 'response_time' && !r.expr) needsStatementRecord = true;
      const m = r.monitoring;
      const threshold = r.threshold.value;
      const recovery = m?.recoveryThreshold?.value;
      const windowFn = r.windowFunction ?? builtin?.windowFn ?? 'avg';
      const expr = r.expr ?? builtin!.expr(r.windowMs);
      const unit: Unit = builtin?.unit ?? (r.threshold.kind === 'percent' ? 'percent' : r.threshold.kind === 'duration' ? 'milliseconds' : r.threshold.kind === 'bytes' ? 'bytes' : 'number');
      const anchor = ruleName.replace(/[^a-z0-9_-]/gi, '_');
      const trends = Boolean(m?.trendAnalysis || m?.connectionTrends || m?.peakAnalysis || m?.lagTrending || m?.bandwidthAnalysis);
      groups.push({
        name: source,
        intervalMs: m?.frequencyMs ?? evalMs,
        source,
        rules: [
          alert({
            group: source,
            name: ruleName,
            expr,
            unit,
            source,
            condition: above(threshold, recovery),
            // a windowed built-in over a rate already judges the window; others aggregate it
            windowMs: windowFn === 'last' ? 0 : r.windowMs,
            windowFn,
            predictionMs: m?.predictionWindowMs ?? 0,
            predictionLookbackMs: m?.predictionWindowMs ? Math.max(r.windowMs, m.predictionWindowMs / 4) : 0,
            trends,
            anomaly: Boolean(m?.anomalyDetection),
            consecutive: m?.consecutiveFailures ?? 1,
            labels: { ...(r.labels ?? {}), severity, action: r.action },
            annotations: {
              summary: compileTemplate(builtin?.summary ?? `${ruleName} is {{ $value | printf "%.2f" }}`),
              description: compileTemplate(`threshold ${describeThreshold(r.threshold)}${recovery !== undefined ? `, recovers below ${recovery}` : ''}, judged over ${rangeOf(r.windowMs)}`),
              runbook_url: compileTemplate(runbook(anchor)),
              ...templates([...path, 'annotations'], r.annotations ?? {}),
            },
          }),
        ],
      });
    }
  }

  // ---- grafana's named alerts
  if (enabled.has('resource-exhaustion')) {
    const source = 'monitoring_integration.grafana.alerts.resource-exhaustion';
    oneRuleGroup(source, evalMs, {
      name: 'resource-exhaustion',
      // a resource all but used up, whatever its own warning and critical levels
      expr: '100 * dpmon_resource_utilization_ratio',
      unit: 'percent',
      condition: above(95, 90),
      consecutive: 2,
      labels: { severity: 'high' },
      annotations: {
        summary: compileTemplate('{{ $labels.resource }} {{ $labels.mountpoint }}{{ $labels.instance }} is {{ $value | printf "%.0f" }}% used'),
        runbook_url: compileTemplate(runbook('resource-exhaustion')),
      },
    });
  }
  if (enabled.has('performance-degradation')) {
    needsStatementRecord = true;
    const source = 'monitoring_integration.grafana.alerts.performance-degradation';
    oneRuleGroup(source, 60_000, {
      name: 'performance-degradation',
      expr: STATEMENT_MEAN_RECORD,
      unit: 'seconds',
      anomaly: true,
      // single anomalous points are common (docs/anomaly.md: 1.25 % of points); ten minutes in a row are not
      consecutive: 10,
      labels: { severity: 'medium' },
      annotations: {
        summary: compileTemplate('statements on {{ $labels.instance }} are unusually slow: mean {{ $value | humanizeDuration }}'),
        runbook_url: compileTemplate(runbook('performance-degradation')),
      },
    });
  }
  if (needsStatementRecord) {
    const record: RecordRuleDef = {
      kind: 'record',
      group: 'dpmon.recording',
      name: STATEMENT_MEAN_RECORD,
      expr: 'sum by (instance) (rate(pg_stat_statements_seconds_total[5m])) / sum by (instance) (rate(pg_stat_statements_calls_total[5m]))',
      labels: {},
      source: 'built-in',
    };
    groups.unshift({ name: 'dpmon.recording', intervalMs: 60_000, source: 'built-in', rules: [record] });
  }

  // ---- prometheus_config.rules: expression rules as written
  config.prometheusConfig.rules.forEach((g, gi) => {
    const rules: RuleDef[] = [];
    g.rules.forEach((r, ri) => {
      const path = ['prometheus_config', 'rules', gi, 'rules', ri];
      if (!checkExpr([...path, 'expr'], r.expr)) return;
      const labels: Labels = { ...(r.labels ?? {}) };
      if (r.record) {
        rules.push({ kind: 'record', group: g.name, name: r.record, expr: r.expr, labels, source: `prometheus_config.rules.${g.name}` });
        return;
      }
      rules.push(
        alert({
          group: g.name,
          name: r.alert!,
          expr: r.expr,
          unit: 'number',
          source: `prometheus_config.rules.${g.name}`,
          forMs: r.forMs ?? 0,
          keepFiringForMs: r.keepFiringForMs ?? 0,
          labels: { ...labels, severity: classifySeverity(labels.severity) },
          annotations: {
            runbook_url: compileTemplate(runbook(r.alert!)),
            ...templates([...path, 'annotations'], r.annotations ?? {}),
          },
        }),
      );
    });
    groups.push({ name: g.name, intervalMs: g.intervalMs ?? evalMs, source: `prometheus_config.rules[${gi}]`, rules });
  });
  return { groups, problems };
}

function describeThreshold(t: Threshold): string {
  switch (t.kind) {
    case 'percent':
      return `${t.value}%`;
    case 'duration':
      return `${t.value}ms`;
    case 'bytes':
      return `${t.value} bytes`;
    case 'number':
      return String(t.value);
  }
}

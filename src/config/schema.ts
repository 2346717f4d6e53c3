// The typed config tree: one zod schema per section of the spec plus the sections dpmon adds.
// YAML keys stay snake_case; each object schema maps its own keys to camelCase once, here, and
// duration keys gain an `Ms` suffix (`interval: 30s` → `intervalMs: 30000`). Maps whose keys the user
// names (labels, rule names, routes, receivers, dashboards, remediation triggers) keep their keys as written.
// Unknown keys are issues (code CONFIG_UNKNOWN_KEY); every other problem carries its code in `params.cfgCode`.
import { z } from 'zod';
import { formatDuration, parseBytes, parseDuration } from '../lib/duration.ts';
import type { ConfigIssueCode } from './errors.ts';
import { parseDsn } from './dsn.ts';
import { parseLagThreshold, parseListen, parsePercent, parseThreshold } from './values.ts';
import { compileGoRegex, parseMatchers, type Matcher } from '../model/alertmanager-matchers.ts';
import { parseDayOfMonthRange, parseLocation, parseMonthRange, parseTimeRange, parseWeekdayRange, parseYearRange } from '../model/time-intervals.ts';
import { parseMatchers as parseRouteMatchers } from '../model/route-matchers.ts';
import { compileRegex, SEARCH } from '../model/regex.ts';
import { camelCase, type Camelize } from '../lib/camel-case.ts';
import type { DeepReadonly } from '../lib/deep-readonly.ts';
import type { ConfigFields } from '../notify/integrations/channel.ts';
import { CHANNEL_TYPES, CHANNELS } from '../notify/integrations/index.ts';

// ---------------------------------------------------------------- helpers

type Ctx = z.core.$RefinementCtx;

function fail(ctx: Ctx, code: ConfigIssueCode, message: string): never {
  ctx.addIssue({ code: 'custom', message, params: { cfgCode: code } });
  return z.NEVER;
}

/** Reports every key the object does not define, with the defined ones for a suggestion. */
function unknownKey(known: readonly string[]) {
  return z.any().superRefine((_v, ctx) => {
    ctx.addIssue({ code: 'custom', message: 'unknown key', params: { cfgCode: 'CONFIG_UNKNOWN_KEY', known } });
  });
}

/** A strict object whose output keys are camelCase; keys listed in `ms` are durations and gain `Ms`. */
function obj<S extends z.ZodRawShape, M extends keyof S & string = never>(shape: S, ms: readonly M[] = []) {
  const known = Object.keys(shape);
  const msKeys = new Set<string>(ms);
  return z
    .object(shape)
    .catchall(unknownKey(known))
    .transform((v) => {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (x === undefined) continue;
        out[msKeys.has(k) ? `${camelCase(k)}Ms` : camelCase(k)] = x;
      }
      return out as Camelize<z.output<z.ZodObject<S, z.core.$strip>>, M>;
    });
}

const NUMERIC = /^\s*-?\d+(?:\.\d+)?\s*$/;
// Numbers and booleans may come from `${VAR}` substitution as text, so numeric text is accepted.
const coerceNumber = (v: unknown) => (typeof v === 'string' && NUMERIC.test(v) ? Number(v) : v);
const coerceBool = (v: unknown) => (v === 'true' ? true : v === 'false' ? false : v);

const str = z.string();
const name = z.string().min(1);
const num = z.preprocess(coerceNumber, z.number());
const int = z.preprocess(coerceNumber, z.number().int());
const posInt = z.preprocess(coerceNumber, z.number().int().min(1));
const bool = z.preprocess(coerceBool, z.boolean());
const strList = z.array(z.string());
/** A secret: a plain string in the typed config, printed as `<secret>` (see secrets.ts for which keys). */
const secret = z.string();
/** Text or a number, for the value types written as text; `what` names the type in a wrong-type message. */
const scalarText = (what: string) => z.union([z.string(), z.number()], { error: `expected ${what}` });

const duration = scalarText('a duration (30s, 5m, 1h30m)').transform((v, ctx) => {
  if (typeof v === 'number') {
    if (v === 0) return 0;
    return fail(ctx, 'CONFIG_DURATION', `duration ${v} needs a unit (ms, s, m, h, d, w), e.g. "${v}s"`);
  }
  try {
    return parseDuration(v);
  } catch (err) {
    return fail(ctx, 'CONFIG_DURATION', (err as Error).message);
  }
});

const percent = scalarText('a percentage (90 or 90%)').transform((v, ctx) => {
  try {
    return parsePercent(v);
  } catch (err) {
    return fail(ctx, 'CONFIG_PERCENT', (err as Error).message);
  }
});

const threshold = scalarText('a threshold (1000, 90%, 1000ms, 16MB)').transform((v, ctx) => {
  try {
    return parseThreshold(v);
  } catch (err) {
    const message = (err as Error).message;
    return fail(ctx, message.startsWith('percentage') || message.startsWith('invalid percentage') ? 'CONFIG_PERCENT' : 'CONFIG_VALUE', message);
  }
});

const lagThreshold = scalarText('a lag threshold (1000, 5s, 16MB)').transform((v, ctx) => {
  try {
    return parseLagThreshold(v);
  } catch (err) {
    return fail(ctx, 'CONFIG_VALUE', (err as Error).message);
  }
});

const email = z.string().regex(/^[^@\s]+@[^@\s]+$/, { error: 'expected an email address (name@domain)' });
const httpUrl = z.string().superRefine((v, ctx) => {
  let ok = false;
  try {
    const u = new URL(v);
    ok = u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    ok = false;
  }
  if (!ok) fail(ctx, 'CONFIG_VALUE', `expected an http:// or https:// URL`);
});
// process-group patterns: RE2 (src/model/regex.ts), searched in the value as before (`^…$` to anchor)
const regexSource = z.string().superRefine((v, ctx) => {
  try {
    compileRegex(v, SEARCH);
  } catch (err) {
    fail(ctx, 'CONFIG_VALUE', (err as Error).message);
  }
});
const labelName = z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, { error: 'label names are [a-zA-Z_][a-zA-Z0-9_]*' });

// ---------------------------------------------------------------- system_metrics

export type ProcessGroupName = 'database' | 'application' | 'background_tasks';

/** A process group after normalisation: regex sources on comm and command line, user names. */
export interface ProcessGroupConfig {
  readonly name: string;
  /** regex sources matched against /proc/PID/comm */
  readonly comm: readonly string[];
  /** regex sources matched against the command line (arguments joined by spaces) */
  readonly cmdline: readonly string[];
  /** user names (or numeric uids) owning the process */
  readonly user: readonly string[];
}

/** The matchers behind the spec's three group names, used when a group is given as a plain name. */
export const DEFAULT_PROCESS_GROUPS: Readonly<Record<ProcessGroupName, ProcessGroupConfig>> = Object.freeze({
  database: Object.freeze({ name: 'database', comm: Object.freeze(['^(postgres|postmaster|pgbouncer)$']), cmdline: Object.freeze([]), user: Object.freeze([]) }),
  application: Object.freeze({
    name: 'application',
    comm: Object.freeze(['^(node|java|python[0-9.]*|ruby|php-fpm|gunicorn|uwsgi)$']),
    cmdline: Object.freeze([]),
    user: Object.freeze([]),
  }),
  background_tasks: Object.freeze({
    name: 'background_tasks',
    comm: Object.freeze(['^(cron|anacron|logrotate|rsync|pg_dump|pg_basebackup|vacuumdb|tar|gzip|xz|zstd)$']),
    cmdline: Object.freeze([]),
    user: Object.freeze([]),
  }),
});

const processGroup = z.preprocess(
  (v) => (typeof v === 'string' ? { name: v } : v),
  z
    .object({ name, comm: z.array(regexSource).optional(), cmdline: z.array(regexSource).optional(), user: z.array(regexSource).optional() })
    .catchall(unknownKey(['name', 'comm', 'cmdline', 'user']))
    .transform((g, ctx): ProcessGroupConfig => {
      if (g.comm === undefined && g.cmdline === undefined && g.user === undefined) {
        const builtin = (DEFAULT_PROCESS_GROUPS as Record<string, ProcessGroupConfig>)[g.name];
        if (builtin) return { name: g.name, comm: [...builtin.comm], cmdline: [], user: [] };
        return fail(
          ctx,
          'CONFIG_VALUE',
          `process group "${g.name}" has no matchers: built-in groups are ${Object.keys(DEFAULT_PROCESS_GROUPS).join(', ')}; define others as {name, comm, cmdline, user}`,
        );
      }
      return { name: g.name, comm: g.comm ?? [], cmdline: g.cmdline ?? [], user: g.user ?? [] };
    }),
);

const processGroups = z.array(processGroup).superRefine((groups, ctx) => {
  const seen = new Set<string>();
  groups.forEach((g, i) => {
    if (seen.has(g.name)) ctx.addIssue({ code: 'custom', path: [i], message: `duplicate process group "${g.name}"`, params: { cfgCode: 'CONFIG_VALUE' } });
    seen.add(g.name);
  });
});

const cpuUsage = obj(
  {
    threshold_warning: percent,
    threshold_critical: percent,
    interval: duration,
    collection: obj({
      method: z.enum(['avg_load', 'utilization']),
      cores: z.union([z.literal('all'), z.array(z.preprocess(coerceNumber, z.number().int().min(0)))]),
      process_groups: processGroups,
    }),
    remediation: obj(
      { auto_scale: bool, process_priority: z.enum(['static', 'dynamic']), cooling_period: duration },
      ['cooling_period'],
    ),
  },
  ['interval'],
);

const memoryUsage = obj(
  {
    threshold_warning: percent,
    threshold_critical: percent,
    interval: duration,
    monitoring_areas: z.array(z.enum(['heap_memory', 'stack_usage', 'shared_memory', 'buffer_pools'])),
    optimization: obj({ gc_trigger: bool, swap_prevention: bool, cache_adjustment: z.enum(['static', 'dynamic']) }),
  },
  ['interval'],
);

const diskUsage = obj(
  {
    threshold_warning: percent,
    threshold_critical: percent,
    interval: duration,
    monitored_paths: strList,
    cleanup_policies: obj(
      { temp_files: duration, old_logs: duration, backup_rotation: duration },
      ['temp_files', 'old_logs', 'backup_rotation'],
    ),
  },
  ['interval'],
);

const systemMetrics = obj({
  resource_monitoring: obj({ cpu_usage: cpuUsage, memory_usage: memoryUsage, disk_usage: diskUsage }),
});

// ---------------------------------------------------------------- monitoring_integration

const aggregationFunction = z
  .string()
  .regex(/^(avg|max|min|sum|count|percentile_\d{1,2})$/, { error: 'expected avg, max, min, sum, count or percentile_NN' });

// alert_manager (dispatch, docs/routing.md): the spec's flat routes gain Alertmanager's route options, and
// `default` (added) is the root route they inherit from. Matchers stay text; src/dispatch builds the tree.
const routeTimers = {
  group_wait: duration.optional(),
  group_interval: duration
    .superRefine((ms, ctx) => {
      if (ms <= 0) fail(ctx, 'CONFIG_VALUE', 'group_interval must be above 0');
    })
    .optional(),
  repeat_interval: duration
    .superRefine((ms, ctx) => {
      if (ms <= 0) fail(ctx, 'CONFIG_VALUE', 'repeat_interval must be above 0');
    })
    .optional(),
};
const routeTimerKeys = ['group_wait', 'group_interval', 'repeat_interval'] as const;
const groupBy = z
  .array(
    z.string().superRefine((v, ctx) => {
      if (v !== '...' && !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(v))
        fail(ctx, 'CONFIG_VALUE', `${JSON.stringify(v)} is neither a label name ([a-zA-Z_][a-zA-Z0-9_]*) nor "..." (all labels)`);
    }),
  )
  .superRefine((list, ctx) => {
    if (list.includes('...') && list.length > 1)
      ctx.addIssue({ code: 'custom', message: 'group_by "..." (all labels) cannot be combined with other labels', params: { cfgCode: 'CONFIG_VALUE' } });
    const seen = new Set<string>();
    list.forEach((l, i) => {
      if (seen.has(l)) ctx.addIssue({ code: 'custom', path: [i], message: `duplicate label "${l}" in group_by`, params: { cfgCode: 'CONFIG_VALUE' } });
      seen.add(l);
    });
  });
const routeMatcherText = z.string().superRefine((v, ctx) => {
  try {
    parseRouteMatchers(v);
  } catch (err) {
    fail(ctx, 'CONFIG_VALUE', (err as Error).message);
  }
});
const alertManager = obj({
  default: obj({ receiver: name.optional(), group_by: groupBy.optional(), ...routeTimers }, routeTimerKeys).optional(),
  routes: z.record(
    name,
    obj(
      {
        receiver: name.optional(),
        matchers: z.array(routeMatcherText).optional(),
        group_by: groupBy.optional(),
        ...routeTimers,
        continue: bool.optional(),
        mute_time_intervals: z.array(name).optional(),
        active_time_intervals: z.array(name).optional(),
      },
      routeTimerKeys,
    ),
  ),
});

const monitoringIntegration = obj({
  prometheus: obj({
    endpoint: z.string().regex(/^\/\S*$/, { error: 'expected a URL path starting with /' }),
    labels: z.record(labelName, str),
    custom_metrics: z.array(obj({ name: z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, { error: 'metric names are [a-zA-Z_:][a-zA-Z0-9_:]*' }) })),
    metrics: strList,
    alerts: strList,
  }),
  grafana: obj({ dashboards: strList, alerts: strList }),
  alert_manager: alertManager,
  metrics_aggregation: obj(
    { window_size: duration, retention: duration, aggregation_functions: z.array(aggregationFunction) },
    ['window_size', 'retention'],
  ),
  alert_correlation: obj({ cross_service: bool, root_cause_analysis: bool, impact_assessment: bool }),
});

// ---------------------------------------------------------------- remediation_actions

const remediationAction = obj(
  {
    action: name,
    threshold: threshold.optional(),
    cooldown: duration.optional(),
    grace_period: duration.optional(),
    target: str.optional(),
    increment: z.union([z.string(), z.number()]).optional(),
    age: duration.optional(),
  },
  ['cooldown', 'grace_period', 'age'],
);
const remediationActions = z.record(name, z.array(remediationAction));

// ---------------------------------------------------------------- service_integration

const service = obj({ metrics: strList, controls: strList.optional(), optimization: strList.optional() });
const serviceIntegration = obj({
  stream_processing: service.optional(),
  vector_operations: service.optional(),
  storage_management: service.optional(),
  query_processing: service.optional(),
});

// ---------------------------------------------------------------- database_metrics

const databaseMetrics = obj({
  connection_pools: obj({
    max_connections: posInt,
    threshold_warning: percent,
    threshold_critical: percent,
    monitoring: obj(
      { interval: duration, metrics: strList, actions: obj({ warning: strList, critical: strList }) },
      ['interval'],
    ),
  }),
  query_performance: obj(
    {
      long_running_threshold: duration,
      deadlock_check_interval: duration,
      // added: the mean time over which a statement is slow (the spec's monitoring.slow_queries uses 1000 ms)
      slow_query_threshold: duration.default(1000),
      // added: how often dpmon refreshes monitoring.slow_queries where `dpmon db install` created it
      slow_queries_refresh: duration.default(60_000),
      // added: how often dpmon reads pg_stat_statements into its statement history (queries.db)
      statement_history_interval: duration.default(60_000),
      monitoring: obj({ slow_query_logging: bool, execution_plans: bool, metrics: strList, analysis: strList }),
    },
    ['long_running_threshold', 'deadlock_check_interval', 'slow_query_threshold', 'slow_queries_refresh', 'statement_history_interval'],
  ),
  replication: obj({
    lag_threshold_warning: lagThreshold,
    lag_threshold_critical: lagThreshold,
    monitoring: obj({ interval: duration, metrics: strList, health_checks: strList }, ['interval']),
  }),
});

// ---------------------------------------------------------------- stream / vector integration

const streamIntegration = obj({
  metrics: strList,
  controls: strList,
  alert_handling: obj({ backpressure_events: strList, metrics_collection: strList }),
});

const vectorIntegration = obj({
  metrics: strList,
  optimization: strList,
  performance_monitoring: strList,
  alert_correlation: strList,
});

// ---------------------------------------------------------------- alert_rules

const alertRule = obj(
  {
    threshold,
    window: duration,
    action: name,
    /** added: PromQL for a rule name the rules engine has no built-in expression for */
    expr: str.optional(),
    /** added: how the window is judged (default avg) */
    window_function: z.enum(['avg', 'max', 'min', 'last']).optional(),
    /** added: extra labels and annotation templates of the alert */
    labels: z.record(labelName, str).optional(),
    annotations: z.record(labelName, str).optional(),
    remediation: z.record(name, z.union([bool, z.string()])).optional(),
    monitoring: obj(
      {
        frequency: duration.optional(),
        consecutive_failures: posInt.optional(),
        recovery_threshold: threshold.optional(),
        prediction_window: duration.optional(),
        trend_analysis: bool.optional(),
        connection_trends: bool.optional(),
        peak_analysis: bool.optional(),
        lag_trending: bool.optional(),
        bandwidth_analysis: bool.optional(),
        /** added: judge the value against its seasonal baseline too (docs/anomaly.md) */
        anomaly_detection: bool.optional(),
      },
      ['frequency', 'prediction_window'],
    ).optional(),
  },
  ['window'],
);
const ruleGroup = z.record(name, alertRule);
const alertRules = obj({
  high_severity: ruleGroup.optional(),
  medium_severity: ruleGroup.optional(),
  low_severity: ruleGroup.optional(),
});

// ---------------------------------------------------------------- notification_channels

// Each channel (src/notify/integrations/<type>/) contributes its section here and its keys to
// `receivers` below, built from these fields so they read and fail as every other key does.
const port = z.preprocess(coerceNumber, z.number().int().min(1).max(65535));
const fields: ConfigFields = { str, name, secret, email, httpUrl, port };

type Channel = (typeof CHANNELS)[number];
type SectionShape<C> = C extends { readonly sectionKeys: (f: ConfigFields) => infer S extends z.ZodRawShape } ? S : never;
type ReceiverShape<C> = C extends { readonly receiverKeys: (f: ConfigFields) => infer S extends z.ZodRawShape } ? S : never;
type Intersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

const notificationChannels = obj(
  Object.fromEntries(CHANNELS.flatMap((c) => ('sectionKeys' in c ? [[c.type, obj(c.sectionKeys(fields)).optional()]] : []))) as unknown as {
    [C in Channel as SectionShape<C> extends never ? never : C['type']]: z.ZodOptional<ReturnType<typeof obj<SectionShape<C>>>>;
  },
);

// ---------------------------------------------------------------- prometheus_config

const promRule = obj(
  {
    alert: name.optional(),
    /** a recording rule: the metric name its result is stored under (exactly one of alert and record) */
    record: z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, { error: 'metric names are [a-zA-Z_:][a-zA-Z0-9_:]*' }).optional(),
    expr: name,
    for: duration.optional(),
    keep_firing_for: duration.optional(),
    labels: z.record(labelName, str).optional(),
    annotations: z.record(labelName, str).optional(),
  },
  ['for', 'keep_firing_for'],
).superRefine((r, ctx) => {
  if ((r.alert === undefined) === (r.record === undefined))
    ctx.addIssue({ code: 'custom', message: 'a rule has exactly one of alert and record', params: { cfgCode: 'CONFIG_VALUE' } });
});
const prometheusConfig = obj(
  {
    scrape_interval: duration,
    evaluation_interval: duration,
    rules: z.array(obj({ name, interval: duration.optional(), rules: z.array(promRule) }, ['interval'])),
  },
  ['scrape_interval', 'evaluation_interval'],
);

// ---------------------------------------------------------------- dashboards, auto_remediation, escalation

// A panel names a built-in one (its query, unit and thresholds) or brings its own PromQL; src/dashboards/
// checks the PromQL and the names after loading (docs/dashboards.md).
const dashboardPanel = obj({
  name,
  type: z.enum(['gauge', 'graph', 'table', 'stat']),
  /** added: PromQL instead of the built-in panel's; `query` is the same key under another name */
  expr: z.string().min(1).optional(),
  query: z.string().min(1).optional(),
  /** added: Prometheus legend format of the query, e.g. "{{instance}}" */
  legend: str.optional(),
  /** added: a Grafana unit id */
  unit: z.enum(['percent', 'percentunit', 'bytes', 's', 'ms', 'short', 'ops', 'Bps', 'reqps']).optional(),
  thresholds: obj({ warning: num.optional(), critical: num.optional(), direction: z.enum(['above', 'below']).optional() }).optional(),
  min: num.optional(),
  max: num.optional(),
  description: str.optional(),
});
const dashboards = z.record(
  name,
  obj(
    { refresh: duration.optional(), title: str.optional(), description: str.optional(), panels: z.array(dashboardPanel).optional() },
    ['refresh'],
  ),
);

const autoRemediation = obj({ actions: z.array(obj({ trigger: name, action: name, threshold })) });

// ---------------------------------------------------------------- remediation (added: the engine's own settings)

const hook = obj(
  {
    /** argv of a command run without a shell; the trigger is passed as DPMON_* environment variables */
    command: z.array(z.string()).min(1).optional(),
    /** a command's environment beyond PATH, HOME, LANG and DPMON_* (dpmon's own is never passed on) */
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'environment variable names are [A-Za-z_][A-Za-z0-9_]*' }), str).optional(),
    /** a command's working directory, absolute */
    cwd: z.string().regex(/^\//, { error: 'expected an absolute path' }).optional(),
    /** a URL the trigger is POSTed to as JSON */
    url: httpUrl.optional(),
    /** a URL hook's request headers (e.g. Authorization: Bearer ${TOKEN}) */
    headers: z.record(name, str).optional(),
    timeout: duration.optional(),
  },
  ['timeout'],
).superRefine((h, ctx) => {
  const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', message, path: [path], params: { cfgCode: 'CONFIG_VALUE' } });
  if ((h.command === undefined) === (h.url === undefined)) issue(h.command ? 'url' : 'command', 'a hook has exactly one of command and url');
  if (h.url !== undefined) for (const k of ['env', 'cwd'] as const) if (h[k] !== undefined) issue(k, `${k} applies to a command hook, not to a url hook`);
  if (h.command !== undefined && h.headers !== undefined) issue('headers', 'headers apply to a url hook, not to a command hook');
});
const remediation = obj(
  {
    /** enforce: act; dry_run: record what would be done; approve: wait for `dpmon remediation approve ID` */
    mode: z.enum(['enforce', 'dry_run', 'approve']),
    protected_roles: strList,
    protected_applications: strList,
    rate_limit: obj({ max_actions: posInt, window: duration }, ['window']),
    approval_timeout: duration,
    /** a rule that failed to fix its alert this many times in a row stops until the alert resolves */
    max_failed_verifications: posInt,
    /** cooldown of actions the spec gives none */
    default_cooldown: duration,
    /** where compress_logs and rotate_backups work (the spec names /logs among monitored paths; backups have no path) */
    log_paths: strList,
    backup_paths: strList,
    /** pgbouncer's admin console for scale_connection_pool: postgres://USER@HOST:PORT/pgbouncer (USER in admin_users) */
    pgbouncer_admin_dsn: secret.optional(),
    /** effects outside dpmon (scale_compute, auto_scale, clear_caches, …): a command or webhook per action name */
    hooks: z.record(name, hook),
  },
  ['approval_timeout', 'default_cooldown'],
);

const escalationProcedures = obj({ levels: z.array(obj({ level: posInt, responder: name, timeout: duration }, ['timeout'])) });

// ---------------------------------------------------------------- resource_monitoring, audit, compliance

const resourceMonitoring = obj(
  {
    collection_interval: duration,
    retention_period: duration,
    metrics: z.array(obj({ name, type: z.enum(['gauge', 'counter']) })),
  },
  ['collection_interval', 'retention_period'],
);

const auditConfig = obj(
  {
    enabled: bool,
    log_level: z.enum(['DEBUG', 'INFO', 'NOTICE', 'WARNING', 'ERROR']),
    retention: duration,
    events: strList,
    // added: how often each target's server log and DDL event rows are read, and its catalog snapshotted
    source_interval: duration.default(1_000),
    snapshot_interval: duration.default(300_000),
  },
  ['retention', 'source_interval', 'snapshot_interval'],
);

const CRON_FIELD = /^[0-9*,/\-A-Za-z?LW#]+$/;
const cron = z.string().superRefine((v, ctx) => {
  const s = v.trim();
  if (/^@(yearly|annually|monthly|weekly|daily|midnight|hourly)$/.test(s)) return;
  const fields = s.split(/\s+/);
  if ((fields.length !== 5 && fields.length !== 6) || !fields.every((f) => CRON_FIELD.test(f))) {
    fail(ctx, 'CONFIG_VALUE', `invalid cron schedule ${JSON.stringify(v)}: expected 5 fields (minute hour day month weekday), e.g. "0 0 * * 0"`);
  }
});

const complianceReporting = obj({ schedule: cron, reports: strList });

// ---------------------------------------------------------------- sections dpmon adds

/** Per-target defaults, also filled into the printed config. */
export const TARGET_DEFAULTS = Object.freeze({
  role: 'auto',
  statement_timeout: '5s',
  connect_timeout: '5s',
  pg_stat_statements_top: 100,
  collect_tables: true,
  exclude_databases: Object.freeze(['template0', 'template1']),
  job: 'postgres',
});

const dsn = z.string().superRefine((v, ctx) => {
  const parsed = parseDsn(v);
  if ('problem' in parsed) fail(ctx, 'CONFIG_DSN', `invalid DSN: ${parsed.problem}`);
});

const target = obj(
  {
    name,
    dsn,
    role: z.enum(['auto', 'primary', 'standby']).default('auto'),
    statement_timeout: duration.default(5000),
    connect_timeout: duration.default(5000),
    pg_stat_statements_top: z.preprocess(coerceNumber, z.number().int().min(0)).default(100),
    collect_tables: bool.default(true),
    exclude_databases: strList.default(['template0', 'template1']),
    /** the `job` label of this target's series in history and remote_write, as a scrape of postgres_exporter would give */
    job: name.default('postgres'),
  },
  ['statement_timeout', 'connect_timeout'],
);

const targets = z.array(target).superRefine((list, ctx) => {
  const seen = new Set<string>();
  list.forEach((t, i) => {
    if (seen.has(t.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate target name "${t.name}"`, params: { cfgCode: 'CONFIG_VALUE' } });
    seen.add(t.name);
  });
});

const listen = z.string().superRefine((v, ctx) => {
  if (!parseListen(v)) fail(ctx, 'CONFIG_LISTEN', `expected HOST:PORT (e.g. 127.0.0.1:9817 or [::1]:9817), got ${JSON.stringify(v)}`);
});

const server = obj(
  {
    listen,
    auth_token: secret.optional(),
    tls: obj({ cert_file: name, key_file: name }).optional(),
    /** added: Prometheus's query limits (docs/promql.md "Limits") */
    query_timeout: duration.superRefine((v, ctx) => {
      if (!(v > 0)) fail(ctx, 'CONFIG_VALUE', 'expected a positive duration (e.g. 2m)');
    }),
    query_max_samples: posInt,
    query_max_concurrency: posInt,
    query_max_length: posInt,
    query_max_depth: posInt,
    query_max_points: posInt,
    query_lookback_delta: duration.superRefine((v, ctx) => {
      if (!(v > 0)) fail(ctx, 'CONFIG_VALUE', 'expected a positive duration (e.g. 5m)');
    }),
  },
  ['query_timeout', 'query_lookback_delta'],
).transform((s) => {
  const hp = parseListen(s.listen) ?? { host: '127.0.0.1', port: 9817 };
  return { ...s, host: hp.host, port: hp.port };
});

const storage = obj(
  {
    data_dir: name,
    raw_retention: duration,
    /** added: history samples held in memory at most while history.db cannot be written (docs/reliability.md) */
    max_buffered_samples: int.superRefine((v, ctx) => {
      if (v < 1000) fail(ctx, 'CONFIG_VALUE', `expected at least 1000 samples, got ${v}`);
    }),
  },
  ['raw_retention'],
);

/** added: `job` is the label history and remote_write give host series, as a Prometheus scrape of node_exporter would (docs/metrics.md) */
const host = obj({ proc_path: name, sys_path: name, job: name });

const channelReceiverKeys = Object.assign({}, ...CHANNELS.map((c) => ('receiverKeys' in c ? c.receiverKeys(fields) : {}))) as Intersection<ReceiverShape<Channel>>;
const receivers = z.record(name, obj({ channels: z.array(z.enum(CHANNEL_TYPES)).optional(), ...channelReceiverKeys }));

export const SERVICE_NAMES = ['stream_processing', 'vector_operations', 'storage_management', 'query_processing'] as const;

const scrapeTargets = z
  .array(obj({ name, url: httpUrl, service: z.enum(SERVICE_NAMES).optional(), interval: duration.optional() }, ['interval']))
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((t, i) => {
      if (seen.has(t.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate scrape target name "${t.name}"`, params: { cfgCode: 'CONFIG_VALUE' } });
      seen.add(t.name);
    });
  });

// remote_write: Prometheus's key names (remote_timeout, queue_config.*) where dpmon has the same knob,
// with dpmon's defaults (docs/remote-write.md says why they differ from Prometheus's); buffer_size is
// dpmon's own, the bound of the on-disk queue. The writer's code defaults (src/remote-write/writer.ts)
// are the same values; src/remote-write/endpoint-config.test.ts checks the two agree.
const RW_MIN_BACKOFF_MS = 1000;
const RW_MAX_BACKOFF_MS = 30_000;
/** below this the queue cannot hold a few full batches; it would drop nearly everything */
const RW_MIN_BUFFER_BYTES = 1024 * 1024;

/** The value as the user wrote it, for a message: text quoted, a number as is (as `describe` does). */
const shown = (v: string | number) => (typeof v === 'string' ? JSON.stringify(v) : String(v));

/** A duration above 0 (a zero timeout or backoff would mean none at all). */
const positiveDuration = scalarText('a duration (30s, 5m, 1h30m)').transform((v, ctx) => {
  if (typeof v === 'number' && v !== 0) return fail(ctx, 'CONFIG_DURATION', `duration ${v} needs a unit (ms, s, m, h, d, w), e.g. "${v}s"`);
  let ms: number;
  try {
    ms = parseDuration(String(v));
  } catch (err) {
    return fail(ctx, 'CONFIG_DURATION', (err as Error).message);
  }
  if (ms <= 0) return fail(ctx, 'CONFIG_VALUE', `${shown(v)} is too small: the minimum is 1ms`);
  return ms;
});

const bufferSize = scalarText('a byte size (512MB, 1GB)').transform((v, ctx) => {
  let bytes: number;
  try {
    bytes = parseBytes(String(v));
  } catch (err) {
    return fail(ctx, 'CONFIG_VALUE', (err as Error).message);
  }
  if (bytes < RW_MIN_BUFFER_BYTES) return fail(ctx, 'CONFIG_VALUE', `${shown(v)} is too small: the minimum is 1MB`);
  return bytes;
});

const queueConfig = obj(
  {
    max_samples_per_send: posInt.default(2000),
    batch_send_deadline: positiveDuration.default(1000),
    min_backoff: positiveDuration.optional(),
    max_backoff: positiveDuration.optional(),
  },
  ['batch_send_deadline', 'min_backoff', 'max_backoff'],
).transform((q, ctx) => {
  const minBackoffMs = q.minBackoffMs ?? RW_MIN_BACKOFF_MS;
  const maxBackoffMs = q.maxBackoffMs ?? RW_MAX_BACKOFF_MS;
  if (minBackoffMs > maxBackoffMs) {
    // reported at the key the user wrote; a default on the other side is named as such
    const [key, message] =
      q.minBackoffMs === undefined
        ? ['max_backoff', `max_backoff ${formatDuration(maxBackoffMs)} is below min_backoff ${formatDuration(minBackoffMs)} (the default)`]
        : ['min_backoff', `min_backoff ${formatDuration(minBackoffMs)} is above max_backoff ${formatDuration(maxBackoffMs)}${q.maxBackoffMs === undefined ? ' (the default)' : ''}`];
    ctx.addIssue({ code: 'custom', path: [key], message, params: { cfgCode: 'CONFIG_VALUE' } });
  }
  return { maxSamplesPerSend: q.maxSamplesPerSend, batchSendDeadlineMs: q.batchSendDeadlineMs, minBackoffMs, maxBackoffMs };
});

/** The endpoint's label, as the writer derives it (endpointLabel in src/remote-write/writer.ts). */
const remoteWriteLabel = (ep: { name?: string; url: string }) => {
  if (ep.name) return ep.name;
  const u = new URL(ep.url);
  return `${u.host}${u.pathname === '/' ? '' : u.pathname}`;
};

const remoteWrite = z
  .array(
    obj(
      {
        url: httpUrl,
        name: name.optional(),
        headers: z.record(name, secret).optional(),
        basic_auth: obj({ username: name, password: secret }).optional(),
        remote_timeout: positiveDuration.default(30_000),
        buffer_size: bufferSize.default(256 * 1024 * 1024),
        queue_config: queueConfig.prefault({}),
      },
      ['remote_timeout'],
    ),
  )
  .superRefine((list, ctx) => {
    // the label names the endpoint's metrics and its queue folder: two endpoints must not share one
    const seen = new Map<string, number>();
    list.forEach((ep, i) => {
      const label = remoteWriteLabel(ep);
      const first = seen.get(label);
      if (first !== undefined) {
        const message = `remote_write[${first}] is also labelled "${label}"${ep.name ? '' : ' (host and path of the URL)'}; give each endpoint a distinct name`;
        ctx.addIssue({ code: 'custom', path: [i, ep.name ? 'name' : 'url'], message, params: { cfgCode: 'CONFIG_VALUE' } });
      } else seen.set(label, i);
    });
  });

// ---------------------------------------------------------------- the whole tree

// ---------------------------------------------------------------- rules (added: the rules engine's own settings)

const rules = obj(
  {
    /** where runbook links point; default http://<server.listen>/runbooks (dpmon serves docs/runbooks.md) */
    runbook_base_url: httpUrl.optional(),
    /** resolved alerts are kept (and re-sent) this long */
    resolved_retention: duration,
    /** an alert that fires and resolves flap_transitions times within flap_window is flapping */
    flap_window: duration,
    flap_transitions: posInt,
    /** a flapping alert resolves only after its condition stayed clear this long */
    flap_hold: duration,
  },
  ['resolved_retention', 'flap_window', 'flap_hold'],
);

// ---------------------------------------------------------------- inhibit_rules, time_intervals (added: muting, docs/silences.md)

/** Alertmanager's matcher lists: each item one or more matchers (`severity="critical"`, `{a="1", b=~"x|y"}`). */
const matcherList = z
  .array(
    z.string().transform((v, ctx) => {
      try {
        return parseMatchers(v);
      } catch (err) {
        return fail(ctx, 'CONFIG_VALUE', `invalid matcher: ${(err as Error).message}`);
      }
    }),
  )
  .transform((l) => l.flat());
const goRegex = z.string().superRefine((v, ctx) => {
  try {
    compileGoRegex(v);
  } catch (err) {
    fail(ctx, 'CONFIG_VALUE', (err as Error).message);
  }
});
/** the deprecated source_match/target_match (equality) and *_match_re (regex) maps, as matchers */
const legacyMatchers = (eq: Readonly<Record<string, string>> = {}, re: Readonly<Record<string, string>> = {}): Matcher[] => [
  ...Object.entries(eq).map(([name, value]) => ({ name, type: '=' as const, value })),
  ...Object.entries(re).map(([name, value]) => ({ name, type: '=~' as const, value })),
];
const inhibitRules = z.array(
  obj({
    source_matchers: matcherList.optional(),
    target_matchers: matcherList.optional(),
    source_match: z.record(labelName, str).optional(),
    source_match_re: z.record(labelName, goRegex).optional(),
    target_match: z.record(labelName, str).optional(),
    target_match_re: z.record(labelName, goRegex).optional(),
    equal: z.array(labelName).optional(),
  }).transform((r) => ({
    sourceMatchers: [...legacyMatchers(r.sourceMatch, r.sourceMatchRe), ...(r.sourceMatchers ?? [])],
    targetMatchers: [...legacyMatchers(r.targetMatch, r.targetMatchRe), ...(r.targetMatchers ?? [])],
    equal: r.equal ?? [],
  })),
);

/** A value read by one of time-intervals.ts's parsers; its message is the issue's. */
const parsed = <T>(what: string, parse: (v: string | number) => T) =>
  scalarText(what).transform((v, ctx) => {
    try {
      return parse(v);
    } catch (err) {
      return fail(ctx, 'CONFIG_VALUE', (err as Error).message);
    }
  });
const timeInterval = obj({
  times: z
    .array(
      obj({ start_time: str, end_time: str }).transform((t, ctx) => {
        try {
          return parseTimeRange(t.startTime, t.endTime);
        } catch (err) {
          return fail(ctx, 'CONFIG_VALUE', (err as Error).message);
        }
      }),
    )
    .optional(),
  weekdays: z.array(parsed('a weekday or range (monday, monday:friday)', parseWeekdayRange)).optional(),
  days_of_month: z.array(parsed('a day of the month or range (1, 1:5, -3:-1)', parseDayOfMonthRange)).optional(),
  months: z.array(parsed('a month or range (january, 1:3)', parseMonthRange)).optional(),
  years: z.array(parsed('a year or range (2025, 2025:2027)', parseYearRange)).optional(),
  location: z
    .string()
    .superRefine((v, ctx) => {
      try {
        parseLocation(v);
      } catch (err) {
        fail(ctx, 'CONFIG_VALUE', (err as Error).message);
      }
    })
    .optional(),
});
const timeIntervals = z.array(obj({ name, time_intervals: z.array(timeInterval) })).superRefine((list, ctx) => {
  const seen = new Set<string>();
  list.forEach((t, i) => {
    if (seen.has(t.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate time interval name "${t.name}"`, params: { cfgCode: 'CONFIG_VALUE' } });
    seen.add(t.name);
  });
});

export const configSchema = obj({
  system_metrics: systemMetrics,
  monitoring_integration: monitoringIntegration,
  remediation_actions: remediationActions,
  service_integration: serviceIntegration,
  database_metrics: databaseMetrics,
  stream_integration: streamIntegration,
  vector_integration: vectorIntegration,
  alert_rules: alertRules,
  notification_channels: notificationChannels,
  prometheus_config: prometheusConfig,
  dashboards,
  auto_remediation: autoRemediation,
  remediation,
  escalation_procedures: escalationProcedures,
  resource_monitoring: resourceMonitoring,
  audit_config: auditConfig,
  compliance_reporting: complianceReporting,
  targets,
  server,
  storage,
  host,
  receivers,
  scrape_targets: scrapeTargets,
  remote_write: remoteWrite,
  rules,
  inhibit_rules: inhibitRules,
  time_intervals: timeIntervals,
});

/** The typed, camelCase, frozen configuration the rest of dpmon reads. */
export type Config = DeepReadonly<z.output<typeof configSchema>>;

export type SystemMetricsConfig = Config['systemMetrics'];
export type CpuUsageConfig = SystemMetricsConfig['resourceMonitoring']['cpuUsage'];
export type MemoryUsageConfig = SystemMetricsConfig['resourceMonitoring']['memoryUsage'];
export type DiskUsageConfig = SystemMetricsConfig['resourceMonitoring']['diskUsage'];
export type MonitoringIntegrationConfig = Config['monitoringIntegration'];
export type RouteConfig = MonitoringIntegrationConfig['alertManager']['routes'][string];
export type AlertManagerConfig = MonitoringIntegrationConfig['alertManager'];
export type RouteDefaultsConfig = NonNullable<AlertManagerConfig['default']>;
export type RemediationActionsConfig = Config['remediationActions'];
export type RemediationActionConfig = RemediationActionsConfig[string][number];
export type ServiceIntegrationConfig = Config['serviceIntegration'];
export type DatabaseMetricsConfig = Config['databaseMetrics'];
export type StreamIntegrationConfig = Config['streamIntegration'];
export type VectorIntegrationConfig = Config['vectorIntegration'];
export type AlertRulesConfig = Config['alertRules'];
export type AlertRuleConfig = NonNullable<AlertRulesConfig['highSeverity']>[string];
export type Severity = 'high_severity' | 'medium_severity' | 'low_severity';
export type NotificationChannelsConfig = Config['notificationChannels'];
export type PrometheusConfig = Config['prometheusConfig'];
export type DashboardsConfig = Config['dashboards'];
export type AutoRemediationConfig = Config['autoRemediation'];
export type EscalationProceduresConfig = Config['escalationProcedures'];
export type ResourceMonitoringConfig = Config['resourceMonitoring'];
export type AuditConfig = Config['auditConfig'];
export type ComplianceReportingConfig = Config['complianceReporting'];
export type TargetConfig = Config['targets'][number];

/** A target with every per-target default, as the schema fills them (the embedded server uses it). */
export function targetWithDefaults(name: string, dsn: string): TargetConfig {
  return target.parse({ name, dsn }) as TargetConfig;
}
export type ServerConfig = Config['server'];
export type StorageConfig = Config['storage'];
export type HostConfig = Config['host'];
export type ReceiversConfig = Config['receivers'];
export type ReceiverConfig = ReceiversConfig[string];
export type ScrapeTargetConfig = Config['scrapeTargets'][number];
export type RemoteWriteConfig = Config['remoteWrite'][number];
export type InhibitRuleConfig = Config['inhibitRules'][number];
export type TimeIntervalConfig = Config['timeIntervals'][number];

// Which alert triggers which action, read from every place the spec names a remediation
// (docs/remediation.md has the table): auto_remediation.actions, remediation_actions,
// database_metrics.connection_pools.monitoring.actions, the `remediation:` blocks of alert_rules, the
// cpu_usage remediation and memory optimization of system_metrics, and disk_usage.cleanup_policies.
// An action with no built-in implementation becomes a hook (`remediation.hooks.<name>`).
import type { Config } from '../config/index.ts';
import { ACTIONS } from './actions/index.ts';
import type { RemediationRule } from './remediator.ts';

/** Spec action names → registry names, as each action file declares them; anything else is a hook of the same name. */
export const BUILTIN_ACTIONS: Readonly<Record<string, string>> = Object.assign({}, ...ACTIONS.map((a) => a.specNames));

/** Names that are notifications, which the alert pipeline already sends: no action. */
export const NOTIFICATION_ACTIONS = new Set(['notify_monitoring_team', 'notify_stakeholders']);

/** The alerts a spec trigger name stands for. */
const TRIGGERS: Readonly<Record<string, { alertnames: string[]; direction: 'above' | 'below' }>> = {
  high_connection_count: { alertnames: ['connection_saturation', 'connection_count'], direction: 'above' },
  long_running_query: { alertnames: ['query_timeout'], direction: 'above' },
  low_cache_hit_ratio: { alertnames: ['low_cache_hit_ratio'], direction: 'below' },
  cpu_high: { alertnames: ['cpu_usage'], direction: 'above' },
  memory_pressure: { alertnames: ['memory_usage'], direction: 'above' },
  disk_space: { alertnames: ['disk_usage', 'disk_space'], direction: 'above' },
};

export const actionName = (specName: string) => BUILTIN_ACTIONS[specName] ?? `hook:${specName}`;

export function remediationRules(config: Config): { rules: RemediationRule[]; problems: { path: (string | number)[]; message: string }[] } {
  const rules: RemediationRule[] = [];
  const problems: { path: (string | number)[]; message: string }[] = [];
  const cooldown = config.remediation.defaultCooldownMs;
  const add = (r: Omit<RemediationRule, 'cooldownMs' | 'gracePeriodMs'> & { cooldownMs?: number; gracePeriodMs?: number }) => {
    if (NOTIFICATION_ACTIONS.has(r.action.replace(/^hook:/, ''))) return;
    rules.push({ cooldownMs: cooldown, gracePeriodMs: 0, ...r });
  };

  config.autoRemediation.actions.forEach((a, i) => {
    const t = TRIGGERS[a.trigger];
    if (!t) {
      problems.push({ path: ['auto_remediation', 'actions', i, 'trigger'], message: `unknown trigger ${JSON.stringify(a.trigger)}; known: ${Object.keys(TRIGGERS).join(', ')}` });
      return;
    }
    // query_timeout's value is in seconds; a duration threshold (30m) is in ms
    const threshold = a.threshold.kind === 'duration' ? a.threshold.value / 1000 : a.threshold.value;
    add({ id: `auto_remediation.actions[${i}]`, action: actionName(a.action), alertnames: t.alertnames, direction: t.direction, threshold });
  });

  for (const [trigger, list] of Object.entries(config.remediationActions)) {
    const t = TRIGGERS[trigger];
    if (!t) {
      problems.push({ path: ['remediation_actions', trigger], message: `unknown trigger ${JSON.stringify(trigger)}; known: ${Object.keys(TRIGGERS).join(', ')}` });
      continue;
    }
    list.forEach((a, i) =>
      add({
        id: `remediation_actions.${trigger}[${i}]`,
        // cpu_high's threshold is CPU percent: its terminate_idle has its own connection target
        action: trigger === 'cpu_high' && actionName(a.action) === 'terminate_idle_connections' ? 'terminate_idle_connections_for_cpu' : actionName(a.action),
        alertnames: t.alertnames,
        direction: t.direction,
        ...(a.threshold ? { threshold: a.threshold.kind === 'duration' ? a.threshold.value / 1000 : a.threshold.value } : {}),
        ...(a.cooldownMs !== undefined ? { cooldownMs: a.cooldownMs } : {}),
        ...(a.gracePeriodMs !== undefined ? { gracePeriodMs: a.gracePeriodMs } : {}),
      }),
    );
  }

  const pools = config.databaseMetrics.connectionPools;
  for (const level of ['warning', 'critical'] as const) {
    // the level's own threshold: a critical terminate_idle_connections works the pool back under 85 %
    const threshold = level === 'warning' ? pools.thresholdWarning : pools.thresholdCritical;
    pools.monitoring.actions[level].forEach((name, i) =>
      add({ id: `database_metrics.connection_pools.monitoring.actions.${level}[${i}]`, action: actionName(name), alertnames: ['connection_saturation'], labels: { level }, direction: 'above', threshold }),
    );
  }

  for (const [sevKey, group] of Object.entries(config.alertRules)) {
    const sev = sevKey.replace(/Severity$/, '_severity');
    for (const [ruleName, r] of Object.entries(group ?? {})) {
      for (const [name, value] of Object.entries(r.remediation ?? {})) {
        if (value === false) continue;
        add({ id: `alert_rules.${sev}.${ruleName}.remediation.${name}`, action: actionName(name), alertnames: [ruleName], direction: 'above' });
      }
    }
  }

  const cpu = config.systemMetrics.resourceMonitoring.cpuUsage;
  const cooling = cpu.remediation.coolingPeriodMs;
  if (cpu.remediation.autoScale)
    add({ id: 'system_metrics.resource_monitoring.cpu_usage.remediation.auto_scale', action: actionName('auto_scale'), alertnames: ['cpu_usage'], labels: { level: 'critical' }, direction: 'above', cooldownMs: cooling });
  if (cpu.remediation.processPriority === 'dynamic')
    add({ id: 'system_metrics.resource_monitoring.cpu_usage.remediation.process_priority', action: 'renice_background', alertnames: ['cpu_usage'], direction: 'above', cooldownMs: cooling });

  const mem = config.systemMetrics.resourceMonitoring.memoryUsage.optimization;
  for (const [key, on] of [
    ['gc_trigger', mem.gcTrigger],
    ['swap_prevention', mem.swapPrevention],
    ['cache_adjustment', mem.cacheAdjustment === 'dynamic'],
  ] as const) {
    if (on) add({ id: `system_metrics.resource_monitoring.memory_usage.optimization.${key}`, action: actionName(key), alertnames: ['memory_usage'], direction: 'above' });
  }

  const cleanup = config.systemMetrics.resourceMonitoring.diskUsage.cleanupPolicies;
  for (const [key, action] of [
    ['temp_files', 'cleanup_temp'],
    ['old_logs', 'compress_logs'],
    ['backup_rotation', 'rotate_backups'],
  ] as const) {
    if (cleanup[`${key === 'temp_files' ? 'tempFiles' : key === 'old_logs' ? 'oldLogs' : 'backupRotation'}Ms`] !== undefined)
      add({ id: `system_metrics.resource_monitoring.disk_usage.cleanup_policies.${key}`, action, alertnames: ['disk_usage', 'disk_space'], direction: 'above' });
  }
  return { rules, problems };
}

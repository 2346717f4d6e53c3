// The actions by name, built from config: the PostgreSQL actions, the host actions with their paths
// and ages from the spec's keys, and a hook for every other name the config uses. A rule naming an
// action the registry cannot build is reported by remediationIssues (check-config).
import type { Config } from '../config/index.ts';
import { createAnalyzeTables } from './actions/analyze-tables.ts';
import { createCleanupTempAction } from './actions/cleanup-temp.ts';
import { createCompressLogsAction } from './actions/compress-logs.ts';
import { createHookAction, type HookConfig } from './actions/hook.ts';
import { createKillQuery } from './actions/kill-query.ts';
import { createLogConnectionDetails } from './actions/log-connection-details.ts';
import { createReniceBackgroundActions } from './actions/renice-background.ts';
import { createRotateBackupsAction } from './actions/rotate-backups.ts';
import { createScaleConnectionPool } from './actions/scale-connection-pool.ts';
import { createTerminateIdleConnections } from './actions/terminate-idle-connections.ts';
import { remediationRules } from './config.ts';
import type { Action } from './types.ts';

export interface RegistryDeps {
  /** directories no file action may touch, known when the actions are built (dpmon's data dir); PostgreSQL's data, WAL and tablespace directories come with each context (runner.ts) */
  readonly protectedPaths: readonly string[];
}

export function createActionRegistry(config: Config, deps: RegistryDeps): Map<string, Action> {
  const actions = new Map<string, Action>();
  const add = (a: Action) => actions.set(a.name, a);
  const sm = config.systemMetrics.resourceMonitoring;
  const cleanup = sm.diskUsage.cleanupPolicies;
  const diskActions = config.remediationActions.disk_space ?? [];
  const cpuActions = config.remediationActions.cpu_high ?? [];

  add(createTerminateIdleConnections({}));
  // cpu_high's terminate_idle: its threshold is CPU percent, so it terminates idle sessions down to the
  // connection pools' warning level, after the spec's grace period
  const cpuTerminate = cpuActions.find((a) => a.action === 'terminate_idle');
  add(
    createTerminateIdleConnections(
      { untilBelowPct: config.databaseMetrics.connectionPools.thresholdWarning, gracePeriodMs: cpuTerminate?.gracePeriodMs ?? 0 },
      'terminate_idle_connections_for_cpu',
    ),
  );
  add(createKillQuery({ triggerThresholdUnit: 's' }));
  add(createAnalyzeTables({}));
  add(createLogConnectionDetails({}));
  add(createScaleConnectionPool({ ...(config.remediation.pgbouncerAdminDsn ? { adminDsn: config.remediation.pgbouncerAdminDsn } : {}) }));

  const temp = diskActions.find((a) => a.action === 'cleanup_temp');
  add(createCleanupTempAction({ target: temp?.target ?? '/temp', maxAgeMs: cleanup.tempFilesMs, protectedPaths: deps.protectedPaths }));
  // every configured path, each worked on in turn (one missing or refused does not stop the others)
  const logs = diskActions.find((a) => a.action === 'compress_logs');
  const logPaths = config.remediation.logPaths;
  add(
    logPaths.length > 0
      ? createCompressLogsAction({ targets: logPaths, maxAgeMs: logs?.ageMs ?? cleanup.oldLogsMs, protectedPaths: deps.protectedPaths })
      : notConfigured('compress_logs', 'files', 'no log path configured (remediation.log_paths)'),
  );
  const backupPaths = config.remediation.backupPaths;
  add(
    backupPaths.length > 0
      ? createRotateBackupsAction({ roots: backupPaths, maxAgeMs: cleanup.backupRotationMs, protectedPaths: deps.protectedPaths })
      : notConfigured('rotate_backups', 'files', 'no backup path configured (remediation.backup_paths)'),
  );
  const renice = createReniceBackgroundActions({ groups: sm.cpuUsage.collection.processGroups });
  add(renice.renice);
  add(renice.restore);

  // every other name the config uses is a hook (configured or not: an unconfigured one is skipped with its reason)
  for (const rule of remediationRules(config).rules) {
    if (!rule.action.startsWith('hook:') || actions.has(rule.action)) continue;
    const name = rule.action.slice('hook:'.length);
    const h = config.remediation.hooks[name];
    const timeout = h?.timeoutMs ? { timeoutMs: h.timeoutMs } : {};
    const hook: HookConfig | undefined = h?.command
      ? { command: h.command, ...(h.env ? { env: h.env } : {}), ...(h.cwd ? { cwd: h.cwd } : {}), ...timeout }
      : h?.url
        ? { url: h.url, ...(h.headers ? { headers: h.headers } : {}), ...timeout }
        : undefined;
    const action = createHookAction({ name, ...(hook ? { hook } : {}) });
    actions.set(rule.action, action);
  }
  return actions;
}

/** An action whose configuration is missing: every plan is empty and says why (recorded as skipped). */
function notConfigured(name: string, kind: Action['kind'], reason: string): Action {
  return {
    name,
    kind,
    plan: async () => ({ action: name, steps: [], before: {}, reason }),
    execute: async () => ({ ok: false, done: [], failed: [], after: {} }),
  };
}

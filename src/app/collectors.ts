// The collector wiring from a loaded config: the host collectors at the spec's intervals, one
// PostgreSQL target per configured server, dpmon's own storage health, and the scores that read the
// others' latest values. Exported so that everything that runs collectors as dpmon does (the app,
// tests, benchmarks) builds them from the same config the same way.
import { hostname } from 'node:os';
import type { Config, TargetConfig } from '../config/index.ts';
import { createHostCollectors } from '../collect/host/index.ts';
import { createPostgresTarget, type PostgresTarget, type PostgresTargetOptions } from '../collect/postgres/index.ts';
import { createLocalDataDirs } from '../collect/postgres/local-data-dirs.ts';
import { createScoreCollector } from '../collect/derived/scores.ts';
import type { Collector } from '../model/collector.ts';
import { createDbMaintenance } from '../db/maintenance.ts';
import { createAuditSources, type AuditSourcesRegistry } from '../audit/sources/collector.ts';
import type { AuditSink } from '../audit/sources/source.ts';
import { createStatementHistory } from '../queries/collector.ts';
import type { QueryHistoryStore } from '../queries/history-db.ts';
import { createAdviceCollector, type AdviceCollector } from '../advice/collector.ts';
import type { ScheduledCollector } from '../collect/scheduler.ts';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import type { LatestStore } from '../store/latest.ts';

export interface CollectorDeps {
  readonly latest: LatestStore;
  readonly clock: Clock;
  readonly log: Logger;
  /** dpmon's own storage health (src/store/storage-health.ts), reported with the host's */
  readonly storage?: Collector;
  /** dpmon's data directory: its filesystem is reported whatever node_exporter's exclusions say */
  readonly dataDir?: string;
  /** paths judged like disk_usage.monitored_paths besides them: the embedded PostgreSQL's data directory */
  readonly extraMonitoredPaths?: readonly string[];
  /** queries.db: where given, each target's statement history is kept in it (src/queries) */
  readonly queryHistory?: QueryHistoryStore;
  /** the audit log: where given (with dataDir, and audit_config.enabled), each target's audit sources record into it */
  readonly audit?: { readonly sink: AuditSink; readonly registry: AuditSourcesRegistry };
}

/** The options of one PostgreSQL target as the config gives them (intervals from the spec's sections). */
export function postgresTargetOptions(config: Config, t: TargetConfig, deps: Pick<CollectorDeps, 'clock' | 'log'>): PostgresTargetOptions {
  const db = config.databaseMetrics;
  return {
    name: t.name,
    dsn: t.dsn,
    statementTimeoutMs: t.statementTimeoutMs,
    connectTimeoutMs: t.connectTimeoutMs,
    pgStatStatementsTop: t.pgStatStatementsTop,
    collectTables: t.collectTables,
    excludeDatabases: [...t.excludeDatabases],
    intervals: {
      defaultMs: config.resourceMonitoring.collectionIntervalMs,
      connectionsMs: db.connectionPools.monitoring.intervalMs,
      replicationMs: db.replication.monitoring.intervalMs,
      deadlockMs: db.queryPerformance.deadlockCheckIntervalMs,
      diskMs: config.systemMetrics.resourceMonitoring.diskUsage.intervalMs,
    },
    log: deps.log, // the target binds component and target itself
    clock: deps.clock,
  };
}

/** The host collectors, one target per server, storage health and the scores, ready for the scheduler. */
export function buildCollectors(
  config: Config,
  targetConfigs: readonly TargetConfig[],
  deps: CollectorDeps,
): { readonly collectors: ScheduledCollector[]; readonly targets: PostgresTarget[]; readonly advice: ReadonlyMap<string, AdviceCollector> } {
  const sm = config.systemMetrics.resourceMonitoring;
  const defaultMs = config.resourceMonitoring.collectionIntervalMs;
  const hostLabels = { instance: hostname() };
  // the job a scrape of node_exporter or postgres_exporter would attach: history and remote_write only
  const hostJob = { job: config.host.job };
  // the filesystems of local PostgreSQL servers' data directories are reported like dpmon's own
  const localDataDirs = createLocalDataDirs({
    targets: targetConfigs.map((t) => ({ name: t.name, dsn: t.dsn, timeoutMs: t.connectTimeoutMs })),
    log: deps.log.child({ component: 'local-data-dirs' }),
  });
  const host = createHostCollectors({
    procPath: config.host.procPath,
    sysPath: config.host.sysPath,
    cpuIntervalMs: sm.cpuUsage.intervalMs,
    memoryIntervalMs: sm.memoryUsage.intervalMs,
    diskIntervalMs: sm.diskUsage.intervalMs,
    defaultIntervalMs: defaultMs,
    monitoredPaths: [...new Set([...sm.diskUsage.monitoredPaths, ...(deps.extraMonitoredPaths ?? [])])],
    ...(deps.dataDir !== undefined ? { dataDir: deps.dataDir } : {}),
    localDataDirs: localDataDirs.paths,
    processGroups: sm.cpuUsage.collection.processGroups.map((g) => ({
      name: g.name,
      comm: [...g.comm],
      cmdline: [...g.cmdline],
      user: [...g.user],
    })),
  }).map((collector) => ({ collector, labels: hostLabels, historyLabels: hostJob }));

  const targets = targetConfigs.map((t) => createPostgresTarget(postgresTargetOptions(config, t, deps)));
  // what `dpmon db install` put into each target, maintained on dpmon's schedule
  const maintenance = targetConfigs.flatMap((t) => {
    const collector = createDbMaintenance(config, t, deps);
    return collector ? [{ collector, labels: { instance: t.name } }] : [];
  });
  const audit = deps.audit;
  const auditSources =
    audit && deps.dataDir !== undefined && config.auditConfig.enabled
      ? targetConfigs.map((t) => ({
          collector: createAuditSources(t, {
            sink: audit.sink,
            stateDir: deps.dataDir!,
            intervalMs: config.auditConfig.sourceIntervalMs,
            snapshotIntervalMs: config.auditConfig.snapshotIntervalMs,
            registry: audit.registry,
          }).collector,
          labels: { instance: t.name },
        }))
      : [];
  const history = deps.queryHistory;
  const statementHistory = history
    ? targetConfigs.map((t) => ({ collector: createStatementHistory(config, t, { store: history, retentionMs: config.storage.rawRetentionMs }), labels: { instance: t.name } }))
    : [];

  const db = config.databaseMetrics;
  // the advice checks per target, at the spec's deadlock_check_interval (their deadlocks finding counts
  // that interval), unless query_performance.monitoring.analysis leaves out optimization_suggestions
  const adviceOn = db.queryPerformance.monitoring.analysis.includes('optimization_suggestions');
  const advice = new Map(adviceOn ? targetConfigs.map((t) => [t.name, createAdviceCollector(t, { clock: deps.clock, intervalMs: db.queryPerformance.deadlockCheckIntervalMs })]) : []);
  const scores = createScoreCollector({
    latest: deps.latest,
    intervalMs: defaultMs,
    cpu: { method: sm.cpuUsage.collection.method, cores: sm.cpuUsage.collection.cores },
    thresholds: {
      cpu: { warning: sm.cpuUsage.thresholdWarning, critical: sm.cpuUsage.thresholdCritical },
      memory: { warning: sm.memoryUsage.thresholdWarning, critical: sm.memoryUsage.thresholdCritical },
      disk: { warning: sm.diskUsage.thresholdWarning, critical: sm.diskUsage.thresholdCritical },
      connections: { warning: db.connectionPools.thresholdWarning, critical: db.connectionPools.thresholdCritical },
    },
  });
  const collectors: ScheduledCollector[] = [
    ...host,
    ...(deps.storage ? [{ collector: deps.storage, labels: hostLabels }] : []),
    ...targets.map((t, i) => ({ collector: t.collector, historyLabels: { job: targetConfigs[i]!.job } })),
    ...maintenance,
    ...statementHistory,
    ...[...advice].map(([name, a]) => ({ collector: a.collector, labels: { instance: name } })),
    ...auditSources,
    // scores read the others' latest values, so they run at the shared default interval
    { collector: scores, labels: hostLabels },
  ];
  return { collectors, targets, advice };
}

// Wiring: builds the collectors, the scheduler, the embedded PostgreSQL when no target is configured,
// and the HTTP server from one loaded config. The only module that knows every concrete piece.
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { targetWithDefaults, type Config, type TargetConfig } from '../config/index.ts';
import { createHostCollectors } from '../collect/host/index.ts';
import { createPostgresTarget, type PostgresTarget } from '../collect/postgres/index.ts';
import { createScoreCollector } from '../collect/derived/scores.ts';
import { createScheduler, type ScheduledCollector, type Scheduler } from '../collect/scheduler.ts';
import { createHttpServer, readTlsFiles } from '../api/server.ts';
import { registerPrometheusApi } from '../api/prometheus-api.ts';
import { registerRulesApi } from '../api/rules-api.ts';
import { registerAlertmanagerApi } from '../api/alertmanager-api.ts';
import { registerDpmonApi } from '../api/dpmon-api.ts';
import { openSilenceStore, type SilenceStore } from '../alerts/silences.ts';
import { parseDsn } from '../config/dsn.ts';
import { createAlertPipeline, targetHost, type AlertPipeline } from '../notify/pipeline.ts';
import { createDashboardFeed, createNotifier } from '../notify/registry.ts';
import type { ChannelType, Notifier } from '../notify/types.ts';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createRemediationRunner, type RemediationRunner } from '../remediate/runner.ts';
import { openAlertStore, type AlertStore } from '../rules/alert-store.ts';
import { buildRules, runbookBaseUrl } from '../rules/builtin.ts';
import { createRulesEngine, type RulesEngine } from '../rules/engine.ts';
import { createQueryEngine, createQueryGate } from '../query/index.ts';
import { createRemoteWriter, endpointFromConfig, type RemoteWriter } from '../remote-write/index.ts';
import { systemClock, type Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import { STALE_NAN } from '../model/stale.ts';
import { createLatestStore, snapshotSamples, type LatestStore } from '../store/latest.ts';
import { createSqliteStore, type SqliteStore } from '../store/sqlite-store.ts';
import { createStorageHealth } from '../store/storage-health.ts';
import { createAuditLog, type AuditLog } from '../audit/audit-log.ts';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from './embedded-postgres.ts';

export interface App {
  start(): Promise<{ address: string }>;
  stop(): Promise<void>;
  /** Applies a new, already validated config: the rules now (their state kept); other sections need a restart. */
  reload(config: Config): void;
  readonly latest: LatestStore;
}

export interface AppOptions {
  readonly log: Logger;
  readonly clock?: Clock;
  /** overrides server.listen (CLI --listen) */
  readonly listen?: { host: string; port: number };
  /** overrides storage.data_dir (CLI --data-dir) */
  readonly dataDir?: string;
  /** re-reads and applies the config (POST /-/reload); resolves with the errors that refused it */
  readonly reloadConfig?: () => Promise<readonly string[]>;
}

export function createApp(config: Config, opts: AppOptions): App {
  const log = opts.log;
  const clock = opts.clock ?? systemClock;
  const latest = createLatestStore();
  const dataDir = opts.dataDir ?? config.storage.dataDir;
  let embedded: EmbeddedPostgresHandle | undefined;
  let targets: PostgresTarget[] = [];
  let scheduler: Scheduler | undefined;
  let server: FastifyInstance | undefined;
  let store: SqliteStore | undefined;
  let remoteWriter: RemoteWriter | undefined;
  let rules: RulesEngine | undefined;
  let alertStore: AlertStore | undefined;
  let pipeline: AlertPipeline | undefined;
  let silences: SilenceStore | undefined;
  let stateDb: Database.Database | undefined;
  let remediation: RemediationRunner | undefined;
  const hostOfTarget = new Map<string, string>();
  let ready = false;
  /** the latest notifications of the dashboard channel, for the web dashboard */
  const dashboardFeed = createDashboardFeed();
  let current = config;
  let audit: AuditLog | undefined;
  // failed writes of history.db, state.db and the audit log, and the room left in the data directory
  const storage = createStorageHealth({
    dataDir,
    intervalMs: config.resourceMonitoring.collectionIntervalMs,
    backlog: () => {
      const h = store?.stats();
      return {
        history: { unwritten: h?.bufferedSamples ?? 0, dropped: h?.droppedSamples ?? 0 },
        state: { unwritten: rules?.unsavedGroups() ?? 0, dropped: 0 },
        audit: audit?.backlog() ?? { unwritten: 0, dropped: 0 },
      };
    },
    // events the disk refused are written at the next append too; this covers a quiet remediation
    retry: () => void audit?.retry(),
  });

  function openHistory(): SqliteStore {
    const agg = config.monitoringIntegration.metricsAggregation;
    return createSqliteStore({
      dataDir,
      clock,
      rawRetentionMs: config.storage.rawRetentionMs,
      rollupWindowMs: agg.windowSizeMs,
      // the spec gives rollup retention twice (metrics_aggregation.retention, resource_monitoring.retention_period): keep the longer
      rollupRetentionMs: Math.max(agg.retentionMs, config.resourceMonitoring.retentionPeriodMs),
      onError: (err) => log.error({ err }, 'history store write failed, will retry'),
      onWriteError: (err) => storage.failed('history', err),
      maxBufferedSamples: config.storage.maxBufferedSamples,
    });
  }

  async function resolveTargets(): Promise<readonly TargetConfig[]> {
    if (config.targets.length > 0) return config.targets;
    embedded = await startEmbeddedPostgres(dataDir, log.child({ component: 'embedded-postgres' }));
    return [targetWithDefaults('embedded', embedded.dsn)];
  }

  function buildCollectors(targetConfigs: readonly TargetConfig[]): ScheduledCollector[] {
    const sm = config.systemMetrics.resourceMonitoring;
    const defaultMs = config.resourceMonitoring.collectionIntervalMs;
    const hostLabels = { instance: hostname() };
    const hostJob = { job: config.host.job };
    const host = createHostCollectors({
      procPath: config.host.procPath,
      sysPath: config.host.sysPath,
      cpuIntervalMs: sm.cpuUsage.intervalMs,
      memoryIntervalMs: sm.memoryUsage.intervalMs,
      diskIntervalMs: sm.diskUsage.intervalMs,
      defaultIntervalMs: defaultMs,
      monitoredPaths: [...sm.diskUsage.monitoredPaths],
      dataDir,
      processGroups: sm.cpuUsage.collection.processGroups.map((g) => ({
        name: g.name,
        comm: [...g.comm],
        cmdline: [...g.cmdline],
        user: [...g.user],
      })),
    }).map((collector) => ({ collector, labels: hostLabels, historyLabels: hostJob }));

    const db = config.databaseMetrics;
    targets = targetConfigs.map((t) =>
      createPostgresTarget({
        name: t.name,
        dsn: t.dsn,
        statementTimeoutMs: t.statementTimeoutMs,
        connectTimeoutMs: t.connectTimeoutMs,
        pgStatStatementsTop: t.pgStatStatementsTop,
        collectTables: t.collectTables,
        excludeDatabases: [...t.excludeDatabases],
        intervals: {
          defaultMs,
          connectionsMs: db.connectionPools.monitoring.intervalMs,
          replicationMs: db.replication.monitoring.intervalMs,
          deadlockMs: db.queryPerformance.deadlockCheckIntervalMs,
          diskMs: sm.diskUsage.intervalMs,
        },
        log, // the target binds component and target itself
        clock,
      }),
    );

    const scores = createScoreCollector({
      latest,
      intervalMs: defaultMs,
      cpu: { method: sm.cpuUsage.collection.method, cores: sm.cpuUsage.collection.cores },
      thresholds: {
        cpu: { warning: sm.cpuUsage.thresholdWarning, critical: sm.cpuUsage.thresholdCritical },
        memory: { warning: sm.memoryUsage.thresholdWarning, critical: sm.memoryUsage.thresholdCritical },
        disk: { warning: sm.diskUsage.thresholdWarning, critical: sm.diskUsage.thresholdCritical },
        connections: {
          warning: db.connectionPools.thresholdWarning,
          critical: db.connectionPools.thresholdCritical,
        },
      },
    });
    return [
      ...host,
      { collector: storage.collector, labels: hostLabels },
      ...targets.map((t, i) => ({ collector: t.collector, historyLabels: { job: (targetConfigs[i] as TargetConfig).job } })),
      // scores read the others' latest values, so they run at the shared default interval
      { collector: scores, labels: hostLabels },
    ];
  }

  function rulesEngine(): RulesEngine {
    if (!rules) throw new Error('rules engine not started');
    return rules;
  }

  /** state.db for the pipeline and silences, the notifiers per receiver and channel, and the pipeline. */
  function openPipeline(dir: string, listen: { host: string; port: number }, targetConfigs: readonly TargetConfig[]): AlertPipeline {
    stateDb = new Database(join(dir, 'state.db'));
    stateDb.pragma('journal_mode = WAL');
    stateDb.pragma('synchronous = NORMAL');
    // the audit log prepares its statements before state.db is watched, so its failed writes count as
    // the audit log's, and every later statement's (outbox, silences, escalation, remediation) as state's
    audit = createAuditLog(stateDb, { onWriteError: (err) => storage.failed('audit', err) });
    storage.watch(stateDb, 'state');
    silences = openSilenceStore(stateDb, { clock });
    const notifiers = new Map<string, Notifier>();
    const notifyLog = log.child({ component: 'notify' });
    const notifierFor = (receiver: string, channel: ChannelType): Notifier | undefined => {
      const key = `${receiver}/${channel}`;
      let n = notifiers.get(key);
      if (!n) {
        n = createNotifier(channel, config.receivers[receiver], config.notificationChannels, { logger: notifyLog, dashboard: dashboardFeed });
        notifiers.set(key, n);
      }
      return n;
    };
    // correlation's "same host": a target's DSN host (this machine for loopback and sockets)
    const hosts = hostOfTarget;
    for (const t of targetConfigs) {
      const parsed = parseDsn(t.dsn);
      hosts.set(t.name, targetHost('params' in parsed ? parsed.params.host : undefined));
    }
    const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
    pipeline = createAlertPipeline({
      config,
      db: stateDb,
      silences,
      notifierFor,
      clock,
      log,
      externalURL: `${config.server.tls ? 'https' : 'http'}://${host}:${listen.port}`,
      hostOf: (instance) => hosts.get(instance) ?? instance,
      // remediation starts after the pipeline: read at page time
      remediationOf: (fingerprints) => remediation?.outcomeFor(fingerprints),
    });
    return pipeline;
  }

  return {
    latest,
    async start() {
      store = openHistory();
      const history = store;
      if (config.remoteWrite.length > 0) {
        remoteWriter = createRemoteWriter({
          endpoints: config.remoteWrite.map(endpointFromConfig),
          dataDir,
          clock,
          log: log.child({ component: 'remote-write' }),
        });
      }
      const writer = remoteWriter;
      const targetConfigs = await resolveTargets();
      const constLabels = config.monitoringIntegration.prometheus.labels;
      // the engine serves some range queries from the rollups: it must know the store's window
      const engine = createQueryEngine(history, {
        rollupWindowMs: config.monitoringIntegration.metricsAggregation.windowSizeMs,
        timeoutMs: config.server.queryTimeoutMs,
        maxSamples: config.server.queryMaxSamples,
        parseLimits: { maxLength: config.server.queryMaxLength, maxDepth: config.server.queryMaxDepth },
      });
      const listen = opts.listen ?? { host: config.server.host, port: config.server.port };
      alertStore = openAlertStore(dataDir, { onWriteError: (err) => storage.failed('state', err) });
      const alertPipeline = openPipeline(dataDir, listen, targetConfigs);
      rules = createRulesEngine({
        groups: buildRules(config, { runbookBaseUrl: runbookBaseUrl(config, listen) }).groups,
        engine,
        store: history,
        alertStore,
        clock,
        log: log.child({ component: 'rules' }),
        // after each evaluation with a transition, the pipeline takes the alerts as they now are
        onEvents: () => alertPipeline.syncRules(rulesEngine().alerts({ includeResolved: true })),
        settings: {
          resolvedRetentionMs: config.rules.resolvedRetentionMs,
          flapWindowMs: config.rules.flapWindowMs,
          flapTransitions: config.rules.flapTransitions,
          flapHoldMs: config.rules.flapHoldMs,
          stepMs: config.resourceMonitoring.collectionIntervalMs,
          externalLabels: constLabels,
        },
      });
      scheduler = createScheduler({
        collectors: [...buildCollectors(targetConfigs), ...(writer ? [{ collector: writer.collector }] : []), { collector: rules.collector }],
        latest,
        clock,
        log: log.child({ component: 'collect' }),
        onSnapshot: (_source, snapshot, jobLabels) => {
          // history without the spec's constant labels (an exposition concern); remote_write with them,
          // as Prometheus adds its external_labels, so a shared TSDB can tell environments apart; both
          // with the `job` a scrape of the exporter would attach (docs/metrics.md)
          history.append(snapshotSamples(snapshot, jobLabels));
          writer?.push(snapshotSamples(snapshot, { ...constLabels, ...jobLabels }));
        },
        onStale: (_source, series, t) => {
          // series that stopped being reported: a stale marker each, to history and (as Prometheus
          // sends them) to remote_write, so both stop returning them at once rather than after 5m
          history.append(series.map((labels) => ({ labels, t, v: STALE_NAN })));
          writer?.push(series.map((labels) => ({ labels: { ...constLabels, ...labels }, t, v: STALE_NAN })));
        },
      });
      writer?.start();
      server = createHttpServer({
        metricsPath: config.monitoringIntegration.prometheus.endpoint,
        constLabels: config.monitoringIntegration.prometheus.labels,
        latest,
        isReady: () => ready,
        log: log.child({ component: 'http' }),
        tls: config.server.tls ? readTlsFiles(config.server.tls) : undefined,
      });
      registerPrometheusApi(server, { engine, store: history, clock, gate: createQueryGate(config.server.queryMaxConcurrency) });
      registerRulesApi(server, { rules: () => rules, reload: opts.reloadConfig, authToken: config.server.authToken });
      registerAlertmanagerApi(server, { alerts: alertPipeline, silences: silences!, inhibitor: alertPipeline.inhibitor, authToken: config.server.authToken, clock });
      const auditLog = audit!;
      remediation = createRemediationRunner({
        config,
        db: stateDb!,
        audit: auditLog,
        rules,
        targets: targetConfigs,
        hostOf: (instance) => hostOfTarget.get(instance) ?? instance,
        // silences and inhibition apply to remediation as they do to notifications
        muted: (fp, labels) => silences!.mutes(labels).length > 0 || alertPipeline.inhibitor.mutes(labels, alertPipeline.listAlerts().map((a) => ({ fingerprint: a.fingerprint, labels: a.labels, status: 'firing' as const })), fp) !== undefined,
        protectedPaths: [dataDir],
        // an alert posted to the pipeline pages like any other, and resolves 5 minutes after the last post
        raise: (labels, summary) => alertPipeline.postAlerts([{ labels, annotations: { summary, runbook_url: `${runbookBaseUrl(config, listen)}#remediation_failed` }, startsAt: clock.now() }]),
        clock,
        log,
      });
      const remediator = remediation.remediator;
      registerDpmonApi(server, {
        ack: (fp, by, comment) => alertPipeline.ack(fp, by, comment),
        escalations: () => alertPipeline.escalations(),
        notifications: (state) => alertPipeline.notifications(state),
        authToken: config.server.authToken,
        remediation: {
          events: (limit) => auditLog.list({ kindPrefix: 'remediation.', limit }),
          pending: () => remediator.pending(),
          approve: (id, by) => remediator.approve(id, by),
        },
      });
      const address = await server.listen(listen);
      log.info({ address, metrics: config.monitoringIntegration.prometheus.endpoint }, 'dpmon listening');
      alertPipeline.start();
      alertPipeline.syncRules(rules.alerts({ includeResolved: true }));
      scheduler.start();
      // rules judge fresh data: after a restart they start once every collector has run, so an alert
      // restored as firing is not resolved by a lookback that still sees the minutes before the stop
      const engineOfRules = rules;
      const remediationRunner = remediation;
      void scheduler.firstRunDone.then(() => {
        engineOfRules.start();
        remediationRunner.start();
      });
      // /-/ready means "every collector has run once", so a first scrape is never half empty
      void scheduler.firstRunDone.then(() => {
        ready = true;
        log.info('first collection complete');
      });
      return { address };
    },
    async stop() {
      await server?.close();
      await remediation?.stop();
      await rules?.stop();
      await pipeline?.stop();
      await scheduler?.stop();
      await Promise.all(targets.map((t) => t.close()));
      await remoteWriter?.stop();
      alertStore?.close();
      silences?.close();
      stateDb?.close();
      await store?.close();
      await embedded?.stop();
    },
    reload(next) {
      if (!rules) return;
      const listen = opts.listen ?? { host: next.server.host, port: next.server.port };
      rules.reload(buildRules(next, { runbookBaseUrl: runbookBaseUrl(next, listen) }).groups);
      // alerts of removed rules resolve in the pipeline now, not at the next unrelated transition
      pipeline?.syncRules(rules.alerts({ includeResolved: true }));
      // collectors, targets, storage and the server are built once; say which changes wait for a restart
      const changed = (Object.keys(next) as (keyof Config)[]).filter(
        (k) => k !== 'rules' && k !== 'alertRules' && k !== 'prometheusConfig' && JSON.stringify(next[k]) !== JSON.stringify(current[k]),
      );
      current = next;
      log.info({ needRestart: changed }, changed.length ? 'config reloaded: rules applied; other changed sections apply at the next start' : 'config reloaded');
    },
  };
}

// Wiring: builds the collectors, the scheduler, the embedded PostgreSQL when no target is configured,
// and the HTTP server from one loaded config. The only module that knows every concrete piece.
import type { FastifyInstance } from 'fastify';
import { targetWithDefaults, type Config, type TargetConfig } from '../config/index.ts';
import type { PostgresTarget } from '../collect/postgres/index.ts';
import { createScheduler, type Scheduler } from '../collect/scheduler.ts';
import { createHttpServer, readTlsFiles } from '../api/server.ts';
import { registerPrometheusApi } from '../api/prometheus-api.ts';
import { registerPrometheusMetaApi } from '../api/prometheus-meta-api.ts';
import { prometheusMetaDeps } from '../api/prometheus-sources.ts';
import { registerRulesApi } from '../api/rules-api.ts';
import { registerAlertmanagerApi } from '../api/alertmanager-api.ts';
import { registerDpmonApi } from '../api/dpmon-api.ts';
import { registerAdviceApi } from '../api/advice-api.ts';
import { runAdvice } from '../advice/engine.ts';
import type { AdviceCollector } from '../advice/collector.ts';
import { registerConsole } from '../console/index.ts';
import { registerDashboardsApi } from '../api/dashboards-api.ts';
import { registerQueriesApi } from '../api/queries-api.ts';
import { registerAuditSourcesApi } from '../api/audit-sources-api.ts';
import { createAuditSourcesRegistry } from '../audit/sources/collector.ts';
import { openQueryHistory, type QueryHistoryStore } from '../queries/history-db.ts';
import { readLongRunning } from '../queries/long-running.ts';
import { resolveDashboards } from '../dashboards/index.ts';
import { openSilenceStore, type SilenceStore } from '../alerts/silences.ts';
import { parseDsn } from '../config/dsn.ts';
import { createAlertPipeline, targetHost, type AlertPipeline } from '../notify/pipeline.ts';
import { createDashboardFeed, createNotifier } from '../notify/registry.ts';
import type { ChannelType, Notifier } from '../model/notification.ts';
import type Database from 'better-sqlite3';
import { createRemediationRunner, type RemediationRunner } from '../remediate/runner.ts';
import { openAlertStore, type AlertStore } from '../rules/alert-store.ts';
import { buildRules, runbookBaseUrl } from '../rules/builtin.ts';
import { createRulesEngine, type RulesEngine } from '../rules/engine.ts';
import { createQueryEngine, createQueryGate, createQueryStats, type QueryEngine } from '../query/index.ts';
import { createRemoteWriter, endpointFromConfig, type RemoteWriter } from '../remote-write/index.ts';
import { systemClock, type Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import { STALE_NAN } from '../model/stale.ts';
import { createLatestStore, snapshotSamples, type LatestStore } from '../store/latest.ts';
import { createSqliteStore, type SqliteStore } from '../store/sqlite-store.ts';
import { openStateDb } from '../store/state-db.ts';
import { createStorageHealth } from '../store/storage-health.ts';
import { createAuditLog, type AuditLog, type RecordAudit } from '../audit/audit-log.ts';
import { createAuditMetrics } from '../audit/audit-metrics.ts';
import { createAuditRetention } from '../audit/audit-retention.ts';
import { auditTokenRefusals } from '../api/auth-audit.ts';
import { buildCollectors } from './collectors.ts';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from './embedded-postgres.ts';

type Listen = { readonly host: string; readonly port: number };

export interface App {
  start(): Promise<{ address: string }>;
  stop(): Promise<void>;
  /** Applies a new, already validated config: the rules now (their state kept); other sections need a restart. */
  reload(config: Config): void;
  /** appends to the audit trail once it is open (dpmon's own actions: reloads from the coordinator) */
  readonly record: RecordAudit;
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
  /** the running config as `dpmon config print` shows it and the last (re)load, for /api/v1/status/config and runtimeinfo */
  readonly configStatus?: { printed(): string; lastReload(): { success: boolean; at: number } };
}

export function createApp(config: Config, opts: AppOptions): App {
  const log = opts.log;
  const clock = opts.clock ?? systemClock;
  const latest = createLatestStore();
  const dataDir = opts.dataDir ?? config.storage.dataDir;
  let embedded: EmbeddedPostgresHandle | undefined;
  let targets: PostgresTarget[] = [];
  let advice: ReadonlyMap<string, AdviceCollector> = new Map();
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
  let queryHistory: QueryHistoryStore | undefined;
  const hostOfTarget = new Map<string, string>();
  let ready = false;
  /** the latest notifications of the dashboard channel, for the web dashboard */
  const dashboardFeed = createDashboardFeed();
  /** dpmon_engine_*: recorded by the query engine and the API's gate, reported by the scheduler */
  const queryStats = createQueryStats({ concurrentMax: config.server.queryMaxConcurrency });
  let current = config;
  const startTime = clock.now();
  let audit: AuditLog | undefined;
  /** each target's audit sources and their state, for /api/dpmon/audit/sources */
  const auditSources = createAuditSourcesRegistry();
  /** dpmon_audit_events_total and dpmon_audit_auth_failures_total, fed by every event kept */
  const auditMetrics = createAuditMetrics({ intervalMs: config.resourceMonitoring.collectionIntervalMs, now: () => clock.now() });
  /** dpmon's own actions into the trail; a failed write is the audit log's to report, never the request's */
  const record: RecordAudit = (e) => {
    try {
      audit?.append({ ...e, at: e.at ?? clock.now() });
    } catch (err) {
      log.error({ err, kind: e.kind }, 'audit event not recorded');
    }
  };
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

  function rulesEngine(): RulesEngine {
    if (!rules) throw new Error('rules engine not started');
    return rules;
  }

  /**
   * state.db, migrated to its current schema, as the one connection of every store in it: the audit
   * log, alert state, silences (then the pipeline and remediation). A row that cannot be read is skipped
   * by its store and reported here: logged with its table and key, and counted.
   */
  function openState(dir: string): { db: Database.Database; silences: SilenceStore } {
    const stateLog = log.child({ component: 'state' });
    const db = (stateDb = openStateDb(dir, {
      onBadRow: ({ table, key, problem }) => {
        stateLog.error({ table, key, problem }, 'state.db: skipped a stored row that cannot be read; it is left in the file');
        storage.badStateRow(table);
      },
    }));
    // the audit log prepares its statements before state.db is watched, so its failed writes count as
    // the audit log's, and every later statement's (alert state, outbox, silences, escalation, remediation) as state's
    audit = createAuditLog(db, {
      onWriteError: (err) => storage.failed('audit', err),
      policy: config.auditConfig,
      onKept: (e) => auditMetrics.observe(e),
      now: () => clock.now(),
    });
    storage.watch(db, 'state');
    alertStore = openAlertStore(db, { onWriteError: (err) => storage.failed('state', err) });
    silences = openSilenceStore(db, { clock });
    return { db, silences };
  }

  /** The notifiers per receiver and channel, and the pipeline, over state.db. */
  function openPipeline(state: { db: Database.Database; silences: SilenceStore }, listen: { host: string; port: number }, targetConfigs: readonly TargetConfig[]): AlertPipeline {
    const notifiers = new Map<string, Notifier>();
    const notifyLog = log.child({ component: 'notify' });
    const notifierFor = (receiver: string, channel: ChannelType): Notifier | undefined => {
      const key = `${receiver}/${channel}`;
      let n = notifiers.get(key);
      if (!n) {
        n = createNotifier(channel, config.receivers[receiver], config.notificationChannels, { logger: notifyLog, dashboard: dashboardFeed, clock, now: () => clock.now() });
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
      db: state.db,
      silences: state.silences,
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

  function startRemoteWrite(): RemoteWriter | undefined {
    if (config.remoteWrite.length === 0) return undefined;
    return (remoteWriter = createRemoteWriter({
      endpoints: config.remoteWrite.map(endpointFromConfig),
      dataDir,
      clock,
      log: log.child({ component: 'remote-write' }),
    }));
  }

  /** PromQL over the history, under the server's query limits */
  function queryEngine(history: SqliteStore): QueryEngine {
    // the engine serves some range queries from the rollups: it must know the store's window
    return createQueryEngine(history, {
      rollupWindowMs: config.monitoringIntegration.metricsAggregation.windowSizeMs,
      timeoutMs: config.server.queryTimeoutMs,
      maxSamples: config.server.queryMaxSamples,
      maxPoints: config.server.queryMaxPoints,
      lookbackDeltaMs: config.server.queryLookbackDeltaMs,
      stats: queryStats,
      parseLimits: { maxLength: config.server.queryMaxLength, maxDepth: config.server.queryMaxDepth },
    });
  }

  function startRules(engine: QueryEngine, history: SqliteStore, alertPipeline: AlertPipeline, listen: Listen): RulesEngine {
    return (rules = createRulesEngine({
      groups: buildRules(config, { runbookBaseUrl: runbookBaseUrl(config, listen) }).groups,
      engine,
      store: history,
      alertStore: alertStore!,
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
        externalLabels: config.monitoringIntegration.prometheus.labels,
      },
    }));
  }

  /** the collectors, remote_write's and the rules' own on one scheduler, feeding history and remote_write */
  function schedule(targetConfigs: readonly TargetConfig[], history: SqliteStore, writer: RemoteWriter | undefined, rulesOfApp: RulesEngine): Scheduler {
    const constLabels = config.monitoringIntegration.prometheus.labels;
    const built = buildCollectors(config, targetConfigs, {
      latest,
      clock,
      log,
      storage: storage.collector,
      dataDir,
      ...(queryHistory ? { queryHistory } : {}),
      ...(audit ? { audit: { sink: audit, registry: auditSources } } : {}),
      // the embedded server's disk is judged like the spec's paths: filling it is what the disk rules are for
      ...(embedded ? { extraMonitoredPaths: [embedded.dataDir] } : {}),
    });
    targets = built.targets;
    advice = built.advice;
    return createScheduler({
      collectors: [
        ...built.collectors,
        ...(writer ? [{ collector: writer.collector }] : []),
        { collector: rulesOfApp.collector },
        { collector: queryStats.collector },
        { collector: auditMetrics.collector },
        // retention read at each prune, so a reload's audit_config.retention applies at the next one
        { collector: createAuditRetention(audit!, { retentionMs: () => current.auditConfig.retentionMs, intervalMs: config.resourceMonitoring.collectionIntervalMs }) },
      ],
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
  }

  function serveHttp(): FastifyInstance {
    return createHttpServer({
      metricsPath: config.monitoringIntegration.prometheus.endpoint,
      constLabels: config.monitoringIntegration.prometheus.labels,
      latest,
      isReady: () => ready,
      log: log.child({ component: 'http' }),
      tls: config.server.tls ? readTlsFiles(config.server.tls) : undefined,
    });
  }

  function startRemediation(targetConfigs: readonly TargetConfig[], alertPipeline: AlertPipeline, listen: Listen, rulesOfApp: RulesEngine): RemediationRunner {
    return createRemediationRunner({
      config,
      db: stateDb!,
      audit: audit!,
      rules: rulesOfApp,
      targets: targetConfigs,
      hostOf: (instance) => hostOfTarget.get(instance) ?? instance,
      // silences, inhibition and time intervals mute remediation as they mute notifications (one stage)
      muted: (fp, labels) => alertPipeline.muted(fp, labels) !== undefined,
      protectedPaths: [dataDir],
      // an alert posted to the pipeline pages like any other, and resolves 5 minutes after the last post
      raise: (labels, summary) => alertPipeline.postAlerts([{ labels, annotations: { summary, runbook_url: `${runbookBaseUrl(config, listen)}#remediation_failed` }, startsAt: clock.now() }]),
      clock,
      log,
    });
  }

  /** Prometheus's query and rules APIs, Alertmanager's, and dpmon's own, on the one server */
  function registerApis(
    http: FastifyInstance,
    engine: QueryEngine,
    history: SqliteStore,
    alertPipeline: AlertPipeline,
    runner: RemediationRunner,
    listen: Listen,
    targetConfigs: readonly TargetConfig[],
  ): void {
    const authToken = config.server.authToken;
    const auditLog = audit!;
    const remediator = runner.remediator;
    registerPrometheusApi(http, { engine, store: history, clock, gate: createQueryGate(config.server.queryMaxConcurrency, undefined, queryStats) });
    registerPrometheusMetaApi(http, prometheusMetaDeps({
      config, listen, dataDir, clock, startTime, latest, postgres: targetConfigs,
      health: () => scheduler?.health() ?? [],
      recordingRules: () => rules?.groups().flatMap((g) => g.def.rules.filter((r) => r.kind === 'record')) ?? [],
      configYaml: () => opts.configStatus?.printed() ?? '',
      lastConfig: () => opts.configStatus?.lastReload() ?? { success: true, at: startTime },
    }));
    registerRulesApi(http, { rules: () => rules, reload: opts.reloadConfig, authToken });
    registerAlertmanagerApi(http, { alerts: alertPipeline, silences: silences!, inhibitor: alertPipeline.inhibitor, authToken, clock, audit: record });
    registerDpmonApi(http, {
      ack: (fp, by, comment) => alertPipeline.ack(fp, by, comment),
      escalations: () => alertPipeline.escalations(),
      notifications: (state) => alertPipeline.notifications(state),
      incidents: () => alertPipeline.incidents(),
      audit: (q) => auditLog.list(q),
      auditVerify: () => auditLog.verify(),
      record,
      authToken,
      remediation: {
        events: (limit) => auditLog.list({ kindPrefix: 'remediation.', limit }),
        pending: () => remediator.pending(),
        approve: (id, by) => remediator.approve(id, by),
        reject: (id, by) => remediator.reject(id, by),
      },
    });
    registerAuditSourcesApi(http, { statuses: () => auditSources.statuses(), targets: () => targetConfigs.map((t) => t.name) });
    registerQueriesApi(http, {
      ...(queryHistory ? { history: queryHistory } : {}),
      targets: () => targetConfigs.map((t) => t.name),
      clock,
      longRunning: async (name) => {
        const threshold = config.databaseMetrics.queryPerformance.longRunningThresholdMs;
        const chosen = targetConfigs.filter((t) => name === undefined || t.name === name);
        const settled = await Promise.allSettled(chosen.map((t) => readLongRunning(t, threshold)));
        return {
          statements: settled.flatMap((s) => (s.status === 'fulfilled' ? s.value : [])),
          errors: settled.flatMap((s, i) => (s.status === 'rejected' ? [{ target: chosen[i]!.name, error: (s.reason as Error).message }] : [])),
        };
      },
    });
    registerAdviceApi(http, {
      targets: () => targetConfigs.map((t) => t.name),
      report: async (name, fresh) => {
        const last = advice.get(name)?.last();
        if (last && !fresh) return last;
        const t = targetConfigs.find((x) => x.name === name)!;
        return runAdvice(t, { clock, statementTimeoutMs: t.statementTimeoutMs });
      },
    });
    // a reload changes what the dashboards show at once: they are resolved from the current config
    registerDashboardsApi(http, { dashboards: () => resolveDashboards(current).dashboards });
    registerConsole(http);
  }

  /** the loops, once the server listens: the pipeline now, collection now, rules and remediation after the first collection */
  function startLoops(alertPipeline: AlertPipeline, rulesOfApp: RulesEngine, sched: Scheduler, runner: RemediationRunner): void {
    alertPipeline.start();
    alertPipeline.syncRules(rulesOfApp.alerts({ includeResolved: true }));
    sched.start();
    // rules judge fresh data: after a restart they start once every collector has run, so an alert
    // restored as firing is not resolved by a lookback that still sees the minutes before the stop
    void sched.firstRunDone.then(() => {
      rulesOfApp.start();
      runner.start();
    });
    // /-/ready means "every collector has run once", so a first scrape is never half empty
    void sched.firstRunDone.then(() => {
      ready = true;
      log.info('first collection complete');
    });
  }

  return {
    latest,
    record,
    async start() {
      const history = (store = openHistory());
      queryHistory = openQueryHistory(dataDir);
      const writer = startRemoteWrite();
      const targetConfigs = await resolveTargets();
      const listen = opts.listen ?? { host: config.server.host, port: config.server.port };
      const engine = queryEngine(history);
      const alertPipeline = openPipeline(openState(dataDir), listen, targetConfigs);
      const rulesOfApp = startRules(engine, history, alertPipeline, listen);
      const sched = (scheduler = schedule(targetConfigs, history, writer, rulesOfApp));
      writer?.start();
      const http = (server = serveHttp());
      // before the routes: every API family's 401 is recorded
      auditTokenRefusals(http, record, () => clock.now());
      remediation = startRemediation(targetConfigs, alertPipeline, listen, rulesOfApp);
      registerApis(http, engine, history, alertPipeline, remediation, listen, targetConfigs);
      const address = await http.listen(listen);
      log.info({ address, metrics: config.monitoringIntegration.prometheus.endpoint }, 'dpmon listening');
      startLoops(alertPipeline, rulesOfApp, sched, remediation);
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
      queryHistory?.close();
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
        (k) => k !== 'rules' && k !== 'alertRules' && k !== 'prometheusConfig' && k !== 'dashboards' && JSON.stringify(next[k]) !== JSON.stringify(current[k]),
      );
      current = next;
      audit?.setPolicy(next.auditConfig);
      log.info({ needRestart: changed }, changed.length ? 'config reloaded: rules applied; other changed sections apply at the next start' : 'config reloaded');
    },
  };
}

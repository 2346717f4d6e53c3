// dpmon's own state as the Prometheus status API shows it: the scheduler's collectors as scrape
// targets (a PostgreSQL target in pool `postgres`, the others in pool `dpmon`), the latest store's
// families and the recording rules as metric metadata, and dpmon's settings as Prometheus flags.
// prometheusMetaDeps assembles them for app.ts.
import { hostname } from 'node:os';
import { parseDsn } from '../config/dsn.ts';
import type { Config } from '../config/index.ts';
import type { CollectorHealth } from '../collect/scheduler.ts';
import type { Clock } from '../lib/clock.ts';
import type { MetricType } from '../model/metric.ts';
import type { FamilySnapshot, LatestStore } from '../store/latest.ts';
import type { MetricMetadata, PrometheusMetaDeps, ScrapeTarget } from './prometheus-meta-api.ts';
import { modelDuration } from './promql-format.ts';

/** Everything the meta API shows, from the running app's parts (read at request time). */
export function prometheusMetaDeps(o: {
  config: Config;
  listen: { host: string; port: number };
  dataDir: string;
  clock: Clock;
  startTime: number;
  latest: LatestStore;
  health: () => readonly CollectorHealth[];
  recordingRules: () => readonly { name: string; group: string; expr: string }[];
  postgres: readonly { name: string; dsn: string }[];
  configYaml: () => string;
  lastConfig: () => { success: boolean; at: number };
}): PrometheusMetaDeps {
  const { config, listen } = o;
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  const metricsUrl = `${config.server.tls ? 'https' : 'http'}://${host}:${listen.port}${config.monitoringIntegration.prometheus.endpoint}`;
  return {
    clock: o.clock,
    startTime: o.startTime,
    retentionMs: config.storage.rawRetentionMs,
    lastConfig: o.lastConfig,
    configYaml: o.configYaml,
    metadata: () => metricMetadata(o.latest.families(), o.recordingRules()),
    targets: () => describeTargets(o.health(), { postgres: o.postgres, metricsUrl, hostname: hostname() }),
    flags: () =>
      prometheusFlags({
        listen: `${listen.host}:${listen.port}`,
        dataDir: o.dataDir,
        retentionMs: config.storage.rawRetentionMs,
        queryTimeoutMs: config.server.queryTimeoutMs,
        queryMaxConcurrency: config.server.queryMaxConcurrency,
        queryMaxSamples: config.server.queryMaxSamples,
        queryLookbackDeltaMs: config.server.queryLookbackDeltaMs,
      }),
  };
}

/** The scheduler collector of PostgreSQL target `name` (src/collect/postgres/target.ts). */
const POSTGRES_COLLECTOR_PREFIX = 'postgres:';

/**
 * Each collector as a target. A PostgreSQL target's scrapeUrl is its server without user or password
 * (`postgres://host:port/dbname`); the others' is dpmon's /metrics, where their series are served.
 */
export function describeTargets(
  health: readonly CollectorHealth[],
  opts: { postgres: readonly { name: string; dsn: string }[]; metricsUrl: string; hostname: string },
): ScrapeTarget[] {
  const dsnOf = new Map(opts.postgres.map((t) => [t.name, t.dsn]));
  return health.map((h): ScrapeTarget => {
    const target = h.name.startsWith(POSTGRES_COLLECTOR_PREFIX) ? h.name.slice(POSTGRES_COLLECTOR_PREFIX.length) : undefined;
    const run: Omit<ScrapeTarget, 'pool' | 'labels' | 'scrapeUrl'> = {
      health: h.health,
      lastError: h.lastError,
      lastScrape: h.lastRunAt,
      lastScrapeDurationMs: h.lastDurationMs,
      intervalMs: h.intervalMs,
      timeoutMs: h.timeoutMs,
    };
    if (target !== undefined) {
      return { pool: 'postgres', labels: { instance: target, job: 'postgres' }, scrapeUrl: postgresUrl(dsnOf.get(target)), ...run };
    }
    return {
      pool: 'dpmon',
      labels: { collector: h.name, instance: h.labels.instance ?? opts.hostname, job: 'dpmon' },
      scrapeUrl: opts.metricsUrl,
      ...run,
    };
  });
}

/** `postgres://host:port/dbname` of a DSN: never its user, password or other parameters. */
export function postgresUrl(dsn: string | undefined): string {
  const parsed = dsn === undefined ? undefined : parseDsn(dsn);
  if (!parsed || 'problem' in parsed) return 'postgres://unknown/';
  const p = parsed.params;
  const host = (p.host ?? 'localhost').split(',')[0]!;
  // a socket directory is a path: show it percent-encoded as libpq's URLs do
  const shownHost = host.startsWith('/') ? encodeURIComponent(host) : host.includes(':') ? `[${host}]` : host;
  const port = (p.port ?? '5432').split(',')[0]!;
  return `postgres://${shownHost}:${port}/${encodeURIComponent(p.dbname ?? '')}`;
}

const TYPE_NAMES: Record<MetricType, string> = { counter: 'counter', gauge: 'gauge', untyped: 'unknown' };

/** HELP and TYPE of every family the collectors report now, and of every recording rule's series. */
export function* metricMetadata(
  families: ReadonlyMap<string, readonly FamilySnapshot[]>,
  recordingRules: readonly { name: string; group: string; expr: string }[],
): Iterable<MetricMetadata> {
  for (const [name, list] of families) for (const f of list) yield { name, type: TYPE_NAMES[f.desc.type], help: f.desc.help };
  // Prometheus has no metadata for recorded series; dpmon says where they come from, for Grafana's metric browser
  for (const r of recordingRules) yield { name: r.name, type: 'unknown', help: `Recorded by rule group ${r.group}: ${r.expr}` };
}

/** dpmon's settings under the Prometheus flag that means the same. */
export function prometheusFlags(s: {
  listen: string;
  dataDir: string;
  retentionMs: number;
  queryTimeoutMs: number;
  queryMaxConcurrency: number;
  queryMaxSamples: number;
  queryLookbackDeltaMs: number;
}): Record<string, string> {
  return {
    'web.listen-address': s.listen,
    'web.enable-lifecycle': 'true',
    'storage.tsdb.path': s.dataDir,
    'storage.tsdb.retention.time': modelDuration(s.retentionMs),
    'query.timeout': modelDuration(s.queryTimeoutMs),
    'query.max-concurrency': String(s.queryMaxConcurrency),
    'query.max-samples': String(s.queryMaxSamples),
    'query.lookback-delta': modelDuration(s.queryLookbackDeltaMs),
  };
}

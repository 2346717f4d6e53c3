// The rest of the Prometheus HTTP API that Grafana calls, with Prometheus's shapes (web/api/v1/api.go):
// /api/v1/status/buildinfo, status/runtimeinfo, status/flags, status/config (redacted), /api/v1/metadata,
// /api/v1/targets, /api/v1/query_exemplars (always empty: dpmon keeps no exemplars) and
// /api/v1/format_query. Everything it shows comes through PrometheusMetaDeps, which app.ts fills.
// docs/prometheus-api.md lists each endpoint and where it departs from Prometheus.
import { availableParallelism, hostname } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import type { FastifyInstance } from 'fastify';
import type { Clock } from '../lib/clock.ts';
import { DPMON_VERSION } from '../lib/version.ts';
import type { Labels } from '../model/labels.ts';
import { parseExpr, QueryError } from '../query/index.ts';
import { BadParam, parseTime } from './prometheus-params.ts';
import { addFormParser, apiHandler, NO_CONTENT, one, type Params } from './prometheus-http.ts';
import { countSelectors, modelDuration, prettifyPromql } from './promql-format.ts';

/**
 * The Prometheus version dpmon reports in buildinfo's `version`: the release whose PromQL semantics
 * and HTTP API dpmon follows (left-open windows, `limit` on series and labels, format_query).
 * Grafana reads `version` as a Prometheus semver and, seeing no `features`, treats dpmon as plain
 * Prometheus; dpmon's own version is in `revision` and `branch`.
 */
export const PROMETHEUS_COMPATIBLE_VERSION = '3.0.0';

const MIN_TIME = -62135596800000;
const MAX_TIME = 253402300799000;
/** Go's zero time.Time in JSON: what Prometheus shows for a target never scraped */
const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

/** HELP and TYPE of one metric family (`type` as Prometheus names it: counter, gauge, unknown, ...). */
export interface MetricMetadata {
  readonly name: string;
  readonly type: string;
  readonly help: string;
  readonly unit?: string;
}

/** One of dpmon's collectors seen as a Prometheus scrape target. */
export interface ScrapeTarget {
  /** `scrapePool`, and the target's `job` label */
  readonly pool: string;
  readonly labels: Labels;
  readonly scrapeUrl: string;
  readonly health: 'up' | 'down' | 'unknown';
  readonly lastError: string;
  /** epoch ms; undefined before the first run */
  readonly lastScrape?: number;
  readonly lastScrapeDurationMs?: number;
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

export interface PrometheusMetaDeps {
  readonly clock: Clock;
  /** every metric family with its HELP and TYPE; duplicates (one family from several sources) are merged */
  metadata(): Iterable<MetricMetadata>;
  targets(): readonly ScrapeTarget[];
  /** the effective configuration as `dpmon config print` shows it: secrets as `<secret>` */
  configYaml(): string;
  /** dpmon's settings under the names of the Prometheus flags that mean the same */
  flags(): Readonly<Record<string, string>>;
  /** when the process started, epoch ms */
  readonly startTime: number;
  /** how long raw samples are kept, ms (runtimeinfo's storageRetention) */
  readonly retentionMs: number;
  /** the last config (re)load: whether it was applied and when, epoch ms */
  lastConfig(): { success: boolean; at: number };
}

export function registerPrometheusMetaApi(app: FastifyInstance, deps: PrometheusMetaDeps): void {
  addFormParser(app);

  app.get(
    '/api/v1/status/buildinfo',
    apiHandler(() => ({
      version: PROMETHEUS_COMPATIBLE_VERSION,
      revision: `dpmon-${DPMON_VERSION}`,
      branch: 'dpmon',
      buildUser: 'dpmon',
      buildDate: '',
      goVersion: `node${process.versions.node}`,
    })),
  );

  app.get(
    '/api/v1/status/runtimeinfo',
    apiHandler(() => {
      const last = deps.lastConfig();
      return {
        startTime: new Date(deps.startTime).toISOString(),
        CWD: process.cwd(),
        hostname: hostname(),
        serverTime: new Date(deps.clock.now()).toISOString(),
        reloadConfigSuccess: last.success,
        lastConfigTime: new Date(last.at).toISOString(),
        corruptionCount: 0,
        // Go's runtime figures, as near as Node has them: one thread of JavaScript, the cores, the heap's limit
        goroutineCount: 1,
        GOMAXPROCS: availableParallelism(),
        GOMEMLIMIT: getHeapStatistics().heap_size_limit,
        GOGC: '',
        GODEBUG: '',
        storageRetention: modelDuration(deps.retentionMs),
      };
    }),
  );

  app.get('/api/v1/status/flags', apiHandler(() => deps.flags()));
  app.get('/api/v1/status/config', apiHandler(() => ({ yaml: deps.configYaml() })));

  app.get(
    '/api/v1/metadata',
    apiHandler((p) => metadataResponse(deps.metadata(), p)),
  );

  app.get(
    '/api/v1/targets',
    apiHandler((p) => {
      const state = (one(p, 'state') ?? '').toLowerCase();
      const pool = one(p, 'scrapePool') ?? '';
      const showActive = state === '' || state === 'any' || state === 'active';
      const showDropped = state === '' || state === 'any' || state === 'dropped';
      const active = showActive ? deps.targets().filter((t) => pool === '' || t.pool === pool).sort(byPool).map(activeTarget) : [];
      // dpmon drops no targets: there is no relabelling; Go's nil map is null
      return { activeTargets: active, droppedTargets: [], droppedTargetCounts: showDropped ? {} : null };
    }),
  );

  for (const method of ['GET', 'POST'] as const) {
    app.route({
      method,
      url: '/api/v1/query_exemplars',
      handler: apiHandler((p) => {
        const start = parseTime(one(p, 'start'), 'start', MIN_TIME);
        const end = parseTime(one(p, 'end'), 'end', MAX_TIME);
        if (end < start) throw new BadParam('end timestamp must not be before start timestamp');
        const q = one(p, 'query') ?? '';
        checkPromql(q, (msg) => msg);
        // as Prometheus: 204 for an expression without selectors, else the (empty) exemplars
        return countSelectors(q) === 0 ? NO_CONTENT : [];
      }),
    });
    app.route({
      method,
      url: '/api/v1/format_query',
      handler: apiHandler((p) => {
        const q = one(p, 'query') ?? '';
        checkPromql(q, (msg) => `invalid parameter "query": ${msg}`);
        try {
          return prettifyPromql(q);
        } catch (err) {
          if (err instanceof QueryError) throw new BadParam(`invalid parameter "query": ${err.message}`);
          throw err;
        }
      }),
    });
  }
}

/**
 * Refuses what Prometheus's parser refuses, with `wrap`ped messages. Constructs valid in PromQL that
 * dpmon's evaluator does not run (`unsupported`) pass: formatting and exemplars need only the syntax.
 */
function checkPromql(q: string, wrap: (msg: string) => string): void {
  if (q.trim() === '') throw new BadParam(wrap('parse error: no expression found in input'));
  try {
    parseExpr(q);
  } catch (err) {
    if (err instanceof QueryError && err.unsupported) return;
    if (err instanceof QueryError) throw new BadParam(wrap(err.message));
    throw err;
  }
}

/** api.go metricMetadata: `{name: [{type, help, unit}]}`, each distinct triple once, `limit` families, `limit_per_metric` each. */
function metadataResponse(all: Iterable<MetricMetadata>, p: Params): Record<string, { type: string; help: string; unit: string }[]> {
  const limit = intParam(p, 'limit');
  const perMetric = intParam(p, 'limit_per_metric');
  const metric = one(p, 'metric') ?? '';
  const byName = new Map<string, Map<string, { type: string; help: string; unit: string }>>();
  for (const m of all) {
    if (metric !== '' && m.name !== metric) continue;
    let set = byName.get(m.name);
    if (perMetric > 0 && set && set.size >= perMetric) continue;
    if (!set) byName.set(m.name, (set = new Map()));
    const entry = { type: m.type, help: m.help, unit: m.unit ?? '' };
    set.set(JSON.stringify(entry), entry);
  }
  const out: Record<string, { type: string; help: string; unit: string }[]> = {};
  let n = 0;
  // Prometheus stops at `limit` families in its map's (random) order; dpmon in name order
  for (const name of [...byName.keys()].sort()) {
    if (limit >= 0 && n >= limit) break;
    out[name] = [...byName.get(name)!.values()];
    n++;
  }
  return out;
}

/** A metadata limit: an integer, -1 when absent (no limit); Prometheus's message when not a number. */
function intParam(p: Params, key: string): number {
  const text = one(p, key);
  if (text === undefined || text === '') return -1;
  if (!/^[+-]?\d+$/.test(text)) throw new BadParam(`${key} must be a number`);
  return Number(text);
}

function byPool(a: ScrapeTarget, b: ScrapeTarget): number {
  return a.pool < b.pool ? -1 : a.pool > b.pool ? 1 : 0;
}

/** api.go's Target, field for field. */
function activeTarget(t: ScrapeTarget) {
  const url = new URL(t.scrapeUrl);
  return {
    discoveredLabels: { __address__: url.host, __metrics_path__: url.pathname, __scheme__: url.protocol.replace(/:$/, ''), job: t.pool },
    labels: t.labels,
    scrapePool: t.pool,
    scrapeUrl: t.scrapeUrl,
    globalUrl: t.scrapeUrl,
    lastError: t.lastError,
    lastScrape: t.lastScrape === undefined ? GO_ZERO_TIME : new Date(t.lastScrape).toISOString(),
    lastScrapeDuration: (t.lastScrapeDurationMs ?? 0) / 1000,
    health: t.health,
    scrapeInterval: modelDuration(t.intervalMs),
    scrapeTimeout: modelDuration(t.timeoutMs),
  };
}

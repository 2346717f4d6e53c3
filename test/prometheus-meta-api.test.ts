// The Prometheus API endpoints Grafana calls besides queries (buildinfo, runtimeinfo, flags, config,
// metadata, targets, query_exemplars, format_query, and `limit` on series/labels/label values), on a
// real dpmon HTTP server fed by a real scheduler, and beside a real Prometheus (Debian's) that scrapes
// that server's /metrics: the same request to both, comparing shapes (keys and JSON types), the
// metadata of the families Prometheus scraped from dpmon, and format_query's text.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { registerPrometheusApi } from '../src/api/prometheus-api.ts';
import { PROMETHEUS_COMPATIBLE_VERSION, registerPrometheusMetaApi } from '../src/api/prometheus-meta-api.ts';
import { describeTargets, metricMetadata, prometheusFlags } from '../src/api/prometheus-sources.ts';
import { createHttpServer } from '../src/api/server.ts';
import type { Collector } from '../src/model/collector.ts';
import { createScheduler } from '../src/collect/scheduler.ts';
import { loadConfig, printConfig } from '../src/config/index.ts';
import { systemClock } from '../src/lib/clock.ts';
import { silentLogger } from '../src/lib/logger.ts';
import { DPMON_VERSION } from '../src/lib/version.ts';
import { counter, gauge } from '../src/model/metric.ts';
import { createQueryEngine } from '../src/query/index.ts';
import { createLatestStore, snapshotSamples } from '../src/store/latest.ts';
import { createMemoryStore } from '../src/store/memory-store.ts';
import { freePort, requirePeer, waitFor } from './harness/process.ts';
import { startPrometheus, type Prometheus } from './harness/prometheus.ts';

const SECRET_PASSWORD = 'sekret-Pa55';
const connections = gauge('pg_stat_activity_count', 'Number of connections in each state.');
const commits = counter('pg_stat_database_xact_commit', 'Number of transactions in this database that have been committed.');
const load = gauge('node_load1', '1m load average.');

/** JSON type of a value, arrays and null told apart from objects */
const jsonType = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
const shape = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, jsonType(v)]));

describe('Prometheus status, metadata, targets and formatting API', () => {
  let app: FastifyInstance;
  let base = '';
  let prom: Prometheus | undefined;
  let promBase = '';
  let dir: string | undefined;
  let noPeer: string | undefined;
  let configYaml = '';

  before(async () => {
    const latest = createLatestStore();
    const store = createMemoryStore();
    let commitCount = 0;
    const good: Collector = {
      name: 'database',
      intervalMs: 15_000,
      async collect(_ctx, emit) {
        commitCount += 10;
        emit(connections, { datname: 'app', state: 'active' }, 3);
        emit(connections, { datname: 'app', state: 'idle' }, 7);
        emit(commits, { datname: 'app' }, commitCount);
      },
    };
    const host: Collector = { name: 'load', intervalMs: 30_000, timeoutMs: 10_000, collect: async (_ctx, emit) => emit(load, {}, 0.5) };
    const broken: Collector = {
      name: 'broken',
      intervalMs: 60_000,
      async collect() {
        throw new Error('boom');
      },
    };
    const down: Collector = { name: 'postgres:db1', intervalMs: 15_000, timeoutMs: 5000, collect: async () => ({ failed: 'connect_failed' }) };
    const scheduler = createScheduler({
      collectors: [{ collector: good }, { collector: host, labels: { instance: 'h1' } }, { collector: broken }, { collector: down }],
      latest,
      clock: systemClock,
      log: silentLogger,
      onSnapshot: (_source, snapshot) => store.append(snapshotSamples(snapshot)),
    });
    await scheduler.runOnce();

    // the effective config as `dpmon config print` shows it, with a target whose DSN holds a password
    dir = mkdtempSync(join(tmpdir(), 'dpmon-meta-api-'));
    const dsn = `postgres://monitor:${SECRET_PASSWORD}@db.example:6543/app`;
    writeFileSync(join(dir, 'dpmon.yaml'), `targets:\n  - name: db1\n    dsn: "${dsn}"\n`);
    configYaml = printConfig(loadConfig([join(dir, 'dpmon.yaml')], {}));

    app = createHttpServer({ metricsPath: '/metrics', constLabels: {}, latest, isReady: () => true, log: silentLogger });
    registerPrometheusApi(app, { engine: createQueryEngine(store), store, clock: systemClock });
    const port = await freePort();
    const metricsUrl = `http://127.0.0.1:${port}/metrics`;
    registerPrometheusMetaApi(app, {
      clock: systemClock,
      startTime: Date.now(),
      retentionMs: 15 * 86_400_000,
      lastConfig: () => ({ success: true, at: Date.now() }),
      configYaml: () => configYaml,
      metadata: () => metricMetadata(latest.families(), [{ name: 'app:commits:rate5m', group: 'recording', expr: 'rate(pg_stat_database_xact_commit[5m])' }]),
      targets: () => describeTargets(scheduler.health(), { postgres: [{ name: 'db1', dsn }], metricsUrl, hostname: 'h1' }),
      flags: () =>
        prometheusFlags({
          listen: `127.0.0.1:${port}`,
          dataDir: dir!,
          retentionMs: 15 * 86_400_000,
          queryTimeoutMs: 120_000,
          queryMaxConcurrency: 20,
          queryMaxSamples: 50_000_000,
          queryLookbackDeltaMs: 300_000,
        }),
    });
    base = await app.listen({ host: '127.0.0.1', port });

    // the peer: Prometheus scraping this server's /metrics every second
    const bin = requirePeer('prometheus', { skip: (reason: string) => (noPeer = reason) });
    if (!bin) return;
    const promPort = await freePort();
    prom = await startPrometheus(
      bin,
      dir,
      promPort,
      [],
      `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: dpmon\n    static_configs:\n      - targets: ['127.0.0.1:${port}']\n`,
    );
    promBase = `http://127.0.0.1:${promPort}`;
    await waitFor('prometheus scraped dpmon and has its metadata', async () => {
      const md = await getJson(promBase, '/api/v1/metadata');
      return md.body.data?.pg_stat_activity_count ? true : undefined;
    });
  });

  after(async () => {
    await app?.close();
    await prom?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const peer = (t: TestContext): boolean => {
    if (prom) return true;
    t.skip(noPeer ?? 'prometheus not started');
    return false;
  };
  const both = (path: string) => Promise.all([getJson(promBase, path), getJson(base, path)]);
  const q = encodeURIComponent;

  describe('status', () => {
    it('reports buildinfo with the keys and types Prometheus gives, a Prometheus 3 version and dpmon\'s own in revision', async (t) => {
      const { status, body } = await getJson(base, '/api/v1/status/buildinfo');
      assert.equal(status, 200);
      assert.equal(body.data.version, PROMETHEUS_COMPATIBLE_VERSION);
      assert.match(body.data.version, /^3\.\d+\.\d+$/);
      assert.equal(body.data.revision, `dpmon-${DPMON_VERSION}`);
      // Grafana takes a buildinfo with `features` for Mimir: dpmon must not send one
      assert.equal(body.data.features, undefined);
      if (!peer(t)) return;
      const [p] = await both('/api/v1/status/buildinfo');
      assert.deepEqual(shape(body.data), shape(p.body.data));
    });

    it('reports runtimeinfo with every key Prometheus gives, of the same JSON type', async (t) => {
      const { body } = await getJson(base, '/api/v1/status/runtimeinfo');
      assert.equal(body.data.storageRetention, '15d');
      assert.equal(body.data.reloadConfigSuccess, true);
      if (!peer(t)) return;
      const [p] = await both('/api/v1/status/runtimeinfo');
      const ours = shape(body.data);
      for (const [k, type] of Object.entries(shape(p.body.data))) assert.equal(ours[k], type, `runtimeinfo.${k}`);
    });

    it('reports dpmon\'s settings as Prometheus flags, a map of strings', async (t) => {
      const { body } = await getJson(base, '/api/v1/status/flags');
      assert.equal(body.data['storage.tsdb.retention.time'], '15d');
      assert.equal(body.data['query.timeout'], '2m');
      assert.ok(Object.values(body.data).every((v) => typeof v === 'string'));
      if (!peer(t)) return;
      const [p] = await both('/api/v1/status/flags');
      assert.ok(Object.values(p.body.data).every((v) => typeof v === 'string'));
      for (const k of Object.keys(body.data)) assert.ok(k in p.body.data, `Prometheus has a flag ${k}`);
    });

    it('serves the config as YAML with secrets redacted as config print does', async (t) => {
      const { body } = await getJson(base, '/api/v1/status/config');
      assert.deepEqual(Object.keys(body.data), ['yaml']);
      assert.equal(body.data.yaml, configYaml);
      assert.match(body.data.yaml, /dsn: <secret>/);
      assert.ok(!body.data.yaml.includes(SECRET_PASSWORD));
      if (!peer(t)) return;
      const [p] = await both('/api/v1/status/config');
      assert.deepEqual(shape(body.data), shape(p.body.data));
    });
  });

  describe('metadata', () => {
    it('gives every family the HELP and TYPE Prometheus read from dpmon\'s /metrics', async (t) => {
      const { body } = await getJson(base, '/api/v1/metadata');
      assert.deepEqual(body.data.pg_stat_database_xact_commit, [{ type: 'counter', help: commits.help, unit: '' }]);
      assert.deepEqual(body.data['app:commits:rate5m'], [{ type: 'unknown', help: 'Recorded by rule group recording: rate(pg_stat_database_xact_commit[5m])', unit: '' }]);
      if (!peer(t)) return;
      const [p] = await both('/api/v1/metadata');
      const scraped = Object.keys(p.body.data);
      assert.ok(scraped.length >= 5, scraped.join(' '));
      for (const name of scraped) assert.deepEqual(body.data[name], p.body.data[name], name);
    });

    it('filters by metric, and limits families and entries per family', async (t) => {
      const one = await getJson(base, '/api/v1/metadata?metric=node_load1');
      assert.deepEqual(Object.keys(one.body.data), ['node_load1']);
      const two = await getJson(base, '/api/v1/metadata?limit=2&limit_per_metric=1');
      assert.equal(Object.keys(two.body.data).length, 2);
      const none = await getJson(base, '/api/v1/metadata?metric=no_such_metric');
      assert.deepEqual(none.body, { status: 'success', data: {} });
      if (!peer(t)) return;
      const [p, d] = await both('/api/v1/metadata?metric=node_load1');
      assert.deepEqual(d.body, p.body);
      const [pz, dz] = await both('/api/v1/metadata?limit=0');
      assert.deepEqual(dz.body, pz.body);
    });

    it('answers 400 bad_data as Prometheus does for a limit that is not a number', async (t) => {
      const { status, body } = await getJson(base, '/api/v1/metadata?limit=many');
      assert.equal(status, 400);
      assert.deepEqual(body, { status: 'error', errorType: 'bad_data', error: 'limit must be a number' });
      if (!peer(t)) return;
      // (limit_per_metric came after Debian's 2.42)
      const [p, d] = await both('/api/v1/metadata?limit=x');
      assert.deepEqual([d.status, d.body], [p.status, p.body]);
    });
  });

  describe('targets', () => {
    it('lists every collector as an active target with its health, last error and timings', async () => {
      const { body } = await getJson(base, '/api/v1/targets');
      const byCollector = new Map(body.data.activeTargets.map((t: any) => [t.labels.collector ?? `postgres:${t.labels.instance}`, t]));
      const db = byCollector.get('database') as any;
      assert.equal(db.health, 'up');
      assert.equal(db.lastError, '');
      assert.equal(db.scrapeInterval, '15s');
      assert.equal(db.scrapeTimeout, '15s');
      assert.ok(Date.now() - Date.parse(db.lastScrape) < 120_000, db.lastScrape);
      assert.equal(typeof db.lastScrapeDuration, 'number');
      assert.deepEqual(db.labels, { collector: 'database', instance: 'h1', job: 'dpmon' });
      const loadTarget = byCollector.get('load') as any;
      assert.deepEqual([loadTarget.scrapeInterval, loadTarget.scrapeTimeout, loadTarget.labels.instance], ['30s', '10s', 'h1']);
      const broken = byCollector.get('broken') as any;
      assert.deepEqual([broken.health, broken.lastError], ['down', 'boom']);
      const pg = byCollector.get('postgres:db1') as any;
      assert.deepEqual([pg.health, pg.lastError, pg.scrapePool, pg.scrapeUrl], ['down', 'connect_failed', 'postgres', 'postgres://db.example:6543/app']);
      assert.deepEqual(pg.labels, { instance: 'db1', job: 'postgres' });
      assert.ok(!JSON.stringify(body).includes(SECRET_PASSWORD));
      assert.ok(!JSON.stringify(body).includes('monitor'), 'the DSN user stays out of the API');
    });

    it('has the shape of Prometheus\'s targets answer, target by target', async (t) => {
      if (!peer(t)) return;
      await waitFor('prometheus has scraped dpmon', async () => {
        const r = await getJson(promBase, '/api/v1/targets');
        return r.body.data.activeTargets[0]?.health === 'up' ? true : undefined;
      });
      for (const state of ['', 'active', 'dropped', 'any']) {
        const [p, d] = await both(`/api/v1/targets${state ? `?state=${state}` : ''}`);
        // every key Prometheus gives (2.42 has no droppedTargetCounts, which 3 added and dpmon gives)
        const ours = shape(d.body.data);
        for (const [k, type] of Object.entries(shape(p.body.data))) assert.equal(ours[k], type, `state=${state}: ${k}`);
        if (state === 'dropped') assert.deepEqual(d.body.data.activeTargets, []);
        const pt = p.body.data.activeTargets[0];
        for (const dt of d.body.data.activeTargets) {
          assert.deepEqual(shape(dt), shape(pt));
          assert.ok(['up', 'down', 'unknown'].includes(dt.health));
          assert.ok(!Number.isNaN(Date.parse(dt.lastScrape)));
        }
      }
    });

    it('keeps only the targets of the scrapePool asked for', async () => {
      const { body } = await getJson(base, '/api/v1/targets?scrapePool=postgres');
      assert.deepEqual(body.data.activeTargets.map((t: any) => t.labels.instance), ['db1']);
    });
  });

  describe('query_exemplars', () => {
    it('answers an empty list for a query with selectors and no data without any, as Prometheus', async (t) => {
      const a = await getJson(base, `/api/v1/query_exemplars?query=${q('rate(pg_stat_database_xact_commit[5m])')}&start=0&end=60`);
      assert.deepEqual(a.body, { status: 'success', data: [] });
      const b = await getJson(base, `/api/v1/query_exemplars?query=${q('1 + 1')}`);
      assert.deepEqual([b.status, b.body], [204, undefined]);
      // valid PromQL that dpmon does not evaluate is still a valid exemplar query
      const c = await getJson(base, `/api/v1/query_exemplars?query=${q('histogram_quantile(0.9, rate(x_bucket[5m]))')}`);
      assert.deepEqual(c.body, { status: 'success', data: [] });
      const post = await fetch(`${base}/api/v1/query_exemplars`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `query=${q('up')}`,
      });
      assert.deepEqual(await post.json(), { status: 'success', data: [] });
      if (!peer(t)) return;
      for (const path of [`/api/v1/query_exemplars?query=${q('up')}`, `/api/v1/query_exemplars?query=${q('1 + 1')}`]) {
        const [p, d] = await both(path);
        assert.deepEqual([d.status, d.body], [p.status, p.body], path);
      }
    });

    const bad: [string, string, RegExp][] = [
      ['end before start', `/api/v1/query_exemplars?query=up&start=60&end=0`, /^end timestamp must not be before start timestamp$/],
      ['a bad start', `/api/v1/query_exemplars?query=up&start=yesterday`, /invalid parameter "start"/],
      ['malformed PromQL', `/api/v1/query_exemplars?query=${q('sum(')}`, /parse error/],
      ['no query', `/api/v1/query_exemplars`, /no expression found/],
    ];
    for (const [what, path, message] of bad) {
      it(`answers 400 bad_data for ${what}, as Prometheus`, async (t) => {
        const d = await getJson(base, path);
        assert.equal(d.status, 400);
        assert.equal(d.body.errorType, 'bad_data');
        assert.match(d.body.error, message);
        if (!peer(t)) return;
        const [p] = await both(path);
        assert.deepEqual([p.status, p.body.status, p.body.errorType], [d.status, d.body.status, d.body.errorType]);
      });
    }
  });

  describe('format_query', () => {
    // each formatted as Prometheus's own format_query formats it (compared with the peer below)
    const FORMATTED: [string, string][] = [
      ['up', 'up'],
      ['SUM(rate(x[5m])) BY (job)', 'sum by (job) (rate(x[5m]))'],
      ['sum without(instance)(x)', 'sum without (instance) (x)'],
      ['topk(3, x) by (a)', 'topk by (a) (3, x)'],
      ['x{b="2",a=~"1.*"}', 'x{a=~"1.*",b="2"}'],
      ['{__name__="x",job!="a"}', '{__name__="x",job!="a"}'],
      ['x{job="a\\tb"}', 'x{job="a\\tb"}'],
      ["x{job='single'}", 'x{job="single"}'],
      ['x{job=`raw\\d`}', 'x{job="raw\\\\d"}'],
      ['rate(x[90s] offset 1h30m)', 'rate(x[1m30s] offset 1h30m)'],
      ['x offset -5m', 'x offset -5m'],
      ['x @ 1700000000', 'x @ 1700000000.000'],
      ['x @ start()', 'x @ start()'],
      ['max_over_time(rate(x[1m])[1h:5m])', 'max_over_time(rate(x[1m])[1h:5m])'],
      ['max_over_time(x[10m:])', 'max_over_time(x[10m:])'],
      ['a+b*c', 'a + b * c'],
      ['(a + b) * c', '(a + b) * c'],
      ['a / on(x) group_left(y) b', 'a / on (x) group_left (y) b'],
      ['a / ignoring(x) group_right b', 'a / ignoring (x) group_right () b'],
      ['a and on() b', 'a and on () b'],
      ['a > bool 1', 'a > bool 1'],
      ['-x', '-x'],
      ['-1 + 2', '-1 + 2'],
      ['1e3 + 0x10 + .5', '1000 + 16 + 0.5'],
      ['x / +Inf', 'x / +Inf'],
      ['label_replace(x, "dst", "$1", "src", "(.*)")', 'label_replace(x, "dst", "$1", "src", "(.*)")'],
      ['rate(x[5m]) # a comment', 'rate(x[5m])'],
      ['time()', 'time()'],
      ['quantile(0.95, x)', 'quantile(0.95, x)'],
      ['count_values("version", x)', 'count_values("version", x)'],
      ['x{a="é ☃ \\u0001 \\x7f"}', 'x{a="é ☃ \\x01 \\x7f"}'],
      ['x[52w] offset 365d', 'x[52w] offset 1y'],
      ['x[1h1m1s1ms]', 'x[1h1m1s1ms]'],
      ['0.1+0.2', '0.1 + 0.2'],
      ['x^2^3', 'x ^ 2 ^ 3'],
      ['a atan2 b', 'a atan2 b'],
      [
        'sum(rate(pg_stat_database_xact_commit{datname=~"app|newdb",instance="db1"}[5m])) by (datname, instance) / sum(rate(pg_stat_database_xact_rollback[5m])) by (datname)',
        '  sum by (datname, instance) (\n    rate(pg_stat_database_xact_commit{datname=~"app|newdb",instance="db1"}[5m])\n  )\n/\n  sum by (datname) (rate(pg_stat_database_xact_rollback[5m]))',
      ],
      [
        'histogram_quantile(0.99, sum by (le, instance, job) (rate(prometheus_http_request_duration_seconds_bucket{handler="/api/v1/query"}[5m])))',
        'histogram_quantile(\n  0.99,\n  sum by (le, instance, job) (\n    rate(prometheus_http_request_duration_seconds_bucket{handler="/api/v1/query"}[5m])\n  )\n)',
      ],
      [
        '100 - (avg by (instance) (rate(node_cpu_seconds_total{mode="idle",job="node"}[5m])) * 100) > bool 90 unless on(instance) up == 0',
        '  100\n  -\n    (\n        avg by (instance) (rate(node_cpu_seconds_total{job="node",mode="idle"}[5m]))\n      *\n        100\n    )\n>\n  bool 90\n...',
      ],
    ];

    for (const [input, expected] of FORMATTED) {
      it(`formats ${JSON.stringify(input.slice(0, 60))} as Prometheus does`, async (t) => {
        const d = await getJson(base, `/api/v1/format_query?query=${q(input)}`);
        assert.equal(d.status, 200, JSON.stringify(d.body));
        if (!expected.endsWith('...')) assert.equal(d.body.data, expected);
        if (!peer(t)) return;
        const p = await getJson(promBase, `/api/v1/format_query?query=${q(input)}`);
        assert.equal(d.body.data, p.body.data);
      });
    }

    // where Debian's 2.42 and Prometheus 3 differ, dpmon prints as Prometheus 3.5+ does (printer.go
    // FormatFloat 'f' since #16083; 2.42 printed `1e-07`), and takes 3's quoted UTF-8 label names
    const PROMETHEUS_3_FORMS: [string, string][] = [
      ['1e-7', '0.0000001'],
      ['123456789012345678901234', '123456789012345690000000'],
      ['x{"a.b"="c"}', 'x{"a.b"="c"}'],
      ['sum by ("a.b") (x)', 'sum by ("a.b") (x)'],
    ];
    for (const [input, expected] of PROMETHEUS_3_FORMS) {
      it(`formats ${JSON.stringify(input)} as Prometheus 3 does`, async () => {
        const d = await getJson(base, `/api/v1/format_query?query=${q(input)}`);
        assert.deepEqual([d.status, d.body.data], [200, expected]);
      });
    }

    it('accepts a POSTed form', async () => {
      const res = await fetch(`${base}/api/v1/format_query`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `query=${q('sum(x)by(a)')}`,
      });
      assert.deepEqual(await res.json(), { status: 'success', data: 'sum by (a) (x)' });
    });

    for (const [what, input] of [
      ['malformed PromQL', 'sum('],
      ['a type error', 'rate(x)'],
      ['an empty query', ''],
      ['offset on a function call', 'rate(x[5m]) offset 1m'],
    ] as const) {
      it(`answers 400 bad_data for ${what}, as Prometheus`, async (t) => {
        const d = await getJson(base, `/api/v1/format_query?query=${q(input)}`);
        assert.equal(d.status, 400);
        assert.equal(d.body.errorType, 'bad_data');
        assert.match(d.body.error, /^invalid parameter "query": /);
        if (!peer(t)) return;
        const p = await getJson(promBase, `/api/v1/format_query?query=${q(input)}`);
        assert.deepEqual([p.status, p.body.errorType], [400, 'bad_data']);
      });
    }
  });

  describe('limit on series, labels and label values', () => {
    it('truncates to the limit and says so in warnings, as Prometheus 2.49 and later', async () => {
      const series = await getJson(base, `/api/v1/series?match[]=${q('pg_stat_activity_count')}&limit=1`);
      assert.equal(series.body.data.length, 1);
      assert.deepEqual(series.body.data[0], { __name__: 'pg_stat_activity_count', datname: 'app', state: 'active' });
      assert.deepEqual(series.body.warnings, ['results truncated due to limit']);
      const names = await getJson(base, '/api/v1/labels?limit=2');
      assert.deepEqual(names.body, { status: 'success', data: ['__name__', 'collector'], warnings: ['results truncated due to limit'] });
      const values = await getJson(base, `/api/v1/label/state/values?limit=1&match[]=${q('pg_stat_activity_count')}`);
      assert.deepEqual(values.body, { status: 'success', data: ['active'], warnings: ['results truncated due to limit'] });
    });

    it('gives everything without a warning when the limit is not reached, or is 0', async () => {
      for (const limit of ['2', '0', '']) {
        const series = await getJson(base, `/api/v1/series?match[]=${q('pg_stat_activity_count')}&limit=${limit}`);
        assert.equal(series.body.data.length, 2);
        assert.equal(series.body.warnings, undefined);
      }
    });

    it('takes several match[] in a POSTed form', async () => {
      const res = await fetch(`${base}/api/v1/series`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `match[]=${q('node_load1')}&match[]=${q('pg_stat_database_xact_commit')}`,
      });
      const body = (await res.json()) as any;
      assert.deepEqual(body.data.map((s: any) => s.__name__).sort(), ['node_load1', 'pg_stat_database_xact_commit']);
    });

    for (const [what, path, message] of [
      ['a negative limit', '/api/v1/labels?limit=-1', 'invalid parameter "limit": limit must be non-negative'],
      ['a limit that is not a number', `/api/v1/series?match[]=up&limit=ten`, 'invalid parameter "limit": strconv.Atoi: parsing "ten": invalid syntax'],
      ['a bad limit on label values', '/api/v1/label/job/values?limit=1.5', 'invalid parameter "limit": strconv.Atoi: parsing "1.5": invalid syntax'],
    ]) {
      it(`answers 400 bad_data for ${what}`, async () => {
        const { status, body } = await getJson(base, path!);
        assert.equal(status, 400);
        assert.deepEqual(body, { status: 'error', errorType: 'bad_data', error: message });
      });
    }
  });
});

async function getJson(base: string, path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}${path}`);
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

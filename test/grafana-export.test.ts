// `dpmon export grafana --out DIR` as a process: one Grafana dashboard JSON per dashboard and a
// provisioning YAML. Each file is parsed and checked for the fields Grafana's JSON model needs; every
// panel's PromQL is parsed with dpmon's parser and asked of two servers holding the same samples: dpmon
// itself (createApp, watching a real PostgreSQL 16) and a real Prometheus (Debian's) scraping dpmon's
// /metrics every second with honor_labels. Both must answer successfully with the same series label
// sets (values differ: the two sample at different instants). The spec's constant labels
// (environment, component) are added to /metrics only, not to dpmon's history, so Prometheus drops
// them on ingest, with `job` (dpmon's history has the exporters' job, node or postgres, which is not
// compared); an empty label value counts as no label, as in Prometheus.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { parse as parseYaml } from 'yaml';
import { createApp, type App } from '../src/app/app.ts';
import { loadConfig } from '../src/config/index.ts';
import { silentLogger } from '../src/lib/logger.ts';
import { parseExpr } from '../src/query/index.ts';
import { startCluster, withClient, type Cluster } from './harness/postgres.ts';
import { freePort, requirePeer, runDpmon, runDpmonSync, waitFor } from './harness/process.ts';
import { startPrometheus, type Prometheus } from './harness/prometheus.ts';

const NAMES = ['overview', 'performance', 'system-health', 'resource-trends', 'capacity-planning', 'connection_pool_status', 'query_performance', 'replication_health'];

interface GrafanaTarget {
  refId: string;
  expr: string;
  legendFormat: string;
  instant: boolean;
  range: boolean;
  datasource: { type: string; uid: string };
}
interface GrafanaPanel {
  id: number;
  type: string;
  title: string;
  datasource: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  fieldConfig: { defaults: { unit: string; thresholds: { mode: string; steps: { color: string; value: number | null }[] } } };
  targets: GrafanaTarget[];
}
interface GrafanaDashboard {
  __inputs: { name: string; type: string; pluginId: string }[];
  uid: string;
  title: string;
  schemaVersion: number;
  refresh: string;
  time: { from: string; to: string };
  templating: { list: { name: string; type: string; query: string; current: { value: string } }[] };
  panels: GrafanaPanel[];
}
interface Answer {
  status: number;
  body: { status: string; error?: string; data?: { resultType: string; result: { metric: Record<string, string> }[] } };
}

// `job` is compared by neither side: dpmon's history carries the job a scrape of the exporters would
// attach (node, postgres), a Prometheus scraping dpmon names its own (dropped on ingest here)
const labelKey = (m: Record<string, string>) =>
  JSON.stringify(
    Object.entries(m)
      .filter(([k, v]) => v !== '' && k !== 'job')
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  );

describe('dpmon export grafana', () => {
  let cluster: Cluster | undefined;
  let dir: string;
  let app: App | undefined;
  let prom: Prometheus | undefined;
  let dpmonUrl: string;
  let promUrl: string;
  let sleeper: pg.Client | undefined;
  let sleeping: Promise<unknown> | undefined;
  let skipped: string | undefined;
  const dashboards = new Map<string, GrafanaDashboard>();
  let provisioning: { apiVersion: number; providers: { type: string; options: { path: string } }[] };
  let exportDir: string;
  let cfg: string;

  before(async () => {
    const bin = requirePeer('prometheus', { skip: (r) => (skipped = r) });
    dir = mkdtempSync(join(tmpdir(), 'dpmon-grafana-export-'));
    exportDir = join(dir, 'grafana');
    cluster = await startCluster({ version: 16 });
    await withClient(cluster.primary.dsn, async (c) => {
      await c.query(`SELECT pg_create_physical_replication_slot('export_slot', true)`);
      await c.query('CREATE TABLE export_t (id int PRIMARY KEY)');
      await c.query('INSERT INTO export_t SELECT generate_series(1, 1000)');
    });
    sleeper = new pg.Client({ connectionString: cluster.primary.dsn, application_name: 'export-sleeper' });
    await sleeper.connect();
    sleeping = sleeper.query('SELECT pg_sleep(600)').catch(() => undefined);
    const port = await freePort();
    dpmonUrl = `http://127.0.0.1:${port}`;
    cfg = join(dir, 'dpmon.yaml');
    writeFileSync(
      cfg,
      `targets:
  - name: pg
    dsn: ${cluster.primary.dsn}
resource_monitoring:
  collection_interval: 1s
system_metrics:
  resource_monitoring:
    cpu_usage:
      interval: 1s
    memory_usage:
      interval: 1s
    disk_usage:
      interval: 1s
      monitored_paths: [${dir}]
database_metrics:
  connection_pools:
    monitoring:
      interval: 1s
  query_performance:
    deadlock_check_interval: 1s
    slow_queries_refresh: 1s
    statement_history_interval: 1s
  replication:
    monitoring:
      interval: 1s
remediation:
  mode: dry_run
`,
    );
    const r = runDpmonSync(['export', 'grafana', '--out', exportDir, '--config', cfg]);
    assert.equal(r.code, 0, r.stderr);
    for (const f of readdirSync(exportDir).filter((f) => f.endsWith('.json'))) {
      const d = JSON.parse(readFileSync(join(exportDir, f), 'utf8')) as GrafanaDashboard;
      dashboards.set(f, d);
    }
    provisioning = parseYaml(readFileSync(join(exportDir, 'dpmon-dashboards.yaml'), 'utf8'));
    if (!bin) return;

    const { config } = loadConfig([cfg], {});
    app = createApp(config, { log: silentLogger, listen: { host: '127.0.0.1', port }, dataDir: join(dir, 'data') });
    await app.start();
    const promPort = await freePort();
    promUrl = `http://127.0.0.1:${promPort}`;
    const promDir = join(dir, 'prometheus');
    mkdirSync(promDir);
    prom = await startPrometheus(
      bin,
      promDir,
      promPort,
      [],
      `global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: dpmon
    honor_labels: true
    static_configs:
      - targets: ['127.0.0.1:${port}']
    metric_relabel_configs:
      # dpmon's history has none of these: no job, no constant labels, no instance where dpmon gave none
      - action: labeldrop
        regex: job|environment|component
      - source_labels: [instance]
        regex: '127\\.0\\.0\\.1:${port}'
        target_label: instance
        replacement: ''
`,
    );
    // rates need a few readings in both; 10 s of scrapes and collections
    for (const url of [promUrl, dpmonUrl])
      await waitFor(
        `ten readings of pg_up in ${url}`,
        async () => {
          const a = await ask(url, 'count_over_time(pg_up[1m])');
          const v = Number((a.body.data?.result[0] as { value?: [number, string] } | undefined)?.value?.[1]);
          return v >= 10 ? true : undefined;
        },
        60_000,
      );
  });

  after(async () => {
    await sleeper?.end().catch(() => undefined);
    await sleeping;
    await prom?.stop();
    await app?.stop();
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const ask = async (base: string, expr: string, range?: { start: number; end: number }, time?: number): Promise<Answer> => {
    const url = range
      ? `${base}/api/v1/query_range?query=${encodeURIComponent(expr)}&start=${range.start}&end=${range.end}&step=5`
      : `${base}/api/v1/query?query=${encodeURIComponent(expr)}${time !== undefined ? `&time=${time}` : ''}`;
    const r = await fetch(url);
    return { status: r.status, body: (await r.json()) as Answer['body'] };
  };

  it('writes one dashboard per spec dashboard, named by a stable uid', () => {
    assert.deepEqual([...dashboards.keys()].sort(), NAMES.map((n) => `dpmon-${n}.json`).sort());
    assert.deepEqual(NAMES.map((n) => dashboards.get(`dpmon-${n}.json`)!.uid), NAMES.map((n) => `dpmon-${n}`));
  });

  it('writes the fields of Grafana dashboard JSON: schema version, refresh, time, inputs, data source variable', () => {
    for (const [file, d] of dashboards) {
      assert.ok(d.schemaVersion >= 39, file);
      assert.ok(d.title, file);
      assert.match(d.refresh, /^\d+[smh]$/, file);
      assert.deepEqual(d.time, { from: 'now-1h', to: 'now' }, file);
      assert.deepEqual(d.__inputs.map((i) => [i.name, i.type, i.pluginId]), [['DS_PROMETHEUS', 'datasource', 'prometheus']], file);
      const v = d.templating.list.find((x) => x.type === 'datasource');
      assert.ok(v, `${file}: no datasource variable`);
      assert.equal(v.query, 'prometheus');
      assert.equal(v.current.value, '${DS_PROMETHEUS}');
      assert.ok(d.panels.length > 0, file);
      for (const p of d.panels) {
        assert.deepEqual(p.datasource, { type: 'prometheus', uid: `\${${v.name}}` }, `${file} ${p.title}`);
        assert.ok(['gauge', 'timeseries', 'table', 'stat'].includes(p.type), `${file} ${p.title}: ${p.type}`);
        assert.ok(p.gridPos.w > 0 && p.gridPos.h > 0 && p.gridPos.x + p.gridPos.w <= 24, `${file} ${p.title}`);
        assert.ok(p.fieldConfig.defaults.unit, `${file} ${p.title}: unit`);
        assert.equal(p.fieldConfig.defaults.thresholds.mode, 'absolute');
        assert.equal(p.fieldConfig.defaults.thresholds.steps[0]!.value, null);
        assert.ok(p.targets.length > 0, `${file} ${p.title}: targets`);
        for (const t of p.targets) assert.equal(typeof t.legendFormat, 'string');
      }
      assert.equal(new Set(d.panels.map((p) => p.id)).size, d.panels.length, `${file}: panel ids`);
    }
  });

  it('takes the overview refresh, panel types and threshold steps from the config', () => {
    const o = dashboards.get('dpmon-overview.json')!;
    assert.equal(o.refresh, '1m');
    assert.equal(dashboards.get('dpmon-performance.json')!.refresh, '30s');
    assert.deepEqual(o.panels.map((p) => [p.title, p.type]), [
      ['Connection Pool Status', 'gauge'],
      ['Query Performance', 'timeseries'],
      ['Disk Usage', 'gauge'],
    ]);
    assert.deepEqual(o.panels[0]!.fieldConfig.defaults.thresholds.steps, [
      { color: 'green', value: null },
      { color: 'yellow', value: 70 },
      { color: 'red', value: 85 },
    ]);
    assert.equal(o.panels[0]!.fieldConfig.defaults.unit, 'percent');
  });

  it('writes a provisioning file for the folder', () => {
    assert.equal(provisioning.apiVersion, 1);
    assert.equal(provisioning.providers.length, 1);
    assert.equal(provisioning.providers[0]!.type, 'file');
    assert.equal(provisioning.providers[0]!.options.path, exportDir);
  });

  // asynchronously: dpmon runs in this process, and a blocked event loop would fail Prometheus's scrapes
  const dpmonCli = async (args: string[]) => {
    const p = runDpmon(args);
    const code = await p.exited;
    return { code, output: p.output() };
  };

  it('prints the same dashboards as one JSON list without --out, whole however long', async () => {
    const r = await dpmonCli(['export', 'grafana', '--config', cfg]);
    assert.equal(r.code, 0, r.output);
    assert.ok(r.output.length > 65_536, `${r.output.length} bytes`);
    const list = JSON.parse(r.output) as GrafanaDashboard[];
    assert.deepEqual(list, NAMES.map((n) => dashboards.get(`dpmon-${n}.json`)));
  });

  it('refuses an export kind it does not know, with exit 2', async () => {
    const r = await dpmonCli(['export', 'grafanna']);
    assert.equal(r.code, 2);
    assert.match(r.output, /export needs one of grafana/);
  });

  it('exits 1 naming the problem when the folder cannot be written', async () => {
    const file = join(dir, 'not-a-folder');
    writeFileSync(file, '');
    const r = await dpmonCli(['export', 'grafana', '--out', file, '--config', cfg]);
    assert.equal(r.code, 1);
    assert.match(r.output, /^dpmon: export grafana failed: EEXIST/m);
  });

  it('writes PromQL that dpmon parses', () => {
    for (const [file, d] of dashboards) for (const p of d.panels) for (const t of p.targets) assert.doesNotThrow(() => parseExpr(t.expr), `${file} ${p.title}: ${t.expr}`);
  });

  it('gets the same series from dpmon and from Prometheus for every panel query', async (t) => {
    if (skipped) return t.skip(skipped);
    const at = Math.floor(Date.now() / 1000) - 2;
    const diffs: string[] = [];
    let compared = 0;
    for (const [file, d] of dashboards)
      for (const p of d.panels)
        for (const q of p.targets) {
          const what = `${file} ${p.title} ${q.refId}: ${q.expr}`;
          // graphs as Grafana asks them, a range (the last 20 s); gauges, stats and tables at one instant
          const range = q.range ? { start: at - 20, end: at } : undefined;
          const [fromProm, fromDpmon] = [await ask(promUrl, q.expr, range, at), await ask(dpmonUrl, q.expr, range, at)];
          compared++;
          if (fromProm.body.status !== 'success' || fromDpmon.body.status !== 'success') {
            diffs.push(`${what}: prometheus ${fromProm.body.status} ${fromProm.body.error ?? ''} / dpmon ${fromDpmon.body.status} ${fromDpmon.body.error ?? ''}`);
            continue;
          }
          // other test files mount and unmount tmpfs under /tmp while the two sample at different instants, and
          // dpmon's own brief sessions to the target (statement history, plans, advice, audit sources) come and
          // go between the two samplings as well
          const settled = (r: { metric: Record<string, string> }) => !(r.metric.mountpoint ?? '').startsWith('/tmp/') && r.metric.application_name !== 'dpmon';
          const ps = fromProm.body.data!.result.filter(settled).map((r) => labelKey(r.metric)).sort();
          const ds = fromDpmon.body.data!.result.filter(settled).map((r) => labelKey(r.metric)).sort();
          if (!ds.length) diffs.push(`${what}: dpmon returned no series`);
          // topk picks by value, and the two sampled at different instants: the same number of series
          if (/^\s*(topk|bottomk)\(/.test(q.expr)) {
            if (ps.length !== ds.length) diffs.push(`${what}: prometheus ${ps.length} series / dpmon ${ds.length}`);
          } else if (JSON.stringify(ps) !== JSON.stringify(ds)) {
            diffs.push(`${what}: only prometheus ${JSON.stringify(ps.filter((k) => !ds.includes(k)))}; only dpmon ${JSON.stringify(ds.filter((k) => !ps.includes(k)))}`);
          }
        }
    assert.deepEqual(diffs, []);
    assert.ok(compared >= 30, `compared ${compared} queries`);
  });
});

// The dashboards API over HTTP against a real dpmon (createApp, in this process) watching a real
// PostgreSQL 16: the list in the contract's order, each dashboard's panels, a 404 for an unknown name,
// and every query of every built-in panel answered by /api/v1/query (and query_range for graphs) with
// data: a session running a statement and a replication slot exist so the tables have rows.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createApp, type App } from '../src/app/app.ts';
import { loadConfig } from '../src/config/index.ts';
import type { ResolvedDashboard } from '../src/dashboards/index.ts';
import { silentLogger } from '../src/lib/logger.ts';
import { startCluster, withClient, type Cluster } from './harness/postgres.ts';
import { freePort, waitFor } from './harness/process.ts';

const ORDER = ['overview', 'performance', 'system-health', 'resource-trends', 'capacity-planning', 'connection_pool_status', 'query_performance', 'replication_health'];

interface QueryAnswer {
  status: string;
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }[] };
}

describe('dashboards API (real dpmon, real PostgreSQL)', () => {
  let cluster: Cluster;
  let dir: string;
  let app: App;
  let base: string;
  let cfgPath: string;
  let sleeper: pg.Client;
  let sleeping: Promise<unknown> | undefined;

  const get = async <T>(path: string): Promise<{ status: number; body: T }> => {
    const r = await fetch(`${base}${path}`);
    return { status: r.status, body: (await r.json()) as T };
  };
  const query = (expr: string, range: boolean) => {
    const now = Date.now() / 1000;
    return range
      ? get<QueryAnswer>(`/api/v1/query_range?query=${encodeURIComponent(expr)}&start=${now - 120}&end=${now}&step=5`)
      : get<QueryAnswer>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
  };

  before(async () => {
    cluster = await startCluster({ version: 16 });
    await withClient(cluster.primary.dsn, async (c) => {
      await c.query(`SELECT pg_create_physical_replication_slot('dash_slot', true)`);
      await c.query('CREATE TABLE dash_t (id int PRIMARY KEY)');
      await c.query('INSERT INTO dash_t SELECT generate_series(1, 1000)');
    });
    // a statement running for the whole test: the Active Queries table has a row
    sleeper = new pg.Client({ connectionString: cluster.primary.dsn, application_name: 'dash-sleeper' });
    await sleeper.connect();
    sleeping = sleeper.query('SELECT pg_sleep(600)').catch(() => undefined);
    dir = mkdtempSync(join(tmpdir(), 'dpmon-dashboards-api-'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    cfgPath = join(dir, 'dpmon.yaml');
    writeFileSync(
      cfgPath,
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
    const { config } = loadConfig([cfgPath], {});
    app = createApp(config, { log: silentLogger, listen: { host: '127.0.0.1', port }, dataDir: join(dir, 'data') });
    await app.start();
    await waitFor('dpmon ready', async () => ((await fetch(`${base}/-/ready`)).ok ? true : undefined), 30_000);
    // rates need two readings of every collector in the history
    await waitFor(
      'a third run of every collector',
      async () => {
        const r = await query('min(count_over_time(dpmon_collector_success[1m]))', false);
        return r.body.data?.result.length && Number(r.body.data.result[0]!.value![1]) >= 3 ? true : undefined;
      },
      30_000,
    );
  });

  after(async () => {
    await sleeper?.end().catch(() => undefined);
    await sleeping;
    await app?.stop();
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lists the spec dashboards in the contract order with refresh and panel count', async () => {
    const { status, body } = await get<{ status: string; data: { name: string; title: string; refresh: string; refreshSeconds: number; panelCount: number }[] }>('/api/dpmon/dashboards');
    assert.equal(status, 200);
    assert.equal(body.status, 'success');
    assert.deepEqual(body.data.map((d) => d.name), ORDER);
    const overview = body.data[0]!;
    assert.deepEqual(overview, { name: 'overview', title: 'Overview', refresh: '1m', refreshSeconds: 60, panelCount: 3 });
    assert.equal(body.data[1]!.refresh, '30s');
    assert.equal(body.data[1]!.refreshSeconds, 30);
  });

  it('serves the overview with the spec panels and the config thresholds', async () => {
    const { body } = await get<{ status: string; data: ResolvedDashboard }>('/api/dpmon/dashboards/overview');
    assert.equal(body.status, 'success');
    assert.deepEqual(
      body.data.panels.map((p) => [p.id, p.title, p.type]),
      [
        ['connection-pool-status', 'Connection Pool Status', 'gauge'],
        ['query-performance', 'Query Performance', 'graph'],
        ['disk-usage', 'Disk Usage', 'gauge'],
      ],
    );
    const pool = body.data.panels[0]!;
    assert.equal(pool.unit, 'percent');
    assert.deepEqual(pool.thresholds, { warning: 70, critical: 85 });
    assert.equal(pool.instant, true);
    assert.deepEqual(body.data.panels[2]!.thresholds, { warning: 80, critical: 90 });
  });

  it('answers 404 not_found for an unknown dashboard', async () => {
    const { status, body } = await get<{ status: string; errorType: string; error: string }>('/api/dpmon/dashboards/nope');
    assert.equal(status, 404);
    assert.equal(body.status, 'error');
    assert.equal(body.errorType, 'not_found');
    assert.match(body.error, /no dashboard named "nope"/);
  });

  it('runs every query of every built-in panel through the Prometheus API with data', async () => {
    const empty: string[] = [];
    for (const name of ORDER) {
      const { body } = await get<{ data: ResolvedDashboard }>(`/api/dpmon/dashboards/${encodeURIComponent(name)}`);
      for (const panel of body.data.panels)
        for (const q of panel.queries) {
          const r = await query(q.expr, !panel.instant);
          assert.equal(r.status, 200, `${name}/${panel.id}: ${q.expr}: ${r.body.error}`);
          assert.equal(r.body.status, 'success');
          if (!r.body.data!.result.length) empty.push(`${name}/${panel.id}: ${q.expr}`);
        }
    }
    assert.deepEqual(empty, [], 'queries that returned no series');
  });

  it('gives each overview gauge a value', async () => {
    const { body } = await get<{ data: ResolvedDashboard }>('/api/dpmon/dashboards/overview');
    for (const panel of body.data.panels.filter((p) => p.type === 'gauge')) {
      const r = await query(panel.queries[0]!.expr, false);
      const v = Number(r.body.data!.result[0]?.value?.[1]);
      assert.ok(Number.isFinite(v) && v >= 0 && v <= 100, `${panel.id}: ${JSON.stringify(r.body.data)}`);
    }
  });

  it('serves a reloaded config at once: a changed refresh and a dashboard of the user', async () => {
    const extra = join(dir, 'dashboards.yaml');
    writeFileSync(
      extra,
      `dashboards:
  overview:
    refresh: 10s
  mine:
    panels:
      - name: Rollbacks
        type: stat
        expr: sum(pg_stat_database_xact_rollback)
`,
    );
    app.reload(loadConfig([cfgPath, extra], {}).config);
    const { body } = await get<{ data: { name: string; refresh: string; panelCount: number }[] }>('/api/dpmon/dashboards');
    assert.deepEqual(body.data[0], { name: 'overview', title: 'Overview', refresh: '10s', refreshSeconds: 10, panelCount: 3 });
    assert.deepEqual(body.data.at(-1), { name: 'mine', title: 'mine', refresh: '1m', refreshSeconds: 60, panelCount: 1 });
    const mine = await get<{ data: ResolvedDashboard }>('/api/dpmon/dashboards/mine');
    const r = await query(mine.body.data.panels[0]!.queries[0]!.expr, false);
    assert.equal(r.body.data!.result.length, 1);
  });
});

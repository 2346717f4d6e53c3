import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, formatConfigIssue, loadConfig } from '../config/index.ts';
import { configChecks } from '../app/config-checks.ts';
import { parseExpr } from '../query/index.ts';
import { BUILTIN_DASHBOARDS } from './builtin.ts';
import { resolveDashboards } from './resolve.ts';

const F = 'src/dashboards/fixtures';

function errorsOf(paths: string[]): string[] {
  try {
    loadConfig(paths, {}, { checks: configChecks });
  } catch (err) {
    if (err instanceof ConfigError) return err.errors.map(formatConfigIssue);
    throw err;
  }
  return [];
}

describe('resolveDashboards', () => {
  it('gives the built-ins in the contract order on the default config', () => {
    const { dashboards, problems } = resolveDashboards(loadConfig([], {}).config);
    assert.deepEqual(problems, []);
    assert.deepEqual(
      dashboards.map((d) => `${d.name} ${d.refresh}`),
      ['overview 1m', 'performance 30s', 'system-health 1m', 'resource-trends 1m', 'capacity-planning 5m', 'connection_pool_status 30s', 'query_performance 30s', 'replication_health 30s'],
    );
    assert.deepEqual(dashboards[1]!.panels.map((p) => `${p.title}:${p.type}`), ['Active Queries:table', 'Cache Hit Ratio:graph', 'IO Utilization:graph']);
  });

  it('parses every built-in query with dpmon parser and keeps panel ids unique', () => {
    const { dashboards } = resolveDashboards(loadConfig([], {}).config);
    for (const d of dashboards) {
      assert.equal(new Set(d.panels.map((p) => p.id)).size, d.panels.length, d.name);
      for (const p of d.panels) for (const q of p.queries) assert.doesNotThrow(() => parseExpr(q.expr), `${d.name}/${p.id}`);
    }
    assert.equal(dashboards.length, BUILTIN_DASHBOARDS.length);
  });

  it('takes thresholds from the config sections the rules read', () => {
    const { config } = loadConfig([], {});
    const base = resolveDashboards(config).dashboards;
    const pool = base.find((d) => d.name === 'connection_pool_status')!.panels[0]!;
    assert.deepEqual(pool.thresholds, { warning: 70, critical: 85 });
    const cache = base.find((d) => d.name === 'performance')!.panels.find((p) => p.id === 'cache-hit-ratio')!;
    assert.deepEqual(cache.thresholds, { critical: 50, direction: 'below' });
    const lag = base.find((d) => d.name === 'replication_health')!.panels[0]!;
    assert.deepEqual([lag.unit, lag.thresholds], ['ms', { warning: 1000, critical: 5000 }]);
  });

  it('honours a changed refresh, a reordered and shortened panel list, a changed type and a user dashboard', () => {
    const { config } = loadConfig([`${F}/custom.yaml`], {}, { checks: configChecks });
    const { dashboards, problems } = resolveDashboards(config);
    assert.deepEqual(problems, []);
    const overview = dashboards[0]!;
    assert.equal(overview.refresh, '5m');
    assert.equal(overview.refreshSeconds, 300);
    assert.deepEqual(overview.panels.map((p) => [p.id, p.type, p.instant ?? false]), [
      ['disk-usage', 'gauge', true],
      ['connection-pool-status', 'graph', false],
    ]);
    // the built-in query and thresholds stay with the panel's name
    assert.match(overview.panels[1]!.queries[0]!.expr, /dpmon_pg_connections_used_ratio/);
    const mine = dashboards.at(-1)!;
    assert.deepEqual([mine.name, mine.title, mine.refresh], ['mine', 'My Dashboard', '10s']);
    assert.match(mine.panels[0]!.queries[0]!.expr, /pg_stat_database_blks_hit/);
    assert.deepEqual(mine.panels[1], {
      id: 'rollbacks',
      title: 'Rollbacks',
      type: 'stat',
      unit: 'ops',
      thresholds: { warning: 1, critical: 10 },
      queries: [{ expr: 'sum(rate(pg_stat_database_xact_rollback[5m]))', legend: 'rollbacks' }],
      instant: true,
    });
  });

  it('refuses a panel with no built-in query and no expr, naming file:line:key', () => {
    const f = `${F}/unknown-panel.yaml`;
    const errors = errorsOf([f]);
    assert.equal(errors.length, 1);
    assert.ok(
      errors[0]!.startsWith(`${f}:7:9 dashboards.mine.panels[1].name: dpmon has no built-in query for a panel named "Coffee Level": give it an expr (PromQL), or name a built-in panel (Connection Pool Status, `),
      errors[0],
    );
  });

  it('refuses a panel expr that does not parse, naming file:line:key', () => {
    const f = `${F}/bad-promql.yaml`;
    assert.deepEqual(errorsOf([f]), [`${f}:6:9 dashboards.mine.panels[0].expr: invalid PromQL: parse error at char 15: unexpected end of input`]);
  });

  it('refuses two panels of one name in a dashboard, and a dashboard of its own without panels', () => {
    const f = `${F}/duplicate-panel.yaml`;
    assert.deepEqual(errorsOf([f]), [
      `${f}:6:9 dashboards.mine.panels[1].name: two panels of dashboard "mine" are named "disk usage"`,
      `${f}:8:3 dashboards.empty: dashboard "empty" is not built in, so it needs panels`,
    ]);
  });

  it('refuses a grafana dashboard name nothing defines', () => {
    const f = `${F}/unknown-grafana.yaml`;
    assert.deepEqual(errorsOf([f]), [
      `${f}:5:9 monitoring_integration.grafana.dashboards[1]: no built-in dashboard named "not-a-dashboard" and no dashboards.not-a-dashboard entry defines it (built-in: overview, performance, system-health, resource-trends, capacity-planning, connection_pool_status, query_performance, replication_health)`,
    ]);
  });

  it('lists only the grafana dashboards the config names, after the dashboards: ones', () => {
    const { config } = loadConfig([`${F}/unknown-grafana.yaml`], {});
    assert.deepEqual(resolveDashboards(config).dashboards.map((d) => d.name), ['overview', 'performance', 'system-health']);
  });

  it('shows the connection states connection_pools.monitoring.metrics names, ignoring unknown ones', () => {
    const pool = (paths: string[]) =>
      resolveDashboards(loadConfig(paths, {}).config).dashboards.find((d) => d.name === 'connection_pool_status')!.panels.find((p) => p.id === 'connections-by-state')!.queries[0]!.expr;
    assert.equal(pool([]), 'dpmon_pg_connections{state=~"active|waiting|idle"}');
    assert.equal(pool([`${F}/pool-states.yaml`]), 'dpmon_pg_connections{state=~"active"}');
  });
});

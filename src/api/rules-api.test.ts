import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import Fastify from 'fastify';
import { createRulesKit, loadSeries, specGroups } from '../rules/rules-test-kit.ts';
import { formatGoExp, registerRulesApi } from './rules-api.ts';

const groups = specGroups().filter((g) => g.name === 'database_metrics.connection_pools' || g.name === 'database_rules' || g.name === 'dpmon.recording');
const kit = createRulesKit(groups);
loadSeries(kit.store, 'load 15s\n  dpmon_pg_connections_used_ratio{instance="pg"} 0.86x4\n  pg_settings_max_connections{instance="pg"} 100x4');
await kit.engine.evaluateGroup('database_metrics.connection_pools', 0);
let reloadErrors: string[] = [];
let reloads = 0;
const app = Fastify();
registerRulesApi(app, {
  rules: () => kit.engine,
  authToken: 's3cret',
  reload: async () => {
    reloads++;
    return reloadErrors;
  },
});
after(() => kit.close());

describe('GET /api/v1/rules', () => {
  it("answers in Prometheus's shape: groups with file, interval, rules with state, health and alerts", async () => {
    const r = await app.inject({ url: '/api/v1/rules' });
    assert.equal(r.statusCode, 200);
    const body = r.json();
    assert.equal(body.status, 'success');
    const pools = body.data.groups.find((g: { name: string }) => g.name === 'database_metrics.connection_pools');
    assert.equal(pools.file, 'database_metrics.connection_pools');
    assert.equal(pools.interval, 15);
    assert.equal(pools.lastEvaluation, '1970-01-01T00:00:00.000Z');
    const critical = pools.rules.find((x: { labels: { level: string } }) => x.labels.level === 'critical');
    assert.equal(critical.type, 'alerting');
    assert.equal(critical.name, 'connection_saturation');
    assert.equal(critical.state, 'firing');
    assert.equal(critical.health, 'ok');
    assert.equal(critical.threshold, 85);
    assert.equal(critical.recoveryThreshold, 80.75);
    assert.equal(critical.alerts[0].value, '8.6e+01');
    assert.equal(critical.alerts[0].state, 'firing');
    assert.equal(critical.annotations.summary, '{{ $labels.instance }} uses {{ $value | printf "%.0f" }}% of its connections');
  });

  it('filters by type and rule name, and refuses an unknown type with 400', async () => {
    const rec = (await app.inject({ url: '/api/v1/rules?type=record' })).json();
    assert.deepEqual(rec.data.groups.flatMap((g: { rules: { type: string }[] }) => g.rules.map((x) => x.type)), ['recording']);
    const named = (await app.inject({ url: '/api/v1/rules?rule_name[]=HighConnectionUsage' })).json();
    assert.deepEqual(named.data.groups.map((g: { name: string }) => g.name), ['database_rules']);
    const bad = await app.inject({ url: '/api/v1/rules?type=alerts' });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().errorType, 'bad_data');
  });
});

describe('GET /api/v1/alerts', () => {
  it('lists pending and firing alerts with labels, annotations, activeAt and value', async () => {
    const body = (await app.inject({ url: '/api/v1/alerts' })).json();
    assert.equal(body.data.alerts.length, 2);
    const a = body.data.alerts.find((x: { labels: { level: string } }) => x.labels.level === 'critical');
    assert.equal(a.labels.alertname, 'connection_saturation');
    assert.equal(a.annotations.summary, 'pg uses 86% of its connections');
    assert.equal(a.activeAt, '1970-01-01T00:00:00.000Z');
  });
});

describe('POST /-/reload', () => {
  it('needs the auth token when one is set', async () => {
    const r = await app.inject({ method: 'POST', url: '/-/reload' });
    assert.equal(r.statusCode, 401);
    assert.equal(reloads, 0);
  });

  it('answers 200 when the config is applied, 500 with the errors when it is refused', async () => {
    const auth = { authorization: 'Bearer s3cret' };
    assert.equal((await app.inject({ method: 'POST', url: '/-/reload', headers: auth })).statusCode, 200);
    reloadErrors = ['x.yaml:3:5 alert_rules.high_severity.disk_space.threshold: invalid threshold'];
    const r = await app.inject({ method: 'POST', url: '/-/reload', headers: auth });
    assert.equal(r.statusCode, 500);
    assert.match(r.body, /failed to reload config: x\.yaml:3:5/);
    assert.equal(reloads, 2);
  });
});

describe('formatGoExp', () => {
  it("prints values as Go's strconv 'e' format", () => {
    assert.equal(formatGoExp(86), '8.6e+01');
    assert.equal(formatGoExp(1), '1e+00');
    assert.equal(formatGoExp(0.00125), '1.25e-03');
    assert.equal(formatGoExp(NaN), 'NaN');
  });
});

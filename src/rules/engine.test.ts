import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { compileTemplate } from './template.ts';
import { createRulesKit, loadSeries, MIN, specGroups, type RulesKit } from './rules-test-kit.ts';
import type { AlertRuleDef, RuleGroupDef } from './rule.ts';

const spec = specGroups();
const group = (name: string) => {
  const g = spec.find((x) => x.name === name);
  if (!g) throw new Error(`no group ${name} in ${spec.map((x) => x.name).join(', ')}`);
  return g;
};
const firing = (kit: RulesKit) => kit.engine.alerts().filter((a) => a.state === 'firing');
const levelsFiring = (kit: RulesKit) => firing(kit).map((a) => a.labels.level).sort();

const kits: RulesKit[] = [];
const kit = (groups: readonly RuleGroupDef[]) => {
  const k = createRulesKit(groups);
  kits.push(k);
  return k;
};
after(() => kits.forEach((k) => k.close()));

/** connection usage of target "pg" in percent, one value per 15 s */
function connections(k: RulesKit, values: string) {
  loadSeries(
    k.store,
    `load 15s
  dpmon_pg_connections_used_ratio{instance="pg"} ${values}
  pg_settings_max_connections{instance="pg"} 100x200
  pg_up{instance="pg"} 1x200`,
  );
}

describe('database_metrics.connection_pools (connection_saturation, warning 70, critical 85)', () => {
  const G = 'database_metrics.connection_pools';

  it('fires warning and critical at 86 of 100 connections, with severity, summary and runbook', async () => {
    const k = kit([group(G)]);
    connections(k, '0.86x10');
    const events = await k.evalAt(G, 0);
    assert.deepEqual(events.map((e) => `${e.transition} ${e.alert.labels.level}`).sort(), ['firing critical', 'firing warning']);
    const critical = firing(k).find((a) => a.labels.level === 'critical')!;
    assert.equal(critical.labels.alertname, 'connection_saturation');
    assert.equal(critical.labels.severity, 'high');
    assert.equal(critical.labels.instance, 'pg');
    assert.equal(critical.value, 86);
    assert.equal(critical.annotations.summary, 'pg uses 86% of its connections');
    assert.match(critical.annotations.runbook_url!, /\/runbooks#connection_saturation$/);
  });

  it('fires critical exactly at the threshold, and only warning just below it', async () => {
    const k = kit([group(G)]);
    connections(k, '0.85 0.8499');
    await k.evalAt(G, 0);
    assert.deepEqual(levelsFiring(k), ['critical', 'warning']);
    const k2 = kit([group(G)]);
    connections(k2, '0.8499');
    await k2.evalAt(G, 0);
    assert.deepEqual(levelsFiring(k2), ['warning']);
  });

  it('resolves critical only below its recovery threshold (85 × 0.95 = 80.75), not between it and 85', async () => {
    const k = kit([group(G)]);
    connections(k, '0.86 0.82 0.81 0.80');
    await k.evalAt(G, 0);
    await k.evalAt(G, 15_000); // 82: between recovery and threshold
    await k.evalAt(G, 30_000); // 81
    assert.deepEqual(levelsFiring(k), ['critical', 'warning']);
    const events = await k.evalAt(G, 45_000); // 80: past recovery
    assert.deepEqual(events.map((e) => `${e.transition} ${e.alert.labels.level}`), ['resolved critical']);
    assert.deepEqual(levelsFiring(k), ['warning']);
  });
});

describe('alert state that cannot be saved (a full disk)', () => {
  const G = 'database_metrics.connection_pools';

  it('keeps the transition and announces it once a later evaluation saves it', async () => {
    let failing = true;
    const k = createRulesKit([group(G)], {
      wrapAlertStore: (s) => ({
        ...s,
        save: (c) => {
          if (failing) throw new Error('SQLITE_FULL: database or disk is full');
          s.save(c);
        },
      }),
    });
    kits.push(k);
    connections(k, '0.86x10');
    await assert.rejects(k.evalAt(G, 0), /alert state not saved, kept for the next evaluation: SQLITE_FULL/);
    assert.deepEqual(k.events, [], 'nothing announced that is not saved');
    failing = false;
    const events = await k.evalAt(G, 15_000);
    assert.deepEqual(events.map((e) => `${e.transition} ${e.alert.labels.level}`).sort(), ['firing critical', 'firing warning']);
    const after = k.restart();
    kits.push(after);
    assert.deepEqual(
      after.engine.alerts().map((a) => `${a.state} ${a.labels.level} ${a.activeAt}`).sort(),
      ['firing critical 0', 'firing warning 0'],
      'saved as it became active at 0',
    );
  });
});

describe('alert_rules.high_severity.response_time (1000ms over 5m, every 30s, 3 consecutive failures, recovery 800ms)', () => {
  const G = 'alert_rules.high_severity.response_time';
  /** statements taking `ms` each on average: 10 calls/s */
  function latency(k: RulesKit, perStepMs: number[]) {
    let secs = 0;
    let calls = 0;
    const s: number[] = [];
    const c: number[] = [];
    for (const ms of perStepMs) {
      calls += 150;
      secs += (150 * ms) / 1000;
      s.push(secs);
      c.push(calls);
    }
    loadSeries(k.store, `load 15s\n  pg_stat_statements_seconds_total{instance="pg",queryid="1"} ${s.join(' ')}\n  pg_stat_statements_calls_total{instance="pg",queryid="1"} ${c.join(' ')}`);
  }

  it('stays pending for N−1 breaching evaluations and fires on the Nth', async () => {
    const k = kit([group(G)]);
    latency(k, Array(80).fill(1500));
    const at = (i: number) => 10 * MIN + i * 30_000;
    assert.deepEqual((await k.evalAt(G, at(0))).map((e) => e.transition), ['pending']);
    assert.deepEqual(await k.evalAt(G, at(1)), []);
    assert.equal(k.engine.alerts()[0]!.state, 'pending');
    const third = await k.evalAt(G, at(2));
    assert.deepEqual(third.map((e) => e.transition), ['firing']);
    assert.ok(Math.abs(third[0]!.alert.value - 1500) < 1, String(third[0]!.alert.value));
  });

  it('starts over when a breach is missing before the Nth', async () => {
    const k = kit([group(G)]);
    // 1500 ms for 10 min, then 900 ms (clear of 1000) from minute 10
    latency(k, [...Array(40).fill(1500), ...Array(40).fill(100)]);
    await k.evalAt(G, 9 * MIN);
    await k.evalAt(G, 9.5 * MIN);
    assert.equal(k.engine.alerts()[0]!.state, 'pending');
    const ev = await k.evalAt(G, 16 * MIN); // the 5 m rate is now well below 1000 ms
    assert.deepEqual(ev.map((e) => e.transition), ['inactive']);
    assert.equal(k.engine.alerts().length, 0);
  });
});

describe('alert_rules.high_severity.disk_space (90% over 5m, prediction_window 6h, trend_analysis)', () => {
  const G = 'alert_rules.high_severity.disk_space';

  it('fires on the predicted crossing hours before the threshold is reached, with the time to threshold', async () => {
    const k = kit([group(G)]);
    // 50% rising 5 points an hour: 90% is 8 h away, within 6 h after 2 h
    const vals = Array.from({ length: 12 * 4 + 1 }, (_, i) => (0.5 + (0.05 * i) / 12).toFixed(5));
    loadSeries(k.store, `load 5m\n  dpmon_resource_utilization_ratio{resource="disk",mountpoint="/data",instance="h"} ${vals.join(' ')}`);
    let first: number | undefined;
    for (let t = 30 * MIN; t <= 4 * 60 * MIN; t += MIN) {
      const ev = await k.evalAt(G, t);
      if (ev.some((e) => e.transition === 'firing')) {
        first = t;
        break;
      }
    }
    assert.ok(first !== undefined, 'the prediction alert fired');
    const a = firing(k)[0]!;
    assert.ok(a.value < 90, `fired at ${a.value}%, before the threshold`);
    assert.equal(a.annotations.predicted, 'true');
    assert.match(a.annotations.time_to_threshold!, /^[5-6]h/);
    assert.ok(a.annotations.trend_slope_per_hour!.startsWith('5'), a.annotations.trend_slope_per_hour);
    assert.equal(a.labels.mountpoint, '/data');
  });

  it('does not fire for a filesystem that is high but flat', async () => {
    const k = kit([group(G)]);
    loadSeries(k.store, `load 5m\n  dpmon_resource_utilization_ratio{resource="disk",mountpoint="/data",instance="h"} 0.85x50`);
    for (let t = 30 * MIN; t <= 4 * 60 * MIN; t += 10 * MIN) assert.deepEqual(await k.evalAt(G, t), []);
  });
});

describe('alert_rules.medium_severity.connection_count (80% judged over a 15m window)', () => {
  const G = 'alert_rules.medium_severity.connection_count';

  it('fires only when the window average reaches 80%, not at the first sample above it', async () => {
    const k = kit([group(G)]);
    // 40% for 15 minutes, then 95%
    connections(k, `${Array(60).fill('0.4').join(' ')} ${Array(80).fill('0.95').join(' ')}`);
    assert.deepEqual(await k.evalAt(G, 16 * MIN), []);
    // the average over 15 m reaches 80 after 11 minutes at 95: (4×40 + 11×95)/15 ≈ 80.3
    assert.deepEqual(await k.evalAt(G, 25 * MIN), []);
    const ev = await k.evalAt(G, 27 * MIN);
    assert.deepEqual(ev.map((e) => e.transition), ['firing']);
    assert.ok(ev[0]!.alert.annotations.peak_value === '95', JSON.stringify(ev[0]!.alert.annotations));
  });
});

describe('prometheus_config expression rules', () => {
  const exprGroup = (rule: Partial<AlertRuleDef>): RuleGroupDef => ({
    name: 'database_rules',
    intervalMs: 30_000,
    source: 'test',
    rules: [
      {
        kind: 'alert',
        group: 'database_rules',
        name: 'HighConnectionUsage',
        expr: 'pg_stat_activity_count > 80',
        unit: 'number',
        windowMs: 0,
        windowFn: 'last',
        predictionMs: 0,
        predictionLookbackMs: 0,
        trends: false,
        anomaly: false,
        forMs: 60_000,
        keepFiringForMs: 0,
        consecutive: 1,
        labels: { severity: 'medium' },
        annotations: { summary: compileTemplate('{{ $labels.datname }} has {{ $value }} connections') },
        source: 'test',
        ...rule,
      },
    ],
  });

  it('is pending until `for` has passed, then fires with templated annotations', async () => {
    const k = kit([exprGroup({})]);
    loadSeries(k.store, 'load 30s\n  pg_stat_activity_count{datname="lake",state="active"} 90x10');
    assert.deepEqual((await k.evalAt('database_rules', 0)).map((e) => e.transition), ['pending']);
    assert.deepEqual(await k.evalAt('database_rules', 30_000), []);
    const ev = await k.evalAt('database_rules', 60_000);
    assert.deepEqual(ev.map((e) => e.transition), ['firing']);
    assert.equal(ev[0]!.alert.annotations.summary, 'lake has 90 connections');
    assert.equal(ev[0]!.alert.activeAt, 0);
  });

  it('keeps firing for keep_firing_for after the condition clears', async () => {
    const k = kit([exprGroup({ forMs: 0, keepFiringForMs: 2 * MIN })]);
    loadSeries(k.store, 'load 30s\n  pg_stat_activity_count{datname="lake",state="active"} 90 10x10');
    await k.evalAt('database_rules', 0);
    assert.deepEqual(await k.evalAt('database_rules', 90_000), []);
    assert.equal(firing(k).length, 1);
    assert.deepEqual((await k.evalAt('database_rules', 120_000)).map((e) => e.transition), ['resolved']);
  });

  it('writes ALERTS and ALERTS_FOR_STATE into history, and a stale marker when the alert ends', async () => {
    const k = kit([exprGroup({ forMs: 0 })]);
    loadSeries(k.store, 'load 30s\n  pg_stat_activity_count{datname="lake",state="active"} 90 90 10');
    await k.evalAt('database_rules', 0);
    await k.evalAt('database_rules', 30_000);
    const q = (await import('../query/index.ts')).createQueryEngine(k.store);
    const r = await q.instant('ALERTS{alertname="HighConnectionUsage"}', 30_000);
    assert.equal(r.resultType === 'vector' && r.result[0]?.metric.alertstate, 'firing');
    const fs = await q.instant('ALERTS_FOR_STATE', 30_000);
    assert.equal(fs.resultType === 'vector' && fs.result[0]?.value[1], '0');
    await k.evalAt('database_rules', 60_000);
    const gone = await q.instant('ALERTS', 60_000);
    assert.equal(gone.resultType === 'vector' && gone.result.length, 0);
  });

  it('reports a failing rule as unhealthy with its error, and keeps evaluating the others', async () => {
    const bad = exprGroup({ expr: 'label_replace(pg_up, "x", "$1", "instance", "(")' });
    const k = kit([bad]);
    await k.evalAt('database_rules', 0);
    const rs = k.engine.groups()[0]!.rules[0]!;
    assert.equal(rs.health, 'err');
    assert.match(rs.lastError, /regex|parse|invalid/i);
  });
});

describe('target down', () => {
  const G = 'database_metrics.connection_pools';

  it('holds the alerts of a target that stops answering instead of resolving them, and raises target_down', async () => {
    const k = kit([group(G), group('targets')]);
    loadSeries(
      k.store,
      `load 15s
  dpmon_pg_connections_used_ratio{instance="pg"} 0.9 0.9 stale
  pg_settings_max_connections{instance="pg"} 100 100 stale
  pg_up{instance="pg"} 1 1 0 0 0`,
    );
    await k.evalAt(G, 0);
    assert.deepEqual(levelsFiring(k), ['critical', 'warning']);
    assert.deepEqual(await k.evalAt(G, 30_000), []);
    assert.deepEqual(levelsFiring(k), ['critical', 'warning']);
    assert.match(firing(k)[0]!.heldBecause!, /target pg is down/);
    await k.evalAt('targets', 30_000);
    const ev = await k.evalAt('targets', 45_000);
    assert.deepEqual(ev.map((e) => `${e.transition} ${e.alert.labels.alertname}`), ['firing target_down']);
  });
});

describe('flapping', () => {
  const G = 'database_metrics.connection_pools';

  it('is detected after repeated fire/resolve cycles and damped: resolving then waits for flap_hold', async () => {
    const k = createRulesKit([group(G)], { settings: { flapTransitions: 4, flapHoldMs: 5 * MIN } });
    kits.push(k);
    // critical flips between 90% and 50% every 15 s
    connections(k, Array.from({ length: 40 }, (_, i) => (i % 2 ? '0.5' : '0.9')).join(' '));
    const critical = () => k.engine.alerts({ includeResolved: true }).find((a) => a.labels.level === 'critical');
    // fire, resolve, fire, resolve: the fourth transition marks it flapping
    for (let i = 0; i < 4; i++) await k.evalAt(G, i * 15_000);
    assert.equal(critical()!.state, 'resolved');
    assert.equal(critical()!.flapping, true);
    // it fires again, and then stays firing through the clear evaluations of the hold
    for (let i = 4; i < 12; i++) await k.evalAt(G, i * 15_000);
    assert.equal(critical()!.state, 'firing');
    const announced = k.events.filter((e) => e.alert.labels.level === 'critical').map((e) => e.transition);
    assert.deepEqual(announced, ['firing', 'resolved', 'firing', 'resolved', 'firing']);
    // once the condition stays clear for flap_hold (5 m here) after the last breach, it resolves
    loadSeries(k.store, `load 15s\n  dpmon_pg_connections_used_ratio{instance="pg"} 0.5x40\n  pg_settings_max_connections{instance="pg"} 100x40`, 600_000);
    const lastBreach = 10 * 15_000;
    let resolvedAt: number | undefined;
    for (let t = 600_000; t <= 1_200_000 && resolvedAt === undefined; t += 15_000) {
      if ((await k.evalAt(G, t)).some((e) => e.transition === 'resolved' && e.alert.labels.level === 'critical')) resolvedAt = t;
    }
    assert.equal(resolvedAt, 600_000, 'resolves at the first clear evaluation after the hold');
    assert.ok(resolvedAt! - lastBreach >= 5 * MIN);
  });
});

describe('durable state', () => {
  const G = 'database_metrics.connection_pools';

  it('keeps a firing alert firing with the same activeAt after a restart, and does not announce it again', async () => {
    const k = createRulesKit([group(G)]);
    connections(k, '0.9x40');
    await k.evalAt(G, 0);
    const before = firing(k).map((a) => [a.fingerprint, a.activeAt]);
    const k2 = k.restart();
    kits.push(k2);
    assert.deepEqual(firing(k2).map((a) => [a.fingerprint, a.activeAt]), before);
    assert.deepEqual(await k2.evalAt(G, 15_000), []);
    assert.deepEqual(firing(k2).map((a) => [a.fingerprint, a.activeAt]), before);
  });

  it('a reload keeps the state of unchanged rules and drops the state of removed ones', async () => {
    const k = kit([group(G), group('system_metrics.resource_monitoring.cpu_usage')]);
    connections(k, '0.9x40');
    loadSeries(k.store, 'load 15s\n  dpmon_resource_utilization_ratio{resource="cpu",instance="h"} 0.99x40');
    await k.evalAt(G, 0);
    await k.evalAt('system_metrics.resource_monitoring.cpu_usage', 0);
    assert.equal(firing(k).length, 4);
    k.engine.reload([group(G)]);
    assert.deepEqual(firing(k).map((a) => a.labels.alertname).sort(), ['connection_saturation', 'connection_saturation']);
    assert.deepEqual(await k.evalAt(G, 15_000), []);
  });
});

describe('performance-degradation (anomaly against the seasonal baseline)', () => {
  const G = 'monitoring_integration.grafana.alerts.performance-degradation';

  it('fires after ten anomalous minutes in a row of mean statement time, not during normal variation', async () => {
    const k = kit([group(G)]);
    const labels = { __name__: 'dpmon:pg_statement_mean_seconds:rate5m', instance: 'pg' };
    const DAY = 86_400_000;
    const end = 21 * DAY;
    // three weeks of a daily pattern (20–40 ms) with a little deterministic noise, every 5 minutes
    const normal = (t: number) => 0.03 + 0.01 * Math.sin((2 * Math.PI * t) / DAY) + 0.0005 * Math.sin(t / 7_777);
    const samples = [];
    for (let t = 0; t < end - 30 * MIN; t += 5 * MIN) samples.push({ labels, t, v: normal(t) });
    // the last half hour every minute: normal for 10 minutes, then five times slower
    for (let t = end - 30 * MIN; t <= end; t += MIN) samples.push({ labels, t, v: t < end - 20 * MIN ? normal(t) : 5 * normal(t) });
    k.store.append(samples);
    for (let t = end - 29 * MIN; t < end - 20 * MIN; t += MIN) assert.deepEqual(await k.evalAt(G, t), [], `quiet at ${(end - t) / MIN} min before the end`);
    const fired: number[] = [];
    for (let t = end - 20 * MIN; t <= end; t += MIN) if ((await k.evalAt(G, t)).some((e) => e.transition === 'firing')) fired.push(t);
    // pending from the first slow minute, firing at the tenth
    assert.deepEqual(fired, [end - 11 * MIN]);
    const a = firing(k)[0]!;
    assert.equal(a.labels.alertname, 'performance-degradation');
    assert.ok(Number(a.annotations.anomaly_score) > 3.5, JSON.stringify(a.annotations));
    assert.ok(Number(a.annotations.baseline_median) < 0.05);
  });
});

describe("every built-in rule of the spec's config fires on a breaching series and stays quiet below it", () => {
  // [group, series in promqltest notation (15 s steps) that breach, that stay below, alertname, expected labels]
  const cases: [string, string, string, string, Record<string, string>][] = [
    ['system_metrics.resource_monitoring.cpu_usage', 'dpmon_resource_utilization_ratio{resource="cpu",instance="h"} 0.9x10', 'dpmon_resource_utilization_ratio{resource="cpu",instance="h"} 0.6x10', 'cpu_usage', { level: 'critical', severity: 'high' }],
    ['system_metrics.resource_monitoring.memory_usage', 'dpmon_resource_utilization_ratio{resource="memory",instance="h"} 0.8x10', 'dpmon_resource_utilization_ratio{resource="memory",instance="h"} 0.7x10', 'memory_usage', { level: 'warning', severity: 'medium' }],
    ['system_metrics.resource_monitoring.disk_usage', 'dpmon_resource_utilization_ratio{resource="disk",mountpoint="/data",instance="h"} 0.95x10', 'dpmon_resource_utilization_ratio{resource="disk",mountpoint="/data",instance="h"} 0.5x10', 'disk_usage', { level: 'critical', mountpoint: '/data' }],
    ['database_metrics.query_performance.long_running_threshold', 'dpmon_pg_activity_max_query_duration_seconds{instance="pg",datname="lake"} 45x10', 'dpmon_pg_activity_max_query_duration_seconds{instance="pg",datname="lake"} 29x10', 'query_timeout', { datname: 'lake', severity: 'medium' }],
    ['database_metrics.query_performance.deadlock_check_interval', 'pg_stat_database_deadlocks{instance="pg",datname="lake"} 0 0 1 1 2x30', 'pg_stat_database_deadlocks{instance="pg",datname="lake"} 3x30', 'deadlocks', { datname: 'lake' }],
    ['database_metrics.replication', 'dpmon_pg_replication_replay_lag_seconds{instance="pg",application_name="standby1"} 6x10', 'dpmon_pg_replication_replay_lag_seconds{instance="pg",application_name="standby1"} 0.5x10', 'replication_delay', { level: 'critical', application_name: 'standby1' }],
    ['alert_rules.medium_severity.replication_lag', 'pg_replication_lag_seconds{instance="standby"} 2x60', 'pg_replication_lag_seconds{instance="standby"} 0.2x60', 'replication_lag', { severity: 'medium', action: 'notify_slack' }],
    ['monitoring_integration.grafana.alerts.resource-exhaustion', 'dpmon_resource_utilization_ratio{resource="memory",instance="h"} 0.97x10', 'dpmon_resource_utilization_ratio{resource="memory",instance="h"} 0.92x10', 'resource-exhaustion', { resource: 'memory', severity: 'high' }],
    ['database_metrics.query_performance.idle_in_transaction', 'dpmon_pg_activity_max_idle_in_transaction_seconds{instance="pg",datname="lake"} 40x10', 'dpmon_pg_activity_max_idle_in_transaction_seconds{instance="pg",datname="lake"} 20x10', 'idle_in_transaction', { datname: 'lake' }],
    ['auto_remediation.low_cache_hit_ratio', 'pg_stat_database_blks_hit{instance="pg",datname="lake"} 0+40x40\n  pg_stat_database_blks_read{instance="pg",datname="lake"} 0+60x40', 'pg_stat_database_blks_hit{instance="pg",datname="lake"} 0+90x40\n  pg_stat_database_blks_read{instance="pg",datname="lake"} 0+10x40', 'low_cache_hit_ratio', { datname: 'lake', severity: 'low' }],
    ['database_rules', 'pg_stat_activity_count{instance="pg",datname="lake",state="active"} 81x10', 'pg_stat_activity_count{instance="pg",datname="lake",state="active"} 80x10', 'HighConnectionUsage', { datname: 'lake' }],
    // storage_full: under 5 % and under 1 GiB free; 2 % of a 10 TB filesystem (200 GB) is not full
    ['storage.data_dir', 'dpmon_data_dir_free_ratio{instance="h"} 0.02x10\n  dpmon_data_dir_free_bytes{instance="h"} 100000000x10', 'dpmon_data_dir_free_ratio{instance="h"} 0.5x10\n  dpmon_data_dir_free_bytes{instance="h"} 100000000x10', 'storage_full', { severity: 'high' }],
    ['storage.data_dir', 'dpmon_data_dir_free_ratio{instance="h"} 0x10\n  dpmon_data_dir_free_bytes{instance="h"} 0x10', 'dpmon_data_dir_free_ratio{instance="h"} 0.02x10\n  dpmon_data_dir_free_bytes{instance="h"} 200000000000x10', 'storage_full', { instance: 'h' }],
    ['database_rules', 'pg_stat_activity_max_tx_duration{instance="pg",datname="lake",state="active"} 301x10', 'pg_stat_activity_max_tx_duration{instance="pg",datname="lake",state="active"} 300x10', 'LongRunningQueries', { datname: 'lake' }],
  ];
  for (const [G, breach, below, alertname, labels] of cases) {
    it(`${alertname} (${G})`, async () => {
      // three evaluations 15 s apart, enough for two consecutive failures
      const times = [90_000, 105_000, 120_000];
      const hot = kit([group(G)]);
      loadSeries(hot.store, `load 15s\n  ${breach}`);
      for (const t of times) await hot.evalAt(G, t);
      const fired = firing(hot).filter((a) => a.labels.alertname === alertname);
      assert.ok(fired.length > 0, `${alertname} fired: ${JSON.stringify(hot.engine.alerts())}`);
      for (const [k, v] of Object.entries(labels)) assert.ok(fired.some((a) => a.labels[k] === v), `${k}=${v} in ${JSON.stringify(fired.map((a) => a.labels))}`);
      const cold = kit([group(G)]);
      loadSeries(cold.store, `load 15s\n  ${below}`);
      for (const t of times) await cold.evalAt(G, t);
      assert.deepEqual(cold.engine.alerts().filter((a) => a.labels.alertname === alertname).map((a) => a.state), []);
    });
  }
});

describe('replication_slot_inactive', () => {
  const G = 'database_metrics.replication.replication_slots';

  it('fires for a slot inactive for two replication intervals, with its retained WAL, and not for an active one', async () => {
    const k = kit([group(G)]);
    loadSeries(
      k.store,
      `load 15s
  dpmon_pg_replication_slot_retained_wal_bytes{instance="pg",slot_name="old",slot_type="physical"} 1073741824x10
  pg_replication_slots_active{instance="pg",slot_name="old",database=""} 0x10
  dpmon_pg_replication_slot_retained_wal_bytes{instance="pg",slot_name="live",slot_type="physical"} 1000x10
  pg_replication_slots_active{instance="pg",slot_name="live",database=""} 1x10`,
    );
    for (const t of [0, 30_000, 60_000]) await k.evalAt(G, t);
    const a = firing(k);
    assert.deepEqual(a.map((x) => x.labels.slot_name), ['old']);
    assert.equal(a[0]!.annotations.summary, 'replication slot old on pg is inactive and retains 1GiB of WAL');
  });
});

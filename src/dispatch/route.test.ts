import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config/index.ts';
import type { Labels } from '../model/labels.ts';
import { routeTreeFromConfig } from './config.ts';
import { buildRouteTree, groupKeyOf, groupLabelsOf, matchRoutes, receiverOf, RouteConfigError, type Route } from './route.ts';

/** route name and receiver of each group an alert with these labels joins */
function routed(root: Route, labels: Labels): string[] {
  return matchRoutes(root, labels).map((r) => `${r.name} → ${receiverOf(r, groupLabelsOf(r, labels))}`);
}

describe('route matching: the spec routes (built-in config)', () => {
  const root = routeTreeFromConfig(loadConfig([], {}).config);
  const table: [labels: Labels, expected: string[]][] = [
    [{ alertname: 'cpu_usage', severity: 'high', level: 'critical', instance: 'host' }, ['cpu_alerts → ops-team']],
    [{ alertname: 'cpu_usage', severity: 'medium', level: 'warning', instance: 'host' }, ['cpu_alerts → ops-team']],
    [{ alertname: 'memory_usage', severity: 'medium' }, ['memory_alerts → sys-admin']],
    [{ alertname: 'disk_usage', severity: 'high', mountpoint: '/data' }, ['disk_alerts → storage-team']],
    [{ alertname: 'disk_space', severity: 'high' }, ['disk_alerts → storage-team']],
    [{ alertname: 'resource-exhaustion', resource: 'cpu', severity: 'high' }, ['cpu_alerts → ops-team']],
    [{ alertname: 'resource-exhaustion', resource: 'memory', severity: 'high' }, ['memory_alerts → sys-admin']],
    [{ alertname: 'resource-exhaustion', resource: 'disk', severity: 'high' }, ['disk_alerts → storage-team']],
    // no spec route matches: the default route, receiver by severity
    [{ alertname: 'connection_saturation', severity: 'high' }, ['default → pagerduty']],
    [{ alertname: 'replication_delay', severity: 'medium' }, ['default → slack']],
    [{ alertname: 'query_timeout', severity: 'low' }, ['default → dashboard']],
    [{ alertname: 'HighConnectionUsage' }, ['default → slack']],
    // "starts with the word" means the word then _ or -, not any prefix
    [{ alertname: 'cpux', severity: 'high' }, ['default → pagerduty']],
    [{ alertname: 'diskless', severity: 'low' }, ['default → dashboard']],
  ];
  for (const [labels, expected] of table) {
    it(`${labels.alertname}${labels.resource ? `{resource=${labels.resource}}` : ''} (${labels.severity ?? 'no severity'}) → ${expected.join(', ')}`, () => {
      assert.deepEqual(routed(root, labels), expected);
    });
  }

  it('keeps the spec group_wait per route and inherits Alertmanager defaults for the rest', () => {
    const byName = Object.fromEntries(root.routes.map((r) => [r.name, r.opts]));
    assert.deepEqual(
      Object.entries(byName).map(([n, o]) => [n, o.groupWaitMs, o.groupIntervalMs, o.repeatIntervalMs]),
      [
        ['cpu_alerts', 30_000, 300_000, 14_400_000],
        ['memory_alerts', 45_000, 300_000, 14_400_000],
        ['disk_alerts', 60_000, 300_000, 14_400_000],
      ],
    );
    assert.equal(root.opts.groupWaitMs, 30_000);
  });
});

describe('route matching: continue and explicit matchers', () => {
  const root = buildRouteTree({
    receiver: 'fallback',
    routes: [
      { name: 'audit', matchers: ['severity=~"high|medium"'], receiver: 'audit-log', continue: true },
      { name: 'db', matchers: ['alertname=~"connection_.*|replication_.*"'], receiver: 'dba' },
      { name: 'db-again', matchers: ['alertname="connection_saturation"'], receiver: 'never' },
      { name: 'hosts', matchers: ['{instance=~"host-.*", alertname!="target_down"}'], receiver: 'ops' },
    ],
  });
  const table: [labels: Labels, expected: string[]][] = [
    // continue: the first match goes on to later siblings; the first without continue stops
    [{ alertname: 'connection_saturation', severity: 'high' }, ['audit → audit-log', 'db → dba']],
    [{ alertname: 'connection_saturation', severity: 'low' }, ['db → dba']],
    // only a continue route matched: the parent does not also get it (Alertmanager)
    [{ alertname: 'deadlocks', severity: 'medium' }, ['audit → audit-log']],
    [{ alertname: 'cpu_usage', instance: 'host-1', severity: 'low' }, ['hosts → ops']],
    [{ alertname: 'target_down', instance: 'host-1', severity: 'low' }, ['default → fallback']],
    [{ alertname: 'cpu_usage', instance: 'pg-1' }, ['default → fallback']],
  ];
  for (const [labels, expected] of table) {
    it(`${JSON.stringify(labels)} → ${expected.join(', ')}`, () => {
      assert.deepEqual(routed(root, labels), expected);
    });
  }

  it('explicit matchers replace the ones a <word>_alerts name implies', () => {
    const loaded = loadConfigText(`
monitoring_integration:
  alert_manager:
    routes:
      cpu_alerts:
        matchers: ['instance="db-1"']
`);
    const tree = routeTreeFromConfig(loaded);
    assert.deepEqual(routed(tree, { alertname: 'cpu_usage', instance: 'db-1', severity: 'high' }), ['cpu_alerts → ops-team']);
    assert.deepEqual(routed(tree, { alertname: 'cpu_usage', instance: 'db-2', severity: 'high' }), ['default → pagerduty']);
  });

  it('a <word>_alerts name works for any word: replication_alerts takes replication_lag and replication_delay', () => {
    const tree = routeTreeFromConfig(
      loadConfigText(`
monitoring_integration:
  alert_manager:
    routes:
      replication_alerts:
        receiver: slack
`),
    );
    assert.deepEqual(routed(tree, { alertname: 'replication_lag', severity: 'medium' }), ['replication_alerts → slack']);
    assert.deepEqual(routed(tree, { alertname: 'replication_delay', severity: 'high' }), ['replication_alerts → slack']);
  });
});

describe('route options: inheritance', () => {
  const root = buildRouteTree({
    receiver: 'r0',
    groupBy: ['cluster'],
    groupWaitMs: 10_000,
    routes: [
      {
        name: 'db',
        matchers: ['team="db"'],
        groupIntervalMs: 60_000,
        muteTimeIntervals: ['weekends'],
        routes: [
          { name: 'db-high', matchers: ['severity="high"'], receiver: 'r2', activeTimeIntervals: ['office'] },
          { name: 'db-all', matchers: ['severity=~".+"'], groupBy: ['...'], repeatIntervalMs: 3_600_000 },
        ],
      },
    ],
  });
  const [db] = root.routes;
  const [dbHigh, dbAll] = db?.routes ?? [];

  const table: [route: Route | undefined, expected: Record<string, unknown>][] = [
    [root, { receiver: 'r0', groupBy: ['cluster'], groupByAll: false, groupWaitMs: 10_000, groupIntervalMs: 300_000, repeatIntervalMs: 14_400_000, muteTimeIntervals: [], activeTimeIntervals: [] }],
    [db, { receiver: 'r0', groupBy: ['cluster'], groupByAll: false, groupWaitMs: 10_000, groupIntervalMs: 60_000, repeatIntervalMs: 14_400_000, muteTimeIntervals: ['weekends'], activeTimeIntervals: [] }],
    // time intervals are the route's own, not inherited (Alertmanager)
    [dbHigh, { receiver: 'r2', groupBy: ['cluster'], groupByAll: false, groupWaitMs: 10_000, groupIntervalMs: 60_000, repeatIntervalMs: 14_400_000, muteTimeIntervals: [], activeTimeIntervals: ['office'] }],
    [dbAll, { receiver: 'r0', groupBy: [], groupByAll: true, groupWaitMs: 10_000, groupIntervalMs: 60_000, repeatIntervalMs: 3_600_000, muteTimeIntervals: [], activeTimeIntervals: [] }],
  ];
  for (const [route, expected] of table) {
    it(`${route?.name}: set options override the parent's, unset ones are inherited`, () => {
      assert.ok(route);
      assert.deepEqual({ ...route.opts }, expected);
    });
  }

  it('matches depth first: an alert descends to the deepest matching route', () => {
    assert.deepEqual(routed(root, { team: 'db', severity: 'high' }), ['db-high → r2']);
    assert.deepEqual(routed(root, { team: 'db', severity: 'low' }), ['db-all → r0']);
    assert.deepEqual(routed(root, { team: 'db' }), ['db → r0']);
    assert.deepEqual(routed(root, { team: 'web' }), ['default → r0']);
  });

  it('gives each route a unique id from the root, used in group keys', () => {
    assert.deepEqual([root.id, db?.id, dbHigh?.id, dbAll?.id], ['{}', '{}/db', '{}/db/db-high', '{}/db/db-all']);
  });
});

describe('aggregation group labels and keys', () => {
  const root = buildRouteTree({
    routes: [
      { name: 'teams', matchers: ['team=~".+"'], receiver: 'team', groupBy: ['team', 'alertname'] },
      { name: 'each', matchers: ['each="yes"'], receiver: 'each', groupBy: ['...'] },
    ],
  });
  const table: [labels: Labels, key: string][] = [
    [{ alertname: 'cpu_usage', team: 'db', instance: 'a' }, '{}/teams:{alertname="cpu_usage", team="db"}'],
    [{ alertname: 'cpu_usage', team: 'db', instance: 'b' }, '{}/teams:{alertname="cpu_usage", team="db"}'],
    [{ each: 'yes', alertname: 'x', instance: 'a' }, '{}/each:{alertname="x", each="yes", instance="a"}'],
    // the default route chooses the receiver by severity, so severity joins its group labels
    [{ alertname: 'target_down', instance: 'pg', severity: 'high', level: 'critical' }, '{}:{alertname="target_down", instance="pg", severity="high"}'],
    [{ alertname: 'target_down', instance: 'pg' }, '{}:{alertname="target_down", instance="pg"}'],
  ];
  for (const [labels, key] of table) {
    it(`${JSON.stringify(labels)} → ${key}`, () => {
      const [route] = matchRoutes(root, labels);
      assert.ok(route);
      assert.equal(groupKeyOf(route, groupLabelsOf(route, labels)), key);
    });
  }
});

describe('buildRouteTree errors', () => {
  it('refuses a bad matcher, naming the route and the matcher', () => {
    assert.throws(
      () => buildRouteTree({ routes: [{ name: 'broken', matchers: ['severity=~"(high"'] }] }),
      (err: unknown) =>
        err instanceof RouteConfigError &&
        err.problems.length === 1 &&
        err.problems[0] === 'route broken: bad matcher "severity=~\\"(high\\"": invalid regular expression "(high": missing closing ): `(high` in severity=~"(high" (column 11)',
    );
  });
});

// ---------------------------------------------------------------- helpers

function loadConfigText(yaml: string) {
  const dir = mkdtempSync(join(tmpdir(), 'dpmon-route-'));
  const file = join(dir, 'c.yaml');
  writeFileSync(file, yaml);
  try {
    return loadConfig([file], {}).config;
  } finally {
    rmSync(dir, { recursive: true });
  }
}

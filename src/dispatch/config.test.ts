import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, formatConfigIssue, loadConfig, type LoadedConfig } from '../config/index.ts';
import { routeIssues, routeTreeFromConfig } from './config.ts';
import { receiverChannels, resolveReceiver } from './receivers.ts';
import { RouteConfigError } from './route.ts';

/** Loads YAML over the built-in defaults from a file named c.yaml (so messages name it). */
function withFile<T>(yaml: string, use: (file: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'dpmon-dispatch-'));
  const file = join(dir, 'c.yaml');
  writeFileSync(file, yaml);
  try {
    return use(file);
  } finally {
    rmSync(dir, { recursive: true });
  }
}
const load = (yaml: string): LoadedConfig => withFile(yaml, (f) => loadConfig([f], {}));
/** config errors as `c.yaml:line:col path: message` */
function loadErrors(yaml: string): string[] {
  return withFile(yaml, (f) => {
    try {
      loadConfig([f], {});
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err.errors.map((e) => formatConfigIssue({ ...e, file: 'c.yaml' }));
    }
    return assert.fail('expected a ConfigError');
  });
}
/** route issues as `kind path: message` */
const issuesOf = (loaded: LoadedConfig) => routeIssues(loaded.config).map((i) => `${i.kind} ${i.path.join('.')}: ${i.message}`);

const FALLBACK = 'it falls back to the severity channels: high → pagerduty, medium → slack, low → dashboard';

describe('routeIssues', () => {
  it('warns that the spec receivers are undefined and fall back to the severity channels', () => {
    assert.deepEqual(issuesOf(loadConfig([], {})), [
      `warning monitoring_integration.alert_manager.routes.cpu_alerts.receiver: receiver \`ops-team\` used in route \`cpu_alerts\` is not defined under receivers; ${FALLBACK}`,
      `warning monitoring_integration.alert_manager.routes.memory_alerts.receiver: receiver \`sys-admin\` used in route \`memory_alerts\` is not defined under receivers; ${FALLBACK}`,
      `warning monitoring_integration.alert_manager.routes.disk_alerts.receiver: receiver \`storage-team\` used in route \`disk_alerts\` is not defined under receivers; ${FALLBACK}`,
    ]);
  });

  it('makes an undefined receiver an error once a receivers section exists', () => {
    const loaded = load(`
receivers:
  ops-team: { channels: [pagerduty, slack] }
  dba: { email: [dba@datapunk.com] }
`);
    assert.deepEqual(issuesOf(loaded), [
      'error monitoring_integration.alert_manager.routes.memory_alerts.receiver: undefined receiver `sys-admin` used in route `memory_alerts`: define it under receivers (defined: ops-team, dba) or name a channel (pagerduty, slack, email, webhook, alertmanager, dashboard)',
      'error monitoring_integration.alert_manager.routes.disk_alerts.receiver: undefined receiver `storage-team` used in route `disk_alerts`: define it under receivers (defined: ops-team, dba) or name a channel (pagerduty, slack, email, webhook, alertmanager, dashboard)',
    ]);
    assert.throws(() => routeTreeFromConfig(loaded.config), (err: unknown) => err instanceof RouteConfigError && err.problems.length === 2);
  });

  it('accepts a channel name as a receiver without defining it', () => {
    const loaded = load(`
receivers:
  storage-team: { channels: [email], email: [storage@datapunk.com] }
monitoring_integration:
  alert_manager:
    default: { receiver: dashboard }
    routes:
      cpu_alerts: { receiver: pagerduty }
      memory_alerts: { receiver: slack }
`);
    assert.deepEqual(issuesOf(loaded), []);
  });

  it('checks the default route receiver too', () => {
    assert.deepEqual(
      issuesOf(load('monitoring_integration: { alert_manager: { default: { receiver: on-call } } }')).filter((m) => m.includes('default')),
      [`warning monitoring_integration.alert_manager.default.receiver: receiver \`on-call\` used in route \`default\` is not defined under receivers; ${FALLBACK}`],
    );
  });

  it('warns about a route without matchers whose name implies none, and the routes it hides', () => {
    const loaded = load(`
receivers: { ops-team: { channels: [slack] }, sys-admin: { channels: [slack] }, storage-team: { channels: [slack] } }
monitoring_integration:
  alert_manager:
    routes:
      everything: { receiver: slack }
      after: { receiver: slack, matchers: ['team="x"'] }
`);
    assert.deepEqual(issuesOf(loaded), [
      'warning monitoring_integration.alert_manager.routes.everything: route `everything` has no matchers and its name is not of the form <word>_alerts, so it matches every alert; the routes after it (after) are never reached unless it has continue: true',
    ]);
  });

  it('warns, as Alertmanager, when repeat_interval is below group_interval', () => {
    const loaded = load(`
receivers: { ops-team: { channels: [slack] }, sys-admin: { channels: [slack] }, storage-team: { channels: [slack] } }
monitoring_integration: { alert_manager: { routes: { cpu_alerts: { repeat_interval: 1m } } } }
`);
    assert.deepEqual(issuesOf(loaded), [
      'warning monitoring_integration.alert_manager.routes.cpu_alerts.repeat_interval: repeat_interval 1m is less than group_interval 5m: notifications will not repeat until the next group_interval',
    ]);
  });

  it("suggests the strict syntax for matchers only Alertmanager's classic parser reads", () => {
    const loaded = load(`
receivers: { ops-team: { channels: [slack] }, sys-admin: { channels: [slack] }, storage-team: { channels: [slack] } }
monitoring_integration: { alert_manager: { routes: { db_alerts: { receiver: slack, matchers: ['team=db admins'] } } } }
`);
    assert.deepEqual(issuesOf(loaded), [
      `warning monitoring_integration.alert_manager.routes.db_alerts.matchers.0: "team=db admins" is read with Alertmanager's classic matcher syntax; write "team=\\"db admins\\"" (double-quoted values) instead`,
    ]);
  });

  it('warns about a defined receiver with no channels and no addresses', () => {
    const loaded = load('receivers: { ops-team: {}, sys-admin: { channels: [slack] }, storage-team: { channels: [slack] } }');
    assert.deepEqual(issuesOf(loaded), [`warning receivers.ops-team: receiver \`ops-team\` lists no channels and no addresses; ${FALLBACK}`]);
  });
});

describe('alert_manager schema', () => {
  const table: [name: string, yaml: string, errors: string[]][] = [
    [
      'a bad matcher, with its position',
      `monitoring_integration:
  alert_manager:
    routes:
      db_alerts:
        receiver: slack
        matchers: ['severity=~"(high"']
`,
      ['c.yaml:6:20 monitoring_integration.alert_manager.routes.db_alerts.matchers[0]: bad matcher "severity=~\\"(high\\"": invalid regular expression "(high": missing closing ): `(high` in severity=~"(high" (column 11)'],
    ],
    [
      '"..." with other labels in group_by',
      'monitoring_integration: { alert_manager: { default: { group_by: [alertname, "..."] } } }\n',
      ['c.yaml:1:65 monitoring_integration.alert_manager.default.group_by: group_by "..." (all labels) cannot be combined with other labels'],
    ],
    [
      'a group_by entry that is not a label name',
      'monitoring_integration: { alert_manager: { default: { group_by: [alert-name] } } }\n',
      ['c.yaml:1:66 monitoring_integration.alert_manager.default.group_by[0]: "alert-name" is neither a label name ([a-zA-Z_][a-zA-Z0-9_]*) nor "..." (all labels)'],
    ],
    [
      'a zero group_interval',
      'monitoring_integration: { alert_manager: { routes: { cpu_alerts: { group_interval: 0 } } } }\n',
      ['c.yaml:1:84 monitoring_integration.alert_manager.routes.cpu_alerts.group_interval: group_interval must be above 0'],
    ],
    [
      'an unknown route key',
      'monitoring_integration: { alert_manager: { routes: { cpu_alerts: { matcher: [x="y"] } } } }\n',
      ['c.yaml:1:68 monitoring_integration.alert_manager.routes.cpu_alerts.matcher: unknown key "matcher"; did you mean "matchers"?'],
    ],
  ];
  for (const [name, yaml, errors] of table) {
    it(`refuses ${name}`, () => {
      assert.deepEqual(loadErrors(yaml), errors);
    });
  }

  it('reads every route option into the typed config', () => {
    const { config } = load(`
monitoring_integration:
  alert_manager:
    default: { receiver: slack, group_by: [alertname], group_wait: 10s, group_interval: 1m, repeat_interval: 1h }
    routes:
      db_alerts:
        receiver: pagerduty
        matchers: ['team="db"', '{severity=~"high|medium"}']
        group_by: ['...']
        continue: true
        mute_time_intervals: [weekends]
        active_time_intervals: [office-hours]
`);
    const am = config.monitoringIntegration.alertManager;
    assert.deepEqual(am.default, { receiver: 'slack', groupBy: ['alertname'], groupWaitMs: 10_000, groupIntervalMs: 60_000, repeatIntervalMs: 3_600_000 });
    assert.deepEqual(am.routes.db_alerts, {
      receiver: 'pagerduty',
      matchers: ['team="db"', '{severity=~"high|medium"}'],
      groupBy: ['...'],
      continue: true,
      muteTimeIntervals: ['weekends'],
      activeTimeIntervals: ['office-hours'],
    });
    const tree = routeTreeFromConfig(config);
    assert.deepEqual(
      tree.routes.map((r) => r.name),
      ['cpu_alerts', 'memory_alerts', 'disk_alerts', 'db_alerts'],
    );
  });
});

describe('resolveReceiver', () => {
  const receivers = {
    'ops-team': { channels: ['pagerduty', 'slack'] as const },
    dba: { email: ['dba@datapunk.com'], slackWebhookUrl: 'https://hooks.slack.test/x' },
    empty: {},
  };
  const config = { receivers } as unknown as Parameters<typeof resolveReceiver>[1];
  const table: [name: string, source: string, high: string[], medium: string[], low: string[]][] = [
    ['ops-team', 'receivers', ['pagerduty', 'slack'], ['pagerduty', 'slack'], ['pagerduty', 'slack']],
    // no channels listed: the ones its addresses imply
    ['dba', 'receivers', ['slack', 'email'], ['slack', 'email'], ['slack', 'email']],
    ['empty', 'severity', ['pagerduty'], ['slack'], ['dashboard']],
    ['webhook', 'channel', ['webhook'], ['webhook'], ['webhook']],
    ['sys-admin', 'severity', ['pagerduty'], ['slack'], ['dashboard']],
  ];
  for (const [name, source, high, medium, low] of table) {
    it(`${name} → ${source}`, () => {
      const r = resolveReceiver(name, config);
      assert.equal(r.source, source);
      assert.deepEqual([r.channels.high, r.channels.medium, r.channels.low], [high, medium, low]);
    });
  }

  it('receiverChannels picks the list for one severity', () => {
    assert.deepEqual(receiverChannels('storage-team', 'low', config), ['dashboard']);
  });
});

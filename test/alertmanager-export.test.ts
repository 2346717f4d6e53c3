// `dpmon export alertmanager` checked by Debian's real `amtool` (prometheus-alertmanager 0.25):
// check-config accepts the export of the embedded default, the spec's datapunk.yaml and a config using
// every routing feature; `amtool config routes test` sends each label set to the same receivers as
// dpmon's own route matching (matchRoutes, called directly); no secret from the environment is written.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig, type Config } from '../src/config/index.ts';
import { matchRoutes, routeTreeFromConfig } from '../src/dispatch/index.ts';
import { amReceiverName, exportAlertmanager } from '../src/export/alertmanager.ts';
import { repoRoot, requirePeer, runDpmonSync } from './harness/process.ts';

const SKIP = 'amtool is not installed (Debian package prometheus-alertmanager; .ci/run installs it)';
// the spec's merged YAML: the repository's copy of ../shared/seed-config/datapunk.yaml
const SEED = join(repoRoot, 'src', 'config', 'fixtures', 'seed', 'datapunk.yaml');

const SECRETS = {
  PAGERDUTY_KEY: 'pd-0123456789abcdef0123456789abcdef',
  OPS_SLACK_URL: 'https://hooks.slack.com/services/T000/B000/supersecretslackpath',
  OPS_PD_KEY: 'ops-routing-key-00000000000000000000',
  SMTP_PASSWORD: 'smtp-password-do-not-print',
};

// every routing feature: defined receivers with secrets, explicit matchers, continue, a default receiver,
// a name-matched route, time intervals on a route, inhibit rules
const FULL = `
receivers:
  ops-team: { slack_webhook_url: "\${OPS_SLACK_URL}", pagerduty_routing_key: "\${OPS_PD_KEY}", slack_channel: "#ops" }
  sys-admin: { email: [sysadmin@example.com] }
  storage-team: { channels: [slack, email] }
  audit: { webhook_url: "https://audit.example.com/hook" }
  oncall: { channels: [pagerduty] }
notification_channels:
  email: { recipients: [dba@example.com], smtp_host: smtp.example.com, smtp_port: 587, username: dpmon, password: "\${SMTP_PASSWORD}", tls: starttls }
monitoring_integration:
  alert_manager:
    default: { receiver: oncall, group_by: [alertname], repeat_interval: 2h }
    routes:
      audit_everything: { receiver: audit, matchers: ['severity=~"high|medium"'], continue: true }
      replication_alerts: { receiver: storage-team, group_wait: 10s, mute_time_intervals: [weekends] }
      db_team: { receiver: sys-admin, matchers: ['{datname="orders", severity!="low"}'], active_time_intervals: [office-hours] }
time_intervals:
  - name: weekends
    time_intervals: [{ weekdays: ['saturday', 'sunday'] }]
  - name: office-hours
    time_intervals: [{ weekdays: ['monday:friday'], times: [{ start_time: '09:00', end_time: '17:30' }], location: Europe/Berlin }]
inhibit_rules:
  - source_matchers: ['alertname="target_down"']
    target_matchers: ['severity="low"']
    equal: [instance]
`;

// continue: true routes under a default route that picks by severity: an alert only they take must not
// also reach the severity routes the export appends to the root
const CONTINUE = `
monitoring_integration:
  alert_manager:
    routes:
      cpu_alerts: { receiver: ops-team, continue: true }
      audit_high: { receiver: webhook, matchers: ['severity="high"'], continue: true }
`;

/** Label sets: the spec's routes' alerts, alerts no route takes, and ones only the feature config routes. */
const LABEL_SETS: readonly Record<string, string>[] = [
  { alertname: 'cpu_usage', severity: 'medium', level: 'warning', instance: 'host1' },
  { alertname: 'cpu_usage', severity: 'high', level: 'critical', instance: 'host1' },
  { alertname: 'memory_usage', severity: 'high', level: 'critical' },
  { alertname: 'memory_usage', severity: 'medium', level: 'warning' },
  { alertname: 'disk_usage', severity: 'medium', mountpoint: '/data' },
  { alertname: 'disk_space', severity: 'high', action: 'page_on_call' },
  { alertname: 'resource-exhaustion', resource: 'cpu', severity: 'high' },
  { alertname: 'resource-exhaustion', resource: 'disk', severity: 'high' },
  { alertname: 'cpu_usage', resource: 'disk', severity: 'low' },
  { alertname: 'connection_saturation', severity: 'high', level: 'critical', instance: 'pg1' },
  { alertname: 'target_down', severity: 'high', instance: 'pg1' },
  { alertname: 'low_cache_hit_ratio', severity: 'low', datname: 'orders' },
  { alertname: 'HighConnectionUsage', severity: 'medium' },
  { alertname: 'no_severity' },
  { alertname: 'odd_severity', severity: 'critical' },
  { alertname: 'replication_lag', severity: 'medium', datname: 'orders' },
  { alertname: 'replication_delay', severity: 'high' },
  { alertname: 'deadlocks', severity: 'medium', datname: 'orders' },
  { alertname: 'deadlocks', severity: 'low', datname: 'orders' },
  { alertname: 'cpunot', severity: 'medium' },
];

describe('dpmon export alertmanager', () => {
  let amtool: string | undefined;
  let dir: string;
  before(() => {
    amtool = requirePeer('amtool', { skip: () => {} });
    dir = mkdtempSync(join(tmpdir(), 'dpmon-am-export-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function run(args: string[]): Promise<{ code: number; out: string }> {
    return new Promise((resolve) => {
      execFile(amtool!, args, { env: { ...process.env, HOME: dir }, timeout: 20_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
      );
    });
  }

  function configOf(name: string, yaml?: string): { config: Config; file: string } {
    let paths: string[] = [];
    if (yaml !== undefined) {
      paths = [join(dir, `${name}.dpmon.yaml`)];
      writeFileSync(paths[0]!, yaml);
    }
    const config = loadConfig(name === 'seed' ? [SEED] : paths, { ...process.env, ...SECRETS }).config;
    const file = join(dir, `${name}.am.yml`);
    writeFileSync(file, exportAlertmanager(config, { secretsDir: '/run/secrets/alertmanager' }).yaml);
    return { config, file };
  }

  /** dpmon's receivers for the labels, as Alertmanager names them, in route order */
  const dpmonReceivers = (config: Config, labels: Record<string, string>) =>
    matchRoutes(routeTreeFromConfig(config), labels).map((r) => amReceiverName(r, labels, config));

  async function amtoolReceivers(file: string, labels: Record<string, string>): Promise<string[]> {
    const r = await run(['config', 'routes', 'test', `--config.file=${file}`, ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)]);
    assert.equal(r.code, 0, r.out);
    // amtool prints the receivers on one line, comma-separated, after a warning about --alertmanager.url
    const line = r.out.split('\n').filter((l) => l.trim() && !l.startsWith('Warning:')).pop() ?? '';
    return line.split(',').map((s) => s.trim());
  }

  it('writes an export of the embedded default that amtool check-config accepts (through the CLI)', async (t) => {
    if (!amtool) return t.skip(SKIP);
    const file = join(dir, 'cli.am.yml');
    const r = runDpmonSync(['export', 'alertmanager', '--out', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /secret file \/etc\/alertmanager\/secrets\/pagerduty_service_key/);
    const check = await run(['check-config', file]);
    assert.equal(check.code, 0, check.out);
    assert.match(check.out, /SUCCESS/);
  });

  it('refuses an unknown kind, naming the kinds it has, with exit code 2', () => {
    const r = runDpmonSync(['export', 'nagios']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /export needs one of .*prometheus-rules.*alertmanager.*, not "nagios"/);
  });

  for (const [name, yaml] of [
    ['default', undefined],
    ['seed', undefined],
    ['full', FULL],
    ['continue', CONTINUE],
  ] as const) {
    it(`${name}: amtool check-config accepts the export`, async (t) => {
      if (!amtool) return t.skip(SKIP);
      const { file } = configOf(name, yaml);
      const r = await run(['check-config', file]);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /SUCCESS/);
    });

    it(`${name}: amtool routes every label set to the receivers dpmon's routing chooses`, async (t) => {
      if (!amtool) return t.skip(SKIP);
      const { config, file } = configOf(name, yaml);
      for (const labels of LABEL_SETS) {
        const want = dpmonReceivers(config, labels);
        assert.deepEqual(await amtoolReceivers(file, labels), want, `labels ${JSON.stringify(labels)}`);
      }
    });
  }

  it('default: the spec routes pick their receiver by severity, and an unrouted alert its severity channel', (t) => {
    const config = loadConfig([]).config;
    assert.deepEqual(dpmonReceivers(config, { alertname: 'cpu_usage', severity: 'high' }), ['ops-team/high']);
    assert.deepEqual(dpmonReceivers(config, { alertname: 'target_down', severity: 'high' }), ['pagerduty']);
    assert.deepEqual(dpmonReceivers(config, { alertname: 'x' }), ['slack']);
    t.diagnostic('the parity test above runs these through amtool');
  });

  it('full: continue: true sends an alert to two receivers, and the default receiver takes what no route does', (t) => {
    const { config } = configOf('full', FULL);
    assert.deepEqual(dpmonReceivers(config, { alertname: 'replication_lag', severity: 'medium', datname: 'orders' }), ['audit', 'storage-team']);
    assert.deepEqual(dpmonReceivers(config, { alertname: 'deadlocks', severity: 'low' }), ['oncall']);
    assert.deepEqual(dpmonReceivers(config, { alertname: 'deadlocks', severity: 'high' }), ['audit']);
    t.diagnostic('the parity test above runs these through amtool');
  });

  it('continue: an alert taken by continue routes only reaches them, and one taken by none its severity channel', () => {
    const { config } = configOf('continue', CONTINUE);
    assert.deepEqual(dpmonReceivers(config, { alertname: 'cpu_usage', severity: 'high' }), ['ops-team/high', 'webhook']);
    assert.deepEqual(dpmonReceivers(config, { alertname: 'deadlocks', severity: 'high' }), ['webhook']);
    assert.deepEqual(dpmonReceivers(config, { alertname: 'deadlocks', severity: 'low' }), ['dashboard']);
  });

  it('full: writes secrets as *_file references and none of their values', () => {
    const { config } = configOf('full', FULL);
    const out = exportAlertmanager(config, { secretsDir: '/run/secrets/alertmanager' });
    for (const [name, value] of Object.entries(SECRETS)) assert.ok(!out.yaml.includes(value), `${name} leaked`);
    assert.match(out.yaml, /api_url_file: \/run\/secrets\/alertmanager\/receivers\/ops-team\/slack_webhook_url/);
    assert.match(out.yaml, /routing_key_file: \/run\/secrets\/alertmanager\/receivers\/ops-team\/pagerduty_routing_key/);
    assert.match(out.yaml, /auth_password_file: \/run\/secrets\/alertmanager\/email_password/);
    assert.deepEqual(
      out.secretFiles.map((s) => s.path).sort(),
      ['email_password', 'pagerduty_service_key', 'receivers/ops-team/pagerduty_routing_key', 'receivers/ops-team/slack_webhook_url', 'slack_webhook_url'].map((f) => `/run/secrets/alertmanager/${f}`),
    );
  });

  it('full: writes the time intervals, the routes that use them, and the inhibit rules', () => {
    const { config } = configOf('full', FULL);
    const { yaml } = exportAlertmanager(config);
    assert.match(yaml, /- name: office-hours\n\s+time_intervals:\n\s+- times:\n\s+- start_time: "?09:00"?\n\s+end_time: "?17:30"?\n\s+weekdays:\n\s+- monday:friday\n\s+location: Europe\/Berlin/);
    assert.match(yaml, /mute_time_intervals:\n\s+- weekends/);
    assert.match(yaml, /active_time_intervals:\n\s+- office-hours/);
    assert.match(yaml, /source_matchers:\n\s+- alertname="target_down"\n\s+target_matchers:\n\s+- severity="low"\n\s+equal:\n\s+- instance/);
  });
});

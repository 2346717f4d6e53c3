import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, DEFAULT_PROCESS_GROUPS, formatConfigIssue, loadConfig, printConfig, type LoadedConfig } from './index.ts';

/** fixtures as a path relative to the working directory, as a user would type it */
const F = relative(process.cwd(), fileURLToPath(new URL('./fixtures', import.meta.url)));
// copies of ../shared/seed-config: the spec's merged YAML and the same blocks as 20 fragments
const SEED = `${F}/seed/datapunk.yaml`;
const FRAGMENTS = `${F}/seed/fragments`;

/** The formatted errors of a load that must fail. */
function errorsOf(paths: string[], env: NodeJS.ProcessEnv = {}): string[] {
  try {
    loadConfig(paths, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.errors.map(formatConfigIssue);
  }
  assert.fail('expected loadConfig to throw');
}

function load(paths: string[], env: NodeJS.ProcessEnv = {}): LoadedConfig {
  return loadConfig(paths, env);
}

describe('loadConfig: the spec seed', () => {
  it('loads the seed file without errors, warning only about the unset PagerDuty key', () => {
    const loaded = load([SEED]);
    assert.deepEqual(loaded.sources, [SEED]);
    assert.deepEqual(loaded.warnings.map(formatConfigIssue), [
      `${SEED}:287:18 notification_channels.pagerduty.service_key: environment variable PAGERDUTY_KEY is not set: this secret is unset and what uses it will refuse to work`,
    ]);
    assert.equal(loaded.config.notificationChannels.pagerduty?.serviceKey, undefined);
  });

  it('loads the fragments folder, its 20 files merged in name order', () => {
    const loaded = load([FRAGMENTS]);
    assert.equal(loaded.sources.length, 20);
    assert.equal(loaded.sources[0], `${FRAGMENTS}/01-system-metrics.yaml`);
    assert.equal(loaded.sources[19], `${FRAGMENTS}/20-compliance-reporting.yaml`);
    assert.deepEqual(loaded.config.monitoringIntegration.grafana.dashboards, [
      'system-health',
      'resource-trends',
      'capacity-planning',
      'connection_pool_status',
      'query_performance',
      'replication_health',
    ]);
  });

  it('prints the seed file and the fragments folder byte for byte the same', () => {
    assert.equal(printConfig(load([FRAGMENTS])), printConfig(load([SEED])));
    const env = { PAGERDUTY_KEY: 'k' };
    assert.equal(printConfig(load([FRAGMENTS], env)), printConfig(load([SEED], env)));
  });

  it('uses the spec values as defaults: no config equals the seed', () => {
    for (const env of [{}, { PAGERDUTY_KEY: 'k' }]) {
      assert.equal(printConfig(load([], env)), printConfig(load([SEED], env)));
      assert.deepEqual(load([], env).config, load([SEED], env).config);
    }
  });

  it('exposes the typed camelCase paths other modules read', () => {
    const c = load([]).config;
    const cpu = c.systemMetrics.resourceMonitoring.cpuUsage;
    assert.equal(cpu.thresholdWarning, 70);
    assert.equal(cpu.intervalMs, 30_000);
    assert.equal(cpu.remediation.coolingPeriodMs, 300_000);
    assert.deepEqual(cpu.collection.processGroups, [
      DEFAULT_PROCESS_GROUPS.database,
      DEFAULT_PROCESS_GROUPS.application,
      DEFAULT_PROCESS_GROUPS.background_tasks,
    ]);
    assert.equal(c.systemMetrics.resourceMonitoring.diskUsage.intervalMs, 300_000);
    assert.equal(c.systemMetrics.resourceMonitoring.diskUsage.cleanupPolicies.oldLogsMs, 7 * 86_400_000);
    assert.equal(c.monitoringIntegration.prometheus.endpoint, '/metrics');
    assert.deepEqual(c.monitoringIntegration.prometheus.labels, { environment: 'production', component: 'datapunk-lake' });
    assert.equal(c.resourceMonitoring.collectionIntervalMs, 15_000);
    assert.equal(c.resourceMonitoring.retentionPeriodMs, 30 * 86_400_000);
    assert.equal(c.databaseMetrics.connectionPools.monitoring.intervalMs, 15_000);
    assert.deepEqual(c.databaseMetrics.connectionPools.monitoring.actions.critical, ['terminate_idle_connections', 'scale_connection_pool']);
    assert.equal(c.databaseMetrics.queryPerformance.longRunningThresholdMs, 30_000);
    assert.equal(c.databaseMetrics.queryPerformance.deadlockCheckIntervalMs, 300_000);
    assert.deepEqual(c.databaseMetrics.replication.lagThresholdWarning, { kind: 'duration', value: 1000 });
    assert.equal(c.prometheusConfig.scrapeIntervalMs, 15_000);
    assert.deepEqual(c.alertRules.highSeverity?.response_time?.threshold, { kind: 'duration', value: 1000 });
    assert.deepEqual(c.alertRules.highSeverity?.disk_space?.threshold, { kind: 'percent', value: 90 });
    assert.deepEqual(c.alertRules.mediumSeverity?.replication_lag?.threshold, { kind: 'number', value: 1000 });
    assert.equal(c.alertRules.highSeverity?.disk_space?.monitoring?.predictionWindowMs, 6 * 3_600_000);
    assert.equal(c.monitoringIntegration.alertManager.routes.cpu_alerts?.groupWaitMs, 30_000);
    assert.equal(c.escalationProcedures.levels[2]?.timeoutMs, 3_600_000);
    assert.deepEqual(c.targets, []);
    assert.deepEqual(c.server, {
      listen: '127.0.0.1:9817',
      host: '127.0.0.1',
      port: 9817,
      queryTimeoutMs: 120_000,
      queryMaxSamples: 50_000_000,
      queryMaxConcurrency: 20,
      queryMaxLength: 65_536,
      queryMaxDepth: 200,
      queryMaxPoints: 11_000,
      queryLookbackDeltaMs: 300_000,
    });
    assert.deepEqual(c.storage, { dataDir: './dpmon-data', rawRetentionMs: 15 * 86_400_000, maxBufferedSamples: 1_000_000 });
    assert.deepEqual(c.host, { procPath: '/proc', sysPath: '/sys', job: 'node' });
  });

  it('freezes the whole config', () => {
    const c = load([]).config;
    assert.ok(Object.isFrozen(c));
    assert.ok(Object.isFrozen(c.systemMetrics.resourceMonitoring.cpuUsage.collection.processGroups[0]));
    assert.throws(() => {
      (c.storage as { dataDir: string }).dataDir = '/tmp';
    }, TypeError);
  });
});

describe('loadConfig: merging', () => {
  it('lets a later --config path override an earlier scalar and unites their lists', () => {
    const c = load([`${F}/override-a.yaml`, `${F}/override-b.yaml`]).config;
    assert.equal(c.systemMetrics.resourceMonitoring.cpuUsage.thresholdWarning, 65);
    assert.deepEqual(c.systemMetrics.resourceMonitoring.diskUsage.monitoredPaths, ['/data', '/wal', '/archive']);
  });

  it('replaces a default list with the list a file gives', () => {
    const c = load([`${F}/override-a.yaml`]).config;
    assert.deepEqual(c.systemMetrics.resourceMonitoring.diskUsage.monitoredPaths, ['/data', '/wal']);
  });

  it('keeps user-named keys as written and normalises process groups', () => {
    const c = load([`${F}/custom.yaml`]).config;
    assert.equal(c.monitoringIntegration.prometheus.labels.Environment_Name, 'staging');
    assert.deepEqual(c.alertRules.lowSeverity?.cache_hit_ratio?.threshold, { kind: 'percent', value: 90 });
    assert.ok(c.remediationActions.replication_broken);
    assert.ok(c.receivers['ops-team']);
    assert.equal(c.remoteWrite[0]?.headers?.['X-Scope-OrgID'], 'tenant1');
    assert.deepEqual(c.systemMetrics.resourceMonitoring.cpuUsage.collection.processGroups[1], {
      name: 'etl',
      comm: ['^etl-worker$'],
      cmdline: ['airflow'],
      user: ['etl'],
    });
    assert.deepEqual(c.databaseMetrics.replication.lagThresholdCritical, { kind: 'bytes', value: 64 * 1024 * 1024 });
    assert.equal(c.scrapeTargets[0]?.intervalMs, 30_000);
  });
});

describe('loadConfig: environment and secrets', () => {
  it('substitutes ${VAR} and ${VAR:-default}, numbers included', () => {
    const env = { DPMON_TEST_PW: 'pw', DPMON_TEST_MAXCONN: '200', DPMON_TEST_TOKEN: 'tok' };
    const c = load([`${F}/env.yaml`], env).config;
    assert.equal(c.targets[0]?.dsn, 'postgres://dpmon:pw@db1:5432/lake');
    assert.equal(c.storage.dataDir, '/var/lib/dpmon');
    assert.equal(c.databaseMetrics.connectionPools.maxConnections, 200);
    assert.equal(c.server.authToken, 'tok');
    assert.equal(load([`${F}/env.yaml`], { ...env, DPMON_TEST_DIR: '/srv/dpmon' }).config.storage.dataDir, '/srv/dpmon');
  });

  it('prints secrets as <secret> and never their text', () => {
    const text = printConfig(load([`${F}/custom.yaml`], { PAGERDUTY_KEY: 'pd-key-123' }));
    assert.match(text, /service_key: <secret>/);
    assert.match(text, /slack_webhook_url: <secret>/);
    assert.match(text, /pagerduty_routing_key: <secret>/);
    assert.match(text, /password: <secret>/);
    for (const secret of ['pd-key-123', 'abc123', 'hooks.slack.invalid', 'tenant1']) assert.ok(!text.includes(secret), secret);
  });

  it('prints an optional secret whose variable is undefined as <unset>', () => {
    assert.match(printConfig(load([SEED])), /service_key: <unset>/);
  });

  it('takes DATABASE_URL as the one target when none is configured', () => {
    const loaded = load([], { DATABASE_URL: 'postgres://monitor:pw@db1/postgres' });
    assert.deepEqual(loaded.config.targets, [
      {
        name: 'default',
        dsn: 'postgres://monitor:pw@db1/postgres',
        role: 'auto',
        statementTimeoutMs: 5000,
        connectTimeoutMs: 5000,
        pgStatStatementsTop: 100,
        collectTables: true,
        excludeDatabases: ['template0', 'template1'],
        job: 'postgres',
      },
    ]);
    assert.match(printConfig(loaded), /- name: default\n {4}dsn: <secret>\n/);
  });

  it('ignores DATABASE_URL when targets are configured', () => {
    const c = load([`${F}/env.yaml`], { DPMON_TEST_PW: 'x', DPMON_TEST_MAXCONN: '1', DPMON_TEST_TOKEN: 't', DATABASE_URL: 'postgres://h/db' }).config;
    assert.deepEqual(c.targets.map((t) => t.name), ['lake']);
  });

  it('reports a bad DATABASE_URL at <env DATABASE_URL>', () => {
    assert.deepEqual(errorsOf([], { DATABASE_URL: 'mysql://u:pw@h/db' }), [
      '<env DATABASE_URL>:1:1 targets[0].dsn: invalid DSN: unsupported scheme "mysql://": expected postgres:// or postgresql://',
    ]);
  });
});

describe('loadConfig: errors', () => {
  it('reports a misspelt key with a suggestion', () => {
    assert.deepEqual(errorsOf([`${F}/unknown-key.yaml`]), [
      `${F}/unknown-key.yaml:4:7 system_metrics.resource_monitoring.cpu_usage.threshold_warnin: unknown key "threshold_warnin"; did you mean "threshold_warning"?`,
    ]);
  });

  it('reports values of the wrong type', () => {
    assert.deepEqual(errorsOf([`${F}/wrong-type.yaml`]), [
      `${F}/wrong-type.yaml:3:22 database_metrics.connection_pools.max_connections: expected a number, got "lots"`,
      `${F}/wrong-type.yaml:7:24 system_metrics.resource_monitoring.disk_usage.monitored_paths: expected a list, got "/data"`,
    ]);
  });

  it('reports missing required keys, values outside a closed set and non-text durations', () => {
    assert.deepEqual(errorsOf([`${F}/required.yaml`]), [
      `${F}/required.yaml:2:5 targets[0].dsn: missing required key "dsn"`,
      `${F}/required.yaml:3:11 targets[0].role: expected one of auto, primary, standby, got "leader"`,
      `${F}/required.yaml:7:17 system_metrics.resource_monitoring.cpu_usage.interval: expected a duration (30s, 5m, 1h30m), got true`,
    ]);
  });

  it('reports bad durations', () => {
    assert.deepEqual(errorsOf([`${F}/bad-duration.yaml`]), [
      `${F}/bad-duration.yaml:4:17 system_metrics.resource_monitoring.cpu_usage.interval: invalid duration "30 seconds": expected a number with a unit (ms, s, m, h, d, w), e.g. 30s, 5m, 1h30m`,
      `${F}/bad-duration.yaml:6:17 system_metrics.resource_monitoring.memory_usage.interval: duration 30 needs a unit (ms, s, m, h, d, w), e.g. "30s"`,
    ]);
  });

  it('refuses a history buffer too small to hold one collection', () => {
    assert.deepEqual(errorsOf([`${F}/bad-buffer.yaml`]), [`${F}/bad-buffer.yaml:2:25 storage.max_buffered_samples: expected at least 1000 samples, got 10`]);
  });

  it('reports bad percentages', () => {
    assert.deepEqual(errorsOf([`${F}/bad-percent.yaml`]), [
      `${F}/bad-percent.yaml:4:27 system_metrics.resource_monitoring.cpu_usage.threshold_critical: percentage 120% is out of range (0 to 100)`,
      `${F}/bad-percent.yaml:6:26 system_metrics.resource_monitoring.memory_usage.threshold_warning: invalid percentage "abc": expected a number from 0 to 100, optionally followed by %`,
    ]);
  });

  it('reports regular expressions RE2 refuses (lookbehind, backreferences, possessive quantifiers) with the reason', () => {
    assert.deepEqual(errorsOf([`${F}/bad-regex.yaml`]), [
      `${F}/bad-regex.yaml:6:32 system_metrics.resource_monitoring.cpu_usage.collection.process_groups[0].comm[0]: invalid regular expression "(?<=py)thon": invalid named capture: \`(?<=py)thon\``,
      `${F}/bad-regex.yaml:6:58 system_metrics.resource_monitoring.cpu_usage.collection.process_groups[0].cmdline[0]: invalid regular expression "(a)\\\\1": invalid escape sequence: \`\\1\``,
      `${F}/bad-regex.yaml:6:75 system_metrics.resource_monitoring.cpu_usage.collection.process_groups[0].user[0]: invalid regular expression "a++": invalid nested repetition operator: \`++\``,
      `${F}/bad-regex.yaml:8:23 inhibit_rules[0].source_matchers[0]: invalid matcher: invalid regular expression "(?<!x)high": invalid named capture: \`(?<!x)high\``,
      `${F}/bad-regex.yaml:9:33 inhibit_rules[0].target_match_re.severity: invalid regular expression "(a)\\\\1": invalid escape sequence: \`\\1\``,
    ]);
  });

  it('reports malformed YAML', () => {
    assert.deepEqual(errorsOf([`${F}/malformed.yaml`]), [
      `${F}/malformed.yaml:5:1: Flow sequence in block collection must be sufficiently indented and end with a ]`,
    ]);
  });

  it('refuses aliases that expand past the budget (a YAML bomb) quickly, at the alias', () => {
    const started = performance.now();
    assert.deepEqual(errorsOf([`${F}/alias-bomb.yaml`]), [`${F}/alias-bomb.yaml:5:45 a4[7]: the aliases here expand to more than 100000 values: refused`]);
    assert.ok(performance.now() - started < 2000);
  });

  it('refuses an alias inside its own anchor and an alias to no anchor, with file:line:col', () => {
    assert.deepEqual(errorsOf([`${F}/alias-self.yaml`]), [
      `${F}/alias-self.yaml:4:11 targets[0].role: alias *t is inside its own anchor &t: it would never end`,
    ]);
    assert.deepEqual(errorsOf([`${F}/alias-missing.yaml`]), [`${F}/alias-missing.yaml:2:5 targets[0]: alias *nothing refers to no anchor &nothing defined before it`]);
  });

  it('refuses nesting deeper than any config needs', () => {
    assert.deepEqual(errorsOf([`${F}/too-deep.yaml`]), [`${F}/too-deep.yaml:1:68: nested deeper than 64 levels: refused`]);
    const started = performance.now();
    assert.equal(errorsOf([`${F}/too-deep.yaml`]).length, 1);
    assert.ok(performance.now() - started < 1000);
  });

  it('reports two fragments of one folder setting different values, naming both files', () => {
    assert.deepEqual(errorsOf([`${F}/conflict`]), [
      `${F}/conflict/02-cpu.yaml:4:26 system_metrics.resource_monitoring.cpu_usage.threshold_warning: conflicting value 75, also set in ${F}/conflict/01-cpu.yaml:4 to 70`,
    ]);
  });

  it('reports bad DSNs without showing the password', () => {
    const errors = errorsOf([`${F}/bad-dsn.yaml`]);
    assert.deepEqual(errors, [
      `${F}/bad-dsn.yaml:3:10 targets[0].dsn: invalid DSN: not a valid postgres:// URL (expected postgres://user:password@host:port/dbname; check that the port is a number and that special characters such as @ : / # in the user name or password are percent-encoded)`,
      `${F}/bad-dsn.yaml:5:10 targets[1].dsn: invalid DSN: unknown connection parameter "hots"`,
    ]);
    for (const e of errors) assert.ok(!e.includes('s3cret'));
  });

  it('reports an undefined environment variable', () => {
    assert.deepEqual(errorsOf([`${F}/undefined-var.yaml`]), [
      `${F}/undefined-var.yaml:2:13 storage.data_dir: undefined environment variable DPMON_TEST_UNDEFINED_DIR`,
    ]);
  });

  it('reports an undefined variable in a DSN as an error, since a target needs it', () => {
    assert.deepEqual(errorsOf([`${F}/env.yaml`], { DPMON_TEST_MAXCONN: '1', DPMON_TEST_TOKEN: 't' }), [
      `${F}/env.yaml:3:10 targets[0].dsn: undefined environment variable DPMON_TEST_PW`,
    ]);
  });

  it('refuses a non-loopback listen address without an auth token', () => {
    assert.deepEqual(errorsOf([`${F}/listen.yaml`]), [
      `${F}/listen.yaml:2:11 server.listen: 0.0.0.0 is not a loopback address: listening on it requires server.auth_token`,
    ]);
  });

  it('reports every error of a file together, in position order', () => {
    assert.deepEqual(errorsOf([`${F}/multiple.yaml`]), [
      `${F}/multiple.yaml:4:7 system_metrics.resource_monitoring.cpu_usage.threshold_warnin: unknown key "threshold_warnin"; did you mean "threshold_warning"?`,
      `${F}/multiple.yaml:5:17 system_metrics.resource_monitoring.cpu_usage.interval: invalid duration "soon": expected a number with a unit (ms, s, m, h, d, w), e.g. 30s, 5m, 1h30m`,
      `${F}/multiple.yaml:7:11 server.listen: 10.0.0.1 is not a loopback address: listening on it requires server.auth_token`,
      `${F}/multiple.yaml:10:10 targets[0].dsn: invalid DSN: unsupported scheme "mysql://": expected postgres:// or postgresql://`,
    ]);
  });

  it('reports errors of several paths together, in command-line order', () => {
    assert.deepEqual(errorsOf([`${F}/listen.yaml`, `${F}/unknown-key.yaml`, `${F}/missing.yaml`]), [
      `${F}/listen.yaml:2:11 server.listen: 0.0.0.0 is not a loopback address: listening on it requires server.auth_token`,
      `${F}/unknown-key.yaml:4:7 system_metrics.resource_monitoring.cpu_usage.threshold_warnin: unknown key "threshold_warnin"; did you mean "threshold_warning"?`,
      `${F}/missing.yaml:1:1: cannot read: no such file or directory`,
    ]);
  });

  it('gives every issue a stable code', () => {
    try {
      loadConfig([`${F}/multiple.yaml`], {});
      assert.fail('expected an error');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(
        err.errors.map((e) => e.code),
        ['CONFIG_UNKNOWN_KEY', 'CONFIG_DURATION', 'CONFIG_LISTEN', 'CONFIG_DSN'],
      );
    }
  });
});

describe('loadConfig: remote_write', () => {
  const RW_ENV = { DPMON_TEST_RW_PASSWORD: 'pw-9c1e' };

  it('reads each endpoint\'s own tuning, in Prometheus\'s key names, and gives the others the defaults', () => {
    const [plain, mimir] = load([`${F}/remote-write.yaml`], RW_ENV).config.remoteWrite;
    assert.deepEqual(plain, {
      url: 'http://prometheus.invalid:9090/api/v1/write',
      remoteTimeoutMs: 30_000,
      bufferSize: 256 * 1024 * 1024,
      queueConfig: { maxSamplesPerSend: 2000, batchSendDeadlineMs: 1000, minBackoffMs: 1000, maxBackoffMs: 30_000 },
    });
    assert.deepEqual(mimir, {
      url: 'https://mimir.invalid/api/v1/push',
      name: 'mimir',
      headers: { 'X-Scope-OrgID': 'tenant-7f3a' },
      basicAuth: { username: 'dpmon', password: 'pw-9c1e' },
      remoteTimeoutMs: 10_000,
      bufferSize: 512 * 1024 * 1024,
      queueConfig: { maxSamplesPerSend: 500, batchSendDeadlineMs: 5000, minBackoffMs: 30, maxBackoffMs: 5000 },
    });
  });

  it('prints the tuning as written and the headers and password as <secret>', () => {
    const text = printConfig(load([`${F}/remote-write.yaml`], RW_ENV));
    const section = text.slice(text.indexOf('remote_write:'));
    assert.match(section, /X-Scope-OrgID: <secret>\n/);
    assert.match(section, /username: dpmon\n {6}password: <secret>\n/);
    assert.match(section, /remote_timeout: 10s\n {4}buffer_size: 512MB\n {4}queue_config:\n {6}max_samples_per_send: 500\n {6}batch_send_deadline: 5s\n {6}min_backoff: 30ms\n {6}max_backoff: 5s\n/);
    for (const secret of ['pw-9c1e', 'tenant-7f3a']) assert.ok(!text.includes(secret), secret);
  });

  it('reports tuning values that are not positive durations, byte sizes or counts', () => {
    const f = `${F}/remote-write-bad-values.yaml`;
    assert.deepEqual(errorsOf([f]), [
      `${f}:3:21 remote_write[0].remote_timeout: "0s" is too small: the minimum is 1ms`,
      `${f}:4:18 remote_write[0].buffer_size: "64kB" is too small: the minimum is 1MB`,
      `${f}:6:29 remote_write[0].queue_config.max_samples_per_send: 0 is too small: the minimum is 1`,
      `${f}:7:28 remote_write[0].queue_config.batch_send_deadline: duration 5 needs a unit (ms, s, m, h, d, w), e.g. "5s"`,
      `${f}:8:7 remote_write[0].queue_config.capacity: unknown key "capacity"`,
      `${f}:10:21 remote_write[1].remote_timeout: invalid duration "soon": expected a number with a unit (ms, s, m, h, d, w), e.g. 30s, 5m, 1h30m`,
      `${f}:11:18 remote_write[1].buffer_size: invalid byte size "lots": expected a number with an optional unit (B, kB, MB, GB, TB), e.g. 16MB`,
      `${f}:12:33 remote_write[1].queue_config.max_backoff: 0 is too small: the minimum is 1ms`,
    ]);
  });

  it('reports query limits that are not a positive duration or positive integers', () => {
    const f = `${F}/server-query-limits-bad.yaml`;
    assert.deepEqual(errorsOf([f]), [
      `${f}:3:18 server.query_timeout: expected a positive duration (e.g. 2m)`,
      `${f}:4:22 server.query_max_samples: 0 is too small: the minimum is 1`,
      `${f}:5:26 server.query_max_concurrency: expected a number, got "many"`,
      `${f}:6:21 server.query_max_length: expected a whole number, got 1.5`,
      `${f}:7:20 server.query_max_depth: -1 is too small: the minimum is 1`,
    ]);
  });

  it('takes a hook command with its env and cwd, and a hook URL with its headers, secrets printed as such', () => {
    const loaded = load([`${F}/remediation-hooks.yaml`], { DPMON_TEST_CLOUD_TOKEN: 'cl0ud', DPMON_TEST_LB_TOKEN: 'lbt0k' });
    const hooks = loaded.config.remediation.hooks;
    assert.deepEqual(hooks.scale_compute, { command: ['/usr/local/bin/scale-vm', '--up'], env: { CLOUD_TOKEN: 'cl0ud', REGION: 'eu-west-1' }, cwd: '/var/lib/dpmon-hooks', timeoutMs: 120_000 });
    assert.deepEqual(hooks.load_balancing, { url: 'https://lb.invalid/api/drain', headers: { Authorization: 'Bearer lbt0k' } });
    const text = printConfig(loaded);
    for (const secret of ['cl0ud', 'lbt0k', 'eu-west-1']) assert.ok(!text.includes(secret), secret);
  });

  it('refuses a hook with both or neither of command and url, or keys of the other kind', () => {
    const f = `${F}/remediation-hooks-bad.yaml`;
    assert.deepEqual(errorsOf([f]), [
      `${f}:5:12 remediation.hooks.both.url: a hook has exactly one of command and url`,
      `${f}:7:7 remediation.hooks.neither.command: a hook has exactly one of command and url`,
      `${f}:10:12 remediation.hooks.url_with_env.env: env applies to a command hook, not to a url hook`,
      `${f}:11:12 remediation.hooks.url_with_env.cwd: cwd applies to a command hook, not to a url hook`,
      `${f}:14:16 remediation.hooks.command_with_headers.headers: headers apply to a url hook, not to a command hook`,
      `${f}:17:13 remediation.hooks.bad_env_name.env.1BAD: invalid key "1BAD": environment variable names are [A-Za-z_][A-Za-z0-9_]*`,
      `${f}:20:12 remediation.hooks.relative_cwd.cwd: expected an absolute path`,
    ]);
  });

  it('refuses a min_backoff above max_backoff, at the key written, naming a default as such', () => {
    const f = `${F}/remote-write-backoff.yaml`;
    assert.deepEqual(errorsOf([f]), [
      `${f}:3:33 remote_write[0].queue_config.min_backoff: min_backoff 10s is above max_backoff 5s`,
      `${f}:5:33 remote_write[1].queue_config.min_backoff: min_backoff 1m is above max_backoff 30s (the default)`,
      `${f}:7:33 remote_write[2].queue_config.max_backoff: max_backoff 500ms is below min_backoff 1s (the default)`,
    ]);
  });

  it('refuses two endpoints with the same label, since it names their metrics and queue folder', () => {
    const f = `${F}/remote-write-duplicate.yaml`;
    assert.deepEqual(errorsOf([f]), [
      `${f}:4:10 remote_write[1].url: remote_write[0] is also labelled "mimir.invalid/api/v1/push" (host and path of the URL); give each endpoint a distinct name`,
      `${f}:9:11 remote_write[3].name: remote_write[2] is also labelled "central"; give each endpoint a distinct name`,
    ]);
  });
});

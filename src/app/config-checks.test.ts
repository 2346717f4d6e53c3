import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, formatConfigIssue, loadConfig } from '../config/index.ts';
import { configChecks } from './config-checks.ts';

const F = 'src/config/fixtures';

function errorsOf(paths: string[]): string[] {
  try {
    loadConfig(paths, {}, { checks: configChecks });
  } catch (err) {
    if (err instanceof ConfigError) return err.errors.map(formatConfigIssue);
    throw err;
  }
  return [];
}

describe('configChecks: every error at once', () => {
  it('reports an undefined receiver together with a misspelt route key of the same file, each at its file:line:col', () => {
    const f = `${F}/route-typo-undefined-receiver.yaml`;
    assert.deepEqual(errorsOf([f]), [
      `${f}:12:9 monitoring_integration.alert_manager.routes.cpu_alerts.group_wiat: unknown key "group_wiat"; did you mean "group_wait"?`,
      `${f}:14:9 monitoring_integration.alert_manager.routes.disk_alerts.receiver: undefined receiver \`storage-tem\` used in route \`disk_alerts\`: define it under receivers (defined: ops-team, sys-admin) or name a channel (pagerduty, slack, email, webhook, alertmanager, dashboard)`,
    ]);
  });

  it('runs the checks on a config the schema accepts, adding their warnings', () => {
    const loaded = loadConfig([], {}, { checks: configChecks });
    assert.ok(loaded.warnings.some((w) => w.code === 'CONFIG_ROUTE'));
  });

  it('still reports schema errors alone when the checks find nothing', () => {
    assert.deepEqual(errorsOf([`${F}/unknown-key.yaml`]), [
      `${F}/unknown-key.yaml:4:7 system_metrics.resource_monitoring.cpu_usage.threshold_warnin: unknown key "threshold_warnin"; did you mean "threshold_warning"?`,
    ]);
  });
});

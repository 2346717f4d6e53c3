import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatConfigIssue, loadConfig } from '../config/index.ts';
import { ruleIssues } from './validate.ts';

describe('rules checked with the config (CONFIG_RULE)', () => {
  it('accepts the spec seed config', () => {
    assert.deepEqual(ruleIssues(loadConfig(['src/config/fixtures/seed/datapunk.yaml'], {})), []);
  });

  it('names the file, line and key path of every rule that cannot be built', () => {
    const issues = ruleIssues(loadConfig(['src/config/fixtures/bad-rules.yaml'], {}));
    assert.ok(issues.every((i) => i.code === 'CONFIG_RULE'));
    const lines = issues.map(formatConfigIssue).map((l) => l.replace(/: invalid PromQL: .*/, ': invalid PromQL'));
    assert.deepEqual(lines.sort(), [
      'src/config/fixtures/bad-rules.yaml:12:7 alert_rules.low_severity.bloat.expr: invalid PromQL',
      'src/config/fixtures/bad-rules.yaml:19:9 alert_rules.low_severity.wal_growth.annotations.summary: unknown template function "humanise" in {{ $value | humanise }}; known: humanize, humanize1024, humanizeDuration, humanizePercentage, printf, title, toUpper, toLower',
      'src/config/fixtures/bad-rules.yaml:24:9 monitoring_integration.grafana.alerts[1]: unknown alert "disk-melting"; dpmon\'s named alerts are connection_saturation, replication_delay, query_timeout, resource-exhaustion, performance-degradation',
      'src/config/fixtures/bad-rules.yaml:30:11 prometheus_config.rules[0].rules[0].expr: invalid PromQL',
      'src/config/fixtures/bad-rules.yaml:4:5 alert_rules.low_severity.cache_misses: no built-in expression for alert rule "cache_misses": give it an expr (built-in: response_time, disk_space, connection_count, replication_lag)',
    ]);
  });
});

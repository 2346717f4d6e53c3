// `dpmon export prometheus-rules` checked by Debian's real `promtool` (Prometheus 2.42): check rules
// accepts the export of the embedded default and of the spec's datapunk.yaml; the generated unit tests
// (expectations from dpmon's own engine and templates) pass `promtool test rules` and fail when a
// threshold is changed; and the recovery threshold behaves in Prometheus as in dpmon's rules engine.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadConfig } from '../src/config/index.ts';
import { exportPrometheusRules } from '../src/export/prometheus-rules.ts';
import { promtoolTests } from '../src/export/prometheus-rules-tests.ts';
import { createRulesKit, loadSeries, specGroups } from '../src/rules/rules-test-kit.ts';
import { repoRoot, requirePeer, runDpmonSync } from './harness/process.ts';

const SKIP = 'promtool is not installed (Debian package prometheus; .ci/run installs it)';
// the spec's merged YAML: the repository's copy of ../shared/seed-config/datapunk.yaml
const SEED = join(repoRoot, 'src', 'config', 'fixtures', 'seed', 'datapunk.yaml');

interface RuleFile {
  groups: { name: string; interval: string; rules: { alert?: string; record?: string; expr: string; for?: string; labels?: Record<string, string> }[] }[];
}

describe('dpmon export prometheus-rules', () => {
  let promtool: string | undefined;
  let dir: string;
  before(() => {
    promtool = requirePeer('promtool', { skip: () => {} });
    dir = mkdtempSync(join(tmpdir(), 'dpmon-rules-export-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function run(args: string[]): Promise<{ code: number; out: string }> {
    return new Promise((resolve) => {
      execFile(promtool!, args, { cwd: dir, timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }));
    });
  }

  it('default, through the CLI: promtool check rules accepts the rule file and promtool test rules passes its tests', async (t) => {
    if (!promtool) return t.skip(SKIP);
    const r = runDpmonSync(['export', 'prometheus-rules', '--out', join(dir, 'default.rules.yml'), '--tests', join(dir, 'default.tests.yml')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /wrote .*default\.tests\.yml: 24 rules tested/);
    assert.doesNotMatch(r.stderr, /no test:/);
    const check = await run(['check', 'rules', 'default.rules.yml']);
    assert.equal(check.code, 0, check.out);
    assert.match(check.out, /SUCCESS: 25 rules found/);
    const test = await run(['test', 'rules', 'default.tests.yml']);
    assert.equal(test.code, 0, test.out);
    assert.match(test.out, /SUCCESS/);
  });

  it("the spec's datapunk.yaml: every threshold rule gets a test, and promtool check and test pass", async (t) => {
    if (!promtool) return t.skip(SKIP);
    const config = loadConfig([SEED]).config;
    const exported = exportPrometheusRules(config);
    writeFileSync(join(dir, 'seed.rules.yml'), exported.yaml);
    const tests = await promtoolTests(exported, config, 'seed.rules.yml');
    writeFileSync(join(dir, 'seed.tests.yml'), tests.yaml);
    assert.deepEqual(tests.untested, []);
    const thresholdRules = exported.alerts.filter((a) => a.def.condition).map((a) => `${a.def.name}${a.def.labels.level ? ` (${a.def.labels.level})` : ''}`);
    assert.ok(thresholdRules.length >= 19, `${thresholdRules.length} threshold rules`);
    for (const name of thresholdRules) assert.ok(tests.tested.includes(name), `${name} has no test`);
    const check = await run(['check', 'rules', 'seed.rules.yml']);
    assert.equal(check.code, 0, check.out);
    const test = await run(['test', 'rules', 'seed.tests.yml']);
    assert.equal(test.code, 0, test.out);
  });

  it("a config's own rules: an alert_rules expression with window and recovery, and for, keep_firing_for and a recording rule from prometheus_config", async (t) => {
    if (!promtool) return t.skip(SKIP);
    writeFileSync(
      join(dir, 'own.dpmon.yaml'),
      `alert_rules:
  low_severity:
    bloat_ratio:
      threshold: 40%
      window: 10m
      action: notify_slack
      expr: 100 * dpmon_table_bloat_ratio{kind="heap"}
      labels: { team: db }
      monitoring: { frequency: 1m, consecutive_failures: 2, recovery_threshold: 30% }
prometheus_config:
  rules:
    - name: own_rules
      interval: 1m
      rules:
        - alert: ManyWaiting
          expr: pg_stat_activity_waiting > 5
          for: 2m
          keep_firing_for: 5m
          labels: { severity: critical }
          annotations: { summary: '{{ $labels.instance }} has {{ $value }} waiting sessions' }
        - record: dpmon:pg_up:sum
          expr: sum(pg_up)
`,
    );
    const config = loadConfig([join(dir, 'own.dpmon.yaml')]).config;
    const exported = exportPrometheusRules(config);
    const rules = (parse(exported.yaml) as RuleFile).groups.flatMap((g) => g.rules) as (RuleFile['groups'][number]['rules'][number] & { keep_firing_for?: string })[];
    const bloat = rules.find((r) => r.alert === 'bloat_ratio')!;
    assert.match(bloat.expr, /^avg_over_time\(\(100 \* dpmon_table_bloat_ratio\{kind="heap"\}\)\[10m:15s\]\) >= 40 or /);
    assert.match(bloat.expr, />= 30 and ignoring\(alertname, alertstate, team, severity, action\) ALERTS\{/);
    assert.equal(bloat.for, '1m');
    const waiting = rules.find((r) => r.alert === 'ManyWaiting')!;
    assert.deepEqual([waiting.for, waiting.keep_firing_for, waiting.labels?.severity], ['2m', '5m', 'high']);
    assert.ok(rules.some((r) => r.record === 'dpmon:pg_up:sum'));
    writeFileSync(join(dir, 'own.rules.yml'), exported.yaml);
    const tests = await promtoolTests(exported, config, 'own.rules.yml');
    assert.ok(tests.tested.includes('bloat_ratio') && tests.tested.includes('ManyWaiting'), JSON.stringify(tests));
    writeFileSync(join(dir, 'own.tests.yml'), tests.yaml);
    const check = await run(['check', 'rules', 'own.rules.yml']);
    assert.equal(check.code, 0, check.out);
    const test = await run(['test', 'rules', 'own.tests.yml']);
    assert.equal(test.code, 0, test.out);
  });

  it('the tests fail when a threshold is not the one dpmon uses', async (t) => {
    if (!promtool) return t.skip(SKIP);
    const config = loadConfig([]).config;
    const exported = exportPrometheusRules(config);
    // cpu_usage warning at 95 instead of 70: the test feeding 77.5 must see no warning alert
    const wrong = exported.yaml.replace('{resource="cpu"}) >= 70 or', '{resource="cpu"}) >= 95 or');
    assert.notEqual(wrong, exported.yaml);
    writeFileSync(join(dir, 'wrong.rules.yml'), wrong);
    writeFileSync(join(dir, 'wrong.tests.yml'), (await promtoolTests(exported, config, 'wrong.rules.yml')).yaml);
    const test = await run(['test', 'rules', 'wrong.tests.yml']);
    assert.notEqual(test.code, 0);
    assert.match(test.out, /name: cpu_usage \(warning\)/);
  });

  it('sets for from consecutive failures × the group interval, and keeps the configured for', () => {
    const file = parse(exportPrometheusRules(loadConfig([]).config).yaml) as RuleFile;
    const forOf = (alert: string) => file.groups.flatMap((g) => g.rules).find((r) => r.alert === alert)?.for;
    assert.equal(forOf('response_time'), '1m'); // consecutive_failures 3 at frequency 30s
    assert.equal(forOf('low_cache_hit_ratio'), '2m'); // 3 in a row at 1m
    assert.equal(forOf('target_down'), '15s'); // 2 in a row at evaluation_interval 15s
    assert.equal(forOf('replication_slot_inactive'), '1m'); // two replication intervals
    assert.equal(forOf('cpu_usage'), undefined); // fires at the first breach
  });

  it('leaves out the anomaly rule and says why in the header, with the windowed and predicted rules as PromQL', () => {
    const exported = exportPrometheusRules(loadConfig([]).config);
    const file = parse(exported.yaml) as RuleFile;
    const rules = file.groups.flatMap((g) => g.rules);
    assert.ok(!rules.some((r) => r.alert === 'performance-degradation'));
    assert.match(exported.yaml, /^# .*performance-degradation: left out: .*anomaly/m);
    const diskSpace = rules.find((r) => r.alert === 'disk_space')!;
    assert.match(diskSpace.expr, /avg_over_time\(\(100 \* dpmon_resource_utilization_ratio\{resource="disk"\}\)\[5m:15s\]\) >= 90/);
    assert.match(diskSpace.expr, /predict_linear\(\(100 \* dpmon_resource_utilization_ratio\{resource="disk"\}\)\[1h30m:15s\], 21600\) >= 90/);
    assert.ok(rules.some((r) => r.record === 'dpmon:pg_statement_mean_seconds:rate5m'));
  });

  it('keeps an alert firing between threshold and recovery threshold in Prometheus as dpmon does', async (t) => {
    if (!promtool) return t.skip(SKIP);
    // cpu 90 % for 2 minutes, then 83 % (under critical 85, over its recovery 80.75), then 79 %
    const series = 'dpmon_resource_utilization_ratio{resource="cpu", instance="host1"}';
    const values = '0.9x7 0.83x8 0.79x8';
    const checkpoints = [60_000, 180_000, 300_000];

    // dpmon's rules engine, evaluating the cpu group every 30 s
    const kit = createRulesKit(specGroups());
    const dpmonFiring: string[][] = [];
    try {
      loadSeries(kit.store, `load 15s\n  ${series} ${values}\n`);
      for (let at = 0; at <= 300_000; at += 30_000) {
        await kit.evalAt('system_metrics.resource_monitoring.cpu_usage', at);
        if (checkpoints.includes(at)) dpmonFiring.push(kit.engine.alerts().filter((a) => a.state === 'firing').map((a) => a.labels.level!).sort());
      }
    } finally {
      kit.close();
    }
    assert.deepEqual(dpmonFiring, [['critical', 'warning'], ['critical', 'warning'], ['warning']]);

    // the same series through the exported rules in promtool, asking ALERTS at the same instants
    writeFileSync(join(dir, 'hyst.rules.yml'), exportPrometheusRules(loadConfig([]).config).yaml);
    const alertsAt = (levels: string[]) =>
      levels.map((level) => ({
        labels: `ALERTS{alertname="cpu_usage", alertstate="firing", instance="host1", level="${level}", resource="cpu", severity="${level === 'critical' ? 'high' : 'medium'}"}`,
        value: 1,
      }));
    const tests = {
      rule_files: ['hyst.rules.yml'],
      evaluation_interval: '30s',
      tests: [
        {
          interval: '15s',
          input_series: [{ series, values }],
          promql_expr_test: checkpoints.map((at, i) => ({
            expr: 'ALERTS{alertname="cpu_usage", alertstate="firing"}',
            eval_time: `${at / 1000}s`,
            exp_samples: alertsAt(dpmonFiring[i]!),
          })),
        },
      ],
    };
    writeFileSync(join(dir, 'hyst.tests.yml'), JSON.stringify(tests));
    const test = await run(['test', 'rules', 'hyst.tests.yml']);
    assert.equal(test.code, 0, test.out);
    assert.ok(readFileSync(join(dir, 'hyst.rules.yml'), 'utf8').includes('ALERTS{alertname="cpu_usage", alertstate="firing", severity="high", level="critical"}'));
  });
});

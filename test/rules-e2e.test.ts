// The rules issue's "done when", end to end: dpmon with the spec's merged config (intervals shortened
// to 1 s so the test takes seconds, thresholds untouched) against a real PostgreSQL with
// max_connections = 100. Holding 86 connections fires connection_saturation at critical; after
// `kill -9` and a restart it is still firing with the same activeAt and is not announced again;
// closing connections resolves it only below the recovery threshold (80.75 %). A small tmpfs filling
// up raises the disk_space prediction alert before its 90 % threshold.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { startCluster, type Cluster } from './harness/postgres.ts';
import { freePort, runDpmon, waitFor, type DpmonProcess } from './harness/process.ts';
import { sampleValue } from './harness/exposition.ts';

const SEED = 'src/config/fixtures/seed/datapunk.yaml';

interface ApiAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: string;
  activeAt: string;
  value: string;
}

describe('rules end to end (spec config, real PostgreSQL)', () => {
  let cluster: Cluster;
  let dir: string;
  let disk: string;
  let mounted = false;
  let port: number;
  let dpmon: DpmonProcess | undefined;
  const clients: pg.Client[] = [];

  const alerts = async (): Promise<ApiAlert[]> => {
    const r = await fetch(`http://127.0.0.1:${port}/api/v1/alerts`);
    return ((await r.json()) as { data: { alerts: ApiAlert[] } }).data.alerts;
  };
  const find = (list: ApiAlert[], name: string, level?: string) =>
    list.find((a) => a.labels.alertname === name && a.state === 'firing' && (level === undefined || a.labels.level === level));
  /** dpmon_rule_evaluations_total of the group that holds `rule`, read from /metrics (0 before the first) */
  const evaluations = async (rule: string): Promise<number> => {
    const groups = ((await (await fetch(`http://127.0.0.1:${port}/api/v1/rules`)).json()) as { data: { groups: { name: string; rules: { name: string }[] }[] } }).data.groups;
    const group = groups.find((g) => g.rules.some((r) => r.name === rule))?.name;
    assert.ok(group, `no rule group holds ${rule}`);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    return sampleValue(text, 'dpmon_rule_evaluations_total', { rule_group: group }) ?? 0;
  };
  /** Waits until the group holding `rule` has evaluated `n` more times: the evidence a negative check needs. */
  const evaluated = async (rule: string, n: number) => {
    const from = await evaluations(rule);
    await waitFor(`${n} more evaluations of ${rule}`, async () => ((await evaluations(rule)) >= from + n ? true : undefined), 30_000);
  };
  const start = () => {
    dpmon = runDpmon(['start', '--config', SEED, '--config', join(dir, 'test.yaml'), '--data-dir', join(dir, 'data'), '--listen', `127.0.0.1:${port}`]);
    return waitFor('dpmon ready', async () => ((await fetch(`http://127.0.0.1:${port}/-/ready`)).ok ? true : undefined));
  };

  before(async () => {
    cluster = await startCluster({ settings: { max_connections: 100 } });
    dir = mkdtempSync(join(tmpdir(), 'dpmon-rules-e2e-'));
    disk = join(dir, 'disk');
    spawnSync('mkdir', ['-p', disk]);
    mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', disk]).status === 0;
    port = await freePort();
    writeFileSync(
      join(dir, 'test.yaml'),
      `targets:
  - name: pg
    dsn: ${cluster.primary.dsn}
resource_monitoring:
  collection_interval: 1s
system_metrics:
  resource_monitoring:
    disk_usage:
      interval: 1s
      monitored_paths: [${disk}]
database_metrics:
  connection_pools:
    monitoring:
      interval: 1s
  # this test counts connections to the percent: dpmon's other sessions to the target (statement history,
  # plans, advice, audit sources: brief ones, at their own intervals) are kept out of that count
  query_performance:
    statement_history_interval: 1h
    monitoring:
      execution_plans: false
      analysis: [pattern_detection]
audit_config:
  enabled: false
alert_rules:
  high_severity:
    disk_space:
      monitoring:
        frequency: 1s
# this test watches the rules alone: remediation would terminate the idle sessions it holds
remediation:
  mode: dry_run
`,
    );
    await start();
  });

  after(async () => {
    dpmon?.child.kill('SIGTERM');
    await dpmon?.exited;
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
    if (mounted) spawnSync('umount', [disk]);
    rmSync(dir, { recursive: true, force: true });
    await cluster?.stop();
  });

  it('a filling filesystem raises the disk_space prediction alert before the threshold', async (t) => {
    if (!mounted) return t.skip('cannot mount a tmpfs on this machine (needs root and CAP_SYS_ADMIN)');
    // 1 MiB every 300 ms into 16 MiB: fast growth, stopped well before 90 %
    let files = 0;
    const fired = await waitFor(
      'the disk_space alert',
      async () => {
        if (files < 10) writeFileSync(join(disk, `f${files++}`), Buffer.alloc(1 << 20));
        const a = (await alerts()).find((x) => x.labels.alertname === 'disk_space' && x.state === 'firing' && x.labels.mountpoint === disk);
        return a;
      },
      30_000,
    );
    assert.ok(Number(fired.value) < 90, `fired at ${fired.value}%`);
    assert.equal(fired.annotations.predicted, 'true');
    assert.ok(fired.annotations.time_to_threshold, JSON.stringify(fired.annotations));
    assert.equal(fired.labels.severity, 'high');
  });

  it('86 of 100 connections fire connection_saturation critical; it survives kill -9; it resolves only below recovery', async () => {
    // dpmon holds one client backend itself: 85 more make 86
    for (let i = 0; i < 85; i++) {
      const c = new pg.Client({ connectionString: cluster.primary.dsn });
      await c.connect();
      clients.push(c);
    }
    const critical = await waitFor('connection_saturation critical', async () => find(await alerts(), 'connection_saturation', 'critical'));
    // 86, or 87 once the remediation runner (dry_run here) holds its own session beside the collector's
    assert.ok(Number(critical.value) >= 86 && Number(critical.value) <= 87, JSON.stringify(critical));
    assert.equal(critical.labels.severity, 'high');
    assert.ok(find(await alerts(), 'connection_saturation', 'warning'));

    // kill -9 and restart: the same alert, still firing since the same instant, and no second "alert firing"
    dpmon!.child.kill('SIGKILL');
    await dpmon!.exited;
    await start();
    await new Promise((r) => setTimeout(r, 3000)); // a few evaluations of the new process
    // evidence that the new process has judged the rule (its counter starts at 0), not only that time passed
    await waitFor('evaluations of the restarted process', async () => ((await evaluations('connection_saturation')) >= 2 ? true : undefined), 30_000);
    const again = find(await alerts(), 'connection_saturation', 'critical');
    assert.ok(again, 'still firing after restart');
    assert.equal(again.activeAt, critical.activeAt);
    const announced = dpmon!.output().split('\n').filter((l) => l.includes('"alert firing"') && l.includes('connection_saturation'));
    assert.deepEqual(announced, [], dpmon!.output().slice(-3000));

    // 83 %: below the threshold, above the recovery threshold: still firing
    const measured = async () => {
      const r = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=100*dpmon_pg_connections_used_ratio`);
      const v = ((await r.json()) as { data: { result: { value: [number, string] }[] } }).data.result[0]?.value[1];
      return v === undefined ? undefined : Math.round(Number(v));
    };
    const now = await waitFor('a measurement', measured);
    await Promise.all(clients.splice(0, now - 83).map((c) => c.end()));
    await waitFor('83% measured', async () => ((await measured()) === 83 ? true : undefined));
    await new Promise((r) => setTimeout(r, 2500));
    // the rule has seen 83 %: evaluations after the measurement, not only a pause
    await evaluated('connection_saturation', 2);
    assert.ok(find(await alerts(), 'connection_saturation', 'critical'), 'still firing at 83%');

    // 80 %: past the recovery threshold: critical resolves, warning stays
    await Promise.all(clients.splice(0, 3).map((c) => c.end()));
    await waitFor('critical resolved', async () => (find(await alerts(), 'connection_saturation', 'critical') ? undefined : true));
    assert.ok(find(await alerts(), 'connection_saturation', 'warning'), 'warning still firing at 80%');
  });

  it('SIGHUP refuses a bad config and keeps running; a good one adds rules and keeps alert state', async () => {
    const config = join(dir, 'test.yaml');
    const good = readFileSync(config, 'utf8');
    const warning = find(await alerts(), 'connection_saturation', 'warning');
    assert.ok(warning);
    const groupNames = async () => ((await (await fetch(`http://127.0.0.1:${port}/api/v1/rules`)).json()) as { data: { groups: { name: string }[] } }).data.groups.map((g) => g.name);
    const before = await groupNames();

    appendFileSync(config, 'rules:\n  flap_hold: soon\n');
    dpmon!.child.kill('SIGHUP');
    await waitFor('the refusal in the log', async () => (dpmon!.output().includes('config reload refused') ? true : undefined));
    assert.match(dpmon!.output(), /rules\.flap_hold: /);
    assert.deepEqual(await groupNames(), before);

    writeFileSync(config, `${good}prometheus_config:\n  rules:\n    - name: e2e_rules\n      rules:\n        - alert: TargetUp\n          expr: pg_up == 1\n`);
    dpmon!.child.kill('SIGHUP');
    await waitFor('the new group', async () => ((await groupNames()).includes('e2e_rules') ? true : undefined));
    await waitFor('TargetUp firing', async () => find(await alerts(), 'TargetUp'));
    assert.equal(find(await alerts(), 'connection_saturation', 'warning')?.activeAt, warning.activeAt);
  });
});

// Everything dpmon serves for one PostgreSQL primary + standby and this host, as /metrics text. dpmon
// is the app itself (src/app/app.ts's createApp, in this process), so the families are exactly the
// app's: the host collectors (a missing monitored path included), a target per server, the scores,
// dpmon's storage health, the rules engine's and remote_write's own metrics. Every interval is 1 s and
// the scrape waits until every collector has run twice (its history says so), so collectors that report
// rates or deltas have a previous reading.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../../src/app/app.ts';
import { loadConfig } from '../../src/config/index.ts';
import { installParts } from '../../src/db/installer.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { withClient, type Cluster } from './postgres.ts';
import { freePort, waitFor } from './process.ts';
import { recorderReceivers } from './receivers-yaml.ts';
import { startTestReceiver } from './remote-write-receiver.ts';

export const SPEC_LABELS = { environment: 'production', component: 'datapunk-lake' };

/** The sum of a family's samples in exposition text (undefined while it is not served). */
function total(text: string, name: string): number | undefined {
  const values = text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)));
  return values.length ? values.reduce((a, b) => a + b, 0) : undefined;
}

/** The rendered /metrics (with the spec's labels) of dpmon watching the host and both servers of `cluster`. */
export async function serveAll(cluster: Cluster): Promise<string> {
  // a user table with dead tuples and an index: table and index series exist only once there is one
  await withClient(cluster.primary.dsn, async (c) => {
    await c.query('CREATE TABLE IF NOT EXISTS serve_all_t (id int PRIMARY KEY, v text)');
    await c.query(`INSERT INTO serve_all_t SELECT g, 'x' FROM generate_series(1, 100) g ON CONFLICT DO NOTHING`);
    await c.query('DELETE FROM serve_all_t WHERE id <= 10');
  });
  const dir = mkdtempSync(join(tmpdir(), 'dpmon-serve-all-'));
  // remote_write's own families exist once it has an endpoint: a receiver that accepts everything
  const receiver = await startTestReceiver();
  const port = await freePort();
  writeFileSync(
    join(dir, 'dpmon.yaml'),
    `targets:
  - name: primary
    dsn: ${cluster.primary.dsn}
  - name: standby
    dsn: ${cluster.standby!.dsn}
resource_monitoring:
  collection_interval: 1s
system_metrics:
  resource_monitoring:
    cpu_usage:
      interval: 1s
    memory_usage:
      interval: 1s
    disk_usage:
      interval: 1s
      monitored_paths: [/, /nonexistent-dpmon-path]
database_metrics:
  connection_pools:
    monitoring:
      interval: 1s
  query_performance:
    deadlock_check_interval: 1s
    slow_queries_refresh: 1s
    statement_history_interval: 1s
  replication:
    monitoring:
      interval: 1s
remote_write:
  - url: ${receiver.url}/api/v1/write
    name: serve-all
# whatever fires on this host is recorded nowhere and remediates nothing
${recorderReceivers('http://127.0.0.1:9/')}remediation:
  mode: dry_run
`,
  );
  const { config } = loadConfig([join(dir, 'dpmon.yaml')], {});
  // dpmon's objects in the primary (`dpmon db install`), so their maintenance is served too
  await withClient(cluster.primary.dsn, (c) => installParts(async (sql) => (await c.query(sql)).rows, config));
  const app = createApp(config, { log: silentLogger, listen: { host: '127.0.0.1', port }, dataDir: join(dir, 'data') });
  try {
    await app.start();
    const metrics = async () => (await fetch(`http://127.0.0.1:${port}${config.monitoringIntegration.prometheus.endpoint}`)).text();
    await waitFor('dpmon ready', async () => ((await fetch(`http://127.0.0.1:${port}/-/ready`)).ok ? true : undefined), 30_000);
    // a second round: every collector (remote_write's runs every 15 s) has reported twice in the history
    const query = async (q: string) =>
      ((await (await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`)).json()) as { data: { result: { value: [number, string] }[] } }).data.result;
    await waitFor(
      'a second run of every collector',
      async () => {
        const r = await query('min(count_over_time(dpmon_collector_success{collector!="remote_write"}[1m]))');
        return r.length && Number(r[0]!.value[1]) >= 2 ? true : undefined;
      },
      30_000,
    );
    // the rules engine and remote_write at work, their counters past 0
    return await waitFor(
      'rule evaluations and samples sent by remote_write',
      async () => {
        const text = await metrics();
        return (total(text, 'dpmon_rule_evaluations_total') ?? 0) > 0 && (total(text, 'dpmon_remote_write_samples_sent_total') ?? 0) > 0 ? text : undefined;
      },
      30_000,
    );
  } finally {
    await app.stop();
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

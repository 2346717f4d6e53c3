// The series the community dashboards query, through dpmon's own PromQL API, on a host without the
// spec's paths: the node mixin's `job="node"` selectors find the host series, a PostgreSQL target's
// series carry `job="postgres"` (or the target's own `job`), remote_write sends the same job, and
// /metrics carries none (a scraping Prometheus sets its own). dpmon is the app itself (createApp) with
// every interval 1 s, over this machine's /proc, /sys and mounts and a real PostgreSQL 16.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createApp, type App } from '../src/app/app.ts';
import { loadConfig } from '../src/config/index.ts';
import { silentLogger } from '../src/lib/logger.ts';
import { startCluster, versionSkipReason, type Cluster } from './harness/postgres.ts';
import { freePort, waitFor } from './harness/process.ts';
import { recorderReceivers } from './harness/receivers-yaml.ts';
import { startTestReceiver, type TestReceiver } from './harness/remote-write-receiver.ts';

type Result = { metric: Record<string, string>; value: [number, string] }[];

const skip = versionSkipReason(16);

describe('job labels and the series dashboards query, through the PromQL API', { skip }, () => {
  let cluster: Cluster;
  let receiver: TestReceiver;
  let app: App;
  let dir: string;
  let base: string;

  const query = async (q: string): Promise<Result> => {
    const body = (await (await fetch(`${base}/api/v1/query?query=${encodeURIComponent(q)}`)).json()) as { status: string; error?: string; data: { result: Result } };
    assert.equal(body.status, 'success', `${q}: ${body.error}`);
    return body.data.result;
  };

  before(async () => {
    cluster = await startCluster({ version: 16 });
    receiver = await startTestReceiver();
    dir = mkdtempSync(join(tmpdir(), 'dpmon-series-job-'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    writeFileSync(
      join(dir, 'dpmon.yaml'),
      `targets:
  - name: primary
    dsn: ${cluster.primary.dsn}
  - name: lake
    dsn: ${cluster.primary.dsn}
    job: lake-db
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
      monitored_paths: [/nonexistent-dpmon-data, /nonexistent-dpmon-indexes]
remote_write:
  - url: ${receiver.url}/api/v1/write
    name: series-job
${recorderReceivers('http://127.0.0.1:9/')}remediation:
  mode: dry_run
`,
    );
    const { config } = loadConfig([join(dir, 'dpmon.yaml')], {});
    app = createApp(config, { log: silentLogger, listen: { host: '127.0.0.1', port }, dataDir: join(dir, 'data') });
    await app.start();
    // two runs of the host collectors and both targets in history, so rates have two points
    await waitFor(
      'two runs of diskstats, filesystem and both targets in history',
      async () => {
        const r = await fetch(`${base}/api/v1/query?query=${encodeURIComponent('count_over_time(dpmon_collector_success{collector=~"diskstats|filesystem|postgres:.*"}[1m]) >= 2')}`);
        return ((await r.json()) as { data?: { result: Result } }).data?.result.length === 4 ? true : undefined;
      },
      60_000,
    );
  });

  after(async () => {
    await app?.stop();
    await receiver?.close();
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('finds this host’s real filesystems with the node mixin’s filesystem selector, though no spec path exists', async () => {
    const r = await query('node_filesystem_avail_bytes{job="node",fstype!="",mountpoint!=""}');
    assert.ok(r.some((s) => s.metric.mountpoint === '/'), JSON.stringify(r.map((s) => s.metric)));
    // and the node mixin's disk space alert's ratio answers
    const ratio = await query('node_filesystem_avail_bytes{job="node",fstype!="",mountpoint!=""} / node_filesystem_size_bytes{job="node",fstype!="",mountpoint!=""} * 100');
    assert.ok(ratio.length >= 1 && ratio.every((s) => Number(s.value[1]) >= 0 && Number(s.value[1]) <= 100));
  });

  it('answers the node mixin’s recording rules (job="node", CPU and disk rates)', async () => {
    const cpus = await query('count without (cpu, mode) (node_cpu_seconds_total{job="node",mode="idle"})');
    assert.equal(cpus.length, 1);
    assert.ok(Number(cpus[0]!.value[1]) >= 1);
    const busy = await query('1 - avg without (cpu) (sum without (mode) (rate(node_cpu_seconds_total{job="node", mode=~"idle|iowait|steal"}[5m])))');
    assert.equal(busy.length, 1);
    const disk = await query('rate(node_disk_io_time_seconds_total{job="node", device=~"(/dev/)?(mmcblk.p.+|nvme.+|rbd.+|sd.+|vd.+|xvd.+|dm-.+|md.+|dasd.+)"}[5m])');
    assert.ok(disk.length >= 1, 'a disk rate from diskstats sampled at the collection interval');
    const faults = await query('rate(node_vmstat_pgmajfault{job="node"}[5m])');
    assert.equal(faults.length, 1);
  });

  it('gives PostgreSQL series job="postgres", or the target’s own job', async () => {
    const up = await query('pg_up');
    const jobs = Object.fromEntries(up.map((s) => [s.metric.instance, s.metric.job]));
    assert.deepEqual(jobs, { primary: 'postgres', lake: 'lake-db' });
  });

  it('leaves dpmon’s own series without a job, and process_* with the host’s', async () => {
    const own = await query('dpmon_data_dir_free_ratio');
    assert.equal(own.length, 1);
    assert.equal(own[0]!.metric.job, undefined);
    const rss = await query('process_resident_memory_bytes{job="node"}');
    assert.equal(rss.length, 1);
  });

  it('sends the same job labels by remote_write', async () => {
    await waitFor('remote_write samples', async () => (receiver.acceptedLines().length > 0 ? true : undefined), 30_000);
    const lines = receiver.acceptedLines();
    assert.ok(lines.some((l) => l.includes('__name__="node_cpu_seconds_total"') && l.includes('job="node"')));
    assert.ok(lines.some((l) => l.includes('__name__="pg_up"') && l.includes('job="postgres"')));
  });

  it('puts no job label in its own /metrics exposition', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    assert.ok(text.includes('node_filesystem_avail_bytes{'));
    assert.deepEqual(text.split('\n').filter((l) => !l.startsWith('#') && /[{,]job="/.test(l)), []);
  });
});

// Issue 13's first fault, end to end: a real dpmon against a real PostgreSQL (15, as the report) whose
// postmaster and backends are then stopped with SIGSTOP — a hung host or frozen VM as a client sees
// it: the TCP connection stays open and nothing answers. And a target behind a TCP black hole (a
// listener that accepts and never says a word). dpmon must tell the truth at once: pg_up 0 within
// statement_timeout + one collection interval, the target's series stale, /metrics answering fast all
// along, target_down paging; after SIGCONT, everything back without a restart. The figures measured
// are printed (docs/reliability.md quotes them).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startCluster, versionSkipReason, type Cluster } from './harness/postgres.ts';
import { startHttpReceiver, type HttpReceiver } from './harness/http-receiver.ts';
import { freePort, runDpmon, waitFor, type DpmonProcess } from './harness/process.ts';
import { startFaultProxy, type FaultProxy } from './harness/tcp-fault.ts';
import { recorderReceivers } from './harness/receivers-yaml.ts';
import { labelsIn, sampleValue } from './harness/exposition.ts';

const skip = versionSkipReason(15);
const STATEMENT_TIMEOUT_MS = 2000;
const INTERVAL_MS = 1000;

interface PdEvent {
  event_action: string;
  dedup_key: string;
  payload?: { summary: string };
}

/** The postmaster (first line of postmaster.pid) and every process it started. */
function clusterPids(dataDir: string): number[] {
  const postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const children = readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        // the parent pid is the 4th field after the parenthesised command name
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster;
      } catch {
        return false; // the process ended while we looked
      }
    })
    .map(Number);
  return [postmaster, ...children];
}

describe('a frozen or silent target (real PostgreSQL 15, real dpmon)', { skip }, () => {
  let cluster: Cluster;
  let hole: FaultProxy;
  let recv: HttpReceiver;
  let dir: string;
  let port: number;
  let dpmon: DpmonProcess | undefined;
  let stopped: number[] = [];

  /** GET /metrics: its text and how long it took to answer */
  const scrape = async () => {
    const started = performance.now();
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    return { text, ms: performance.now() - started };
  };
  /** the value of the series written as `name{a="x",b="y"}`: labels matched as a subset (dpmon adds external labels) */
  const sample = (text: string, series: string): number | undefined => {
    const name = series.slice(0, series.indexOf('{'));
    return sampleValue(text, name, labelsIn(series));
  };
  const instant = async (query: string) => {
    const r = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(query)}`);
    return ((await r.json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } }).data.result;
  };
  const firing = async (name: string, instance: string) => {
    const r = (await (await fetch(`http://127.0.0.1:${port}/api/v1/alerts`)).json()) as {
      data: { alerts: { labels: Record<string, string>; state: string }[] };
    };
    return r.data.alerts.some((a) => a.labels.alertname === name && a.labels.instance === instance && a.state === 'firing');
  };
  const pages = () => recv.requests.filter((r) => r.path === '/pd' && r.status === 200).map((r) => r.json as PdEvent);

  before(async () => {
    cluster = await startCluster({ version: 15 });
    hole = await startFaultProxy(undefined);
    recv = await startHttpReceiver();
    dir = mkdtempSync(join(tmpdir(), 'dpmon-frozen-'));
    port = await freePort();
    writeFileSync(
      join(dir, 'dpmon.yaml'),
      `targets:
  - name: pg
    dsn: ${cluster.primary.dsn}
    statement_timeout: ${STATEMENT_TIMEOUT_MS / 1000}s
    connect_timeout: 2s
  - name: hole
    dsn: postgres://postgres@127.0.0.1:${hole.port}/postgres
    statement_timeout: ${STATEMENT_TIMEOUT_MS / 1000}s
    connect_timeout: 2s
resource_monitoring:
  collection_interval: ${INTERVAL_MS / 1000}s
database_metrics:
  connection_pools:
    monitoring:
      interval: 1s
  replication:
    monitoring:
      interval: 1s
prometheus_config:
  evaluation_interval: 1s
monitoring_integration:
  alert_manager:
    default:
      group_wait: 1s
      group_interval: 2s
remediation:
  mode: dry_run
${recorderReceivers(recv.url, {}, 'frozen-routing-key')}`,
    );
    dpmon = runDpmon(['start', '--config', join(dir, 'dpmon.yaml'), '--data-dir', join(dir, 'data'), '--listen', `127.0.0.1:${port}`]);
    await waitFor('dpmon ready', async () => ((await fetch(`http://127.0.0.1:${port}/-/ready`)).ok ? true : undefined));
    await waitFor('pg_up 1', async () => (sample((await scrape()).text, 'pg_up{instance="pg"}') === 1 ? true : undefined));
  });

  after(async () => {
    for (const pid of stopped) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // already gone
      }
    }
    dpmon?.child.kill('SIGTERM');
    await dpmon?.exited;
    await recv?.close();
    await hole?.close();
    rmSync(dir, { recursive: true, force: true });
    await cluster?.stop();
  });

  it('a target behind a TCP black hole is pg_up 0 with reason timeout, and /metrics answers at once', async () => {
    const { text, ms } = await scrape();
    assert.ok(hole.accepted >= 1, 'dpmon did connect to the black hole');
    assert.equal(sample(text, 'pg_up{instance="hole"}'), 0);
    assert.equal(sample(text, 'dpmon_collector_success{collector="postgres:hole"}'), 0);
    assert.equal(sample(text, 'dpmon_collector_failure_reason{collector="postgres:hole",reason="timeout"}'), 1);
    assert.ok(ms < 100, `/metrics took ${ms.toFixed(1)} ms`);
  });

  it('SIGSTOP: pg_up 0 within statement_timeout + one interval, series stale, /metrics fast, target_down pages; SIGCONT recovers', async () => {
    const before = await scrape();
    assert.ok(sample(before.text, 'pg_stat_database_xact_commit{datname="postgres",instance="pg"}')! > 0);

    stopped = clusterPids(cluster.primary.dataDir);
    for (const pid of stopped) process.kill(pid, 'SIGSTOP');
    const frozenAt = performance.now();

    // poll /metrics as a Prometheus would, only faster, timing every answer until pg_up says 0
    const latencies: number[] = [];
    let downAfter: number | undefined;
    while (downAfter === undefined) {
      const { text, ms } = await scrape();
      latencies.push(ms);
      if (sample(text, 'pg_up{instance="pg"}') === 0) downAfter = performance.now() - frozenAt;
      else if (performance.now() - frozenAt > 15_000) assert.fail('pg_up stayed 1 for 15 s of a frozen server');
      else await new Promise((r) => setTimeout(r, 50));
    }
    const bound = STATEMENT_TIMEOUT_MS + INTERVAL_MS;
    console.log(`# frozen server: pg_up 0 after ${Math.round(downAfter)} ms (bound ${bound} ms); /metrics max ${Math.max(...latencies).toFixed(1)} ms over ${latencies.length} scrapes`);
    // the poll's own 50 ms and the deadline's grace (100 ms at 2 s) on top of the bound
    assert.ok(downAfter <= bound + 200, `pg_up 0 after ${Math.round(downAfter)} ms`);

    const down = await scrape();
    assert.equal(sample(down.text, 'pg_stat_database_xact_commit{datname="postgres",instance="pg"}'), undefined, 'no last values served');
    assert.equal(sample(down.text, 'dpmon_collector_success{collector="postgres:pg"}'), 0);
    assert.equal(sample(down.text, 'dpmon_collector_failure_reason{collector="postgres:pg",reason="timeout"}'), 1);
    assert.deepEqual(await instant('pg_stat_database_xact_commit{instance="pg"}'), [], 'the history has stale markers');
    assert.equal((await instant('pg_up{instance="pg"}'))[0]?.value[1], '0');

    // target_down fires after its two evaluations and pages, while /metrics keeps answering fast
    await waitFor('target_down firing', async () => ((await firing('target_down', 'pg')) ? true : undefined), 20_000);
    const page = await waitFor('the target_down page', async () =>
      pages().find((e) => e.event_action === 'trigger' && /target_down/.test(e.payload?.summary ?? '') && /pg\b/.test(e.payload?.summary ?? '')),
    );
    for (let i = 0; i < 20; i++) latencies.push((await scrape()).ms);
    latencies.sort((a, b) => a - b);
    const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))]!;
    console.log(
      `# frozen server: /metrics over ${latencies.length} scrapes: median ${at(0.5).toFixed(1)} ms, p90 ${at(0.9).toFixed(1)} ms, max ${at(1).toFixed(1)} ms`,
    );
    // /metrics never waits on the target (that would be 2 s and more); the 100 ms aim is held at p90 so
    // that one scrape delayed by a garbage collection on a loaded CI machine does not fail the test
    assert.ok(at(0.9) < 100, `/metrics p90 ${at(0.9).toFixed(1)} ms while the target is frozen`);
    assert.ok(at(1) < 1000, `/metrics max ${at(1).toFixed(1)} ms while the target is frozen`);

    // SIGCONT: the same dpmon, no restart, sees it again and the page is resolved
    for (const pid of stopped) process.kill(pid, 'SIGCONT');
    const resumedAt = performance.now();
    stopped = [];
    await waitFor('pg_up 1 again', async () => (sample((await scrape()).text, 'pg_up{instance="pg"}') === 1 ? true : undefined), 30_000);
    console.log(`# frozen server: pg_up 1 again ${Math.round(performance.now() - resumedAt)} ms after SIGCONT`);
    const back = await scrape();
    assert.ok(sample(back.text, 'pg_stat_database_xact_commit{datname="postgres",instance="pg"}')! > 0);
    assert.equal(sample(back.text, 'dpmon_collector_success{collector="postgres:pg"}'), 1);
    await waitFor('the target_down resolve', async () =>
      pages().some((e) => e.event_action === 'resolve' && e.dedup_key === page.dedup_key) ? true : undefined, 30_000,
    );
  });
});

// Issue 6's figures: the alert pipeline, dpmon beside Alertmanager 0.25 (Debian's
// prometheus-alertmanager) in one run, both fed the same alerts on POST /api/v2/alerts and both
// notifying a recording webhook receiver (Alertmanager's webhook format, so both sides send the same
// kind of request), with the same route: group_by [alertname], group_wait 1s, group_interval 1s.
//   - throughput: N alerts (GROUPS alertnames × PER_GROUP instances) posted in batches of BATCH, one
//     request after the other as Prometheus sends; from the first POST until the receiver has had every
//     alert (distinct label sets, firing) in some notification; alerts/s = N / that time. Each side
//     RUNS times, alternating, on a fresh instance each; medians.
//   - latency: LAT_GROUPS new groups of LAT_PER_GROUP alerts, one POST each, LAT_SPACING_MS apart; per
//     alert, its first arrival at the receiver − (the POST's start + group_wait).
// dpmon runs in this process's main thread as it does in production: fastify + registerAlertmanagerApi
// over createAlertPipeline (system clock, state.db in WAL mode, config from loadConfig, the real webhook
// notifier). The load (the POSTs) and the recording receiver run in a worker thread, so that dpmon's
// thread carries dpmon alone, as Alertmanager's process carries Alertmanager alone.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import Fastify from 'fastify';
import { startAlertmanager } from '../test/harness/alertmanager.ts';
import { openSilenceStore } from '../src/alerts/silences.ts';
import { registerAlertmanagerApi } from '../src/api/alertmanager-api.ts';
import { loadConfig } from '../src/config/index.ts';
import { systemClock } from '../src/lib/clock.ts';
import { silentLogger } from '../src/lib/logger.ts';
import { createAlertPipeline } from '../src/notify/pipeline.ts';
import { createNotifier } from '../src/notify/registry.ts';
import type { ChannelType, Notifier } from '../src/model/notification.ts';

const ALERTMANAGER = '/usr/bin/prometheus-alertmanager';
const GROUPS = Number(process.env.BENCH_PIPELINE_GROUPS ?? 200);
const PER_GROUP = Number(process.env.BENCH_PIPELINE_PER_GROUP ?? 100);
const BATCH = 500;
const RUNS = Number(process.env.BENCH_PIPELINE_RUNS ?? 5);
const GROUP_WAIT_MS = 1000;
const LAT_GROUPS = 50;
const LAT_PER_GROUP = 10;
const LAT_SPACING_MS = 200;
/** a side that has not delivered everything by then is reported as timed out */
const TIMEOUT_MS = Number(process.env.BENCH_PIPELINE_TIMEOUT_MS ?? 600_000);
const CLK_TCK = 100;

const log = (msg: string) => process.stderr.write(`bench pipeline: ${msg}\n`);
const round = (x: number, d = 2) => Number(x.toFixed(d));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
/** nearest-rank percentile */
const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** utime+stime in ms from a /proc stat file (a process's or a thread's) */
function cpuMsOf(statPath: string): number {
  const stat = readFileSync(statPath, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}
/** this process's main thread (dpmon's), without the driver's worker thread */
const mainThreadCpuMs = () => cpuMsOf(`/proc/self/task/${process.pid}/stat`);

// ------------------------------------------------------------------ the recording webhook receiver
// (test/harness/http-receiver.ts keeps no arrival times and parses every body; this one only notes
// when each alert first arrived firing)

interface WebhookBody {
  status: string;
  alerts: { status: string; labels: Record<string, string> }[];
}

/** Records, per alert (alertname/instance), when it first arrived firing in a notification. */
interface Receiver {
  readonly url: string;
  readonly firstSeen: Map<string, number>;
  requests: number;
  /** resolves when `n` distinct alerts have arrived firing */
  waitForAlerts(n: number, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

const alertKey = (labels: Record<string, string>) => `${labels.alertname}/${labels.instance}`;

async function startReceiver(): Promise<Receiver> {
  const firstSeen = new Map<string, number>();
  let waiter: { n: number; resolve: () => void } | undefined;
  const r: Receiver = {
    url: '',
    firstSeen,
    requests: 0,
    waitForAlerts(n, timeoutMs) {
      if (firstSeen.size >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out: ${firstSeen.size} of ${n} alerts notified`)), timeoutMs);
        waiter = {
          n,
          resolve: () => {
            clearTimeout(t);
            resolve();
          },
        };
      });
    },
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = Date.now();
      r.requests++;
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as WebhookBody;
      for (const a of body.alerts) {
        if (a.status !== 'firing') continue;
        const k = alertKey(a.labels);
        if (!firstSeen.has(k)) firstSeen.set(k, at);
      }
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
      if (waiter && firstSeen.size >= waiter.n) {
        const w = waiter;
        waiter = undefined;
        w.resolve();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (r as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return r;
}

// ------------------------------------------------------------------ the two sides

interface Side {
  readonly name: 'dpmon' | 'alertmanager';
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** CPU ms used so far by the side (dpmon: this process's main thread; Alertmanager: its process) */
  cpuMs(): number;
  stop(): Promise<void>;
}

async function startDpmon(receiverUrl: string): Promise<Side> {
  const dir = mkdtempSync(join(tmpdir(), 'dpmon-bench-pipeline-'));
  const hook = (name: string) => `{ channels: [webhook], webhook_url: '${receiverUrl}/${name}' }`;
  writeFileSync(
    join(dir, 'config.yaml'),
    `monitoring_integration:
  alert_manager:
    default: { receiver: bench, group_by: [alertname], group_wait: 1s, group_interval: 1s, repeat_interval: 4h }
receivers:
  bench: ${hook('bench')}
  ops-team: ${hook('ops-team')}
  sys-admin: ${hook('sys-admin')}
  storage-team: ${hook('storage-team')}
  on_call_dba: ${hook('on_call_dba')}
  senior_dba: ${hook('senior_dba')}
  engineering_manager: ${hook('engineering_manager')}
`,
  );
  const config = loadConfig([join(dir, 'config.yaml')], {}).config;
  const db = new Database(join(dir, 'state.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  const silences = openSilenceStore(db, { clock: systemClock });
  const notifiers = new Map<string, Notifier>();
  const notifierFor = (receiver: string, channel: ChannelType): Notifier => {
    const key = `${receiver}/${channel}`;
    let n = notifiers.get(key);
    if (!n) notifiers.set(key, (n = createNotifier(channel, config.receivers[receiver], config.notificationChannels, { logger: silentLogger })));
    return n;
  };
  const server = Fastify({ logger: false });
  const pipeline = createAlertPipeline({ config, db, silences, notifierFor, clock: systemClock, log: silentLogger, externalURL: 'http://127.0.0.1:9817' });
  registerAlertmanagerApi(server, { alerts: pipeline, silences, inhibitor: pipeline.inhibitor, clock: systemClock });
  await server.listen({ host: '127.0.0.1', port: 0 });
  pipeline.start();
  const port = (server.server.address() as AddressInfo).port;
  return {
    name: 'dpmon',
    url: `http://127.0.0.1:${port}`,
    cpuMs: mainThreadCpuMs,
    async stop() {
      await server.close();
      await pipeline.stop();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function startAm(receiverUrl: string): Promise<Side> {
  const am = await startAlertmanager(
    ALERTMANAGER,
    `route:
  receiver: bench
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 4h
receivers:
  - name: bench
    webhook_configs:
      - url: '${receiverUrl}/bench'
        send_resolved: true
`,
  );
  return { name: 'alertmanager', url: am.url, cpuMs: () => cpuMsOf(`/proc/${am.pid}/stat`), stop: am.stop };
}

// ------------------------------------------------------------------ the driver (a worker thread)

interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
}

/** Alerts as Prometheus sends them: startsAt when they fired (now), endsAt its ValidUntil (now + 4m). */
function alertsOf(prefix: string, group: number, perGroup: number, at: number): PostableAlert[] {
  return Array.from({ length: perGroup }, (_, i) => ({
    labels: { alertname: `${prefix}_${String(group).padStart(4, '0')}`, instance: `host-${String(i).padStart(4, '0')}`, job: 'bench', severity: 'medium' },
    annotations: { summary: `bench alert ${group}/${i} is firing`, description: 'a synthetic alert of the pipeline bench' },
    startsAt: new Date(at).toISOString(),
    endsAt: new Date(at + 4 * 60_000).toISOString(),
    generatorURL: `http://prometheus.example:9090/graph?g0.expr=bench_metric%7Bgroup%3D%22${group}%22%7D`,
  }));
}

async function post(url: string, alerts: PostableAlert[]): Promise<void> {
  const res = await fetch(`${url}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(alerts) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`POST ${url}/api/v2/alerts answered ${res.status}: ${text.slice(0, 300)}`);
}

interface LoadResult {
  elapsed_ms: number;
  /** until the last POST was answered */
  post_ms: number;
  notifications: number;
  notified: number;
  complete: boolean;
  /** per alert, arrival − (its POST's start + group_wait): the latency under this load, p50 and p99 */
  lag_p50_ms: number;
  lag_p99_ms: number;
}

/** The driver's side of the work: a receiver, and the POSTs to a side's API. */
function runDriver(): void {
  let recv: Receiver | undefined;
  const ops: Record<string, (url: string) => Promise<unknown>> = {
    async receiver() {
      await recv?.close();
      recv = await startReceiver();
      return recv.url;
    },
    async close() {
      await recv?.close();
      recv = undefined;
    },
    /** every alert, BATCH a request, whole groups one after the other (a rule's alerts come together) */
    async throughput(url): Promise<LoadResult> {
      const r = recv!;
      const n = GROUPS * PER_GROUP;
      const perBatch = Math.max(1, Math.floor(BATCH / PER_GROUP));
      const t0 = Date.now();
      const due = new Map<string, number>();
      for (let g = 0; g < GROUPS; g += perBatch) {
        const batch: PostableAlert[] = [];
        const now = Date.now();
        for (let k = g; k < Math.min(GROUPS, g + perBatch); k++) batch.push(...alertsOf('bench', k, PER_GROUP, now));
        for (const a of batch) due.set(alertKey(a.labels), now + GROUP_WAIT_MS);
        await post(url, batch);
      }
      const postMs = Date.now() - t0;
      let complete = true;
      try {
        await r.waitForAlerts(n, TIMEOUT_MS);
      } catch {
        complete = false;
      }
      const elapsed = (complete ? Math.max(...r.firstSeen.values()) : Date.now()) - t0;
      const lag = [...r.firstSeen].map(([k, at]) => at - due.get(k)!);
      return { elapsed_ms: elapsed, post_ms: postMs, notifications: r.requests, notified: r.firstSeen.size, complete, lag_p50_ms: percentile(lag, 50), lag_p99_ms: percentile(lag, 99) };
    },
    /** LAT_GROUPS new groups, one POST each, LAT_SPACING_MS apart: per alert, arrival − (POST start + group_wait) */
    async latency(url): Promise<number[]> {
      const r = recv!;
      const due = new Map<string, number>();
      for (let g = 0; g < LAT_GROUPS; g++) {
        const t = Date.now();
        const alerts = alertsOf('latency', g, LAT_PER_GROUP, t);
        for (const a of alerts) due.set(alertKey(a.labels), t + GROUP_WAIT_MS);
        await post(url, alerts);
        await sleep(Math.max(0, t + LAT_SPACING_MS - Date.now()));
      }
      await r.waitForAlerts(due.size, 30_000);
      return [...due].map(([k, at]) => r.firstSeen.get(k)! - at);
    },
  };
  parentPort!.on('message', (m: { id: number; op: string; url: string }) => {
    ops[m.op]!(m.url).then(
      (value) => parentPort!.postMessage({ id: m.id, value }),
      (err: Error) => parentPort!.postMessage({ id: m.id, error: err.stack ?? String(err) }),
    );
  });
}

const DRIVER = 'dpmon-bench-pipeline-driver';

interface Driver {
  call<T>(op: 'receiver' | 'close' | 'throughput' | 'latency', url?: string): Promise<T>;
  stop(): Promise<void>;
}

function startDriver(): Driver {
  // a worker does not inherit the tsx loader of --import tsx: it registers it, then loads this file
  const boot = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); })`;
  const worker = new Worker(boot, { eval: true, workerData: { role: DRIVER } });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let next = 0;
  worker.on('message', (m: { id: number; value?: unknown; error?: string }) => {
    const p = pending.get(m.id)!;
    pending.delete(m.id);
    if (m.error !== undefined) p.reject(new Error(`bench driver: ${m.error}`));
    else p.resolve(m.value);
  });
  worker.on('error', (err) => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  });
  return {
    call: <T>(op: string, url = '') =>
      new Promise<T>((resolve, reject) => {
        const id = next++;
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        worker.postMessage({ id, op, url });
      }),
    stop: async () => void (await worker.terminate()),
  };
}

// ------------------------------------------------------------------ runs

interface ThroughputRun extends LoadResult {
  alerts_per_s: number;
  cpu_ms: number;
}

async function throughputRun(driver: Driver, start: (receiverUrl: string) => Promise<Side>): Promise<ThroughputRun> {
  const side = await start(await driver.call<string>('receiver'));
  try {
    await sleep(200);
    const cpu0 = side.cpuMs();
    const load = await driver.call<LoadResult>('throughput', side.url);
    const cpu = side.cpuMs() - cpu0;
    return { ...load, alerts_per_s: round((load.notified / load.elapsed_ms) * 1000, 0), cpu_ms: round(cpu, 0) };
  } finally {
    await side.stop();
    await driver.call('close');
  }
}

async function latencyRun(driver: Driver, start: (receiverUrl: string) => Promise<Side>): Promise<number[]> {
  const side = await start(await driver.call<string>('receiver'));
  try {
    await sleep(200);
    return await driver.call<number[]>('latency', side.url);
  } finally {
    await side.stop();
    await driver.call('close');
  }
}

const summarize = (runs: ThroughputRun[]) => ({
  alerts_per_s: median(runs.map((r) => r.alerts_per_s)),
  elapsed_ms: median(runs.map((r) => r.elapsed_ms)),
  post_ms: median(runs.map((r) => r.post_ms)),
  cpu_ms: median(runs.map((r) => r.cpu_ms)),
  lag_p50_ms: median(runs.map((r) => r.lag_p50_ms)),
  lag_p99_ms: median(runs.map((r) => r.lag_p99_ms)),
  notifications: median(runs.map((r) => r.notifications)),
  complete: runs.every((r) => r.complete),
  runs: runs.map((r) => r.alerts_per_s),
});

export async function pipelineFigures(): Promise<Record<string, unknown>> {
  const haveAm = existsSync(ALERTMANAGER);
  const sides: [string, (url: string) => Promise<Side>][] = [['dpmon', startDpmon]];
  if (haveAm) sides.push(['alertmanager', startAm]);
  const runs: Record<string, ThroughputRun[]> = { dpmon: [], alertmanager: [] };
  const samples: Record<string, number[][]> = { dpmon: [], alertmanager: [] };
  const driver = startDriver();
  try {
    log(`throughput: ${GROUPS * PER_GROUP} alerts in ${GROUPS} groups, batches of ${BATCH}, ${RUNS} runs per side`);
    for (let r = 0; r < RUNS; r++) {
      for (const [name, start] of sides) {
        const run = await throughputRun(driver, start);
        runs[name]!.push(run);
        log(`run ${r + 1} ${name}: ${run.alerts_per_s} alerts/s, ${run.elapsed_ms} ms (POSTs ${run.post_ms} ms), ${run.notifications} notifications, lag p50/p99 ${run.lag_p50_ms}/${run.lag_p99_ms} ms, CPU ${run.cpu_ms} ms${run.complete ? '' : `, INCOMPLETE: ${run.notified} notified`}`);
      }
    }
    log(`latency: ${RUNS} runs of ${LAT_GROUPS} groups of ${LAT_PER_GROUP}, ${LAT_SPACING_MS} ms apart`);
    for (let r = 0; r < RUNS; r++) {
      for (const [name, start] of sides) {
        const lat = await latencyRun(driver, start);
        samples[name]!.push(lat);
        log(`latency run ${r + 1} ${name}: p50 ${percentile(lat, 50)} ms, p99 ${percentile(lat, 99)} ms, max ${Math.max(...lat)} ms`);
      }
    }
  } finally {
    await driver.stop();
  }
  const latency: Record<string, unknown> = {};
  for (const [name] of sides) {
    const all = samples[name]!.flat();
    latency[name] = {
      p50_ms: percentile(all, 50),
      p99_ms: percentile(all, 99),
      max_ms: Math.max(...all),
      min_ms: Math.min(...all),
      alerts: all.length,
      p99_per_run_ms: samples[name]!.map((l) => percentile(l, 99)),
    };
  }
  const dpmon = summarize(runs.dpmon!);
  const am = haveAm ? summarize(runs.alertmanager!) : undefined;
  return {
    pipeline: {
      workload: { alerts: GROUPS * PER_GROUP, groups: GROUPS, per_group: PER_GROUP, batch: BATCH, group_wait_ms: GROUP_WAIT_MS, group_interval_ms: 1000, runs: RUNS },
      dpmon_throughput: dpmon,
      alertmanager_throughput: am ?? `skipped: ${ALERTMANAGER} not installed`,
      throughput_ratio_dpmon_to_alertmanager: am ? round(dpmon.alerts_per_s / am.alerts_per_s, 3) : null,
      latency_beyond_group_wait: { runs: RUNS, groups_per_run: LAT_GROUPS, per_group: LAT_PER_GROUP, spacing_ms: LAT_SPACING_MS, ...latency },
      method:
        'throughput: from the first POST until every alert has arrived firing at the webhook receiver, median of the runs, each side on a fresh instance, alternating; ' +
        'latency: per alert, first arrival at the receiver − (start of its POST + group_wait), all runs pooled; ' +
        'dpmon in the main thread (fastify + registerAlertmanagerApi + createAlertPipeline, state.db WAL), Alertmanager 0.25 as a process, load and receiver in a worker thread; ' +
        'cpu_ms: dpmon main thread / Alertmanager process',
    },
  };
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === DRIVER) runDriver();
else if (isMainThread && import.meta.url === `file://${process.argv[1]}`) process.stdout.write(JSON.stringify(await pipelineFigures(), null, 2) + '\n');

// `npm run bench`: figures of the PostgreSQL collection cycle and /metrics rendering, with
// postgres_exporter (Debian's prometheus-postgres-exporter) measured beside dpmon on the same server.
// Prints one JSON document on stdout; progress goes to stderr. Medians over ROUNDS runs.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import pg from 'pg';
import { startCluster } from '../test/harness/postgres.ts';
import { freePort, waitFor } from '../test/harness/process.ts';
import { createPostgresTarget, type PostgresTargetOptions } from '../src/collect/postgres/index.ts';
import { createHostCollectors } from '../src/collect/host/index.ts';
import { createScheduler } from '../src/collect/scheduler.ts';
import { renderTextFormat } from '../src/expose/text-format.ts';
import { createLatestStore, createSnapshotBuilder } from '../src/store/latest.ts';
import { gauge } from '../src/model/metric.ts';
import { silentLogger } from '../src/lib/logger.ts';
import { createManualClock, systemClock, type Clock } from '../src/lib/clock.ts';
import { queryFigures } from './query.ts';
import { memoryFigures } from './memory.ts';
import { queryMemoryFigures } from './query-memory.ts';
import { anomalyFigures } from './anomaly.ts';
import { rulesFigures } from './rules.ts';
import { remediationFigures } from './remediation.ts';
import { pipelineFigures } from './pipeline.ts';
import { auditLogClassifyFigures } from './audit-log-classify.ts';
import { historyFigures } from './history.ts';
import { adviceFigures } from './advice.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30);
const TABLES = 200;
const IDLE_CONNECTIONS = 100;
const STATEMENT_SHAPES = 10; // × TABLES = 2,000 distinct statements
const EXPORTER = '/usr/bin/prometheus-postgres-exporter';
const EXPORTER_QUERIES = new URL('../../shared/anchors/conf/queries-stmt100.yaml', import.meta.url).pathname;
const CLK_TCK = 100;

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round = (x: number, digits = 2) => Number(x.toFixed(digits));

/** utime+stime of a process, in ms, from /proc/PID/stat */
function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

/**
 * CPU per cycle, measured as the anchors were (shared/anchors/RESULTS.md): BATCHES batches of
 * ROUNDS/BATCHES cycles, CPU of a batch divided by its cycles, median over the batches. /proc's CPU
 * counters tick at 10 ms, too coarse for a single cycle.
 */
const BATCHES = 5;
async function measureBatches(
  cycle: () => Promise<void>,
  cpuMs: () => number,
): Promise<{ wall: number[]; cpuPerCycle: number[] }> {
  const perBatch = Math.max(1, Math.floor(ROUNDS / BATCHES));
  const wall: number[] = [];
  const cpuPerCycle: number[] = [];
  for (let b = 0; b < BATCHES; b++) {
    const before = cpuMs();
    for (let i = 0; i < perBatch; i++) {
      const t0 = performance.now();
      await cycle();
      wall.push(performance.now() - t0);
    }
    cpuPerCycle.push((cpuMs() - before) / perBatch);
  }
  return { wall, cpuPerCycle };
}

async function prepareWorkload(dsn: string): Promise<pg.Client[]> {
  const c = new pg.Client({ connectionString: dsn });
  await c.connect();
  log(`creating ${TABLES} tables`);
  for (let i = 1; i <= TABLES; i++) {
    const t = `bt_${String(i).padStart(3, '0')}`;
    await c.query(`CREATE TABLE IF NOT EXISTS ${t} (id bigserial PRIMARY KEY, a int, b text);
      CREATE INDEX IF NOT EXISTS ${t}_a ON ${t}(a); CREATE INDEX IF NOT EXISTS ${t}_b ON ${t}(b);
      INSERT INTO ${t}(a, b) SELECT g, md5(g::text) FROM generate_series(1, 100) g`);
  }
  log(`running ${STATEMENT_SHAPES * TABLES} distinct statements`);
  const shapes = [
    (t: string) => `SELECT count(*) FROM ${t}`,
    (t: string) => `SELECT * FROM ${t} WHERE a = 1`,
    (t: string) => `SELECT * FROM ${t} WHERE b = 'x'`,
    (t: string) => `SELECT max(a) FROM ${t}`,
    (t: string) => `SELECT min(id) FROM ${t}`,
    (t: string) => `UPDATE ${t} SET a = a WHERE id = 1`,
    (t: string) => `SELECT a, count(*) FROM ${t} GROUP BY a LIMIT 1`,
    (t: string) => `SELECT * FROM ${t} ORDER BY b LIMIT 1`,
    (t: string) => `SELECT sum(a) FROM ${t} WHERE id < 50`,
    (t: string) => `DELETE FROM ${t} WHERE id = -1`,
  ];
  for (let i = 1; i <= TABLES; i++)
    for (const shape of shapes.slice(0, STATEMENT_SHAPES)) await c.query(shape(`bt_${String(i).padStart(3, '0')}`));
  await c.query('ANALYZE');
  await c.end();
  log(`opening ${IDLE_CONNECTIONS} idle connections`);
  const idle: pg.Client[] = [];
  for (let i = 0; i < IDLE_CONNECTIONS; i++) {
    const client = new pg.Client({ connectionString: dsn, application_name: 'bench-idle' });
    await client.connect();
    await client.query('SELECT 1');
    idle.push(client);
  }
  return idle;
}

/** The server processes of an application's sessions (postgres_exporter keeps several open). */
async function backendPids(dsn: string, application: string): Promise<number[]> {
  const c = new pg.Client({ connectionString: dsn });
  await c.connect();
  const r = await c.query('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [application]);
  await c.end();
  return r.rows.map((row) => row.pid as number);
}

const sumCpu = (pids: number[]) => pids.reduce((sum, pid) => sum + processCpuMs(pid), 0);

/** A target as the bench measures it: tables on, the top 100 statements, the given intervals. */
function benchTarget(dsn: string, name: string, clock: Clock, intervals: PostgresTargetOptions['intervals']) {
  return createPostgresTarget({
    name,
    dsn,
    statementTimeoutMs: 10_000,
    connectTimeoutMs: 5_000,
    pgStatStatementsTop: 100,
    collectTables: true,
    excludeDatabases: ['template0', 'template1'],
    intervals,
    log: silentLogger,
    clock,
  });
}

/**
 * The steady state: the spec's intervals (15 s default and connections, 30 s replication, 5 m sizes),
 * 20 cycles 15 s apart on a stepped clock = 5 minutes, so every definition runs at its own rate and
 * the others re-emit their cached samples. CPU of dpmon and of its server session per 15 s cycle.
 */
async function benchSteadyState(dsn: string) {
  const clock = createManualClock(Date.now());
  const target = benchTarget(dsn, 'steady', clock, {
    defaultMs: 15_000,
    connectionsMs: 15_000,
    replicationMs: 30_000,
    deadlockMs: 300_000,
    diskMs: 300_000,
  });
  const latest = createLatestStore();
  const scheduler = createScheduler({ collectors: [{ collector: target.collector, timeoutMs: 60_000 }], latest, clock, log: silentLogger });
  await scheduler.runOnce();
  const pids = await backendPids(dsn, 'dpmon');
  const cycles = 20;
  const before = process.cpuUsage();
  const backendBefore = sumCpu(pids);
  for (let i = 0; i < cycles; i++) {
    await clock.advance(15_000);
    await scheduler.runOnce();
  }
  const used = process.cpuUsage(before);
  const result = {
    cycles,
    cycle_cpu_ms: round((used.user + used.system) / 1000 / cycles),
    backend_cpu_ms: round((sumCpu(pids) - backendBefore) / cycles),
  };
  await target.close();
  return result;
}

async function benchDpmon(dsn: string) {
  // every definition is due on every cycle: one full cycle per run
  const target = benchTarget(dsn, 'bench', systemClock, { defaultMs: 1, connectionsMs: 1, replicationMs: 1, deadlockMs: 1, diskMs: 1 });
  const latest = createLatestStore();
  const scheduler = createScheduler({ collectors: [{ collector: target.collector, timeoutMs: 60_000 }], latest, clock: systemClock, log: silentLogger });
  await scheduler.runOnce(); // connect and warm up
  const pids = await backendPids(dsn, 'dpmon');
  const ownCpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const backend = await measureBatches(() => scheduler.runOnce(), () => sumCpu(pids));
  const { wall, cpuPerCycle } = await measureBatches(() => scheduler.runOnce(), ownCpuMs);
  const series = [...latest.families().values()].reduce((n, parts) => n + parts.reduce((m, p) => m + p.series.length, 0), 0);

  // the full /metrics of this target plus the host, as served
  const host = createHostCollectors({
    procPath: '/proc', sysPath: '/sys', cpuIntervalMs: 1, memoryIntervalMs: 1, diskIntervalMs: 1, defaultIntervalMs: 1,
    monitoredPaths: ['/'], processGroups: [],
  });
  const hostScheduler = createScheduler({ collectors: host.map((collector) => ({ collector, timeoutMs: 60_000 })), latest, clock: systemClock, log: silentLogger });
  await hostScheduler.runOnce();
  const renderServed: number[] = [];
  let bytes = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now();
    // Buffer.from: the text as the HTTP server writes it (a concatenated string is flattened only here)
    bytes = Buffer.from(renderTextFormat(latest.families(), { environment: 'production', component: 'datapunk-lake' })).length;
    renderServed.push(performance.now() - t0);
  }
  await target.close();
  return {
    cycle_wall_ms: round(median(wall)),
    cycle_cpu_ms: round(median(cpuPerCycle)),
    backend_cpu_ms: round(median(backend.cpuPerCycle)),
    series_pg: series,
    render_served_ms: round(median(renderServed)),
    served_bytes: bytes,
  };
}

function benchRender10k() {
  const latest = createLatestStore();
  const desc = gauge('dpmon_bench_value', 'bench');
  for (let s = 0; s < 10; s++) {
    const b = createSnapshotBuilder({ instance: `target-${s}` });
    for (let i = 0; i < 1000; i++) b.emit(desc, { datname: `db${i % 20}`, relname: `table_${i}`, schemaname: 'public' }, i * 1.5);
    latest.put(`s${s}`, b.build(0));
  }
  const times: number[] = [];
  for (let i = 0; i < Math.max(ROUNDS, 50); i++) {
    const t0 = performance.now();
    Buffer.from(renderTextFormat(latest.families(), { environment: 'production', component: 'datapunk-lake' }));
    times.push(performance.now() - t0);
  }
  return { series: 10_000, render_ms: round(median(times)) };
}

async function benchExporter(dsn: string) {
  if (!existsSync(EXPORTER)) return { skipped: `${EXPORTER} not installed (apt-get install prometheus-postgres-exporter)` };
  const port = await freePort();
  const args = [`--web.listen-address=127.0.0.1:${port}`];
  if (existsSync(EXPORTER_QUERIES)) args.push(`--extend.query-path=${EXPORTER_QUERIES}`);
  const child = spawn(EXPORTER, args, {
    env: { ...process.env, DATA_SOURCE_NAME: `${dsn}${dsn.includes('?') ? '&' : '?'}sslmode=disable&application_name=postgres_exporter` },
    stdio: 'ignore',
  });
  try {
    const url = `http://127.0.0.1:${port}/metrics`;
    await waitFor('postgres_exporter', async () => ((await fetch(url)).ok ? true : undefined), 20_000);
    let text = await (await fetch(url)).text(); // warm up: opens its sessions
    const pids = await backendPids(dsn, 'postgres_exporter');
    const scrape = async () => {
      text = await (await fetch(url)).text();
    };
    const backend = await measureBatches(scrape, () => sumCpu(pids));
    const { wall, cpuPerCycle } = await measureBatches(scrape, () => processCpuMs(child.pid!));
    const series = text.split('\n').filter((l) => l && !l.startsWith('#')).length;
    return {
      version: '0.11.1 (Debian), queries: shared/anchors/conf/queries-stmt100.yaml',
      scrape_wall_ms: round(median(wall)),
      scrape_cpu_ms: round(median(cpuPerCycle)),
      backend_cpu_ms: round(median(backend.cpuPerCycle)),
      series,
    };
  } finally {
    child.kill('SIGTERM');
  }
}

/** The history store's figures (bench/store.ts), run in its own process with --expose-gc for memory. */
function storeFigures(): Record<string, unknown> {
  log('measuring the history store');
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', new URL('./store.ts', import.meta.url).pathname], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) return { store: { failed: `bench/store.ts exited ${r.status}` } };
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

async function main() {
  log('starting PostgreSQL 16');
  const cluster = await startCluster({ version: 16, settings: { max_connections: 300, 'pg_stat_statements.max': 5000 } });
  let idle: pg.Client[] = [];
  try {
    idle = await prepareWorkload(cluster.primary.dsn);
    log('measuring dpmon');
    const dpmon = await benchDpmon(cluster.primary.dsn);
    const steady = await benchSteadyState(cluster.primary.dsn);
    log('measuring postgres_exporter');
    const exporter = await benchExporter(cluster.primary.dsn);
    const render = benchRender10k();
    const measured = 'scrape_cpu_ms' in exporter && exporter.scrape_cpu_ms && exporter.series ? exporter : undefined;
    // per series: dpmon serves more series than postgres_exporter's stmt100 set, so compare CPU per series too
    const ratio = measured ? round(dpmon.cycle_cpu_ms / measured.scrape_cpu_ms / (dpmon.series_pg / measured.series), 3) : null;
    const result = {
      machine: { cpus: cpus().length, node: process.version },
      workload: { tables: TABLES, idle_connections: IDLE_CONNECTIONS, distinct_statements: STATEMENT_SHAPES * TABLES, rounds: ROUNDS },
      postgres_collection: dpmon,
      postgres_steady_state_15s: steady,
      postgres_exporter: exporter,
      cpu_ratio_dpmon_to_exporter_per_series: ratio,
      cpu_ratio_dpmon_to_exporter_raw: measured ? round(dpmon.cycle_cpu_ms / measured.scrape_cpu_ms, 3) : null,
      render_10k: render,
      ...storeFigures(),
      ...(await queryFigures()),
      ...(await memoryFigures()),
      ...(await queryMemoryFigures()),
      ...(await anomalyFigures()),
      ...(await rulesFigures()),
      ...(await remediationFigures()),
      ...(await pipelineFigures()),
      ...(await adviceFigures()),
      ...(await auditLogClassifyFigures()),
      // ~3–6 min on the 2-core machine with main's store (BENCH_HISTORY_RUNS, default 5): BENCH_SKIP_HISTORY=1 leaves it out
      ...(process.env.BENCH_SKIP_HISTORY === '1' ? { history: { skipped: 'BENCH_SKIP_HISTORY=1' } } : await historyFigures()),
    };
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  } finally {
    await Promise.all(idle.map((c) => c.end().catch(() => {})));
    await cluster.stop();
  }
}

await main();

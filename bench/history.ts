// The history and query figures of issues 15 and 23, dpmon beside Prometheus 2.42 on the same samples,
// both asked over HTTP in one run (`historyFigures()`; alone: `node --import tsx bench/history.ts`).
//
// Data (history-data.ts): 1,000 counters every 15 s for 24 h and one gauge every 15 s for 7 days
// (5.80 M samples), ending at a minute 3 h before now, scrape times jittered. Prometheus holds them in
// persisted blocks built by `promtool tsdb create-blocks-from openmetrics` (18 h blocks, the largest a
// Prometheus with the default 15 d retention compacts to); dpmon in its SQLite history store, loaded by
// a child process first (history-dpmon.ts load) and then served by another (history-dpmon.ts serve), so
// that the RSS sampled is the server's own. Each side is measured alone, Prometheus first.
//
// Figures per side: medians of RUNS range queries after one warm-up (24 h `sum(rate[5m])` at 5 m over
// the 1,000 series, one series over 24 h rate and raw, 7 d of the gauge at 1 h, a 1 h panel at 15 s);
// VmRSS sampled every 20 ms while one 24 h `sum(rate)` is answered and while ten panels over different
// series sets are sent at once; RSS at rest (after load and GC) and after the queries; bytes on disk
// per sample. dpmon also: the built-in rules evaluating every second meanwhile, their start lag.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from '../test/harness/process.ts';
import { startPrometheus } from '../test/harness/prometheus.ts';
import { DAY_MS, generateHistoryData, HOUR_MS, WEEK_MS, writeOpenMetricsWindows } from './history-data.ts';

const PROMETHEUS = '/usr/bin/prometheus';
const PROMTOOL = '/usr/bin/promtool';
const RUNS = Math.max(1, Number(process.env.BENCH_HISTORY_RUNS ?? 5));
/** promtool's block range: 18 h is the largest range of Prometheus's default compaction under a 15 d retention */
const BLOCK_MS = 18 * HOUR_MS;
const RSS_SAMPLE_MS = 20;
const MB = 1024 * 1024;

const log = (msg: string) => process.stderr.write(`bench history: ${msg}\n`);
const round = (x: number, d = 1) => Number(x.toFixed(d));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

// ---------------------------------------------------------------- the queries

interface RangeQuery {
  readonly query: string;
  /** ms before the data's end */
  readonly spanMs: number;
  readonly stepS: number;
}
const SUM_RATE_24H: RangeQuery = { query: 'sum(rate(bench_counter_total[5m]))', spanMs: DAY_MS, stepS: 300 };
const TIMED: Record<string, RangeQuery> = {
  range_24h_sum_rate_5m_ms: SUM_RATE_24H,
  range_24h_one_series_rate_5m_ms: { query: 'rate(bench_counter_total{series="7"}[5m])', spanMs: DAY_MS, stepS: 300 },
  range_24h_one_series_raw_60s_ms: { query: 'bench_counter_total{series="7"}', spanMs: DAY_MS, stepS: 60 },
  range_7d_gauge_avg_over_time_1h_ms: { query: 'avg_over_time(bench_gauge[1h])', spanMs: WEEK_MS, stepS: 3600 },
  panel_1h_sum_rate_1m_15s_ms: { query: 'sum(rate(bench_counter_total[1m]))', spanMs: HOUR_MS, stepS: 15 },
};
/** ten panels of a 24 h dashboard, each over its own series set (series N, N0–N9, N00–N99: 111 series) */
const TEN_PANELS: RangeQuery[] = Array.from({ length: 10 }, (_, n) => ({ query: `sum(rate(bench_counter_total{series=~"${n}.*"}[5m]))`, spanMs: DAY_MS, stepS: 300 }));

interface Answer {
  ok: boolean;
  ms: number;
  status: number;
  error?: string;
  result?: { metric: Record<string, string>; values: [number, string][] }[];
}

async function queryRange(base: string, q: RangeQuery, endMs: number): Promise<Answer> {
  const params = new URLSearchParams({ query: q.query, start: String((endMs - q.spanMs) / 1000), end: String(endMs / 1000), step: String(q.stepS) });
  const t0 = performance.now();
  try {
    const res = await fetch(`${base}/api/v1/query_range?${params}`);
    const body = (await res.json()) as { status: string; error?: string; data?: { result: Answer['result'] } };
    const ms = performance.now() - t0;
    if (body.status !== 'success') return { ok: false, ms, status: res.status, error: body.error ?? body.status };
    return { ok: true, ms, status: res.status, result: body.data!.result };
  } catch (err) {
    return { ok: false, ms: performance.now() - t0, status: 0, error: (err as Error).message };
  }
}

/** Whether two answers hold the same series, timestamps and values (relative 1e-9). */
function sameAnswer(a: Answer | undefined, b: Answer | undefined): boolean | null {
  if (!a?.result || !b?.result) return null;
  const key = (m: Record<string, string>) => JSON.stringify(Object.entries(m).sort(([x], [y]) => (x < y ? -1 : 1)));
  const other = new Map(b.result.map((s) => [key(s.metric), s.values]));
  if (other.size !== a.result.length) return false;
  for (const s of a.result) {
    const values = other.get(key(s.metric));
    if (!values || values.length !== s.values.length) return false;
    for (let i = 0; i < values.length; i++) {
      const [t1, v1] = s.values[i]!;
      const [t2, v2] = values[i]!;
      const x = Number(v1);
      const y = Number(v2);
      if (t1 !== t2 || !(x === y || Math.abs(x - y) <= 1e-9 * Math.max(Math.abs(x), Math.abs(y)))) return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------- memory and disk

/** VmRSS and RssAnon of a process, bytes */
function rss(pid: number): { vm: number; anon: number } {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch (err) {
    throw new Error(`process ${pid} is gone (/proc/${pid}/status: ${(err as Error).message})`, { cause: err });
  }
  const kb = (name: string) => Number(/(\d+) kB/.exec(status.slice(status.indexOf(`${name}:`)))?.[1] ?? NaN) * 1024;
  return { vm: kb('VmRSS'), anon: kb('RssAnon') };
}

/** Samples VmRSS every RSS_SAMPLE_MS until stopped; returns the peaks. */
function rssSampler(pid: number): () => { vm: number; anon: number } {
  const peak = rss(pid);
  const take = () => {
    try {
      const r = rss(pid);
      peak.vm = Math.max(peak.vm, r.vm);
      peak.anon = Math.max(peak.anon, r.anon);
    } catch {
      // the process ended: its peak so far stands
    }
  };
  const timer = setInterval(take, RSS_SAMPLE_MS);
  return () => {
    clearInterval(timer);
    take();
    return peak;
  };
}

function dirBytes(dir: string): number {
  let sum = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    sum += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return sum;
}

const mb = (bytes: number) => round(bytes / MB, 1);

// ---------------------------------------------------------------- one side, measured over HTTP

interface Side {
  readonly name: string;
  readonly base: string;
  readonly pid: number;
  /** a forced garbage collection in the server */
  gc(): Promise<void>;
  /** dpmon only: the rules' lag and event-loop delay between mark() and report() */
  mark?(): Promise<void>;
  report?(): Promise<Record<string, unknown>>;
}

async function settledRss(side: Side): Promise<{ vm: number; anon: number }> {
  await side.gc();
  await new Promise((r) => setTimeout(r, 1000));
  return rss(side.pid);
}

/** `emptyRss`: the same server over an empty store, so that the at-rest figure per series leaves the runtime out */
async function measureSide(side: Side, endMs: number, series: number, emptyRss: number) {
  const answers: Record<string, Answer | undefined> = {};
  const rest = await settledRss(side);
  log(`${side.name}: RSS at rest ${mb(rest.vm)} MB (${mb(emptyRss)} MB over an empty store)`);

  // one 24 h sum(rate) with its memory (also the warm-up of that figure)
  const before = rss(side.pid);
  const stop = rssSampler(side.pid);
  const one = await queryRange(side.base, SUM_RATE_24H, endMs);
  const peak = stop();
  const after = rss(side.pid);
  if (!one.ok) log(`${side.name}: ${SUM_RATE_24H.query} failed: ${one.error}`);
  log(`${side.name}: 24 h sum(rate) once: ${round(one.ms, 0)} ms, RSS ${mb(before.vm)} → peak ${mb(peak.vm)} → ${mb(after.vm)} MB`);

  const timings: Record<string, number | null> = {};
  for (const [name, q] of Object.entries(TIMED)) {
    if (q !== SUM_RATE_24H) answers[name] = await queryRange(side.base, q, endMs); // warm-up
    else answers[name] = one;
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const a = await queryRange(side.base, q, endMs);
      if (a.ok) times.push(a.ms);
      else log(`${side.name}: ${q.query} failed: ${a.error}`);
    }
    timings[name] = times.length ? round(median(times)) : null;
    log(`${side.name}: ${name} ${timings[name]} ms`);
  }

  // ten panels at once, as a dashboard sends them
  await side.mark?.();
  const stopTen = rssSampler(side.pid);
  const t0 = performance.now();
  const ten = await Promise.all(TEN_PANELS.map((q) => queryRange(side.base, q, endMs)));
  const wall = performance.now() - t0;
  const tenPeak = stopTen();
  const lag = await side.report?.();
  const failed = ten.filter((a) => !a.ok);
  log(`${side.name}: ten panels at once: ${ten.length - failed.length}/10 answered in ${round(wall, 0)} ms, peak RSS ${mb(tenPeak.vm)} MB`);
  for (let i = 0; i < ten.length; i++) answers[`panel_${i}`] = ten[i];

  const retained = await settledRss(side);
  return {
    answers,
    figures: {
      ...timings,
      one_query_ms: round(one.ms),
      one_query_rss_before_mb: mb(before.vm),
      one_query_rss_peak_mb: mb(peak.vm),
      one_query_rss_after_mb: mb(after.vm),
      one_query_rss_anon_peak_mb: mb(peak.anon),
      ten_panels_answered: ten.length - failed.length,
      ten_panels_wall_ms: round(wall),
      ten_panels_rss_peak_mb: mb(tenPeak.vm),
      ten_panels_rss_anon_peak_mb: mb(tenPeak.anon),
      ...(failed.length ? { ten_panels_errors: [...new Set(failed.map((a) => `HTTP ${a.status}: ${a.error}`))] } : {}),
      ...(lag ? { while_ten_panels: lag } : {}),
      rss_at_rest_mb: mb(rest.vm),
      rss_anon_at_rest_mb: mb(rest.anon),
      rss_empty_store_mb: mb(emptyRss),
      rss_at_rest_bytes_per_series: Math.round((rest.vm - emptyRss) / series),
      rss_after_queries_mb: mb(retained.vm),
    },
  };
}

// ---------------------------------------------------------------- the two servers

const CHILD = new URL('./history-dpmon.ts', import.meta.url).pathname;

function runLoader(dataDir: string, endMs: number): Promise<{ load_ms: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, 'load', dataDir, String(endMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as { load_ms: number }) : reject(new Error(`dpmon loader exited ${code}`))));
  });
}

async function startDpmon(dataDir: string): Promise<Side & { stop(): Promise<void> }> {
  const child: ChildProcess = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', CHILD, 'serve', dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`dpmon server exited ${code} before listening`)));
  });
  const base = `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`;
  const post = async (path: string) => {
    const r = await fetch(`${base}${path}`, { method: 'POST' });
    if (!r.ok) throw new Error(`POST ${path}: HTTP ${r.status}`);
  };
  return {
    name: 'dpmon',
    base,
    pid: child.pid!,
    gc: () => post('/bench/gc'),
    mark: () => post('/bench/mark'),
    report: async () => (await (await fetch(`${base}/bench/report`)).json()) as Record<string, unknown>,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

function prometheusSide(base: string, pid: number): Side {
  return { name: 'prometheus', base, pid, gc: async () => void (await (await fetch(`${base}/debug/pprof/heap?gc=1`)).arrayBuffer()) };
}

function buildBlocks(files: string[], tsdb: string): number {
  const t0 = performance.now();
  for (const f of files) {
    const r = spawnSync(PROMTOOL, ['tsdb', 'create-blocks-from', 'openmetrics', `--max-block-duration=${BLOCK_MS / HOUR_MS}h`, '-q', f, tsdb], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`promtool tsdb create-blocks-from openmetrics ${f} failed:\n${r.stdout}${r.stderr}`);
  }
  return performance.now() - t0;
}

// ---------------------------------------------------------------- the run

const RATIO_KEYS = [
  ...Object.keys(TIMED),
  'one_query_rss_peak_mb',
  'ten_panels_wall_ms',
  'ten_panels_rss_peak_mb',
  'rss_at_rest_bytes_per_series',
  'rss_after_queries_mb',
  'disk_bytes_per_sample',
] as const;

export async function historyFigures(): Promise<Record<string, unknown>> {
  const started = performance.now();
  const loadStart = readFileSync('/proc/loadavg', 'utf8').trim();
  const MIN = 60_000;
  const endMs = Math.floor(Date.now() / MIN) * MIN - 3 * HOUR_MS;
  const dir = mkdtempSync(join(tmpdir(), 'dpmon-bench-history-'));
  const prometheusMissing = [PROMETHEUS, PROMTOOL].filter((p) => !existsSync(p));
  try {
    const data = generateHistoryData(endMs);
    const dpmonDir = join(dir, 'dpmon');
    mkdirSync(dpmonDir);
    log(`loading ${data.samples} samples into dpmon's store${prometheusMissing.length ? '' : ' and building Prometheus blocks with promtool'}`);
    // the loader (one core) and promtool run side by side: neither is a figure
    const loading = runLoader(dpmonDir, endMs);
    let prometheus: Record<string, unknown>;
    let promAnswers: Record<string, Answer | undefined> = {};
    if (prometheusMissing.length) {
      prometheus = { skipped: `${prometheusMissing.join(', ')} not installed (apt-get install prometheus)` };
      await loading;
    } else {
      const omDir = join(dir, 'om');
      mkdirSync(omDir);
      const files = writeOpenMetricsWindows(data, omDir, BLOCK_MS);
      const tsdb = join(dir, 'prometheus', 'tsdb');
      mkdirSync(tsdb, { recursive: true });
      const promtoolMs = buildBlocks(files, tsdb);
      rmSync(omDir, { recursive: true, force: true });
      const blocks = readdirSync(tsdb).length;
      const diskBytes = dirBytes(tsdb);
      await loading; // measured alone
      const emptyDir = join(dir, 'prometheus-empty');
      mkdirSync(join(emptyDir, 'tsdb'), { recursive: true });
      const emptyPort = await freePort();
      const empty = await startPrometheus(PROMETHEUS, emptyDir, emptyPort);
      const emptyRss = await settledRss(prometheusSide(`http://127.0.0.1:${emptyPort}`, empty.child.pid!)).finally(() => empty.stop());
      const port = await freePort();
      const server = await startPrometheus(PROMETHEUS, join(dir, 'prometheus'), port);
      prometheus = {};
      try {
        const side = prometheusSide(`http://127.0.0.1:${port}`, server.child.pid!);
        prometheus = { version: '2.42 (Debian)', promtool_ms: round(promtoolMs, 0), blocks, disk_bytes: diskBytes, disk_bytes_per_sample: round(diskBytes / data.samples, 2) };
        const m = await measureSide(side, endMs, data.series, emptyRss.vm);
        promAnswers = m.answers;
        prometheus = { ...prometheus, ...m.figures };
      } catch (err) {
        prometheus = { ...prometheus, failed: (err as Error).message };
        log(`prometheus: failed: ${(err as Error).message}`);
      } finally {
        await server.stop();
      }
    }
    const { load_ms } = await loading;
    const diskBytes = dirBytes(dpmonDir);
    const emptyDpmonDir = join(dir, 'dpmon-empty');
    mkdirSync(emptyDpmonDir);
    const emptyServer = await startDpmon(emptyDpmonDir);
    const emptyRss = await settledRss(emptyServer).finally(() => emptyServer.stop());
    const server = await startDpmon(dpmonDir);
    let dpmon: Record<string, unknown> = { load_ms, disk_bytes: diskBytes, disk_bytes_per_sample: round(diskBytes / data.samples, 2) };
    let dpmonAnswers: Record<string, Answer | undefined> = {};
    try {
      const m = await measureSide(server, endMs, data.series, emptyRss.vm);
      dpmonAnswers = m.answers;
      dpmon = { ...dpmon, ...m.figures };
    } catch (err) {
      // the server died (out of memory?) or stopped answering: the figures say so, the bench goes on
      dpmon = { ...dpmon, failed: (err as Error).message };
      log(`dpmon: failed: ${(err as Error).message}`);
    } finally {
      await server.stop();
    }

    const ratios: Record<string, number | null> = {};
    const same: Record<string, boolean | null> = {};
    if (!('skipped' in prometheus)) {
      for (const k of RATIO_KEYS) {
        const a = dpmon[k];
        const b = prometheus[k];
        ratios[k] = typeof a === 'number' && typeof b === 'number' && b > 0 ? round(a / b, 2) : null;
      }
      for (const k of Object.keys(dpmonAnswers)) same[k] = sameAnswer(dpmonAnswers[k], promAnswers[k]);
    }
    const result = {
      date: new Date().toISOString(),
      loadavg_start: loadStart,
      loadavg_end: readFileSync('/proc/loadavg', 'utf8').trim(),
      machine: { cpus: cpus().length, node: process.version, loadavg_1m_end: round(loadavg()[0]!, 2) },
      runs: RUNS,
      data: {
        counters: 1000,
        gauges: 1,
        samples: data.samples,
        series: data.series,
        end: new Date(endMs).toISOString(),
        counters_span: '24h',
        gauge_span: '7d',
        scrape_interval: '15s, 1..999 ms jitter',
      },
      dpmon,
      prometheus,
      ratio_dpmon_to_prometheus: ratios,
      same_answers: same,
      duration_s: round((performance.now() - started) / 1000, 0),
      method:
        `each side alone over HTTP (/api/v1/query_range), Prometheus first; timings are medians of ${RUNS} runs after one warm-up ` +
        `(the warm-up of the 24 h sum(rate) is the run whose RSS is sampled); RSS is /proc/PID/status VmRSS sampled every ${RSS_SAMPLE_MS} ms ` +
        `(RssAnon beside it: Prometheus's VmRSS includes its memory-mapped block files); at rest = after GC (dpmon: gc() in the ` +
        `--expose-gc child; Prometheus: GET /debug/pprof/heap?gc=1) and 1 s idle, per series = (that − the same server's over an ` +
        `empty store) ÷ series; Prometheus: promtool blocks of ${BLOCK_MS / HOUR_MS} h, ` +
        `default flags; dpmon: default config, the built-in rule groups evaluating every 1 s during the ten panels; disk: history.db ` +
        `(+wal) ÷ samples, the TSDB directory ÷ samples`,
    };
    log(summary(result));
    return { history: result };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A short table for a human reading stderr. */
function summary(r: { dpmon: Record<string, unknown>; prometheus: Record<string, unknown>; ratio_dpmon_to_prometheus: Record<string, number | null>; duration_s: number; loadavg_start: string }): string {
  const lines = [`done in ${r.duration_s} s (load average at start ${r.loadavg_start})`, `${'figure'.padEnd(36)} ${'dpmon'.padStart(10)} ${'prometheus'.padStart(10)} ${'ratio'.padStart(7)}`];
  const keys = [...RATIO_KEYS, 'ten_panels_answered', 'one_query_rss_before_mb', 'one_query_rss_after_mb', 'rss_at_rest_mb', 'rss_empty_store_mb'];
  for (const k of keys) {
    const cell = (x: unknown) => String(x ?? '—').padStart(10);
    lines.push(`${k.padEnd(36)} ${cell(r.dpmon[k])} ${cell(r.prometheus[k])} ${String(r.ratio_dpmon_to_prometheus[k] ?? '').padStart(7)}`);
  }
  const lag = r.dpmon.while_ten_panels as Record<string, unknown> | undefined;
  if (lag) lines.push(`dpmon while the ten ran: ${JSON.stringify(lag)}`);
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(JSON.stringify(await historyFigures(), null, 2) + '\n');

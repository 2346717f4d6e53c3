// Issue 23's memory figures: the peak resident memory of a query server (a child process, see
// test/harness/query-server.ts) holding 1,000 counters × 24 h at 15 s (5.76 M samples) in SQLite,
// while it answers one 24 h `sum(rate(x[5m]))` at a 5 m step, and ten different such queries sent at
// once (as a dashboard's panels), each over its own 100 series. With BENCH_QM_BEFORE=<git rev> (default: the merge base with main)
// the same figures are taken with that revision's src/ over the same data directory: before/after.
// Run alone: `node --import tsx bench/query-memory.ts` prints the JSON.
import { execFileSync } from 'node:child_process';
import { get as httpGet } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QS_END, rssPeak, startQueryServer, type QueryServerOptions } from '../test/harness/query-server.ts';

const SERIES = Number(process.env.BENCH_QM_SERIES ?? 1000);
const HOURS = 24;
const STEP_MS = 15_000;
const MB = 1024 * 1024;
const repo = fileURLToPath(new URL('..', import.meta.url));

const log = (msg: string) => process.stderr.write(`bench query-memory: ${msg}\n`);
const round = (x: number, d = 0) => Number(x.toFixed(d));

const ONE = 'sum(rate(qm_total[5m]))';
/** Ten dashboard panels, each over its own tenth of the series (`panel` label), each a different expression. */
const PANELS = [
  'sum(rate(qm_total{panel="0"}[5m]))',
  'sum by (instance) (rate(qm_total{panel="1"}[5m]))',
  'max(rate(qm_total{panel="2"}[5m]))',
  'avg(irate(qm_total{panel="3"}[5m]))',
  'sum(increase(qm_total{panel="4"}[10m]))',
  'quantile(0.9, rate(qm_total{panel="5"}[5m]))',
  'count(qm_total{panel="6"} > 100)',
  'sum(delta(qm_total{panel="7"}[15m]))',
  'topk(5, rate(qm_total{panel="8"}[5m]))',
  'sum(deriv(qm_total{panel="9"}[10m]))',
];

/** GET over node:http (fetch gives up on headers after 5 min; a busy box may take longer). */
function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    httpGet(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

async function rangeQuery(base: string, q: string): Promise<number> {
  const url = `${base}/api/v1/query_range?query=${encodeURIComponent(q)}&start=${(QS_END - HOURS * 3_600_000) / 1000}&end=${QS_END / 1000}&step=300`;
  const res = await get(url);
  const body = JSON.parse(res.body) as { status: string; error?: string };
  if (body.status !== 'success') throw new Error(`${q}: ${body.error}`);
  return res.status;
}

interface Figures {
  idle_rss_mb: number;
  one_query_peak_rss_mb: number;
  one_query_ms: number;
  ten_queries_peak_rss_mb: number;
  ten_queries_ms: number;
}

/** One scenario on a fresh server (so that each peak is its own, not the heap an earlier one grew). */
async function peakOf(opts: QueryServerOptions, env: NodeJS.ProcessEnv, run: (base: string) => Promise<unknown>) {
  const server = await startQueryServer({ ...opts, load: false }, env);
  try {
    // a first query warms the JIT and opens the store's statements: both sides are measured after it
    await get(`${server.base}/api/v1/query?query=${encodeURIComponent('count(qm_total)')}&time=${QS_END / 1000}`);
    await new Promise((r) => setTimeout(r, 1000));
    const idle = server.rss();
    const peak = rssPeak(server.rss);
    const t0 = performance.now();
    await run(server.base);
    return { idle, peak: peak.stop(), ms: performance.now() - t0 };
  } finally {
    await server.stop();
  }
}

async function measure(opts: QueryServerOptions, env: NodeJS.ProcessEnv = {}): Promise<Figures> {
  const one = await peakOf(opts, env, (base) => rangeQuery(base, ONE));
  const ten = await peakOf(opts, env, (base) => Promise.all(PANELS.map((q) => rangeQuery(base, q))));
  return {
    idle_rss_mb: round(one.idle / MB),
    one_query_peak_rss_mb: round(one.peak / MB),
    one_query_ms: round(one.ms),
    ten_queries_peak_rss_mb: round(ten.peak / MB),
    ten_queries_ms: round(ten.ms),
  };
}

/** src/ of `rev`, extracted beside node_modules (a symlink to this tree's). */
function checkout(rev: string, into: string): string {
  mkdirSync(into, { recursive: true });
  execFileSync('sh', ['-c', `git -C "${repo}" archive "${rev}" src | tar -x -C "${into}"`]);
  symlinkSync(join(repo, 'node_modules'), join(into, 'node_modules'));
  return join(into, 'src') + '/';
}

export async function queryMemoryFigures(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'dpmon-bench-qm-'));
  // memory is measured, not speed: a timeout long enough that ten queries at once on a busy box finish
  const opts: QueryServerOptions = { series: SERIES, hours: HOURS, stepMs: STEP_MS, dataDir: join(dir, 'data'), load: true, timeoutMs: 900_000 };
  mkdirSync(opts.dataDir);
  try {
    log(`loading ${SERIES} series × ${HOURS} h at ${STEP_MS / 1000} s`);
    const loading = await startQueryServer(opts);
    log(`loaded in ${round(loading.loadedMs)} ms`);
    await loading.stop();
    const after = await measure(opts);
    log(`after: ${JSON.stringify(after)}`);
    const rev = process.env.BENCH_QM_BEFORE ?? execFileSync('git', ['-C', repo, 'merge-base', 'HEAD', 'main'], { encoding: 'utf8' }).trim();
    let before: Figures | undefined;
    if (rev !== 'none') {
      before = await measure(opts, { QS_SRC: checkout(rev, join(dir, 'before')) });
      log(`before (${rev.slice(0, 12)}): ${JSON.stringify(before)}`);
    }
    return {
      query_memory: {
        series: SERIES,
        samples: SERIES * ((HOURS * 3_600_000) / STEP_MS + 1),
        query: `${ONE} over ${HOURS} h at a 5 m step; ten: ${PANELS.length} different expressions at once, each over its tenth of the series`,
        load_average: loadavg().map((x) => round(x, 1)),
        after,
        ...(before ? { before, before_rev: rev } : {}),
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.stdout.write(JSON.stringify(await queryMemoryFigures(), null, 2) + '\n');

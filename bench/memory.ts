// Issue 4's memory figure: bytes per active series holding 1 hour of 15 s samples, dpmon's history
// store against Prometheus for the same series, measured in one run. memoryFigures() starts Debian's
// Prometheus 2.42 with an empty TSDB and fills its head through remote write; dpmon's side runs in a
// child process (this file again, with --expose-gc and BENCH_MEMORY_CHILD=1) so that gc() is there.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../test/harness/process.ts';
import { startPrometheus } from '../test/harness/prometheus.ts';
import { encodeBody, type RemoteSample } from '../src/remote-write/encode.ts';
import { createManualClock } from '../src/lib/clock.ts';
import type { Labels } from '../src/model/labels.ts';
import { createSqliteStore } from '../src/store/sqlite-store.ts';
import type { StoredSample } from '../src/store/store.ts';

const PROMETHEUS = '/usr/bin/prometheus';
const SERIES = Number(process.env.BENCH_SERIES ?? 10_000);
const STEP = 15_000;
const HOUR = 3_600_000;
const POINTS = HOUR / STEP; // 240
const STEPS_PER_REQUEST = 10; // 10,000 series × 10 samples per remote-write request
const READINGS = 3;

const log = (msg: string) => process.stderr.write(`bench memory: ${msg}\n`);
const round = (x: number, d = 0) => Number(x.toFixed(d));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** The same series on both sides (the labels of bench/store.ts). */
function seriesLabels(): Labels[] {
  return Array.from({ length: SERIES }, (_, i) => ({
    __name__: 'bench_metric',
    instance: `host-${i % 100}:9100`,
    group: String(Math.floor(i / 1000)),
    series: String(i),
  }));
}
const value = (i: number, p: number) => (i * 7 + p) % 1000;

// ---------------------------------------------------------------- dpmon (child process)

/** heapUsed + arrayBuffers delta after gc, over the store holding the hour (as bench/store.ts). */
async function dpmonChild(firstT: number): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  const settled = () => {
    gc();
    gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const dir = mkdtempSync(join(tmpdir(), 'dpmon-bench-memory-'));
  try {
    const clock = createManualClock(firstT);
    const labels = seriesLabels();
    const batches: StoredSample[][] = [];
    for (let p = 0; p < POINTS; p++) batches.push(labels.map((l, i) => ({ labels: l, t: firstT + p * STEP, v: value(i, p) })));
    const before = settled();
    const store = createSqliteStore({
      dataDir: dir, clock, rawRetentionMs: 15 * 86_400_000, rollupWindowMs: 300_000, rollupRetentionMs: 30 * 86_400_000,
      flushIntervalMs: 0, headRetentionMs: HOUR,
    });
    for (const b of batches) store.append(b);
    await clock.advance(HOUR - STEP);
    store.flush(); // measured with the write buffer drained, as bench/store.ts
    const after = settled();
    const headPoints = store.stats().headPoints;
    await store.close();
    process.stdout.write(JSON.stringify({ bytes_per_series: (after - before) / SERIES, head_points: headPoints }) + '\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function measureDpmon(firstT: number): { bytes_per_series: number; head_points: number } {
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', new URL(import.meta.url).pathname], {
    encoding: 'utf8',
    env: { ...process.env, BENCH_MEMORY_CHILD: '1', BENCH_MEMORY_FIRST_T: String(firstT) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`dpmon memory child exited ${r.status}`);
  return JSON.parse(r.stdout) as { bytes_per_series: number; head_points: number };
}

// ---------------------------------------------------------------- Prometheus

async function scrapeGauge(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  // summed over label sets (2.42 labels samples_appended_total by type)
  const lines = text.split('\n').filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  if (!lines.length) throw new Error(`${name} not in Prometheus' /metrics`);
  return lines.reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

/** go_memstats_heap_inuse_bytes right after a forced GC (pprof's ?gc=1), median of READINGS. */
async function heapInuseAfterGc(base: string): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < READINGS; i++) {
    const r = await fetch(`${base}/debug/pprof/heap?gc=1`);
    if (!r.ok) throw new Error(`GET /debug/pprof/heap?gc=1: HTTP ${r.status}`);
    await r.arrayBuffer();
    xs.push(await scrapeGauge(base, 'go_memstats_heap_inuse_bytes'));
  }
  return median(xs);
}

async function measurePrometheus(firstT: number): Promise<{ bytes_per_series: number; head_series: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'dpmon-bench-prometheus-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const prometheus = await startPrometheus(PROMETHEUS, dir, port, ['--web.enable-remote-write-receiver']);
  try {
    const before = await heapInuseAfterGc(base);
    const labels = seriesLabels();
    log(`remote-writing ${SERIES} series × ${POINTS} samples to Prometheus`);
    // in time order: every request holds STEPS_PER_REQUEST consecutive steps of all series, so each
    // series' timestamps increase across requests (2.42 rejects out-of-order samples)
    for (let p0 = 0; p0 < POINTS; p0 += STEPS_PER_REQUEST) {
      const samples: RemoteSample[] = [];
      for (let i = 0; i < SERIES; i++)
        for (let p = p0; p < Math.min(POINTS, p0 + STEPS_PER_REQUEST); p++) samples.push({ labels: labels[i]!, t: firstT + p * STEP, v: value(i, p) });
      const r = await fetch(`${base}/api/v1/write`, {
        method: 'POST',
        headers: {
          'Content-Encoding': 'snappy',
          'Content-Type': 'application/x-protobuf',
          'X-Prometheus-Remote-Write-Version': '0.1.0',
        },
        body: encodeBody(samples),
      });
      if (r.status !== 204 && r.status !== 200) throw new Error(`remote write: HTTP ${r.status} ${await r.text()}`);
    }
    const headSeries = await scrapeGauge(base, 'prometheus_tsdb_head_series');
    const appended = await scrapeGauge(base, 'prometheus_tsdb_head_samples_appended_total');
    if (headSeries < SERIES || appended < SERIES * POINTS)
      throw new Error(`Prometheus' head holds ${headSeries} series, ${appended} samples appended`);
    const after = await heapInuseAfterGc(base);
    return { bytes_per_series: (after - before) / SERIES, head_series: headSeries };
  } finally {
    await prometheus.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function memoryFigures(): Promise<Record<string, unknown>> {
  if (!existsSync(PROMETHEUS)) return { memory: { skipped: `${PROMETHEUS} not installed (apt-get install prometheus)` } };
  log('measuring memory per series: Prometheus and dpmon');
  const firstT = Math.floor(Date.now() / STEP) * STEP - (POINTS - 1) * STEP; // the last sample is now
  const prometheus = await measurePrometheus(firstT);
  const dpmon = measureDpmon(firstT);
  return {
    memory: {
      series: SERIES,
      samples_per_series: POINTS,
      prometheus_bytes_per_series: round(prometheus.bytes_per_series),
      prometheus_method:
        `Prometheus 2.42 (${PROMETHEUS}), empty TSDB, no scrape jobs; ${SERIES} series × ${POINTS} samples (15 s, ending now) ` +
        `sent by remote write in time order; go_memstats_heap_inuse_bytes delta, each side read after GET /debug/pprof/heap?gc=1 ` +
        `(median of ${READINGS}); full head chunks are memory-mapped from disk by Prometheus and not in the heap`,
      dpmon_bytes_per_series: round(dpmon.bytes_per_series),
      dpmon_method: 'createSqliteStore, same series and samples, after flush(): heapUsed + arrayBuffers delta after gc() (child process, --expose-gc)',
      ratio_dpmon_to_prometheus: round(dpmon.bytes_per_series / prometheus.bytes_per_series, 3),
    },
  };
}

if (process.env.BENCH_MEMORY_CHILD === '1') await dpmonChild(Number(process.env.BENCH_MEMORY_FIRST_T));

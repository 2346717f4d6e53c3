// `node --expose-gc --import tsx bench/store.ts`: figures of the SQLite history store (src/store/),
// printed as one JSON document on stdout. Synthetic 15 s samples of SERIES series, one hour of them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createManualClock } from '../src/lib/clock.ts';
import type { Labels } from '../src/model/labels.ts';
import { createSqliteStore } from '../src/store/sqlite-store.ts';
import type { StoredSample } from '../src/store/store.ts';

const SERIES = Number(process.env.BENCH_SERIES ?? 10_000);
const STEP = 15_000;
const HOUR = 3_600_000;
const POINTS = HOUR / STEP; // 240
const QUERY_SERIES = 1000;
const gc = (globalThis as { gc?: () => void }).gc;
const log = (msg: string) => process.stderr.write(`bench store: ${msg}\n`);
const round = (x: number, d = 0) => Number(x.toFixed(d));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
function settledMemory(): number {
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const dir = mkdtempSync(join(tmpdir(), 'dpmon-bench-store-'));
try {
  const T0 = 1_700_000_000_000;
  const clock = createManualClock(T0);
  const opts = { dataDir: dir, clock, rawRetentionMs: 15 * 86_400_000, rollupWindowMs: 300_000, rollupRetentionMs: 30 * 86_400_000, flushIntervalMs: 0, headRetentionMs: HOUR };
  const labels: Labels[] = Array.from({ length: SERIES }, (_, i) => ({
    __name__: 'bench_metric',
    instance: `host-${i % 100}:9100`,
    group: String(Math.floor(i / QUERY_SERIES)),
    series: String(i),
  }));
  const batches: StoredSample[][] = [];
  for (let p = 0; p < POINTS; p++) batches.push(labels.map((l, i) => ({ labels: l, t: T0 + p * STEP, v: (i * 7 + p) % 1000 })));

  const memBefore = settledMemory();
  const store = createSqliteStore(opts);
  // 1. head appends (label objects reused, as a scheduler does)
  let t0 = performance.now();
  for (const b of batches) store.append(b);
  const appendMs = performance.now() - t0;
  const total = SERIES * POINTS;
  log(`appended ${total} samples in ${round(appendMs)} ms`);

  // 2. persistence: one flush of the whole hour (rollups of 11 closed windows included)
  await clock.advance(HOUR - STEP);
  t0 = performance.now();
  store.flush();
  const flushMs = performance.now() - t0;
  log(`flushed in ${round(flushMs)} ms`);

  // 3. memory per series holding an hour, measured with the write buffer drained
  const memAfter = settledMemory();
  const stats = store.stats();

  // 4. 1 h select over 1,000 series, from the head
  const matchers = [
    { name: '__name__', type: '=' as const, value: 'bench_metric' },
    { name: 'group', type: '=' as const, value: '3' },
  ];
  const headTimes: number[] = [];
  for (let i = 0; i < 20; i++) {
    t0 = performance.now();
    const r = store.select(matchers, T0, T0 + HOUR);
    headTimes.push(performance.now() - t0);
    if (r.length !== QUERY_SERIES || r[0]!.points.length !== POINTS) throw new Error('wrong select result');
  }
  await store.close();

  // 5. the same select answered from SQLite (reopened a day later: nothing reloaded into the head)
  await clock.advance(86_400_000);
  const cold = createSqliteStore(opts);
  const dbTimes: number[] = [];
  for (let i = 0; i < 5; i++) {
    t0 = performance.now();
    const r = cold.select(matchers, T0, T0 + HOUR);
    dbTimes.push(performance.now() - t0);
    if (r.length !== QUERY_SERIES || r[0]!.points.length !== POINTS) throw new Error('wrong select result from SQLite');
  }
  const rollupTimes: number[] = [];
  for (let i = 0; i < 5; i++) {
    t0 = performance.now();
    cold.selectRollup(matchers, 'avg', T0, T0 + HOUR);
    rollupTimes.push(performance.now() - t0);
  }
  await cold.close();

  process.stdout.write(
    `${JSON.stringify(
      {
        store: {
          series: SERIES,
          samples: total,
          head_append_samples_per_s: round(total / (appendMs / 1000)),
          persist_samples_per_s: round(total / (flushMs / 1000)),
          memory_bytes_per_series_1h_15s: gc ? round((memAfter - memBefore) / SERIES) : null,
          memory_note: gc ? 'heapUsed + arrayBuffers delta after gc, whole store state incl. labels and indexes' : 'run with --expose-gc',
          head_points: stats.headPoints,
          db_bytes: stats.dbBytes,
          db_bytes_per_sample: round(stats.dbBytes / total, 1),
          select_1h_1000_series_head_ms: round(median(headTimes), 1),
          select_1h_1000_series_sqlite_ms: round(median(dbTimes), 1),
          select_rollup_1h_1000_series_sqlite_ms: round(median(rollupTimes), 1),
        },
      },
      null,
      2,
    )}\n`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}

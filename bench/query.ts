// Query latency figures of issue 4 (`npm run bench`): `rate(x[5m])` over 1,000 series and a 24 h
// `query_range` at 5 m step, evaluated by createQueryEngine over a SQLite history store holding
// 1,000 counter series with 24 h of 15 s samples (the last hour in the head, the rest in SQLite).
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createManualClock } from '../src/lib/clock.ts';
import type { Labels } from '../src/model/labels.ts';
import { createQueryEngine } from '../src/query/index.ts';
import { createSqliteStore } from '../src/store/sqlite-store.ts';
import type { StoredSample } from '../src/store/store.ts';

const SERIES = 1000;
const STEP = 15_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const POINTS = DAY / STEP; // 5,760
const RUNS = 7;
const log = (msg: string) => process.stderr.write(`bench query: ${msg}\n`);
const round = (x: number, d = 1) => Number(x.toFixed(d));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function time(runs: number, fn: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

/**
 * The store's own read figures over the 24 h: select of every series and of one, cursors read to the
 * end when the store has them, and the database size per sample (WAL checkpointed first).
 */
async function storeReadFigures(store: ReturnType<typeof createSqliteStore>, end: number, dir: string): Promise<Record<string, number>> {
  const all = [{ name: '__name__', type: '=' as const, value: 'bench_requests_total' }];
  const one = [...all, { name: 'instance', type: '=' as const, value: 'i1' }];
  const start = end - DAY;
  let points = 0;
  const selectAllMs = await time(3, async () => {
    points = 0;
    for (const s of store.select(all, start, end)) points += s.points.length;
  });
  if (points !== SERIES * POINTS) throw new Error(`bench query: select returned ${points} points`);
  const selectOneMs = await time(RUNS, async () => store.select(one, start, end));
  // a reader asking 1-minute pieces of one series over the day, as the evaluator's piecewise read does
  const piecesMs = await time(3, async () => {
    for (let t = start; t <= end; t += 60_000) store.select(one, t, Math.min(end, t + 59_999));
  });
  const out: Record<string, number> = {
    store_select_24h_all_ms: round(selectAllMs),
    store_select_24h_one_series_ms: round(selectOneMs, 2),
    store_select_24h_one_series_1m_pieces_ms: round(piecesMs),
  };
  if (store.cursors) {
    out.store_cursors_24h_all_ms = round(
      await time(3, async () => {
        let n = 0;
        for (const c of store.cursors!(all, start, end)) for (let b = c.next(end); b.length > 0; b = c.next(end)) n += b.length;
        if (n !== SERIES * POINTS) throw new Error(`bench query: cursors returned ${n} points`);
      }),
    );
  }
  const size = (f: string) => (existsSync(f) ? statSync(f).size : 0);
  const db = join(dir, 'history.db');
  // the main file alone, and with the WAL (not yet checkpointed into it)
  out.store_db_bytes_per_sample = round(size(db) / (SERIES * POINTS), 2);
  out.store_db_wal_bytes_per_sample = round((size(db) + size(`${db}-wal`)) / (SERIES * POINTS), 2);
  // where the bytes are: pages per table (dbstat, when SQLite has it) and the chunks' own bytes
  const ro = new Database(db, { readonly: true });
  try {
    const hasChunks = ro.prepare("SELECT 1 FROM sqlite_master WHERE name = 'chunks'").get() !== undefined;
    if (hasChunks) out.store_chunk_data_bytes_per_sample = round((ro.prepare('SELECT sum(length(data)) FROM chunks').pluck().get() as number) / (SERIES * POINTS), 2);
    try {
      for (const r of ro.prepare('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name').all() as { name: string; bytes: number }[])
        if (['samples', 'chunks', 'rollups'].includes(r.name)) out[`store_table_${r.name}_bytes_per_sample`] = round(r.bytes / (SERIES * POINTS), 2);
    } catch {
      // SQLite built without dbstat
    }
    out.store_free_pages_bytes_per_sample = round(
      ((ro.pragma('freelist_count', { simple: true }) as number) * (ro.pragma('page_size', { simple: true }) as number)) / (SERIES * POINTS),
      2,
    );
  } finally {
    ro.close();
  }
  log(`store: ${JSON.stringify(out)}`);
  return out;
}

export async function queryFigures(): Promise<Record<string, unknown>> {
  log('measuring queries');
  const dir = mkdtempSync(join(tmpdir(), 'dpmon-bench-query-'));
  try {
    const T0 = 1_700_000_000_000;
    const end = T0 + (POINTS - 1) * STEP;
    const clock = createManualClock(T0);
    const store = createSqliteStore({
      dataDir: dir,
      clock,
      rawRetentionMs: 15 * 86_400_000,
      rollupWindowMs: 300_000,
      rollupRetentionMs: 30 * 86_400_000,
      flushIntervalMs: 0,
      headRetentionMs: HOUR,
    });
    try {
      // label objects reused across appends, as a scheduler does
      const labels: Labels[] = Array.from({ length: SERIES }, (_, i) => ({ __name__: 'bench_requests_total', instance: `i${i}` }));
      let t0 = performance.now();
      for (let p = 0; p < POINTS; p++) {
        const t = T0 + p * STEP;
        const batch: StoredSample[] = new Array(SERIES);
        // counters growing at a per-series rate of (i % 10 + 1) per second
        for (let i = 0; i < SERIES; i++) batch[i] = { labels: labels[i]!, t, v: (p * STEP * ((i % 10) + 1)) / 1000 };
        store.append(batch);
        // flushed every hour of data, as the store's timer would: one flush of the whole day would
        // exceed maxBufferedSamples (1,000,000) and drop the oldest samples unwritten
        if ((p + 1) % (HOUR / STEP) === 0) {
          await clock.advance(t - clock.now());
          store.flush();
        }
      }
      await clock.advance(end - clock.now());
      store.flush();
      const loadMs = performance.now() - t0;
      const samples = SERIES * POINTS;
      log(`loaded ${samples} samples in ${round(loadMs, 0)} ms`);
      const storeFigures = await storeReadFigures(store, end, dir);

      const engine = createQueryEngine(store);
      const check = (ok: boolean, what: string) => {
        if (!ok) throw new Error(`bench query: wrong result of ${what}`);
      };
      const rate = 'rate(bench_requests_total[5m])';
      const sumRate = 'sum(rate(bench_requests_total[5m]))';
      const oneSeries = 'rate(bench_requests_total{instance="i1"}[5m])';
      const start = end - DAY;
      const steps = DAY / 300_000 + 1; // 289

      const rateMs = await time(RUNS, async () => {
        const r = await engine.instant(rate, end);
        check(r.resultType === 'vector' && r.result.length === SERIES, rate);
      });
      log(`instant ${rate}: ${round(rateMs)} ms`);
      const sumMs = await time(RUNS, async () => {
        const r = await engine.instant(sumRate, end);
        check(r.resultType === 'vector' && r.result.length === 1, sumRate);
      });
      log(`instant ${sumRate}: ${round(sumMs)} ms`);
      const rangeSumMs = await time(RUNS, async () => {
        const r = await engine.range(sumRate, start, end, 300_000);
        // the first step is before the data (no samples in its 5 m window)
        check(r.resultType === 'matrix' && r.result.length === 1 && r.result[0]!.values.length >= steps - 1, `range ${sumRate}`);
      });
      log(`range 24h/5m ${sumRate}: ${round(rangeSumMs)} ms`);
      const rangeOneMs = await time(RUNS, async () => {
        const r = await engine.range(oneSeries, start, end, 300_000);
        check(r.resultType === 'matrix' && r.result.length === 1 && r.result[0]!.values.length >= steps - 1, `range ${oneSeries}`);
      });
      log(`range 24h/5m ${oneSeries}: ${round(rangeOneMs)} ms`);

      // shapes served from the rollups (docs/promql.md "Rollups in range queries"), against the same
      // query read raw (useRollups: false, timed over fewer runs: it is the slow path)
      const rawEngine = createQueryEngine(store, { useRollups: false });
      const maxOver = 'max_over_time(bench_requests_total[1h])';
      const avgOver = 'avg_over_time(bench_requests_total[1h])';
      // start and end on the 5 m grid, as dashboards align them to the step
      const aStart = Math.floor(start / 300_000) * 300_000;
      const aEnd = Math.floor(end / 300_000) * 300_000;
      const same = async (q: string, step: number) => {
        const a = await engine.range(q, aStart, aEnd, step);
        const b = await rawEngine.range(q, aStart, aEnd, step);
        check(JSON.stringify(a) === JSON.stringify(b) || q.startsWith('avg'), `rollups vs raw ${q}`);
        check(a.resultType === 'matrix' && a.result.length === (q.startsWith('sum') ? 1 : SERIES), `range ${q}`);
      };
      await same(maxOver, 300_000);
      await same(avgOver, HOUR);
      const maxRollupMs = await time(RUNS, () => engine.range(maxOver, aStart, aEnd, 300_000));
      const maxRawMs = await time(1, () => rawEngine.range(maxOver, aStart, aEnd, 300_000));
      log(`range 24h/5m ${maxOver}: ${round(maxRollupMs)} ms from rollups, ${round(maxRawMs)} ms raw`);
      const avgRollupMs = await time(RUNS, () => engine.range(avgOver, aStart, aEnd, HOUR));
      const avgRawMs = await time(1, () => rawEngine.range(avgOver, aStart, aEnd, HOUR));
      log(`range 24h/1h ${avgOver}: ${round(avgRollupMs)} ms from rollups, ${round(avgRawMs)} ms raw`);
      // sum(rate(x[5m])) on the grid: served from the counter windows (integer counters: equal to the bit)
      await same(sumRate, 300_000);
      const sumRateRollupMs = await time(RUNS, () => engine.range(sumRate, aStart, aEnd, 300_000));
      const sumRateRawMs = await time(1, () => rawEngine.range(sumRate, aStart, aEnd, 300_000));
      log(`range 24h/5m aligned ${sumRate}: ${round(sumRateRollupMs)} ms from rollups, ${round(sumRateRawMs)} ms raw`);
      // and over 1 h: 12 windows a step against 240 raw points
      const sumRate1h = 'sum(rate(bench_requests_total[1h]))';
      await same(sumRate1h, 300_000);
      const sumRate1hRollupMs = await time(RUNS, () => engine.range(sumRate1h, aStart, aEnd, 300_000));
      const sumRate1hRawMs = await time(1, () => rawEngine.range(sumRate1h, aStart, aEnd, 300_000));
      log(`range 24h/5m aligned ${sumRate1h}: ${round(sumRate1hRollupMs)} ms from rollups, ${round(sumRate1hRawMs)} ms raw`);

      return {
        query: {
          series: SERIES,
          samples,
          rate_5m_instant_ms: round(rateMs),
          sum_rate_instant_ms: round(sumMs),
          range_24h_step_5m_sum_ms: round(rangeSumMs),
          range_24h_step_5m_one_series_ms: round(rangeOneMs),
          range_24h_step_5m_max_over_time_1h_rollups_ms: round(maxRollupMs),
          range_24h_step_5m_max_over_time_1h_raw_ms: round(maxRawMs),
          range_24h_step_1h_avg_over_time_1h_rollups_ms: round(avgRollupMs),
          range_24h_step_1h_avg_over_time_1h_raw_ms: round(avgRawMs),
          range_24h_step_5m_aligned_sum_rate_5m_rollups_ms: round(sumRateRollupMs),
          range_24h_step_5m_aligned_sum_rate_5m_raw_ms: round(sumRateRawMs),
          range_24h_step_5m_aligned_sum_rate_1h_rollups_ms: round(sumRate1hRollupMs),
          range_24h_step_5m_aligned_sum_rate_1h_raw_ms: round(sumRate1hRawMs),
          load_ms: round(loadMs),
          ...storeFigures,
        },
      };
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

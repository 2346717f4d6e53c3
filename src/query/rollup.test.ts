// Range queries served from rollups (engine option useRollups) must answer as the raw evaluation does:
// exactly for min/max/count/last_over_time, within 1e-9 relative for avg_over_time. Generated data
// with scrape jitter, points exactly on window edges, gaps, stale markers and counter resets, over the
// memory store and the SQLite store (rollups read from its table and its head).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createManualClock } from '../lib/clock.ts';
import { STALE_NAN } from '../model/stale.ts';
import { createMemoryStore } from '../store/memory-store.ts';
import { createSqliteStore } from '../store/sqlite-store.ts';
import type { Store, StoredSample } from '../store/store.ts';
import { createQueryEngine, type QueryResult } from './index.ts';
import type { SampleValue } from './engine.ts';

const M = 60_000;
const H = 60 * M;
const W = 5 * M;
const T0 = 1_700_000_100_000; // a multiple of the window
const SPAN = 6 * H;

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Deterministic pseudo-random numbers (mulberry32). */
function rng(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generate(): StoredSample[][] {
  const r = rng(42);
  const batches: StoredSample[][] = [];
  const series = Array.from({ length: 18 }, (_, i) => ({
    // gauges, float counters, integer counters (their rates are exact to the bit)
    labels: { __name__: i < 6 ? 'g' : i < 12 ? 'c_total' : 'ci_total', instance: `i${i}` },
    // intervals: 15 s on the window grid (points exactly on edges), jittered 10–20 s, or sparse 2–7 min
    kind: i % 3,
    v: 0,
    t: T0 + (i % 3 === 1 ? Math.floor(r() * 15_000) : 0),
  }));
  for (;;) {
    const batch: StoredSample[] = [];
    for (const s of series) {
      if (s.t > T0 + SPAN) continue;
      const counter = s.labels.__name__ !== 'g';
      if (s.labels.__name__ === 'ci_total') s.v = r() < 0.01 ? Math.floor(r() * 10) : s.v + Math.floor(r() * 5); // occasional reset, repeated values
      else if (counter) s.v = r() < 0.01 ? r() * 10 : s.v + r() * 5; // occasional reset
      else s.v = Math.round((r() * 200 - 100) * 1000) / 1000 + (r() < 0.05 ? 1e6 : 0); // spikes, ties likely on edges
      // a gap with a stale marker in the middle of some series
      if ((s.labels.instance === 'i3' || s.labels.instance === 'i15') && s.t > T0 + 2 * H && s.t < T0 + 2 * H + 20 * M) batch.push({ labels: s.labels, t: s.t, v: STALE_NAN });
      // one NaN in a counter: the rollups cannot say what rate does with it, so its queries read raw
      else if (s.labels.instance === 'i17' && s.t > T0 + 4 * H && s.t <= T0 + 4 * H + 20_000) batch.push({ labels: s.labels, t: s.t, v: NaN });
      else batch.push({ labels: s.labels, t: s.t, v: s.v });
      s.t += s.kind === 0 ? 15_000 : s.kind === 1 ? 10_000 + Math.floor(r() * 10_000) : 120_000 + Math.floor(r() * 300_000);
    }
    if (batch.length === 0) break;
    batches.push(batch);
  }
  return batches;
}

async function stores(): Promise<{ name: string; store: Store }[]> {
  const batches = generate();
  const memory = createMemoryStore({ rollupWindowMs: W });
  for (const b of batches) memory.append(b);
  const dir = mkdtempSync(join(tmpdir(), 'dpmon-rollup-q-'));
  dirs.push(dir);
  const clock = createManualClock(T0);
  const sqlite = createSqliteStore({
    dataDir: dir,
    clock,
    rawRetentionMs: 15 * 24 * H,
    rollupWindowMs: W,
    rollupRetentionMs: 30 * 24 * H,
    flushIntervalMs: 0,
    headRetentionMs: H, // the last hour in the head, the rest rolled up in SQLite
  });
  for (const b of batches) sqlite.append(b);
  await clock.advance(SPAN + M);
  sqlite.flush();
  return [
    { name: 'memory', store: memory },
    { name: 'sqlite', store: sqlite },
  ];
}

/**
 * Counts selectRollup and selectCounterWindows calls, to show which queries the rollups served, and
 * raw reads opened (cursors, or series for a store without them: cursorsOf asks it once per reader).
 */
function counting(store: Store) {
  const c = { rollups: 0, counterWindows: 0, rawReads: 0 };
  const wrapped: Store = {
    ...store,
    selectRollup: (...a) => (c.rollups++, store.selectRollup(...a)),
    selectCounterWindows: (...a) => (c.counterWindows++, store.selectCounterWindows!(...a)),
  };
  if (store.cursors) wrapped.cursors = (...a) => (c.rawReads++, store.cursors!(...a));
  else wrapped.series = (...a) => (c.rawReads++, store.series(...a));
  return { wrapped, c };
}

function assertSame(got: QueryResult, want: QueryResult, relTol: number, what: string) {
  assert.equal(got.resultType, 'matrix', what);
  assert.equal(want.resultType, 'matrix', what);
  if (got.resultType !== 'matrix' || want.resultType !== 'matrix') return;
  assert.deepEqual(got.result.map((s) => s.metric), want.result.map((s) => s.metric), what);
  for (let i = 0; i < want.result.length; i++) {
    const g: SampleValue[] = got.result[i]!.values;
    const w: SampleValue[] = want.result[i]!.values;
    assert.deepEqual(g.map((p) => p[0]), w.map((p) => p[0]), what);
    for (let j = 0; j < w.length; j++) {
      if (relTol === 0) assert.equal(g[j]![1], w[j]![1], `${what} at ${w[j]![0]}`);
      else {
        const a = Number(g[j]![1]);
        const b = Number(w[j]![1]);
        assert.ok(Math.abs(a - b) <= relTol * Math.max(1, Math.abs(b)), `${what} at ${w[j]![0]}: ${a} vs ${b}`);
      }
    }
  }
}

const FNS = ['avg_over_time', 'max_over_time', 'min_over_time', 'count_over_time', 'last_over_time'];

describe('range queries from rollups', async () => {
  const all = await stores();
  after(async () => {
    for (const s of all) await s.store.close();
  });
  for (const { name, store } of all) {
    it(`${name}: window-aligned shapes are served from rollups and equal the raw answers`, async () => {
      const raw = createQueryEngine(store, { useRollups: false });
      let served = 0;
      for (const fn of FNS)
        for (const sel of ['g', 'c_total', '{__name__=~"g|c_total"}'])
          for (const range of ['10m', '1h', '35m'])
            for (const [start, end, step] of [
              [T0, T0 + SPAN, W],
              [T0 + H, T0 + SPAN + H, 3 * W], // past the data's end
              [T0 + 30 * M, T0 + 5 * H, H],
            ] as const)
              for (const offset of ['', ' offset 10m']) {
                const q = `${fn}(${sel}[${range}]${offset})`;
                const { wrapped, c } = counting(store);
                const fast = createQueryEngine(wrapped, { rollupWindowMs: W });
                const want = await raw.range(q, start, end, step);
                assertSame(await fast.range(q, start, end, step), want, fn === 'avg_over_time' ? 1e-9 : 0, q);
                // count_over_time reads its counts from the counter windows
                if (c.rollups + c.counterWindows > 0) served++;
                // also inside expressions
                const q2 = `sum by (instance) (${q}) * 2`;
                assertSame(await fast.range(q2, start, end, step), await raw.range(q2, start, end, step), fn === 'avg_over_time' ? 1e-9 : 0, q2);
              }
      // every shape above is eligible; the few that fall back (left-edge point the window's extreme) stay raw
      assert.ok(served >= FNS.length * 3 * 3 * 3 * 2 * 0.9, `served from rollups: ${served}`);
    });
    it(`${name}: unaligned or short shapes stay raw and equal the raw answers`, async () => {
      const raw = createQueryEngine(store, { useRollups: false });
      for (const fn of FNS)
        for (const [range, start, step] of [
          ['1h', T0 + 1000, W], // start off the grid
          ['1h', T0, 4 * M], // step shorter than the window
          ['1h', T0, 7 * M], // step not a multiple
          ['7m', T0, W], // range not a multiple
          ['5m', T0, W], // a single window
        ] as const) {
          const q = `${fn}(g[${range}])`;
          const { wrapped, c } = counting(store);
          const fast = createQueryEngine(wrapped, { rollupWindowMs: W });
          assertSame(await fast.range(q, start, T0 + SPAN, step), await raw.range(q, start, T0 + SPAN, step), 0, q);
          assert.equal(c.rollups + c.counterWindows, 0, q);
        }
      // instant queries and other functions never read rollups
      const { wrapped, c } = counting(store);
      const fast = createQueryEngine(wrapped, { rollupWindowMs: W });
      await fast.instant('max_over_time(g[1h])', T0 + 3 * H);
      await fast.range('irate(c_total[1h]) + delta(c_total[1h]) + sum_over_time(g[1h]) + quantile_over_time(0.5, g[1h])', T0, T0 + SPAN, W);
      await fast.instant('rate(c_total[1h])', T0 + 3 * H);
      // rate over a single window reads raw: its rollup row costs more than its raw points
      assertSame(await fast.range('rate(c_total[5m])', T0, T0 + SPAN, W), await raw.range('rate(c_total[5m])', T0, T0 + SPAN, W), 0, 'rate(c_total[5m])');
      assert.equal(c.rollups + c.counterWindows, 0);
    });
    it(`${name}: window-aligned rate and increase are served from counter windows and equal the raw answers`, async () => {
      const raw = createQueryEngine(store, { useRollups: false });
      let served = 0;
      let shapes = 0;
      for (const fn of ['rate', 'increase'])
        for (const sel of ['c_total', 'ci_total', '{__name__=~"c.*_total"}'])
          for (const range of ['10m', '1h', '35m'])
            for (const [start, end, step] of [
              [T0, T0 + SPAN, W],
              [T0 + H, T0 + SPAN + H, 3 * W], // past the data's end
              [T0 + 30 * M, T0 + 5 * H, H],
            ] as const)
              for (const offset of ['', ' offset 10m']) {
                const q = `${fn}(${sel}[${range}]${offset})`;
                const { wrapped, c } = counting(store);
                const fast = createQueryEngine(wrapped, { rollupWindowMs: W });
                // integer counters exactly; float increases are summed in another order
                const tol = sel === 'ci_total' ? 0 : 1e-9;
                assertSame(await fast.range(q, start, end, step), await raw.range(q, start, end, step), tol, q);
                assert.ok(c.counterWindows >= 1, q);
                shapes++;
                // at most one read of points after left edges, no raw reader: served from the counter windows throughout
                if (c.rawReads <= 1) served++;
                else assert.ok(sel.startsWith('{'), `${q} read raw: only the selector with the NaN counter gives up`);
                const q2 = `sum by (instance) (${q}) * 2`;
                assertSame(await fast.range(q2, start, end, step), await raw.range(q2, start, end, step), tol, q2);
              }
      assert.ok(served >= (shapes * 2) / 3, `served from counter windows: ${served} of ${shapes}`);
    });
    it(`${name}: without counter windows, *_over_time reads the edge points raw in one pass and rate stays raw`, async () => {
      const raw = createQueryEngine(store, { useRollups: false });
      const { wrapped, c } = counting({ ...store, selectCounterWindows: undefined });
      delete wrapped.selectCounterWindows;
      const fast = createQueryEngine(wrapped, { rollupWindowMs: W });
      for (const fn of ['max_over_time', 'avg_over_time', 'count_over_time', 'last_over_time'])
        for (const [start, step] of [
          [T0, W],
          [T0 + 30 * M, H],
        ] as const) {
          const q = `${fn}({__name__=~"g|c_total"}[1h])`;
          const before = { ...c };
          assertSame(await fast.range(q, start, T0 + SPAN, step), await raw.range(q, start, T0 + SPAN, step), fn === 'avg_over_time' ? 1e-9 : 0, q);
          assert.ok(c.rollups > before.rollups, q);
        }
      const q = 'rate(c_total[1h])';
      assertSame(await fast.range(q, T0, T0 + SPAN, W), await raw.range(q, T0, T0 + SPAN, W), 0, q);
    });
    it(`${name}: rate over unaligned shapes stays raw`, async () => {
      const raw = createQueryEngine(store, { useRollups: false });
      for (const [range, start, step] of [
        ['1h', T0 + 1000, W],
        ['1h', T0, 4 * M],
        ['7m', T0, W],
        ['4m', T0, W], // shorter than a window
      ] as const) {
        const q = `rate(c_total[${range}])`;
        const { wrapped, c } = counting(store);
        const fast = createQueryEngine(wrapped, { rollupWindowMs: W });
        assertSame(await fast.range(q, start, T0 + SPAN, step), await raw.range(q, start, T0 + SPAN, step), 0, q);
        assert.equal(c.counterWindows, 0, q);
      }
    });
  }
});

// Range queries read every selector once, forward as the steps advance, and evaluate the steps on
// windows of what was read. These tests pin that down: the store reads (how many, over which span), and the
// answers, which must be exactly those of evaluating each step on its own — an instant query at the
// step's time reads only its own window from the store, so it is the step-by-step reference.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Matcher } from '../model/matcher.ts';
import { STALE_NAN } from '../model/stale.ts';
import { createMemoryStore } from '../store/memory-store.ts';
import type { Store, StoredSample } from '../store/store.ts';
import { labelsId } from './engine.ts';
import { createQueryEngine } from './index.ts';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const T0 = 1_700_000_100_000; // a multiple of 5m

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

/**
 * 3 h of gauges `g` (i0–i3) and counters `c_total` (c0–c3): 15 s on the minute grid (points exactly
 * on window edges), jittered 10–20 s, sparse 1–4 min; NaN values, counter resets, and a gap closed by
 * a stale marker and reopened.
 */
function generated(): Store {
  const r = rng(7);
  const store = createMemoryStore();
  for (let i = 0; i < 8; i++) {
    const counter = i >= 4;
    const labels = { __name__: counter ? 'c_total' : 'g', instance: `${counter ? 'c' : 'i'}${i % 4}` };
    const kind = i % 3;
    const samples: StoredSample[] = [];
    let v = 0;
    for (let t = T0 + (kind === 1 ? Math.floor(r() * 15 * S) : 0); t <= T0 + 3 * H; ) {
      if (counter) v = r() < 0.02 ? r() * 10 : v + r() * 5;
      else v = r() < 0.02 ? NaN : Math.round(r() * 2000 - 1000) / 10;
      const inGap = i % 4 === 1 && t > T0 + H && t < T0 + H + 12 * M;
      if (!inGap) samples.push({ labels, t, v });
      else if (samples.at(-1)?.v === samples.at(-1)?.v) samples.push({ labels, t, v: STALE_NAN }); // one marker opens the gap
      t += kind === 0 ? 15 * S : kind === 1 ? 10 * S + Math.floor(r() * 10 * S) : M + Math.floor(r() * 3 * M);
    }
    store.append(samples);
  }
  return store;
}

/** The range query's answer built from one instant query per step. */
async function stepByStep(engine: ReturnType<typeof createQueryEngine>, q: string, start: number, end: number, step: number) {
  const out = new Map<string, { metric: Record<string, string>; values: [number, string][] }>();
  const add = (metric: Record<string, string>, p: [number, string]) => {
    const id = labelsId(metric);
    let s = out.get(id);
    if (!s) out.set(id, (s = { metric, values: [] }));
    s.values.push(p);
  };
  for (let ts = start; ts <= end; ts += step) {
    const r = await engine.instant(q, ts);
    if (r.resultType === 'scalar') add({}, r.result);
    else if (r.resultType === 'vector') for (const s of r.result) add(s.metric, s.value);
    else assert.fail(`unexpected ${r.resultType}`);
  }
  return out;
}

async function assertStepByStep(engine: ReturnType<typeof createQueryEngine>, q: string, start: number, end: number, step: number) {
  const what = `${q} from ${start - T0} step ${step}`;
  const want = await stepByStep(engine, q, start, end, step);
  const got = await engine.range(q, start, end, step);
  assert.equal(got.resultType, 'matrix', what);
  if (got.resultType !== 'matrix') return;
  assert.deepEqual(new Set(got.result.map((s) => labelsId(s.metric))), new Set(want.keys()), what);
  for (const s of got.result) assert.deepEqual(s.values, want.get(labelsId(s.metric))!.values, `${what} ${labelsId(s.metric)}`);
}

/** Records every store read. */
function recording(store: Store) {
  const reads: { fn: string; matchers: readonly Matcher[]; start: number; end: number }[] = [];
  const wrapped: Store = {
    ...store,
    select: (m, start, end) => (reads.push({ fn: 'raw', matchers: m, start, end }), store.select(m, start, end)),
    selectRollup: (m, fn, start, end) => (reads.push({ fn, matchers: m, start, end }), store.selectRollup(m, fn, start, end)),
    selectCounterWindows: (m, start, end) => (reads.push({ fn: 'counter', matchers: m, start, end }), store.selectCounterWindows!(m, start, end)),
  };
  return { wrapped, reads };
}

const nameOf = (m: readonly Matcher[]) => m.find((x) => x.name === '__name__')?.value;

const EXPRS = [
  'g',
  'g offset 5m',
  'c_total offset -2m',
  'rate(c_total[5m])',
  'irate(c_total[2m] offset 1m)',
  'increase(c_total[10m] offset -3m)',
  'delta(g[5m] offset 37s)',
  'deriv(g[7m])',
  'predict_linear(g[10m], 600)',
  'avg_over_time(g[5m])',
  'min_over_time(g[3m] offset 30s)',
  'max_over_time(g[5m] offset -5m)',
  'sum_over_time(g[4m])',
  'count_over_time({__name__=~"g|c_total"}[5m] offset 2m)',
  'last_over_time(g[2m])',
  'quantile_over_time(0.3, g[6m])',
  'absent_over_time(g{instance="i1"}[1m])',
  'absent(g{instance="i1"})',
  'sum by (instance) (rate(c_total[5m]))',
  'topk(2, g)',
  'g > 0',
  'g + ignoring(instance) group_left sum(c_total offset 1m)',
  'label_replace(g, "n", "$1", "instance", "i(.*)")',
  'rate(c_total[5m]) * 60 - scalar(count(g))',
  'scalar(sum(c_total))',
  'avg without (instance) (g) and on() vector(1)',
  'max_over_time(rate(c_total[5m])[30m:1m])',
  'sum_over_time(g[10m:45s] offset 3m)',
  'rate(c_total[7m:]) - deriv(avg_over_time(g[2m])[10m:2m] offset -1m)',
  'min_over_time(max_over_time(g[3m:30s])[20m:4m])',
  `g @ ${(T0 + 90 * M) / S}`,
  `count_over_time(g[10m] offset 1m @ ${(T0 + H) / S})`,
];

describe('range query reads', () => {
  it('reads each raw selector once, over [start - offset - range or lookback, end - offset]', async () => {
    const { wrapped, reads } = recording(generated());
    const start = T0 + H;
    const end = T0 + 2 * H;
    await createQueryEngine(wrapped).range('sum(rate(c_total[5m] offset 2m)) + sum(g offset -1m)', start, end, M);
    // each selector is read forward as the steps advance, in consecutive pieces of time (the
    // selectors' pieces interleave): joined per selector, they are one read of its span
    const joined: [string, string | undefined, number, number][] = [];
    for (const r of reads) {
      const last = joined.find((j) => j[0] === r.fn && j[1] === nameOf(r.matchers));
      if (last) {
        assert.equal(r.start, last[3] + 1, `${nameOf(r.matchers)}: the next piece starts where the last ended`);
        last[3] = r.end;
      } else joined.push([r.fn, nameOf(r.matchers), r.start, r.end]);
    }
    assert.deepEqual(
      joined,
      [
        ['raw', 'c_total', start - 2 * M - 5 * M, end - 2 * M],
        ['raw', 'g', start + M - 5 * M, end + M],
      ],
    );
  });

  it("reads a subquery's selector once, over the span of all its steps: [start - offset - range (aligned) - window, end - offset]", async () => {
    const { wrapped, reads } = recording(generated());
    const start = T0 + H;
    const end = T0 + 2 * H;
    await createQueryEngine(wrapped).range('max_over_time(rate(c_total[5m] offset 1m)[30m:1m] offset 2m)', start, end, M);
    // the subquery's first step is the first minute after start - 2m - 30m; rate's window reaches 6m before it
    assert.equal(reads[0]!.start, start - 31 * M - 6 * M);
    assert.equal(reads.at(-1)!.end, end - 3 * M);
    for (let i = 1; i < reads.length; i++) assert.equal(reads[i]!.start, reads[i - 1]!.end + 1);
    assert.ok(reads.every((r) => nameOf(r.matchers) === 'c_total'));
  });

  it('reads a selector with @ over its one fixed window, whatever the query range', async () => {
    const { wrapped, reads } = recording(generated());
    const at = T0 + 30 * M;
    await createQueryEngine(wrapped).range(`g @ ${at / S} + sum_over_time(c_total[10m] @ end())`, T0 + H, T0 + 2 * H, M);
    assert.deepEqual(
      reads.map((r) => [nameOf(r.matchers), r.start, r.end]),
      [
        ['g', at - 5 * M, at],
        ['c_total', T0 + 2 * H - 10 * M, T0 + 2 * H],
      ],
    );
  });

  it('reads a rollup-served selector before the first step: counter windows (counts and edge points) and its rollups, no raw point', async () => {
    const store = createMemoryStore({ rollupWindowMs: 5 * M });
    const samples: StoredSample[] = [];
    for (let t = T0; t <= T0 + 3 * H; t += 15 * S) samples.push({ labels: { __name__: 'up_g', job: 'a' }, t, v: (t - T0) / S });
    store.append(samples);
    const { wrapped, reads } = recording(store);
    const r = await createQueryEngine(wrapped, { rollupWindowMs: 5 * M }).range('max_over_time(up_g[1h])', T0 + H, T0 + 3 * H, 5 * M);
    // 25 steps from 1 h to 3 h: windows from 0 h to 3 h, the last one for the point on the last step's
    // end; the counter windows in pieces of 3 h
    assert.deepEqual(
      reads.map((x) => [x.fn, (x.start - T0) / M, (x.end - T0) / M]),
      [
        ['counter', 0, 175],
        ['counter', 180, 180],
        ['max', 0, 175],
      ],
    );
    assert.equal(r.resultType, 'matrix');
    if (r.resultType === 'matrix') assert.deepEqual(r.result[0]!.values.at(-1), [(T0 + 3 * H) / S, String(3 * 3600)]);
  });

  it('a range selector excludes a point exactly on the span start and includes one exactly on its end', async () => {
    const store = createMemoryStore();
    const labels = { __name__: 'e' };
    const start = T0 + 10 * M;
    const end = T0 + 20 * M;
    // offset 30s, range 1m: the span is (start - 90s, end - 30s]
    store.append([
      { labels, t: start - 90 * S, v: 1 }, // on the left edge: outside the first window
      { labels, t: start - 90 * S + 1, v: 2 },
      { labels, t: start - 30 * S, v: 3 }, // on the first window's right edge: inside
      { labels, t: end - 30 * S, v: 4 }, // the span's end: inside the last window
      { labels, t: end - 30 * S + 1, v: 5 }, // after it: never read
    ]);
    const { wrapped, reads } = recording(store);
    const engine = createQueryEngine(wrapped);
    const q = 'count_over_time(e[1m] offset 30s)';
    const r = await engine.range(q, start, end, 10 * M);
    assert.deepEqual(r, { resultType: 'matrix', result: [{ metric: {}, values: [[start / S, '2'], [end / S, '1']] }] });
    // read in consecutive pieces of time: joined, they span exactly [start - 90s, end - 30s]
    assert.equal(reads[0]!.start, start - 90 * S);
    assert.equal(reads.at(-1)!.end, end - 30 * S);
    for (let i = 1; i < reads.length; i++) assert.equal(reads[i]!.start, reads[i - 1]!.end + 1);
    await assertStepByStep(createQueryEngine(store), q, start, end, 10 * M);
    await assertStepByStep(createQueryEngine(store), 'last_over_time(e[1m] offset 30s)', start, end, 10 * M);
  });

  for (const [label, start, end, step] of [
    ['step 1m (windows overlap)', T0 + 7 * M, T0 + 3 * H, M],
    ['step 7.5m past the data (windows apart)', T0 - 10 * M, T0 + 3 * H + 20 * M, 450 * S],
    ['step 15s unaligned', T0 + H - 7 * S, T0 + H + 30 * M, 15 * S],
  ] as const)
    it(`answers exactly like step-by-step evaluation: ${label}`, async () => {
      const store = generated();
      const engine = createQueryEngine(store, { useRollups: false });
      for (const q of EXPRS) await assertStepByStep(engine, q, start, end, step);
    });

  it('answers window-aligned rollup shapes like step-by-step raw evaluation', async () => {
    const store = generated();
    const engine = createQueryEngine(store, { rollupWindowMs: 5 * M });
    // inside a subquery or under @ the same shapes read raw (rollups are planned for the query's steps)
    for (const q of ['min_over_time(g[10m])', 'count_over_time(c_total[15m] offset 5m)', 'last_over_time(g[10m])', 'max_over_time(max_over_time(g[10m])[20m:5m])', `avg_over_time(g[10m] @ ${(T0 + 50 * M) / S})`])
      await assertStepByStep(engine, q, T0 + 20 * M, T0 + 3 * H, 5 * M);
  });
});

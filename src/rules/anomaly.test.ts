import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  createAnomalyEvaluator,
  DEFAULT_ANOMALY_OPTIONS,
  evaluateAnomaly,
  levelOffsets,
  historyRanges,
  isWarmingUp,
  resolveAnomalyOptions,
  scoreAnomaly,
  seasonalBaseline,
  type AnomalyOptions,
  type Baseline,
  type WarmingUp,
} from './anomaly.ts';
import { createMemoryStore } from '../store/memory-store.ts';
import { STALE_NAN } from '../model/stale.ts';
import type { Point, Store, StoredSample } from '../store/store.ts';

const MIN = 60_000;
const STEP = 5 * MIN;
const DAY = 86_400_000;
const WEEK = 7 * DAY;
const T0 = Date.UTC(2026, 0, 5); // a Monday, 00:00 UTC

/** mulberry32: a small seeded PRNG, so every run sees the same noise */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(rand: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/** weekly + daily seasonality: 100 ± 30 over the day, ± 10 over the week */
const seasonal = (t: number) => 100 + 30 * Math.sin((2 * Math.PI * (t - T0)) / DAY) + 10 * Math.sin((2 * Math.PI * (t - T0)) / WEEK);

/** 5-minute points from T0 for `weeks` weeks: f(t) plus Gaussian noise of σ `sigma` */
function series(weeks: number, f: (t: number) => number, sigma: number, seed = 1): Point[] {
  const noise = gaussian(prng(seed));
  const out: Point[] = [];
  for (let t = T0; t < T0 + weeks * WEEK; t += STEP) out.push({ t, v: f(t) + sigma * noise() });
  return out;
}

/** the history with the point at `at` replaced by v (history before `at` is what the baseline sees) */
function withValueAt(history: Point[], at: number, v: number): Point[] {
  return history.map((p) => (p.t === at ? { t: at, v } : p));
}

function baselineOf(history: readonly Point[], at: number, opts: Partial<AnomalyOptions> = {}): Baseline {
  const b = seasonalBaseline(history, at, opts);
  assert.ok(!isWarmingUp(b), `expected a baseline, got ${JSON.stringify(b)}`);
  return b;
}

describe('resolveAnomalyOptions', () => {
  it('fills in the documented defaults', () => {
    assert.deepEqual(resolveAnomalyOptions(), {
      seasonMs: WEEK,
      bucketMs: 3_600_000,
      lookbackSeasons: 4,
      minSeasons: 2,
      minSamples: 12,
      threshold: 3.5,
      minMadRelative: 0.01,
      minMadAbsolute: 0.001,
      levelWindowMs: DAY,
      levelRefreshMs: 3_600_000,
      side: 'both',
      rollupWindowMs: STEP,
      current: 'avg',
    });
  });

  it('ignores options given as undefined', () => {
    assert.equal(resolveAnomalyOptions({ threshold: undefined }).threshold, 3.5);
  });

  const invalid: [Partial<AnomalyOptions>, RegExp][] = [
    [{ seasonMs: 0 }, /seasonMs must be a positive number/],
    [{ bucketMs: WEEK }, /bucketMs .* must be shorter than seasonMs/],
    [{ threshold: -1 }, /threshold must be a positive number/],
    [{ lookbackSeasons: 0, minSeasons: 0 }, /lookbackSeasons must be an integer ≥ 1/],
    [{ lookbackSeasons: 1.5 }, /lookbackSeasons must be an integer/],
    [{ minSeasons: 5 }, /minSeasons \(5\) cannot exceed lookbackSeasons \(4\)/],
    [{ minSamples: 0 }, /minSamples must be an integer ≥ 1/],
    [{ minMadAbsolute: 0 }, /minMadAbsolute must be a positive number/],
    [{ minMadRelative: -0.1 }, /minMadRelative must be ≥ 0/],
    [{ levelWindowMs: WEEK }, /levelWindowMs must be ≥ 0 and shorter than seasonMs/],
    [{ levelRefreshMs: -1 }, /levelRefreshMs must be ≥ 0/],
    [{ side: 'up' as never }, /side must be both, high or low/],
    [{ current: 'max' as never }, /current must be avg or last/],
  ];
  for (const [opts, message] of invalid)
    it(`refuses ${JSON.stringify(opts)}`, () => {
      assert.throws(() => resolveAnomalyOptions(opts), (err: unknown) => err instanceof RangeError && message.test(err.message));
    });
});

describe('scoreAnomaly', () => {
  const baseline: Baseline = { median: 100, mad: 10, scale: 14.826, lower: 48.1, upper: 151.9, samples: 48, seasons: 4 };
  const cases: { value: number; opts?: Partial<AnomalyOptions>; anomalous: boolean; direction: 'high' | 'low'; score: number }[] = [
    { value: 100, anomalous: false, direction: 'high', score: 0 },
    { value: 150, anomalous: false, direction: 'high', score: 50 / 14.826 },
    { value: 152, anomalous: true, direction: 'high', score: 52 / 14.826 },
    { value: 48, anomalous: true, direction: 'low', score: -52 / 14.826 },
    { value: 48, opts: { side: 'high' }, anomalous: false, direction: 'low', score: -52 / 14.826 },
    { value: 152, opts: { side: 'low' }, anomalous: false, direction: 'high', score: 52 / 14.826 },
    { value: 48, opts: { side: 'low' }, anomalous: true, direction: 'low', score: -52 / 14.826 },
    { value: 140, opts: { threshold: 2 }, anomalous: true, direction: 'high', score: 40 / 14.826 },
  ];
  for (const c of cases)
    it(`scores ${c.value} with ${JSON.stringify(c.opts ?? {})} as ${c.anomalous ? 'anomalous' : 'normal'} (${c.direction})`, () => {
      const r = scoreAnomaly(c.value, baseline, c.opts);
      assert.equal(r.anomalous, c.anomalous);
      assert.equal(r.direction, c.direction);
      assert.ok(Math.abs(r.score - c.score) < 1e-9, `score ${r.score}, expected ${c.score}`);
    });

  it('gives no verdict for a value that is not a number', () => {
    const r = scoreAnomaly(NaN, baseline);
    assert.equal(r.anomalous, false);
    assert.ok(Number.isNaN(r.score));
  });
});

describe('seasonalBaseline warm-up', () => {
  const full = series(3, () => 50, 1);
  const at = T0 + 2 * WEEK + 12 * 3_600_000; // Wednesday noon of the third week
  const cases: { name: string; history: Point[]; opts?: Partial<AnomalyOptions>; expect: Omit<WarmingUp, 'warmingUp'> | 'baseline' }[] = [
    { name: 'no history at all', history: [], expect: { reason: 'seasons', have: 0, need: 2 } },
    { name: 'less than one season', history: full.filter((p) => p.t >= T0 + 2 * WEEK), expect: { reason: 'seasons', have: 0, need: 2 } },
    { name: 'one season', history: full.filter((p) => p.t >= T0 + WEEK), expect: { reason: 'seasons', have: 1, need: 2 } },
    { name: 'two seasons', history: full, expect: 'baseline' },
    { name: 'one season when one is enough', history: full.filter((p) => p.t >= T0 + WEEK), opts: { minSeasons: 1 }, expect: 'baseline' },
    {
      name: 'two seasons with a sparse bucket (one point in each)',
      history: full.filter((p) => [1, 2].every((k) => Math.abs(p.t - (at - k * WEEK)) > 30 * MIN || p.t === at - k * WEEK)),
      expect: { reason: 'samples', have: 2, need: 12 },
    },
  ];
  for (const c of cases)
    it(`${c.expect === 'baseline' ? 'gives a baseline' : 'is warming up'} with ${c.name}`, () => {
      const b = seasonalBaseline(c.history, at, c.opts);
      if (c.expect === 'baseline') assert.ok(!isWarmingUp(b), JSON.stringify(b));
      else assert.deepEqual(b, { warmingUp: true, ...c.expect });
    });

  it('pools one hour of 5-minute points per season, centred on the phase', () => {
    const b = baselineOf(full, at);
    assert.equal(b.samples, 24);
    assert.equal(b.seasons, 2);
  });
});

describe('seasonalBaseline on a daily and weekly sine with noise', () => {
  const history = series(5, seasonal, 2, 7);
  const lastWeek = history.filter((p) => p.t >= T0 + 4 * WEEK);

  it('flags none of the normal points of the last day', () => {
    const flagged = lastWeek.slice(-288).filter((p) => scoreAnomaly(p.v, baselineOf(history, p.t)).anomalous);
    assert.deepEqual(flagged, []);
  });

  it('flags at most 0.1% of the normal points of the whole last week', () => {
    const flagged = lastWeek.filter((p) => scoreAnomaly(p.v, baselineOf(history, p.t)).anomalous);
    assert.ok(flagged.length <= 2, `${flagged.length} of ${lastWeek.length} flagged`);
  });

  it('tracks the seasonal shape: the median is within 1.5 of the noiseless value at peaks, troughs and ramps', () => {
    for (const hour of [0, 6, 12, 18]) {
      const at = T0 + 4 * WEEK + 2 * DAY + hour * 3_600_000;
      const b = baselineOf(history, at);
      assert.ok(Math.abs(b.median - seasonal(at)) < 1.5, `at ${hour}:00 median ${b.median}, expected ${seasonal(at)}`);
    }
  });

  const injected: { name: string; hour: number; delta: number; direction: 'high' | 'low' }[] = [
    { name: 'a spike at the daily peak', hour: 6, delta: +20, direction: 'high' },
    { name: 'a spike on the rising ramp', hour: 0, delta: +20, direction: 'high' },
    { name: 'a drop in the trough', hour: 18, delta: -20, direction: 'low' },
    { name: 'a drop on the falling ramp', hour: 12, delta: -20, direction: 'low' },
    { name: 'a drop to zero', hour: 6, delta: -1000, direction: 'low' },
  ];
  for (const c of injected)
    it(`flags ${c.name}`, () => {
      const at = T0 + 4 * WEEK + 3 * DAY + c.hour * 3_600_000;
      const v = c.delta === -1000 ? 0 : seasonal(at) + c.delta;
      const h = withValueAt(history, at, v);
      const r = scoreAnomaly(v, baselineOf(h, at));
      assert.equal(r.anomalous, true, `score ${r.score}`);
      assert.equal(r.direction, c.direction);
    });

  it('is not moved by an incident at the same hour in one past season', () => {
    const at = T0 + 4 * WEEK + 3 * DAY + 6 * 3_600_000;
    const incident = history.map((p) => (Math.abs(p.t - (at - 2 * WEEK)) <= 3_600_000 ? { t: p.t, v: p.v + 500 } : p));
    const clean = baselineOf(history, at);
    const hit = baselineOf(incident, at);
    assert.ok(Math.abs(hit.median - clean.median) < 2, `median ${hit.median} vs ${clean.median}`);
    assert.equal(scoreAnomaly(seasonal(at) + 20, hit).anomalous, true);
  });
});

describe('seasonalBaseline level adjustment', () => {
  // 10% of the level more every week, as a growing database
  const growing = (t: number) => seasonal(t) + (10 * (t - T0)) / WEEK;
  const history = series(5, growing, 2, 11);
  const at = T0 + 4 * WEEK + 2 * DAY + 15 * 3_600_000;

  it('follows slow growth: the median is within 2 of the present level, and a normal point is normal', () => {
    const b = baselineOf(history, at);
    assert.ok(Math.abs(b.median - growing(at)) < 2, `median ${b.median}, expected ${growing(at)}`);
    assert.equal(scoreAnomaly(history.find((x) => x.t === at)!.v, b).anomalous, false);
  });

  it('measures the growth: each past season is offset by about 10 per week back', () => {
    const offsets = levelOffsets(history, at);
    assert.equal(offsets.length, 4);
    offsets.forEach((o, i) => assert.ok(Math.abs(o - 10 * (i + 1)) < 1.5, `season ${i + 1}: offset ${o}`));
  });

  it('leaves a season unadjusted when its level window holds less than half the present one', () => {
    const gap = history.filter((p) => !(p.t > at - 2 * WEEK - DAY && p.t <= at - 2 * WEEK - 11 * 3_600_000));
    const offsets = levelOffsets(gap, at);
    assert.equal(offsets[1], 0);
    assert.ok(offsets[0]! > 5 && offsets[2]! > 25);
  });

  it('flags a spike on the growing series', () => {
    const h = withValueAt(history, at, growing(at) + 20);
    assert.equal(scoreAnomaly(growing(at) + 20, baselineOf(h, at)).anomalous, true);
  });

  it('without it, the median lags the growth and the band widens so far that the same spike is missed (why it is on by default)', () => {
    const h = withValueAt(history, at, growing(at) + 20);
    const b = baselineOf(h, at, { levelWindowMs: 0 });
    assert.ok(growing(at) - b.median > 20, `median ${b.median}, present level ${growing(at)}`);
    assert.equal(scoreAnomaly(growing(at) + 20, b).anomalous, false);
  });
});

describe('seasonalBaseline on a zero-variance series', () => {
  const cases: { level: number; value: number; anomalous: boolean }[] = [
    { level: 100, value: 100, anomalous: false },
    { level: 100, value: 104, anomalous: false }, // within the 1% MAD floor's band (±5.2%)
    { level: 100, value: 106, anomalous: true },
    { level: 100, value: 94, anomalous: true },
    { level: 0, value: 0, anomalous: false },
    { level: 0, value: 0.004, anomalous: false }, // within the absolute floor's band (±0.0052)
    { level: 0, value: 1, anomalous: true },
  ];
  for (const c of cases)
    it(`scores ${c.value} against a constant ${c.level} as ${c.anomalous ? 'anomalous' : 'normal'}, with a finite score`, () => {
      const history = series(3, () => c.level, 0);
      const at = T0 + 2 * WEEK + DAY;
      const b = baselineOf(history, at);
      assert.equal(b.mad, 0);
      assert.equal(b.median, c.level);
      const r = scoreAnomaly(c.value, b);
      assert.ok(Number.isFinite(r.score));
      assert.equal(r.anomalous, c.anomalous, `score ${r.score}`);
    });
});

describe('seasonalBaseline with values that are not numbers', () => {
  const history = series(3, seasonal, 2, 3);
  const at = T0 + 2 * WEEK + DAY + 5 * 3_600_000;
  // every third point of the past buckets and the level windows replaced
  const spoiled = (marker: number) => history.map((p, i) => (i % 3 === 0 && p.t < at ? { t: p.t, v: marker } : p));
  const cleaned = history.filter((_, i) => !(i % 3 === 0 && history[i]!.t < at));

  for (const [name, marker] of [
    ['NaN', NaN],
    ['the stale marker', STALE_NAN],
    ['+Inf', Infinity],
  ] as const)
    it(`skips ${name} in the history`, () => {
      assert.deepEqual(baselineOf(spoiled(marker), at), baselineOf(cleaned, at));
    });
});

describe('historyRanges', () => {
  it('reads each past season’s bucket and level window and the present level window, ascending', () => {
    const at = T0 + 5 * WEEK;
    const r = historyRanges(at);
    assert.deepEqual(r, [
      [at - 4 * WEEK - DAY, at - 4 * WEEK + 1_799_999],
      [at - 3 * WEEK - DAY, at - 3 * WEEK + 1_799_999],
      [at - 2 * WEEK - DAY, at - 2 * WEEK + 1_799_999],
      [at - WEEK - DAY, at - WEEK + 1_799_999],
      [at - DAY, at],
    ]);
  });

  it('reads only the buckets when the level adjustment is off', () => {
    const at = T0 + 5 * WEEK;
    assert.deepEqual(historyRanges(at, { levelWindowMs: 0, lookbackSeasons: 2 }), [
      [at - 2 * WEEK - 1_800_000, at - 2 * WEEK + 1_799_999],
      [at - WEEK - 1_800_000, at - WEEK + 1_799_999],
    ]);
  });

  it('reads only the buckets for a baseline whose offsets are known', () => {
    const at = T0 + 5 * WEEK;
    assert.deepEqual(historyRanges(at, { lookbackSeasons: 2, minSeasons: 1 }, 'buckets'), [
      [at - 2 * WEEK - 1_800_000, at - 2 * WEEK + 1_799_999],
      [at - WEEK - 1_800_000, at - WEEK + 1_799_999],
    ]);
  });

  it('merges windows that overlap', () => {
    assert.deepEqual(historyRanges(10 * DAY, { seasonMs: DAY, levelWindowMs: 23.5 * 3_600_000, lookbackSeasons: 2, minSeasons: 1 }), [
      [8 * DAY - 23.5 * 3_600_000, 10 * DAY],
    ]);
  });
});

describe('evaluateAnomaly', () => {
  const at = T0 + 3 * WEEK + 2 * DAY + 14 * 3_600_000;
  const name = { name: '__name__', type: '=', value: 'pg_stat_activity_count' } as const;

  /** raw samples every minute: three weeks of the seasonal shape for each series up to `at` */
  function load(opts: { spikeAt?: number } = {}) {
    const store = createMemoryStore();
    const noise = gaussian(prng(5));
    const labels = {
      normal: { __name__: 'pg_stat_activity_count', datname: 'normal' },
      spiking: { __name__: 'pg_stat_activity_count', datname: 'spiking' },
      young: { __name__: 'pg_stat_activity_count', datname: 'young' },
      gone: { __name__: 'pg_stat_activity_count', datname: 'gone' },
      other: { __name__: 'pg_up', datname: 'normal' },
    };
    for (let t = T0; t <= at; t += MIN) {
      const batch: StoredSample[] = [];
      const v = () => seasonal(t) + 2 * noise();
      batch.push({ labels: labels.normal, t, v: v() });
      batch.push({ labels: labels.spiking, t, v: t > at - 5 * MIN ? seasonal(t) + (opts.spikeAt ?? 60) + (at - t) / MIN : v() });
      if (t >= at - DAY) batch.push({ labels: labels.young, t, v: v() });
      if (t < at - 2 * MIN) batch.push({ labels: labels.gone, t, v: v() });
      else if (t === at - 2 * MIN) batch.push({ labels: labels.gone, t, v: STALE_NAN });
      batch.push({ labels: labels.other, t, v: 1 });
      store.append(batch);
    }
    return store;
  }
  const store = load();
  const byDb = async (opts: Partial<AnomalyOptions> = {}) =>
    new Map((await evaluateAnomaly(store, [name], at, opts)).map((r) => [r.labels.datname, r]));

  it('returns every matching series with a current value, and none that ended with a stale marker', async () => {
    assert.deepEqual([...(await byDb()).keys()].sort(), ['normal', 'spiking', 'young']);
  });

  it('finds a normal series normal', async () => {
    const r = (await byDb()).get('normal')!;
    assert.equal(r.anomalous, false);
    assert.ok(!isWarmingUp(r.baseline));
    assert.equal(r.baseline.seasons, 3);
    assert.ok(Math.abs(r.score!) < 3.5);
  });

  it('flags a series whose last five minutes are far above the baseline', async () => {
    const r = (await byDb()).get('spiking')!;
    assert.equal(r.anomalous, true);
    assert.equal(r.direction, 'high');
  });

  it('reports a series with a day of history as warming up', async () => {
    const r = (await byDb()).get('young')!;
    assert.deepEqual(r.baseline, { warmingUp: true, reason: 'seasons', have: 0, need: 2 });
    assert.equal(r.anomalous, false);
    assert.equal(r.score, null);
  });

  it('takes the mean of the last rollup window’s raw points as the current value', async () => {
    const r = (await byDb()).get('spiking')!;
    // the five samples in (at − 5m, at]: seasonal(t) + 60 + 4, 3, 2, 1, 0
    let expected = 0;
    for (let i = 0; i < 5; i++) expected += seasonal(at - i * MIN) + 60 + i;
    assert.ok(Math.abs(r.value - expected / 5) < 1e-9, `${r.value} vs ${expected / 5}`);
  });

  it('takes the newest raw point with current: last', async () => {
    const r = (await byDb({ current: 'last' })).get('spiking')!;
    assert.ok(Math.abs(r.value - (seasonal(at) + 60)) < 1e-9);
  });

  it('gives the same baseline as seasonalBaseline over the whole rollup history stamped at window ends', async () => {
    const [rolled] = store.selectRollup([name, { name: 'datname', type: '=', value: 'normal' }], 'avg', 0, at);
    const history = rolled!.points.map((p) => ({ t: p.t + STEP, v: p.v }));
    assert.deepEqual((await byDb()).get('normal')!.baseline, seasonalBaseline(history, at));
  });

  it('returns nothing when no series has a point in the last window', async () => {
    assert.deepEqual(await evaluateAnomaly(store, [name], at + DAY), []);
  });

  it('keeps the defaults frozen', () => {
    assert.ok(Object.isFrozen(DEFAULT_ANOMALY_OPTIONS));
  });
});

describe('createAnomalyEvaluator', () => {
  const at = T0 + 4 * WEEK + 2 * DAY + 9 * 3_600_000;
  const name = { name: '__name__', type: '=', value: 'pg_xact_commit_rate' } as const;

  /** a memory store with 10 series of 5 weeks at 5 m (raw samples 1 ms before each window ends), counting rollup points read */
  function load() {
    const inner = createMemoryStore();
    const noise = gaussian(prng(9));
    for (let t = T0 + STEP; t <= at + 2 * 3_600_000; t += STEP)
      inner.append(Array.from({ length: 10 }, (_, i) => ({ labels: { __name__: 'pg_xact_commit_rate', datname: `db${i}` }, t: t - 1, v: seasonal(t) + i + 2 * noise() })));
    const counted = { rollupPoints: 0 };
    const store: Store = {
      ...inner,
      selectRollup(m, fn, start, end) {
        const r = inner.selectRollup(m, fn, start, end);
        for (const s of r) counted.rollupPoints += s.points.length;
        return r;
      },
    };
    return { store, counted };
  }

  it('gives the same verdicts as evaluateAnomaly when it has just refreshed the levels', async () => {
    const { store } = load();
    const cached = await createAnomalyEvaluator(store).evaluate([name], at);
    assert.deepEqual(cached, await evaluateAnomaly(store, [name], at));
    assert.equal(cached.length, 10);
  });

  it('reads only the buckets between refreshes, and scores within 0.1 of a fresh evaluation', async () => {
    const { store, counted } = load();
    const evaluator = createAnomalyEvaluator(store);
    await evaluator.evaluate([name], at);
    const full = counted.rollupPoints;
    counted.rollupPoints = 0;
    const later = at + 55 * MIN;
    const cached = await evaluator.evaluate([name], later);
    assert.equal(counted.rollupPoints, 10 * 4 * 12, `read ${counted.rollupPoints} rollup points, ${full} when refreshing`);
    const fresh = await evaluateAnomaly(store, [name], later);
    cached.forEach((r, i) => assert.ok(Math.abs(r.score! - fresh[i]!.score!) < 0.1, `${r.score} vs ${fresh[i]!.score}`));
  });

  const refreshes: [string, number][] = [
    ['an hour has passed', 60 * MIN],
    ['time went backwards', -5 * MIN],
  ];
  for (const [why, delta] of refreshes)
    it(`refreshes the levels when ${why}`, async () => {
      const { store, counted } = load();
      const evaluator = createAnomalyEvaluator(store);
      await evaluator.evaluate([name], at);
      counted.rollupPoints = 0;
      assert.deepEqual(await evaluator.evaluate([name], at + delta), await evaluateAnomaly(store, [name], at + delta));
      assert.ok(counted.rollupPoints > 10 * 4 * 12 * 2, `read ${counted.rollupPoints}`);
    });

  it('refreshes the levels when a new series appears', async () => {
    const { store, counted } = load();
    const evaluator = createAnomalyEvaluator(store);
    await evaluator.evaluate([name, { name: 'datname', type: '!=', value: 'db3' }], at);
    counted.rollupPoints = 0;
    const r = await evaluator.evaluate([name], at + 10 * MIN);
    assert.equal(r.length, 10);
    assert.ok(counted.rollupPoints > 10 * 4 * 12 * 2, `read ${counted.rollupPoints}`);
  });
});

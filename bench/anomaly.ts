// Anomaly detection figures (`npm run bench`, key `anomaly`; alone: `node --import tsx bench/anomaly.ts`):
// the false-positive and detection rates of src/rules/anomaly.ts on synthetic seasonal series, and its
// cost. 200 series × 5 weeks of 5-minute points with weekly and daily seasonality, Gaussian or
// heavy-tailed (Student t, 3 degrees of freedom) noise, level drift (linear or random walk) and one
// incident per past week; the last week is evaluated at every 5-minute point after anomalies of 4, 6
// and 10 noise scales were injected into it: single points, and 30-minute shifts. A seeded PRNG makes every run produce
// the same series, so the rates are exactly reproducible; only the times vary.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createManualClock } from '../src/lib/clock.ts';
import type { Labels } from '../src/model/labels.ts';
import {
  createAnomalyEvaluator,
  evaluateAnomaly,
  isWarmingUp,
  levelOffsets,
  resolveAnomalyOptions,
  scoreAnomaly,
  seasonalBaseline,
  type AnomalyOptions,
} from '../src/rules/anomaly.ts';
import { createSqliteStore } from '../src/store/sqlite-store.ts';
import type { Point, StoredSample } from '../src/store/store.ts';

const SERIES = 200;
const WEEKS = 5;
const STEP = 300_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
const T0 = Date.UTC(2026, 0, 5); // a Monday
const PER_WEEK = WEEK / STEP; // 2,016
const EVAL_FROM = (WEEKS - 1) * PER_WEEK; // index of the first evaluated point
const SIZES = [4, 6, 10] as const; // injected anomalies, in noise scales
const PER_SIZE_AND_SIDE = 2;
const SUSTAINED_POINTS = 6; // 30 minutes
const THRESHOLDS = [3, 3.5, 4, 5] as const;
const SEED = 20261124;

const log = (msg: string) => process.stderr.write(`bench anomaly: ${msg}\n`);
const round = (x: number, d = 2) => Number(x.toFixed(d));
const pct = (part: number, whole: number, d = 3) => (whole ? round((100 * part) / whole, d) : null);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** mulberry32 */
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

type Noise = 'gaussian' | 'heavy_tailed';
type Drift = 'none' | 'linear' | 'random_walk';

interface Synthetic {
  readonly labels: Labels;
  readonly points: Point[];
  readonly noise: Noise;
  readonly drift: Drift;
  /** injected single-point anomalies of the evaluated week: point index → signed size in noise scales */
  readonly injected: Map<number, number>;
  /** injected 30-minute shifts: first point index and signed size */
  readonly sustained: { from: number; size: number }[];
}

/**
 * One series: level 10–10,000; a daily wave of 10–50% of the level (with a second harmonic); either a
 * weekend dip of 20–50% (ramped over 2 h) or a weekly wave of 5–20%; noise of scale 2–8% of the level;
 * a third of the series drift linearly by ±2–10% of the level a week, a third wander by a random walk
 * (~3% a week); one incident per past week (30 min–3 h, ±5–20 noise scales).
 */
function synthesize(i: number, rand: () => number): Synthetic {
  const u = (a: number, b: number) => a + (b - a) * rand();
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const noise: Noise = i % 2 === 0 ? 'gaussian' : 'heavy_tailed';
  const drift: Drift = (['none', 'linear', 'random_walk'] as const)[i % 3]!;
  const level = 10 ** u(1, 4);
  const daily = level * u(0.1, 0.5);
  const harmonic = daily * u(0, 0.3);
  const [p1, p2, pw] = [u(0, 2 * Math.PI), u(0, 2 * Math.PI), u(0, 2 * Math.PI)];
  const weekendDip = i % 4 < 2 ? u(0.2, 0.5) : 0;
  const weekly = weekendDip ? 0 : level * u(0.05, 0.2);
  const sigma = level * u(0.02, 0.08);
  const slope = drift === 'linear' ? level * u(0.02, 0.1) * (rand() < 0.5 ? -1 : 1) : 0;
  const walkStep = drift === 'random_walk' ? (level * 0.03) / Math.sqrt(PER_WEEK) : 0;
  const incidents = Array.from({ length: WEEKS - 1 }, (_, w) => {
    const start = T0 + w * WEEK + u(0, WEEK - 3 * HOUR);
    return { start, end: start + u(0.5, 3) * HOUR, delta: sigma * u(5, 20) * (rand() < 0.5 ? -1 : 1) };
  });
  const sample = () => {
    const z = gauss();
    if (noise === 'gaussian') return z;
    const chi = gauss() ** 2 + gauss() ** 2 + gauss() ** 2;
    return z / Math.sqrt(chi / 3);
  };

  const points: Point[] = new Array(WEEKS * PER_WEEK);
  let walk = 0;
  for (let j = 0; j < points.length; j++) {
    const t = T0 + j * STEP;
    const dayPhase = (2 * Math.PI * (t - T0)) / DAY;
    let shape = level + daily * Math.sin(dayPhase + p1) + harmonic * Math.sin(2 * dayPhase + p2) + weekly * Math.sin((2 * Math.PI * (t - T0)) / WEEK + pw);
    if (weekendDip) {
      // Saturday 00:00 to Monday 00:00, ramped over two hours at each end
      const intoWeek = (t - T0) % WEEK;
      const fromSat = intoWeek - 5 * DAY;
      const ramp = fromSat < 0 ? 0 : Math.min(1, fromSat / (2 * HOUR), (2 * DAY - fromSat) / (2 * HOUR));
      shape *= 1 - weekendDip * Math.max(0, ramp);
    }
    walk += walkStep * gauss();
    let v = shape + slope * ((t - T0) / WEEK) + walk + sigma * sample();
    for (const inc of incidents) if (t >= inc.start && t < inc.end) v += inc.delta;
    points[j] = { t, v };
  }

  // anomalies in the evaluated week, at least an hour apart: single points, then 30-minute shifts
  const taken: number[] = [];
  const place = () => {
    let j: number;
    do j = EVAL_FROM + Math.floor(rand() * (PER_WEEK - SUSTAINED_POINTS));
    while (taken.some((x) => Math.abs(x - j) < 12 + SUSTAINED_POINTS));
    taken.push(j);
    return j;
  };
  const shift = (j: number, size: number) => (points[j] = { t: points[j]!.t, v: points[j]!.v + size * sigma });
  const injected = new Map<number, number>();
  for (const size of SIZES)
    for (const side of [1, -1])
      for (let k = 0; k < PER_SIZE_AND_SIDE; k++) {
        const j = place();
        injected.set(j, side * size);
        shift(j, side * size);
      }
  const sustained = SIZES.map((size) => {
    const from = place();
    const signed = size * (rand() < 0.5 ? -1 : 1);
    for (let j = from; j < from + SUSTAINED_POINTS; j++) shift(j, signed);
    return { from, size: signed };
  });
  return { labels: { __name__: 'bench_anomaly', series: String(i), noise, drift }, points, noise, drift, injected, sustained };
}

/**
 * Robust z of every evaluated point of each series (NaN while warming up), and the time taken.
 * `offsetsEvery`: level offsets computed at the start of each such span and reused through it, as
 * createAnomalyEvaluator does with levelRefreshMs.
 */
function scoreAll(
  series: readonly Synthetic[],
  opts: Partial<AnomalyOptions>,
  offsetsEvery = 0,
): { scores: Float64Array[]; ms: number; evaluations: number; warmingUp: number } {
  const o = resolveAnomalyOptions(opts);
  let warmingUp = 0;
  const t0 = performance.now();
  const scores = series.map((s) => {
    const out = new Float64Array(PER_WEEK);
    let offsets: number[] | undefined;
    let offsetsAt = -Infinity;
    for (let j = 0; j < PER_WEEK; j++) {
      const p = s.points[EVAL_FROM + j]!;
      if (offsetsEvery && p.t >= offsetsAt + offsetsEvery) {
        offsetsAt = p.t;
        offsets = levelOffsets(s.points, p.t, o);
      }
      const b = seasonalBaseline(s.points, p.t, o, offsets ?? levelOffsets(s.points, p.t, o));
      if (isWarmingUp(b)) {
        warmingUp++;
        out[j] = NaN;
      } else out[j] = scoreAnomaly(p.v, b, o).score;
    }
    return out;
  });
  return { scores, ms: performance.now() - t0, evaluations: series.length * PER_WEEK, warmingUp };
}

/** False positives on clean points and detections of injected anomalies at a threshold. */
function rates(series: readonly Synthetic[], scores: readonly Float64Array[], threshold: number, only: (s: Synthetic) => boolean = () => true) {
  let clean = 0;
  let falsePositives = 0;
  let episodes = 0; // runs of consecutive false positives: one alert each without a `for` duration
  let episodesFor10m = 0; // runs of 3 or more: alerts with `for: 10m` at a 5-minute evaluation interval
  let seriesWeeks = 0;
  const tally = () => new Map<number, { hit: number; of: number }>(SIZES.map((s) => [s, { hit: 0, of: 0 }]));
  const points = tally();
  const shifts = tally();
  const shiftsFor10m = tally();
  const flagged = (z: number, size: number) => (size > 0 ? z > threshold : z < -threshold);
  series.forEach((s, i) => {
    if (!only(s)) return;
    seriesWeeks++;
    const sc = scores[i]!;
    const inShift = new Set<number>();
    for (const { from, size } of s.sustained) {
      let run = 0;
      let longest = 0;
      for (let j = from; j < from + SUSTAINED_POINTS; j++) {
        inShift.add(j);
        run = flagged(sc[j - EVAL_FROM]!, size) ? run + 1 : 0;
        longest = Math.max(longest, run);
      }
      const d = shifts.get(Math.abs(size))!;
      const d10 = shiftsFor10m.get(Math.abs(size))!;
      d.of++;
      d10.of++;
      if (longest >= 1) d.hit++;
      if (longest >= 3) d10.hit++;
    }
    let run = 0;
    const endRun = () => {
      if (run > 0) episodes++;
      if (run >= 3) episodesFor10m++;
      run = 0;
    };
    for (let j = 0; j < PER_WEEK; j++) {
      const z = sc[j]!;
      const size = s.injected.get(EVAL_FROM + j);
      if (size !== undefined || inShift.has(EVAL_FROM + j)) {
        if (size !== undefined) {
          const d = points.get(Math.abs(size))!;
          d.of++;
          if (flagged(z, size)) d.hit++;
        }
        endRun();
        continue;
      }
      if (Number.isNaN(z)) continue;
      clean++;
      if (Math.abs(z) > threshold) {
        falsePositives++;
        run++;
      } else endRun();
    }
    endRun();
  });
  const pcts = (m: Map<number, { hit: number; of: number }>) => Object.fromEntries([...m].map(([size, d]) => [`${size}_sigma`, pct(d.hit, d.of, 1)]));
  return {
    false_positive_pct: pct(falsePositives, clean),
    false_alerts_per_series_week: round(episodes / seriesWeeks, 3),
    false_alerts_per_series_week_for_10m: round(episodesFor10m / seriesWeeks, 3),
    detection_pct_single_point: pcts(points),
    detection_pct_30m_shift: pcts(shifts),
    detection_pct_30m_shift_for_10m: pcts(shiftsFor10m),
  };
}

/**
 * Reading the store: evaluateAnomaly and a createAnomalyEvaluator over the SQLite history store
 * holding the same series (raw samples at 5 m, each written 1 ms before its window ends so that the
 * rollup stamped at the window's end carries the point's timestamp), at the last RUNS 5-minute points;
 * the evaluator's first call (which computes the level offsets) is timed apart. evaluateAnomaly's
 * scores must equal the pure pass's.
 */
async function storeFigures(series: readonly Synthetic[], pureScores: readonly Float64Array[]) {
  const RUNS = 5;
  const dir = mkdtempSync(join(tmpdir(), 'dpmon-bench-anomaly-'));
  const clock = createManualClock(T0);
  const store = createSqliteStore({
    dataDir: dir,
    clock,
    rawRetentionMs: 15 * DAY,
    rollupWindowMs: STEP,
    rollupRetentionMs: 30 * DAY,
    flushIntervalMs: 0,
  });
  try {
    const t0 = performance.now();
    const n = series[0]!.points.length;
    for (let j = 0; j < n; j++) {
      const batch: StoredSample[] = new Array(series.length);
      for (let i = 0; i < series.length; i++) {
        const p = series[i]!.points[j]!;
        batch[i] = { labels: series[i]!.labels, t: p.t - 1, v: p.v };
      }
      store.append(batch);
      if (j % (DAY / STEP) === 0 || j === n - 1) {
        await clock.advance(T0 + j * STEP - clock.now());
        store.flush();
      }
    }
    log(`loaded ${series.length * n} samples into SQLite in ${round(performance.now() - t0, 0)} ms`);
    const matchers = [{ name: '__name__', type: '=', value: 'bench_anomaly' }] as const;
    const pure = (labels: Labels, j: number) => pureScores[Number(labels.series)]![j - EVAL_FROM]!;

    const stateless: number[] = [];
    let mismatches = 0;
    for (let j = n - RUNS; j < n; j++) {
      const t1 = performance.now();
      const results = await evaluateAnomaly(store, matchers, T0 + j * STEP);
      stateless.push(performance.now() - t1);
      if (results.length !== series.length) throw new Error(`bench anomaly: evaluateAnomaly returned ${results.length} series`);
      for (const r of results) if (r.score === null || Math.abs(r.score - pure(r.labels, j)) > 1e-6 * Math.max(1, Math.abs(pure(r.labels, j)))) mismatches++;
    }
    if (mismatches) throw new Error(`bench anomaly: ${mismatches} evaluateAnomaly scores differ from seasonalBaseline's`);

    const evaluator = createAnomalyEvaluator(store);
    let t1 = performance.now();
    await evaluator.evaluate(matchers, T0 + (n - RUNS - 1) * STEP);
    const refreshMs = performance.now() - t1;
    const steady: number[] = [];
    let maxDiff = 0;
    for (let j = n - RUNS; j < n; j++) {
      t1 = performance.now();
      const results = await evaluator.evaluate(matchers, T0 + j * STEP);
      steady.push(performance.now() - t1);
      for (const r of results) maxDiff = Math.max(maxDiff, Math.abs(r.score! - pure(r.labels, j)));
    }
    return {
      series: series.length,
      evaluate_anomaly_ms: round(median(stateless), 1),
      evaluator_ms: round(median(steady), 1),
      evaluator_refresh_ms: round(refreshMs, 1),
      evaluator_max_score_difference: round(maxDiff, 3),
      runs: RUNS,
    };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The false-alarm figures and the `for: 10m` detection of shifts only. */
function brief(r: ReturnType<typeof rates>) {
  const { detection_pct_single_point: _p, detection_pct_30m_shift: _s, ...rest } = r;
  return rest;
}

export async function anomalyFigures(): Promise<Record<string, unknown>> {
  log(`synthesizing ${SERIES} series × ${WEEKS} weeks of 5 m points`);
  const rand = prng(SEED);
  const series = Array.from({ length: SERIES }, (_, i) => synthesize(i, rand));
  const defaults = resolveAnomalyOptions();

  log('scoring the last week with the defaults');
  const main = scoreAll(series, defaults);
  const at = (thr: number, only?: (s: Synthetic) => boolean) => rates(series, main.scores, thr, only);

  // ablations on every fifth series (40, the same mix of noise and drift)
  const subset = series.filter((_, i) => i % 5 === 0);
  log(`ablations on ${subset.length} series`);
  const noLevel = scoreAll(subset, { levelWindowMs: 0 });
  const twoSeasons = scoreAll(subset, { lookbackSeasons: 2 });
  const hourOld = scoreAll(subset, defaults, HOUR);
  const subsetMain = subset.map((s) => main.scores[series.indexOf(s)]!);

  log('evaluateAnomaly over the SQLite store');
  const sqlite = await storeFigures(series, main.scores);

  return {
    anomaly: {
      workload:
        `${SERIES} series × ${WEEKS} weeks at 5 m (seed ${SEED}): daily + weekly seasonality, half Gaussian and half Student-t(3) noise, ` +
        `a third with linear drift, a third with a random-walk level, one incident per past week; the last week scored at every point ` +
        `(${SERIES * PER_WEEK} evaluations), ${SIZES.length * 2 * PER_SIZE_AND_SIDE} single-point anomalies per series injected into it (${SIZES.join(', ')} noise scales, up and down) and ${SIZES.length} 30-minute shifts (same sizes)`,
      options: {
        season: '7d',
        bucket: '1h',
        lookback_seasons: defaults.lookbackSeasons,
        level_window: '1d',
        threshold: defaults.threshold,
        min_mad: `max(${defaults.minMadRelative}·|median|, ${defaults.minMadAbsolute})`,
      },
      ...at(defaults.threshold),
      by_noise: {
        gaussian: brief(at(defaults.threshold, (s) => s.noise === 'gaussian')),
        heavy_tailed: brief(at(defaults.threshold, (s) => s.noise === 'heavy_tailed')),
      },
      by_drift: {
        none: brief(at(defaults.threshold, (s) => s.drift === 'none')),
        linear: brief(at(defaults.threshold, (s) => s.drift === 'linear')),
        random_walk: brief(at(defaults.threshold, (s) => s.drift === 'random_walk')),
      },
      by_threshold: Object.fromEntries(THRESHOLDS.map((thr) => [thr.toFixed(1), at(thr)])),
      ablations: {
        series: subset.length,
        defaults: rates(subset, subsetMain, defaults.threshold),
        without_level_adjustment: rates(subset, noLevel.scores, defaults.threshold),
        two_seasons_only: rates(subset, twoSeasons.scores, defaults.threshold),
        level_offsets_refreshed_hourly: rates(subset, hourOld.scores, defaults.threshold),
      },
      warming_up_evaluations: main.warmingUp,
      evaluation_us: round((main.ms * 1000) / main.evaluations, 1),
      evaluation_method: 'seasonalBaseline + scoreAnomaly over in-memory 5 m points (5 weeks per series), wall time of the whole pass ÷ evaluations',
      sqlite: sqlite,
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(JSON.stringify(await anomalyFigures(), null, 2) + '\n');

// Anomaly detection for rules (`vector_integration.alert_correlation.anomaly_detection`, and any rule
// that asks for it): a robust seasonal baseline per series, and a robust z-score of the current value
// against it. Owns the model and its defaults; reads history only through the Store it is given.
// The model, the defaults and the measured false-positive rate: docs/anomaly.md.
//
// The model. For a value at time `at`, the baseline is built from the same phase of the last
// `lookbackSeasons` seasons (default 4 weeks): for each past season k the points in the window
// [at − k·season − bucket/2, at − k·season + bucket/2) — an hour-of-week bucket (default 1 h) centred
// on the phase rather than fixed to clock hours, so a point near the edge of an hour is not compared
// with a bucket that lies mostly on one side of it (on a daily ramp that bias alone is ~0.13× the
// daily amplitude). Before pooling, each past season is shifted by a level offset: the median of the
// last `levelWindowMs` (1 d) minus the median of the same span k seasons earlier, so slow growth
// or decline (a database that is 10% busier than a month ago) does not read as an anomaly; a median
// over a whole day moves little while an incident of a few hours is under way. The pooled, shifted
// values give the baseline's median and MAD; the score is (value − median) / (1.4826 · MAD), the
// robust z-score (1.4826 · MAD estimates σ for Gaussian noise), anomalous beyond `threshold` (3.5,
// Iglewicz & Hoaglin's cut-off for the modified z-score).
//
// Warm-up: no verdict until the bucket holds points from `minSeasons` (2) past seasons and at least
// `minSamples` (12) points: with one season the "baseline" is whatever last week happened to do.
//
// MAD floor: a flat series has MAD 0 and would turn any change into an infinite score, so the MAD is
// raised to max(minMadRelative · |median|, minMadAbsolute) (1% of the median, 0.001): a flat series
// flags a change of more than ~5% of its level (3.5 × 1.4826 × 1%).
//
// Measured (bench/anomaly.ts, 200 synthetic series, docs/benchmarks.md): with the defaults 0.175% of
// clean 5-minute points flagged under Gaussian noise, 2.3% under Student-t(3) noise, and 0.045 false
// alerts per series-week once a rule adds `for: 10m`; single-point anomalies of 6σ / 10σ caught 80% / 98%.
//
// Reading a store: evaluateAnomaly reads everything at every call; createAnomalyEvaluator (one per
// rule) keeps the level offsets for an hour and otherwise reads only the buckets: ~10× faster over SQLite.
//
// A departure from the design sketched in the issue: the current value is by default the mean
// of the raw points in the last rollup window (5 m), not the newest raw point, because the baseline is
// made of 5-minute averages and a single 15 s sample carries up to √20 times their noise: comparing it
// with a band of averages would flag ordinary scrape-to-scrape jitter. `current: 'last'` gives the
// newest raw point.
import { labelsKey, type Labels } from '../model/labels.ts';
import type { Matcher } from '../model/matcher.ts';
import { isStaleNaN } from '../model/stale.ts';
import type { Point, Store } from '../store/store.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** 1.4826 · MAD estimates the standard deviation of Gaussian data. */
export const MAD_TO_SIGMA = 1.4826;

export type AnomalySide = 'both' | 'high' | 'low';

export interface AnomalyOptions {
  /** the period of the pattern: the baseline looks at the same phase this long ago, and k times that (7 d) */
  readonly seasonMs: number;
  /** width of the same-phase window in each past season, centred on the phase (1 h: hour of week) */
  readonly bucketMs: number;
  /** past seasons pooled into the baseline (4: 28 d, within the 30 d rollup retention) */
  readonly lookbackSeasons: number;
  /** warm-up: past seasons that must have points in the bucket (2) */
  readonly minSeasons: number;
  /** warm-up: points the bucket must hold over all seasons (12: one season's hour of 5 m rollups) */
  readonly minSamples: number;
  /** |robust z| above which a value is anomalous (3.5) */
  readonly threshold: number;
  /** MAD floor relative to |median| (0.01) */
  readonly minMadRelative: number;
  /** MAD floor in the series' own unit, > 0 (0.001); raise it for small integer-valued series */
  readonly minMadAbsolute: number;
  /** span whose median aligns each past season's level with the present (1 d); 0 turns it off */
  readonly levelWindowMs: number;
  /** which deviations count: 'both' (default), only 'high' or only 'low' */
  readonly side: AnomalySide;
  /** createAnomalyEvaluator: how long a series' level offsets are reused (1 h); evaluateAnomaly always computes them */
  readonly levelRefreshMs: number;
  /** reading a store: its rollup window (metrics_aggregation.window_size, 5 m) */
  readonly rollupWindowMs: number;
  /** reading a store: the current value is the mean of the raw points in the last rollup window ('avg') or the newest ('last') */
  readonly current: 'avg' | 'last';
}

export const DEFAULT_ANOMALY_OPTIONS: AnomalyOptions = Object.freeze({
  seasonMs: 7 * DAY,
  bucketMs: HOUR,
  lookbackSeasons: 4,
  minSeasons: 2,
  minSamples: 12,
  threshold: 3.5,
  minMadRelative: 0.01,
  minMadAbsolute: 0.001,
  levelWindowMs: DAY,
  levelRefreshMs: HOUR,
  side: 'both',
  rollupWindowMs: 5 * MINUTE,
  current: 'avg',
});

export interface Baseline {
  readonly median: number;
  /** the raw median absolute deviation of the pooled values (before the floor) */
  readonly mad: number;
  /** 1.4826 · max(mad, floor): the robust σ the score divides by */
  readonly scale: number;
  /** median ∓ threshold · scale: values outside are anomalous (for the threshold the baseline was built with) */
  readonly lower: number;
  readonly upper: number;
  /** points pooled */
  readonly samples: number;
  /** past seasons that contributed points */
  readonly seasons: number;
}

/** Not enough history yet: `have` of `need` seasons or samples (the first criterion not met). */
export interface WarmingUp {
  readonly warmingUp: true;
  readonly reason: 'seasons' | 'samples';
  readonly have: number;
  readonly need: number;
}

export interface AnomalyScore {
  readonly anomalous: boolean;
  /** robust z: (value − median) / scale; NaN when the value is not a number */
  readonly score: number;
  readonly direction: 'high' | 'low';
}

/** One series at one instant: its current value and either its verdict or why there is none yet. */
export type SeriesAnomaly =
  | { readonly labels: Labels; readonly value: number; readonly baseline: WarmingUp; readonly anomalous: false; readonly score: null; readonly direction: null }
  | ({ readonly labels: Labels; readonly value: number; readonly baseline: Baseline } & AnomalyScore);

export function isWarmingUp(b: Baseline | WarmingUp): b is WarmingUp {
  return 'warmingUp' in b;
}

/** Option objects this module resolved (frozen): passing one back skips the checks. */
const resolved = new WeakSet<object>();

/** Defaults filled in and checked; throws a RangeError naming the option (a programming or config-mapping error). */
export function resolveAnomalyOptions(opts: Partial<AnomalyOptions> = {}): AnomalyOptions {
  if (resolved.has(opts)) return opts as AnomalyOptions;
  const o: AnomalyOptions = Object.freeze({ ...DEFAULT_ANOMALY_OPTIONS, ...stripUndefined(opts) });
  for (const name of ['seasonMs', 'bucketMs', 'threshold', 'minMadAbsolute', 'rollupWindowMs'] as const) {
    const v = o[name];
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new RangeError(`anomaly option ${name} must be a positive number, got ${String(v)}`);
  }
  for (const name of ['lookbackSeasons', 'minSeasons', 'minSamples'] as const) {
    const v = o[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new RangeError(`anomaly option ${name} must be an integer ≥ 1, got ${String(v)}`);
  }
  if (o.bucketMs >= o.seasonMs) throw new RangeError(`anomaly option bucketMs (${o.bucketMs}) must be shorter than seasonMs (${o.seasonMs})`);
  if (o.minSeasons > o.lookbackSeasons)
    throw new RangeError(`anomaly option minSeasons (${o.minSeasons}) cannot exceed lookbackSeasons (${o.lookbackSeasons})`);
  if (!(o.levelRefreshMs >= 0)) throw new RangeError(`anomaly option levelRefreshMs must be ≥ 0, got ${o.levelRefreshMs}`);
  if (!(o.minMadRelative >= 0)) throw new RangeError(`anomaly option minMadRelative must be ≥ 0, got ${o.minMadRelative}`);
  if (!(o.levelWindowMs >= 0) || o.levelWindowMs >= o.seasonMs)
    throw new RangeError(`anomaly option levelWindowMs must be ≥ 0 and shorter than seasonMs, got ${o.levelWindowMs}`);
  if (o.side !== 'both' && o.side !== 'high' && o.side !== 'low') throw new RangeError(`anomaly option side must be both, high or low, got ${String(o.side)}`);
  if (o.current !== 'avg' && o.current !== 'last') throw new RangeError(`anomaly option current must be avg or last, got ${String(o.current)}`);
  resolved.add(o);
  return o;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/**
 * How much to add to each past season's values (k = 1..lookbackSeasons) to bring it to the present
 * level: median of (at − levelWindow, at] minus the median of the same span k seasons earlier. 0 for a
 * season whose span holds less than half the present span's points (it would compare different parts
 * of the day), and for all when the present span has fewer than minSamples points or levelWindowMs is 0.
 */
export function levelOffsets(history: readonly Point[], at: number, opts: Partial<AnomalyOptions> = {}): number[] {
  const o = resolveAnomalyOptions(opts);
  const offsets = new Array<number>(o.lookbackSeasons).fill(0);
  if (o.levelWindowMs === 0) return offsets;
  const recentCount = collect(history, at - o.levelWindowMs, at, false, 0, 0);
  if (recentCount < o.minSamples) return offsets;
  const recent = medianOf(scratch, recentCount);
  for (let k = 1; k <= o.lookbackSeasons; k++) {
    const c = at - k * o.seasonMs;
    const m = collect(history, c - o.levelWindowMs, c, false, 0, 0);
    if (m >= Math.max(o.minSamples, recentCount / 2)) offsets[k - 1] = recent - medianOf(scratch, m);
  }
  return offsets;
}

/**
 * The baseline at `at` from `history` (ascending by t, as the store returns it; only the past
 * seasons' buckets and, for the level offsets, the level windows are read). Non-finite values (NaN,
 * the stale marker, ±Inf) are not values and are skipped. `offsets` (from levelOffsets) may be given
 * when computed earlier; by default they are computed from `history`.
 */
export function seasonalBaseline(
  history: readonly Point[],
  at: number,
  opts: Partial<AnomalyOptions> = {},
  offsets: readonly number[] = levelOffsets(history, at, opts),
): Baseline | WarmingUp {
  const o = resolveAnomalyOptions(opts);
  const half = o.bucketMs / 2;
  let n = 0;
  let seasons = 0;
  for (let k = 1; k <= o.lookbackSeasons; k++) {
    const c = at - k * o.seasonMs;
    const added = collect(history, c - half, c + half, true, n, offsets[k - 1] ?? 0);
    if (added > 0) seasons++;
    n += added;
  }
  if (seasons < o.minSeasons) return { warmingUp: true, reason: 'seasons', have: seasons, need: o.minSeasons };
  if (n < o.minSamples) return { warmingUp: true, reason: 'samples', have: n, need: o.minSamples };

  const median = medianOf(pool, n);
  for (let i = 0; i < n; i++) pool[i] = Math.abs(pool[i]! - median);
  const mad = medianOf(pool, n);
  const scale = MAD_TO_SIGMA * Math.max(mad, o.minMadRelative * Math.abs(median), o.minMadAbsolute);
  return { median, mad, scale, lower: median - o.threshold * scale, upper: median + o.threshold * scale, samples: n, seasons };
}

/** The robust z of `value` against `baseline`, and whether it is anomalous on the side(s) asked for. */
export function scoreAnomaly(value: number, baseline: Baseline, opts: Partial<AnomalyOptions> = {}): AnomalyScore {
  const o = resolveAnomalyOptions(opts);
  if (!Number.isFinite(value)) return { anomalous: false, score: NaN, direction: 'high' };
  const score = (value - baseline.median) / baseline.scale;
  const direction = score >= 0 ? 'high' : 'low';
  let anomalous: boolean;
  switch (o.side) {
    case 'both':
      anomalous = Math.abs(score) > o.threshold;
      break;
    case 'high':
      anomalous = score > o.threshold;
      break;
    case 'low':
      anomalous = score < -o.threshold;
      break;
    default:
      return assertNever(o.side);
  }
  return { anomalous, score, direction };
}

export interface AnomalyEvaluator {
  /** Every series matching `matchers` with a current value at `at`, with its verdict (see evaluateAnomaly). */
  evaluate(matchers: readonly Matcher[], at: number): Promise<SeriesAnomaly[]>;
}

/**
 * An evaluator for one rule, which keeps each series' level offsets for `levelRefreshMs` (1 h): the
 * level windows are a day long, so an hour-old offset is as good as a fresh one, and between refreshes
 * an evaluation reads only the past seasons' buckets (4 × 12 rollup points per series instead of
 * ~1,460; ~10× faster over SQLite, docs/anomaly.md). All offsets are refreshed together when
 * any current series has none or an expired one, or when time goes backwards.
 */
export function createAnomalyEvaluator(store: Store, opts: Partial<AnomalyOptions> = {}): AnomalyEvaluator {
  const o = resolveAnomalyOptions(opts);
  const w = o.rollupWindowMs;
  const zeros: readonly number[] = new Array<number>(o.lookbackSeasons).fill(0);
  let levels = new Map<string, readonly number[]>();
  let levelsAt = NaN;

  return {
    async evaluate(matchers, at) {
      const current = new Map<string, { labels: Labels; value: number }>();
      for (const s of store.select(matchers, at - w + 1, at)) {
        const value = currentValue(s.points, o.current);
        if (value !== undefined) current.set(labelsKey(s.labels), { labels: s.labels, value });
      }
      if (current.size === 0) return [];

      let refresh = false;
      if (o.levelWindowMs > 0) {
        refresh = !(at >= levelsAt && at < levelsAt + o.levelRefreshMs);
        for (const key of current.keys()) if (!levels.has(key)) refresh = true;
      }
      const history = new Map<string, Point[]>();
      for (const [start, end] of historyRanges(at, o, refresh ? 'all' : 'buckets')) {
        // rollup windows starting in [start − w, end − w] end in [start, end]
        for (const s of store.selectRollup(matchers, 'avg', start - w, end - w)) {
          const key = labelsKey(s.labels);
          if (!current.has(key)) continue;
          let points = history.get(key);
          if (!points) history.set(key, (points = []));
          for (const p of s.points) points.push({ t: p.t + w, v: p.v });
        }
      }
      if (refresh) {
        levels = new Map();
        levelsAt = at;
      }

      const out: SeriesAnomaly[] = [];
      for (const [key, { labels, value }] of current) {
        const h = history.get(key) ?? [];
        let offsets = o.levelWindowMs > 0 ? levels.get(key) : zeros;
        if (!offsets) levels.set(key, (offsets = levelOffsets(h, at, o)));
        const baseline = seasonalBaseline(h, at, o, offsets);
        if (isWarmingUp(baseline)) out.push({ labels, value, baseline, anomalous: false, score: null, direction: null });
        else out.push({ labels, value, baseline, ...scoreAnomaly(value, baseline, o) });
      }
      return out;
    },
  };
}

/**
 * Every series matching `matchers` that has a current value at `at`, with its verdict, from nothing
 * but the store: it reads the `avg` rollups of the past seasons' buckets and of the level windows only
 * (about 5 × 290 points per series with the defaults, not 28 days' worth). A rollup point is stamped
 * with its window's end so that it lines up with the current value, which ends at `at`. A series whose
 * newest raw point in the last rollup window is a stale marker has ended and is left out, as are
 * series with no raw point in that window. A rule evaluated repeatedly should hold a
 * createAnomalyEvaluator instead.
 */
export async function evaluateAnomaly(
  store: Store,
  matchers: readonly Matcher[],
  at: number,
  opts: Partial<AnomalyOptions> = {},
): Promise<SeriesAnomaly[]> {
  return createAnomalyEvaluator(store, opts).evaluate(matchers, at);
}

/** The current value of a series from its raw points in the last window, or undefined when it has none or has ended. */
function currentValue(points: readonly Point[], mode: 'avg' | 'last'): number | undefined {
  const newest = points.at(-1);
  if (!newest || isStaleNaN(newest.v)) return undefined;
  let sum = 0;
  let count = 0;
  let last: number | undefined;
  // only the points after the last stale marker: before it the series was a different run
  for (let i = points.length - 1; i >= 0; i--) {
    const v = points[i]!.v;
    if (isStaleNaN(v)) break;
    if (!Number.isFinite(v)) continue;
    if (last === undefined) last = v;
    sum += v;
    count++;
  }
  if (count === 0) return undefined;
  return mode === 'last' ? last : sum / count;
}

/**
 * The spans (by point time, inclusive) seasonalBaseline and levelOffsets read at `at`, ascending,
 * overlaps merged; 'buckets': only the past seasons' buckets (for seasonalBaseline with given offsets).
 */
export function historyRanges(at: number, opts: Partial<AnomalyOptions> = {}, part: 'all' | 'buckets' = 'all'): [number, number][] {
  const o = resolveAnomalyOptions(opts);
  const half = o.bucketMs / 2;
  const level = part === 'all' ? o.levelWindowMs : 0;
  const ranges: [number, number][] = [];
  for (let k = o.lookbackSeasons; k >= 1; k--) {
    const c = at - k * o.seasonMs;
    // the bucket is [c − half, c + half): the last millisecond it includes is c + half − 1
    ranges.push([c - Math.max(half, level), c + half - 1]);
  }
  if (level > 0) ranges.push([at - level, at]);
  const merged: [number, number][] = [];
  for (const r of ranges) {
    const last = merged.at(-1);
    if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
    else merged.push([r[0], r[1]]);
  }
  return merged;
}

// Scratch buffers, reused across calls (the functions are synchronous): `scratch` for level medians,
// `pool` for the pooled bucket values.
let scratch: Float64Array = new Float64Array(1024);
let pool: Float64Array = new Float64Array(256);

/**
 * Copies the finite values of the points with t in the window into a scratch buffer and returns
 * their count: into `pool` from index `base` (with `shift` added) when `intoPool`, else into `scratch` at 0.
 * The level window (from, to] is open at its start; the bucket window [from, to) at its end.
 */
function collect(points: readonly Point[], from: number, to: number, intoPool: boolean, base: number, shift: number): number {
  let i = intoPool ? lowerBound(points, from) : upperBound(points, from);
  let n = 0;
  for (; i < points.length; i++) {
    const p = points[i]!;
    if (intoPool ? p.t >= to : p.t > to) break;
    const v = p.v;
    if (!Number.isFinite(v)) continue;
    if (intoPool) {
      if (base + n >= pool.length) pool = grow(pool, base + n + 1);
      pool[base + n] = v + shift;
    } else {
      if (n >= scratch.length) scratch = grow(scratch, n + 1);
      scratch[n] = v;
    }
    n++;
  }
  return n;
}

function grow(a: Float64Array, min: number): Float64Array {
  const b = new Float64Array(Math.max(min, a.length * 2));
  b.set(a);
  return b;
}

/** First index with t ≥ x. */
function lowerBound(points: readonly Point[], x: number): number {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (points[mid]!.t < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index with t > x. */
function upperBound(points: readonly Point[], x: number): number {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (points[mid]!.t <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The median of a[0..n) (n ≥ 1), reordering them: quickselect, O(n). */
function medianOf(a: Float64Array, n: number): number {
  const k = n >> 1;
  const hi = select(a, n, k);
  if (n & 1) return hi;
  // after select, a[0..k) holds the k smallest: the lower middle is their maximum
  let lo = a[0]!;
  for (let i = 1; i < k; i++) if (a[i]! > lo) lo = a[i]!;
  return (lo + hi) / 2;
}

/** The k-th smallest of a[0..n), leaving smaller values before index k (Hoare partition, median of three). */
function select(a: Float64Array, n: number, k: number): number {
  let left = 0;
  let right = n - 1;
  while (right > left) {
    const mid = (left + right) >>> 1;
    // median of three as pivot, moved to a[k]'s neighbourhood by value only
    const x = a[left]!;
    const y = a[mid]!;
    const z = a[right]!;
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = left;
    let j = right;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else return a[k]!;
  }
  return a[k]!;
}

function assertNever(x: never): never {
  throw new Error(`unexpected value ${String(x)}`);
}

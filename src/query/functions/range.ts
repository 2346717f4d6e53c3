// Range-vector functions (Prometheus functions.go): each takes one series' points [a, b) in the
// step's window (never empty, stale markers left out) and returns the value, or null to drop the series.
import { execError } from '../errors.ts';
import type { Points } from '../value.ts';
import { avg, kahanSum, linearRegression, quantile, variance } from './stats.ts';

export interface RangeContext {
  /** evaluation time (ms) */
  ts: number;
  /** the window (rangeStart, rangeEnd] in ms, offset applied */
  rangeStart: number;
  rangeEnd: number;
  rangeMs: number;
  /** the call's scalar arguments, in order, evaluated at ts */
  params: number[];
}
export type RangeFn = (pts: Points, a: number, b: number, ctx: RangeContext) => number | null;

function values(pts: Points, a: number, b: number): number[] {
  const out = new Array<number>(b - a);
  for (let i = a; i < b; i++) out[i - a] = pts.v[i]!;
  return out;
}

/**
 * Prometheus's extrapolatedRate for rate, increase (counters: resets added back, not extrapolated
 * below zero) and delta: extrapolation to the window edges limited to 1.1× the average interval.
 */
export function extrapolatedRate(pts: Points, a: number, b: number, ctx: RangeContext, isCounter: boolean, isRate: boolean): number | null {
  const n = b - a;
  if (n < 2) return null;
  const firstV = pts.v[a]!;
  let result = pts.v[b - 1]! - firstV;
  if (isCounter) {
    let prev = firstV;
    for (let i = a + 1; i < b; i++) {
      const cur = pts.v[i]!;
      if (cur < prev) result += prev;
      prev = cur;
    }
  }
  return extrapolate({ n, firstT: pts.t[a]!, firstV, lastT: pts.t[b - 1]!, result }, ctx, isCounter, isRate);
}

/** What extrapolatedRate needs of a window's samples: read from raw points or from counter rollups. */
export interface RateInput {
  /** number of samples, ≥ 2 */
  n: number;
  firstT: number;
  firstV: number;
  lastT: number;
  /** last − first, counters with resets added back */
  result: number;
}

/** The second half of extrapolatedRate: the increase extrapolated to the window's edges. */
export function extrapolate(w: RateInput, ctx: Pick<RangeContext, 'rangeStart' | 'rangeEnd' | 'rangeMs'>, isCounter: boolean, isRate: boolean): number {
  const { n, firstT, firstV, lastT, result } = w;
  let durationToStart = (firstT - ctx.rangeStart) / 1000;
  let durationToEnd = (ctx.rangeEnd - lastT) / 1000;
  const sampledInterval = (lastT - firstT) / 1000;
  const avgBetween = sampledInterval / (n - 1);
  const threshold = avgBetween * 1.1;
  if (durationToStart >= threshold) durationToStart = avgBetween / 2;
  if (isCounter) {
    let durationToZero = durationToStart;
    if (result > 0 && firstV >= 0) durationToZero = sampledInterval * (firstV / result);
    if (durationToZero < durationToStart) durationToStart = durationToZero;
  }
  if (durationToEnd >= threshold) durationToEnd = avgBetween / 2;
  let factor = sampledInterval !== 0 ? (sampledInterval + durationToStart + durationToEnd) / sampledInterval : 1;
  if (isRate) factor /= ctx.rangeMs / 1000;
  return result * factor;
}

/** Prometheus's instantValue: irate (isRate; a reset makes the increase the last value) and idelta. */
function instantValue(pts: Points, a: number, b: number, isRate: boolean): number | null {
  if (b - a < 2) return null;
  const last = pts.v[b - 1]!;
  const prev = pts.v[b - 2]!;
  const dt = pts.t[b - 1]! - pts.t[b - 2]!;
  if (dt === 0) return null;
  const d = isRate && last < prev ? last : last - prev;
  return isRate ? d / (dt / 1000) : d;
}

/** compareOverTime: the first value that beats all others (a NaN is beaten by anything). */
function extreme(pts: Points, a: number, b: number, better: (x: number, y: number) => boolean, timestamp: boolean): number {
  let m = pts.v[a]!;
  let t = pts.t[a]!;
  for (let i = a; i < b; i++) {
    const v = pts.v[i]!;
    if (better(v, m) || Number.isNaN(m)) {
      m = v;
      t = pts.t[i]!;
    }
  }
  return timestamp ? t / 1000 : m;
}
const greater = (x: number, y: number) => x > y;
const less = (x: number, y: number) => x < y;

/** Holt's linear smoothing (funcDoubleExponentialSmoothing); factors outside (0, 1) are an error. */
function doubleExponentialSmoothing(pts: Points, a: number, b: number, ctx: RangeContext): number | null {
  const [sf, tf] = ctx.params as [number, number];
  if (!(sf > 0 && sf < 1)) throw execError(`invalid smoothing factor. Expected: 0 < sf < 1, got: ${goFixed(sf)}`);
  if (!(tf > 0 && tf < 1)) throw execError(`invalid trend factor. Expected: 0 < tf < 1, got: ${goFixed(tf)}`);
  if (b - a < 2) return null;
  let s0 = 0;
  let s1 = pts.v[a]!;
  let trend = pts.v[a + 1]! - pts.v[a]!;
  for (let i = 1; i < b - a; i++) {
    const x = sf * pts.v[a + i]!;
    // calcTrendValue(i-1, …): the first step keeps the initial trend
    if (i - 1 !== 0) trend = tf * (s1 - s0) + (1 - tf) * trend;
    const y = (1 - sf) * (s1 + trend);
    s0 = s1;
    s1 = x + y;
  }
  return s1;
}

/** Go's %f: six decimals, NaN and ±Inf spelled as Go does. */
function goFixed(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  return v.toFixed(6);
}

function madOverTime(pts: Points, a: number, b: number): number {
  const vals = values(pts, a, b);
  // a NaN makes the median, and so the deviation, undefined
  if (vals.some(Number.isNaN)) return NaN;
  const median = quantile(0.5, vals);
  return quantile(
    0.5,
    vals.map((v) => Math.abs(v - median)),
  );
}

export const RANGE_FUNCTIONS = {
  rate: (p, a, b, c) => extrapolatedRate(p, a, b, c, true, true),
  increase: (p, a, b, c) => extrapolatedRate(p, a, b, c, true, false),
  delta: (p, a, b, c) => extrapolatedRate(p, a, b, c, false, false),
  irate: (p, a, b) => instantValue(p, a, b, true),
  idelta: (p, a, b) => instantValue(p, a, b, false),
  deriv: (p, a, b) => (b - a < 2 ? null : linearRegression(p, a, b, p.t[a]!)[0]),
  predict_linear: (p, a, b, c) => {
    if (b - a < 2) return null;
    const [slope, intercept] = linearRegression(p, a, b, c.ts);
    return slope * c.params[0]! + intercept;
  },
  avg_over_time: (p, a, b) => avg(values(p, a, b)),
  sum_over_time: (p, a, b) => kahanSum(values(p, a, b)),
  count_over_time: (_p, a, b) => b - a,
  min_over_time: (p, a, b) => extreme(p, a, b, less, false),
  max_over_time: (p, a, b) => extreme(p, a, b, greater, false),
  ts_of_min_over_time: (p, a, b) => extreme(p, a, b, less, true),
  ts_of_max_over_time: (p, a, b) => extreme(p, a, b, greater, true),
  first_over_time: (p, a) => p.v[a]!,
  last_over_time: (p, _a, b) => p.v[b - 1]!,
  ts_of_first_over_time: (p, a) => p.t[a]! / 1000,
  ts_of_last_over_time: (p, _a, b) => p.t[b - 1]! / 1000,
  present_over_time: () => 1,
  quantile_over_time: (p, a, b, c) => quantile(c.params[0]!, values(p, a, b)),
  stddev_over_time: (p, a, b) => Math.sqrt(variance(p.v, a, b)),
  stdvar_over_time: (p, a, b) => variance(p.v, a, b),
  mad_over_time: (p, a, b) => madOverTime(p, a, b),
  changes: (p, a, b) => {
    let n = 0;
    for (let i = a + 1; i < b; i++) {
      const cur = p.v[i]!;
      const prev = p.v[i - 1]!;
      if (cur !== prev && !(Number.isNaN(cur) && Number.isNaN(prev))) n++;
    }
    return n;
  },
  resets: (p, a, b) => {
    let n = 0;
    for (let i = a + 1; i < b; i++) if (p.v[i]! < p.v[i - 1]!) n++;
    return n;
  },
  double_exponential_smoothing: doubleExponentialSmoothing,
} satisfies Record<string, RangeFn>;

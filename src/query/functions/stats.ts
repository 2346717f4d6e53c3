// Numeric helpers shared by functions and aggregations, as Prometheus's (kahansum.Inc, quantile,
// linearRegression, the overflow-safe mean).
import type { Points } from '../value.ts';

/** Prometheus's kahanSumInc. */
export function kahanInc(inc: number, sum: number, c: number): [number, number] {
  const t = sum + inc;
  if (!Number.isFinite(t) && !Number.isNaN(t)) c = 0;
  else if (Math.abs(sum) >= Math.abs(inc)) c += sum - t + inc;
  else c += inc - t + sum;
  return [t, c];
}

/** Kahan-compensated summation, as Prometheus's sum and sum_over_time. */
export function kahanSum(vals: readonly number[]): number {
  let sum = 0;
  let c = 0;
  for (const v of vals) [sum, c] = kahanInc(v, sum, c);
  return sum + c;
}

/**
 * Prometheus's mean (aggregation avg and avg_over_time): a Kahan-compensated sum divided at the end
 * while the sum stays finite, then an incremental mean (functions.go funcAvgOverTime).
 */
export function avg(vals: readonly number[]): number {
  let sum = vals[0]!;
  let c = 0;
  let incremental = false;
  let mean = 0;
  for (let i = 1; i < vals.length; i++) {
    const f = vals[i]!;
    const count = i + 1;
    if (!incremental) {
      const [ns, nc] = kahanInc(f, sum, c);
      if (ns !== Infinity && ns !== -Infinity) {
        sum = ns;
        c = nc;
        continue;
      }
      incremental = true;
      mean = sum / (count - 1);
      c /= count - 1;
    }
    const q = (count - 1) / count;
    [mean, c] = kahanInc(f / count, q * mean, q * c);
  }
  return incremental ? mean + c : sum / vals.length + c / vals.length;
}

/** Prometheus's quantile: linear interpolation between the closest ranks. */
export function quantile(q: number, values: number[]): number {
  if (values.length === 0 || Number.isNaN(q)) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  // Go's sort puts NaN first for float64 Less (NaN < x is false); match: NaN sorts lowest
  const sorted = [...values].sort((a, b) => (Number.isNaN(a) ? -1 : Number.isNaN(b) ? 1 : a - b));
  const n = sorted.length;
  const rank = q * (n - 1);
  const lower = Math.max(0, Math.floor(rank));
  const upper = Math.min(n - 1, lower + 1);
  const weight = rank - Math.floor(rank);
  return sorted[lower]! * (1 - weight) + sorted[upper]! * weight;
}

/** Prometheus's linearRegression over samples [a, b): least squares with x in seconds relative to interceptTime. */
export function linearRegression(pts: Points, a: number, b: number, interceptTime: number): [number, number] {
  const initY = pts.v[a]!;
  let constY = true;
  let n = 0;
  let sumX = 0;
  let sumY = 0;
  let sumXY = 0;
  let sumX2 = 0;
  for (let i = a; i < b; i++) {
    const y = pts.v[i]!;
    if (constY && i > a && y !== initY) constY = false;
    n++;
    const x = (pts.t[i]! - interceptTime) / 1000;
    sumX += x;
    sumY += y;
    sumXY += x * y;
    sumX2 += x * x;
  }
  if (constY) return Number.isFinite(initY) ? [0, initY] : [NaN, NaN];
  const covXY = sumXY - (sumX * sumY) / n;
  const varX = sumX2 - (sumX * sumX) / n;
  const slope = covXY / varX;
  return [slope, sumY / n - (slope * sumX) / n];
}

/** Welford's variance with Kahan-compensated mean and sum of squares (varianceOverTime). */
export function variance(vals: ArrayLike<number>, a = 0, b = vals.length): number {
  let count = 0;
  let mean = 0;
  let cMean = 0;
  let aux = 0;
  let cAux = 0;
  for (let i = a; i < b; i++) {
    const f = vals[i]!;
    count++;
    const delta = f - (mean + cMean);
    [mean, cMean] = kahanInc(delta / count, mean, cMean);
    [aux, cAux] = kahanInc(delta * (f - (mean + cMean)), aux, cAux);
  }
  return (aux + cAux) / count;
}

const MIN_NORMAL = 2.2250738585072014e-308;

/** Prometheus's util/almost.Equal: relative tolerance, NaN equal to NaN. */
export function almostEqual(a: number, b: number, eps: number): boolean {
  if (Number.isNaN(a) && Number.isNaN(b)) return true;
  if (a === b) return true;
  const absSum = Math.abs(a) + Math.abs(b);
  const diff = Math.abs(a - b);
  if (a === 0 || b === 0 || absSum < MIN_NORMAL) return diff < eps * MIN_NORMAL;
  return diff / Math.min(absSum, Number.MAX_VALUE) < eps;
}

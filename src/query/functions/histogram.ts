// histogram_quantile and histogram_fraction over classic histograms: `_bucket` series told apart by
// their `le` label (Prometheus quantile.go BucketQuantile / BucketFraction, engine.go resetHistograms).
// Native histograms are not stored by dpmon, so only the classic path exists.
import type { Labels } from '../../model/labels.ts';
import type { Sample } from '../value.ts';
import { almostEqual } from './stats.ts';

interface Bucket {
  upperBound: number;
  count: number;
}

/** quantile.go smallDeltaTolerance: bucket counts this close are taken as equal. */
const SMALL_DELTA_TOLERANCE = 1e-12;

/** Go's strconv.ParseFloat for an `le` value; null when Go would refuse it. */
export function parseGoFloat(s: string): number | null {
  if (/^[+-]?(inf|infinity)$/i.test(s)) return s.startsWith('-') ? -Infinity : Infinity;
  if (/^[+-]?nan$/i.test(s)) return NaN;
  if (/^[+-]?(\d+(_\d+)*\.?(\d+(_\d+)*)?|\.\d+(_\d+)*)([eE][+-]?\d+)?$/.test(s) && !s.includes('_')) return Number(s);
  const hex = /^([+-]?)0[xX]([0-9a-fA-F]*)\.?([0-9a-fA-F]*)[pP]([+-]?\d+)$/.exec(s);
  if (hex && (hex[2]! + hex[3]!).length > 0) {
    const mant = parseInt(hex[2]! + hex[3]! || '0', 16) / 16 ** hex[3]!.length;
    return (hex[1] === '-' ? -1 : 1) * mant * 2 ** Number(hex[4]);
  }
  return null;
}

export interface BucketSeries {
  /** the result's labels: the series' without `__name__` and `le` */
  labels: Labels;
  buckets: Bucket[];
}

/**
 * The input's float samples grouped into histograms by their labels without `le` (the name counts:
 * two histograms of different names stay apart). Samples whose `le` is not a float are left out
 * (Prometheus annotates them "bad bucket label").
 */
export function groupBuckets(input: Sample[], labelsId: (l: Labels) => string): BucketSeries[] {
  const byId = new Map<string, BucketSeries>();
  for (const s of input) {
    const ub = parseGoFloat(s.labels.le ?? '');
    if (ub === null) continue;
    const { le: _le, ...rest } = s.labels;
    const id = labelsId(rest);
    let h = byId.get(id);
    if (!h) {
      const { __name__: _n, ...labels } = rest;
      byId.set(id, (h = { labels, buckets: [] }));
    }
    h.buckets.push({ upperBound: ub, count: s.v });
  }
  return [...byId.values()];
}

function sortAndCoalesce(buckets: Bucket[]): Bucket[] {
  const sorted = [...buckets].sort((a, b) => (a.upperBound < b.upperBound ? -1 : a.upperBound > b.upperBound ? 1 : 0));
  const out: Bucket[] = [];
  for (const b of sorted) {
    const last = out[out.length - 1];
    if (last && last.upperBound === b.upperBound) last.count += b.count;
    else out.push({ ...b });
  }
  return out;
}

/** ensureMonotonicAndIgnoreSmallDeltas: counts that fall are raised to the previous; returns whether any was. */
function ensureMonotonic(buckets: Bucket[]): boolean {
  let forced = false;
  let prev = buckets[0]!.count;
  for (let i = 1; i < buckets.length; i++) {
    const curr = buckets[i]!.count;
    if (curr === prev) continue;
    if (almostEqual(prev, curr, SMALL_DELTA_TOLERANCE)) {
      buckets[i]!.count = prev;
      continue;
    }
    if (curr < prev) {
      buckets[i]!.count = prev;
      forced = true;
      continue;
    }
    prev = curr;
  }
  return forced;
}

/**
 * Prometheus's BucketQuantile: linear interpolation inside the bucket holding rank q·count, the
 * lowest bucket's lower bound 0 (unless its upper bound is ≤ 0), the +Inf bucket answering the
 * second-highest bound; NaN without a +Inf bucket, with fewer than two buckets or no observations.
 */
export function bucketQuantile(q: number, input: Bucket[]): number {
  if (Number.isNaN(q)) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  const sorted = [...input].sort((a, b) => (a.upperBound < b.upperBound ? -1 : a.upperBound > b.upperBound ? 1 : 0));
  if (sorted[sorted.length - 1]!.upperBound !== Infinity) return NaN;
  const buckets = sortAndCoalesce(sorted);
  ensureMonotonic(buckets);
  if (buckets.length < 2) return NaN;
  const observations = buckets[buckets.length - 1]!.count;
  if (observations === 0) return NaN;
  let rank = q * observations;
  // sort.Search over all but the +Inf bucket: the first whose count reaches the rank
  let b = 0;
  while (b < buckets.length - 1 && !(buckets[b]!.count >= rank)) b++;
  if (b === buckets.length - 1) return buckets[buckets.length - 2]!.upperBound;
  if (b === 0 && buckets[0]!.upperBound <= 0) return buckets[0]!.upperBound;
  let bucketStart = 0;
  const bucketEnd = buckets[b]!.upperBound;
  let count = buckets[b]!.count;
  if (b > 0) {
    bucketStart = buckets[b - 1]!.upperBound;
    count -= buckets[b - 1]!.count;
    rank -= buckets[b - 1]!.count;
  }
  return bucketStart + (bucketEnd - bucketStart) * (rank / count);
}

/** Prometheus's BucketFraction: the estimated share of observations in [lower, upper]. */
export function bucketFraction(lower: number, upper: number, input: Bucket[]): number {
  const sorted = [...input].sort((a, b) => (a.upperBound < b.upperBound ? -1 : a.upperBound > b.upperBound ? 1 : 0));
  if (sorted[sorted.length - 1]!.upperBound !== Infinity) return NaN;
  const buckets = sortAndCoalesce(sorted);
  const count = buckets[buckets.length - 1]!.count;
  if (count === 0 || Number.isNaN(lower) || Number.isNaN(upper)) return NaN;
  if (lower >= upper) return 0;
  let rank = 0;
  let lowerRank = 0;
  let upperRank = 0;
  let lowerSet = false;
  let upperSet = false;
  let lowerBound = buckets[0]!.upperBound <= 0 ? -Infinity : 0;
  for (let i = 0; i < buckets.length; i++) {
    const b = buckets[i]!;
    if (i > 0) lowerBound = buckets[i - 1]!.upperBound;
    const upperBound = b.upperBound;
    const interpolate = (v: number) => (lowerBound === -Infinity ? b.count : rank + ((b.count - rank) * (v - lowerBound)) / (upperBound - lowerBound));
    if (!lowerSet && lowerBound >= lower) {
      lowerRank = rank;
      lowerSet = true;
    }
    if (!upperSet && lowerBound >= upper) {
      upperRank = rank;
      upperSet = true;
    }
    if (lowerSet && upperSet) break;
    if (!lowerSet && lowerBound < lower && upperBound > lower) {
      lowerRank = interpolate(lower);
      lowerSet = true;
    }
    if (!upperSet && lowerBound < upper && upperBound > upper) {
      upperRank = interpolate(upper);
      upperSet = true;
    }
    if (lowerSet && upperSet) break;
    rank = b.count;
  }
  if (!lowerSet || lowerRank > count) lowerRank = count;
  if (!upperSet || upperRank > count) upperRank = count;
  return (upperRank - lowerRank) / count;
}

// The reference Store: every point in memory, no persistence, no retention. For tests (PromQL's
// promqltest scripts load into it) and as the model the contract suite holds other stores to.
// Points are objects, so a stale marker keeps its NaN bits (see model/stale.ts).
import { labelsKey, type Labels } from '../model/labels.ts';
import { compileMatcher, matchesAll, type Matcher } from '../model/matcher.ts';
import { isStaleNaN } from '../model/stale.ts';
import { counterWindow } from './counter-windows.ts';
import type { CounterWindow, Point, RollupFunction, SeriesCounterWindows, SeriesPoints, Store, StoredSample } from './store.ts';

export function createMemoryStore(opts: { rollupWindowMs?: number } = {}): Store {
  const windowMs = opts.rollupWindowMs ?? 300_000;
  const series = new Map<string, { labels: Labels; points: Point[] }>();

  function matching(matchers: readonly Matcher[]) {
    const compiled = matchers.map(compileMatcher);
    return [...series.values()].filter((s) => matchesAll(s.labels, compiled));
  }

  /** Points are ascending (append drops out-of-order ones): a read costs what it returns, as a real store's. */
  function inRange(points: readonly Point[], start: number, end: number): Point[] {
    return points.slice(firstWhere(points, (t) => t >= start), firstWhere(points, (t) => t > end));
  }

  /** Index of the first point whose time passes `past` (monotone over ascending times). */
  function firstWhere(points: readonly Point[], past: (t: number) => boolean): number {
    let lo = 0;
    let hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (past(points[mid]!.t)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  return {
    append(samples: readonly StoredSample[]) {
      for (const s of samples) {
        const key = labelsKey(s.labels);
        let entry = series.get(key);
        if (!entry) series.set(key, (entry = { labels: s.labels, points: [] }));
        const last = entry.points.at(-1);
        if (last && s.t <= last.t) continue;
        entry.points.push({ t: s.t, v: s.v });
      }
    },
    select(matchers, start, end): SeriesPoints[] {
      return matching(matchers)
        .map((s) => ({ labels: s.labels, points: inRange(s.points, start, end) }))
        .filter((s) => s.points.length > 0);
    },
    firstPointTime(matchers, start, end) {
      let first = Infinity;
      for (const s of matching(matchers)) {
        const p = s.points.find((p) => p.t >= start);
        if (p && p.t <= end && p.t < first) first = p.t;
      }
      return first === Infinity ? null : first;
    },
    selectRollup(matchers, fn, start, end): SeriesPoints[] {
      const out: SeriesPoints[] = [];
      for (const s of matching(matchers)) {
        const windows = new Map<number, number[]>();
        for (const p of s.points) {
          const w = Math.floor(p.t / windowMs) * windowMs;
          if (w < start || w > end || isStaleNaN(p.v)) continue; // stale markers are not values
          let vs = windows.get(w);
          if (!vs) windows.set(w, (vs = []));
          vs.push(p.v);
        }
        const points = [...windows].sort((a, b) => a[0] - b[0]).map(([t, vs]) => ({ t, v: rollup(fn, vs) }));
        if (points.length) out.push({ labels: s.labels, points });
      }
      return out;
    },
    selectCounterWindows(matchers, start, end): SeriesCounterWindows[] {
      const out: SeriesCounterWindows[] = [];
      for (const s of matching(matchers)) {
        const windows: CounterWindow[] = [];
        let w = NaN;
        const times: number[] = [];
        const values: number[] = [];
        const close = () => {
          if (values.length) windows.push(counterWindow(w, times, values));
          times.length = 0;
          values.length = 0;
        };
        for (const p of s.points) {
          const pw = Math.floor(p.t / windowMs) * windowMs;
          if (pw < start || pw > end || isStaleNaN(p.v)) continue;
          if (pw !== w) {
            close();
            w = pw;
          }
          times.push(p.t);
          values.push(p.v);
        }
        close();
        if (windows.length) out.push({ labels: s.labels, windows });
      }
      return out;
    },
    series(matchers, start, end) {
      return matching(matchers)
        .filter((s) => s.points.some((p) => p.t >= start && p.t <= end))
        .map((s) => s.labels);
    },
    labelNames(start, end) {
      const names = new Set<string>();
      for (const s of series.values()) if (s.points.some((p) => p.t >= start && p.t <= end)) for (const [n, v] of Object.entries(s.labels)) if (v !== '') names.add(n);
      return [...names].sort();
    },
    labelValues(name, start, end) {
      const values = new Set<string>();
      for (const s of series.values()) {
        const v = s.labels[name];
        if (v !== undefined && v !== '' && s.points.some((p) => p.t >= start && p.t <= end)) values.add(v);
      }
      return [...values].sort();
    },
    async close() {},
  };
}

/** One rollup function over a window's values (values in time order). */
export function rollup(fn: RollupFunction, values: readonly number[]): number {
  switch (fn) {
    case 'avg':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'max':
      return Math.max(...values);
    case 'min':
      return Math.min(...values);
    case 'count':
      return values.length;
    case 'last':
      return values[values.length - 1]!;
    case 'percentile_95': {
      // nearest-rank on the sorted values, as the rollup tables store it
      const sorted = [...values].sort((a, b) => a - b);
      return sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)]!;
    }
  }
}

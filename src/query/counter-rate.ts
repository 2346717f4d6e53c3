// rate()/increase() of one series over one step's window from the store's counter windows (issue 15):
// what extrapolatedRate reads of the raw samples (count, first and last sample, reset-corrected
// increase), put together from whole rollup windows and the raw points on the window's edges.
import type { CounterWindow, Point } from '../store/store.ts';
import type { RateInput } from './functions/range.ts';

/** The raw points on one step's window edges that the counter windows cannot give. */
export interface CounterEdges {
  /** the value of a point exactly at lo (in window [lo, lo + W) but outside the left-open range) */
  atLo: number | undefined;
  /** the first point after lo in lo's window: the range's first sample when there is a point at lo */
  afterLo: Point | undefined;
  /** the value of a point exactly at hi (in the range, in no window read) */
  atHi: number | undefined;
}

/**
 * The samples of (lo, hi] as extrapolatedRate needs them, from the windows [lo, hi) (windows[k0 …
 * k1-1], undefined where a window has no samples) and the edge points; null when the range holds
 * fewer than 2 samples (no result, as the raw path), 'unknown' when the rollups cannot give it
 * exactly (a non-finite value, or a window that does not start at lo's point) and raw points must.
 * Stale markers are in neither the windows nor the edges, as they are not in a raw range.
 */
export function counterRateInput(
  windows: readonly (CounterWindow | undefined)[] | undefined,
  k0: number,
  k1: number,
  lo: number,
  hi: number,
  edges: CounterEdges,
): RateInput | null | 'unknown' {
  const { atLo, afterLo, atHi } = edges;
  if (atLo !== undefined && !Number.isFinite(atLo)) return 'unknown';
  const r = { n: 0, firstT: 0, firstV: 0, lastT: 0, lastV: 0, inc: 0 };
  for (let k = k0; k < k1; k++) {
    const w = windows?.[k];
    if (!w) continue;
    if (k === k0 && atLo !== undefined) {
      // the window's first sample (t = lo) is outside the range: the window without it begins at afterLo
      if (w.firstT !== lo || w.firstV !== atLo) return 'unknown';
      if (w.count === 1) continue;
      if (!afterLo || !Number.isFinite(afterLo.v)) return 'unknown';
      const first = afterLo.v < atLo ? afterLo.v : afterLo.v - atLo;
      if (!addRun(r, afterLo.t, afterLo.v, w.lastT, w.lastV, w.inc - first, w.count - 1)) return 'unknown';
    } else if (!addRun(r, w.firstT, w.firstV, w.lastT, w.lastV, w.inc, w.count)) return 'unknown';
  }
  if (atHi !== undefined && !addRun(r, hi, atHi, hi, atHi, 0, 1)) return 'unknown';
  if (r.n < 2) return null;
  return { n: r.n, firstT: r.firstT, firstV: r.firstV, lastT: r.lastT, result: r.inc };
}

interface Runs {
  n: number;
  firstT: number;
  firstV: number;
  lastT: number;
  lastV: number;
  inc: number;
}

/** Appends a run of samples (first, last, the increase within it, how many); false on a non-finite value. */
function addRun(r: Runs, fT: number, fV: number, lT: number, lV: number, runInc: number, count: number): boolean {
  if (!Number.isFinite(fV) || !Number.isFinite(lV) || !Number.isFinite(runInc)) return false;
  if (r.n === 0) {
    r.firstT = fT;
    r.firstV = fV;
  } else r.inc += fV < r.lastV ? fV : fV - r.lastV; // a decrease between runs is a restart from 0
  r.inc += runInc;
  r.n += count;
  r.lastT = lT;
  r.lastV = lV;
  return true;
}

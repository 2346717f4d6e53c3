// One selector's raw points for one query, read forward from the store's cursors (issue 23). A
// "streamed" reader follows the steps: range queries evaluate steps in ascending time, so it reads up
// to each step's window end and drops what lies behind the window start, and holds about one window
// per series however long the query. A "whole span" reader reads its span before the first step and
// keeps it (for selectors read out of step order). Reads are made in pieces of time, each sized from
// the last to take about PIECE_TARGET_MS, with the event loop's turn between them
// (docs/architecture.md "Queries and the event loop").
import type { Labels } from '../model/labels.ts';
import type { Matcher } from '../model/matcher.ts';
import { isStaleNaN } from '../model/stale.ts';
import { cursorsOf } from '../store/cursors.ts';
import type { PointBatch, SeriesCursor, Store } from '../store/store.ts';

/** A series' points as parallel arrays of times and values (two objects per series, bytes off the heap). */
export interface Cols {
  readonly t: Float64Array;
  readonly v: Float64Array;
  readonly length: number;
}

/** What a reader needs of the query's Budget (engine.ts). */
export interface ReadBudget {
  pause(where: string): Promise<void>;
  load(n: number): void;
  release(n: number): void;
}

export type ReadMode = 'streamed' | 'whole';

/** A span read in one piece (an instant query's lookback); longer ones start with smaller pieces. */
const ONE_READ_MS = 600_000;
/** How long one read of the store should take: the event loop waits that long at most. */
const PIECE_TARGET_MS = 5;
/** Empty read pieces in a row before each further one doubles the next. */
const EMPTY_BEFORE_DOUBLING = 1000;
/** A piece is never made smaller once it holds fewer points than this. */
const PIECE_MIN_POINTS = 10_000;
/** Nor shorter than a minute (4,000 points of 1,000 series at 15 s). */
const PIECE_MIN_MS = 60_000;
/**
 * How far past a step's window a streamed reader may read in the same piece: a piece sized to take
 * ~5 ms serves the next steps too (a store read costs a few ms a call whatever its span, and a 24 h
 * query at a 5 m step is 289 steps), while what is held ahead stays bounded (30 min of 1,000 series
 * at 15 s: 120,000 points, 1.9 MB).
 */
const READ_AHEAD_MS = 1_800_000;
/** Points dropped from a window's front only once this many and half the buffer are behind it (copying is amortized). */
const DROP_MIN = 64;

/**
 * A series' points held by the query, growing at the end by doubling and dropped at the front as the
 * windows move on.
 */
export class SeriesBuffer implements Cols {
  t = new Float64Array(16);
  v = new Float64Array(16);
  length = 0;

  append(batch: PointBatch): void {
    const n = batch.length;
    if (n === 0) return;
    const need = this.length + n;
    if (need > this.t.length) this.resize(2 ** Math.ceil(Math.log2(need)));
    // a loop, not set(subarray): a step appends a few points to each of 1,000 series, and two
    // subarray objects per append cost more than the copy
    const t = this.t;
    const v = this.v;
    for (let k = 0, w = this.length; k < n; k++, w++) {
      t[w] = batch.t[k]!;
      v[w] = batch.v[k]!;
    }
    this.length = need;
  }

  /** Drops points [0, k). */
  dropFront(k: number): void {
    this.t.copyWithin(0, k, this.length);
    this.v.copyWithin(0, k, this.length);
    this.length -= k;
    // a window that was long once (the first step's read) does not keep its arrays' size for good
    if (this.t.length > 1024 && this.length * 4 < this.t.length) this.resize(Math.max(16, 2 ** Math.ceil(Math.log2(this.length * 2 + 1))));
  }

  /** Removes the stale markers among points [from, length); returns how many there were. */
  removeStale(from: number): number {
    let w = from;
    for (let r = from; r < this.length; r++) {
      const v = this.v[r]!;
      if (v !== v && isStaleNaN(v)) continue;
      this.t[w] = this.t[r]!;
      this.v[w] = v;
      w++;
    }
    const removed = this.length - w;
    this.length = w;
    return removed;
  }

  private resize(cap: number): void {
    const t = new Float64Array(cap);
    const v = new Float64Array(cap);
    t.set(this.t.subarray(0, this.length));
    v.set(this.v.subarray(0, this.length));
    this.t = t;
    this.v = v;
  }
}

/**
 * One series of a selector with where the previous step's window was: steps move forward, so the
 * next window's bounds are found by scanning on from there (a few points) instead of binary-searching.
 */
export interface FetchedSeries {
  readonly labels: Labels;
  readonly points: SeriesBuffer;
  /** range selectors: points[0, checked) hold no stale marker; checked lazily as windows reach them */
  checked: number;
  /** the previous window [a, b): hints for the next */
  a: number;
  b: number;
  /** points[0, released) lie behind every window still to come: no longer counted as held, dropped in bulk */
  released: number;
  readonly cursor: SeriesCursor;
}

/** A series' points in one step's window: indices [a, b) of its points, never empty. */
/** What a window's series offers the functions: its labels and points (a subquery's are its own). */
export interface WindowSeries {
  readonly labels: Labels;
  readonly points: Cols;
}

export interface SeriesWindow {
  s: WindowSeries;
  a: number;
  b: number;
}

export interface SelectorReaderOptions {
  store: Store;
  matchers: readonly Matcher[];
  /** the span [from, to] of points any step can need */
  from: number;
  to: number;
  /** the selector's window (range, or the lookback): what trim() keeps behind a step's end */
  windowMs: number;
  mode: ReadMode;
  budget: ReadBudget;
  /** the order of series in every window (the evaluator's label order) */
  compare: (a: Labels, b: Labels) => number;
}

export class SelectorReader {
  readonly mode: ReadMode;
  readonly windowMs: number;
  readonly series: FetchedSeries[];
  private readonly to: number;
  private readonly budget: ReadBudget;
  /** every series has been given its points with t ≤ readTo */
  private readTo: number;
  /** the piece of time asked for next, adapted to take about PIECE_TARGET_MS */
  private pieceMs: number;
  private emptyRun = 0;

  constructor(o: SelectorReaderOptions) {
    this.mode = o.mode;
    this.windowMs = o.windowMs;
    this.to = o.to;
    this.budget = o.budget;
    this.series = o.from <= o.to ? cursorsOf(o.store, o.matchers, o.from, o.to).map((cursor) => ({ labels: cursor.labels, points: new SeriesBuffer(), checked: 0, a: 0, b: 0, released: 0, cursor })) : [];
    this.series.sort((a, b) => o.compare(a.labels, b.labels));
    // where the data begins, when the store can say without reading: the empty prefix (`rate(x[24h])`
    // over a 24 h history starts a day before the first point) is crossed by the first piece, and the
    // first piece with data is a small one
    const first = this.series.length === 0 ? null : o.store.firstPointTime?.(o.matchers, o.from, o.to);
    this.readTo = first === null ? o.to : (first === undefined ? o.from : Math.max(o.from, first)) - 1;
    // a span of ONE_READ_MS or less (an instant query's lookback, a 10 m window) in one read: [from, to]
    // holds to - from + 1 ms
    this.pieceMs = o.to - o.from <= ONE_READ_MS ? o.to - o.from + 1 : first === undefined ? ONE_READ_MS : PIECE_MIN_MS;
  }

  /**
   * Reads every series up to `until` (capped at the span's end) in pieces of time, pausing between
   * them; each piece's points count against max_samples as they arrive. The last piece may read on
   * past `until` (READ_AHEAD_MS at most) for the steps to come.
   */
  async fill(until: number, where: string): Promise<void> {
    const target = Math.min(until, this.to);
    while (this.readTo < target) {
      await this.budget.pause(where);
      // a range that begins long before the history (`x[290y]`) on a store without firstPointTime:
      // after EMPTY_BEFORE_DOUBLING empty pieces in a row each further one doubles the next, so the
      // empty centuries take a few dozen more calls instead of billions
      const grow = 2 ** Math.min(Math.max(0, this.emptyRun - EMPTY_BEFORE_DOUBLING), 40);
      const piece = this.readTo + this.pieceMs * grow;
      const b = Math.min(this.to, piece < target ? piece : Math.min(piece, target + READ_AHEAD_MS));
      const t0 = performance.now();
      const n = this.pull(b, target - this.windowMs);
      const took = performance.now() - t0;
      this.emptyRun = n > 0 ? 0 : this.emptyRun + 1;
      // the next piece in proportion (at most 4× either way); an empty piece teaches nothing about
      // the pieces with data after it
      if (n > 0) {
        let scale = Math.min(4, Math.max(0.25, PIECE_TARGET_MS / Math.max(took, 0.1)));
        // a slow piece of few points is the store's cost per call: smaller pieces would only add calls
        if (scale < 1 && n < PIECE_MIN_POINTS) scale = 1;
        this.pieceMs = Math.min(86_400_000, Math.max(PIECE_MIN_MS, Math.floor(this.pieceMs * scale)));
      }
    }
  }

  /** Drops every series' points at or before lo (streamed readers): no later step's window reaches them. */
  trim(lo: number): void {
    if (this.mode !== 'streamed') return;
    for (const s of this.series) {
      const a = upperBoundFrom(s.points, lo, s.a);
      s.a = a;
      // no longer held as max_samples counts (Prometheus's currentSamples), at once; the copy that
      // frees them waits until enough are behind to make it cheap
      if (a > s.released) {
        this.budget.release(a - s.released);
        s.released = a;
      }
      if (a >= DROP_MIN && a * 2 >= s.points.length) this.drop(s, a);
    }
  }

  /**
   * Each series' points in the left-open window (lo, hi], as index ranges. With dropStale (range
   * selectors) the window holds no stale marker: a series' markers are removed when a window first
   * reaches one (Prometheus's matrix iteration skips them).
   */
  window(lo: number, hi: number, dropStale: boolean): SeriesWindow[] {
    // what advance() has not read (a reader first used mid-query) is read now, in one piece
    if (this.readTo < Math.min(hi, this.to)) this.pull(Math.min(hi, this.to), lo);
    const out: SeriesWindow[] = [];
    for (const s of this.series) {
      const pts = s.points;
      let b = upperBoundFrom(pts, hi, s.b);
      if (dropStale && b > s.checked) {
        let stale = false;
        for (let i = s.checked; i < b; i++) {
          const v = pts.v[i]!;
          // v !== v first: only a NaN can be the marker, and the bit test is the slow part
          if (v !== v && isStaleNaN(v)) {
            stale = true;
            break;
          }
        }
        if (stale) {
          // markers already released lie behind every window: left for the next drop
          this.budget.release(pts.removeStale(Math.max(s.checked, s.released)));
          s.checked = pts.length;
          b = upperBound(pts, hi);
        } else s.checked = b;
      }
      const a = upperBoundFrom(pts, lo, Math.min(s.a, b));
      s.a = a;
      s.b = b;
      if (b > a) out.push({ s, a, b });
    }
    return out;
  }

  /**
   * Gives every series its points up to b; returns how many. Those at or before lo (a streamed
   * reader's current window start) are let go before the rest count against max_samples: a step far
   * from the last reads the points between the two windows, which no window holds.
   */
  private pull(b: number, lo: number): number {
    let n = 0;
    for (const s of this.series) {
      const batch = s.cursor.next(b);
      s.points.append(batch);
      n += batch.length;
    }
    if (b > this.readTo) this.readTo = b;
    this.trim(lo);
    this.budget.load(n);
    return n;
  }

  private drop(s: FetchedSeries, k: number): void {
    s.points.dropFront(k);
    s.released -= k;
    s.a -= k;
    s.b = Math.max(0, s.b - k);
    s.checked = Math.max(0, s.checked - k);
  }
}

/** Index of the first point in [from, to) with t > bound (points ascending). */
export function upperBound(points: Cols, bound: number, from = 0, to = points.length): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (points.t[mid]! > bound) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * upperBound(points, bound) searched from a hint (the same bound's index at the previous step, 0 at
 * the first): a short scan forward, then a binary search over the rest; a binary search below the
 * hint if the bound moved back.
 */
export function upperBoundFrom(points: Cols, bound: number, hint: number): number {
  const n = points.length;
  let i = Math.min(hint, n);
  if (i > 0 && points.t[i - 1]! > bound) return upperBound(points, bound, 0, i);
  for (let k = 0; k < 32 && i < n; k++, i++) if (points.t[i]! > bound) return i;
  return upperBound(points, bound, i, n);
}

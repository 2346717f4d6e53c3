// The history store contract: what the rules engine, PromQL and the HTTP API read, and what the
// scheduler writes. Series are identified by their full label set, `__name__` included.
import type { Labels } from '../model/labels.ts';
import type { Matcher } from '../model/matcher.ts';

/** One stored point: epoch ms and value. */
export interface Point {
  readonly t: number;
  readonly v: number;
}

/** A sample to append: the full label set with `__name__`. */
export interface StoredSample {
  readonly labels: Labels;
  readonly t: number;
  readonly v: number;
}

export interface SeriesPoints {
  /** full label set, `__name__` included */
  readonly labels: Labels;
  /** ascending by t, within the requested range (inclusive) */
  readonly points: readonly Point[];
}

/** Points as parallel columns: times (epoch ms) and values, `length` of each used. */
export interface PointBatch {
  readonly t: Float64Array;
  readonly v: Float64Array;
  readonly length: number;
}

/**
 * One series' points over a range, read forward in time: how the evaluator holds a long range without
 * every raw point decoded at once (issue 23). Stale markers are included, as select() returns them.
 */
export interface SeriesCursor {
  /** full label set, `__name__` included */
  readonly labels: Labels;
  /**
   * The series' next points in ascending time with t ≤ until: those after the previous call's, never
   * before the cursor's start nor after its end; an empty batch when there are none (yet). One call
   * costs about the points it returns; the batch may be reused by the next call.
   */
  next(until: number): PointBatch;
}

/**
 * One rollup window of a series read as a counter: its first and last sample (stale markers left out)
 * and the reset-corrected increase between them (a decrease is a restart from 0). Enough to compute
 * increase()/rate() over whole windows: the sum of the windows' inc plus the reset-corrected steps from
 * one window's last to the next one's first, with Prometheus's extrapolation from firstT/lastT.
 */
export interface CounterWindow {
  /** the window's start */
  readonly w: number;
  readonly firstT: number;
  readonly firstV: number;
  readonly lastT: number;
  readonly lastV: number;
  readonly inc: number;
  readonly count: number;
}

export interface SeriesCounterWindows {
  readonly labels: Labels;
  /** ascending by w; windows with samples whose start lies in the requested range */
  readonly windows: readonly CounterWindow[];
}

/** The spec's `metrics_aggregation.aggregation_functions`, plus min, count and last. */
export type RollupFunction = 'avg' | 'max' | 'min' | 'percentile_95' | 'count' | 'last';

export interface Store {
  /** Appends samples; a sample older than its series' newest is dropped (out of order). */
  append(samples: readonly StoredSample[]): void;
  /** Raw points of every series matching all matchers, with t in [start, end]. */
  select(matchers: readonly Matcher[], start: number, end: number): SeriesPoints[];
  /**
   * Where raw points of the matching series can begin within [start, end]: a time at or before the
   * first such point (the series' first point time, a bound kept in memory, no read), or null when
   * no matching series has points there. Optional: a reader that reads a long range in pieces starts
   * at it instead of stepping through an empty prefix, and sizes the first piece with data knowingly.
   */
  firstPointTime?(matchers: readonly Matcher[], start: number, end: number): number | null;
  /**
   * Cursors over the matching series' points with t in [start, end], sorted by nothing in particular.
   * Optional: a store without it is read through select() in pieces of time (`cursorsOf`).
   */
  cursors?(matchers: readonly Matcher[], start: number, end: number): SeriesCursor[];
  /** Label sets of the series matching the matchers that have points in [start, end]. */
  series(matchers: readonly Matcher[], start: number, end: number): Labels[];
  /**
   * Rollup points of the matching series over fixed windows (`metrics_aggregation.window_size`, 5m):
   * one point per window that has samples, t = the window's start, v = fn over the window's samples.
   */
  selectRollup(matchers: readonly Matcher[], fn: RollupFunction, start: number, end: number): SeriesPoints[];
  /**
   * Counter summaries of the matching series per rollup window, windows whose start lies in
   * [start, end]. Optional. Windows written before the columns existed (schema version 1) have NaN in
   * firstT, firstV, lastT, lastV and inc (not left out: a reader must not take them for gaps).
   */
  selectCounterWindows?(matchers: readonly Matcher[], start: number, end: number): SeriesCounterWindows[];
  /** Names of labels with a non-empty value on a series with points in [start, end] (an empty value is no label). */
  labelNames(start: number, end: number): string[];
  /** The non-empty values of label `name` on series with points in [start, end]. */
  labelValues(name: string, start: number, end: number): string[];
  close(): Promise<void>;
}

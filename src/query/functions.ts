// The PromQL function table, as Prometheus's parser.Functions + FunctionCalls in one: each function's
// argument types, return type and evaluation. The parser checks calls against it (parse.ts) and the
// evaluator runs the entries (engine.ts callSteps); docs/promql.md's list is checked against it.
// Implementations live by kind in functions/: range.ts (over a range selector's window), math.ts,
// labels.ts, histogram.ts.
import type { Labels } from '../model/labels.ts';
import type { RollupFunction } from '../store/store.ts';
import { bucketFraction, bucketQuantile, groupBuckets } from './functions/histogram.ts';
import { absentLabels, labelJoin, labelReplace, sortByLabels, sortByValue } from './functions/labels.ts';
import { clamp, DATE_FUNCTION_NAMES, datePart, MATH_FUNCTIONS, mapValues, round } from './functions/math.ts';
import { RANGE_FUNCTIONS, type RangeFn } from './functions/range.ts';
import type { Matcher } from '../model/matcher.ts';
import type { Points, Sample, Value } from './value.ts';

/** PromQL's value types, as Prometheus's parser.ValueType (`matrix` is a range vector). */
export type ValueType = 'scalar' | 'vector' | 'matrix' | 'string';

/** What an instant-argument function may use besides its arguments' values. */
export interface CallContext {
  /** evaluation time (ms) */
  ts: number;
  /** argument i as written, when it is a selector (instant or range): absent() reports its labels, timestamp() its samples' times */
  selector(i: number): { matchers: Matcher[] } | null;
  dropName(l: Labels): Labels;
  labelsId(l: Labels): string;
  compareLabels(a: Labels, b: Labels): number;
}

/** One series' points in a step's window, for functions that see the whole range-vector argument. */
export interface WindowedSeries {
  labels: Labels;
  points: Points;
  a: number;
  b: number;
}

/**
 * What a range-vector function is served from in an eligible range query: a rollup function, or the
 * store's counter windows (rate/increase; docs/promql.md "Rollups in range queries").
 */
export type RollupSource = RollupFunction | 'counter';

export type FunctionImpl =
  /** per series of the range-vector argument; the other arguments are scalars (RangeContext.params) */
  | { kind: 'range'; fn: RangeFn; keepName?: boolean; rollup?: RollupSource }
  /** the range-vector argument as a whole (absent_over_time) */
  | { kind: 'matrix'; fn: (series: WindowedSeries[], ctx: CallContext) => Value }
  /** every argument evaluated first (instant vectors, scalars, strings) */
  | { kind: 'instant'; fn: (args: Value[], ctx: CallContext) => Value };

export interface FunctionDef {
  name: string;
  args: ValueType[];
  /**
   * Prometheus's Variadic: 0 takes exactly `args`; n > 0 takes the last argument 0 to n times;
   * -1 repeats the last argument any number of times (at least once less than `args`).
   */
  variadic: number;
  returns: ValueType;
  /** behind Prometheus's `--enable-feature=promql-experimental-functions`; dpmon always has them */
  experimental?: boolean;
  impl: FunctionImpl;
}

const vec = (samples: Sample[]): Value => ({ type: 'vector', samples });
const samplesOf = (v: Value | undefined): Sample[] => (v?.type === 'vector' ? v.samples : []);
const scalarOf = (v: Value | undefined): number => (v?.type === 'scalar' ? v.v : NaN);
const stringOf = (v: Value | undefined): string => (v?.type === 'string' ? v.s : '');

function range(name: string, fn: RangeFn, more: { scalars?: 'before' | 'after'; n?: number; keepName?: boolean; rollup?: RollupSource; experimental?: boolean } = {}): FunctionDef {
  const scalars = new Array<ValueType>(more.n ?? 0).fill('scalar');
  const args: ValueType[] = more.scalars === 'before' ? [...scalars, 'matrix'] : ['matrix', ...scalars];
  const def: FunctionDef = { name, args, variadic: 0, returns: 'vector', impl: { kind: 'range', fn, keepName: more.keepName, rollup: more.rollup } };
  if (more.experimental) def.experimental = true;
  return def;
}

function instant(name: string, args: ValueType[], returns: ValueType, fn: (args: Value[], ctx: CallContext) => Value, variadic = 0, experimental = false): FunctionDef {
  const def: FunctionDef = { name, args, variadic, returns, impl: { kind: 'instant', fn } };
  if (experimental) def.experimental = true;
  return def;
}

/** A function of each sample's value: names dropped. */
const simple = (name: string, f: (v: number) => number) =>
  instant(name, ['vector'], 'vector', (a, c) => vec(mapValues(samplesOf(a[0]), c.dropName, f)));

/** histogram_quantile / histogram_fraction: one result per classic histogram (names dropped). */
function histogramFn(args: Value[], ctx: CallContext, f: (buckets: Parameters<typeof bucketQuantile>[1]) => number): Value {
  return vec(groupBuckets(samplesOf(args[args.length - 1]), ctx.labelsId).map((h) => ({ labels: h.labels, v: f(h.buckets) })));
}

function sortFn(name: string, desc: boolean): FunctionDef {
  return instant(name, ['vector'], 'vector', (a) => vec(sortByValue(samplesOf(a[0]), desc)));
}
function sortByLabelFn(name: string, desc: boolean): FunctionDef {
  return instant(name, ['vector', 'string'], 'vector', (a, c) => vec(sortByLabels(samplesOf(a[0]), a.slice(1).map(stringOf), desc, c.compareLabels)), -1, true);
}

const des = range('double_exponential_smoothing', RANGE_FUNCTIONS.double_exponential_smoothing, { n: 2, experimental: true });

const DEFS: FunctionDef[] = [
  // range vector → instant vector
  range('rate', RANGE_FUNCTIONS.rate, { rollup: 'counter' }),
  range('irate', RANGE_FUNCTIONS.irate),
  range('increase', RANGE_FUNCTIONS.increase, { rollup: 'counter' }),
  range('delta', RANGE_FUNCTIONS.delta),
  range('idelta', RANGE_FUNCTIONS.idelta),
  range('deriv', RANGE_FUNCTIONS.deriv),
  range('predict_linear', RANGE_FUNCTIONS.predict_linear, { n: 1 }),
  range('changes', RANGE_FUNCTIONS.changes),
  range('resets', RANGE_FUNCTIONS.resets),
  range('avg_over_time', RANGE_FUNCTIONS.avg_over_time, { rollup: 'avg' }),
  range('min_over_time', RANGE_FUNCTIONS.min_over_time, { rollup: 'min' }),
  range('max_over_time', RANGE_FUNCTIONS.max_over_time, { rollup: 'max' }),
  range('sum_over_time', RANGE_FUNCTIONS.sum_over_time),
  range('count_over_time', RANGE_FUNCTIONS.count_over_time, { rollup: 'count' }),
  range('last_over_time', RANGE_FUNCTIONS.last_over_time, { keepName: true, rollup: 'last' }),
  range('first_over_time', RANGE_FUNCTIONS.first_over_time, { keepName: true }),
  range('present_over_time', RANGE_FUNCTIONS.present_over_time),
  range('stddev_over_time', RANGE_FUNCTIONS.stddev_over_time),
  range('stdvar_over_time', RANGE_FUNCTIONS.stdvar_over_time),
  range('mad_over_time', RANGE_FUNCTIONS.mad_over_time, { experimental: true }),
  range('quantile_over_time', RANGE_FUNCTIONS.quantile_over_time, { n: 1, scalars: 'before' }),
  range('ts_of_min_over_time', RANGE_FUNCTIONS.ts_of_min_over_time, { experimental: true }),
  range('ts_of_max_over_time', RANGE_FUNCTIONS.ts_of_max_over_time, { experimental: true }),
  range('ts_of_first_over_time', RANGE_FUNCTIONS.ts_of_first_over_time, { experimental: true }),
  range('ts_of_last_over_time', RANGE_FUNCTIONS.ts_of_last_over_time, { experimental: true }),
  des,
  // Prometheus 2's name for double_exponential_smoothing (removed in 3.0); kept so old rules still load
  { ...des, name: 'holt_winters' },
  {
    name: 'absent_over_time',
    args: ['matrix'],
    variadic: 0,
    returns: 'vector',
    impl: { kind: 'matrix', fn: (series, c) => vec(series.length > 0 ? [] : [{ labels: absentLabels(c.selector(0)), v: 1 }]) },
  },
  // instant vector / scalar functions
  instant('absent', ['vector'], 'vector', (a, c) => vec(samplesOf(a[0]).length > 0 ? [] : [{ labels: absentLabels(c.selector(0)), v: 1 }])),
  ...Object.entries(MATH_FUNCTIONS).map(([name, f]) => simple(name, f)),
  instant('pi', [], 'scalar', () => ({ type: 'scalar', v: Math.PI })),
  instant('time', [], 'scalar', (_a, c) => ({ type: 'scalar', v: c.ts / 1000 })),
  instant('clamp', ['vector', 'scalar', 'scalar'], 'vector', (a, c) => vec(clamp(samplesOf(a[0]), c.dropName, scalarOf(a[1]), scalarOf(a[2])))),
  instant('clamp_min', ['vector', 'scalar'], 'vector', (a, c) => vec(clamp(samplesOf(a[0]), c.dropName, scalarOf(a[1]), Infinity))),
  instant('clamp_max', ['vector', 'scalar'], 'vector', (a, c) => vec(clamp(samplesOf(a[0]), c.dropName, -Infinity, scalarOf(a[1])))),
  instant('round', ['vector', 'scalar'], 'vector', (a, c) => {
    const to = a.length > 1 ? scalarOf(a[1]) : 1;
    return vec(mapValues(samplesOf(a[0]), c.dropName, (v) => round(v, to)));
  }, 1),
  instant('vector', ['scalar'], 'vector', (a) => vec([{ labels: {}, v: scalarOf(a[0]) }])),
  instant('scalar', ['vector'], 'scalar', (a) => {
    const s = samplesOf(a[0]);
    return { type: 'scalar', v: s.length === 1 ? s[0]!.v : NaN };
  }),
  // a selector argument gives each sample's own time; any other expression's samples are at ts
  instant('timestamp', ['vector'], 'vector', (a, c) =>
    vec(samplesOf(a[0]).map((s) => ({ labels: c.dropName(s.labels), v: (c.selector(0) && s.t !== undefined ? s.t : c.ts) / 1000 }))),
  ),
  ...DATE_FUNCTION_NAMES.map((part) => instant(part, ['vector'], 'vector', (a, c) => datePart(part, a.length > 0 ? samplesOf(a[0]) : null, c.ts, c.dropName), 1)),
  // labels
  instant('label_replace', ['vector', 'string', 'string', 'string', 'string'], 'vector', (a) =>
    vec(labelReplace(samplesOf(a[0]), stringOf(a[1]), stringOf(a[2]), stringOf(a[3]), stringOf(a[4]))),
  ),
  instant('label_join', ['vector', 'string', 'string', 'string'], 'vector', (a) =>
    vec(labelJoin(samplesOf(a[0]), stringOf(a[1]), stringOf(a[2]), a.slice(3).map(stringOf))),
  -1),
  // ordering: meaningful for instant queries only (a range query's result is ordered by labels)
  sortFn('sort', false),
  sortFn('sort_desc', true),
  sortByLabelFn('sort_by_label', false),
  sortByLabelFn('sort_by_label_desc', true),
  // classic histograms (`le` buckets)
  instant('histogram_quantile', ['scalar', 'vector'], 'vector', (a, c) => {
    const q = scalarOf(a[0]);
    return histogramFn(a, c, (b) => bucketQuantile(q, b));
  }),
  instant('histogram_fraction', ['scalar', 'scalar', 'vector'], 'vector', (a, c) => {
    const [lo, hi] = [scalarOf(a[0]), scalarOf(a[1])];
    return histogramFn(a, c, (b) => bucketFraction(lo, hi, b));
  }),
];

export const FUNCTIONS: Readonly<Record<string, FunctionDef>> = Object.freeze(Object.fromEntries(DEFS.map((d) => [d.name, d])));

/**
 * Prometheus functions dpmon knows by name but does not evaluate, with why: a query using one is
 * `unsupported`, not `unknown function`. docs/promql.md lists them.
 */
export const UNSUPPORTED_FUNCTIONS: Readonly<Record<string, string>> = Object.freeze({
  histogram_avg: 'native histograms',
  histogram_count: 'native histograms',
  histogram_sum: 'native histograms',
  histogram_stddev: 'native histograms',
  histogram_stdvar: 'native histograms',
  histogram_quantiles: 'native histograms (experimental)',
  start_timestamp: 'start timestamps (experimental)',
  info: 'info() (experimental)',
  start: 'query-context functions (experimental)',
  end: 'query-context functions (experimental)',
  step: 'query-context functions (experimental)',
  range: 'query-context functions (experimental)',
  min_of: 'duration expressions (experimental)',
  max_of: 'duration expressions (experimental)',
});

/** What a range-vector function is served from in a range query (docs/promql.md "Rollups in range queries"). */
export function rollupOf(fn: string): RollupSource | undefined {
  const impl = FUNCTIONS[fn]?.impl;
  return impl?.kind === 'range' ? impl.rollup : undefined;
}

/** Index of the range-vector argument of a function that has one. */
export function matrixArgIndex(def: FunctionDef): number {
  return def.args.indexOf('matrix');
}

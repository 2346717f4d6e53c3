// The PromQL evaluator: instant and range queries over a Store, following Prometheus's engine.go and
// functions.go (lookback, left-open windows, extrapolatedRate, vector matching, name dropping).
// Before the first step, `prefetch` walks the expression and opens a reader for every raw selector
// (selector-reader.ts: cursors over [first eval time - offset - range or lookback, last eval time -
// offset]) and reads the rollups and edge points the rollup rule needs. Selectors evaluated at the
// query's own steps are streamed: before each step `advance` reads them forward to the step's window
// end and drops what lies behind its start, so a query holds about one window per series and its
// result, not every raw point of its range (issue 23; Prometheus reads chunk iterators the same way).
// Selectors evaluated out of step order (inside a subquery, or under `@`) are read whole before the
// first step.
import type { Labels } from '../model/labels.ts';
import { isStaleNaN } from '../model/stale.ts';
import type { CounterWindow, Point, RollupFunction, SeriesCounterWindows, SeriesCursor, SeriesPoints, Store } from '../store/store.ts';
import { cursorsOf } from '../store/cursors.ts';
import { counterRateInput } from './counter-rate.ts';
import { extrapolate } from './functions/range.ts';
import { AGGREGATIONS, countValuesInput } from './aggregations.ts';
import { FUNCTIONS, matrixArgIndex, rollupOf, type CallContext, type RollupSource } from './functions.ts';
import { dropName, formatValue, type Sample, type Series, type Value } from './value.ts';
import type { Clock } from '../lib/clock.ts';
import { QueryError, badData, execError } from './errors.ts';
import type { QueryPhase, QueryStats } from './stats.ts';
import { createLabelMemo, type LabelMemo } from './label-memo.ts';
import { SelectorReader, type Cols, type ReadMode, type SeriesWindow } from './selector-reader.ts';
import {
  DEFAULT_PARSE_LIMITS,
  isComparison,
  isSetOp,
  isValidUtf8,
  parseExpr,
  typeOf,
  type ParseLimits,
  type AggrOp,
  type BinaryOp,
  type Expr,
  type AtTime,
  type MatrixSelectorNode,
  type SubqueryNode,
  type VectorMatching,
  type VectorSelectorNode,
} from './parse.ts';

export interface QueryEngineOptions {
  lookbackDeltaMs?: number;
  /** most points per series of a range query: (end - start) / step may not exceed it (Prometheus's 11,000) */
  maxPoints?: number;
  /**
   * Serve eligible range-vector functions of range queries from the store's rollups (default true);
   * see `docs/promql.md` "Rollups in range queries" for the rule. false always reads raw points.
   */
  useRollups?: boolean;
  /** The store's rollup window (`metrics_aggregation.window_size`), default 300_000 (5 m). */
  rollupWindowMs?: number;
  /** `server.query_timeout`: the longest a query may run (default 120_000, Prometheus's `query.timeout`) */
  timeoutMs?: number;
  /** `server.query_max_samples`: most samples a query may hold (default 50,000,000, Prometheus's `query.max-samples`) */
  maxSamples?: number;
  /** `server.query_max_length` / `server.query_max_depth`: the parser's bounds (DEFAULT_PARSE_LIMITS) */
  parseLimits?: ParseLimits;
  /**
   * How long evaluation runs before it lets the event loop answer others (default 5 ms): the
   * evaluator yields at step, selector and read boundaries once a slice is used up.
   */
  sliceMs?: number;
  /**
   * The step of a subquery written without one (`x[1h:]`): Prometheus's default evaluation interval
   * (`global.evaluation_interval`, 1m, as its promqltest engine). Default 60_000.
   */
  subqueryStepMs?: number;
  /**
   * Most steps one subquery's range may hold (default 100,000, VictoriaMetrics's
   * -search.maxPointsSubqueryPerTimeseries; Prometheus has no such bound): `x[1y:1s]` is 31.5 M
   * evaluations of x per step, refused as bad_data before any.
   */
  maxSubquerySteps?: number;
  /** Monotonic milliseconds for deadlines and slices (default performance.now; tests inject a clock). */
  clock?: Pick<Clock, 'now'>;
  /** How a slice ends (default setImmediate: every timer and I/O callback waiting runs first). */
  yieldToLoop?: () => Promise<void>;
  /** where the engine's self-metrics are recorded (dpmon_engine_*) */
  stats?: QueryStats;
}

/** Per-query options: the `timeout` parameter (capped by the engine's timeoutMs) and the client's abort. */
export interface QueryOptions {
  timeoutMs?: number;
  /** deadline already set by the caller (monotonic ms of the engine's clock), e.g. after a queue wait */
  deadline?: number;
  signal?: AbortSignal;
}

export type SampleValue = [number, string];
export type QueryResult =
  | { resultType: 'vector'; result: { metric: Record<string, string>; value: SampleValue }[] }
  | { resultType: 'matrix'; result: { metric: Record<string, string>; values: SampleValue[] }[] }
  | { resultType: 'scalar'; result: SampleValue }
  | { resultType: 'string'; result: SampleValue };

export interface QueryEngine {
  instant(expr: string, at: number, opts?: QueryOptions): Promise<QueryResult>;
  range(expr: string, start: number, end: number, stepMs: number, opts?: QueryOptions): Promise<QueryResult>;
  /** the engine's clock and timeout, so a caller queueing queries can start the deadline before the queue */
  deadline(opts?: QueryOptions): number;
}

export const DEFAULT_QUERY_TIMEOUT_MS = 120_000;
export const DEFAULT_MAX_SAMPLES = 50_000_000;
export const DEFAULT_MAX_POINTS = 11_000;
export const DEFAULT_MAX_SUBQUERY_STEPS = 100_000;

const monotonic: Pick<Clock, 'now'> = { now: () => performance.now() };
const setImmediateYield = () => new Promise<void>((resolve) => setImmediate(resolve));

export function createQueryEngine(store: Store, opts: QueryEngineOptions = {}): QueryEngine {
  const lookback = opts.lookbackDeltaMs ?? 300_000;
  const maxPoints = opts.maxPoints ?? DEFAULT_MAX_POINTS;
  const rollups = opts.useRollups ?? true;
  const rollupWindowMs = opts.rollupWindowMs ?? 300_000;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
  const limits = opts.parseLimits ?? DEFAULT_PARSE_LIMITS;
  const clock = opts.clock ?? monotonic;

  const deadline = (q: QueryOptions = {}) =>
    q.deadline ?? clock.now() + (q.timeoutMs !== undefined && q.timeoutMs > 0 ? Math.min(q.timeoutMs, timeoutMs) : timeoutMs);

  function run(exprText: string, start: number, end: number, step: number, q: QueryOptions | undefined, rec: QueryRecord) {
    const budget = (rec.budget = new Budget(clock, deadline(q), opts.sliceMs ?? 5, opts.yieldToLoop ?? setImmediateYield, opts.maxSamples ?? DEFAULT_MAX_SAMPLES, q?.signal));
    const expr = parseExpr(exprText, limits);
    const ev = new Evaluator(store, lookback, start, end, rollups && step > 0 ? { step, windowMs: rollupWindowMs } : null, budget, opts.subqueryStepMs ?? 60_000, opts.maxSubquerySteps ?? DEFAULT_MAX_SUBQUERY_STEPS);
    return { expr, ev, budget };
  }

  return {
    deadline,
    async instant(exprText, at, q) {
      return guard(opts.stats, async (rec) => {
        const { expr, ev, budget } = run(exprText, at, at, 0, q, rec);
        await ev.prefetch(expr);
        await ev.advance(at, 'query preparation');
        rec.phase('prepare_time');
        const v = await budget.drive(ev.evalSteps(expr, at), 'expression evaluation');
        rec.phase('inner_eval');
        switch (v.type) {
          case 'scalar':
            return { resultType: 'scalar', result: [at / 1000, formatValue(v.v)] };
          case 'string':
            return { resultType: 'string', result: [at / 1000, v.s] };
          case 'vector':
            return { resultType: 'vector', result: v.samples.map((s) => ({ metric: { ...s.labels }, value: [at / 1000, formatValue(s.v)] as SampleValue })) };
          case 'matrix':
            return {
              resultType: 'matrix',
              result: sortSeries(v.series).map((s) => ({ metric: { ...s.labels }, values: s.points.map((p) => [p.t / 1000, formatValue(p.v)] as SampleValue) })),
            };
        }
      });
    },
    async range(exprText, start, end, stepMs, q) {
      return guard(opts.stats, async (rec) => {
        if (!(stepMs > 0)) throw badData('zero or negative query resolution step widths are not accepted. Try a positive integer');
        if (end < start) throw badData('end timestamp must not be before start time');
        // Prometheus (api.go): (end - start) / step may not exceed 11,000
        if (Math.floor((end - start) / stepMs) > maxPoints)
          throw new QueryError('bad_data', `exceeded maximum resolution of ${maxPoints.toLocaleString('en-US')} points per timeseries. Try decreasing the query resolution (?step=XX)`, { limit: 'too_many_points' });
        const { expr, ev, budget } = run(exprText, start, end, stepMs, q, rec);
        const t = typeOf(expr);
        if (t !== 'scalar' && t !== 'vector') throw badData(`invalid expression type "${t === 'matrix' ? 'range vector' : t}" for range query, must be Scalar or instant Vector`);
        await ev.prefetch(expr);
        rec.phase('prepare_time');
        // each series' points as parallel arrays of numbers: one object per series rather than 11,001
        const out = new Map<string, SeriesColumns>();
        const noLabels: Labels = {};
        for (let ts = start; ts <= end; ts += stepMs) {
          // a step boundary: the place to give the event loop its turn and to stop at the deadline
          await budget.pause('expression evaluation');
          await ev.advance(ts, ts === start ? 'query preparation' : 'expression evaluation');
          const v = await budget.drive(ev.evalSteps(expr, ts), 'expression evaluation');
          const samples = v.type === 'scalar' ? [{ labels: noLabels, v: v.v }] : v.type === 'vector' ? v.samples : [];
          // the result's points are held until the end, as Prometheus counts them (currentSamples)
          budget.hold(samples.length);
          for (const s of samples) addPoint(out, ev.memo.id(s.labels), s.labels, ts, s.v);
        }
        rec.phase('inner_eval');
        await budget.pause('result sorting');
        const result: { metric: Record<string, string>; values: SampleValue[] }[] = [];
        // up to 11,001 points for each series (a few ms to format): a place to pause after each
        for (const s of sortSeries([...out.values()])) {
          const values = new Array<SampleValue>(s.t.length);
          for (let i = 0; i < values.length; i++) values[i] = [s.t[i]! / 1000, formatValue(s.v[i]!)];
          result.push({ metric: { ...s.labels }, values });
          await budget.pause('result sorting');
        }
        rec.phase('result_sort');
        return { resultType: 'matrix', result };
      });
    },
  };
}

/** A series built point by point, its times and values as parallel arrays (one object per series, not per point). */
interface SeriesColumns {
  labels: Labels;
  t: number[];
  v: number[];
}

/** Adds the point (t, v) to the series with this label id. */
function addPoint(out: Map<string, SeriesColumns>, id: string, labels: Labels, t: number, v: number): void {
  let series = out.get(id);
  if (!series) out.set(id, (series = { labels, t: [], v: [] }));
  series.t.push(t);
  series.v.push(v);
}

/**
 * One query's limits as it runs: the deadline, the samples it holds, and the event-loop slice. The
 * evaluator calls pause() at step, selector and read boundaries (yielding once the slice is used
 * up), check() inside a step (deadline only: a step is synchronous), load() for every sample it keeps.
 */
export class Budget {
  private sliceStart: number;
  /** samples held now (Prometheus's currentSamples), the most held at once, and all ever loaded */
  private held = 0;
  peak = 0;
  loaded = 0;
  private ticks = 0;
  constructor(
    private readonly clock: Pick<Clock, 'now'>,
    readonly deadline: number,
    private readonly sliceMs: number,
    private readonly yieldToLoop: () => Promise<void>,
    private readonly maxSamples: number,
    private readonly signal?: AbortSignal,
  ) {
    this.sliceStart = clock.now();
  }

  /** Throws the timeout error when the deadline has passed, the canceled error when the client went away. */
  check(where: string): void {
    if (this.signal?.aborted) throw new QueryError('canceled', `query was canceled in ${where}`, { limit: 'canceled' });
    if (this.clock.now() >= this.deadline) throw timeoutError(where);
  }

  /** check() every 64th call: for loops inside a step, where reading the clock each time would show. */
  tick(where: string): void {
    if ((++this.ticks & 63) === 0) this.check(where);
  }

  /** Whether this slice is used up: a generator of the evaluator yields then, for its driver to pause(). */
  due(): boolean {
    return this.clock.now() - this.sliceStart >= this.sliceMs;
  }

  /** Runs a generator of the evaluator to its value, pausing wherever it yields. */
  async drive<T>(steps: Generator<void, T, void>, where: string): Promise<T> {
    for (let r = steps.next(); ; r = steps.next()) {
      if (r.done) return r.value;
      await this.pause(where);
    }
  }

  /** A boundary: stop at the deadline; let the event loop run if this slice is used up. */
  async pause(where: string): Promise<void> {
    this.check(where);
    if (this.clock.now() - this.sliceStart < this.sliceMs) return;
    await this.yieldToLoop();
    this.sliceStart = this.clock.now();
    this.check(where);
  }

  /** Counts n more samples read from the store and held; refuses past maxSamples. */
  load(n: number): void {
    this.loaded += n;
    this.hold(n);
  }

  /** Counts n more samples held (read, or result points); refuses past maxSamples (Prometheus's ErrTooManySamples). */
  hold(n: number): void {
    this.held += n;
    if (this.held > this.peak) this.peak = this.held;
    if (this.held > this.maxSamples)
      throw new QueryError('execution', 'query processing would load too many samples into memory in query execution', { limit: 'max_samples' });
  }

  /** n samples no longer held (dropped behind every window still to come). */
  release(n: number): void {
    this.held -= n;
  }
}

/** Prometheus's ErrQueryTimeout text: `query timed out in <where>`. */
export const timeoutError = (where: string) => new QueryError('timeout', `query timed out in ${where}`, { limit: 'timeout' });

/** One query's figures for the self-metrics: its budget (samples loaded) and the time of each phase. */
interface QueryRecord {
  budget?: Budget;
  /** ends the phase that has been running since the last call (or the query's start) */
  phase(p: QueryPhase): void;
}

async function guard(stats: QueryStats | undefined, fn: (rec: QueryRecord) => Promise<QueryResult>): Promise<QueryResult> {
  let since = performance.now();
  const rec: QueryRecord = {
    phase(p) {
      const now = performance.now();
      stats?.observe(p, (now - since) / 1000);
      since = now;
    },
  };
  if (stats) stats.running++;
  try {
    return await fn(rec);
  } catch (err) {
    if (err instanceof QueryError) {
      if (err.limit) stats?.refused(err.limit);
      throw err;
    }
    // never let an evaluator bug escape as a crash: report it as an execution error naming the cause
    throw new QueryError('execution', `internal error evaluating query: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  } finally {
    if (stats) {
      stats.running--;
      stats.loaded(rec.budget?.loaded ?? 0);
    }
  }
}

export { formatValue };


export function labelsId(l: Labels): string {
  return JSON.stringify(Object.keys(l).sort().map((k) => [k, l[k]]));
}

/** Prometheus's labels.Compare: label by label in name order, then by length. */
export function compareLabels(a: Labels, b: Labels): number {
  const ak = Object.keys(a).sort();
  const bk = Object.keys(b).sort();
  for (let i = 0; i < Math.min(ak.length, bk.length); i++) {
    const an = ak[i]!;
    const bn = bk[i]!;
    if (an !== bn) return an < bn ? -1 : 1;
    const av = a[an]!;
    const bv = b[bn]!;
    if (av !== bv) return av < bv ? -1 : 1;
  }
  return ak.length - bk.length;
}

function sortSeries<T extends { labels: Labels }>(s: T[]): T[] {
  return s.sort((a, b) => compareLabels(a.labels, b.labels));
}

/** A window as a Series of Point objects, for a range selector returned as a matrix value. */
function toSeries({ s, a, b }: SeriesWindow): Series {
  const points: Point[] = [];
  for (let i = a; i < b; i++) points.push({ t: s.points.t[i]!, v: s.points.v[i]! });
  return { labels: s.labels, points };
}

/** A generator run to its value without pauses. */
function drain<T>(steps: Generator<void, T, void>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

function assertNever(x: never): never {
  throw new Error(`unexpected expression ${JSON.stringify(x)}`);
}

/** windows per selectCounterWindows call (3 h of 5 m windows) */
const COUNTER_WINDOWS_PIECE = 36;

function mod(a: number, b: number): number {
  return ((a % b) + b) % b;
}

/**
 * One series' rollups and raw points on window edges. Window k starts at the selector's first window
 * start + k·W (arrays rather than a map by start: a step reads range/W windows of every series).
 */
interface RollupSeries {
  labels: Labels;
  /** the window's count, -1 when it has no rollup (empty for counter windows) */
  n: number[];
  /** the function's value over the window (its count where the store had no such rollup) */
  v: number[];
  /** rate/increase: the window's counter summary, undefined when it has no samples */
  c?: (CounterWindow | undefined)[];
  /** raw values exactly on window edges, by edge */
  edges: Map<number, number>;
  /** rate/increase: the first raw point after an edge that has a point, within the edge's window */
  afterEdges?: Map<number, Point>;
}

/** The argument of a range-vector function: a range selector or a subquery. */
type RangeArg = MatrixSelectorNode | SubqueryNode;
/** The times a node is evaluated at over the whole query: [from, to]. */
interface EvalSpan {
  from: number;
  to: number;
}

/** The first multiple of step after t (Prometheus aligns subquery steps to absolute time). */
/** A duration for a message: whole seconds as `90s`, else ms. */
const formatMs = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);

function firstStepAfter(t: number, step: number): number {
  return Math.floor(t / step) * step + step;
}

type AggrNode = Extract<Expr, { kind: 'aggr' }>;
type BinaryNode = Extract<Expr, { kind: 'binary' }>;

class Evaluator {
  /** each raw selector's reader; a selector node is only ever an instant or a range selector */
  private readonly readers = new Map<VectorSelectorNode, SelectorReader>();
  private readonly rollupCache = new Map<MatrixSelectorNode, RollupSeries[] | null>();
  /** start of window 0 of a selector's RollupSeries */
  private readonly rollupBase = new Map<MatrixSelectorNode, number>();
  /** the times each selector is evaluated at (prefetch): wider than the query inside subqueries, one time with `@` */
  private readonly spans = new Map<VectorSelectorNode, EvalSpan>();
  /** each subquery's inner results by evaluation time: a result at t is the same whichever outer step asks */
  private readonly subqueryResults = new Map<SubqueryNode, Map<number, Sample[]>>();
  /** label ids, name-dropped sets and signatures, computed once per label object for the whole query */
  readonly memo: LabelMemo = createLabelMemo(labelsId);

  constructor(
    private readonly store: Store,
    private readonly lookback: number,
    private readonly start: number,
    private readonly end: number,
    /** set for a range query that may use rollups */
    private readonly rollupPlan: { step: number; windowMs: number } | null = null,
    private readonly budget: Budget = new Budget(monotonic, Infinity, Infinity, setImmediateYield, Infinity),
    /** the step of `[range:]` subqueries */
    private readonly defaultStepMs = 60_000,
    private readonly maxSubquerySteps = DEFAULT_MAX_SUBQUERY_STEPS,
  ) {}

  /** The time a node with this `@` modifier is evaluated at, when the step asks for ts. */
  private evalTime(at: AtTime | undefined, ts: number): number {
    if (at === undefined) return ts;
    if (at === 'start') return this.start;
    if (at === 'end') return this.end;
    return at;
  }

  /** The span of evaluation times of a node with this `@` modifier, inside a parent evaluated over span. */
  private atSpan(at: AtTime | undefined, span: EvalSpan): EvalSpan {
    if (at === undefined) return span;
    const t = this.evalTime(at, span.from);
    return { from: t, to: t };
  }

  /** The store span a selector needs: [first eval time - offset - window, last eval time - offset]. */
  private storeSpan(vs: VectorSelectorNode, windowMs: number): { from: number; to: number } {
    const span = this.spans.get(vs) ?? this.atSpan(vs.at, { from: this.start, to: this.end });
    return { from: span.from - vs.offsetMs - windowMs, to: span.to - vs.offsetMs };
  }

  /** Refuses a subquery whose range holds more than maxSubquerySteps steps. */
  private checkSubquerySteps(sq: SubqueryNode): void {
    const step = sq.stepMs || this.defaultStepMs;
    if (sq.rangeMs / step > this.maxSubquerySteps)
      throw badData(
        `subquery has too many steps: [${formatMs(sq.rangeMs)}:${formatMs(step)}] is ${Math.floor(sq.rangeMs / step)} steps, the limit is ${this.maxSubquerySteps}; use a larger step`,
      );
  }

  /** The inner evaluation times of a subquery evaluated over span: its aligned steps. */
  private subquerySpan(sq: SubqueryNode, span: EvalSpan): EvalSpan {
    const step = sq.stepMs || this.defaultStepMs;
    const own = this.atSpan(sq.at, span);
    return { from: firstStepAfter(own.from - sq.offsetMs - sq.rangeMs, step), to: own.to - sq.offsetMs };
  }


  /**
   * Reads what every selector of the expression needs for the whole query, before the first step:
   * raw points over [start - offset - window, end - offset] (window = range, or the lookback for an
   * instant selector), or, for an `*_over_time` the rollup rule serves, the rollups and the edge points
   * (docs/promql.md "Rollups in range queries"). Steps then only slice these arrays. The caches stay
   * the single path to the data: a selector whose rollups turn out unusable at some step is read raw
   * then, once, for the rest of the query. span is the times e is evaluated at: the query's steps,
   * or inside a subquery its steps (from start - offset - range), or one time under `@`.
   */
  async prefetch(e: Expr, span: EvalSpan = { from: this.start, to: this.end }): Promise<void> {
    if (e.kind === 'subquery') this.checkSubquerySteps(e);
    const top = span.from === this.start && span.to === this.end;
    switch (e.kind) {
      case 'number':
      case 'string':
        return;
      case 'paren':
      case 'unary':
        return this.prefetch(e.expr, span);
      case 'vector':
        this.spans.set(e, this.atSpan(e.at, span));
        await this.read(e, this.lookback);
        return;
      case 'matrix':
        this.spans.set(e.vs, this.atSpan(e.vs.at, span));
        // rollups are planned for the query's own steps: not for a selector evaluated at other times
        if (!top || e.vs.at !== undefined) this.rollupCache.set(e, null);
        await this.read(e.vs, e.rangeMs);
        return;
      case 'subquery':
        return this.prefetch(e.expr, this.subquerySpan(e, span));
      case 'call': {
        // the same decision as call(): the first argument of a served function, in a rollup-eligible query
        const fn = rollupOf(e.fn);
        const m = fn && this.rollupPlan && top && e.args[0]?.kind === 'matrix' && e.args[0].vs.at === undefined ? e.args[0] : null;
        let fromRollups = false;
        if (m !== null) {
          const steps = this.rollupSteps(m, fn!);
          for (let r = steps.next(); ; r = steps.next()) {
            if (r.done) {
              fromRollups = r.value !== null;
              break;
            }
            await this.budget.pause('query preparation');
          }
        }
        await this.budget.pause('query preparation');
        for (const a of e.args) if (!(fromRollups && a === m)) await this.prefetch(a, span);
        return;
      }
      case 'aggr':
        if (e.param) await this.prefetch(e.param, span);
        return this.prefetch(e.expr, span);
      case 'binary':
        await this.prefetch(e.lhs, span);
        return this.prefetch(e.rhs, span);
      default:
        return assertNever(e);
    }
  }


  /** Opens the selector's reader (from the first step's window); a whole-span reader is filled now. */
  private async read(vs: VectorSelectorNode, windowMs: number): Promise<void> {
    if (this.readers.has(vs)) return;
    await this.budget.pause('query preparation');
    const r = this.reader(vs, windowMs, this.start);
    if (r.mode === 'whole') await r.fill(this.storeSpan(vs, windowMs).to, 'query preparation');
  }

  /**
   * How a selector is read: streamed when it is evaluated at the query's own steps (in ascending
   * time), whole when out of step order (a subquery's inner steps go back at every outer step; `@`
   * fixes one time).
   */
  private readMode(vs: VectorSelectorNode): ReadMode {
    const span = this.spans.get(vs);
    const own = vs.at === undefined && (span === undefined || (span.from === this.start && span.to === this.end));
    return own ? 'streamed' : 'whole';
  }

  /**
   * Reads every streamed selector forward to step ts's window end, in pieces with the event loop's
   * turn between them, after dropping what lies behind the window's start. Steps call it in
   * ascending ts before evaluating.
   */
  async advance(ts: number, where: string): Promise<void> {
    for (const [vs, r] of this.readers) {
      if (r.mode !== 'streamed') continue;
      const hi = ts - vs.offsetMs;
      r.trim(hi - r.windowMs);
      await r.fill(hi, where);
    }
  }

  /**
   * Rollups and edge points for a range selector, or null when the query's shape does not allow
   * them: every step's window (ts - offset - range, ts - offset] must be made of whole rollup windows
   * (start - offset, step and range multiples of the window, range ≥ 2 windows, ≥ 1 for rate/increase). The left-open
   * window then equals the rollup windows [lo, hi) minus a raw point exactly at lo plus one exactly
   * at hi: each window's first sample when it sits on the window's start (counter windows), else
   * read raw (readEdges).
   */
  private rollupData(m: MatrixSelectorNode, fn: RollupSource): RollupSeries[] | null {
    const steps = this.rollupSteps(m, fn);
    for (;;) {
      const r = steps.next();
      if (r.done) return r.value;
    }
  }

  /** rollupData() as a generator that yields between its edge reads (one per distinct edge). */
  private *rollupSteps(m: MatrixSelectorNode, fn: RollupSource): Generator<void, RollupSeries[] | null, void> {
    if (this.rollupCache.has(m)) return this.rollupCache.get(m)!;
    const plan = this.rollupPlan;
    const W = plan?.windowMs ?? 0;
    const first = this.start - m.vs.offsetMs;
    const eligible =
      plan !== null &&
      W > 0 &&
      Number.isInteger(W) &&
      Number.isInteger(first) &&
      Number.isInteger(plan.step) &&
      mod(first, W) === 0 &&
      plan.step % W === 0 &&
      m.rangeMs % W === 0 &&
      // at least two windows: rate/increase over one window would be exact too, but reading its rollup
      // row costs more than decoding its 20 raw points (1.2x raw measured, docs/benchmarks.md)
      m.rangeMs >= 2 * W &&
      (fn !== 'counter' || this.store.selectCounterWindows !== undefined);
    if (!eligible) {
      this.rollupCache.set(m, null);
      return null;
    }
    const last = this.end - m.vs.offsetMs;
    const lastHi = first + Math.floor((last - first) / plan.step) * plan.step;
    const base = first - m.rangeMs;
    // and one more: the window starting at the last step's end, whose first point may sit on it
    const windows = (lastHi - base) / W + 1;
    const index = (t: number) => {
      const k = (t - base) / W;
      return Number.isInteger(k) && k >= 0 && k < windows ? k : -1;
    };
    const byId = new Map<string, RollupSeries>();
    const entry = (labels: Labels) => {
      const id = labelsId(labels);
      let e = byId.get(id);
      if (!e) {
        e = fn === 'counter' ? { labels, n: [], v: [], c: new Array<CounterWindow | undefined>(windows), edges: new Map(), afterEdges: new Map() } : { labels, n: new Array<number>(windows).fill(-1), v: new Array<number>(windows).fill(0), edges: new Map() };
        byId.set(id, e);
      }
      return e;
    };
    this.rollupBase.set(m, base);
    const los = new Set<number>();
    for (let hi = first; hi <= lastHi; hi += plan.step) los.add(hi - m.rangeMs);
    if (fn === 'counter') {
      // a point exactly on a window's start is that window's first sample: the edge points come with
      // the windows; only a left edge's next point, when the edge has one, is read raw
      const needAfter = new Set<number>();
      for (const s of yield* this.counterWindows(m, base, lastHi, W)) {
        const e = entry(s.labels);
        for (const w of s.windows) {
          const k = index(w.w);
          if (k < 0) continue;
          e.c![k] = w;
          if (w.firstT === w.w) {
            e.edges.set(w.w, w.firstV);
            if (w.count > 1 && los.has(w.w)) needAfter.add(w.w);
          }
        }
      }
      // six numbers per window held
      this.budget.load(6 * windows * byId.size);
      yield* this.readEdges(m, [...needAfter].sort((a, b) => a - b), W, true, entry);
    } else {
      // the windows' counts, and the edge points from the counter windows' first samples when every
      // window has them (one read); else from the count rollups and a raw pass over the edges
      const edgesKnown = this.store.selectCounterWindows !== undefined && this.countsAndEdges(yield* this.counterWindows(m, base, lastHi, W), lastHi, index, entry);
      this.readRollups(m, fn, base, lastHi - W, index, entry, !edgesKnown);
      // a count and a value per window held
      this.budget.load(2 * windows * byId.size);
      if (!edgesKnown) {
        const edges = new Set<number>(los);
        for (let hi = first; hi <= lastHi; hi += plan.step) edges.add(hi);
        yield* this.readEdges(m, [...edges].sort((a, b) => a - b), W, false, entry);
      }
    }
    const got = sortSeries([...byId.values()]);
    this.rollupCache.set(m, got);
    return got;
  }

  /**
   * The counter windows with starts in [from, to], read in pieces of COUNTER_WINDOWS_PIECE windows
   * with a yield between them (a day of 1,000 series is ~289,000 rows, over a second to read); a
   * series appears once per piece it has windows in.
   */
  private *counterWindows(m: MatrixSelectorNode, from: number, to: number, W: number): Generator<void, SeriesCounterWindows[], void> {
    const out: SeriesCounterWindows[] = [];
    for (let a = from; a <= to; a += COUNTER_WINDOWS_PIECE * W) {
      if (a > from) yield;
      for (const s of this.store.selectCounterWindows!(m.vs.matchers, a, Math.min(to, a + (COUNTER_WINDOWS_PIECE - 1) * W))) out.push(s);
    }
    return out;
  }

  /**
   * Each window's count and the points on window starts (a window's first sample at its start) from
   * the counter windows over [from, to]; false, with nothing kept, when a window has no first sample
   * time (written without the counter columns).
   */
  private countsAndEdges(got: readonly SeriesCounterWindows[], to: number, index: (t: number) => number, entry: (l: Labels) => RollupSeries): boolean {
    for (const s of got) for (const w of s.windows) if (Number.isNaN(w.firstT)) return false;
    for (const s of got) {
      const e = entry(s.labels);
      for (const w of s.windows) {
        const k = index(w.w);
        if (k < 0) continue;
        if (w.w < to) {
          e.n[k] = w.count;
          e.v[k] = w.count;
        }
        if (w.firstT === w.w) e.edges.set(w.w, w.firstV);
      }
    }
    return true;
  }

  /** An `*_over_time`'s rollups: fn's value over each window, and each window's count unless already read. */
  private readRollups(m: MatrixSelectorNode, fn: RollupFunction, from: number, to: number, index: (t: number) => number, entry: (l: Labels) => RollupSeries, counts: boolean): void {
    if (counts) for (const s of this.store.selectRollup(m.vs.matchers, 'count', from, to)) {
      const e = entry(s.labels);
      for (const p of s.points) {
        const k = index(p.t);
        if (k >= 0) {
          e.n[k] = p.v;
          e.v[k] = p.v;
        }
      }
    }
    if (fn !== 'count') {
      for (const s of this.store.selectRollup(m.vs.matchers, fn, from, to)) {
        const e = entry(s.labels);
        for (const p of s.points) {
          const k = index(p.t);
          if (k >= 0 && e.n[k]! >= 0) e.v[k] = p.v;
        }
      }
    }
  }

  /**
   * Raw points exactly on the edges (ascending, multiples of W, so at least W apart) in one forward
   * pass of cursors over [first edge, last edge], yielding before each edge: a narrow select per edge
   * decodes a whole chunk per series each time (SQLite store). With afterEdges, also the first point
   * after an edge that has one, within its window. Stale markers are not values here either.
   */
  private *readEdges(m: MatrixSelectorNode, edges: readonly number[], W: number, afterEdges: boolean, entry: (l: Labels) => RollupSeries): Generator<void, void, void> {
    if (edges.length === 0) return;
    const last = edges[edges.length - 1]!;
    const end = afterEdges ? last + W - 1 : last;
    const cursors: SeriesCursor[] = cursorsOf(this.store, m.vs.matchers, edges[0]!, end);
    /** the series of cursor i when it had a point on the previous edge */
    const onPrev = new Array<RollupSeries | undefined>(cursors.length);
    // after the last edge, one more read to end for the points after it
    for (let j = 0; j <= edges.length; j++) {
      if (j === edges.length && end === last) break;
      yield;
      const b = j < edges.length ? edges[j]! : end;
      const prev = j > 0 ? edges[j - 1]! : -Infinity;
      for (let i = 0; i < cursors.length; i++) {
        const c = cursors[i]!;
        // the points in (previous edge, b]
        const batch = c.next(b);
        const e = onPrev[i];
        if (e) {
          onPrev[i] = undefined;
          for (let x = 0; x < batch.length && batch.t[x]! < prev + W; x++) {
            const v = batch.v[x]!;
            if (isStaleNaN(v)) continue;
            e.afterEdges!.set(prev, { t: batch.t[x]!, v });
            break;
          }
        }
        const x = batch.length - 1;
        if (j < edges.length && x >= 0 && batch.t[x] === b && !isStaleNaN(batch.v[x]!)) {
          const s = entry(c.labels);
          s.edges.set(b, batch.v[x]!);
          if (afterEdges) onPrev[i] = s;
        }
      }
    }
  }

  /**
   * rate/increase at ts from counter windows (docs/promql.md "Rollups in range queries"), exactly
   * extrapolatedRate of the raw samples up to float rounding of the increase's sum; null (and raw for
   * the rest of the query) when a value is not finite or a window's edge cannot be told.
   */
  private rateFromRollups(fnName: string, m: MatrixSelectorNode, ts: number, data: readonly RollupSeries[]): Sample[] | null {
    const W = this.rollupPlan!.windowMs;
    const hi = ts - m.vs.offsetMs;
    const lo = hi - m.rangeMs;
    const k0 = (lo - this.rollupBase.get(m)!) / W;
    const k1 = k0 + m.rangeMs / W;
    const ctx = { rangeStart: lo, rangeEnd: hi, rangeMs: m.rangeMs };
    const isRate = fnName === 'rate';
    const out: Sample[] = [];
    for (const s of data) {
      // a window written without counter columns cannot say whether a point sits on hi
      if (Number.isNaN(s.c?.[k1]?.firstT)) return this.giveUp(m);
      const r = counterRateInput(s.c, k0, k1, lo, hi, { atLo: s.edges.get(lo), afterLo: s.afterEdges?.get(lo), atHi: s.edges.get(hi) });
      if (r === 'unknown') return this.giveUp(m);
      if (r !== null) out.push({ labels: this.memo.dropName(s.labels), v: extrapolate(r, ctx, true, isRate) });
    }
    return out;
  }

  /**
   * An `*_over_time` function at ts from rollups, or null to evaluate it from raw points (shape not
   * eligible, or a value the rollups cannot give exactly: non-finite values, or the point on the
   * left edge being the extreme of its window). Once null for a selector, raw for the rest of the query.
   */
  private overTimeFromRollups(fnName: string, m: MatrixSelectorNode, ts: number): Sample[] | null {
    const fn = rollupOf(fnName);
    if (!fn) return null;
    const data = this.rollupData(m, fn);
    if (!data) return null;
    if (fn === 'counter') return this.rateFromRollups(fnName, m, ts, data);
    const W = this.rollupPlan!.windowMs;
    const hi = ts - m.vs.offsetMs;
    const lo = hi - m.rangeMs;
    // the step's windows [lo, hi) are k0 … k1-1 (lo, hi and the base are multiples of W)
    const k0 = (lo - this.rollupBase.get(m)!) / W;
    const k1 = k0 + m.rangeMs / W;
    const out: Sample[] = [];
    for (const s of data) {
      const vLo = s.edges.get(lo);
      const vHi = s.edges.get(hi);
      if ((vLo !== undefined && !Number.isFinite(vLo)) || (vHi !== undefined && !Number.isFinite(vHi))) return this.giveUp(m);
      let n = 0;
      let sum = 0;
      let ext: number | undefined;
      let lastV: number | undefined;
      for (let k = k0; k < k1; k++) {
        const rn = s.n[k]!;
        if (rn < 0) continue;
        const rv = s.v[k]!;
        if (!Number.isFinite(rv)) return this.giveUp(m);
        let wn = rn;
        if (k === k0 && vLo !== undefined) {
          // the window's first point (t = lo) is outside the left-open range: take it out
          wn -= 1;
          if (wn === 0) continue;
          if (fn === 'avg') sum -= vLo;
          if ((fn === 'max' && vLo >= rv) || (fn === 'min' && vLo <= rv)) return this.giveUp(m);
        }
        n += wn;
        if (fn === 'avg') sum += rv * rn;
        else if (fn === 'max') ext = ext === undefined || rv > ext ? rv : ext;
        else if (fn === 'min') ext = ext === undefined || rv < ext ? rv : ext;
        else if (fn === 'last') lastV = rv;
      }
      if (vHi !== undefined) {
        n += 1;
        sum += vHi;
        if (fn === 'max') ext = ext === undefined || vHi > ext ? vHi : ext;
        else if (fn === 'min') ext = ext === undefined || vHi < ext ? vHi : ext;
        lastV = vHi;
      }
      if (n === 0) continue;
      const v = fn === 'count' ? n : fn === 'avg' ? sum / n : fn === 'last' ? lastV! : ext!;
      out.push({ labels: fn === 'last' ? s.labels : this.memo.dropName(s.labels), v });
    }
    return out;
  }

  private giveUp(m: MatrixSelectorNode): null {
    this.rollupCache.set(m, null);
    return null;
  }

  /**
   * The selector's reader, opened at the first use when prefetch did not (a rollup-served selector
   * read raw from the step its rollups gave up): a streamed one's span starts at that step's window.
   */
  private reader(vs: VectorSelectorNode, windowMs: number, ts: number): SelectorReader {
    let r = this.readers.get(vs);
    if (!r) {
      const mode = this.readMode(vs);
      const span = this.storeSpan(vs, windowMs);
      r = new SelectorReader({
        store: this.store,
        matchers: vs.matchers,
        from: mode === 'streamed' ? ts - vs.offsetMs - windowMs : span.from,
        to: span.to,
        windowMs,
        mode,
        budget: this.budget,
        compare: compareLabels,
      });
      this.readers.set(vs, r);
    }
    return r;
  }

  /**
   * Each series' points in the left-open window (t - offset - window, t - offset], t = the `@` time or
   * ts, as index ranges. With dropStale (range selectors) the window holds no stale marker.
   */
  private window(vs: VectorSelectorNode, windowMs: number, ts: number, dropStale = true): SeriesWindow[] {
    const hi = this.evalTime(vs.at, ts) - vs.offsetMs;
    return this.reader(vs, windowMs, ts).window(hi - windowMs, hi, dropStale);
  }

  /** evalSteps() run to the end without pauses. */
  eval(e: Expr, ts: number): Value {
    return drain(this.evalSteps(e, ts));
  }

  /**
   * The expression at ts, as a generator that yields (nothing) between nodes once the slice is used
   * up, and every 64 series of a range-vector function: the caller pauses there (run()). One step
   * of a deep expression over many series is itself long (~190 nested calls over 1,000 series: tens
   * of ms), so a step is not the unit the event loop waits for (issue 22).
   */
  *evalSteps(e: Expr, ts: number): Generator<void, Value, void> {
    this.budget.tick('expression evaluation');
    if (this.budget.due()) yield;
    const v = yield* this.node(e, ts);
    // and on the way out: a nested expression enters all its nodes first and does their work as
    // they return, so the checks on entry alone all pass before any of that work
    if (this.budget.due()) yield;
    return v;
  }

  /** One node of the expression at ts (its arguments through evalSteps). */
  private *node(e: Expr, ts: number): Generator<void, Value, void> {
    switch (e.kind) {
      case 'number':
        return { type: 'scalar', v: e.value };
      case 'string':
        return { type: 'string', s: e.value };
      case 'paren':
        return yield* this.evalSteps(e.expr, ts);
      case 'vector': {
        const samples: Sample[] = [];
        // the newest sample within the lookback; none when it is a stale marker (engine.go vectorSelectorSingle)
        for (const { s, b } of this.window(e, this.lookback, ts, false)) {
          const v = s.points.v[b - 1]!;
          if (!isStaleNaN(v)) samples.push({ labels: s.labels, v, t: s.points.t[b - 1]! });
        }
        return { type: 'vector', samples };
      }
      case 'matrix':
        return { type: 'matrix', series: this.window(e.vs, e.rangeMs, ts).map(toSeries) };
      case 'subquery':
        return { type: 'matrix', series: (yield* this.subquery(e, ts)).map(toSeries) };
      case 'unary': {
        const v = yield* this.evalSteps(e.expr, ts);
        if (e.op === '+') return v;
        if (v.type === 'scalar') return { type: 'scalar', v: -v.v };
        if (v.type === 'vector') return { type: 'vector', samples: checkDuplicates(v.samples.map((s) => ({ labels: this.memo.dropName(s.labels), v: -s.v })), this.memo) };
        throw badData('unary expression only allowed on expressions of type scalar or instant vector');
      }
      case 'call':
        return yield* this.callSteps(e.fn, e.args, ts);
      case 'aggr':
        return yield* this.aggregate(e, ts);
      case 'binary':
        return yield* this.binary(e, ts);
    }
  }

  private *scalarArg(e: Expr, ts: number): Generator<void, number, void> {
    const v = yield* this.evalSteps(e, ts);
    if (v.type !== 'scalar') throw badData('expected scalar argument');
    return v.v;
  }
  private *vectorArg(e: Expr, ts: number): Generator<void, Sample[], void> {
    const v = yield* this.evalSteps(e, ts);
    if (v.type !== 'vector') throw badData('expected instant vector argument');
    return v.samples;
  }
  private *stringArg(e: Expr, ts: number): Generator<void, string, void> {
    const v = yield* this.evalSteps(e, ts);
    if (v.type !== 'string') throw badData('expected string argument');
    return v.s;
  }

  /**
   * A function call at ts from the function table (functions.ts), as a generator that yields
   * (nothing) every 64 series of a range-vector function. Range-vector functions the rollup rule
   * serves are answered from rollups when it applies (overTimeFromRollups).
   */
  private *callSteps(fn: string, args: Expr[], ts: number): Generator<void, Value, void> {
    const def = FUNCTIONS[fn];
    if (!def) throw badData(`unsupported function "${fn}"`);
    const impl = def.impl;
    const selector = (i: number) => {
      const a = args[i];
      return a?.kind === 'vector' ? a : a?.kind === 'matrix' ? a.vs : null;
    };
    const ctx: CallContext = { ts, selector, dropName: (l) => this.memo.dropName(l), labelsId: (l) => this.memo.id(l), compareLabels };
    if (impl.kind === 'instant') {
      const vals: Value[] = [];
      for (const a of args) vals.push(yield* this.evalSteps(a, ts));
      const v = impl.fn(vals, ctx);
      return v.type === 'vector' ? { type: 'vector', samples: checkDuplicates(v.samples, this.memo) } : v;
    }
    const mi = matrixArgIndex(def);
    const m = args[mi] as RangeArg;
    if (impl.kind === 'matrix') {
      const windows = (yield* this.rangeWindows(m, ts)).map(({ s, a, b }) => ({ labels: s.labels, points: s.points, a, b }));
      return impl.fn(windows, ctx);
    }
    if (impl.rollup && this.rollupPlan && m.kind === 'matrix') {
      const fromRollups = this.overTimeFromRollups(fn, m, ts);
      if (fromRollups) return { type: 'vector', samples: checkDuplicates(fromRollups, this.memo) };
    }
    const params: number[] = [];
    for (let i = 0; i < args.length; i++) if (i !== mi) params.push(yield* this.scalarArg(args[i]!, ts));
    const rangeEnd = this.rangeEnd(m, ts);
    const rctx = { ts, rangeStart: rangeEnd - m.rangeMs, rangeEnd, rangeMs: m.rangeMs, params };
    const out: Sample[] = [];
    let i = 0;
    for (const { s, a, b } of yield* this.rangeWindows(m, ts)) {
      const v = impl.fn(s.points, a, b, rctx);
      if (v !== null) out.push({ labels: impl.keepName ? s.labels : this.memo.dropName(s.labels), v });
      if ((++i & 63) === 0) yield;
    }
    return { type: 'vector', samples: checkDuplicates(out, this.memo) };
  }

  /** The right end of a range argument's window at step ts: the evaluation time (`@`) less the offset. */
  private rangeEnd(m: RangeArg, ts: number): number {
    return m.kind === 'matrix' ? this.evalTime(m.vs.at, ts) - m.vs.offsetMs : this.evalTime(m.at, ts) - m.offsetMs;
  }

  /** A range argument's series at ts: a range selector's window, or a subquery's points. */
  private *rangeWindows(m: RangeArg, ts: number): Generator<void, SeriesWindow[], void> {
    return m.kind === 'matrix' ? this.window(m.vs, m.rangeMs, ts) : yield* this.subquery(m, ts);
  }

  /**
   * A subquery at ts (engine.go, SubqueryExpr): its expression at every multiple of the step in the
   * left-open (end - range, end], end = the `@` time or ts, less the offset, as series. Results are kept
   * by time, so a range query's overlapping windows evaluate each inner time once; those before the
   * window are dropped (steps move forward).
   */
  private *subquery(sq: SubqueryNode, ts: number): Generator<void, SeriesWindow[], void> {
    this.checkSubquerySteps(sq);
    const step = sq.stepMs || this.defaultStepMs;
    const hi = this.rangeEnd(sq, ts);
    const lo = hi - sq.rangeMs;
    let results = this.subqueryResults.get(sq);
    if (!results) this.subqueryResults.set(sq, (results = new Map()));
    const bySeries = new Map<string, SeriesColumns>();
    for (let t = firstStepAfter(lo, step); t <= hi; t += step) {
      let samples = results.get(t);
      if (!samples) {
        const v = yield* this.evalSteps(sq.expr, t);
        samples = v.type === 'vector' ? v.samples : [];
        this.budget.hold(samples.length);
        results.set(t, samples);
      }
      for (const s of samples) addPoint(bySeries, this.memo.id(s.labels), s.labels, t, s.v);
    }
    for (const [t, kept] of results)
      if (t <= lo) {
        this.budget.release(kept.length);
        results.delete(t);
      }
    const out: SeriesWindow[] = [];
    for (const { labels, t, v } of bySeries.values()) {
      const points: Cols = { t: Float64Array.from(t), v: Float64Array.from(v), length: t.length };
      out.push({ s: { labels, points }, a: 0, b: points.length });
    }
    return out;
  }

  private *aggregate(node: AggrNode, ts: number): Generator<void, Value, void> {
    const { op, param: paramExpr, expr: inner, without } = node;
    const def = AGGREGATIONS[op];
    let param = 0;
    let grouping = node.grouping;
    let input: Sample[];
    if (op === 'count_values') {
      // the value label is added first and then grouped by like any other (engine.go COUNT_VALUES)
      const label = paramExpr ? (yield* this.stringArg(paramExpr, ts)) : '';
      input = countValuesInput(yield* this.vectorArg(inner, ts), label);
      if (!without) grouping = [...grouping, label];
    } else {
      if (paramExpr) param = yield* this.scalarArg(paramExpr, ts);
      def.check?.(param);
      input = yield* this.vectorArg(inner, ts);
    }
    const groupLabels = (l: Labels): Labels => {
      const out: Record<string, string> = {};
      if (without) {
        for (const [k, v] of Object.entries(l)) if (k !== '__name__' && !grouping.includes(k)) out[k] = v;
      } else {
        for (const k of grouping) if (l[k] !== undefined && l[k] !== '') out[k] = l[k];
      }
      return out;
    };
    const groups = new Map<string, { labels: Labels; samples: Sample[] }>();
    for (const s of input) {
      // the grouping of an input label set is the same at every step (count_values' labels are new each step)
      const { gl, key } =
        op === 'count_values'
          ? (() => {
              const gl = groupLabels(s.labels);
              return { gl, key: labelsId(gl) };
            })()
          : this.memo.derived(node, s.labels, (l) => {
              const gl = groupLabels(l);
              return { gl, key: labelsId(gl) };
            });
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { labels: gl, samples: [] }));
      g.samples.push(s);
    }
    const out: Sample[] = [];
    for (const g of groups.values()) out.push(...def.reduce(g.samples, param, g.labels));
    return { type: 'vector', samples: out };
  }

  private *binary(node: BinaryNode, ts: number): Generator<void, Value, void> {
    const { op, lhs: lhsE, rhs: rhsE, bool, matching } = node;
    const lhs = yield* this.evalSteps(lhsE, ts);
    const rhs = yield* this.evalSteps(rhsE, ts);
    if (lhs.type === 'scalar' && rhs.type === 'scalar') {
      const [v, keep] = binop(op, lhs.v, rhs.v);
      return { type: 'scalar', v: isComparison(op) ? (keep ? 1 : 0) : v };
    }
    if (lhs.type === 'vector' && rhs.type === 'vector') {
      const sig = (l: Labels) => this.memo.signature(l, matching, signature);
      if (isSetOp(op)) return { type: 'vector', samples: setOp(op, lhs.samples, rhs.samples, sig) };
      return { type: 'vector', samples: vectorBinop(op, lhs.samples, rhs.samples, matching, bool, sig, this.memo) };
    }
    // scalar–vector
    const swap = lhs.type === 'scalar';
    const vecV = (swap ? rhs : lhs) as Extract<Value, { type: 'vector' }>;
    const scal = (swap ? lhs : rhs) as Extract<Value, { type: 'scalar' }>;
    const out: Sample[] = [];
    for (const s of vecV.samples) {
      const [l, r] = swap ? [scal.v, s.v] : [s.v, scal.v];
      let [v, keep] = binop(op, l, r);
      // a comparison keeps the vector element's value, even when the vector is on the right
      if (isComparison(op) && swap) v = s.v;
      if (bool) {
        v = keep ? 1 : 0;
        keep = true;
      }
      if (!keep) continue;
      out.push({ labels: !isComparison(op) || bool ? this.memo.dropName(s.labels) : s.labels, v });
    }
    return { type: 'vector', samples: checkDuplicates(out, this.memo) };
  }
}

function checkDuplicates(samples: Sample[], memo: LabelMemo): Sample[] {
  if (samples.length < 2) return samples;
  const seen = new Set<string>();
  for (const s of samples) {
    const id = memo.id(s.labels);
    if (seen.has(id)) throw execError('vector cannot contain metrics with the same labelset');
    seen.add(id);
  }
  return samples;
}

/** Float binary operation: [value, keep] where keep is false for a comparison that does not hold. */
function binop(op: BinaryOp, l: number, r: number): [number, boolean] {
  switch (op) {
    case '+': return [l + r, true];
    case '-': return [l - r, true];
    case '*': return [l * r, true];
    case '/': return [l / r, true];
    case '%': return [l % r, true];
    case '^': return [Math.pow(l, r), true];
    case 'atan2': return [Math.atan2(l, r), true];
    case '==': return [l, l === r];
    case '!=': return [l, l !== r];
    case '>': return [l, l > r];
    case '<': return [l, l < r];
    case '>=': return [l, l >= r];
    case '<=': return [l, l <= r];
    default: throw badData(`operator "${op}" not allowed between scalars`);
  }
}

function signature(l: Labels, matching: VectorMatching): string {
  const parts: [string, string][] = [];
  if (matching.on) {
    for (const name of [...matching.labels].sort()) if (l[name] !== undefined && l[name] !== '') parts.push([name, l[name]]);
  } else {
    for (const name of Object.keys(l).sort()) if (name !== '__name__' && !matching.labels.includes(name)) parts.push([name, l[name]!]);
  }
  return JSON.stringify(parts);
}

function setOp(op: BinaryOp, lhs: Sample[], rhs: Sample[], sig: (l: Labels) => string): Sample[] {
  switch (op) {
    case 'and': {
      if (lhs.length === 0 || rhs.length === 0) return [];
      const right = new Set(rhs.map((s) => sig(s.labels)));
      return lhs.filter((s) => right.has(sig(s.labels)));
    }
    case 'or': {
      const left = new Set(lhs.map((s) => sig(s.labels)));
      return [...lhs, ...rhs.filter((s) => !left.has(sig(s.labels)))];
    }
    default: {
      const right = new Set(rhs.map((s) => sig(s.labels)));
      return lhs.filter((s) => !right.has(sig(s.labels)));
    }
  }
}

/** Prometheus's labels.String(): `{__name__="x", a="b"}`. */
function formatLabels(l: Labels): string {
  return `{${Object.keys(l).sort().map((n) => `${n}=${JSON.stringify(l[n])}`).join(', ')}}`;
}

/** Prometheus's VectorBinop for arithmetic and comparison operators between two vectors. */
function vectorBinop(
  op: BinaryOp,
  lhsIn: Sample[],
  rhsIn: Sample[],
  matching: VectorMatching,
  bool: boolean,
  signatureOf: (l: Labels) => string,
  memo: LabelMemo,
): Sample[] {
  let lhs = lhsIn;
  let rhs = rhsIn;
  if (matching.card === 'one-to-many') [lhs, rhs] = [rhs, lhs];
  const right = new Map<string, Sample>();
  for (const rs of rhs) {
    const sig = signatureOf(rs.labels);
    const dup = right.get(sig);
    if (dup) {
      const oneSide = matching.card === 'one-to-many' ? 'left' : 'right';
      const matched = formatLabels(Object.fromEntries(JSON.parse(sig) as [string, string][]));
      const [a, b] = [formatLabels(rs.labels), formatLabels(dup.labels)].sort();
      throw execError(
        `found duplicate series for the match group ${matched} on the ${oneSide} hand-side of the operation: [${a}, ${b}];many-to-many matching not allowed: matching labels must be unique on one side`,
      );
    }
    right.set(sig, rs);
  }
  const matchedOne = new Set<string>();
  const matchedMany = new Map<string, Set<string>>();
  const out: Sample[] = [];
  const dropMetricName = !isComparison(op) || bool;
  // result labels: the "many" side's, reduced for one-to-one matching, plus group_x includes
  const baseLabels = (l: Labels): Labels => {
    const labels: Record<string, string> = { ...(dropMetricName ? dropName(l) : l) };
    if (matching.card === 'one-to-one') {
      if (matching.on) {
        for (const k of Object.keys(labels)) if (!matching.labels.includes(k)) delete labels[k];
      } else for (const k of matching.labels) delete labels[k];
    }
    return labels;
  };
  for (const ls of lhs) {
    const sig = signatureOf(ls.labels);
    const rs = right.get(sig);
    if (!rs) continue;
    let [fl, fr] = [ls.v, rs.v];
    if (matching.card === 'one-to-many') [fl, fr] = [fr, fl];
    let [v, keep] = binop(op, fl, fr);
    if (bool) {
      v = keep ? 1 : 0;
    }
    let labels: Labels;
    if (matching.include.length === 0) {
      // without group_x includes the result's labels depend on the many side's alone (and on this
      // node, which the matching object stands for): one object per input label set for the query
      labels = memo.derived(matching, ls.labels, baseLabels);
    } else {
      const l = baseLabels(ls.labels) as Record<string, string>;
      for (const ln of matching.include) {
        const val = rs.labels[ln];
        if (val !== undefined && val !== '') l[ln] = val;
        else delete l[ln];
      }
      labels = l;
    }
    if (matching.card === 'one-to-one') {
      if (matchedOne.has(sig)) throw execError('multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)');
      matchedOne.add(sig);
    } else {
      const id = memo.id(labels);
      let set = matchedMany.get(sig);
      if (!set) matchedMany.set(sig, (set = new Set()));
      if (set.has(id)) throw execError('multiple matches for labels: grouping labels must ensure unique matches');
      set.add(id);
    }
    if (!keep && !bool) continue;
    out.push({ labels, v });
  }
  return out;
}

// The PromQL evaluator: instant and range queries over a Store, following Prometheus's engine.go and
// functions.go (lookback, left-open windows, extrapolatedRate, vector matching, name dropping).
// Before the first step, `prefetch` walks the expression and opens a reader for every raw selector
// (selector-reader.ts: cursors over [start - offset - range or lookback, end - offset]) and reads the
// rollups and edge points the rollup rule needs. Steps run in ascending time; before each, `advance`
// reads every selector forward to the step's window end and drops what lies behind its start, so a
// query holds about one window per series and its result, not every raw point of its range (issue 23;
// Prometheus reads chunk iterators the same way).
import type { Labels } from '../model/labels.ts';
import { isStaleNaN } from '../model/stale.ts';
import { compileRegex, PROMETHEUS, RegexSyntaxError, type CaptureRegex, type RegexMatch } from '../model/regex.ts';
import type { Point, RollupFunction, SeriesPoints, Store } from '../store/store.ts';
import type { Clock } from '../lib/clock.ts';
import { QueryError, badData, execError } from './errors.ts';
import type { QueryPhase, QueryStats } from './stats.ts';
import { createLabelMemo, type LabelMemo } from './label-memo.ts';
import { SelectorReader, type Cols, type ReadMode, type SeriesWindow } from './selector-reader.ts';
import {
  DEFAULT_PARSE_LIMITS,
  isComparison,
  isSetOp,
  parseExpr,
  typeOf,
  type ParseLimits,
  type AggrOp,
  type BinaryOp,
  type Expr,
  type MatrixSelectorNode,
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

interface Sample {
  labels: Labels;
  v: number;
}
interface Series {
  labels: Labels;
  points: Point[];
}
type Value =
  | { type: 'scalar'; v: number }
  | { type: 'string'; s: string }
  | { type: 'vector'; samples: Sample[] }
  | { type: 'matrix'; series: Series[] };

export const DEFAULT_QUERY_TIMEOUT_MS = 120_000;
export const DEFAULT_MAX_SAMPLES = 50_000_000;
export const DEFAULT_MAX_POINTS = 11_000;

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
    const ev = new Evaluator(store, lookback, start, end, rollups && step > 0 ? { step, windowMs: rollupWindowMs } : null, budget);
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
        const out = new Map<string, { labels: Labels; t: number[]; v: number[] }>();
        const noLabels: Labels = {};
        for (let ts = start; ts <= end; ts += stepMs) {
          // a step boundary: the place to give the event loop its turn and to stop at the deadline
          await budget.pause('expression evaluation');
          await ev.advance(ts, ts === start ? 'query preparation' : 'expression evaluation');
          const v = await budget.drive(ev.evalSteps(expr, ts), 'expression evaluation');
          const samples = v.type === 'scalar' ? [{ labels: noLabels, v: v.v }] : v.type === 'vector' ? v.samples : [];
          // the result's points are held until the end, as Prometheus counts them (currentSamples)
          budget.hold(samples.length);
          for (const s of samples) {
            const key = ev.memo.id(s.labels);
            let series = out.get(key);
            if (!series) out.set(key, (series = { labels: s.labels, t: [], v: [] }));
            series.t.push(ts);
            series.v.push(s.v);
          }
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

/** Prometheus's number format (strconv.FormatFloat 'f', -1): no exponent, NaN, +Inf, -Inf. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  const s = String(v);
  if (!s.includes('e')) return s;
  const [mant, expStr] = s.split('e') as [string, string];
  const exp = Number(expStr);
  const neg = mant.startsWith('-');
  const digits = mant.replace('-', '').replace('.', '');
  const pointPos = (mant.replace('-', '').indexOf('.') === -1 ? mant.replace('-', '').length : mant.replace('-', '').indexOf('.')) + exp;
  let out: string;
  if (pointPos <= 0) out = '0.' + '0'.repeat(-pointPos) + digits;
  else if (pointPos >= digits.length) out = digits + '0'.repeat(pointPos - digits.length);
  else out = digits.slice(0, pointPos) + '.' + digits.slice(pointPos);
  return (neg ? '-' : '') + out;
}

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

/** The values of points [a, b). */
function values(pts: Cols, a: number, b: number): number[] {
  const out = new Array<number>(b - a);
  for (let i = a; i < b; i++) out[i - a] = pts.v[i]!;
  return out;
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

function dropName(l: Labels): Labels {
  if (!('__name__' in l)) return l;
  const { __name__: _drop, ...rest } = l;
  return rest;
}

function mod(a: number, b: number): number {
  return ((a % b) + b) % b;
}

/** The rollup functions an `*_over_time` function is served from. */
const ROLLUP_SERVED: Record<string, RollupFunction> = {
  avg_over_time: 'avg',
  max_over_time: 'max',
  min_over_time: 'min',
  count_over_time: 'count',
  last_over_time: 'last',
};

/**
 * One series' rollups and raw points on window edges. Window k starts at the selector's first window
 * start + k·W (arrays rather than a map by start: a step reads range/W windows of every series).
 */
interface RollupSeries {
  labels: Labels;
  /** the window's count, -1 when it has no rollup */
  n: number[];
  /** the function's value over the window (its count where the store had no such rollup) */
  v: number[];
  edges: Map<number, number>;
}

type AggrNode = Extract<Expr, { kind: 'aggr' }>;
type BinaryNode = Extract<Expr, { kind: 'binary' }>;

class Evaluator {
  /** each raw selector's reader; a selector node is only ever an instant or a range selector */
  private readonly readers = new Map<VectorSelectorNode, SelectorReader>();
  private readonly rollupCache = new Map<MatrixSelectorNode, RollupSeries[] | null>();
  /** start of window 0 of a selector's RollupSeries */
  private readonly rollupBase = new Map<MatrixSelectorNode, number>();
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
  ) {}


  /**
   * Prepares what every selector of the expression needs: a reader for each raw selector over
   * [start - offset - window, end - offset] (window = range, or the lookback for an instant selector),
   * filled before the first step for a whole-span reader, step by step (advance) for a streamed one;
   * or, for an `*_over_time` the rollup rule serves, the rollups and the edge points (docs/promql.md
   * "Rollups in range queries"). A selector whose rollups turn out unusable at some step gets a raw
   * reader then, from that step's window on.
   */
  async prefetch(e: Expr): Promise<void> {
    switch (e.kind) {
      case 'number':
      case 'string':
        return;
      case 'paren':
      case 'unary':
        return this.prefetch(e.expr);
      case 'vector':
        await this.read(e, this.lookback);
        return;
      case 'matrix':
        await this.read(e.vs, e.rangeMs);
        return;
      case 'call': {
        // the same decision as call(): the first argument of a served function, in a rollup-eligible query
        const fn = ROLLUP_SERVED[e.fn];
        const m = fn && this.rollupPlan && e.args[0]?.kind === 'matrix' ? e.args[0] : null;
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
        for (const a of e.args) if (!(fromRollups && a === m)) await this.prefetch(a);
        return;
      }
      case 'aggr':
        if (e.param) await this.prefetch(e.param);
        return this.prefetch(e.expr);
      case 'binary':
        await this.prefetch(e.lhs);
        return this.prefetch(e.rhs);
      default:
        return assertNever(e);
    }
  }


  /** Opens the selector's reader (from the first step's window); a whole-span reader is filled now. */
  private async read(vs: VectorSelectorNode, windowMs: number): Promise<void> {
    if (this.readers.has(vs)) return;
    await this.budget.pause('query preparation');
    const r = this.reader(vs, windowMs, this.start);
    if (r.mode === 'whole') await r.fill(this.end - vs.offsetMs, 'query preparation');
  }

  /**
   * How a selector is read. Every selector of this evaluator is read in step order, so all are
   * streamed; one read out of step order (a subquery's inner steps, `@`) is to be 'whole'.
   */
  private readMode(_vs: VectorSelectorNode): ReadMode {
    return 'streamed';
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
   * (start - offset, step and range multiples of the window, range ≥ 2 windows). The left-open
   * window then equals the rollup windows [lo, hi) minus a raw point exactly at lo plus one exactly
   * at hi, which are read raw (one narrow select per edge).
   */
  private rollupData(m: MatrixSelectorNode, fn: RollupFunction): RollupSeries[] | null {
    const steps = this.rollupSteps(m, fn);
    for (;;) {
      const r = steps.next();
      if (r.done) return r.value;
    }
  }

  /** rollupData() as a generator that yields between its edge reads (one narrow select each, 2 per step). */
  private *rollupSteps(m: MatrixSelectorNode, fn: RollupFunction): Generator<void, RollupSeries[] | null, void> {
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
      m.rangeMs >= 2 * W;
    if (!eligible) {
      this.rollupCache.set(m, null);
      return null;
    }
    const last = this.end - m.vs.offsetMs;
    const lastHi = first + Math.floor((last - first) / plan.step) * plan.step;
    const base = first - m.rangeMs;
    const windows = (lastHi - W - base) / W + 1;
    const index = (t: number) => {
      const k = (t - base) / W;
      return Number.isInteger(k) && k >= 0 && k < windows ? k : -1;
    };
    const byId = new Map<string, RollupSeries>();
    const entry = (labels: Labels) => {
      const id = labelsId(labels);
      let e = byId.get(id);
      if (!e) byId.set(id, (e = { labels, n: new Array<number>(windows).fill(-1), v: new Array<number>(windows).fill(0), edges: new Map() }));
      return e;
    };
    const counts = this.store.selectRollup(m.vs.matchers, 'count', base, lastHi - W);
    for (const s of counts) {
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
      for (const s of this.store.selectRollup(m.vs.matchers, fn, base, lastHi - W)) {
        const e = entry(s.labels);
        for (const p of s.points) {
          const k = index(p.t);
          if (k >= 0 && e.n[k]! >= 0) e.v[k] = p.v;
        }
      }
    }
    // the rollups held: a count and a value per window and series
    this.budget.load(2 * windows * byId.size);
    this.rollupBase.set(m, base);
    // raw points exactly on the edges of the steps' windows (stale markers are not values here either)
    const edges = new Set<number>();
    for (let hi = first; hi <= lastHi; hi += plan.step) edges.add(hi).add(hi - m.rangeMs);
    for (const b of edges) {
      yield;
      for (const s of this.store.select(m.vs.matchers, b, b)) {
        for (const p of s.points) if (p.t === b && !isStaleNaN(p.v)) entry(s.labels).edges.set(b, p.v);
      }
    }
    const got = sortSeries([...byId.values()]);
    this.rollupCache.set(m, got);
    return got;
  }

  /**
   * An `*_over_time` function at ts from rollups, or null to evaluate it from raw points (shape not
   * eligible, or a value the rollups cannot give exactly: non-finite values, or the point on the
   * left edge being the extreme of its window). Once null for a selector, raw for the rest of the query.
   */
  private overTimeFromRollups(fnName: string, m: MatrixSelectorNode, ts: number): Sample[] | null {
    const fn = ROLLUP_SERVED[fnName];
    if (!fn) return null;
    const data = this.rollupData(m, fn);
    if (!data) return null;
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
   * read raw from the step its rollups gave up): its span starts at that step's window.
   */
  private reader(vs: VectorSelectorNode, windowMs: number, ts: number): SelectorReader {
    let r = this.readers.get(vs);
    if (!r) {
      r = new SelectorReader({
        store: this.store,
        matchers: vs.matchers,
        from: ts - vs.offsetMs - windowMs,
        to: this.end - vs.offsetMs,
        windowMs,
        mode: this.readMode(vs),
        budget: this.budget,
        compare: compareLabels,
      });
      this.readers.set(vs, r);
    }
    return r;
  }

  /**
   * Each series' points in the left-open window (ts - offset - window, ts - offset], as index ranges.
   * With dropStale (range selectors) the window holds no stale marker.
   */
  private window(vs: VectorSelectorNode, windowMs: number, ts: number, dropStale = true): SeriesWindow[] {
    const hi = ts - vs.offsetMs;
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
          if (!isStaleNaN(v)) samples.push({ labels: s.labels, v });
        }
        return { type: 'vector', samples };
      }
      case 'matrix':
        return { type: 'matrix', series: this.window(e.vs, e.rangeMs, ts).map(toSeries) };
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
   * A function call at ts, as a generator that yields (nothing) every 64 series of a range-vector
   * function.
   */
  private *callSteps(fn: string, args: Expr[], ts: number): Generator<void, Value, void> {
    const vec = (samples: Sample[]): Value => ({ type: 'vector', samples: checkDuplicates(samples, this.memo) });
    const self = this;
    function* simple(f: (v: number) => number): Generator<void, Value, void> {
      return vec((yield* self.vectorArg(args[0]!, ts)).map((s) => ({ labels: self.memo.dropName(s.labels), v: f(s.v) })));
    }
    // range-vector functions: f(points, a, b) over the window's points [a, b) → value or null (series
    // dropped); names dropped except last_over_time
    function* overRange(f: (pts: Cols, a: number, b: number, m: MatrixSelectorNode) => number | null, keepName = false): Generator<void, Value, void> {
      const m = args.find((a) => a.kind === 'matrix') as MatrixSelectorNode;
      const out: Sample[] = [];
      let i = 0;
      for (const { s, a, b } of self.window(m.vs, m.rangeMs, ts)) {
        const v = f(s.points, a, b, m);
        if (v !== null) out.push({ labels: keepName ? s.labels : self.memo.dropName(s.labels), v });
        if ((++i & 63) === 0) yield;
      }
      return vec(out);
    }
    switch (fn) {
      case 'rate':
      case 'increase':
      case 'delta':
        return yield* overRange((pts, a, b, m) =>
          extrapolatedRate(pts, a, b, ts - m.vs.offsetMs - m.rangeMs, ts - m.vs.offsetMs, m.rangeMs, fn !== 'delta', fn === 'rate'),
        );
      case 'irate':
        return yield* overRange((pts, a, b) => {
          if (b - a < 2) return null;
          const lastV = pts.v[b - 1]!;
          const prevV = pts.v[b - 2]!;
          // counter reset between the last two samples: the increase is the last value
          const d = lastV < prevV ? lastV : lastV - prevV;
          const dt = pts.t[b - 1]! - pts.t[b - 2]!;
          if (dt === 0) return null;
          return d / (dt / 1000);
        });
      case 'deriv':
        return yield* overRange((pts, a, b) => (b - a < 2 ? null : linearRegression(pts, a, b, pts.t[a]!)[0]));
      case 'predict_linear': {
        const dur = (yield* this.scalarArg(args[1]!, ts));
        return yield* overRange((pts, a, b) => {
          if (b - a < 2) return null;
          const [slope, intercept] = linearRegression(pts, a, b, ts);
          return slope * dur + intercept;
        });
      }
      case 'avg_over_time':
      case 'max_over_time':
      case 'min_over_time':
      case 'count_over_time':
      case 'last_over_time': {
        const m = args[0]?.kind === 'matrix' ? args[0] : null;
        const fromRollups = m && this.rollupPlan ? this.overTimeFromRollups(fn, m, ts) : null;
        if (fromRollups) return vec(fromRollups);
        break;
      }
    }
    switch (fn) {
      case 'avg_over_time':
        return yield* overRange((pts, a, b) => avg(values(pts, a, b)));
      case 'sum_over_time':
        return yield* overRange((pts, a, b) => kahanSum(values(pts, a, b)));
      case 'count_over_time':
        return yield* overRange((_pts, a, b) => b - a);
      case 'min_over_time':
        return yield* overRange((pts, a, b) => {
          let m = pts.v[a]!;
          for (let i = a; i < b; i++) if (pts.v[i]! < m || Number.isNaN(m)) m = pts.v[i]!;
          return m;
        });
      case 'max_over_time':
        return yield* overRange((pts, a, b) => {
          let m = pts.v[a]!;
          for (let i = a; i < b; i++) if (pts.v[i]! > m || Number.isNaN(m)) m = pts.v[i]!;
          return m;
        });
      case 'last_over_time':
        return yield* overRange((pts, _a, b) => pts.v[b - 1]!, true);
      case 'quantile_over_time': {
        const q = (yield* this.scalarArg(args[0]!, ts));
        return yield* overRange((pts, a, b) => quantile(q, values(pts, a, b)));
      }
      case 'absent': {
        if ((yield* this.vectorArg(args[0]!, ts)).length > 0) return { type: 'vector', samples: [] };
        return { type: 'vector', samples: [{ labels: absentLabels(args[0]!), v: 1 }] };
      }
      case 'absent_over_time': {
        const m = args[0] as MatrixSelectorNode;
        if (this.window(m.vs, m.rangeMs, ts).length > 0) return { type: 'vector', samples: [] };
        return { type: 'vector', samples: [{ labels: absentLabels(m), v: 1 }] };
      }
      case 'time':
        return { type: 'scalar', v: ts / 1000 };
      case 'clamp_min': {
        const min = (yield* this.scalarArg(args[1]!, ts));
        return yield* simple((v) => (Number.isNaN(min) ? NaN : Math.max(min, v)));
      }
      case 'clamp_max': {
        const max = (yield* this.scalarArg(args[1]!, ts));
        return yield* simple((v) => (Number.isNaN(max) ? NaN : Math.min(max, v)));
      }
      case 'abs':
        return yield* simple(Math.abs);
      case 'round': {
        const toNearest = args.length > 1 ? (yield* this.scalarArg(args[1]!, ts)) : 1;
        const inv = 1 / toNearest;
        return yield* simple((v) => Math.floor(v * inv + 0.5) / inv);
      }
      case 'vector':
        return { type: 'vector', samples: [{ labels: {}, v: (yield* this.scalarArg(args[0]!, ts)) }] };
      case 'scalar': {
        const s = (yield* this.vectorArg(args[0]!, ts));
        return { type: 'scalar', v: s.length === 1 ? s[0]!.v : NaN };
      }
      case 'label_replace':
        return vec(
          labelReplace(
            (yield* this.vectorArg(args[0]!, ts)),
            (yield* this.stringArg(args[1]!, ts)),
            (yield* this.stringArg(args[2]!, ts)),
            (yield* this.stringArg(args[3]!, ts)),
            (yield* this.stringArg(args[4]!, ts)),
          ),
        );
      default:
        throw badData(`unsupported function "${fn}"`);
    }
  }

  private *aggregate(node: AggrNode, ts: number): Generator<void, Value, void> {
    const { op, param: paramExpr, expr: inner, grouping, without } = node;
    const input = (yield* this.vectorArg(inner, ts));
    const param = paramExpr ? (yield* this.scalarArg(paramExpr, ts)) : 0;
    if ((op === 'topk' || op === 'bottomk') && Number.isNaN(param)) throw execError('Parameter value is NaN');
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
      // the grouping of an input label set is the same at every step
      const { gl, key } = this.memo.derived(node, s.labels, (l) => {
        const gl = groupLabels(l);
        return { gl, key: labelsId(gl) };
      });
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { labels: gl, samples: [] }));
      g.samples.push(s);
    }
    const out: Sample[] = [];
    for (const g of groups.values()) {
      const vals = g.samples.map((s) => s.v);
      switch (op) {
        case 'sum':
          out.push({ labels: g.labels, v: kahanSum(vals) });
          break;
        case 'avg':
          out.push({ labels: g.labels, v: avg(vals) });
          break;
        case 'count':
          out.push({ labels: g.labels, v: vals.length });
          break;
        case 'min':
          out.push({ labels: g.labels, v: vals.reduce((m, v) => (v < m || Number.isNaN(m) ? v : m)) });
          break;
        case 'max':
          out.push({ labels: g.labels, v: vals.reduce((m, v) => (v > m || Number.isNaN(m) ? v : m)) });
          break;
        case 'quantile':
          out.push({ labels: g.labels, v: quantile(param, vals) });
          break;
        case 'topk':
        case 'bottomk': {
          // Prometheus converts k with int64(); k < 1 selects nothing
          const k = Number.isNaN(param) ? 0 : Math.trunc(param);
          if (k < 1) break;
          const top = op === 'topk';
          const better = (a: number, b: number) => {
            // NaN always loses
            if (Number.isNaN(a)) return false;
            if (Number.isNaN(b)) return true;
            return top ? a > b : a < b;
          };
          const sorted = [...g.samples].sort((a, b) => (better(a.v, b.v) ? -1 : better(b.v, a.v) ? 1 : 0));
          out.push(...sorted.slice(0, k));
          break;
        }
      }
    }
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

/**
 * Prometheus's extrapolatedRate (functions.go) for the float samples [a, b) of parallel time and value
 * arrays. null drops the series.
 */
function extrapolatedRate(
  pts: Cols,
  a: number,
  b: number,
  rangeStart: number,
  rangeEnd: number,
  rangeMs: number,
  isCounter: boolean,
  isRate: boolean,
): number | null {
  const n = b - a;
  if (n < 2) return null;
  const firstT = pts.t[a]!;
  const firstV = pts.v[a]!;
  const lastT = pts.t[b - 1]!;
  let result = pts.v[b - 1]! - firstV;
  if (isCounter) {
    let prev = firstV;
    for (let i = a + 1; i < b; i++) {
      const cur = pts.v[i]!;
      if (cur < prev) result += prev;
      prev = cur;
    }
  }
  let durationToStart = (firstT - rangeStart) / 1000;
  let durationToEnd = (rangeEnd - lastT) / 1000;
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
  if (isRate) factor /= rangeMs / 1000;
  return result * factor;
}

/** Prometheus's kahanSumInc. */
function kahanInc(inc: number, sum: number, c: number): [number, number] {
  const t = sum + inc;
  if (!Number.isFinite(t) && !Number.isNaN(t)) c = 0;
  else if (Math.abs(sum) >= Math.abs(inc)) c += sum - t + inc;
  else c += inc - t + sum;
  return [t, c];
}

/** Kahan-compensated summation, as Prometheus's sum and sum_over_time. */
function kahanSum(vals: readonly number[]): number {
  let sum = 0;
  let c = 0;
  for (const v of vals) [sum, c] = kahanInc(v, sum, c);
  return sum + c;
}

const isInf = (v: number) => v === Infinity || v === -Infinity;

/** Prometheus's avg: Kahan sum while it stays finite, then an incremental mean (aggregation avg / avg_over_time). */
function avg(vals: readonly number[]): number {
  let sum = vals[0]!;
  let c = 0;
  let incremental = false;
  let mean = vals[0]!;
  let mc = 0;
  for (let i = 1; i < vals.length; i++) {
    const v = vals[i]!;
    const n = i + 1;
    if (!incremental) {
      const [ns, nc] = kahanInc(v, sum, c);
      if (!isInf(ns)) {
        sum = ns;
        c = nc;
        continue;
      }
      incremental = true;
      mean = sum / (n - 1);
      mc = c / (n - 1);
    }
    if (isInf(mean)) {
      if (isInf(v) && mean > 0 === v > 0) continue;
      if (!isInf(v) && !Number.isNaN(v)) continue;
    }
    const cur = mean + mc;
    [mean, mc] = kahanInc(v / n - cur / n, mean, mc);
  }
  return incremental ? mean + mc : (sum + c) / vals.length;
}

/** Prometheus's linearRegression over samples [a, b): least squares with x in seconds relative to interceptTime. */
function linearRegression(pts: Cols, a: number, b: number, interceptTime: number): [number, number] {
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

function absentLabels(arg: Expr): Labels {
  const vs = arg.kind === 'vector' ? arg : arg.kind === 'matrix' ? arg.vs : null;
  if (!vs) return {};
  const out: Record<string, string> = {};
  const seen = new Set<string>();
  for (const m of vs.matchers) {
    if (m.name === '__name__') continue;
    if (m.type === '=' && !seen.has(m.name)) out[m.name] = m.value;
    else if (m.type === '=' ) delete out[m.name];
    seen.add(m.name);
  }
  // a label set by more than one matcher is dropped (Prometheus: ambiguous)
  for (const m of vs.matchers) if (vs.matchers.filter((x) => x.name === m.name).length > 1) delete out[m.name];
  return out;
}

function labelReplace(input: Sample[], dst: string, repl: string, src: string, regexText: string): Sample[] {
  let re: CaptureRegex;
  try {
    re = compileRegex(regexText, PROMETHEUS);
  } catch (err) {
    const why = err instanceof RegexSyntaxError ? `: ${err.reason}` : '';
    throw badData(`invalid regular expression in label_replace(): ${regexText}${why}`);
  }
  if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(dst) && dst.length === 0) throw badData(`invalid destination label name in label_replace(): ${dst}`);
  return input.map((s) => {
    const m = re.exec(s.labels[src] ?? '');
    if (!m) return s;
    const value = expandTemplate(repl, m);
    const labels: Record<string, string> = { ...s.labels };
    if (value === '') delete labels[dst];
    else labels[dst] = value;
    return { labels, v: s.v };
  });
}

/** Go's regexp.Expand: $1, ${1}, $name, ${name}, $$. A name is the longest run of [A-Za-z0-9_]. */
function expandTemplate(tpl: string, m: RegexMatch): string {
  return tpl.replace(/\$(\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))/g, (_all, _x, braced?: string, bare?: string) => {
    if (_x === '$') return '$';
    const name = (braced ?? bare)!;
    if (/^\d+$/.test(name)) return m.groups[Number(name)] ?? '';
    return m.named[name] ?? '';
  });
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

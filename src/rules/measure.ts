// One evaluation of one alert rule at one instant: what each series' value is, judged over the rule's
// window, predicted ahead and compared with its seasonal baseline where the rule asks, and whether that
// is a breach, a value between threshold and recovery, or clear. Pure over the query engine and store.
import type { Labels } from '../model/labels.ts';
import type { Store } from '../store/store.ts';
import { parseSeriesSelector, type QueryEngine, type QueryResult } from '../query/index.ts';
import { createAnomalyEvaluator, type AnomalyEvaluator } from './anomaly.ts';
import type { Observation } from './alert-state.ts';
import type { AlertRuleDef, ThresholdCondition } from './rule.ts';
import { humanizeDuration } from './template.ts';

export interface Measured {
  /** the series' labels without __name__ */
  readonly labels: Labels;
  readonly observation: Observation;
  /** annotations computed by the evaluation: prediction, slope, peak, baseline */
  readonly extra: Readonly<Record<string, string>>;
}

interface SeriesPoints {
  labels: Labels;
  points: { t: number; v: number }[];
}

export interface MeasureContext {
  readonly engine: QueryEngine;
  readonly store: Store;
  /** resolution of windowed evaluation (the collection interval, 15 s) */
  readonly stepMs: number;
  /** one anomaly evaluator per rule, kept between evaluations (it caches each series' level) */
  readonly anomalyEvaluators?: Map<string, AnomalyEvaluator>;
}

export async function measureRule(rule: AlertRuleDef, at: number, ctx: MeasureContext): Promise<Measured[]> {
  if (rule.anomaly) return measureAnomaly(rule, at, ctx);
  const span = Math.max(rule.windowMs, rule.predictionLookbackMs, rule.trends ? Math.max(rule.windowMs, 3_600_000) : 0);
  if (span === 0) {
    const out: Measured[] = [];
    for (const s of vectorOf(await ctx.engine.instant(rule.expr, at))) {
      const obs = rule.condition ? judge(rule.condition, s.v) : { kind: 'breach' as const, value: s.v };
      out.push({ labels: s.labels, observation: obs, extra: {} });
    }
    return out;
  }
  // windowed: the expression over [at - span, at] at the collection step, judged per series in JS
  const step = Math.max(ctx.stepMs, Math.ceil(span / 10_000));
  const start = at - Math.floor(span / step) * step;
  const out: Measured[] = [];
  for (const s of matrixOf(await ctx.engine.range(rule.expr, start, at, step))) {
    const last = s.points[s.points.length - 1];
    if (!last || last.t !== at) continue; // the series is gone now: clear
    const inWindow = s.points.filter((p) => p.t > at - rule.windowMs || rule.windowMs === 0);
    const value = windowValue(rule.windowFn, rule.windowMs === 0 ? [last] : inWindow);
    const extra: Record<string, string> = {};
    let observation: Observation = rule.condition ? judge(rule.condition, value) : { kind: 'breach', value };
    if (rule.condition && rule.predictionMs > 0) {
      const fit = linearFit(s.points.filter((p) => p.t >= at - rule.predictionLookbackMs));
      if (fit) {
        const predicted = fit.intercept + fit.slope * (at + rule.predictionMs);
        extra.predicted_value = predicted.toFixed(2);
        extra.prediction_window = humanizeDuration(rule.predictionMs / 1000);
        const ttt = timeToThreshold(rule.condition, value, fit.slope);
        if (ttt !== undefined) extra.time_to_threshold = humanizeDuration(ttt / 1000);
        const predictedBreach = rule.condition.direction === 'above' ? predicted >= rule.condition.threshold : predicted <= rule.condition.threshold;
        if (predictedBreach && observation.kind !== 'breach') {
          observation = { kind: 'breach', value };
          extra.predicted = 'true';
        } else if (!predictedBreach && observation.kind === 'breach') extra.predicted = 'false';
      }
    }
    if (rule.trends && rule.condition) Object.assign(extra, trendAnnotations(rule.condition, s.points, value, at));
    out.push({ labels: s.labels, observation, extra });
  }
  return out;
}

async function measureAnomaly(rule: AlertRuleDef, at: number, ctx: MeasureContext): Promise<Measured[]> {
  const matchers = parseSeriesSelector(rule.expr);
  const key = `${rule.group}/${rule.name}`;
  let evaluator = ctx.anomalyEvaluators?.get(key);
  if (!evaluator) {
    evaluator = createAnomalyEvaluator(ctx.store, { side: 'high' });
    ctx.anomalyEvaluators?.set(key, evaluator);
  }
  const out: Measured[] = [];
  for (const a of await evaluator.evaluate(matchers, at)) {
    const { __name__: _, ...labels } = a.labels;
    const extra: Record<string, string> = {};
    let observation: Observation;
    if (a.score === null) {
      extra.baseline = `warming up: ${a.baseline.have} of ${a.baseline.need} ${a.baseline.reason}`;
      observation = { kind: 'clear', value: a.value };
    } else {
      const b = a.baseline as { median: number; upper: number };
      extra.baseline_median = String(Number(b.median.toPrecision(4)));
      extra.baseline_upper = String(Number(b.upper.toPrecision(4)));
      extra.anomaly_score = a.score.toFixed(1);
      const thresholdBreach = rule.condition ? judge(rule.condition, a.value).kind === 'breach' : false;
      observation = a.anomalous || thresholdBreach ? { kind: 'breach', value: a.value } : { kind: 'clear', value: a.value };
    }
    out.push({ labels, observation, extra });
  }
  return out;
}

/** At or past the threshold: breach; not yet past the recovery threshold: recovering; else clear. */
export function judge(c: ThresholdCondition, value: number): Observation {
  if (Number.isNaN(value)) return { kind: 'clear', value };
  if (c.direction === 'above') {
    if (value >= c.threshold) return { kind: 'breach', value };
    if (value >= c.recovery) return { kind: 'recovering', value };
    return { kind: 'clear', value };
  }
  if (value <= c.threshold) return { kind: 'breach', value };
  if (value <= c.recovery) return { kind: 'recovering', value };
  return { kind: 'clear', value };
}

export function windowValue(fn: AlertRuleDef['windowFn'], points: readonly { v: number }[]): number {
  const vs = points.map((p) => p.v).filter((v) => !Number.isNaN(v));
  if (vs.length === 0) return NaN;
  switch (fn) {
    case 'avg':
      return vs.reduce((a, b) => a + b, 0) / vs.length;
    case 'max':
      return Math.max(...vs);
    case 'min':
      return Math.min(...vs);
    case 'last':
      return vs[vs.length - 1]!;
  }
}

/** Least squares over the points (time in ms); undefined with fewer than two distinct times. */
export function linearFit(points: readonly { t: number; v: number }[]): { slope: number; intercept: number } | undefined {
  const ps = points.filter((p) => Number.isFinite(p.v));
  if (ps.length < 2) return undefined;
  const t0 = ps[0]!.t;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (const p of ps) {
    const x = p.t - t0;
    sx += x;
    sy += p.v;
    sxx += x * x;
    sxy += x * p.v;
  }
  const n = ps.length;
  const den = n * sxx - sx * sx;
  if (den === 0) return undefined;
  const slope = (n * sxy - sx * sy) / den;
  const interceptAtT0 = (sy - slope * sx) / n;
  return { slope, intercept: interceptAtT0 - slope * t0 };
}

function timeToThreshold(c: ThresholdCondition, value: number, slopePerMs: number): number | undefined {
  const gap = c.threshold - value;
  if (gap === 0) return 0;
  if (slopePerMs === 0 || Math.sign(gap) !== Math.sign(slopePerMs)) return undefined;
  return gap / slopePerMs;
}

/** Slope per hour, the peak and when it was, and the time to threshold at the current slope. */
function trendAnnotations(c: ThresholdCondition, points: readonly { t: number; v: number }[], value: number, at: number): Record<string, string> {
  const out: Record<string, string> = {};
  const fit = linearFit(points);
  if (fit) {
    out.trend_slope_per_hour = (fit.slope * 3_600_000).toPrecision(3);
    const ttt = timeToThreshold(c, value, fit.slope);
    out.time_to_threshold = ttt === undefined ? 'not approaching' : humanizeDuration(ttt / 1000);
  }
  let peak = points[0];
  for (const p of points) if (peak && p.v > peak.v) peak = p;
  if (peak) {
    out.peak_value = String(Number(peak.v.toPrecision(4)));
    out.peak_at = new Date(peak.t).toISOString();
    out.peak_age = humanizeDuration((at - peak.t) / 1000);
  }
  return out;
}

function vectorOf(r: QueryResult): { labels: Labels; v: number }[] {
  if (r.resultType === 'scalar') return [{ labels: {}, v: Number(r.result[1]) }];
  if (r.resultType !== 'vector') return [];
  return r.result.map((s) => ({ labels: dropName(s.metric), v: parseValue(s.value[1]) }));
}

function matrixOf(r: QueryResult): SeriesPoints[] {
  if (r.resultType !== 'matrix') return [];
  return r.result.map((s) => ({ labels: dropName(s.metric), points: s.values.map(([t, v]) => ({ t: Math.round(t * 1000), v: parseValue(v) })) }));
}

function parseValue(s: string): number {
  return s === '+Inf' ? Infinity : s === '-Inf' ? -Infinity : Number(s);
}

function dropName(m: Record<string, string>): Labels {
  if (!('__name__' in m)) return m;
  const { __name__: _, ...rest } = m;
  return rest;
}


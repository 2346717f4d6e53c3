// The aggregation operators (Prometheus engine.go aggregation/aggregationK/aggregationCountValues):
// which parameter each takes, and what each makes of one group's samples. The evaluator groups
// (engine.ts aggregate()); a new operator is one entry here.
import type { Labels } from '../model/labels.ts';
import { xxhash64 } from '../lib/xxhash64.ts';
import { execError } from './errors.ts';
import { avg, kahanSum, quantile } from './functions/stats.ts';
import { formatValue, type Sample } from './value.ts';

export interface AggregationDef {
  /** the parameter before the expression, if any */
  param: 'scalar' | 'string' | null;
  /** the group's result: one sample with the group's labels, or (topk …) some of the input samples */
  reduce: (samples: Sample[], param: number, labels: Labels) => Sample[];
  /** refuses a parameter Prometheus refuses (once per step, whatever the input) */
  check?: (param: number) => void;
}

const one = (f: (vals: number[], param: number) => number) => (samples: Sample[], param: number, labels: Labels) => [
  { labels, v: f(samples.map((s) => s.v), param) },
];

/** Prometheus's streaming variance over a group (mean and sum of squares, no compensation). */
function groupVariance(vals: number[]): number {
  // the first value initialises the group: NaN or ±Inf make the result NaN
  let value = Number.isFinite(vals[0]!) ? 0 : NaN;
  let mean = vals[0]!;
  let count = 1;
  for (let i = 1; i < vals.length; i++) {
    const f = vals[i]!;
    count++;
    const delta = f - mean;
    mean += delta / count;
    value += delta * (f - mean);
  }
  return value / count;
}

/** k as Prometheus takes it for topk/bottomk/limitk: NaN and int64 overflow are errors. */
export function checkK(k: number): void {
  // k < 1 selects nothing, before any other check
  if (k < 1) return;
  if (Number.isNaN(k)) throw execError('Parameter value is NaN');
  if (k <= -9223372036854775808) throw execError(`Scalar value ${formatValue(k)} underflows int64`);
  if (k >= 9223372036854775807) throw execError(`Scalar value ${formatValue(k)} overflows int64`);
}

/** topk/bottomk: the k best, NaN always last; sorted best first. */
function best(top: boolean) {
  return (samples: Sample[], k: number) => {
    const n = Math.trunc(k);
    if (n < 1) return [];
    const better = (a: number, b: number) => {
      if (Number.isNaN(a)) return false;
      if (Number.isNaN(b)) return true;
      return top ? a > b : a < b;
    };
    return [...samples].sort((a, b) => (better(a.v, b.v) ? -1 : better(b.v, a.v) ? 1 : 0)).slice(0, n);
  };
}

/** Prometheus's labels.Hash() (stringlabels): xxHash64 of each name and value, length-prefixed. */
export function labelsHash(l: Labels): bigint {
  const enc = new TextEncoder();
  const parts: number[] = [];
  const put = (s: string) => {
    const b = enc.encode(s);
    if (b.length < 255) parts.push(b.length);
    else parts.push(255, b.length & 0xff, (b.length >> 8) & 0xff, (b.length >> 16) & 0xff);
    for (const x of b) parts.push(x);
  };
  for (const name of Object.keys(l).sort()) {
    put(name);
    put(l[name]!);
  }
  return xxhash64(Uint8Array.from(parts));
}

/** limit_ratio's HashRatioSampler: a series is kept when its hash, as a share of 2^64, is under r (or, for r < 0, at least 1 + r). */
function ratioKeeps(l: Labels, r: number): boolean {
  const offset = Number(labelsHash(l)) / 18446744073709551615;
  return (r >= 0 && offset < r) || (r < 0 && offset >= 1 + r);
}

const DEFS = {
  sum: { param: null, reduce: one((v) => kahanSum(v)) },
  avg: { param: null, reduce: one((v) => avg(v)) },
  count: { param: null, reduce: one((v) => v.length) },
  group: { param: null, reduce: one(() => 1) },
  min: { param: null, reduce: one((v) => v.reduce((m, x) => (m > x || Number.isNaN(m) ? x : m))) },
  max: { param: null, reduce: one((v) => v.reduce((m, x) => (m < x || Number.isNaN(m) ? x : m))) },
  stddev: { param: null, reduce: one((v) => Math.sqrt(groupVariance(v))) },
  stdvar: { param: null, reduce: one((v) => groupVariance(v)) },
  quantile: { param: 'scalar', reduce: one((v, q) => quantile(q, v)) },
  topk: { param: 'scalar', reduce: best(true), check: checkK },
  bottomk: { param: 'scalar', reduce: best(false), check: checkK },
  // the first k of the group in input order (series order)
  limitk: { param: 'scalar', reduce: (samples, k) => (Math.trunc(k) < 1 ? [] : samples.slice(0, Math.trunc(k))), check: checkK },
  limit_ratio: {
    param: 'scalar',
    reduce: (samples, r) => {
      if (r === 0) return [];
      const ratio = Math.max(-1, Math.min(1, r));
      return samples.filter((s) => ratioKeeps(s.labels, ratio));
    },
    check: (r) => {
      if (Number.isNaN(r)) throw execError('Ratio value is NaN');
    },
  },
  // count_values groups by the value label it adds, so the evaluator relabels first (countValuesInput); then it is count
  count_values: { param: 'string', reduce: one((v) => v.length) },
} satisfies Record<string, AggregationDef>;

export type AggrOp = keyof typeof DEFS;
export const AGGREGATIONS: Readonly<Record<AggrOp, AggregationDef>> = DEFS;
export const isAggrOp = (op: string): op is AggrOp => Object.hasOwn(AGGREGATIONS, op);

/** count_values' input: each sample with its value (formatted as Prometheus does) under `label`. */
export function countValuesInput(samples: Sample[], label: string): Sample[] {
  if (label.length === 0) throw execError(`invalid label name "${label}"`);
  return samples.map((s) => ({ labels: { ...s.labels, [label]: formatValue(s.v) }, v: s.v }));
}

// The values PromQL evaluation passes between nodes (Prometheus's parser.Value kinds), shared by the
// evaluator (engine.ts) and the function table (functions.ts).
import type { Labels } from '../model/labels.ts';
import type { Point } from '../store/store.ts';

export interface Sample {
  labels: Labels;
  v: number;
  /** the sample's own time, set only by an instant selector (for `timestamp(x)`) */
  t?: number;
}
export interface Series {
  labels: Labels;
  points: Point[];
}
export type Value =
  | { type: 'scalar'; v: number }
  | { type: 'string'; s: string }
  | { type: 'vector'; samples: Sample[] }
  | { type: 'matrix'; series: Series[] };

/** A series' points as parallel columns (the evaluator's read holders satisfy this). */
export interface Points {
  readonly t: Float64Array;
  readonly v: Float64Array;
}

export function dropName(l: Labels): Labels {
  if (!('__name__' in l)) return l;
  const { __name__: _drop, ...rest } = l;
  return rest;
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

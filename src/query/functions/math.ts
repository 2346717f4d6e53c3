// Functions of each sample's value (simpleFloatFunc), clamping, rounding and the date functions
// (Prometheus functions.go). All drop the metric name.
import type { Labels } from '../../model/labels.ts';
import type { Sample, Value } from '../value.ts';

/** f applied to every sample of an instant vector, names dropped. */
export function mapValues(samples: Sample[], dropName: (l: Labels) => Labels, f: (v: number) => number): Sample[] {
  return samples.map((s) => ({ labels: dropName(s.labels), v: f(s.v) }));
}

export const MATH_FUNCTIONS = {
  abs: Math.abs,
  ceil: Math.ceil,
  floor: Math.floor,
  exp: Math.exp,
  sqrt: Math.sqrt,
  ln: Math.log,
  log2: Math.log2,
  log10: Math.log10,
  sin: Math.sin,
  cos: Math.cos,
  tan: Math.tan,
  asin: Math.asin,
  acos: Math.acos,
  atan: Math.atan,
  sinh: Math.sinh,
  cosh: Math.cosh,
  tanh: Math.tanh,
  asinh: Math.asinh,
  acosh: Math.acosh,
  atanh: Math.atanh,
  rad: (v: number) => (v * Math.PI) / 180,
  deg: (v: number) => (v * 180) / Math.PI,
  // a NaN or a zero (of either sign) is returned as it is
  sgn: (v: number) => (v < 0 ? -1 : v > 0 ? 1 : v),
} satisfies Record<string, (v: number) => number>;

/** clamp: max(min, min(max, v)); nothing when max < min; NaN bounds give NaN (Go's math.Max/Min). */
export function clamp(samples: Sample[], dropName: (l: Labels) => Labels, lo: number, hi: number): Sample[] {
  if (hi < lo) return [];
  return mapValues(samples, dropName, (v) => Math.max(lo, Math.min(hi, v)));
}

/** round to the nearest multiple of toNearest, ties up (computed with the inverse, as Prometheus). */
export function round(v: number, toNearest: number): number {
  const inv = 1 / toNearest;
  return Math.floor(v * inv + 0.5) / inv;
}

/** Go's time.Unix(int64(v), 0).UTC() as a Date; null where JavaScript's Date cannot hold it (NaN, ±Inf, past ±275,000 years). */
function unixDate(sec: number): Date | null {
  const ms = Math.trunc(sec) * 1000;
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) return null;
  return new Date(ms);
}

const DATE_PARTS = {
  year: (d: Date) => d.getUTCFullYear(),
  month: (d: Date) => d.getUTCMonth() + 1,
  day_of_month: (d: Date) => d.getUTCDate(),
  day_of_week: (d: Date) => d.getUTCDay(),
  day_of_year: (d: Date) => (Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000 + 1,
  days_in_month: (d: Date) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate(),
  hour: (d: Date) => d.getUTCHours(),
  minute: (d: Date) => d.getUTCMinutes(),
} satisfies Record<string, (d: Date) => number>;
export type DatePart = keyof typeof DATE_PARTS;
export const DATE_FUNCTION_NAMES = Object.keys(DATE_PARTS) as DatePart[];

/** dateWrapper: with no argument, of the evaluation time (whole seconds); else of each sample's value as Unix seconds. */
export function datePart(part: DatePart, arg: Sample[] | null, ts: number, dropName: (l: Labels) => Labels): Value {
  const f = (sec: number) => {
    const d = unixDate(sec);
    return d ? DATE_PARTS[part](d) : NaN;
  };
  if (arg === null) return { type: 'vector', samples: [{ labels: {}, v: f(Math.trunc(ts / 1000)) }] };
  return { type: 'vector', samples: mapValues(arg, dropName, f) };
}

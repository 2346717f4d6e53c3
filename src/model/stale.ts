// Prometheus's staleness marker (prometheus/model/value: StaleNaN): a NaN with one exact bit pattern,
// appended when a series stops being reported so that PromQL stops returning it at once instead of
// after the 5m lookback. It is not a value: PromQL and the rollups skip it, and it is told apart from
// an ordinary NaN by its bits only.
//
// V8 keeps a NaN's payload when it is held in an object field, a variable or a Float64Array, but it
// quiets (0x7ff8…) or canonicalizes it through arithmetic, Math.* and plain number[] arrays that hold
// only doubles. Carry the marker in objects or typed arrays, never compute with it.

/** StaleNaN: a signalling NaN (mantissa MSB clear), 0x7ff0000000000002. */
export const STALE_NAN_BITS = 0x7ff0000000000002n;

const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);

u64[0] = STALE_NAN_BITS;
/** The stale marker as a number; `isStaleNaN` is the only reliable test for it (it is also `NaN`). */
export const STALE_NAN: number = f64[0]!;

/** Whether v is the stale marker: its bits, not just NaN-ness (an ordinary NaN is a value). */
export function isStaleNaN(v: number): boolean {
  if (v === v) return false; // not NaN at all: the common case, without touching the buffer
  f64[0] = v;
  return u64[0] === STALE_NAN_BITS;
}

// Per-window counter summaries: the rollup columns (first_t, first_v, last_t, last_v, inc, count) that
// let rate()/increase() be computed from rollups. Shared by both stores, so they agree to the bit.
import type { CounterWindow } from './store.ts';

/**
 * The counter increase within one window's values (time order), reset-corrected the Prometheus way: a
 * decrease means the counter restarted from 0.
 */
export function counterIncrease(values: readonly number[]): number {
  let inc = 0;
  for (let i = 1; i < values.length; i++) {
    const d = values[i]! - values[i - 1]!;
    inc += d >= 0 ? d : values[i]!;
  }
  return inc;
}

/** The window starting at w from its samples (time order, stale markers already left out; n ≥ 1). */
export function counterWindow(w: number, times: readonly number[], values: readonly number[]): CounterWindow {
  return {
    w,
    firstT: times[0]!,
    firstV: values[0]!,
    lastT: times[times.length - 1]!,
    lastV: values[values.length - 1]!,
    inc: counterIncrease(values),
    count: values.length,
  };
}

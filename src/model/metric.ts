// Metric families and samples as the collectors emit them and /metrics exposes them.
import type { Labels } from './labels.ts';

export type MetricType = 'counter' | 'gauge' | 'untyped';

/** What a metric family is: its name, type and HELP text. Collectors declare these as constants. */
export interface MetricDesc {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
}

/** One timestamped value of one series (`__name__` is not in labels: the family carries the name). */
export interface Sample {
  readonly name: string;
  readonly labels: Labels;
  readonly value: number;
  /** epoch milliseconds */
  readonly t: number;
}

/**
 * How a collector hands over a value: the family, the series' labels, the value. The labels object
 * is kept, not copied, and may be shared by several samples: never change it after emitting it.
 */
export type Emit = (desc: MetricDesc, labels: Labels, value: number) => void;

export function counter(name: string, help: string): MetricDesc {
  return { name, type: 'counter', help };
}

export function gauge(name: string, help: string): MetricDesc {
  return { name, type: 'gauge', help };
}

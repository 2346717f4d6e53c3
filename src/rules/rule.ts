// What a rule is once built from config: one model for the spec's threshold rules, Prometheus
// expression rules, recording rules and anomaly rules. Built by builtin.ts, evaluated by measure.ts,
// driven by engine.ts.
import type { Labels } from '../model/labels.ts';
import type { CompiledTemplate } from './template.ts';

export type Severity = 'high' | 'medium' | 'low';
export type WindowFunction = 'avg' | 'max' | 'min' | 'last';
export type Unit = 'percent' | 'seconds' | 'milliseconds' | 'bytes' | 'count' | 'number';

/** A threshold condition: breach at or past `threshold`, resolve only once past `recovery`. */
export interface ThresholdCondition {
  readonly direction: 'above' | 'below';
  readonly threshold: number;
  /** the hysteresis bound; equal to threshold when there is none */
  readonly recovery: number;
}

export interface AlertRuleDef {
  readonly kind: 'alert';
  readonly group: string;
  /** the alertname */
  readonly name: string;
  /** PromQL; with a condition it is the measured value, without one every output series is a breach */
  readonly expr: string;
  readonly condition?: ThresholdCondition;
  readonly unit: Unit;
  /** the condition is judged on fn(expr) over this window (0: the value now) */
  readonly windowMs: number;
  readonly windowFn: WindowFunction;
  /** predict the value this far ahead (linear fit over predictionLookbackMs) and breach when the prediction does */
  readonly predictionMs: number;
  readonly predictionLookbackMs: number;
  /** slope, peak and time-to-threshold annotations */
  readonly trends: boolean;
  /** breach when the value is anomalous against its seasonal baseline (docs/anomaly.md) */
  readonly anomaly: boolean;
  readonly forMs: number;
  readonly keepFiringForMs: number;
  readonly consecutive: number;
  readonly labels: Labels;
  readonly annotations: Readonly<Record<string, CompiledTemplate>>;
  /** the config key path the rule comes from */
  readonly source: string;
}

export interface RecordRuleDef {
  readonly kind: 'record';
  readonly group: string;
  /** the recorded metric name */
  readonly name: string;
  readonly expr: string;
  readonly labels: Labels;
  readonly source: string;
}

export type RuleDef = AlertRuleDef | RecordRuleDef;

export interface RuleGroupDef {
  readonly name: string;
  readonly intervalMs: number;
  /** the config section, shown as the group's `file` in /api/v1/rules */
  readonly source: string;
  readonly rules: readonly RuleDef[];
}

/** A rule that cannot be built, located at its config key path. */
export interface RuleProblem {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

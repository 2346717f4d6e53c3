// The alert state machine of one alert instance (one label set of one rule), as a pure function:
// step(previous, observation, at, policy) → next. inactive → pending → firing → resolved, with
// Prometheus's `for` and `keep_firing_for`, the spec's consecutive failures and recovery threshold,
// flap damping, and holding still while the instance's target is down. docs/rules.md has the table.

export type AlertState = 'pending' | 'firing' | 'resolved';

export interface AlertInstance {
  readonly fingerprint: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly state: AlertState;
  /** when the current episode started breaching (ms) */
  readonly activeAt: number;
  readonly firedAt?: number;
  readonly resolvedAt?: number;
  /** last evaluation at which the condition held */
  readonly lastBreachAt: number;
  /** breaching evaluations in a row in this episode */
  readonly breaches: number;
  readonly value: number;
  /** times of firing and resolving transitions in the flap window, oldest first */
  readonly transitions: readonly number[];
  readonly flapping: boolean;
  /** why the state is being held (target down), when it is */
  readonly heldBecause?: string;
}

/** What one evaluation saw for this instance. */
export type Observation =
  /** the rule's condition for firing holds (the value is at or past the threshold) */
  | { readonly kind: 'breach'; readonly value: number }
  /** the value is back under the threshold but not yet past the recovery threshold */
  | { readonly kind: 'recovering'; readonly value: number }
  /** the value is past the recovery threshold, or the series is gone */
  | { readonly kind: 'clear'; readonly value?: number }
  /** no answer because the instance's target is down: nothing is decided */
  | { readonly kind: 'unknown'; readonly reason: string };

export interface AlertPolicy {
  readonly forMs: number;
  readonly keepFiringForMs: number;
  /** breaching evaluations in a row before firing (the spec's consecutive_failures), ≥ 1 */
  readonly consecutive: number;
  /** transitions within flapWindowMs that make an alert flapping */
  readonly flapTransitions: number;
  readonly flapWindowMs: number;
  /** a flapping alert resolves only after its condition stayed clear this long */
  readonly flapHoldMs: number;
}

export type Transition = 'pending' | 'firing' | 'resolved' | 'inactive' | null;

export interface StepResult {
  /** null: the instance is gone (inactive, nothing to keep) */
  readonly next: AlertInstance | null;
  /** the announced change, null when none */
  readonly transition: Transition;
}

export function step(prev: AlertInstance | undefined, obs: Observation, at: number, policy: AlertPolicy, fingerprint: string, labels: Readonly<Record<string, string>>): StepResult {
  if (obs.kind === 'unknown') {
    if (!prev || prev.state === 'resolved') return { next: prev ?? null, transition: null };
    return { next: { ...prev, heldBecause: obs.reason }, transition: null };
  }
  const transitions = prev ? prev.transitions.filter((t) => at - t < policy.flapWindowMs) : [];
  const value = obs.value ?? prev?.value ?? NaN;

  // not active (new, or resolved earlier)
  if (!prev || prev.state === 'resolved') {
    if (obs.kind !== 'breach') return { next: prev ? { ...prev, transitions } : null, transition: null };
    const pending: AlertInstance = {
      fingerprint,
      labels,
      state: 'pending',
      activeAt: at,
      lastBreachAt: at,
      breaches: 1,
      value,
      transitions,
      flapping: transitions.length >= policy.flapTransitions,
    };
    return promote(pending, at, policy);
  }

  const base = { ...prev, labels, value, transitions, heldBecause: undefined };
  if (prev.state === 'pending') {
    // a pending alert needs the full condition each time; anything less starts over
    if (obs.kind !== 'breach') return { next: null, transition: 'inactive' };
    return promote({ ...base, lastBreachAt: at, breaches: prev.breaches + 1 }, at, policy);
  }

  // firing: stays while breaching or between threshold and recovery threshold (hysteresis)
  if (obs.kind === 'breach' || obs.kind === 'recovering') {
    return { next: { ...base, lastBreachAt: obs.kind === 'breach' ? at : prev.lastBreachAt, breaches: prev.breaches + (obs.kind === 'breach' ? 1 : 0) }, transition: null };
  }
  if (at - prev.lastBreachAt < policy.keepFiringForMs) return { next: base, transition: null };
  if (prev.flapping && at - prev.lastBreachAt < policy.flapHoldMs) return { next: base, transition: null };
  const resolvedTransitions = [...transitions, at];
  return {
    next: { ...base, state: 'resolved', resolvedAt: at, transitions: resolvedTransitions, flapping: resolvedTransitions.length >= policy.flapTransitions },
    transition: 'resolved',
  };
}

function promote(a: AlertInstance, at: number, policy: AlertPolicy): StepResult {
  const due = a.breaches >= policy.consecutive && at - a.activeAt >= policy.forMs;
  if (!due) return { next: a, transition: a.breaches === 1 ? 'pending' : null };
  const transitions = [...a.transitions, at];
  return {
    next: { ...a, state: 'firing', firedAt: at, transitions, flapping: transitions.length >= policy.flapTransitions },
    transition: 'firing',
  };
}

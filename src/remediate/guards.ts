// The guards every remediation passes, as one list walked in order by both paths that may run an
// action: the automatic one (each evaluation, remediator.consider) and approval (a person's yes to a
// parked plan, judged again at execution time). A guard that applies to one path only says so; the
// reasons read as what a person approving sees ("approved but refused: cooldown: …").

/** What the guards remember per rule and target, in state.db across restarts. */
export interface GuardState {
  /** the last plan, skip or execution: what the cooldown counts from when planning */
  lastRun: number;
  /**
   * the last execution only (a plan parked for approval is none): what the cooldown counts from when
   * approving. Absent in state saved before it existed; the approval then counts from lastRun.
   */
  lastExecuted?: number;
  failures: number;
  disabled: boolean;
  /** an execution waiting for verification: the alert it was for */
  verify?: { fingerprint: string; at: number };
}

/** the parts of a remediation rule the guards read */
export interface GuardedRule {
  readonly action: string;
  readonly direction: 'above' | 'below';
  readonly threshold?: number;
  readonly cooldownMs: number;
  readonly gracePeriodMs: number;
}

/** the parts of a firing alert the guards read */
export interface GuardedAlert {
  readonly value?: number;
  readonly activeAt: number;
  readonly evaluatedAt: number;
}

export type GuardPath = 'automatic' | 'approval';

export interface GuardInput {
  readonly path: GuardPath;
  readonly rule: GuardedRule;
  readonly alert: GuardedAlert;
  readonly state: GuardState;
  /** the target's name, or "this host" */
  readonly where: string;
  readonly now: number;
  readonly staleMs: number;
  readonly rateLimit: { readonly max: number; readonly windowMs: number };
  /** the target's executions inside the rate-limit window */
  readonly recentRuns: () => readonly number[];
}

export interface Guard {
  readonly name: string;
  /** whether the action would still be needed when this guard refuses (approval: refused, else not needed) */
  readonly needed: boolean;
  /** the paths it judges; both when absent */
  readonly only?: GuardPath;
  /** why the action must not run now, or undefined */
  refuse(input: GuardInput): string | undefined;
}

const seconds = (ms: number) => Math.round(ms / 1000);

/** whether the alert's value breaches the rule's threshold (a rule without one acts on any firing alert) */
export function breachesThreshold(rule: GuardedRule, alert: GuardedAlert): boolean {
  if (rule.threshold === undefined) return true;
  if (alert.value === undefined) return false;
  return rule.direction === 'above' ? alert.value >= rule.threshold : alert.value <= rule.threshold;
}

export const GUARDS: readonly Guard[] = [
  {
    name: 'threshold',
    needed: false,
    refuse: ({ rule, alert }) =>
      breachesThreshold(rule, alert) ? undefined : `the alert's value ${alert.value ?? 'unknown'} no longer breaches ${rule.action}'s threshold of ${rule.threshold}`,
  },
  {
    name: 'stale',
    needed: true,
    refuse: ({ alert, now, staleMs }) =>
      now - alert.evaluatedAt > staleMs ? `stale data: the alert was last evaluated ${seconds(now - alert.evaluatedAt)} s ago (at most ${seconds(staleMs)} s)` : undefined,
  },
  {
    name: 'gave_up',
    needed: true,
    refuse: ({ rule, state, where }) => (state.disabled ? `${rule.action} gave up on ${where} after ${state.failures} failed verifications, until its alert resolves` : undefined),
  },
  {
    // an approved plan is not judged again: the breach had lasted when the plan was made
    name: 'grace_period',
    needed: true,
    only: 'automatic',
    refuse: ({ rule, alert, now }) =>
      now - alert.activeAt < rule.gracePeriodMs ? `grace period: the breach has lasted ${seconds(now - alert.activeAt)} s of ${seconds(rule.gracePeriodMs)} s` : undefined,
  },
  {
    // Planning counts from the last plan, skip or execution (a skip counts: no re-planning every
    // evaluation); approving from the last execution only, as the parked plan itself set lastRun. State
    // saved before lastExecuted existed counts from lastRun: over-cautious, but no execution inside the
    // cooldown slips through.
    name: 'cooldown',
    needed: true,
    refuse: ({ path, rule, state, where, now }) => {
      const fromRun = path === 'automatic' || state.lastExecuted === undefined;
      const since = now - (fromRun ? state.lastRun : state.lastExecuted!);
      if (since >= rule.cooldownMs) return undefined;
      return `cooldown: ${rule.action} ${fromRun ? 'was last planned or run' : 'ran'} on ${where} ${seconds(since)} s ago, cooldown ${seconds(rule.cooldownMs)} s`;
    },
  },
  {
    name: 'verification_pending',
    needed: true,
    refuse: ({ rule, state, where }) => (state.verify ? `the last execution of ${rule.action} on ${where} is not verified yet` : undefined),
  },
  {
    name: 'rate_limit',
    needed: true,
    refuse: ({ recentRuns, rateLimit, where }) => {
      const runs = recentRuns().length;
      return runs >= rateLimit.max ? `rate limit: ${runs} executions on ${where} in the last ${seconds(rateLimit.windowMs)} s (at most ${rateLimit.max})` : undefined;
    },
  },
];

export interface Refusal {
  readonly guard: string;
  readonly needed: boolean;
  readonly reason: string;
}

/** the first guard of `guards` (for this path) that refuses, or undefined when all allow */
export function firstRefusal(input: GuardInput, guards: readonly Guard[] = GUARDS): Refusal | undefined {
  for (const g of guards) {
    if (g.only && g.only !== input.path) continue;
    const reason = g.refuse(input);
    if (reason !== undefined) return { guard: g.name, needed: g.needed, reason };
  }
  return undefined;
}

// The contract of remediation actions (design.md §4, issue 7): an action plans what it would do for an
// alert, from fresh data, and executes that plan; the remediation engine around it owns modes
// (enforce, dry_run, approve), cooldowns, rate limits, grace periods, one action at a time per target,
// verification and the audit trail. Actions live in src/remediate/actions/<name>.ts, one per file,
// registered by name (registry.ts). An action never decides whether it may run, only what it would do.
import type { Config } from '../config/index.ts';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import type { Labels } from '../model/labels.ts';

/** What triggered the action: the alert (or breach) as the pipeline sees it. */
export interface RemediationTrigger {
  readonly fingerprint: string;
  readonly alertname: string;
  readonly labels: Labels;
  /** the value that breached, in the rule's unit */
  readonly value?: number;
  /**
   * the action's own threshold from config, in the same unit (percent, ms, ...); for an action listed
   * under an alert level (connection_pools' critical list, an alert rule's `remediation:`), the
   * threshold of the alert that triggered it
   */
  readonly threshold?: number;
  /**
   * the triggering alert's recovery threshold (it resolves only once its value is past it): where an
   * action that works a value down (terminate_idle_connections) aims, so that the alert resolves
   */
  readonly recovery?: number;
}

/** A PostgreSQL connection an action may use: dpmon's own session on that target. */
export interface PgSession {
  query<R extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<{ rows: R[] }>;
}

/**
 * A directory no file action may use as its root, lie inside or hold. `what` says what it is, for the
 * refusal recorded in the audit trail; `logDirectory` is the one directory inside it compress_logs may
 * still work in (PostgreSQL's log_directory under its data_directory, when configured in log_paths).
 */
export interface ProtectedPath {
  readonly path: string;
  readonly what?: string;
  readonly logDirectory?: string;
}

export interface ActionContext {
  readonly target?: string;
  /** present for PostgreSQL actions: a session as dpmon's monitoring role (application_name dpmon) */
  readonly pg?: PgSession;
  /** roles and application names whose sessions are never terminated or cancelled, beyond superusers, replication and dpmon itself */
  readonly protectedRoles: readonly string[];
  readonly protectedApplications: readonly string[];
  /** directories file actions may touch (their configured paths); nothing outside, no symlink out */
  readonly allowedRoots: readonly string[];
  /**
   * directories file actions must keep out of, learned at run time (each monitored PostgreSQL target's
   * data_directory, pg_wal and tablespace locations); the fixed ones (dpmon's own data dir) come with the action's options
   */
  readonly protectedPaths?: readonly ProtectedPath[];
  /** epoch ms; actions compare file ages with it */
  readonly now: number;
  /** every wait of an action (polls, the escalation wait, sampling, a hook's timeout) is on this clock */
  readonly clock: Clock;
  readonly signal: AbortSignal;
  readonly log: Logger;
}

/** One step of a plan, in words and in the exact SQL or command, for the audit trail and dry-run. */
export interface PlannedStep {
  readonly description: string;
  /** e.g. `SELECT pg_terminate_backend(4242)` or `gzip /logs/app.log.3` */
  readonly command: string;
}

export interface ActionPlan {
  readonly action: string;
  readonly steps: readonly PlannedStep[];
  /** the measurement before acting, e.g. { connections_used_pct: 91 } */
  readonly before: Readonly<Record<string, number>>;
  /** why nothing is planned, when steps is empty */
  readonly reason?: string;
  /** what the plan passed over and why, in words (a configured root that is missing or refused), for the audit trail */
  readonly notes?: readonly string[];
}

export interface ActionOutcome {
  readonly ok: boolean;
  /** steps that did what they said */
  readonly done: readonly PlannedStep[];
  /** steps that failed, with the error (e.g. permission denied to terminate) */
  readonly failed: readonly { readonly step: PlannedStep; readonly error: string }[];
  /** the measurement after acting */
  readonly after: Readonly<Record<string, number>>;
  /** what the execution passed over and why, in words (a configured root refused at execute time) */
  readonly notes?: readonly string[];
}

export interface Action {
  readonly name: string;
  /** what it acts on: a PostgreSQL target, the host's files, the host's processes, or an external hook */
  readonly kind: 'postgres' | 'files' | 'process' | 'hook';
  /**
   * true for an action that only reads or reports (log_connection_details): it is not a fix, so it is
   * not verified against its alert, never counts toward giving up (remediation_failed), nor toward the
   * per-target rate limit
   */
  readonly readOnly?: boolean;
  /** null: nothing to do (already under the threshold, nothing old enough, …) */
  plan(trigger: RemediationTrigger, ctx: ActionContext): Promise<ActionPlan | null>;
  execute(plan: ActionPlan, ctx: ActionContext): Promise<ActionOutcome>;
}

/** What every action file exports: the actions it contributes, built from the config (usually one). */
export interface ActionDefinition {
  /** the action names the spec's keys use for it → the name of the action it builds */
  readonly specNames: Readonly<Record<string, string>>;
  build(config: Config, deps: ActionBuildDeps): readonly Action[];
}

export interface ActionBuildDeps {
  /** directories no file action may touch, known when the actions are built (dpmon's data dir); PostgreSQL's data, WAL and tablespace directories come with each context (runner.ts) */
  readonly protectedPaths: readonly string[];
}
